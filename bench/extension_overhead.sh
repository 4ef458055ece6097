#!/bin/bash
# bench/extension_overhead.sh -- what loading pgplumb costs: pgbench tps with
# no extension, with pg_stat_statements and with pgplumb, side by side.
#
# One throwaway PostgreSQL 15 (pg_virtualenv), pgbench initialised once, then
# ROUNDS rounds; each round runs the three configurations in a rotated order
# (none/pgss/pgplumb, pgss/pgplumb/none, ...), restarting the server with a
# different shared_preload_libraries for each, and runs pgbench -S (select
# only) and TPC-B for DURATION seconds each.  pgplumb runs with every setting
# at its default.
#
# Every configuration is treated alike, so that the state of the database or
# of the caches does not depend on which configuration ran before:
#   - after each restart, WARMUP seconds of -S and then of TPC-B (shared
#     buffers are empty after a restart, and TPC-B also writes tellers,
#     branches and history, which -S does not read);
#   - before each measured run, what pgbench itself does without -n (empty
#     pgbench_history, VACUUM; here of every table), then a CHECKPOINT, so
#     that no checkpoint lands in a run and the accounts' dead rows and the
#     history's size do not grow from run to run;
#   - autovacuum is off while the rounds run (the VACUUM above replaces it),
#     so that no worker takes one of the 2 CPUs during some runs only.
# Reported, medians over the rounds and ratios of the medians:
#   - tps;
#   - the CPU time (user + system) of pgbench's backends per transaction, read
#     from the postmaster's cutime/cstime (a backend's CPU time is added to
#     its parent's when it exits and is reaped): what each configuration
#     costs the server per transaction, less disturbed than tps by what else
#     runs on the machine (pgbench's own CPU time is not in it);
#   - the CPU time of the postmaster and its auxiliary processes (WAL writer,
#     checkpointer, ...) per transaction.
#
# Settings (environment):
#   DURATION=20   seconds per pgbench run
#   WARMUP=2      seconds of each warm-up run after a restart
#   ROUNDS=5      rounds (each runs every configuration once)
#   SCALE=10      pgbench scale factor
#   CLIENTS=2     pgbench -c and -j
#   PROTOCOL=prepared   pgbench -M (simple, extended or prepared)
# A full run with the defaults takes about 15 minutes on 2 cores.
#
#   MODE=callgrind   instead of tps, count the CPU instructions one statement
#                    costs in each configuration: the server is stopped and
#                    `postgres --single` runs N and 3N pgbench-like statements
#                    under valgrind --tool=callgrind; (I(3N) - I(N)) / 2N is
#                    the cost per statement, free of start-up and of the noise
#                    of a shared machine.  CALLGRIND_N=1000 by default.
#   MODE=callgrind-prepared   the judged case: instructions per pgbench
#                    transaction with -M prepared (built-in -S and TPC-B
#                    scripts, one client).  The whole server runs under
#                    valgrind --tool=callgrind (backends are forked, so each
#                    writes its own profile), counting only what runs inside
#                    PostgresMain, i.e. in backends, except what runs in
#                    secure_read, the reading of the client's messages: how
#                    often a backend finds its next message not there yet
#                    (and retries, waiting in WaitEventSetWait) depends on
#                    timing, not on the work done, and moved the counts of
#                    one configuration by up to ~300 per TPC-B transaction
#                    from run to run; what secure_read does with a message
#                    that is there is the same in every configuration.  The
#                    backend that ran
#                    pgbench's transactions is the busiest one.
#                    Runs with -t N and -t 3N from the same data directory and
#                    the same --random-seed; (I(3N) - I(N)) / 2N is the cost of
#                    one transaction.  CALLGRIND_TXNS=600 by default (at
#                    least 300, so that the client's backend is the busiest).
#                    Autovacuum is off in this mode so that no worker touches
#                    the data between the two runs.  CALLGRIND_CONFIGS (none
#                    pg_stat_statements pgplumb statements) and
#                    CALLGRIND_WORKLOADS (select tpcb) pick what to run;
#                    a configuration not run shows as 0 (both callgrind
#                    modes).  CALLGRIND_PGPLUMB_OPTS adds server options
#                    to the pgplumb runs (e.g. "-c pgplumb.shard_counters=on").
#                    CALLGRIND_KEEP=/path keeps each run's profiles
#                    in /path.<library><options>.<workload>.<count>.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --inside ]; then
	. "$top/regress/lib/stage.sh"
	# a stage of its own, so tests run meanwhile do not replace the library
	pp_stage=$top/build/stage-bench
	pp_stage_extension
	pp_venv_opts ""
	# pg_virtualenv -t drops the cluster (and stops the server) on exit;
	# pp_run_virtualenv tries again when another cluster took the port
	pp_venv+=(-o "max_connections=20" -o "shared_buffers=256MB")
	pp_run_virtualenv bash "$0" --inside
	exit $?
