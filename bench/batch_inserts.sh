#!/bin/bash
# bench/batch_inserts.sh -- batch-insert rewriting against its anchors.
#
# One throwaway PostgreSQL 15 (pg_virtualenv), then alternating rounds (every
# point once per round, in the same order) of pgbench runs, each loading rows
# into the same table `bi (a int, b int, c text)` (truncated before each run),
# 100 rows per transaction except the 50-client point.  Reports rows/second:
# the median of the rounds per point and ratios of medians.
#
# Points (pgbench -n -c 1 -j 1 unless said; -T DURATION):
#   pipe/*       100 single-row INSERTs in \startpipeline..\endpipeline,
#                -M prepared, through: direct, PgBouncer (session), the
#                batch test relay (pooler/batch.c rewriting, built by
#                pooler/batch.mk) and pgplumb-pooler with insert_batching = 1
#                (session mode; n/a if the binary is missing); pipe/pgplumb-txn
#                is pgplumb-pooler in transaction pool mode (database "txn")
#   multi/*      the same 100 INSERTs as one multi-statement simple Query
#                (pgbench "\;"), -M simple: direct, PgBouncer, batch relay,
#                pgplumb-pooler (session and transaction pool mode)
#   copy         COPY of 100 rows from a server-side CSV file (the limit)
#   values100    one hand-written 100-row INSERT ... VALUES, -M prepared
#                (200 parameters: what the rewriter sends)
#   unnest100    INSERT ... SELECT FROM unnest($1::int[], $2::int[]) of the
#                same 100 rows, -M prepared (2 array parameters)
#   single50     50 clients (-j 2) of autocommit single-row INSERTs, direct
#                (coalescing on: the separate section at the end, coalesce_bench)
#
#   pipe/pgplumb-stream  pgplumb-pooler, session mode, database "stream":
#                insert_batch_stream_rows = STREAM_ROWS (75) for that entry
#   pipe/pgplumb-values, pipe/pgplumb-unnest  pgplumb-pooler, session mode,
#                databases "values" / "unnest": insert_batch_form = values /
#                unnest for that entry (pipe/pgplumb-pooler: the default form)
#   values100/pgbouncer, values100/pgplumb  the hand-written 100-row INSERT
#                relayed by PgBouncer / pgplumb-pooler (session mode): what
#                the two extra hops of any proxy cost the hand-written batch
#
# Client counts: CLIENTS (default "1 4") -- the -c 1 points above always run;
# for every other count N in CLIENTS the points pipe/direct, pipe/pgbouncer,
# pipe/pgplumb-pooler, values100, values100/pgbouncer, values100/pgplumb and
# copy run again with -c N -j N, named <point>@cN, and the report has a table
# of rows/s and the ratios per client count (at -c 1 the hops are serial, at
# -c N they overlap).
# Knobs: DURATION=5 ROUNDS=5 (>= 5 for recorded results), RESULTS_DIR,
# NO_RESULTS=1 to only print, ONLY=<regex of point names> (a subset, to
# compare while developing), COALESCE_ONLY=1 (only the coalescing section,
# see coalesce_bench), COALESCE_DELAY (its insert_coalesce_delay, 1ms).
# Takes about ROUNDS * (17 + 7 * (number of CLIENTS but 1)) * (DURATION + 2) s, plus ROUNDS * 3 * (DURATION + 2) s
# for the coalescing section.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
STREAM_ROWS=${STREAM_ROWS:-75}
CLIENTS=${CLIENTS:-1 4}

if [ "${1:-}" != "--inside" ]; then
	for cmd in pg_virtualenv pgbench psql python3 runuser pgbouncer; do
		command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 1; }
	done
	make -s -C "$ROOT" -f pooler/batch.mk all >/dev/null
	export DURATION ROUNDS RESULTS_DIR STREAM_ROWS CLIENTS
	BENCH_CMD="$0 $*"
	bench_enter_cluster timeout 3600 "$0" --inside
fi

bench_work_dir bench_batch

PG_PORT=$(psql -XAtc 'show port')
DB=postgres
BOUNCER_PORT=$(free_port)
RELAY_PORT=$(free_port)
PLUMB_PORT=$(free_port)

psql -XqAtc "CREATE TABLE bi (a int, b int, c text)"

