#!/bin/bash
# bench/batch_profile.sh -- where a pipelined / multi-statement 100-row batch
# costs more through pgplumb-pooler than through the standalone rewrite relay
# (pooler/tests/batch/batch_proxy, the same batch.c): load-independent counts.
#
# For each target (relay, pooler in session mode, pooler in transaction mode)
# and workload (pipe, multi): syscalls per transaction of the proxy process
# (strace -c, N transactions) and, with CALLGRIND=1, instructions per
# transaction ((I(3N) - I(N)) / 2N, valgrind --tool=callgrind), split by
# function for the top entries.
#
# Knobs: N=500, CALLGRIND=0|1, TARGETS="relay session transaction" (also
# transaction-coalescing: insert_coalescing = 1; session-unnest,
# transaction-unnest: insert_batch_form = unnest, the others values), WORKLOADS="pipe multi" (also
# single: CLIENTS (20) clients of autocommit single-row INSERTs, N each,
# figures per row), POOLER_BIN (default pooler/pgplumb-pooler), KEEP=<dir> keeps the
# callgrind files and a strace of 3 transactions, PERF=1 logs perf stat's
# task-clock and context switches of the proxy per transaction (N more).
set -euo pipefail
[ -n "${TRACE:-}" ] && set -x

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export N=${N:-500} CALLGRIND=${CALLGRIND:-0}
export TARGETS=${TARGETS:-relay session transaction} WORKLOADS=${WORKLOADS:-pipe multi}
export POOLER_BIN=${POOLER_BIN:-$ROOT/pooler/pgplumb-pooler}
export RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

if [ "${1:-}" != "--inside" ]; then
	make -s -C "$ROOT" -f pooler/batch.mk all >/dev/null
	BENCH_CMD="$0 $*"
	bench_enter_cluster "$0" --inside
fi

WORK=$(mktemp -d /tmp/bench_batchprof.XXXXXX)
chmod 755 "$WORK"
PID=""
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap 'stop; rm -rf "$WORK"' EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

PG_PORT=$(psql -XAtc 'show port')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
psql -XqAtc "CREATE TABLE bi (a int, b int, c text)"
echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
bench_batch_scripts "$WORK"
cp "$POOLER_BIN" "$WORK/pgplumb-pooler"
chown -R postgres: "$WORK"

