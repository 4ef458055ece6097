# Server login failures reach the client with the server's SQLSTATE; while
# logins keep failing, new clients fail fast for server_login_retry instead
# of waiting; other databases are unaffected.
. "$(dirname "$0")/../lib.sh"
down_port=$(free_port)
start_pooler "pool_mode = transaction
server_login_retry = 2" "down = host=127.0.0.1 port=$down_port dbname=x
nodb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=no_such_database
nosock = host=/nonexistent-dir port=5432 dbname=x"

err=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import sys
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup(database="nodb")
e = first_error(c.read_until()) or {}
print(e.get("C"), e.get("M"))
PY
)
assert_contains "$err" "3D000" "server's SQLSTATE passed on"
assert_contains "$err" 'database "no_such_database" does not exist' "server's message passed on"

err=$(PQDB=down pq -c "select 1" 2>&1)
assert_contains "$err" "could not connect to server" "connection refused reported"
t0=$(now_ms)
err=$(PQDB=down pq -c "select 1" 2>&1)
t1=$(now_ms)
assert_contains "$err" "server_login_retry" "second client fails fast naming server_login_retry"
assert_le $((t1 - t0)) 1000 "fail-fast answer (ms)"
assert_eq "$(pq -c "select 'ppdb fine'")" "ppdb fine" "other databases unaffected"
assert_log "closing because: server login has been failing"

# a unix socket that does not exist fails at connect() at once; several
# clients at the same time all get the error and the pooler survives
for i in 1 2 3 4; do { PQDB=nosock pq -c "select 1" >"$SCEN_DIR/nosock.$i" 2>&1; } & done
wait_for "[ \$(cat $SCEN_DIR/nosock.* 2>/dev/null | grep -c 'could not connect\|server_login_retry') -ge 4 ]" 5000 || fail "unix-socket failures not reported: $(cat $SCEN_DIR/nosock.*)"
ok "every client of the unreachable socket got an error"
kill -0 "$POOLER_PID" || fail "pooler died"
assert_eq "$(pq -c "select 'alive'")" alive "pooler alive"