# --- poolers ----------------------------------------------------------------
echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
write_ini() {	# $1 section, $2 port, $3 file, $4 extra settings
	cat >"$3" <<EOF
[databases]
$DB = host=127.0.0.1 port=$PG_PORT dbname=$DB user=postgres password=$PGPASSWORD
txn = host=127.0.0.1 port=$PG_PORT dbname=$DB user=postgres password=$PGPASSWORD pool_mode=transaction
$([ "$1" = pgplumb ] && echo "stream = host=127.0.0.1 port=$PG_PORT dbname=$DB user=postgres password=$PGPASSWORD insert_batch_stream_rows=$STREAM_ROWS")
$([ "$1" = pgplumb ] && for f in values unnest; do echo "$f = host=127.0.0.1 port=$PG_PORT dbname=$DB user=postgres password=$PGPASSWORD insert_batch_form=$f"; done)
[$1]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = md5
auth_file = $WORK/userlist.txt
pool_mode = session
default_pool_size = 60
max_client_conn = 200
logfile = $WORK/$1.log
${4:-}
EOF
}
write_ini pgbouncer "$BOUNCER_PORT" "$WORK/pgbouncer.ini"
write_ini pgplumb "$PLUMB_PORT" "$WORK/pgplumb.ini" "insert_batching = 1"
PLUMB_BIN=""
for c in "${POOLER_BIN:-}" "$ROOT/pooler/pgplumb-pooler"; do
	if [ -n "$c" ] && [ -x "$c" ]; then PLUMB_BIN=$c; break; fi
done
[ -n "$PLUMB_BIN" ] && cp "$PLUMB_BIN" "$WORK/pgplumb-pooler"
chown -R postgres: "$WORK"
runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" &
PIDS+=($!)
if [ -n "$PLUMB_BIN" ]; then
	runuser -u postgres -- "$WORK/pgplumb-pooler" "$WORK/pgplumb.ini" 2>>"$WORK/pgplumb.stderr" &
	PIDS+=($!)
