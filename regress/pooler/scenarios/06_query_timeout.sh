# query_timeout: the pooler sends a real CancelRequest, the client gets
# SQLSTATE 57014 naming query_timeout, and the server connection stays in
# the pool (no reconnect).  A server that cannot answer the cancel is closed.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
query_timeout = 300ms
cancel_wait_timeout = 500ms"

pid_before=$(pq -c "select pg_backend_pid()")
t0=$(now_ms)
out=$(pq -v VERBOSITY=verbose -c "select pg_sleep(5)" -c "select 'after'" 2>&1)
t1=$(now_ms)
assert_contains "$out" "57014" "client gets SQLSTATE 57014"
assert_contains "$out" "canceling statement due to query_timeout" "message names query_timeout"
assert_contains "$out" "after" "the same client goes on after the timeout"
assert_le $((t1 - t0)) 1500 "cancelled within the deadline (ms)"
assert_log "query_timeout (300 ms): sending a cancel request"
pid_after=$(pq -c "select pg_backend_pid()")
assert_eq "$pid_after" "$pid_before" "server connection returned to the pool, not reconnected"
assert_eq "$(direct -c "select count(*) from pg_stat_activity where query like 'select pg_sleep%' and state = 'active'")" 0 "nothing left running on the server"

# session mode too, inside an explicit transaction: the transaction is aborted
stop_pooler
start_pooler "pool_mode = session
query_timeout = 200ms
cancel_wait_timeout = 500ms"
out=$(pq -c "begin" -c "select pg_sleep(3)" -c "select 1" -c "rollback" -c "select 'ok'" 2>&1)
assert_contains "$out" "canceling statement due to query_timeout" "session mode: query_timeout"
assert_contains "$out" "current transaction is aborted" "transaction aborted as after any error"
assert_contains "$out" "ok" "session goes on after rollback"

# a backend that cannot answer (stopped) is closed after cancel_wait_timeout;
# query_timeout long enough for the test to stop the backend first
stop_pooler
start_pooler "pool_mode = session
query_timeout = 1500ms
cancel_wait_timeout = 500ms"
pq -c "select pg_sleep(10)" >"$SCEN_DIR/stopped.out" 2>&1 &
client=$!
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query = 'select pg_sleep(10)'\")\" = 1 ]" 2000 || fail "sleeper did not start"
bpid=$(direct -c "select pid from pg_stat_activity where query = 'select pg_sleep(10)'")
[ -n "$bpid" ] || fail "could not find the sleeping backend"
kill -STOP "$bpid"
t0=$(now_ms)
wait $client
t1=$(now_ms)
kill -CONT "$bpid"
out=$(cat "$SCEN_DIR/stopped.out")
assert_contains "$out" "did not answer the cancel request" "client told the server did not answer"
assert_le $((t1 - t0)) 2500 "closed within query_timeout + cancel_wait_timeout (ms)"
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where pid = $bpid\")\" = 0 ]" 3000 || fail "stopped backend not closed"
ok "the unresponsive backend was closed"
out=$(pq -c "select 'pool still works'")
assert_eq "$out" "pool still works" "pool refills after closing the server"
