#!/bin/bash
# regress/t/statements_shards.sh -- pgplumb.shard_counters = on (executions
# counted into per-backend shards, folded into the shared entries now and
# then): the counts stay exact.
#
# With the server restarted with shards on:
#   1. the cross-check against pg_stat_statements after a pgbench run
#      (statements_pgss_crosscheck.sh), plus min/max/mean/stddev of the
#      pgbench statements within 5 % of pg_stat_statements' or 1 us, whichever
#      is more (several backends' shards merged; the two extensions read the
#      clock separately around the same execution, a fraction of a
#      microsecond apart, which is more than 5 % of a ~1.6 us minimum);
#   2. calls a live backend holds in its shard, not folded yet (fewer than
#      the fold threshold, within a second), are in the view and in
#      statement_histogram; a reset drops them, and calls after the reset are
#      counted from zero; the backend's exit folds what it holds.  The two
#      sessions step in turn through advisory locks, not through sleeps;
#   3. an entry a shard counts into is evicted by a burst of distinct
#      statements (pgplumb.max = 100) or kept: afterwards its calls are
#      either the calls after the burst or all of them, nothing else;
#   4. calls survive a clean restart (pgplumb.save).
# Also: errors (counted through the locked path) of a statement whose
# executions a shard counts, by SQLSTATE.
set -euo pipefail
db=pp_t_shards
work=$(mktemp -d)
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
. "$PGPLUMB_TOP/regress/lib/restart.sh"

cleanup() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET pgplumb.shard_counters" \
		-c "ALTER SYSTEM RESET pgplumb.max" >/dev/null 2>&1 || true
	pp_restart || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.shard_counters = on"
pp_restart
[ "$(psql -X -qAt -d postgres -c 'SHOW pgplumb.shard_counters')" = on ] ||
	{ echo "FAIL: pgplumb.shard_counters not applied"; exit 1; }

# ---- 1. cross-check against pg_stat_statements ----
bash "$PGPLUMB_TOP/regress/t/statements_pgss_crosscheck.sh" >"$work/crosscheck.out" 2>&1 ||
	{ cat "$work/crosscheck.out"; echo "FAIL: cross-check with shards on"; exit 1; }
tail -3 "$work/crosscheck.out"
# the cross-check drops its database: run pgbench again here for min/max/stddev
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c "CREATE EXTENSION pgplumb" -c "CREATE EXTENSION pg_stat_statements"
pgbench -i -q -s 1 "$db" >/dev/null 2>&1
psql_db -c "SELECT pg_stat_statements_reset(), pgplumb.reset()" >/dev/null
pgbench -n -c 4 -j 2 -t 2000 -M prepared -S "$db" >/dev/null
times=$(psql_db <<'SQL'
SELECT p.calls, s.calls, round(p.min_exec_time::numeric, 4), round(s.min_exec_time::numeric, 4),
       round(p.max_exec_time::numeric, 4), round(s.max_exec_time::numeric, 4),
       round(p.stddev_exec_time::numeric, 5), round(s.stddev_exec_time::numeric, 5),
       round(p.mean_exec_time::numeric, 5), round(s.mean_exec_time::numeric, 5),
       p.calls = s.calls
       AND abs(p.min_exec_time - s.min_exec_time) <= greatest(0.05 * p.min_exec_time, 0.001)
       AND abs(p.max_exec_time - s.max_exec_time) <= greatest(0.05 * p.max_exec_time, 0.001)
       AND abs(p.mean_exec_time - s.mean_exec_time) <= greatest(0.05 * p.mean_exec_time, 0.001)
       AND abs(p.stddev_exec_time - s.stddev_exec_time) <= greatest(0.05 * p.stddev_exec_time, 0.001)
  FROM pg_stat_statements p JOIN pgplumb.statements s USING (userid, dbid, queryid, toplevel)
 WHERE p.query LIKE 'SELECT abalance FROM pgbench_accounts%'
SQL
)
echo "pgbench -S: calls|calls|min|min|max|max|stddev|stddev|mean|mean|ok (pg_stat_statements|pgplumb): $times"
[[ "$times" == *"|t" ]] || { echo "FAIL: min/max/mean/stddev differ from pg_stat_statements"; exit 1; }