fi
"$ROOT/pooler/build/batch/batch_proxy" "$RELAY_PORT" 127.0.0.1 "$PG_PORT" 1000 "$WORK/relay.stats" &
PIDS+=($!)
wait_port() {
	local i
	for i in $(seq 1 100); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$1" -d "$DB" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
wait_port "$BOUNCER_PORT" || { echo "pgbouncer did not start" >&2; exit 1; }
wait_port "$RELAY_PORT" || { echo "batch relay did not start" >&2; exit 1; }
if [ -n "$PLUMB_BIN" ] && ! wait_port "$PLUMB_PORT"; then
	log "pgplumb-pooler did not start; its column is n/a"
	PLUMB_BIN=""
fi

# --- workload scripts ---------------------------------------------------------
ROW="INSERT INTO bi (a, b, c) VALUES (:a, :b, 'payload')"
{
	echo '\set a random(1, 1000000)'
	echo '\set b random(1, 1000000)'
	echo '\startpipeline'
	for _ in $(seq 100); do echo "$ROW;"; done
	echo '\endpipeline'
} >"$WORK/pipe.sql"
{
	echo '\set a random(1, 1000000)'
	echo '\set b random(1, 1000000)'
	for i in $(seq 100); do
		if [ "$i" -lt 100 ]; then echo "$ROW \\;"; else echo "$ROW;"; fi
	done
} >"$WORK/multi.sql"
{
	echo '\set a random(1, 1000000)'
	echo '\set b random(1, 1000000)'
	printf 'INSERT INTO bi (a, b, c) VALUES '
	for i in $(seq 100); do
		printf "(:a, :b, 'payload')"
		[ "$i" -lt 100 ] && printf ', '
	done
	echo ';'
} >"$WORK/values100.sql"
echo "INSERT INTO bi (a, b, c) SELECT u.a, u.b, 'payload' FROM unnest(:arr_a::int[], :arr_b::int[]) AS u(a, b);" \
	>"$WORK/unnest100.sql"
ARR_A="{$(seq -s, 1000 1099)}"
ARR_B="{$(seq -s, 5000 5099)}"
seq 1 100 | awk '{print $1 "," $1+4000 ",payload"}' >"$WORK/rows100.csv"
chmod 644 "$WORK/rows100.csv"
echo "COPY bi (a, b, c) FROM '$WORK/rows100.csv' WITH (FORMAT csv);" >"$WORK/copy.sql"
{
	echo '\set a random(1, 1000000)'
	echo '\set b random(1, 1000000)'
	echo "$ROW;"
} >"$WORK/single.sql"

# --- cross-client coalescing (insert_coalescing) ------------------------------
# 50 clients (-j 2) of autocommit single-row INSERTs, -M prepared, alternating
# rounds of: direct, pgplumb-pooler in transaction mode with insert_coalescing
# off (the pooler's own cost) and on (insert_coalesce_delay as set, default
# 1ms).  Its own report and results file (batch_inserts_coalesce-*.md, with
# the load average before and after).  COALESCE_ONLY=1 runs only this part.
coalesce_bench() {
	local port_off port_on port_alt r name port extra out tps up_before csv="$WORK/coalesce.csv"
	local points wal0 wal1 cpu0 cpu1 pg0 pg1 st0 st1 tm lat busy0 busy1 t0 t1 others
	if [ -z "$PLUMB_BIN" ]; then
		log "coalescing: no pgplumb-pooler binary, skipped"
		return 0
	fi
	port_off=$(free_port)
	port_on=$(free_port)
	port_alt=$(free_port)
	points="direct|$PG_PORT pooler-txn|$port_off pooler-coalescing|$port_on"
	local confs=("coal-off|$port_off|$WORK/pgplumb-pooler|insert_coalescing = 0"
		"coal-on|$port_on|$WORK/pgplumb-pooler|insert_coalescing = 1;insert_coalesce_delay = ${COALESCE_DELAY:-1ms};admin_users = postgres")
	# COALESCE_ALT_BIN: a second coalescing pooler binary (a policy variant),
	# one more alternating point, "pooler-coalescing-alt".
	if [ -n "${COALESCE_ALT_BIN:-}" ]; then
		cp "$COALESCE_ALT_BIN" "$WORK/pgplumb-pooler-alt"
		confs+=("coal-alt|$port_alt|$WORK/pgplumb-pooler-alt|insert_coalescing = 1;insert_coalesce_delay = ${COALESCE_DELAY:-1ms};admin_users = postgres")
		points="$points pooler-coalescing-alt|$port_alt"
	fi
	for conf in "${confs[@]}"; do
		IFS='|' read -r name port bin extra <<<"$conf"
		write_ini pgplumb "$port" "$WORK/$name.ini" "$(tr ';' '\n' <<<"$extra")"
		sed -i "s/^pool_mode = session/pool_mode = transaction/; s/^default_pool_size = 60/default_pool_size = 20/; s|^logfile = .*|logfile = $WORK/$name.log|" \
			"$WORK/$name.ini"
		chown postgres: "$WORK/$name.ini" "$bin"
		runuser -u postgres -- "$bin" "$WORK/$name.ini" 2>>"$WORK/$name.stderr" &
		PIDS+=($!)
		wait_port "$port" || { echo "pgplumb-pooler ($name) did not start" >&2; exit 1; }
	done
	# Per run, besides rows/s: pgbench's mean latency and its own CPU
	# seconds, the pooler's CPU seconds, WAL syncs (pg_stat_wal.wal_sync) and,
	# with coalescing, rows per merged statement: what bounds the rate.
	pooler_cpu() {	# utime+stime (s) of the pooler of port $1 (ini $2), or 0
		local p=""
		for p in $(pgrep -f -- "$WORK/$2.ini"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = runuser ] || break
		done
		[ -n "$p" ] || { echo 0; return; }
		awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$p/stat"
	}
	pg_cpu() {	# CPU seconds of the cluster: postmaster, its reaped and its live children
		local pm
		pm=$(head -1 "$(psql -XqAtc 'show data_directory')/postmaster.pid")
		{
			awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
			for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null; done
		} | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.2f", s / hz}'
	}
	# the whole machine's busy CPU seconds (/proc/stat): with the CPU of
	# pgbench, the pooler and the cluster, what other processes took during
	# a run (other engineers' work on a shared machine), in cores
	busy_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }
	coal_counts() {	# "rows statements" of SHOW COALESCING on port $1
		psql -XAt -F' ' -h 127.0.0.1 -p "$1" -d pgbouncer -c "SHOW COALESCING" 2>/dev/null | awk '{print $1, $2}' || echo "0 0"
	}
	up_before=$(uptime)
	echo "round,point,tps,n,lat_ms,pgbench_cpu_s,pooler_cpu_s,postgres_cpu_s,wal_sync,rows_per_merge,load1,others_cores" >"$csv"
	for r in $(seq 1 "$ROUNDS"); do
		for pair in $points; do
			IFS='|' read -r name port <<<"$pair"
			local iname=""
			case $name in
				pooler-txn) iname=coal-off ;;
				pooler-coalescing) iname=coal-on ;;
				pooler-coalescing-alt) iname=coal-alt ;;
			esac
			psql -XqAtc "TRUNCATE bi" >/dev/null
			wal0=$(psql -XqAtc "SELECT wal_sync FROM pg_stat_wal")
			cpu0=$(pooler_cpu "$port" "$iname")
			pg0=$(pg_cpu)
			st0="0 0"; [ "$iname" = coal-on ] || [ "$iname" = coal-alt ] && st0=$(coal_counts "$port")
			busy0=$(busy_s); t0=$(date +%s.%N)
			out=$(/usr/bin/time -f 'CPU %U %S' pgbench -n -h 127.0.0.1 -p "$port" -T "$DURATION" -M prepared -c 50 -j 2 \
				-f "$WORK/single.sql" "$DB" 2>&1) || {
				echo "pgbench failed for coalescing/$name:" >&2; echo "$out" >&2; exit 1; }
			busy1=$(busy_s); t1=$(date +%s.%N)
			wal1=$(psql -XqAtc "SELECT wal_sync FROM pg_stat_wal")
			cpu1=$(pooler_cpu "$port" "$iname")
			pg1=$(pg_cpu)
			st1="0 0"; [ "$iname" = coal-on ] || [ "$iname" = coal-alt ] && st1=$(coal_counts "$port")
			tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
			lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p')
			tm=$(echo "$out" | awk '/^CPU /{print $2 + $3}')
			n=$(psql -XqAtc "SELECT count(*) FROM bi")
			local rpm
			rpm=$(awk -v a="$st0" -v b="$st1" 'BEGIN{split(a,x," "); split(b,y," "); s=y[2]-x[2]; if (s > 0) printf "%.1f", (y[1]-x[1])/s; else print ""}')
			others=$(awk -v b0="$busy0" -v b1="$busy1" -v t0="$t0" -v t1="$t1" -v a="$tm" -v c0="$cpu0" -v c1="$cpu1" -v g0="$pg0" -v g1="$pg1" \
				'BEGIN{o = (b1 - b0) - a - (c1 - c0) - (g1 - g0); printf "%.2f", (o > 0 ? o : 0) / (t1 - t0)}')
			echo "$r,$name,$tps,$n,$lat,$tm,$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}'),$(awk -v a="$pg0" -v b="$pg1" 'BEGIN{printf "%.2f", b-a}'),$((wal1 - wal0)),$rpm,$(cut -d' ' -f1 /proc/loadavg),$others" >>"$csv"
			log "round $r coalescing/$name: $tps rows/s ($n rows), latency $lat ms, pgbench CPU ${tm}s, pooler CPU $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}')s, postgres CPU $(awk -v a="$pg0" -v b="$pg1" 'BEGIN{printf "%.2f", b-a}')s, wal_sync $((wal1 - wal0)), rows/merge ${rpm:--}, others' cores $others"
		done
	done
	stats=$(psql -XAt -F' ' -h 127.0.0.1 -p "$port_on" -d pgbouncer -c "SHOW COALESCING" 2>&1 || true)
	python3 - "$csv" "$up_before" "$(uptime)" "$stats" >"$WORK/coalesce.md" <<'PY'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pts = list(dict.fromkeys(r["point"] for r in rows))
