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
