#!/bin/bash
# bench/batch_select.sh -- does insert_batching slow down traffic that is not
# INSERTs?  pgbench -S (select-only) through one pgplumb-pooler whose two
# [databases] entries differ only in insert_batching (on / off, the
# per-database override), alternating on and off in every round, for
# -M prepared (every Bind is looked at) and -M simple.  Reports the median
# tps per point and the ratio on / off (target >= 0.98).
#
# Knobs: DURATION=5 ROUNDS=5 CLIENTS=4 POOL_MODE=session, RESULTS_DIR,
# NO_RESULTS=1 to only print.  Takes about ROUNDS * 4 * (DURATION + 1) s.
#
# MODE=callgrind: instead of tps, the pooler's own instructions per -S
# transaction (deterministic, usable on a loaded machine).  For each protocol
# and each database (on / off) the pooler runs under valgrind --tool=callgrind
# twice, relaying N and 3N transactions of one client (pgbench -c 1);
# (I(3N) - I(N)) / 2N cancels start-up, login and shutdown.  N=1000.
# POOLER_BIN=path: measure that binary instead of pooler/pgplumb-pooler (for
# a before/after comparison).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export DURATION=${DURATION:-5} ROUNDS=${ROUNDS:-5} CLIENTS=${CLIENTS:-4}
export MODE=${MODE:-tps} N=${N:-1000}
export POOL_MODE=${POOL_MODE:-session} RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

if [ "${1:-}" != "--inside" ]; then
	[ -x "$ROOT/pooler/pgplumb-pooler" ] || make -s -C "$ROOT/pooler" >/dev/null
	BENCH_CMD="$0 $*"
	bench_enter_cluster "$0" --inside
fi

bench_work_dir bench_batchsel
PID=""	# the proxy running now: bench_cleanup stops it

PG_PORT=$(psql -XAtc 'show port')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pgbench -q -i -s 1 postgres >/dev/null 2>&1
echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
cat >"$WORK/pgplumb.ini" <<INI
[databases]
on = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres password=$PGPASSWORD insert_batching=on
off = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres password=$PGPASSWORD insert_batching=off
[pgplumb]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = md5
auth_file = $WORK/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = $CLIENTS
logfile = $WORK/pgplumb.log
INI
cp "${POOLER_BIN:-$ROOT/pooler/pgplumb-pooler}" "$WORK/pgplumb-pooler"
chown -R postgres: "$WORK"

if [ "$MODE" = callgrind ]; then
	# one pooler under callgrind per count: the totals are per process
	cg_total() {	# $1 protocol, $2 database, $3 transactions
		rm -f "$WORK/cg.out"
		runuser -u postgres -- valgrind -q --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
			"$WORK/pgplumb-pooler" "$WORK/pgplumb.ini" >/dev/null 2>&1 &
		PID=$!
		for _ in $(seq 300); do
			psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d "$2" >/dev/null 2>&1 && break
			sleep 0.1
		done
		pgbench -n -S -M "$1" -c 1 -t "$3" -h 127.0.0.1 -p "$PORT" "$2" >/dev/null 2>&1 ||
			{ echo "pgbench failed ($1/$2)" >&2; exit 1; }
		# SIGINT to the pooler (valgrind), not to runuser, which does not pass it on
		kill -INT "$(pgrep -P "$PID")"; wait "$PID" 2>/dev/null || true; PID=""
		sed -n 's/^totals: *\([0-9]*\).*/\1/p; s/^summary: *\([0-9]*\).*/\1/p' "$WORK/cg.out" | head -1
	}
	declare -A INSN
	for proto in prepared simple; do
		for db in off on; do
			a=$(cg_total "$proto" "$db" "$N")
			b=$(cg_total "$proto" "$db" $((3 * N)))
			INSN[$proto/$db]=$(( (b - a) / (2 * N) ))
			log "$proto/$db: ${INSN[$proto/$db]} instructions per transaction ($a, $b)"
		done
	done
	{
		echo "# batch_select MODE=callgrind: pooler instructions per pgbench -S transaction"
		echo
		echo "valgrind --tool=callgrind on pgplumb-pooler, pgbench -n -S -c 1 -t $N and -t $((3 * N)),"
		echo "(I(3N) - I(N)) / 2N; pool_mode = $POOL_MODE, scale 1; binary: ${POOLER_BIN:-pooler/pgplumb-pooler}."
		echo
		echo "| protocol | insert_batching = off | insert_batching = on | on - off | on / off |"
		echo "|---|---|---|---|---|"
		for proto in prepared simple; do
			off=${INSN[$proto/off]} on=${INSN[$proto/on]}
			echo "| -M $proto | $off | $on | $((on - off)) | $(python3 -c "print('%.3f' % ($on / $off))") |"
		done
	} >"$WORK/report.md"
	cat "$WORK/report.md"
	if [ -z "${NO_RESULTS:-}" ]; then
		mkdir -p "$RESULTS_DIR"
		f=$RESULTS_DIR/batch_select_cg-$(date -u +%Y%m%d-%H%M).md
		{
			cat "$WORK/report.md"
			echo
			echo "Command: \`$BENCH_CMD\` (MODE=callgrind N=$N POOL_MODE=$POOL_MODE), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- pooler || echo ' + uncommitted pooler changes'), load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
		} >"$f"
		log "wrote $f"
	fi
	exit 0