fi

# ---- inside the throwaway cluster ----
MODE=${MODE:-tps}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-5}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-2}
PROTOCOL=${PROTOCOL:-prepared}
db=pp_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

configs=(none pg_stat_statements pgplumb)
declare -A preload=([none]="" [pg_stat_statements]="pg_stat_statements" [pgplumb]="pgplumb")

restart_with() {	# shared_preload_libraries value
	if [ -n "$1" ]; then
		psql -X -q -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = '$1'"
	else
		psql -X -q -d postgres -c "ALTER SYSTEM RESET shared_preload_libraries"
	fi
	# pg_ctl, not pg_ctlcluster: see restart() in regress/t/statements_save.sh
	local owner pgdata logfile
	read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$owner" -- /usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	else
		/usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	fi
	[ "$(psql -X -qAt -d postgres -c 'SHOW shared_preload_libraries')" = "$1" ] || {
		echo "could not restart with shared_preload_libraries = '$1'" >&2; exit 1; }
}

run_pgbench() {	# label extra-args...
	local label=$1; shift
	pgbench -n -M "$PROTOCOL" -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" "$@" "$db" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

echo "== extension_overhead: PostgreSQL $(psql -X -qAt -d postgres -c 'SHOW server_version'), scale $SCALE," \
	"pgbench -M $PROTOCOL -c $CLIENTS -j $CLIENTS -T $DURATION, $ROUNDS rounds, $(nproc) CPUs"
psql -X -q -d postgres -c "CREATE DATABASE $db"
pgbench -i -q -s "$SCALE" "$db" >/dev/null 2>&1
psql -X -q -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"

# ---- callgrind modes ----
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }

# Stop the server; every run starts from a copy of its data directory
# (TPC-B writes)
cg_setup() {
	read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
	conf=$(psql -X -qAt -d postgres -c "SHOW config_file")
	bindir=/usr/lib/postgresql/$PGVERSION/bin
	as_owner "$bindir/pg_ctl" -D "$pgdata" -w -m fast stop >/dev/null
	chmod a+rwx "$work"
	cp -a "$pgdata" "$work/pgdata.snapshot"
}

# Table of instructions per unit
# $1 counts the instructions of one run: $1 preload workload count [options];
# a unit costs (I(3N) - I(N)) / 2N.  "statements" is pgplumb with its other
# collectors switched off.  CALLGRIND_WORKLOADS and CALLGRIND_CONFIGS pick
# what runs; what does not shows as 0.
cg_table() {
	local count=$1 n=$2 w cfg lib lo hi opts
	printf '%-10s %10s %10s %10s %10s %11s %13s %13s\n' workload none pgss pgplumb statements \
		"pgss-none" "pgplumb-none" "statem.-none"
	for w in ${CALLGRIND_WORKLOADS:-select tpcb}; do
		declare -A per=([none]=0 [pg_stat_statements]=0 [pgplumb]=0 [statements]=0)
		for cfg in ${CALLGRIND_CONFIGS:-none pg_stat_statements pgplumb statements}; do
			if [ $cfg = statements ]; then
				opts=(-c pgplumb.track_indexes=off -c pgplumb.n_plus_one=off); lib=pgplumb
			else
				opts=(); lib=${preload[$cfg]}
				# CALLGRIND_PGPLUMB_OPTS: more options for the pgplumb runs
				if [ $cfg = pgplumb ]; then read -r -a opts <<<"${CALLGRIND_PGPLUMB_OPTS:-}"; fi
			fi
			lo=$("$count" "$lib" $w "$n" "${opts[@]}")
			hi=$("$count" "$lib" $w $((3 * n)) "${opts[@]}")
			per[$cfg]=$(( (hi - lo) / (2 * n) ))
		done
		printf '%-10s %10d %10d %10d %10d %11d %13d %13d\n' "$([ $w = select ] && echo -S || echo TPC-B)" \
			"${per[none]}" "${per[pg_stat_statements]}" "${per[pgplumb]}" "${per[statements]}" \
			$((per[pg_stat_statements] - per[none])) $((per[pgplumb] - per[none])) \
			$((per[statements] - per[none]))
	done
}

