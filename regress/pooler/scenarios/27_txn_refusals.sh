# What transaction pooling cannot do is refused with SQLSTATE 0A000 and a
# message naming pool_mode=session (issue 7): LISTEN, session advisory
# locks, cursors WITH HOLD, SQL-level PREPARE.  The same statements work in
# session mode; the transaction-scoped alternatives work in transaction mode.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2"

refused() {
	local sql="$1" what="$2" out
	out=$(pq -v VERBOSITY=verbose -c "$sql" 2>&1)
	assert_contains "$out" "0A000" "$what: SQLSTATE 0A000"
	assert_contains "$out" "pool_mode=session" "$what: the message names pool_mode=session"
}
refused "LISTEN pp_channel" "LISTEN"
refused "  select pg_advisory_lock(42)" "pg_advisory_lock"
refused "SELECT pg_catalog.pg_try_advisory_lock_shared(1, 2)" "pg_try_advisory_lock_shared"
refused "prepare pp_stmt as select 1" "SQL-level PREPARE"
out=$(pq -v VERBOSITY=verbose -c "begin" -c "declare c cursor with hold for select 1" 2>&1)
assert_contains "$out" "0A000" "DECLARE ... WITH HOLD: SQLSTATE 0A000"
assert_contains "$out" "HINT:" "the refusal has a hint"

# a refusal inside a transaction block aborts it, like any error
out=$(pq -v VERBOSITY=verbose -c "begin" -c "listen x" -c "select 1" -c "rollback" 2>&1)
assert_contains "$out" "25P02" "refusal in a block: the transaction is aborted (25P02 after it)"

# what works in transaction mode
assert_eq "$(pq -c "begin" -c "select pg_advisory_xact_lock(42)" -c "select 'locked'" -c "commit" | tr -d '\n')" "locked" "pg_advisory_xact_lock works"
assert_eq "$(pq -c "begin" -c "declare c cursor for select 7" -c "fetch c" -c "commit" | tr -d '\n')" "7" "cursor without HOLD in a transaction works"
assert_eq "$(pq -c "select 'pg_advisory_lock(1) is just text'")" "pg_advisory_lock(1) is just text" "the words in a string are not refused"
stop_pooler

# session mode: all of it works
start_pooler "pool_mode = session
default_pool_size = 2"
assert_eq "$(pq -c "listen pp_channel" -c "select 'listening'")" "listening" "session mode: LISTEN works"
assert_eq "$(pq -c "select pg_advisory_lock(42)" -c "select pg_advisory_unlock(42)" | tail -1)" "t" "session mode: session advisory lock works"
assert_eq "$(pq -c "prepare pp_stmt as select 5" -c "execute pp_stmt")" "5" "session mode: SQL-level PREPARE works"
