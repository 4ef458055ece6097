# Timeouts as deadlines, each checked to fire within ~100 ms of its value:
# client_idle_timeout, idle_transaction_timeout, query_wait_timeout,
# server_idle_timeout, server_lifetime, server_connect_timeout.
. "$(dirname "$0")/../lib.sh"

# wait_closed URL SQL-BEFORE: run SQL, then measure how long until the pooler
# closes the connection; prints "<ms> <sqlstate> <message>"
wait_closed() {
	/usr/bin/python3 - "$POOLER_PORT" "$1" <<'PY'
import sys, time
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup()
c.read_until()
for q in sys.argv[2].split(";"):
    if q.strip():
        c.query(q)
        c.read_until()
t0 = time.time()
msgs = c.read_until(timeout=5)
ms = int((time.time() - t0) * 1000)
e = first_error(msgs) or {}
print(ms, e.get("C", "none"), e.get("M", "no error"))
PY
}

# -- client_idle_timeout (transaction mode: no server linked)
start_pooler "pool_mode = transaction
client_idle_timeout = 300ms"
read ms st msg < <(wait_closed "select 1")
echo "client_idle_timeout: $ms $st $msg"
assert_eq "$st" 57P05 "client_idle_timeout SQLSTATE"
assert_contains "$msg" client_idle_timeout "message names client_idle_timeout"
assert_ge "$ms" 250 "not before the timeout (ms)"
assert_le "$ms" 420 "within ~100 ms after the timeout (ms)"
stop_pooler

# -- idle_transaction_timeout: server closed, never reused dirty
start_pooler "pool_mode = transaction
default_pool_size = 1
idle_transaction_timeout = 300ms"
read ms st msg < <(wait_closed "begin; insert into items values (7001, 'dirty')")
echo "idle_transaction_timeout: $ms $st $msg"
assert_eq "$st" 25P03 "idle_transaction_timeout SQLSTATE"
assert_contains "$msg" idle_transaction_timeout "message names idle_transaction_timeout"
assert_ge "$ms" 250 "not before the timeout (ms)"
assert_le "$ms" 420 "within ~100 ms after the timeout (ms)"
assert_eq "$(pq -c "select count(*) from items where id = 7001")" 0 "the open transaction was rolled back"
stop_pooler

# -- query_wait_timeout: pool of 1 held by a long transaction
start_pooler "pool_mode = transaction
default_pool_size = 1
query_wait_timeout = 300ms"
pq -c "select pg_sleep(1.2)" >/dev/null 2>&1 &
holder=$!
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query = 'select pg_sleep(1.2)'\")\" = 1 ]" 3000 || fail "holder did not start"
out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import sys, time
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup()
c.read_until()
t0 = time.time()
c.query("select 1")
e = first_error(c.read_until()) or {}
print(int((time.time() - t0) * 1000), e.get("C", "none"), e.get("M", "no error"))
PY
)
echo "query_wait_timeout: $out"
read ms st msg <<<"$out"
assert_eq "$st" 57014 "query_wait_timeout SQLSTATE"
assert_contains "$msg" query_wait_timeout "message names query_wait_timeout"
assert_ge "$ms" 250 "not before the timeout (ms)"
assert_le "$ms" 420 "within ~100 ms after the timeout (ms)"
wait $holder
stop_pooler

# -- server_idle_timeout: idle servers above min_pool_size are closed
start_pooler "pool_mode = transaction
default_pool_size = 2
server_idle_timeout = 300ms"
pq -c "select 1" >/dev/null
# the backend is gone (polled with psql: that time is not the pooler's)
wait_for "[ \"\$(backend_count)\" = 0 ]" 3000 || fail "server_idle_timeout did not close the server"
assert_log "closing because: server_idle_timeout"
# when, from the pooler log's own timestamps: not before the timeout, and
# within ~100 ms after it (the client left just after the release)
python3 - "$POOLER_LOG" <<'PY' || fail "server closed before server_idle_timeout"
import re, sys, datetime
lines = open(sys.argv[1]).read().splitlines()
def ts(l): return datetime.datetime.strptime(l[:23], "%Y-%m-%d %H:%M:%S.%f")
closed = [ts(l) for l in lines if "closing because: server_idle_timeout" in l][-1]
last_client = [ts(l) for l in lines if "ppdb/postgres@" in l and "closing because" in l][-1]
gap = (closed - last_client).total_seconds() * 1000
print("idle close %.0f ms after the client left" % gap)
sys.exit(0 if 250 <= gap <= 450 else 1)
PY
stop_pooler

# -- server_lifetime: an old idle server is replaced
start_pooler "pool_mode = transaction
default_pool_size = 1
server_lifetime = 400ms"
p1=$(pq -c "select pg_backend_pid()")
sleep 0.6
p2=$(pq -c "select pg_backend_pid()")
[ "$p1" != "$p2" ] || fail "server_lifetime: same backend $p1 after its lifetime"
ok "server_lifetime replaced the backend ($p1 -> $p2)"
assert_log "server_lifetime"
stop_pooler

# -- server_connect_timeout: a server that accepts but never answers
bh_port=$(free_port)
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $bh_port)); s.listen(16)
conns = []
t = time.time()
while time.time() - t < 20:
    s.settimeout(0.5)
    try: conns.append(s.accept()[0])
    except OSError: pass
" &
bh=$!
start_pooler "server_connect_timeout = 300ms" "blackhole = host=127.0.0.1 port=$bh_port dbname=x"
out=$(/usr/bin/python3 - "host=127.0.0.1 port=$POOLER_PORT dbname=blackhole user=postgres" <<'PY'
import sys, time, psycopg
t0 = time.time()
try:
    psycopg.connect(sys.argv[1], autocommit=True)
    print("none")
except psycopg.Error as e:
    print(int((time.time() - t0) * 1000), str(e).strip().splitlines()[-1])
PY
)
kill $bh 2>/dev/null
echo "server_connect_timeout: $out"
assert_contains "$out" server_connect_timeout "client told about server_connect_timeout"
ms=${out%% *}
assert_le "$ms" 600 "login failed soon after server_connect_timeout (ms)"
assert_eq "$(pq -c "select 'others fine'")" "others fine" "other databases keep working"
