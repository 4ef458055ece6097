# Sizing: default_pool_size is a hard max (pg_stat_activity), min_pool_size
# is pre-warmed, reserve_pool_size kicks in after reserve_pool_timeout,
# max_db_connections caps a database across users, max_client_conn refuses
# with 53300, and waiting clients are served first-come first-served.
. "$(dirname "$0")/../lib.sh"

SLEEPERS=()
sleepers() { # n seconds
	for i in $(seq 1 "$1"); do { pq -c "select pg_sleep($2)" >/dev/null 2>&1 || echo "sleeper failed" >>"$SCEN_DIR/failures"; } & SLEEPERS+=($!); done
}
wait_sleepers() {
	wait "${SLEEPERS[@]}"
	SLEEPERS=()
	[ ! -s "$SCEN_DIR/failures" ] || fail "a client failed: $(cat "$SCEN_DIR/failures")"
}
# stop the pooler and wait until its server connections' backends have
# exited, so that the next part's counts do not see them
stop_drained() {
	stop_pooler
	wait_for '[ "$(backend_count ppdb)" = 0 ] && [ "$(backend_count ppdb2)" = 0 ]' 5000 ||
		fail "backends of the stopped pooler still there"
}
max_seen() { # sample backend_count for ~N*100ms
	local m=0 c
	for _ in $(seq 1 "$1"); do
		c=$(${COUNT_CMD:-backend_count})
		[ "$c" -gt "$m" ] && m=$c
		sleep 0.1
	done
	echo $m
}

# -- max pool size and min_pool_size pre-warm (forced-user entry exists at start)
start_pooler "pool_mode = transaction
default_pool_size = 3" "warm = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb2 user=postgres min_pool_size=2"
wait_for "[ \"\$(backend_count ppdb2)\" = 2 ]" 2000 || fail "min_pool_size not pre-warmed: $(backend_count ppdb2)"
ok "min_pool_size=2 pre-warmed at start"
# two logins ran at once; clients must be told each parameter once
out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import sys
from pgwire import Conn
c = Conn(int(sys.argv[1]))
c.startup(database="warm")
names = [p.split(b"\0")[0].decode() for t, p in c.read_until() if t == b"S"]
print(len(names), len(set(names)), "server_version" in names)
PY
)
read total distinct hasver <<<"$out"
assert_eq "$total" "$distinct" "each ParameterStatus sent once ($total)"
assert_eq "$hasver" True "server_version among them"
sleepers 8 0.6
m=$(max_seen 8)
wait_sleepers
assert_eq "$m" 3 "8 busy clients use exactly default_pool_size=3 servers"
stop_drained

# -- reserve pool after reserve_pool_timeout
start_pooler "pool_mode = transaction
default_pool_size = 1
reserve_pool_size = 1
reserve_pool_timeout = 200ms"
sleepers 3 1
m=$(max_seen 8)
wait_sleepers
assert_eq "$m" 2 "reserve pool adds one server beyond default_pool_size"
assert_log "reserve pool"
stop_drained

# -- max_db_connections across users
start_pooler "pool_mode = transaction
default_pool_size = 5
max_db_connections = 2"
t0=$(now_ms)
for u in postgres ppuser postgres ppuser ppuser ppuser; do { PQUSER=$u pq -c "select pg_sleep(0.6)" >/dev/null 2>&1 || echo "$u failed" >>"$SCEN_DIR/failures"; } & SLEEPERS+=($!); done
m=$(max_seen 8)
wait_sleepers
t1=$(now_ms)
assert_eq "$m" 2 "max_db_connections=2 holds across two users' pools"
# 6 x 0.6 s on 2 slots is 1.8 s of work: no pool may starve waiting for the other's slot
assert_le $((t1 - t0)) 5000 "all clients served promptly across pools (ms)"
stop_drained

# -- max_user_connections
start_pooler "pool_mode = transaction
default_pool_size = 5
max_user_connections = 1" "ppdb2x = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb2"
t0=$(now_ms)
sleepers 2 0.4
for i in 1 2; do { PQDB=ppdb2x pq -c "select pg_sleep(0.4)" >/dev/null 2>&1 || echo "ppdb2x failed" >>"$SCEN_DIR/failures"; } & SLEEPERS+=($!); done
user_count() { direct -c "select count(*) from pg_stat_activity where datname in ('ppdb', 'ppdb2') and usename = 'postgres' and pid <> pg_backend_pid()"; }
m=$(COUNT_CMD=user_count max_seen 6)
wait_sleepers
t1=$(now_ms)
assert_eq "$m" 1 "max_user_connections=1 caps the user's servers"
assert_le $((t1 - t0)) 5000 "the user's two databases take turns promptly (ms)"
stop_drained

# -- max_client_conn -> 53300, FIFO order of waiting clients
start_pooler "pool_mode = transaction
default_pool_size = 1
max_client_conn = 5"
out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import struct, sys, threading, time
from pgwire import Conn, first_error
port = int(sys.argv[1])
conns = []
for i in range(5):
    c = Conn(port); c.startup(); c.read_until(); conns.append(c)
x = Conn(port); x.startup()
e = first_error(x.read_until()) or {}
print("sixth:", e.get("C"), e.get("M"))
# FIFO: conns[0] holds the server; 1..4 queue in order
conns[0].query("select pg_sleep(1.0)")
time.sleep(0.15)
for i in range(1, 5):
    conns[i].query("select %d, extract(epoch from clock_timestamp())" % i)
    time.sleep(0.15)     # well apart, so arrival order is unambiguous even under load
order = []
def rd(i):
    msgs = conns[i].read_until()
    for t, p in msgs:
        if t == b"D":
            # DataRow: int16 ncols, then (int32 len, bytes) per column; column 2 = epoch
            off = 2
            vals = []
            for _ in range(struct.unpack("!h", p[:2])[0]):
                n = struct.unpack("!i", p[off:off + 4])[0]
                vals.append(p[off + 4:off + 4 + n].decode())
                off += 4 + n
            order.append((float(vals[1]), i))
ths = [threading.Thread(target=rd, args=(i,)) for i in range(1, 5)]
[t.start() for t in ths]; [t.join() for t in ths]
conns[0].read_until()
print("order:", " ".join(str(i) for _, i in sorted(order)))
PY
)
echo "$out"
assert_contains "$out" "sixth: 53300 no more connections allowed (max_client_conn)" "max_client_conn refuses with 53300"
assert_contains "$out" "order: 1 2 3 4" "waiting clients served first-come first-served"
