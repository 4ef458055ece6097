#!/bin/bash
# regress/t/statements_churn.sh -- with pgplumb.max small and thousands of
# distinct statements, a statement executed constantly keeps exact calls,
# entries are evicted, and the server keeps answering quickly.
#
# pgplumb.max is set to 100 with ALTER SYSTEM and a restart, and restored
# (with another restart) on exit.  While one client runs a hot statement
# with pgbench for a fixed time, another runs 3600 statements of distinct
# shapes (distinct query ids).  Then the hot statement's calls must equal
# the transactions pgbench counted, and the hot statement must keep being
# answered: no call over 2 s, at most 10 over 500 ms (this runs on shared
# 2-core machines, where a process is sometimes not scheduled for a while).
#
# Meanwhile a third client runs a "warm" statement every 200 ms in one
# session: its entry is evicted again and again while that backend still
# caches where it was (see the locking rules in extension/statements.c).
# Its executions must never land in the entry that took the slot: every
# churn statement left in the table ran once, so each must show 1 call, and
# the warm statement cannot show more calls than it ran.
set -euo pipefail
db=pp_t_churn
work=$(mktemp -d)
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
. "$PGPLUMB_TOP/regress/lib/restart.sh"
pp_small_max "$db" 100 || exit 1

# 3600 distinct shapes: two arrays of 1..60 elements each
for a in $(seq 60); do
	for b in $(seq 60); do
		printf 'SELECT ARRAY[%s] AS a, ARRAY[%s] AS b;\n' \
			"$(seq -s, "$a" | sed 's/[0-9]*/1/g')" "$(seq -s, "$b" | sed 's/[0-9]*/2/g')"
	done
done >"$work/churn.sql"
echo "SELECT 42 AS pp_churn_hot;" >"$work/hot.sql"
printf 'SELECT 7, 8 AS pp_churn_warm;\n\\sleep 200 ms\n' >"$work/warm.sql"

pgbench -n -c 1 -T 20 -L 500 -l --log-prefix="$work/hot" -f "$work/hot.sql" "$db" >"$work/hot.out" 2>&1 &
hot_pid=$!
pgbench -n -c 1 -T 20 -f "$work/warm.sql" "$db" >"$work/warm.out" 2>&1 &
warm_pid=$!
sleep 1
start=$(date +%s.%N)
psql_db -f "$work/churn.sql" >/dev/null
echo "churn: 3600 distinct statements in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
wait $hot_pid
wait $warm_pid
warm_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/warm.out")

hot_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/hot.out")
late=$(sed -n 's/^number of transactions above the .* latency limit: \([0-9]*\).*/\1/p' "$work/hot.out")
grep -E "latency average|actually processed|latency limit" "$work/hot.out" | sed 's/^/pgbench: /'

psql_db -c "SELECT calls, first_seen, last_seen FROM pgplumb.statements WHERE query LIKE '%pp_churn_hot%'" | sed "s/^/hot calls|first_seen|last_seen: /"
stats=$(psql_db -c "SELECT (SELECT calls FROM pgplumb.statements WHERE query LIKE '%pp_churn_hot%'),
                           entries, evictions, eviction_runs FROM pgplumb.info")
echo "hot calls|entries|evictions|eviction runs: $stats"
IFS='|' read -r hot_calls entries evictions runs <<<"$stats"

warm=$(psql_db -c "SELECT coalesce(sum(calls), 0) || '|' || count(*) FROM pgplumb.statements WHERE query LIKE '%pp_churn_warm%'")
churn_max=$(psql_db -c "SELECT coalesce(max(calls), 0) || '|' || count(*) FROM pgplumb.statements WHERE query LIKE 'SELECT ARRAY%'")
echo "warm statement: ran $warm_tx times, calls|entries now: $warm; churn entries left: max calls|count: $churn_max"

fail=0
[ -n "$warm_tx" ] && [ "${warm%%|*}" -le "$warm_tx" ] || { echo "FAIL: warm statement shows ${warm%%|*} calls, ran $warm_tx"; fail=1; }
[ "${churn_max%%|*}" = 1 ] || { echo "FAIL: a churn statement run once shows ${churn_max%%|*} calls"; fail=1; }
[ -n "$hot_tx" ] && [ "$hot_calls" = "$hot_tx" ] || { echo "FAIL: hot statement calls $hot_calls, pgbench ran $hot_tx"; fail=1; }
[ "$evictions" -ge 3000 ] || { echo "FAIL: only $evictions evictions"; fail=1; }
[ "$entries" -le 100 ] || { echo "FAIL: $entries entries with pgplumb.max = 100"; fail=1; }
# per-transaction log: client, transaction, latency (us), ...
max_ms=$(cat "$work"/hot.[0-9]* | awk 'BEGIN { m = 0 } $3 + 0 > m { m = $3 + 0 } END { printf "%.1f", m / 1000 }')
[ "$(cat "$work"/hot.[0-9]* | wc -l)" = "$hot_tx" ] || { echo "FAIL: pgbench log incomplete"; exit 1; }
echo "hot statement: slowest call $max_ms ms, calls over 500 ms: ${late:-?}"
awk -v m="$max_ms" 'BEGIN { exit !(m < 2000) }' || { echo "FAIL: a hot call took $max_ms ms"; fail=1; }
[ -n "$late" ] && [ "$late" -le 10 ] || { echo "FAIL: $late hot statements took over 500 ms"; fail=1; }
[ $fail = 0 ] && echo PASS
exit $fail
