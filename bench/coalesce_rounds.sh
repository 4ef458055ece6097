#!/bin/bash
# bench/coalesce_rounds.sh -- why rounds of the coalescing point differ.
#
# The coalescing point of batch_inserts.sh (pgbench -M prepared -c 50 -j 2,
# one autocommit single-row INSERT per transaction, pgplumb-pooler in
# transaction mode, pool 20, insert_coalescing = 1, insert_coalesce_delay =
# COALESCE_DELAY) run ROUNDS times, alternating with the direct anchor, and
# for every coalescing round what may tell a slow round from a fast one:
# rows/s, merged INSERTs by size (SHOW COALESCING_SIZES: p10 / median / p90
# of the rows a row was merged with, solo INSERTs), windows that ended
# (insert_coalesce_delay fired), merges sent while another ran (overlapped),
# CPU microseconds per row of pgbench, the pooler and PostgreSQL, context
# switches per row, the pooler's and pgbench's system calls per wake-up
# (PERF=1: perf stat counts of epoll_wait / ppoll against recvfrom), how many
# backends did the work, how often the pooler, the busiest backend and the
# two pgbench threads were seen on the same CPU (sampled every 20 ms), and
# the load average.
#
# Knobs: ROUNDS=10 DURATION=5 COALESCE_DELAY=1ms PERF=0|1, POOLER_BIN,
# PIN="" or e.g. "pooler=0 pgbench=1" (taskset of the pooler / pgbench for
# an experiment: never a bench setting), NICE="" or e.g. -5 (a second
# pooler, reniced, as one more point of every round: does a pooler that
# waits less for a CPU keep the fast rate?), ALT_PIN="" or e.g. "pooler=0
# pgbench=1" (likewise a second pooler pinned, and pgbench pinned in its
# runs only: the same rounds with and without pinning),
# NO_RESULTS=1, RESULTS_DIR.
# Takes about ROUNDS * 2 * (DURATION + 2) s.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export ROUNDS=${ROUNDS:-10} DURATION=${DURATION:-5} COALESCE_DELAY=${COALESCE_DELAY:-1ms}
export PERF=${PERF:-0} PIN=${PIN:-} NICE=${NICE:-} ALT_PIN=${ALT_PIN:-} RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
export POOLER_BIN=${POOLER_BIN:-$ROOT/pooler/pgplumb-pooler}

if [ "${1:-}" != "--inside" ]; then
	BENCH_CMD="$0 $*"
	bench_enter_cluster timeout 1800 "$0" --inside
fi

bench_batch_setup bench_coal_rounds
bench_proxy_ini "$WORK/p.ini" pgplumb transaction "insert_coalescing = 1" \
	"insert_coalesce_delay = $COALESCE_DELAY" "admin_users = postgres" "max_client_conn = 200"
sed -i 's/^default_pool_size = .*/default_pool_size = 20/' "$WORK/p.ini"
chown -R postgres: "$WORK"
pin_of() { sed -n "s/.*\b$1=\([0-9,]*\).*/\1/p" <<<"$PIN"; }
wrap=()
[ -n "$(pin_of pooler)" ] && wrap=(taskset -c "$(pin_of pooler)")
start_pooler() {	# $1 ini, $2 port; prints the pooler's pid
	runuser -u postgres -- "${wrap[@]}" "$WORK/pgplumb-pooler" "$1" 2>>"$WORK/p.stderr" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$2" -d postgres >/dev/null 2>&1 && break
		sleep 0.1
	done
	pgrep -f -- "$1" | while read -r p; do [ "$(cat "/proc/$p/comm")" = pgplumb-pooler ] && echo "$p"; done | head -1
}
start_pooler "$WORK/p.ini" "$PORT" >"$WORK/pid.plain"
POOLER_PID=$(cat "$WORK/pid.plain")
[ -n "$POOLER_PID" ] || { echo "pgplumb-pooler did not start" >&2; cat "$WORK/p.stderr" >&2; exit 1; }
NICE_PORT="" NICE_PID=""
if [ -n "$NICE$ALT_PIN" ]; then	# the same pooler again, reniced or pinned: a second point of every round
	NICE_PORT=$(free_port)
	sed "s/^listen_port = .*/listen_port = $NICE_PORT/; s|^logfile = .*|logfile = $WORK/n.log|" "$WORK/p.ini" >"$WORK/n.ini"
	chown postgres: "$WORK/n.ini"
	start_pooler "$WORK/n.ini" "$NICE_PORT" >"$WORK/pid.nice"
	NICE_PID=$(cat "$WORK/pid.nice")
	[ -n "$NICE_PID" ] || { echo "the reniced pgplumb-pooler did not start" >&2; exit 1; }
	[ -z "$NICE" ] || renice -n "$NICE" -p "$NICE_PID" >/dev/null
	alt_pool=$(sed -n 's/.*\bpooler=\([0-9,]*\).*/\1/p' <<<"$ALT_PIN")
	[ -z "$alt_pool" ] || taskset -a -pc "$alt_pool" "$NICE_PID" >/dev/null
fi
export NICE_PORT NICE_PID
export PG_PORT PORT WORK POOLER_PID
export PGBENCH_PIN=$(pin_of pgbench)
export DATADIR=$(psql -XqAtc 'show data_directory')
python3 "$ROOT/bench/lib/coalesce_rounds.py" >"$WORK/report.md"
bench_write_report coalesce_rounds "ROUNDS=$ROUNDS DURATION=$DURATION COALESCE_DELAY=$COALESCE_DELAY PERF=$PERF PIN=$PIN NICE=$NICE ALT_PIN=$ALT_PIN"
