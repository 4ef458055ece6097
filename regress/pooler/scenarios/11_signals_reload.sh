# Signals: SIGHUP reloads (an invalid file keeps the old config in force);
# SIGINT (safe shutdown): no new connections, a running transaction finishes
# and gets its result, then the client is told why; SIGTERM (super safe):
# connected clients keep being served until they leave, then the pooler exits.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = session
default_pool_size = 2
query_wait_timeout = 120"

sed -i 's/^query_wait_timeout = 120/query_wait_timeout = 33/' "$POOLER_INI"
kill -HUP "$POOLER_PID"
wait_for "[ \"\$(padmin -c 'show config' | grep '^query_wait_timeout|' | cut -d'|' -f2)\" = 33 ]" 2000 || fail "SIGHUP did not reload: $(padmin -c 'show config' | grep '^query_wait_timeout|')"
ok "SIGHUP reloaded query_wait_timeout"

cp "$POOLER_INI" "$SCEN_DIR/good.ini"
echo "default_pool_size = not-a-number" >>"$POOLER_INI"
kill -HUP "$POOLER_PID"
wait_for "grep -q 'reload failed, keeping the old configuration' '$POOLER_LOG'" 2000 || fail "invalid reload not reported"
ok "invalid file on reload: error logged"
assert_eq "$(padmin -c 'show config' | grep '^default_pool_size|' | cut -d'|' -f2)" 2 "old configuration stays in force"
assert_eq "$(pq -c "select 'serving'")" serving "still serving after a failed reload"
cp "$SCEN_DIR/good.ini" "$POOLER_INI"

# a changed [databases] entry takes effect on reload: servers reconnect
assert_eq "$(pq -c "select current_database()")" ppdb "before: ppdb"
sed -i "s/dbname=ppdb$/dbname=ppdb2/" "$POOLER_INI"
kill -HUP "$POOLER_PID"
wait_for "[ \"\$(pq -c 'select current_database()')\" = ppdb2 ]" 3000 || fail "database entry change not applied: $(pq -c 'select current_database()')"
ok "changed database entry applied on reload (servers reconnected)"
assert_log "database entry changed, reconnecting"
cp "$SCEN_DIR/good.ini" "$POOLER_INI"
kill -HUP "$POOLER_PID"
wait_for "[ \"\$(pq -c 'select current_database()')\" = ppdb ]" 3000 || fail "entry not restored"

# graceful shutdown with a transaction in flight
/usr/bin/python3 - "$POOLER_PORT" >"$SCEN_DIR/inflight.out" 2>&1 <<'PY' &
import sys, time
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
c.query("begin"); c.read_until()
c.query("select pg_sleep(0.8), 'finished'")
msgs = c.read_until()
print("result:", b"finished" in b"".join(p for t, p in msgs if t == b"D"))
c.query("commit")
msgs = c.read_until()
e = first_error(msgs) or {}
print("after commit:", e.get("C"), e.get("M"))
PY
inflight=$!
idle_out="$SCEN_DIR/idle.out"
/usr/bin/python3 - "$POOLER_PORT" >"$idle_out" 2>&1 <<'PY' &
import sys
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
e = first_error(c.read_until(timeout=5)) or {}
print("idle client:", e.get("C"), e.get("M"))
PY
idle=$!
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query like 'select pg_sleep(0.8)%'\")\" = 1 ]" 3000 || fail "in-flight query not running"
wait_for "[ \"\$(padmin -c 'show clients' | grep -c '^C|postgres|ppdb|active|')\" = 2 ]" 3000 || fail "idle client not logged in"
kill -INT "$POOLER_PID"
sleep 0.2
err=$(pq -c "select 1" 2>&1)
assert_contains "$err" "connection" "new connections refused during shutdown"
wait $inflight $idle
out=$(cat "$SCEN_DIR/inflight.out" "$idle_out")
echo "$out"
assert_contains "$out" "result: True" "in-flight query finished and returned its result"
assert_contains "$out" "idle client: 57P01 pgplumb-pooler is shutting down" "idle client told why (57P01)"
wait_for "! kill -0 $POOLER_PID" 6000 || fail "pooler did not exit"
ok "pooler exited after the transaction"
assert_log "shutting down (SIGINT)"
assert_log "shutdown complete"
[ ! -e "$SCEN_DIR/pooler.pid" ] || fail "pidfile left behind"
ok "pidfile removed"
# a backend may still be exiting: poll, bounded
wait_for "[ \"\$(backend_count)\" = 0 ]" 5000 || true
assert_eq "$(backend_count)" 0 "no server connections left"

# SIGTERM: the connected client is still served; the pooler exits when it leaves
: >"$POOLER_LOG"
start_pooler "pool_mode = transaction"
/usr/bin/python3 - "$POOLER_PORT" >"$SCEN_DIR/term.out" 2>&1 <<'PY' &
import sys, time
from pgwire import Conn, first_error
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
time.sleep(1.0)                      # SIGTERM arrives meanwhile
c.query("select 'served after SIGTERM'")
msgs = c.read_until()
print("rows:", [p for t, p in msgs if t == b"D"], "error:", (first_error(msgs) or {}).get("C"))
c.msg(b"X"); c.close()
PY
termclient=$!
sleep 0.4
kill -TERM "$POOLER_PID"
sleep 0.2
err=$(pq -c "select 1" 2>&1)
assert_contains "$err" "connection" "SIGTERM: new connections refused"
kill -0 "$POOLER_PID" || fail "SIGTERM: pooler exited while a client was connected"
ok "SIGTERM: pooler waits for the connected client"
wait $termclient
assert_contains "$(cat "$SCEN_DIR/term.out")" "served after SIGTERM" "SIGTERM: connected client still served"
assert_contains "$(cat "$SCEN_DIR/term.out")" "error: None" "SIGTERM: no error for it"
wait_for "! kill -0 $POOLER_PID" 3000 || fail "SIGTERM: pooler did not exit after the last client left"
ok "SIGTERM: pooler exited once the client left"
assert_log "waiting up to 5.0 s for clients to disconnect"
# a backend may still be exiting: poll, bounded
wait_for "[ \"\$(backend_count)\" = 0 ]" 5000 || true
assert_eq "$(backend_count)" 0 "SIGTERM: no server connections left"
