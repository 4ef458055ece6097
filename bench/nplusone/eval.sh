#!/bin/bash
# bench/nplusone/eval.sh -- precision and recall of N+1 detection per class
# on the labeled corpus (bench/nplusone/workloads.py), run for real against
# a throwaway PostgreSQL 15 that preloads pgplumb.
#
# Usage: bench/nplusone/eval.sh [--quick] [--rounds N] [workloads.py options]
#   --rounds N   run the whole corpus N times (default 1); each round prints
#                its table, the last lines sum all rounds.
#   --set NAME=VALUE  a server setting for the run (e.g.
#                pgplumb.n_plus_one_span_transactions=off); may be repeated.
# The server is made by pg_virtualenv -t (as regress/run_extension.sh does)
# and dropped on exit; nothing else is left running.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
rounds=1
args=()
sets=()
while [ $# -gt 0 ]; do
	case $1 in
		--rounds) rounds=$2; shift 2;;
		--set) sets+=(-o "$2"); shift 2;;
		*) args+=("$1"); shift;;
	esac
done

"$top/bench/nplusone/orm/deps.sh" || exit 1
. "$top/regress/lib/stage.sh"
pp_stage=$top/build/stage-n1eval
pp_stage_extension
pp_venv_opts pgplumb
pp_venv+=("${sets[@]}")

export N1_SETS="${sets[*]:-}" N1_ROUNDS=$rounds N1_ARGS="${args[*]:-}" N1_TOP=$top
pp_run_virtualenv bash -c '
		set -eu
		createdb n1_eval
		export PGDATABASE=n1_eval
		echo "corpus: $N1_TOP/bench/nplusone/workloads.py $N1_ARGS, $N1_ROUNDS round(s), settings: ${N1_SETS:-defaults}, PostgreSQL $PGVERSION, $(nproc) cores, load $(cut -d" " -f1 /proc/loadavg)"
		rm -f /tmp/n1eval.$$
		for r in $(seq 1 "$N1_ROUNDS"); do
			echo "== round $r"
			/usr/bin/python3 "$N1_TOP/bench/nplusone/workloads.py" $N1_ARGS | tee -a /tmp/n1eval.$$
		done
		if [ "$N1_ROUNDS" -gt 1 ]; then
			echo "== all rounds"
			awk "/^(n_plus_one|redundant|write_loop) / { tp[\$1]+=\$2; fp[\$1]+=\$3; fn[\$1]+=\$4 }
			     END { printf \"%-12s %5s %5s %5s %10s %8s\n\", \"class\", \"tp\", \"fp\", \"fn\", \"precision\", \"recall\";
			           split(\"n_plus_one redundant write_loop\", cs, \" \");
			           for (i = 1; i <= 3; i++) { c = cs[i];
			             p = tp[c] + fp[c] ? tp[c] / (tp[c] + fp[c]) : 1; r = tp[c] + fn[c] ? tp[c] / (tp[c] + fn[c]) : 1;
			             printf \"%-12s %5d %5d %5d %10.3f %8.3f\n\", c, tp[c], fp[c], fn[c], p, r } }" /tmp/n1eval.$$
		fi
		rm -f /tmp/n1eval.$$
	'