# ---- MODE=callgrind-prepared: instructions per -M prepared transaction ----
if [ "$MODE" = callgrind-prepared ]; then
	N=${CALLGRIND_TXNS:-600}
	cg_setup
	txn_instructions() {	# preload workload(select|tpcb) transactions [more postgres options]
		local extra=("${@:4}") args=() f best=0 n
		[ "$2" = select ] && args=(-S)
		rm -rf "$pgdata" && cp -a "$work/pgdata.snapshot" "$pgdata"
		rm -rf "$work/cg" && mkdir "$work/cg" && chmod a+rwx "$work/cg"
		# valgrind runs in the postmaster's process (postmaster.pid names it),
		# so pg_ctl stop below stops it.  Only a Unix socket in a directory
		# of its own: the port of the stopped cluster may be taken meanwhile.
		as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg/cg.%p" \
			--toggle-collect=PostgresMain --toggle-collect=secure_read \
			"$bindir/postgres" -D "$pgdata" -c config_file="$conf" \
			-c shared_preload_libraries="$1" -c autovacuum=off "${extra[@]}" \
			-c listen_addresses= -c unix_socket_directories="$work/cg" \
			>"$work/cg/server.log" 2>&1 &
		for _ in $(seq 300); do PGHOST=$work/cg as_owner pg_isready -q && break; sleep 1; done
		PGHOST=$work/cg as_owner pgbench -n -M prepared -c 1 -j 1 -t "$3" --random-seed=7 "${args[@]}" "$db" \
			>"$work/cg/pgbench.out" 2>&1 ||
			{ cat "$work/cg/pgbench.out" "$work/cg/server.log" >&2; exit 1; }
		grep -q "number of failed transactions: 0" "$work/cg/pgbench.out" ||
			! grep -q "number of failed transactions" "$work/cg/pgbench.out" ||
			{ cat "$work/cg/pgbench.out" >&2; exit 1; }
		# the backend's profile is written when it exits, after pgbench disconnects
		sleep 2
		as_owner "$bindir/pg_ctl" -D "$pgdata" -w -t 300 -m fast stop >/dev/null
		# pgbench's client connection is the busiest backend (its other
		# connection only reads the scale: about 20 million instructions,
		# fewer than 300 transactions)
		for f in "$work"/cg/cg.*; do
			n=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$f")
			[ -n "$n" ] && [ "$n" -gt "$best" ] && best=$n
		done
		[ -z "${CALLGRIND_KEEP:-}" ] || { rm -rf "$CALLGRIND_KEEP.$1${extra[*]// /}.$2.$3"; cp -a "$work/cg" "$CALLGRIND_KEEP.$1${extra[*]// /}.$2.$3"; }
		echo "$best"
	}
	echo
	echo "instructions per transaction in the backend (valgrind --tool=callgrind, pgbench -M prepared -c 1," \
		"built-in scripts, -t $N and -t $((3 * N)))"
	cg_table txn_instructions "$N"
	rm -rf "$pgdata" && cp -a "$work/pgdata.snapshot" "$pgdata"
	as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -o "-c config_file=$conf" -w start >/dev/null 2>&1 ||
		echo "(server not restarted after the callgrind runs; nothing to clean up)"
	exit 0
fi