fi

runuser -u postgres -- "$WORK/pgplumb-pooler" "$WORK/pgplumb.ini" &
PID=$!
for _ in $(seq 100); do
	psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -d on >/dev/null 2>&1 && break
	sleep 0.1
done

CSV="$WORK/rounds.csv"
echo "round,point,tps" >"$CSV"
for r in $(seq 1 "$ROUNDS"); do
	for proto in prepared simple; do
		# the order of on and off alternates from round to round
		if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
		for db in $order; do
			out=$(pgbench -n -S -M "$proto" -c "$CLIENTS" -j 2 -T "$DURATION" \
				-h 127.0.0.1 -p "$PORT" "$db" 2>&1) || { echo "$out" >&2; exit 1; }
			tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
			echo "$r,$proto/$db,$tps" >>"$CSV"
			log "round $r $proto/$db: $tps tps"
		done
	done
done

python3 - "$CSV" >"$WORK/report.md" <<'PY'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
E = os.environ
med = {}
for p in dict.fromkeys(r["point"] for r in rows):
    med[p] = statistics.median(float(r["tps"]) for r in rows if r["point"] == p)
o = ["# batch_select: pgbench -S through pgplumb-pooler, insert_batching on vs off\n",
     "pgbench -n -S -c %s -j 2 -T %s s per run, scale 1, %s rounds alternating on/off, "
     "pool_mode = %s, one pooler with two [databases] entries that differ only in "
     "insert_batching. Median tps per point.\n" % (E["CLIENTS"], E["DURATION"], E["ROUNDS"], E["POOL_MODE"]),
     "| protocol | insert_batching = off | insert_batching = on | on / off (target >= 0.98) |",
     "|---|---|---|---|"]
for proto in ("prepared", "simple"):
    on, off = med["%s/on" % proto], med["%s/off" % proto]
    o.append("| -M %s | %.0f | %.0f | %.3f |" % (proto, off, on, on / off))
o.append("")
o.append("Per-round ratios on/off: " + "; ".join(
    "%s r%s %.3f" % (proto, r, float(a["tps"]) / float(b["tps"]))
    for proto in ("prepared", "simple") for r in range(1, int(E["ROUNDS"]) + 1)
    for a in rows if a["point"] == "%s/on" % proto and a["round"] == str(r)
    for b in rows if b["point"] == "%s/off" % proto and b["round"] == str(r)))
print("\n".join(o))
PY
bench_write_report batch_select "DURATION=$DURATION ROUNDS=$ROUNDS CLIENTS=$CLIENTS POOL_MODE=$POOL_MODE"
