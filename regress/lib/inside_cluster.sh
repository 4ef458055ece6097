#!/bin/bash
# regress/lib/inside_cluster.sh -- the part of run_extension.sh that runs
# inside pg_virtualenv: pg_regress on regress/sql, then the script tests in
# regress/t.  Script tests may restart the server with
# pp_restart (regress/lib/restart.sh).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PGVERSION/bin/pg_config}
pgxs_dir=$(dirname "$("$PG_CONFIG" --pgxs)")/..
pg_regress=$pgxs_dir/test/regress/pg_regress
export PGPLUMB_TOP=$top

regress_tests=()
script_tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		if [ -f "$top/regress/t/$t.sh" ]; then script_tests+=("$top/regress/t/$t.sh")
		else regress_tests+=("$t"); fi
	done
else
	for f in "$top"/regress/sql/*.sql; do regress_tests+=("$(basename "$f" .sql)"); done
	for f in "$top"/regress/t/*.sh; do [ -e "$f" ] && script_tests+=("$f"); done
fi

rc=0
if [ ${#regress_tests[@]} -gt 0 ]; then
	# 00_setup creates the extension; every other test relies on it.
	case " ${regress_tests[*]} " in *" 00_setup "*) ;; *) regress_tests=(00_setup "${regress_tests[@]}");; esac
	"$pg_regress" --inputdir="$top/regress" --outputdir="$top/regress" \
		--bindir="$(dirname "$PG_CONFIG")" --dbname=pgplumb_regress \
		"${regress_tests[@]}" || rc=1
	[ $rc -ne 0 ] && [ -f "$top/regress/regression.diffs" ] && head -200 "$top/regress/regression.diffs"
fi

# Script tests: exit 0 = passed.  Each runs in its own database.
passed=0 failed=0
for t in "${script_tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$top/regress/results/t_$name.log
	mkdir -p "$top/regress/results"
	if (cd "$top" && timeout 600 bash "$t") >"$log" 2>&1; then
		passed=$((passed + 1)); echo "ok     $name"
	else
		failed=$((failed + 1)); echo "FAILED $name (log: regress/results/t_$name.log)"; tail -30 "$log" | sed 's/^/    /'
	fi
done
if [ ${#script_tests[@]} -gt 0 ]; then
	echo "extension script tests: $passed passed, $failed failed"
	[ $failed -eq 0 ] || rc=1
fi
exit $rc
