#!/bin/bash
# bench/batch_latency.sh -- where the time of one 100-row transaction goes on
# the serial path client -> proxy -> server -> proxy -> client (-c 1).
#
# perf trace (kernel tracepoints, one clock for every process) records the
# socket and epoll system calls of pgbench, the proxy and the PostgreSQL
# backend for TRACE_S seconds of a pgbench -c 1 run, then
# bench/lib/batch_latency.py cuts the trace into transactions and prints the
# median of each stage (microseconds):
#   client       pgbench: its last reply received -> its next request's
#                first send (parsing replies, building the next batch)
#   c->p         pgbench's last send -> the proxy's read that completes the
#                batch (Sync) returns
#   proxy in     that read -> the proxy's write to the server (collecting,
#                rewriting, building the multi-row statement)
#   p->s         the proxy's write -> the backend's read of it returns
#   server       the backend's read -> its last send (ReadyForQuery)
#   s->p         the backend's last send -> the proxy's read of it
#   proxy out    that read -> the proxy's last write to the client (checking
#                the reply, building the client's replies)
#   p->c         that write -> pgbench's read of the last reply returns
# and the same for direct (client, c->s, server, s->c).
#
# Targets: pgplumb (pgplumb-pooler, session mode, insert_batching = 1, the
# pipelined 100 single-row INSERTs), pgbouncer-values (PgBouncer, session
# mode, relaying the hand-written 100-row INSERT), direct-pipe and
# direct-values (no proxy).  Timings under tracing are slower than untraced
# ones (every traced call costs a few microseconds): compare stages, not
# totals with untraced tps.
# Knobs: TRACE_S=2 (seconds traced per run), ROUNDS=3 (alternating: every target
# once per round; medians over the transactions of all rounds), TARGETS="pgplumb pgbouncer-values direct-pipe
# direct-values", POOLER_BIN, NO_RESULTS=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export TRACE_S=${TRACE_S:-2} ROUNDS=${ROUNDS:-3}
export TARGETS=${TARGETS:-pgplumb pgbouncer-values direct-pipe direct-values}
export POOLER_BIN=${POOLER_BIN:-$ROOT/pooler/pgplumb-pooler}
export RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

if [ "${1:-}" != "--inside" ]; then
	command -v perf >/dev/null || { echo "missing perf" >&2; exit 1; }
	BENCH_CMD="$0 $*"
	bench_enter_cluster timeout 900 "$0" --inside
fi

bench_batch_setup bench_batchlat
chown -R postgres: "$WORK"

start_proxy() {	# $1 pgplumb | pgbouncer
	bench_proxy_ini "$WORK/p.ini" pgbouncer session "$([ "$1" = pgplumb ] && echo "insert_batching = 1")"
	chown postgres: "$WORK/p.ini"
	if [ "$1" = pgplumb ]; then
		runuser -u postgres -- "$WORK/pgplumb-pooler" "$WORK/p.ini" 2>>"$WORK/p.stderr" &
	else
		runuser -u postgres -- pgbouncer -q "$WORK/p.ini" &
	fi
	PID=$!
	local i
	for i in $(seq 1 100); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d postgres >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 did not start" >&2
	exit 1
}
stop_proxy() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=""; fi; }
PID=""

# alternating rounds: every target once per round, in the same order
: >"$WORK/manifest"
for r in $(seq 1 "$ROUNDS"); do
	for t in $TARGETS; do
		port=$PORT proxy_pid=""
		case $t in
			pgplumb) start_proxy pgplumb; script=pipe ;;
			pgbouncer-values) start_proxy pgbouncer; script=values100 ;;
			direct-pipe) port=$PG_PORT; script=pipe ;;
			direct-values) port=$PG_PORT; script=values100 ;;
		esac
		if [ -n "$PID" ]; then
			proxy_pid=$(pgrep -P "$PID" | head -1)
			[ -n "$proxy_pid" ] || proxy_pid=$PID
		fi
		psql -XqAtc "TRUNCATE bi"
		pgbench -n -h 127.0.0.1 -p "$port" -M prepared -c 1 -j 1 -T $((TRACE_S + 3)) \
			-f "$WORK/$script.sql" postgres >"$WORK/pgbench.out" 2>&1 &
		BPID=$!
		sleep 1
		# every client backend but ours (a session pool may hold an idle one too)
		backend=$(psql -XAtc "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
		pids="$BPID,$backend${proxy_pid:+,$proxy_pid}"
		# the proxy's client-side sockets: those whose local port is $PORT
		cfds=""
		if [ -n "$proxy_pid" ]; then
			cfds=$(ss -Htnp "sport = :$PORT" | grep -o "pid=$proxy_pid,fd=[0-9]*" | sed 's/.*fd=//' | paste -sd, -)
		fi
		perf trace -p "$pids" -e 'sendto,sendmsg,recvfrom,recvmsg,read,write,writev,epoll_wait,poll,select,fdatasync,fsync,pwrite64' \
			-o "$WORK/trace.$t.$r" -- sleep "$TRACE_S" >/dev/null 2>&1 || true
		wait "$BPID" || true
		stop_proxy
		tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench.out")
		log "round $r $t: pids $pids, proxy client fds ${cfds:-none}, tps under tracing $tps"
		[ -z "${KEEP:-}" ] || cp "$WORK/trace.$t.$r" "$KEEP/"
		echo "$t $WORK/trace.$t.$r $BPID $backend ${proxy_pid:-0} ${cfds:--} ${tps:-0}" >>"$WORK/manifest"
	done
done
/usr/bin/python3 "$ROOT/bench/lib/batch_latency.py" "$WORK/manifest" >"$WORK/report.md"
{
	echo
	echo "Stages in microseconds, median over the traced transactions (perf trace -p of"
	echo "pgbench, the proxy and the backend, $ROUNDS alternating rounds of $TRACE_S s of pgbench -c 1 -j 1 -M prepared, 100 rows per"
	echo "transaction). Times are under tracing; see bench/batch_latency.sh for each stage."
	echo "- load: \`$(uptime)\`"
} >>"$WORK/report.md"
bench_write_report batch_latency "TRACE_S=$TRACE_S ROUNDS=$ROUNDS"