# ---- 2. a live backend's shard: view, histogram, reset, exit ----
# Session A runs the probe 20 times, waits for lock 1, runs it 5 times,
# waits for lock 2, and exits.  This session holds both locks meanwhile.
probe="SELECT 7 AS pp_shard_probe"
{
	for _ in $(seq 20); do echo "$probe;"; done
	echo "SELECT pg_advisory_lock(1);"
	for _ in $(seq 5); do echo "$probe;"; done
	echo "SELECT pg_advisory_lock(2);"
} >"$work/a.sql"
calls() { psql_db -c "SELECT coalesce(sum(calls), 0) FROM pgplumb.statements WHERE query LIKE '%pp_shard_probe%'"; }
hist_sum() {
	psql_db -c "SELECT coalesce(sum(h.count), 0) FROM pgplumb.statements s,
	            pgplumb.statement_histogram(s.queryid, s.userid, s.dbid) h
	            WHERE s.query LIKE '%pp_shard_probe%'"
}
wait_for_lock() {	# wait until session A waits for advisory lock $1
	for _ in $(seq 300); do
		[ "$(psql_db -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted")" = 1 ] && return 0
		sleep 0.1
	done
	echo "FAIL: session A never waited for lock $1"; exit 1
}
wait_held() {	# wait until this script's holder session holds $1 advisory locks
	for _ in $(seq 300); do
		[ "$(psql_db -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = "$1" ] && return 0
		sleep 0.1
	done
	echo "FAIL: the holder session did not get its locks"; exit 1
}
coproc HOLDER { psql -X -qAt -d "$db"; }
holder_pid=$HOLDER_PID	# bash unsets HOLDER_PID when the coprocess ends
echo "SELECT pg_advisory_lock(1), pg_advisory_lock(2);" >&"${HOLDER[1]}"
wait_held 2
psql_db -c "SELECT pgplumb.reset()" >/dev/null
psql_db -f "$work/a.sql" >/dev/null &
a_pid=$!
wait_for_lock 1
live=$(calls); hist=$(hist_sum)
psql_db -c "SELECT pgplumb.reset()" >/dev/null
after_reset=$(calls)
echo "SELECT pg_advisory_unlock(1);" >&"${HOLDER[1]}"
wait_for_lock 2
live_after=$(calls)
echo "SELECT pg_advisory_unlock(2);" >&"${HOLDER[1]}"
wait "$a_pid"
exec {HOLDER[1]}>&-
wait "$holder_pid" || true
after_exit=$(calls)
echo "probe: 20 calls held by a live backend: calls $live, histogram count $hist; after reset $after_reset;" \
	"5 more calls: $live_after; after the backend's exit: $after_exit"
[ "$live" = 20 ] || { echo "FAIL: calls held in a live backend's shard not shown"; exit 1; }
[ "$hist" = 20 ] || { echo "FAIL: histogram of calls held in a shard not shown"; exit 1; }
[ "$after_reset" = 0 ] || { echo "FAIL: reset left calls held in a shard"; exit 1; }
[ "$live_after" = 5 ] || { echo "FAIL: calls after a reset not counted from zero"; exit 1; }
[ "$after_exit" = 5 ] || { echo "FAIL: calls changed at the backend's exit"; exit 1; }

# ---- errors of a statement a shard counts into (the locked path) ----
{
	for i in 1 2 3 4 5; do echo "SELECT 10 / $i AS pp_shard_div;"; done
	for _ in 1 2 3; do echo "SELECT 10 / 0 AS pp_shard_div;"; done
	echo "SELECT 10 / 7 AS pp_shard_div;"
} >"$work/div.sql"
psql -X -q -d "$db" -f "$work/div.sql" >/dev/null 2>&1 || true
div=$(psql_db -c "SELECT s.calls, s.errors, e.sqlstate, e.count FROM pgplumb.statements s
                  JOIN pgplumb.statement_errors(s.queryid) e USING (queryid)
                  WHERE s.query LIKE '%pp_shard_div%'")
echo "6 good divisions and 3 by zero: calls|errors|sqlstate|count: $div"
[ "$div" = "6|3|22012|3" ] || { echo "FAIL: errors or calls wrong with shards"; exit 1; }

# ---- 3. eviction of an entry a shard counts into ----
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.max = 100"
pp_restart
psql_db -c "SELECT pgplumb.reset()" >/dev/null
pp_distinct_selects 0 3000 >"$work/burst.sql"
{
	for _ in $(seq 10); do echo "$probe;"; done
	echo "SELECT pg_advisory_lock(1);"
	for _ in $(seq 5); do echo "$probe;"; done
} >"$work/a.sql"
coproc HOLDER { psql -X -qAt -d "$db"; }
holder_pid=$HOLDER_PID	# bash unsets HOLDER_PID when the coprocess ends
echo "SELECT pg_advisory_lock(1);" >&"${HOLDER[1]}"
wait_held 1
psql_db -f "$work/a.sql" >/dev/null &
a_pid=$!
wait_for_lock 1
psql_db -f "$work/burst.sql" >/dev/null
evictions=$(psql_db -c "SELECT evictions FROM pgplumb.info")
echo "SELECT pg_advisory_unlock(1);" >&"${HOLDER[1]}"
wait "$a_pid"
exec {HOLDER[1]}>&-
wait "$holder_pid" || true
evicted=$(calls)
echo "probe: 10 calls, a burst of 3000 distinct statements ($evictions evictions), 5 calls: calls $evicted"
[ "$evictions" -gt 0 ] || { echo "FAIL: the burst evicted nothing"; exit 1; }
[ "$evicted" = 5 ] || [ "$evicted" = 15 ] || { echo "FAIL: calls neither 5 nor 15"; exit 1; }

# ---- 4. a clean restart ----
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM RESET pgplumb.max"
pp_restart
psql_db -c "SELECT pgplumb.reset()" >/dev/null
pgbench -n -c 2 -j 2 -t 500 -M prepared -S "$db" >/dev/null
before=$(psql_db -c "SELECT calls FROM pgplumb.statements WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'")
pp_restart
after=$(psql_db -c "SELECT calls FROM pgplumb.statements WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'")
echo "pgbench -S, 1000 transactions: calls $before before a restart, $after after"
[ "$before" = 1000 ] && [ "$after" = 1000 ] || { echo "FAIL: calls not exact across a restart"; exit 1; }
echo "PASS"