# ---- MODE=callgrind: instructions per statement ----
if [ "$MODE" = callgrind ]; then
	N=${CALLGRIND_N:-1000}
	cg_setup
	# select-only: one indexed lookup per statement (pgbench -S)
	gen_select() { awk -v n="$1" -v s="$SCALE" 'BEGIN { srand(7); for (i = 0; i < n; i++)
		printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d\n", 1 + int(rand() * 100000 * s) }'; }
	# TPC-B: the seven statements of pgbench's default script per transaction
	gen_tpcb() { awk -v n="$1" -v s="$SCALE" 'BEGIN { srand(7); for (i = 0; i < n / 7; i++) {
		a = 1 + int(rand() * 100000 * s); t = 1 + int(rand() * 10 * s); b = 1 + int(rand() * s); d = int(rand() * 10000) - 5000
		print "BEGIN"
		printf "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d\n", d, a
		printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d\n", a
		printf "UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d\n", d, t
		printf "UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = %d\n", d, b
		printf "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%d, %d, %d, %d, CURRENT_TIMESTAMP)\n", t, b, a, d
		print "END" } }'; }
	instructions() {	# preload workload count [more postgres options]
		local extra=("${@:4}")
		gen_"$2" "$3" >"$work/in.sql"
		rm -rf "$pgdata" && cp -a "$work/pgdata.snapshot" "$pgdata"
		as_owner valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
			"$bindir/postgres" --single -D "$pgdata" -c config_file="$conf" \
			-c shared_preload_libraries="$1" "${extra[@]}" "$db" <"$work/in.sql" >"$work/cg.stdout" 2>"$work/cg.err" ||
			{ cat "$work/cg.err" >&2; exit 1; }
		# every statement must have succeeded, or the counts mean nothing
		if grep -q ERROR "$work/cg.stdout" "$work/cg.err"; then
			grep -m3 ERROR "$work/cg.stdout" "$work/cg.err" >&2; exit 1
		fi
		sed -n 's/^summary: \([0-9]*\).*/\1/p' "$work/cg.out"
	}
	echo
	echo "instructions per statement (valgrind --tool=callgrind, postgres --single, simple protocol, N = $N and $((3 * N)))"
	cg_table instructions "$N"
	# start it again for pg_virtualenv to stop and drop (if another cluster
	# took the port meanwhile, there is nothing left to stop)
	as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -o "-c config_file=$conf" -w start >/dev/null 2>&1 ||
		echo "(server not restarted after the callgrind runs; nothing to clean up)"
	exit 0
fi

