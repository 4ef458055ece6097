#!/bin/bash
# regress/t/statements_save.sh -- with pgplumb.save on (the default), the
# statistics survive a clean restart unchanged; with it off, they do not.
#
# pgplumb.save is changed with ALTER SYSTEM and restored on exit.
set -euo pipefail
db=pp_t_save
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
# Restart the test cluster.  Not with "pg_ctlcluster restart": every
# pg_virtualenv cluster on this machine shares the external pid file
# /var/run/postgresql/<version>-regress.pid, so when several run at once
# pg_ctlcluster can take ours for stopped and refuse to restart it.  pg_ctl
# restart reuses the running server's own options (postmaster.opts).
restart() {
	local owner pgdata logfile
	read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$owner" -- /usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	else
		/usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	fi
}
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

restart
after=$(snapshot)
echo "after restart:"; echo "$after"
if [ "$before" != "$after" ]; then
	echo "FAIL: statistics changed across a clean restart with pgplumb.save on"; exit 1
fi
echo "ok   statistics unchanged across a restart with pgplumb.save = on"

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.save = off" -c "SELECT pg_reload_conf()" >/dev/null
restart
after_off=$(snapshot)
if [ -n "$after_off" ]; then
	echo "FAIL: statistics kept across a restart with pgplumb.save off:"; echo "$after_off"; exit 1
fi
echo "ok   statistics dropped across a restart with pgplumb.save = off"
echo PASS