def md(p, k):
    v = [float(r[k]) for r in rows if r["point"] == p and r[k] not in ("", None)]
    return statistics.median(v) if v else None
med = {p: md(p, "tps") for p in pts}
E = os.environ
o = ["# batch_inserts, cross-client coalescing: rows/second, median of %s rounds (alternating)\n" % E["ROUNDS"],
     "PostgreSQL 15 (pg_virtualenv, default settings), pgbench -n -M prepared -c 50 -j 2 -T %s, "
     "one autocommit `INSERT INTO bi (a, b, c) VALUES (:a, :b, 'payload')` per transaction, table "
     "truncated before each run. pgplumb-pooler in transaction mode, default_pool_size = 20, "
     "insert_coalesce_delay = %s.%s\n" % (E["DURATION"], E.get("COALESCE_DELAY", "1ms"),
         (" pooler-coalescing-alt: binary `%s`." % E["COALESCE_ALT_BIN"]) if E.get("COALESCE_ALT_BIN") else ""),
     "| point | rows/s (median) | rounds | latency ms | pgbench CPU s | pooler CPU s | postgres CPU s | wal_sync | rows/merge | others' cores per round |",
     "|---|---|---|---|---|---|---|---|---|---|"]
f = lambda v, fmt: "" if v is None else fmt % v
for p in pts:
    o.append("| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        p, med[p], ", ".join("%.0f" % float(r["tps"]) for r in rows if r["point"] == p),
        f(md(p, "lat_ms"), "%.2f"), f(md(p, "pgbench_cpu_s"), "%.2f"), f(md(p, "pooler_cpu_s"), "%.2f"), f(md(p, "postgres_cpu_s"), "%.2f"),
        f(md(p, "wal_sync"), "%.0f"), f(md(p, "rows_per_merge"), "%.1f"),
        ", ".join(r["others_cores"] for r in rows if r["point"] == p)))
