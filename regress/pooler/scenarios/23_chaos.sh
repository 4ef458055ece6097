# Chaos: steady pgbench load on a small transaction-mode pool while other
# clients vanish mid-transaction, cancel themselves, hit query_timeout and
# send garbage.  Afterwards: the pooler is alive, nothing is left idle in a
# transaction on the server, no client is stuck waiting, queries work.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 4
query_timeout = 400ms
cancel_wait_timeout = 1"

pgbench -n -c 8 -j 2 -T 4 "$(pooler_url)" >"$SCEN_DIR/load.out" 2>&1 &
load=$!
/usr/bin/python3 - "$POOLER_PORT" <<'PY' || fail "chaos driver"
import random, socket, struct, sys, threading, time
from pgwire import Conn
port = int(sys.argv[1])
rnd = random.Random(42)

def one(i):
    try:
        c = Conn(port, timeout=3)
        c.startup(); login = c.read_until()
        key = [p for t, p in login if t == b"K"][0]
        kind = i % 5
        if kind == 0:      # vanish mid-transaction
            c.query("begin"); c.read_until()
            c.query("update pgbench_accounts set abalance = abalance where aid = %d" % (i + 1)); c.read_until()
            c.s.close()
        elif kind == 1:    # vanish mid-query
            c.query("select pg_sleep(2)"); time.sleep(0.1); c.s.close()
        elif kind == 2:    # cancel itself
            c.query("select pg_sleep(2)"); time.sleep(0.15)
            x = socket.create_connection(("127.0.0.1", port))
            x.sendall(struct.pack("!ii", 16, 80877102) + key); x.close()
            c.read_until(timeout=3); c.close()
        elif kind == 3:    # query_timeout
            c.query("select pg_sleep(3)"); c.read_until(timeout=5)
            c.query("select 1"); c.read_until(timeout=5); c.close()
        else:              # garbage after login
            c.send(bytes(rnd.getrandbits(8) for _ in range(64))); c.close()
    except (OSError, TimeoutError, IndexError):
        pass

threads = []
for i in range(40):
    t = threading.Thread(target=one, args=(i,)); t.start(); threads.append(t)
    time.sleep(0.05)
for t in threads:
    t.join(10)
print("chaos done")
PY
wait $load
kill -0 "$POOLER_PID" || fail "pooler died"
ok "pooler survived"
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where datname = 'ppdb' and (state like 'idle in transaction%' or query like 'select pg_sleep%' and state = 'active')\")\" = 0 ]" 4000 || fail "server left in a transaction or running an abandoned query"
ok "no server left idle in transaction or running an abandoned query"
assert_eq "$(padmin -c "show pools" | grep '^ppdb|' | cut -d'|' -f4)" 0 "no client stuck waiting"
m=$(backend_count)
assert_le "$m" 4 "pool size respected after the storm"
assert_eq "$(pq -c "select 'calm again'")" "calm again" "queries work after the storm"
grep -q "number of transactions actually processed" "$SCEN_DIR/load.out" || fail "load generator did not run: $(tail -3 "$SCEN_DIR/load.out")"
ok "steady load ran alongside"
