# PostgreSQL restarts under the pooler: connected clients get an error (not
# a hang), new clients work once it is back, min_pool_size refills.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = session
default_pool_size = 3
server_login_retry = 0.1" "warm = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb2 user=postgres min_pool_size=2"
wait_for "[ \"\$(backend_count ppdb2)\" = 2 ]" 2000 || fail "min_pool_size not pre-warmed"

/usr/bin/python3 - "$POOLER_PORT" >"$SCEN_DIR/victim.out" 2>&1 <<'PY' &
import sys, time
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
c.query("select 1"); c.read_until()
time.sleep(1.5)     # the server restarts meanwhile
c.query("select 1")
msgs = c.read_until(timeout=5)
e = first_error(msgs) or {}
print("victim:", e.get("C"), e.get("M"), "eof" if msgs[-1][0] is None else "open")
PY
victim=$!
sleep 0.3
cluster=$(pg_lsclusters -h | awk -v p="$PG_SERVER_PORT" '$3 == p {print $1 " " $2}')
[ -n "$cluster" ] || fail "cannot find the cluster on port $PG_SERVER_PORT"
pg_ctlcluster $cluster stop -m fast || fail "stop failed"
started=0
for _ in $(seq 1 40); do
	if pg_ctlcluster $cluster start >/dev/null 2>&1; then started=1; break; fi
	sleep 0.1
done
[ $started = 1 ] || fail "PostgreSQL did not start again"
ok "PostgreSQL restarted"
wait $victim
out=$(cat "$SCEN_DIR/victim.out")
echo "$out"
assert_contains "$out" "victim: " "connected client got an answer"
case "$out" in *"victim: None"*) fail "client got no error after the restart: $out" ;; esac
ok "connected client got an ErrorResponse"
assert_eq "$(pq -c "select 'back'")" back "new clients work after the restart"
wait_for "[ \"\$(backend_count ppdb2)\" = 2 ]" 3000 || fail "min_pool_size not refilled: $(backend_count ppdb2)"
ok "min_pool_size refilled after the restart"
