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

# The pgbench scripts of the batch benchmarks, written into directory $1,
# each loading rows into bi (a, b, c): pipe.sql (100 single-row INSERTs in
# one pipeline), multi.sql (the same as one multi-statement Query), single.sql
# (one autocommit single-row INSERT) and values100.sql (one hand-written
# 100-row INSERT).
bench_batch_scripts() {
	local row="INSERT INTO bi (a, b, c) VALUES (:a, :b, 'payload')" i
	local head=$'\\set a random(1, 1000000)\n\\set b random(1, 1000000)'
	{ echo "$head"; echo '\startpipeline'; for _ in $(seq 100); do echo "$row;"; done; echo '\endpipeline'; } >"$1/pipe.sql"
	{ echo "$head"; for i in $(seq 100); do if [ "$i" -lt 100 ]; then echo "$row \\;"; else echo "$row;"; fi; done; } >"$1/multi.sql"
	{ echo "$head"; echo "$row;"; } >"$1/single.sql"
	{ echo "$head"; printf 'INSERT INTO bi (a, b, c) VALUES '
	  for i in $(seq 100); do printf "(:a, :b, 'payload')"; [ "$i" -lt 100 ] && printf ', '; done; echo ';'; } >"$1/values100.sql"
}

# Inside the cluster: a work directory $WORK (mktemp -d /tmp/$1.XXXXXX) that
# is removed on exit after the processes in PIDS (and PID) are stopped, and the log and
# free_port helpers.
bench_work_dir() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$WORK"
	PIDS=()
	trap bench_cleanup EXIT
}
bench_cleanup() {
	local p
	[ -z "${PID:-}" ] || PIDS+=("$PID")	# a script's one process at a time
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Inside the cluster: the work directory (bench_work_dir $1), PG_PORT, a free
# PORT for the proxy, the table bi (a int, b int, c text), the userlist, the
# pgbench scripts (bench_batch_scripts) and a copy of $POOLER_BIN in $WORK.
bench_batch_setup() {
	bench_work_dir "$1"
	PG_PORT=$(psql -XAtc 'show port')
	PORT=$(free_port)
	psql -XqAtc "CREATE TABLE bi (a int, b int, c text)"
	echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
	bench_batch_scripts "$WORK"
	cp "$POOLER_BIN" "$WORK/pgplumb-pooler"
}

# Write a proxy's ini file $1 ([$2] section: pgbouncer or pgplumb) for one
# database "postgres" on $PG_PORT, listening on 127.0.0.1:$PORT, md5 against
# $WORK/userlist.txt, pool mode $3, a pool of 2, logging to $1 with .log for
# .ini; the remaining arguments are more lines (settings) for the section.
bench_proxy_ini() {
	local file=$1 section=$2 mode=$3
	shift 3
	{
		echo "[databases]"
		echo "postgres = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres password=$PGPASSWORD"
		echo "[$section]"
		echo "listen_addr = 127.0.0.1"
		echo "listen_port = $PORT"
		echo "unix_socket_dir ="
		echo "auth_type = md5"
		echo "auth_file = $WORK/userlist.txt"
		echo "pool_mode = $mode"
		echo "default_pool_size = 2"
		echo "logfile = ${file%.ini}.log"
		local line
		for line in "$@"; do echo "$line"; done
	} >"$file"
}
