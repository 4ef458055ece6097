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

# pgbench select-only (autocommit) in statement mode, simple and extended
for mode in simple extended; do
	pgbench -n -S -c 4 -j 2 -T 1 -M $mode "$(pooler_url)" >"$SCEN_DIR/bench_$mode.out" 2>&1 || fail "pgbench -S -M $mode: $(tail -3 "$SCEN_DIR/bench_$mode.out")"
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/bench_$mode.out")
	assert_ge "$tx" 50 "statement mode pgbench -S -M $mode"
done

# server_reset_query_always: the reset runs in transaction mode too
stop_pooler
start_pooler "pool_mode = transaction
default_pool_size = 1
server_reset_query_always = 1"
# (a custom setting: application_name follows each client to its server anyway)
assert_eq "$(pq -c "begin; set pp.leak = 'leaky'; select current_setting('pp.leak'); commit")" leaky "SET inside a transaction"
assert_eq "$(pq -c "select coalesce(current_setting('pp.leak', true), '')")" "" "server_reset_query_always reset it before the next client"
