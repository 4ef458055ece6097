# bench/lib/batch_common.sh -- pieces shared by the batch benchmarks
# (batch_inserts.sh, batch_select.sh, batch_cpu.sh).  Sourced; needs ROOT.

# Outside the throwaway cluster: note the command and the load, then run
# "$@" (the script again, with --inside, maybe behind a wrapper such as
# timeout) inside pg_virtualenv and exit with its status.
bench_enter_cluster() {
	export BENCH_CMD LOAD_BEFORE
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	top=$ROOT
	. "$ROOT/regress/lib/stage.sh"
	pp_venv=(-t -v "$pp_pgver")
	rc=0
	pp_run_virtualenv "$@" || rc=$?
	exit $rc
}

# Print the report in $WORK/report.md and, unless NO_RESULTS is set, write it
# to $RESULTS_DIR/NAME-STAMP.md with a line naming the command, the settings
# (SETTINGS), the machine, the commit and the load before and after.  Sets
# RESULT_STAMP for a caller that writes more files of the same run.
bench_write_report() {
	local name=$1 settings=$2
	cat "$WORK/report.md"
	[ -z "${NO_RESULTS:-}" ] || return 0
	mkdir -p "$RESULTS_DIR"
	RESULT_STAMP=$(date -u +%Y%m%d-%H%M)
	{
		cat "$WORK/report.md"
		echo
		echo "Command: \`$BENCH_CMD\` ($settings), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD), load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$RESULTS_DIR/$name-$RESULT_STAMP.md"
	log "wrote $RESULTS_DIR/$name-$RESULT_STAMP.md"
}
