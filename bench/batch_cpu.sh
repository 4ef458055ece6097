#!/bin/bash
# bench/batch_cpu.sh -- CPU time per 100 inserted rows, per path, the figure a
# loaded shared machine still gives: tps there depends on what else runs,
# CPU time much less.  For each point, N pgbench transactions of 100 rows;
# server CPU is what the postmaster reaped from its children (the backends
# exit when pgbench or the pooler disconnects), pooler CPU is read from
# /proc before it stops, pgbench's from time(1).  Rounds alternate; the
# median per point is reported, and ratios of total CPU (direct / point:
# how many times the rows per CPU-second).
#
# Points: values100 (one hand-written 100-row INSERT, -M prepared), copy (COPY
# of 100 rows), pipe (100 single-row INSERTs in a pipeline, -M prepared) and
# multi (the same as one multi-statement Query, -M simple), direct and through
# pgplumb-pooler with insert_batching = 1 in session and transaction pool mode;
# pipe/session-stream: session mode with insert_batch_stream_rows = STREAM_ROWS (75).
# insert_batch_form = values for those; pipe/session-unnest and
# pipe/transaction-unnest: insert_batch_form = unnest (the run as INSERT ...
# SELECT :a-array, :b-array, 'payload' FROM unnest(...)).
#
# Knobs: N=2000 ROUNDS=5, RESULTS_DIR, NO_RESULTS=1 to only print, ONLY=<regex
# of script/mode> for a subset (the ratio lines need every anchor).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export N=${N:-2000} ROUNDS=${ROUNDS:-5} RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
export STREAM_ROWS=${STREAM_ROWS:-75}

if [ "${1:-}" != "--inside" ]; then
	[ -x "$ROOT/pooler/pgplumb-pooler" ] || make -s -C "$ROOT/pooler" >/dev/null
	make -s -C "$ROOT" -f pooler/batch.mk all >/dev/null
	BENCH_CMD="$0 $*"
	bench_enter_cluster "$0" --inside
fi

bench_work_dir bench_batchcpu
PID=""	# the proxy running now: bench_cleanup stops it

PG_PORT=$(psql -XAtc 'show port')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PM=$(head -1 "$(psql -XAtc 'show data_directory')/postmaster.pid")
export TICK; TICK=$(getconf CLK_TCK)
psql -XqAtc "CREATE TABLE bi (a int, b int, c text)"
echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"

