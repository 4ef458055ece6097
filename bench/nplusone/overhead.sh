#!/bin/bash
# bench/nplusone/overhead.sh -- cost of N+1 detection on a read-only pgbench
# workload: pgplumb loaded, pgplumb.n_plus_one on vs off (set per
# connection through PGOPTIONS, so both run against the same server, same
# data, alternating A B A B ...).  Prints tps per round, the medians and
# the ratio on/off.  (The whole extension against no extension is measured
# by bench/extension_overhead.sh.)
#
# Usage: bench/nplusone/overhead.sh [rounds] [seconds] [clients]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-5} secs=${2:-10} clients=${3:-4}
. "$top/regress/lib/stage.sh"
pp_stage=$top/build/stage-n1overhead
pp_stage_extension
pp_venv_opts pgplumb

export N1_ROUNDS=$rounds N1_SECS=$secs N1_CLIENTS=$clients
pp_run_virtualenv bash -c '
		set -eu
		pgbench -q -i -s 10 postgres >/dev/null 2>&1
		echo "pgbench -S -M prepared -c $N1_CLIENTS -j 2 -T $N1_SECS, $N1_ROUNDS alternating rounds, $(nproc) cores, load $(cut -d" " -f1 /proc/loadavg)"
		on=() off=()
		for r in $(seq 1 "$N1_ROUNDS"); do
			for mode in on off; do
				tps=$(PGOPTIONS="-c pgplumb.n_plus_one=$mode" pgbench -n -S -M prepared \
					-c "$N1_CLIENTS" -j 2 -T "$N1_SECS" postgres 2>/dev/null |
					sed -n "s/^tps = \([0-9.]*\).*/\1/p")
				echo "round $r n_plus_one=$mode tps=$tps"
				if [ $mode = on ]; then on+=("$tps"); else off+=("$tps"); fi
			done
		done
		med() { printf "%s\n" "$@" | sort -n | awk "{a[NR]=\$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}"; }
		mon=$(med "${on[@]}"); moff=$(med "${off[@]}")
		echo "median tps: detection on $mon, off $moff, ratio on/off $(awk "BEGIN {printf \"%.3f\", $mon/$moff}")"
	'
