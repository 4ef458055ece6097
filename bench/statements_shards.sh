#!/bin/bash
# bench/statements_shards.sh -- backend CPU time per transaction with
# pgplumb.shard_counters off and on, against no extension, in one run.
#
# One throwaway PostgreSQL 15 (pg_virtualenv), pgbench initialised once, then
# ROUNDS rounds; each round runs every configuration of CONFIGS once, in an
# order rotated from round to round, restarting the server for each (a
# configuration "LIB+shard" is LIB preloaded with pgplumb.shard_counters =
# on), with a 2 s warm-up, then VACUUM and CHECKPOINT, then pgbench
# -M prepared -c 2 -j 2 for DURATION seconds.  Reported per run and as
# medians: tps and the CPU time (user + system) of pgbench's backends per
# transaction, read from the postmaster's cutime/cstime once they are reaped
# (as bench/extension_overhead.sh does), with the load average of the
# machine; the ratios of medians against the first configuration.
#
# Settings (environment):
#   CONFIGS="none pgplumb pgplumb+shard"   configurations (none = nothing
#             preloaded; any other name a library in the stage, e.g. a
#             variant copied there through VARIANTS)
#   VARIANTS  paths of more .so files copied into the stage's library
#             directory (e.g. a build with other compile-time switches,
#             preloaded under its file name)
#   WL=select   select (pgbench -S) or tpcb (built-in TPC-B-like script)
#   DURATION=10  ROUNDS=7  SCALE=10
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --inside ]; then
	. "$top/regress/lib/stage.sh"
	pp_stage=$top/build/stage-shards
	pp_stage_extension
	for v in ${VARIANTS:-}; do cp "$v" "$pp_stage$pp_libdir/"; done
	chmod -R a+rX "$pp_stage"
	pp_venv_opts ""
	pp_venv+=(-o "max_connections=20" -o "shared_buffers=256MB")
	pp_run_virtualenv bash "$0" --inside
	exit $?
fi

# ---- inside the throwaway cluster ----
DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-7}; SCALE=${SCALE:-10}; WL=${WL:-select}
read -r -a configs <<<"${CONFIGS:-none pgplumb pgplumb+shard}"
db=pp_bench
work=$(mktemp -d); chmod a+rx "$work"
trap 'rm -rf "$work"' EXIT
# pgplumb.shard_counters goes into an included file: ALTER SYSTEM refuses a
# setting of a library that is not loaded
extra=$work/shard.conf; : >"$extra"; chmod a+r "$extra"
echo "include_if_exists = '$extra'" >>"$(psql -X -qAt -d postgres -c 'SHOW config_file')"

restart_with() {	# configuration
	local lib=${1%+shard} owner pgdata logfile
	if [ "$lib" != "$1" ]; then echo "pgplumb.shard_counters = on" >"$extra"; else : >"$extra"; fi
	if [ "$lib" != none ]; then
		psql -X -q -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = '$lib'"
	else
		psql -X -q -d postgres -c "ALTER SYSTEM RESET shared_preload_libraries"
	fi
	read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$owner" -- /usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	else
		/usr/lib/postgresql/"$PGVERSION"/bin/pg_ctl -D "$pgdata" -l "$logfile" -w -m fast restart >/dev/null
	fi
	local want=off
	[ "$lib" = "$1" ] || want=on
	[ "$lib" != pgplumb ] || [ "$(psql -X -qAt -d postgres -c 'SHOW pgplumb.shard_counters')" = $want ] ||
		{ echo "pgplumb.shard_counters is not $want" >&2; exit 1; }
}

psql -X -q -d postgres -c "CREATE DATABASE $db"
pgbench -i -q -s "$SCALE" "$db" >/dev/null 2>&1
psql -X -q -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off"
tck=$(getconf CLK_TCK)
pm_pid() { head -1 "$(psql -X -qAt -d postgres -c 'SHOW data_directory')/postmaster.pid"; }
reaped_ticks() { awk '{ print $16 + $17 }' "/proc/$1/stat"; }
aux_re='postgres: .*(checkpointer|background writer|walwriter|launcher|archiver|logger)'
wait_reaped() {
	for _ in $(seq 200); do ps --ppid "$1" -o args= | grep -Evq "$aux_re" || return 0; sleep 0.05; done
	echo "backends still running after 10 s" >&2; exit 1
}
args=(-S); [ "$WL" = tpcb ] && args=(-b tpcb-like)

echo "== statements_shards: pgbench -M prepared -c 2 -j 2 -T $DURATION ${args[*]}, scale $SCALE, $ROUNDS rounds; start: $(uptime)"
n=${#configs[@]}
for round in $(seq "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		cfg=${configs[$(((round - 1 + k) % n))]}
		restart_with "$cfg"
		pgbench -n -M prepared -c 2 -j 2 -T 2 "${args[@]}" "$db" >/dev/null 2>&1
		psql -X -q -d "$db" -c "TRUNCATE pgbench_history" -c "VACUUM" -c "CHECKPOINT"
		pm=$(pm_pid); wait_reaped "$pm"; r0=$(reaped_ticks "$pm")
		out=$(pgbench -n -M prepared -c 2 -j 2 -T "$DURATION" "${args[@]}" "$db" 2>&1) ||
			{ echo "$out" >&2; exit 1; }
		wait_reaped "$pm"; r1=$(reaped_ticks "$pm")
		nt=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
		tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
		awk -v c="$cfg" -v t="$tps" -v n="$nt" -v r=$((r1 - r0)) -v k="$tck" -v rd="$round" \
			-v l="$(cut -d' ' -f1 /proc/loadavg)" \
			'BEGIN { printf "round %d  %-16s %10.1f tps %8.3f us/txn  load %s\n", rd, c, t, r * 1e6 / k / n, l }' |
			tee -a "$work/res"
	done
done
echo "end: $(uptime)"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-16s %12s %12s %12s %12s\n' config "median tps" "us/txn" "tps ratio" "us/txn ratio"
t0= u0=
for c in "${configs[@]}"; do
	t=$(awk -v c="$c" '$3 == c { print $4 }' "$work/res" | median)
	u=$(awk -v c="$c" '$3 == c { print $6 }' "$work/res" | median)
	[ -n "$t0" ] || { t0=$t; u0=$u; }
	awk -v c="$c" -v t="$t" -v u="$u" -v t0="$t0" -v u0="$u0" \
		'BEGIN { printf "%-16s %12.1f %12.3f %12.3f %12.3f\n", c, t, u, t / t0, u / u0 }'
done
