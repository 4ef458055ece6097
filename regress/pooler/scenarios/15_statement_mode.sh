# Statement mode: the server goes back to the pool after every statement;
# a multi-statement transaction is refused with a clear error.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = statement
default_pool_size = 1"

out=$(pq -c "select 1" -c "select 2")
assert_eq "$out" $'1\n2' "autocommit statements work"
err=$(pq -v VERBOSITY=verbose -c "begin" -c "select 1" 2>&1)
assert_contains "$err" "0A000" "transaction block refused with 0A000"
assert_contains "$err" "transaction blocks not allowed in statement pooling mode" "error says why"
assert_eq "$(direct -c "select count(*) from pg_stat_activity where datname = 'ppdb' and state like 'idle in transaction%'")" 0 "no server left in a transaction"
assert_eq "$(pq -c "select 'after'")" after "pool usable after the refusal"