bench_batch_scripts "$WORK"
seq 1 100 | awk '{print $1 "," $1+4000 ",payload"}' >"$WORK/rows100.csv"
chmod 644 "$WORK"/*
echo "COPY bi (a, b, c) FROM '$WORK/rows100.csv' WITH (FORMAT csv);" >"$WORK/copy.sql"

reaped() { awk '{print $16 + $17}' "/proc/$PM/stat"; }	# cutime + cstime, ticks

start_pooler() {	# $1 pool mode (session-stream: session, insert_batch_stream_rows; -unnest: insert_batch_form)
	bench_proxy_ini "$WORK/pgplumb.ini" pgplumb "${1%%-*}" \
		"insert_batch_form = $([ "${1#*-}" = unnest ] && echo unnest || echo values)" "insert_batching = 1" \
		"insert_batch_stream_rows = $([ "$1" = session-stream ] && echo "$STREAM_ROWS" || echo 0)"
	"$ROOT/pooler/pgplumb-pooler" "$WORK/pgplumb.ini" &
	PID=$!
	for _ in $(seq 50); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d postgres >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

CSV="$WORK/rounds.csv"
echo "round,point,server_us,pooler_us,pgbench_us" >"$CSV"
POINTS=("values100|direct|prepared" "copy|direct|simple" "pipe|direct|prepared"
	"pipe|session|prepared" "pipe|transaction|prepared" "multi|direct|simple"
	"multi|session|simple" "multi|transaction|simple" "pipe|session-stream|prepared"
	"pipe|session-unnest|prepared" "pipe|transaction-unnest|prepared")
# the standalone rewrite relay (pooler/tests/batch/batch_proxy, the same
# batch.c over blocking sockets): its CPU is what its child reports
[ -x "$ROOT/pooler/build/batch/batch_proxy" ] && POINTS+=("pipe|relay|prepared" "multi|relay|simple")
# ONLY=<extended regex>: only the points (script/mode) that match, to compare while developing
if [ -n "${ONLY:-}" ]; then
	kept=()
	for p in "${POINTS[@]}"; do IFS='|' read -r a b _ <<<"$p"; [[ $a/$b =~ ^($ONLY)$ ]] && kept+=("$p"); done
	POINTS=("${kept[@]}")
fi
for r in $(seq 1 "$ROUNDS"); do
	for p in "${POINTS[@]}"; do
		IFS='|' read -r script mode qm <<<"$p"
		port=$PG_PORT
		psql -XqAtc "TRUNCATE bi"
		if [ "$mode" = relay ]; then
			: >"$WORK/relay.stats"
			"$ROOT/pooler/build/batch/batch_proxy" "$PORT" 127.0.0.1 "$PG_PORT" 1000 "$WORK/relay.stats" &
			PID=$!
			port=$PORT
			for _ in $(seq 50); do
				psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d postgres >/dev/null 2>&1 && break
				sleep 0.1
			done
		elif [ "$mode" != direct ]; then start_pooler "$mode"; port=$PORT; fi
		sleep 0.3
		a=$(reaped)
		/usr/bin/time -f "%U %S" -o "$WORK/time" pgbench -n -h 127.0.0.1 -p "$port" -M "$qm" \
			-t "$N" -f "$WORK/$script.sql" postgres >"$WORK/pgbench.out" 2>&1 ||
			{ cat "$WORK/pgbench.out" >&2; exit 1; }
		pooler=0
		if [ "$mode" = relay ]; then
			sleep 0.3	# the child writes its counters (CPU seconds last) at disconnection
			pooler=$(tail -n 1 "$WORK/relay.stats" | awk -v t="$TICK" '{print $NF * t}')
			kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
		elif [ -n "$PID" ]; then
			# run time in ns (schedstat: exact, where /proc/PID/stat counts ticks)
			pooler=$(awk -v t="$TICK" '{print $1 * t / 1e9}' "/proc/$PID/schedstat")
			kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
		fi
		sleep 0.5	# the backends exit and are reaped
		b=$(reaped)
		python3 - "$r" "$script/$mode" "$a" "$b" "$pooler" "$(cat "$WORK/time")" >>"$CSV" <<'PY'
import os, sys
r, point, a, b, pooler, tm = sys.argv[1:7]
tick, n = int(os.environ["TICK"]), int(os.environ["N"])
us = lambda ticks: float(ticks) * 1e6 / tick / n
pgb = sum(map(float, tm.split())) * 1e6 / n
print("%s,%s,%.1f,%.1f,%.1f" % (r, point, us(float(b) - float(a)), us(pooler), pgb))
PY
		log "round $r $script/$mode: $(tail -n 1 "$CSV")"
	done
done

python3 - "$CSV" >"$WORK/report.md" <<'PY'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
E = os.environ
pts = list(dict.fromkeys(r["point"] for r in rows))
med = {p: {k: statistics.median(float(r[k]) for r in rows if r["point"] == p)
           for k in ("server_us", "pooler_us", "pgbench_us")} for p in pts}
tot = {p: sum(med[p].values()) for p in pts}
ratio = lambda a, b: "%.2f" % (tot[a] / tot[b]) if a in tot and b in tot else "n/a"
o = ["# batch_cpu: CPU time per 100 rows inserted, median of %s rounds (alternating)\n" % E["ROUNDS"],
     "pgbench -n -t %s transactions of 100 rows per run, 1 client; server CPU reaped by the "
     "postmaster, pooler CPU from /proc, pgbench CPU from time(1), in microseconds per "
     "transaction (100 rows). pgplumb-pooler with insert_batching = 1, pool size 2.\n" % E["N"],
     "| point | server | pooler | pgbench | total |", "|---|---|---|---|---|"]
for p in pts:
    m = med[p]
    o.append("| %s | %.0f | %.0f | %.0f | %.0f |" % (p, m["server_us"], m["pooler_us"], m["pgbench_us"], tot[p]))
o.append("\n## Rows per CPU-second, ratios (total CPU of the anchor / total CPU of the point)")
for s in ("pipe", "multi"):
    for mode in ("session", "transaction", "relay", "session-stream", "session-unnest", "transaction-unnest"):
        p = "%s/%s" % (s, mode)
        if p not in tot:
            continue
        o.append("- %s: / %s direct = %s (target >= 2.5); / hand-written VALUES = %s (target >= 0.9); / COPY = %s (target >= 0.4)" % (
            p, s, ratio("%s/direct" % s, p), ratio("values100/direct", p), ratio("copy/direct", p)))
for mode in ("session", "transaction"):
    o.append("- pipe/%s-unnest / pipe/%s (VALUES form), rows per CPU-second: %s; server CPU only: %s" % (
        mode, mode, ratio("pipe/%s" % mode, "pipe/%s-unnest" % mode),
        "%.2f" % (med["pipe/%s" % mode]["server_us"] / med["pipe/%s-unnest" % mode]["server_us"])
        if "pipe/%s-unnest" % mode in med and "pipe/%s" % mode in med else "n/a"))
o.append("- anchors: values100 / pipe direct = %s; COPY / values100 = %s" % (
    ratio("pipe/direct", "values100/direct"), ratio("values100/direct", "copy/direct")))
print("\n".join(o))
PY
bench_write_report batch_cpu "N=$N ROUNDS=$ROUNDS"
