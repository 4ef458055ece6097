# Session mode: a client keeps one backend; server_reset_query cleans it
# before the next client gets it; multi-statement strings and errors relay.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = session
default_pool_size = 2"

out=$(pq -c "select 1" -c "select 'a' || 'b'")
assert_eq "$out" $'1\nab' "simple queries relay"

pids=$(pq -c "select pg_backend_pid()" -c "select pg_backend_pid()" | sort -u | wc -l)
assert_eq "$pids" 1 "one backend for the whole session"

out=$(pq -c "create temp table tt(a int)" -c "insert into tt values (42)" -c "select a from tt")
assert_eq "$out" 42 "temp table lives through the session"

# next client reuses the backend: DISCARD ALL must have dropped the temp table
out=$(pq -c "select count(*) from pg_class where relname = 'tt' and relpersistence = 't'")
assert_eq "$out" 0 "server_reset_query cleaned the session"
assert_log "login attempt"

out=$(pq -c "select 1; select 2; select 3")
assert_eq "$out" $'1\n2\n3' "multi-statement string returns every result"

err=$(pq -c "select * from no_such_table" 2>&1)
assert_contains "$err" 'relation "no_such_table" does not exist' "server errors relay"
out=$(pq -c "select 'still fine'")
assert_eq "$out" "still fine" "pooler keeps serving after an error"

out=$(pq -c "begin" -c "insert into items values (1, 'x')" -c "rollback" -c "select count(*) from items where id = 1")
assert_eq "$out" 0 "explicit transactions"

# pgbench in session mode, every query protocol (prepared works in session
# mode).  4 clients on 2 servers: the last two wait for the first two to
# leave.  (-M prepared prepares with a blocking call per thread, so with more
# clients than servers per thread it would deadlock in pgbench itself: -j 4.)
for mode in simple extended prepared; do
	pgbench -n -c 4 -j 4 -T 1 -M $mode "$(pooler_url)" >"$SCEN_DIR/bench_$mode.out" 2>&1 || fail "pgbench -M $mode: $(tail -3 "$SCEN_DIR/bench_$mode.out")"
	grep -q "number of failed transactions: 0" "$SCEN_DIR/bench_$mode.out" || fail "failures in -M $mode"
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/bench_$mode.out")
	assert_ge "$tx" 20 "session mode pgbench -M $mode"
done