o.append("")
o.append("(medians per run of %s s; CPU seconds out of %s available on 2 cores; others' cores: the "
         "machine's busy CPU during the run less pgbench's, the pooler's and the cluster's, per second: "
         "other processes' work, which moves the coalescing rate most, see "
         "coalesce_rounds-20261123-summary.md)" % (E["DURATION"], 2 * int(E["DURATION"])))
o.append("")
o.append("- coalescing on / direct = **%.2f** (target >= 3); coalescing on / pooler without coalescing = %.2f; "
         "pooler without coalescing / direct = %.2f" % (
             med["pooler-coalescing"] / med["direct"], med["pooler-coalescing"] / med["pooler-txn"],
             med["pooler-txn"] / med["direct"]))
if "pooler-coalescing-alt" in med:
    o.append("- alt / direct = **%.2f**; alt / coalescing on = %.2f" % (
        med["pooler-coalescing-alt"] / med["direct"], med["pooler-coalescing-alt"] / med["pooler-coalescing"]))
o.append("- SHOW COALESCING at the end (coalesced_rows merged_statements fallbacks solo window_ends overlapped): %s" % sys.argv[4])
o.append("- load before: `%s`" % sys.argv[2].strip())
o.append("- load after: `%s`" % sys.argv[3].strip())
print("\n".join(o))
PY
	cat "$WORK/coalesce.md"
	if [ -z "${NO_RESULTS:-}" ]; then
		mkdir -p "$RESULTS_DIR"
		local stamp
		stamp=$(date -u +%Y%m%d-%H%M)
		{
			cat "$WORK/coalesce.md"
			echo
			echo "Command: \`$BENCH_CMD\` (DURATION=$DURATION ROUNDS=$ROUNDS COALESCE_ONLY=${COALESCE_ONLY:-}), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
		} >"$RESULTS_DIR/batch_inserts_coalesce-$stamp.md"
		cp "$csv" "$RESULTS_DIR/batch_inserts_coalesce-$stamp.csv"
		log "wrote $RESULTS_DIR/batch_inserts_coalesce-$stamp.md"
	fi
}
if [ -n "${COALESCE_ONLY:-}" ]; then
	coalesce_bench
	exit 0
fi

