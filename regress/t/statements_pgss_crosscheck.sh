#!/bin/bash
# regress/t/statements_pgss_crosscheck.sh -- pgplumb.statements agrees with
# pg_stat_statements after a pgbench run: for every statement pgbench ran,
# calls and rows are equal, total_exec_time agrees within 5 %, and the buffer
# and WAL counters are equal.
#
# Runs TPC-B (simple protocol) and select-only (prepared protocol) with 4
# clients, so both the simple and the extended query protocol and the
# utility statements BEGIN/END are compared.
#
# Executor statements are timed from the same instrumentation by both
# extensions, so their times agree closely.  Utility statements are timed by
# each extension's own ProcessUtility hook, and the outer hook's time
# includes the inner hook's work: for BEGIN/END (a few microseconds each)
# that is more than 5 %.  For them the test also accepts a difference of at
# most 2 us per call, and it checks the sum over all statements within 5 %.
set -euo pipefail
db=pp_t_crosscheck
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }

cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c "CREATE EXTENSION pgplumb" -c "CREATE EXTENSION pg_stat_statements"
pgbench -i -q -s 1 "$db" >/dev/null 2>&1

psql_db -c "SET pgplumb.track_utility = on" \
	-c "SELECT pg_stat_statements_reset(), pgplumb.reset()" >/dev/null
pgbench -n -c 4 -j 2 -T 5 -M simple "$db" >/dev/null
pgbench -n -c 4 -j 2 -T 5 -M prepared -S "$db" >/dev/null

# One row per (userid, dbid, queryid, toplevel) seen by either view in this
# database; the comparison query itself is seen by neither yet.
report=$(psql_db <<'SQL'
WITH p AS (SELECT * FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
     s AS (SELECT * FROM pgplumb.statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
SELECT coalesce(p.queryid, s.queryid) AS queryid,
       p.calls AS pgss_calls, s.calls AS pp_calls,
       p.rows AS pgss_rows, s.rows AS pp_rows,
       round(p.total_exec_time::numeric, 3) AS pgss_ms,
       round(s.total_exec_time::numeric, 3) AS pp_ms,
       (p.calls IS NOT DISTINCT FROM s.calls AND p.rows IS NOT DISTINCT FROM s.rows
        AND (abs(p.total_exec_time - s.total_exec_time)
             <= 0.05 * greatest(p.total_exec_time, s.total_exec_time)
             OR abs(p.total_exec_time - s.total_exec_time) <= 0.002 * p.calls)) AS ok,
       left(coalesce(p.query, s.query), 60) AS query
  FROM p FULL JOIN s
    ON p.userid = s.userid AND p.dbid = s.dbid AND p.queryid = s.queryid
       AND p.toplevel = s.toplevel
 WHERE coalesce(p.calls, 0) > 0 OR coalesce(s.calls, 0) > 0
 ORDER BY 1;
SQL
)
echo "queryid|pgss_calls|pp_calls|pgss_rows|pp_rows|pgss_ms|pp_ms|ok|query"
echo "$report"

sums=$(psql_db -c "SELECT round(sum(p.total_exec_time)::numeric, 1), round(sum(s.total_exec_time)::numeric, 1),
       abs(sum(p.total_exec_time) - sum(s.total_exec_time)) <= 0.05 * sum(p.total_exec_time)
  FROM pg_stat_statements p JOIN pgplumb.statements s USING (userid, dbid, queryid, toplevel)
 WHERE p.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND p.query NOT LIKE '%pgplumb.statements%'")
echo "sum of total_exec_time (ms): pg_stat_statements|pgplumb|within 5%: $sums"
[[ "$sums" == *"|t" ]] || { echo "FAIL: total_exec_time sums differ by more than 5 %"; exit 1; }

# Buffer and WAL usage are measured over the same calls by both: every
# counter equal, for every statement
differs=() ne=()
for c in shared_blks_hit shared_blks_read shared_blks_dirtied shared_blks_written \
	local_blks_hit temp_blks_written wal_records wal_fpi wal_bytes; do
	differs+=("CASE WHEN p.$c <> s.$c THEN '$c ' || p.$c || ' vs ' || s.$c END")
	ne+=("p.$c <> s.$c")
done
diff=$(psql_db -c "SELECT left(p.query, 50) || ': ' || concat_ws(', ', $(IFS=,; echo "${differs[*]}"))
  FROM pg_stat_statements p JOIN pgplumb.statements s USING (userid, dbid, queryid, toplevel)
 WHERE p.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND p.query NOT LIKE '%pgplumb.statements%'
   AND ($(printf '%s OR ' "${ne[@]}") false)")
counted=$(psql_db -c "SELECT sum(wal_records) > 0 AND sum(shared_blks_dirtied) > 0 FROM pgplumb.statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
echo "buffer and WAL counters that differ: ${diff:-none}"
[ -z "$diff" ] || { echo "FAIL: buffer or WAL counters differ from pg_stat_statements"; exit 1; }
[ "$counted" = t ] || { echo "FAIL: no WAL records or dirtied blocks counted"; exit 1; }

n=$(grep -c . <<<"$report")
bad=$(grep -c '|f|' <<<"$report" || true)
bench=$(grep -c 'pgbench_accounts\|^.*|BEGIN$\|END$' <<<"$report" || true)
echo "statements compared: $n, pgbench statements among them: $bench, mismatches: $bad"
# TPC-B has 5 pgbench statements plus BEGIN and END; -S one more
[ "$bench" -ge 4 ] || { echo "FAIL: pgbench statements missing from the comparison"; exit 1; }
[ "$bad" -eq 0 ] || { echo "FAIL: $bad statements differ"; exit 1; }
echo "PASS"