wait_port() {
	local i
	for i in $(seq 1 300); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d postgres >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
start() {	# $1 target, $2 wrapper...
	local target=$1; shift
	if [ "$target" = relay ]; then
		"$@" "$ROOT/pooler/build/batch/batch_proxy" "$PORT" 127.0.0.1 "$PG_PORT" 1000 "$WORK/relay.stats" &
	else
		bench_proxy_ini "$WORK/p.ini" pgbouncer "${target%%-*}" \
			"insert_batch_form = $([ "${target#*-}" = unnest ] && echo unnest || echo values)" \
			"${COAL_INI:-}" "insert_batching = 1"
		[ "$target" = transaction-coalescing ] && echo "insert_coalescing = 1" >>"$WORK/p.ini"
		chown postgres: "$WORK/p.ini"
		runuser -u postgres -- "$@" "$WORK/pgplumb-pooler" "$WORK/p.ini" 2>>"$WORK/p.stderr" &
	fi
	PID=$!
	wait_port || { echo "$target did not start" >&2; exit 1; }
}
proxy_pid() {	# the proxy process itself (not runuser)
	local p
	p=$(pgrep -P "$PID" | head -1)
	if [ -n "$p" ] && [ "$(cat "/proc/$PID/comm")" = runuser ]; then echo "$p"; else echo "$PID"; fi
}
run() {	# $1 workload, $2 transactions (single: per client, CLIENTS clients)
	local m=prepared c=1
	[ "$1" = multi ] && m=simple
	[ "$1" = single ] && c=${CLIENTS:-20}
	pgbench -n -h 127.0.0.1 -p "$PORT" -M $m -c $c -j $((c > 1 ? 2 : 1)) -t "$2" -f "$WORK/$1.sql" postgres >/dev/null
}

echo "| target | workload | syscalls/txn | top syscalls per txn | instructions/txn |" >"$WORK/report.md"
echo "|---|---|---|---|---|" >>"$WORK/report.md"
for t in $TARGETS; do
	for w in $WORKLOADS; do
		# 20 clients on a session pool of 2 would wait for a server
		[ "$w" = single ] && [ "$t" = session ] && continue
		tx=$N; [ "$w" = single ] && tx=$((${CLIENTS:-20} * N))	# figures per row there
		run_s=""
		start "$t"
		run "$w" 20
		strace -f -c -o "$WORK/strace.out" -p "$(proxy_pid)" 2>/dev/null &
		SPID=$!
		sleep 1
		run "$w" "$N"
		kill -INT "$SPID"; wait "$SPID" || true
		if [ -n "${PERF:-}" ]; then	# perf stat of the proxy over N more transactions
			perf stat -e task-clock,context-switches,cpu-migrations -p "$(proxy_pid)" -o "$WORK/perf.out" &
			SPID=$!
			sleep 0.5
			run "$w" "$N"
			kill -INT "$SPID"; wait "$SPID" || true
			log "$t $w perf: $(awk -v n="$tx" '/task-clock|context-switches|cpu-migrations/ {gsub(",", "", $1); if ($2 == "msec") printf "CPU %.1f us/txn, ", $1 * 1000 / n; else printf "%s %.2f/txn, ", $2, $1 / n}' "$WORK/perf.out")"
		fi
		if [ -n "${KEEP:-}" ]; then	# and the sequence of 3 transactions
			cp "$WORK/strace.out" "$KEEP/strace.$t.$w"
			strace -f -tt -T -e trace=read,write,writev,sendto,sendmsg,recvfrom,poll,epoll_wait -o "$KEEP/seq.$t.$w" -p "$(proxy_pid)" 2>/dev/null &
			SPID=$!
			sleep 1
			run "$w" 3
			kill -INT "$SPID"; wait "$SPID" || true
		fi
		stop
		sc=$(awk -v n="$tx" '/^[ 0-9.]+[0-9]+ +[a-z_0-9]+$/ || NF >= 5 && $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {c[$NF] += $4} END {
			for (k in c) if (k != "total") { t += c[k]; if (c[k] / n >= 0.05) s = s sprintf("%s %.1f, ", k, c[k] / n) } printf "%.1f|%s", t / n, s }' "$WORK/strace.out")
		ins=""
		if [ "$CALLGRIND" = 1 ]; then
			for n in "$N" $((3 * N)); do
				start "$t" valgrind -q --tool=callgrind --callgrind-out-file="$WORK/cg.$n.%p" --dump-instr=no
				run "$w" 20; run "$w" "$n"
				stop
			done
			# the relay forks per connection: every process of a run counts
			total() { local f; for f in "$WORK"/cg."$1".*; do callgrind_annotate "$f" 2>/dev/null |
				awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'; done | awk '{s += $1} END {print s}'; }
			i1=$(total "$N"); i3=$(total $((3 * N)))
			ins=$(( (i3 - i1) / (2 * tx) ))
			# per function, (I(3N) - I(N)) / 2N over every process of the runs:
			# the one-off start-up (connection, the first Parse of each
			# statement) cancels out, as in the total
			{ echo; echo "### $t $w (instructions per transaction by function, exclusive, (I(3N) - I(N)) / 2N, top 25)"; echo '```'
			  for n in "$N" $((3 * N)); do
				for f in "$WORK"/cg."$n".*; do callgrind_annotate --auto=no "$f" 2>/dev/null; done |
					awk -v n="$n" '/PROGRAM TOTALS/ {on = 0; next} /file:function/ {on = 1; next} on && $1 ~ /^[0-9,]+$/ && $0 !~ /=>|events annotated/ {
						c = $1; gsub(",", "", c); $1 = ""; sub(/^ *\([^)]*\) */, ""); sub(/ \[.*$/, ""); print n "\t" c "\t" $0 }'
			  done | awk -F'\t' -v small="$N" -v per=$((2 * tx)) '{ if ($1 == small) a[$3] += $2; else b[$3] += $2 }
				END { for (k in b) { d = (b[k] - a[k]) / per; if (d >= 1) printf "%10.0f  %s\n", d, k } }' | sort -rn | head -25
			  echo '```'; } >>"$WORK/functions.md"
			[ -z "${KEEP:-}" ] || cp "$WORK"/cg.* "$KEEP"/ 2>/dev/null || true
			rm -f "$WORK"/cg.*
		fi
		echo "| $t | $w | ${sc%%|*} | ${sc#*|} | $ins |" >>"$WORK/report.md"
		log "$t $w: ${sc%%|*} syscalls/txn ${ins:+, $ins instructions/txn}"
	done
done
[ -f "$WORK/functions.md" ] && cat "$WORK/functions.md" >>"$WORK/report.md"
bench_write_report batch_profile "N=$N CALLGRIND=$CALLGRIND"