# point name | port | pgbench options | rows per transaction
POINTS=(
	"pipe/direct|$PG_PORT|-M prepared -f $WORK/pipe.sql|100"
	"pipe/pgbouncer|$BOUNCER_PORT|-M prepared -f $WORK/pipe.sql|100"
	"pipe/rewrite-relay|$RELAY_PORT|-M prepared -f $WORK/pipe.sql|100"
	"multi/direct|$PG_PORT|-M simple -f $WORK/multi.sql|100"
	"multi/pgbouncer|$BOUNCER_PORT|-M simple -f $WORK/multi.sql|100"
	"multi/rewrite-relay|$RELAY_PORT|-M simple -f $WORK/multi.sql|100"
	"copy|$PG_PORT|-M simple -f $WORK/copy.sql|100"
	"values100|$PG_PORT|-M prepared -f $WORK/values100.sql|100"
	"unnest100|$PG_PORT|-M prepared -D arr_a=$ARR_A -D arr_b=$ARR_B -f $WORK/unnest100.sql|100"
	"single50|$PG_PORT|-M prepared -c 50 -j 2 -f $WORK/single.sql|1"
	"values100/pgbouncer|$BOUNCER_PORT|-M prepared -f $WORK/values100.sql|100"
)
[ -n "$PLUMB_BIN" ] && POINTS+=("values100/pgplumb|$PLUMB_PORT|-M prepared -f $WORK/values100.sql|100")
[ -n "$PLUMB_BIN" ] && POINTS+=("pipe/pgplumb-pooler|$PLUMB_PORT|-M prepared -f $WORK/pipe.sql|100"
	"multi/pgplumb-pooler|$PLUMB_PORT|-M simple -f $WORK/multi.sql|100"
	"pipe/pgplumb-txn|$PLUMB_PORT|-M prepared -f $WORK/pipe.sql|100|txn"
	"multi/pgplumb-txn|$PLUMB_PORT|-M simple -f $WORK/multi.sql|100|txn"
	"pipe/pgplumb-stream|$PLUMB_PORT|-M prepared -f $WORK/pipe.sql|100|stream"
	"pipe/pgplumb-values|$PLUMB_PORT|-M prepared -f $WORK/pipe.sql|100|values"
	"pipe/pgplumb-unnest|$PLUMB_PORT|-M prepared -f $WORK/pipe.sql|100|unnest")
# the client-count points: the same workloads at -c N -j N, named <point>@cN
for n in $CLIENTS; do
	[ "$n" = 1 ] && continue
	for p in "${POINTS[@]}"; do
		IFS='|' read -r name port opts rpt db <<<"$p"
		case $name in
			pipe/direct | pipe/pgbouncer | pipe/pgplumb-pooler | values100 | values100/pgbouncer | values100/pgplumb | copy)
				POINTS+=("$name@c$n|$port|$opts -c $n -j $n|$rpt|$db") ;;
		esac
	done
done
# ONLY=<extended regex>: keep only the points whose name matches (quick
# paired comparisons while developing; recorded results use every point)
if [ -n "${ONLY:-}" ]; then
	kept=()
	for p in "${POINTS[@]}"; do [[ ${p%%|*} =~ ^($ONLY)$ ]] && kept+=("$p"); done
	POINTS=("${kept[@]}")
fi

CSV="$WORK/rounds.csv"
echo "round,point,tps,rows_per_s" >"$CSV"
: >"$WORK/relay_points.txt"	# (no relay point with ONLY=...)
for r in $(seq 1 "$ROUNDS"); do
	for p in "${POINTS[@]}"; do
		IFS='|' read -r name port opts rpt db <<<"$p"
		psql -XqAtc "TRUNCATE bi" >/dev/null
		# shellcheck disable=SC2086
		out=$(pgbench -n -h 127.0.0.1 -p "$port" -T "$DURATION" $opts "${db:-$DB}" 2>&1) || {
			echo "pgbench failed for $name:" >&2; echo "$out" >&2; exit 1; }
		tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
		if [ "$port" = "$RELAY_PORT" ]; then
			# the relay child writes its counters when pgbench disconnects
			sleep 0.3
			echo "$name $(tail -n 1 "$WORK/relay.stats")" >>"$WORK/relay_points.txt"
		fi
		rows=$(python3 -c "print(round($tps * $rpt))")
		echo "$r,$name,$tps,$rows" >>"$CSV"
		log "round $r $name: $rows rows/s"
	done
