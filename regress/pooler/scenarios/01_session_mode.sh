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
