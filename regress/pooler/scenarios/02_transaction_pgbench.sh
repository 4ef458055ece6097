# Transaction mode with pgbench (simple and extended protocol): many clients
# on a pool of 2 server connections, no failures, pool max respected.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2
stats_period = 0.5"

pgbench -i -s 1 -q "$(pooler_url)" >"$SCEN_DIR/init.out" 2>&1 || fail "pgbench -i through the pooler: $(tail -3 "$SCEN_DIR/init.out")"
ok "pgbench -i through the pooler"

# watch pg_stat_activity while the benchmark runs
( for _ in $(seq 1 20); do backend_count; sleep 0.1; done ) >"$SCEN_DIR/counts" &
watcher=$!
for mode in simple extended; do
	pgbench -n -c 8 -j 2 -T 2 -M $mode "$(pooler_url)" >"$SCEN_DIR/bench_$mode.out" 2>&1 || fail "pgbench -M $mode failed: $(tail -5 "$SCEN_DIR/bench_$mode.out")"
	grep -q "number of failed transactions: 0" "$SCEN_DIR/bench_$mode.out" || fail "failed transactions in -M $mode"
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/bench_$mode.out")
	assert_ge "$tx" 100 "pgbench -M $mode processed transactions"
done
wait $watcher
# connect per transaction (-C): login storms through the pooler
pgbench -n -C -c 8 -j 2 -T 1 -S "$(pooler_url)" >"$SCEN_DIR/bench_C.out" 2>&1 || fail "pgbench -C failed: $(tail -5 "$SCEN_DIR/bench_C.out")"
grep -q "number of failed transactions: 0" "$SCEN_DIR/bench_C.out" || fail "failed transactions with -C"
tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/bench_C.out")
assert_ge "$tx" 50 "pgbench -C (connect per transaction) processed transactions"
max=$(sort -n "$SCEN_DIR/counts" | tail -1)
assert_le "$max" 2 "server connections never above default_pool_size"
assert_ge "$max" 1 "server connections were used"

# accounts total unchanged by TPC-B (sum of deltas goes to all three tables)
out=$(pq -c "select (select sum(abalance) from pgbench_accounts) = (select sum(bbalance) from pgbench_branches)")
assert_eq "$out" t "TPC-B invariant holds"
out=$(padmin -c "show pools" | grep '^ppdb|' | cut -d'|' -f16)
assert_eq "$out" transaction "SHOW POOLS reports transaction mode"

# SHOW STATS: totals and per-period averages while traffic flows
pgbench -n -S -c 2 -T 2 "$(pooler_url)" >/dev/null 2>&1 &
bg=$!
sleep 1.3
row=$(padmin -c "show stats" | grep '^ppdb|')
wait $bg
echo "stats: $row"
IFS='|' read -r _ txc qc rcv snt xt qt wt axc aqc arcv asnt axt aqt awt <<<"$row"
assert_ge "$txc" 100 "total_xact_count counts transactions"
assert_ge "$rcv" 10000 "total_received counts client bytes"
assert_ge "$snt" 10000 "total_sent counts bytes to clients"
assert_ge "$qt" 1 "total_query_time accumulates"
assert_ge "$axc" 10 "avg_xact_count (per second over stats_period)"
assert_ge "$aqt" 1 "avg_query_time (us)"