done
# what the relay did per point: multi-row statements, rows, segments, fallbacks, CPU
RELAY=$(awk '{b[$1]+=$2; r[$1]+=$3; s[$1]+=$4; f[$1]+=$5; c[$1]+=$6}
	END {for (p in b) printf "%s: %d multi-row statements carrying %d rows, %d segments rewritten, %d fallbacks, relay CPU %.2f s; ", p, b[p], r[p], s[p], f[p], c[p]}' \
	"$WORK/relay_points.txt")

python3 - "$CSV" "$RELAY" "$PLUMB_BIN" >"$WORK/report.md" <<'EOF'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
relay = sys.argv[2]
have_plumb = bool(sys.argv[3])
med = {}
for p in dict.fromkeys(r["point"] for r in rows):
    med[p] = statistics.median(float(r["rows_per_s"]) for r in rows if r["point"] == p)
E = os.environ
def f(p):
    return "%.0f" % med[p] if p in med else "n/a"
def ratio(a, b):
    return "%.2f" % (med[a] / med[b]) if a in med and b in med else "n/a"
o = []
o.append("# batch_inserts: rows/second, median of %s rounds (alternating)\n" % E["ROUNDS"])
o.append("PostgreSQL 15 (pg_virtualenv, default settings), pgbench -n -T %s s per run, "
         "-c 1 -j 1 unless noted, table bi (a int, b int, c text) truncated before each run, "
         "100 rows per transaction. PgBouncer 1.18 and pgplumb-pooler in session mode, "
         "pool size 60. The rewrite relay is pooler/tests/batch/batch_proxy: pooler/batch.c "
         "driven over sockets (insert_batch_max_rows = 1000); pgplumb-pooler runs with "
         "insert_batching = 1 (the same module, wired into the pooler).\n" % E["DURATION"])
o.append("| workload | direct | PgBouncer | rewrite relay (batch.c) | pgplumb-pooler, insert_batching = 1 | relay / direct |")
o.append("|---|---|---|---|---|---|")
o.append("| 100 single-row INSERTs, pipelined, -M prepared | %s | %s | %s | %s | %s |" % (
    f("pipe/direct"), f("pipe/pgbouncer"), f("pipe/rewrite-relay"),
    f("pipe/pgplumb-pooler") if have_plumb else "n/a", ratio("pipe/rewrite-relay", "pipe/direct")))
o.append("| same 100 INSERTs as one multi-statement Query | %s | %s | %s | %s | %s |" % (
    f("multi/direct"), f("multi/pgbouncer"), f("multi/rewrite-relay"),
    f("multi/pgplumb-pooler") if have_plumb else "n/a",
    ratio("multi/rewrite-relay", "multi/direct")))
o.append("| pipelined, pgplumb-pooler in transaction pool mode | | | | %s | |" % f("pipe/pgplumb-txn"))
o.append("| multi-statement, pgplumb-pooler in transaction pool mode | | | | %s | |" % f("multi/pgplumb-txn"))
o.append("| pipelined, pgplumb-pooler session mode, insert_batch_stream_rows = %s (database \"stream\") | | | | %s | |" % (E["STREAM_ROWS"], f("pipe/pgplumb-stream")))
o.append("| pipelined, pgplumb-pooler session mode, insert_batch_form = values (database \"values\") | | | | %s | |" % f("pipe/pgplumb-values"))
o.append("| pipelined, pgplumb-pooler session mode, insert_batch_form = unnest (database \"unnest\") | | | | %s | |" % f("pipe/pgplumb-unnest"))
o.append("| COPY of 100 rows (server-side CSV) | %s | | | | |" % f("copy"))
o.append("| hand-written 100-row INSERT ... VALUES (200 params) | %s | | | | |" % f("values100"))
o.append("| 100-row INSERT ... SELECT FROM unnest (2 array params) | %s | | | | |" % f("unnest100"))
o.append("| 50 clients, autocommit single-row INSERT (direct; coalescing: see the coalescing report below) | %s | | | | |" % f("single50"))
o.append("")
o.append("## Ratios of medians")
o.append("- pipelined: rewrite relay / direct = %s (target >= 2.5); / hand-written VALUES = %s (target >= 0.9); / COPY = %s (target >= 0.4); PgBouncer / direct = %s" % (
    ratio("pipe/rewrite-relay", "pipe/direct"), ratio("pipe/rewrite-relay", "values100"),
    ratio("pipe/rewrite-relay", "copy"), ratio("pipe/pgbouncer", "pipe/direct")))
o.append("- multi-statement: rewrite relay / direct = %s; / hand-written VALUES = %s; / COPY = %s" % (
    ratio("multi/rewrite-relay", "multi/direct"), ratio("multi/rewrite-relay", "values100"),
    ratio("multi/rewrite-relay", "copy")))
o.append("- pgplumb-pooler (insert_batching = 1): pipelined / direct = %s, / PgBouncer = %s, / hand-written VALUES = %s, / COPY = %s; multi-statement / direct = %s" % (
    ratio("pipe/pgplumb-pooler", "pipe/direct"), ratio("pipe/pgplumb-pooler", "pipe/pgbouncer"),
    ratio("pipe/pgplumb-pooler", "values100"), ratio("pipe/pgplumb-pooler", "copy"),
    ratio("multi/pgplumb-pooler", "multi/direct")))
o.append("- pgplumb-pooler, transaction pool mode (insert_batching = 1): pipelined / direct = %s, / hand-written VALUES = %s, / COPY = %s; multi-statement / direct = %s, / hand-written VALUES = %s, / COPY = %s" % (
    ratio("pipe/pgplumb-txn", "pipe/direct"), ratio("pipe/pgplumb-txn", "values100"),
    ratio("pipe/pgplumb-txn", "copy"), ratio("multi/pgplumb-txn", "multi/direct"),
    ratio("multi/pgplumb-txn", "values100"), ratio("multi/pgplumb-txn", "copy")))
o.append("- pgplumb-pooler, streamed (insert_batch_stream_rows = %s): pipelined / direct = %s, / hand-written VALUES = %s, / COPY = %s, / not streamed = %s" % (
    E["STREAM_ROWS"], ratio("pipe/pgplumb-stream", "pipe/direct"), ratio("pipe/pgplumb-stream", "values100"),
    ratio("pipe/pgplumb-stream", "copy"), ratio("pipe/pgplumb-stream", "pipe/pgplumb-pooler")))
o.append("- insert_batch_form: unnest / values (pgplumb-pooler, session mode) = %s; unnest: / direct = %s, / hand-written VALUES = %s, / COPY = %s" % (
    ratio("pipe/pgplumb-unnest", "pipe/pgplumb-values"), ratio("pipe/pgplumb-unnest", "pipe/direct"),
    ratio("pipe/pgplumb-unnest", "values100"), ratio("pipe/pgplumb-unnest", "copy")))
o.append("- anchors: direct pipelined / hand-written VALUES = %s; hand-written VALUES / COPY = %s" % (
    ratio("pipe/direct", "values100"), ratio("values100", "copy")))
o.append("- VALUES vs unnest (same 100 rows, both -M prepared): unnest / VALUES = %s" % ratio("unnest100", "values100"))
o.append("- proxies relaying the hand-written 100-row INSERT (what two extra hops cost it): PgBouncer / hand-written VALUES direct = %s, pgplumb-pooler / hand-written VALUES direct = %s" % (
    ratio("values100/pgbouncer", "values100"), ratio("values100/pgplumb", "values100")))
o.append("- rewrite relay, all rounds: " + relay)
o.append("")
o.append("## By client count (-c N -j N; -c 1 is the table above)\n")
counts = [int(n) for n in E.get("CLIENTS", "1").split()]
if 1 not in counts:
    counts.insert(0, 1)
cn = lambda p, n: p if n == 1 else "%s@c%d" % (p, n)
cols = ["pipe/direct", "pipe/pgbouncer", "pipe/pgplumb-pooler", "values100", "values100/pgbouncer", "values100/pgplumb", "copy"]
o.append("| clients | " + " | ".join(cols) + " |")
o.append("|---|" + "---|" * len(cols))
for n in counts:
    o.append("| %d | " % n + " | ".join(f(cn(p, n)) for p in cols) + " |")
o.append("")
for n in counts:
    o.append("- -c %d: pgplumb pipelined / direct pipelined = %s (target >= 2.5), / hand-written VALUES = %s (target >= 0.9), / COPY = %s (target >= 0.4), / PgBouncer pipelined = %s; PgBouncer relaying hand-written / hand-written = %s; pgplumb relaying hand-written / hand-written = %s; pgplumb pipelined / pgplumb relaying hand-written = %s" % (
        n, ratio(cn("pipe/pgplumb-pooler", n), cn("pipe/direct", n)), ratio(cn("pipe/pgplumb-pooler", n), cn("values100", n)),
        ratio(cn("pipe/pgplumb-pooler", n), cn("copy", n)), ratio(cn("pipe/pgplumb-pooler", n), cn("pipe/pgbouncer", n)),
        ratio(cn("values100/pgbouncer", n), cn("values100", n)), ratio(cn("values100/pgplumb", n), cn("values100", n)),
        ratio(cn("pipe/pgplumb-pooler", n), cn("values100/pgplumb", n))))
print("\n".join(o))
EOF
bench_write_report batch_inserts "DURATION=$DURATION ROUNDS=$ROUNDS CLIENTS=$CLIENTS${ONLY:+ ONLY=$ONLY}"
[ -n "${NO_RESULTS:-}" ] || cp "$CSV" "$RESULTS_DIR/batch_inserts-$RESULT_STAMP.csv"
# cross-client coalescing: its own rounds and report (see coalesce_bench)
[ -n "${ONLY:-}" ] || coalesce_bench
