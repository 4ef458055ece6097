#!/bin/bash
# regress/t/statements_save.sh -- with pgplumb.save on (the default), the
# statistics survive a clean restart unchanged; with it off, they do not.
#
# pgplumb.save is changed with ALTER SYSTEM and restored on exit.
set -euo pipefail
db=pp_t_save
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
. "$PGPLUMB_TOP/regress/lib/restart.sh"
cleanup() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET pgplumb.save" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c "CREATE EXTENSION pgplumb"
[ "$(psql_db -c 'SHOW pgplumb.save')" = on ] || { echo "FAIL: pgplumb.save is not on by default"; exit 1; }
psql_db -c "SELECT pgplumb.reset()" >/dev/null

for i in $(seq 25); do echo "SELECT pg_sleep(0.00$((i % 5))) AS pp_save_probe, $i AS n;"; done | psql_db >/dev/null
psql_db -c "SELECT 1 / 0 AS pp_save_error" >/dev/null 2>&1 || true

snapshot() {
	psql_db -c "SELECT s.queryid, s.query, s.calls, s.rows, s.total_exec_time, s.min_exec_time,
	                   s.max_exec_time, s.stddev_exec_time, s.p50_exec_time, s.p99_exec_time,
	                   s.errors, s.first_seen, s.last_seen,
	                   (SELECT string_agg(h.bucket || ':' || h.count, ',' ORDER BY h.bucket)
	                      FROM pgplumb.statement_histogram(s.queryid) h)
	              FROM pgplumb.statements s
	             WHERE s.query LIKE '%pp_save_%'
	             ORDER BY s.query COLLATE \"C\""
}
before=$(snapshot)
echo "before restart:"; echo "$before"
grep -q '|25|25|' <<<"$before" || { echo "FAIL: probe not recorded"; exit 1; }

pp_restart
after=$(snapshot)
echo "after restart:"; echo "$after"
if [ "$before" != "$after" ]; then
	echo "FAIL: statistics changed across a clean restart with pgplumb.save on"; exit 1
fi
echo "ok   statistics unchanged across a restart with pgplumb.save = on"

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.save = off" -c "SELECT pg_reload_conf()" >/dev/null
pp_restart
after_off=$(snapshot)
if [ -n "$after_off" ]; then
	echo "FAIL: statistics kept across a restart with pgplumb.save off:"; echo "$after_off"; exit 1
fi
echo "ok   statistics dropped across a restart with pgplumb.save = off"
echo PASS
