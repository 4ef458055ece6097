# regress/lib/restart.sh -- sourced by script tests that restart the test
# server (e.g. to change pgplumb.max or to check what survives a restart).
#
# pp_restart restarts the throwaway cluster with pg_ctl, not with
# "pg_ctlcluster restart": every pg_virtualenv cluster on this machine shares
# the external pid file /var/run/postgresql/<version>-regress.pid, so when
# several run at once pg_ctlcluster can take ours for stopped and refuse to
# restart it.  pg_ctl restart reuses the running server's own options
# (postmaster.opts).  Returns pg_ctl's status.
pp_restart() {
	local owner pgdata logfile
	local pg_ctl=/usr/lib/postgresql/$PGVERSION/bin/pg_ctl
	read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$owner" -- "$pg_ctl" -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	else
		"$pg_ctl" -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	fi
}

# pp_small_max DB MAX: a fresh database DB with the extension, pgplumb.max
# set to MAX (which needs a restart) and the statistics reset.  On exit (it
# sets the EXIT trap) pgplumb.max is reset with another restart, DB is
# dropped and the caller's $work directory, if any, removed.
pp_small_max() {
	pp_small_max_db=$1
	trap pp_small_max_cleanup EXIT
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" || return 1
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.max = $2" || return 1
	pp_restart || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE EXTENSION pgplumb" || return 1
	[ "$(psql -X -qAt -d "$1" -c 'SHOW pgplumb.max')" = "$2" ] || { echo "FAIL: pgplumb.max not applied"; return 1; }
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "SELECT pgplumb.reset()" >/dev/null
}
pp_small_max_cleanup() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET pgplumb.max" >/dev/null 2>&1 || true
	pp_restart || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $pp_small_max_db" >/dev/null 2>&1 || true
	if [ -n "${work:-}" ]; then rm -rf "$work"; fi
}

# pp_distinct_selects FIRST COUNT: COUNT statements of distinct shapes (distinct
# query ids, up to 100 * 100), number i = FIRST.. having two arrays of
# i % 100 + 1 and i / 100 + 1 elements.
pp_distinct_selects() {
	awk -v first="$1" -v n="$2" 'BEGIN {
		for (i = first; i < first + n; i++) {
			a = "1"; for (k = 0; k < i % 100; k++) a = a ",1";
			b = "2"; for (k = 0; k < int(i / 100); k++) b = b ",2";
			printf "SELECT ARRAY[%s] AS a, ARRAY[%s] AS b;\n", a, b
		}
	}'
}