# ---- MODE=tps ----
# CPU time of the backends that ran pgbench's connections: they are the
# postmaster's children that exit during the run, and the kernel adds a
# child's CPU time to its parent's cutime/cstime when the parent reaps it.
# Autovacuum is off (see the header), so no other child exits meanwhile.
# Live auxiliary processes (checkpointer, WAL writer, ...) are read directly.
tck=$(getconf CLK_TCK)
pm_pid() { head -1 "$(psql -X -qAt -d postgres -c 'SHOW data_directory')/postmaster.pid"; }
reaped_ticks() { awk '{ print $16 + $17 }' "/proc/$1/stat"; }	# postmaster pid
aux_ticks() {	# postmaster pid: the postmaster's and its live children's own CPU
	local p t=0
	for p in "$1" $(pgrep -P "$1"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# a backend exits after its client disconnects, and is reaped some time
# later: wait until the postmaster has no child left but its auxiliary
# processes (an exiting child has no command line any more, and does not
# look like one of them)
aux_re='postgres: .*(checkpointer|background writer|walwriter|launcher|archiver|logger)'
wait_reaped() {	# postmaster pid
	for _ in $(seq 200); do
		ps --ppid "$1" -o args= | grep -Evq "$aux_re" || return 0
		sleep 0.05
	done
	echo "backends still running after 10 s" >&2; ps --ppid "$1" -o pid=,stat=,args= >&2; exit 1
}
# every measured run starts from the same state: pgbench's own preparation
# (vacuum of branches and tellers, empty history; here of every table, as
# autovacuum is off), then a checkpoint, so that no checkpoint's writes land in
# the run
prepare_run() {
	psql -X -q -d "$db" -c "TRUNCATE pgbench_history" -c "VACUUM" -c "CHECKPOINT"
}
measure() {	# workload(select|tpcb): appends "cfg workload tps us/txn aux-us/txn"
	local pm out r0 r1 a0 a1 n tps args=()
	[ "$1" = select ] && args=(-S)
	prepare_run
	pm=$(pm_pid)
	wait_reaped "$pm"
	r0=$(reaped_ticks "$pm"); a0=$(aux_ticks "$pm")
	out=$(pgbench -n -M "$PROTOCOL" -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" "${args[@]}" "$db" 2>&1) ||
		{ echo "pgbench failed ($cfg, $1):" >&2; echo "$out" >&2; exit 1; }
	wait_reaped "$pm"
	r1=$(reaped_ticks "$pm"); a1=$(aux_ticks "$pm")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
	[ -n "$n" ] && [ -n "$tps" ] || { echo "$out" >&2; exit 1; }
	awk -v c="$cfg" -v w="$1" -v t="$tps" -v n="$n" -v r=$((r1 - r0)) -v a=$((a1 - a0)) -v k="$tck" \
		'BEGIN { printf "%s %s %s %.2f %.2f\n", c, w, t, r * 1e6 / k / n, a * 1e6 / k / n }' >>"$work/tps"
}
psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off"
echo "fsync=$(psql -X -qAt -d postgres -c 'SHOW fsync')," \
	"synchronous_commit=$(psql -X -qAt -d postgres -c 'SHOW synchronous_commit')," \
	"shared_buffers=$(psql -X -qAt -d postgres -c 'SHOW shared_buffers'), autovacuum off; $(uptime)"
for round in $(seq "$ROUNDS"); do
	for k in 0 1 2; do
		cfg=${configs[$(((round - 1 + k) % 3))]}
		restart_with "${preload[$cfg]}"
		# warm shared_buffers and the OS cache: -S reads the accounts and
		# their index, TPC-B also the tables it writes
		for args in -S -b; do
			[ "$args" = -b ] && args="-b tpcb-like"
			out=$(pgbench -n -M "$PROTOCOL" -c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" $args "$db" 2>&1) ||
				{ echo "warm-up pgbench $args failed ($cfg):" >&2; echo "$out" >&2; exit 1; }
		done
		measure select
		measure tpcb
		tail -2 "$work/tps" | awk -v r="$round" -v c="$cfg" '{ v[NR] = $3; u[NR] = $4 }
			END { printf "round %d  %-19s  -S %9.1f tps %7.2f us/txn   TPC-B %8.1f tps %7.2f us/txn\n", r, c, v[1], u[1], v[2], u[2] }'
	done
done
psql -X -q -d postgres -c "ALTER SYSTEM RESET autovacuum"
restart_with ""

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { awk -v c="$1" -v w="$2" -v f="$3" '$1 == c && $2 == w { print $f }' "$work/tps" | median; }

report() {	# field title
	echo
	echo "$2"
	printf '%-10s %12s %12s %12s %12s %12s %14s\n' workload none pgss pgplumb "pgss/none" "pgplumb/none" "pgplumb/pgss"
	for w in select tpcb; do
		n=$(med none $w "$1"); p=$(med pg_stat_statements $w "$1"); x=$(med pgplumb $w "$1")
		# a ratio of a zero median (too little CPU time to count) shows as "-"
		awk -v w="$w" -v n="$n" -v p="$p" -v x="$x" '
			function ratio(a, b) { return b > 0 ? sprintf("%.3f", a / b) : "-" }
			BEGIN {
			printf "%-10s %12.2f %12.2f %12.2f %12s %12s %14s\n", (w == "select" ? "-S" : "TPC-B"), n, p, x,
				ratio(p, n), ratio(x, n), ratio(x, p) }'
	done
}
report 3 "median tps of $ROUNDS rounds (pgbench -M $PROTOCOL -c $CLIENTS -j $CLIENTS -T $DURATION, scale $SCALE)"
report 4 "median backend CPU time per transaction, microseconds (utime+stime of pgbench's backends / transactions)"
report 5 "median CPU time of the postmaster and auxiliary processes per transaction, microseconds"
echo
echo "end: $(uptime)"
