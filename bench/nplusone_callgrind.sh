#!/bin/bash
# bench/nplusone_callgrind.sh -- CPU instructions one pgbench -S statement
# costs in a backend, over the extended protocol (pgbench -M prepared by
# default), with pgplumb.n_plus_one off and on: the N+1 collector's share.
#
# A throwaway PostgreSQL 15 (pg_virtualenv) whose postmaster runs under
# valgrind --tool=callgrind: every backend it forks writes its own count.
# For each configuration pgbench -c 1 runs N and then 3N transactions;
# (I(3N) - I(N)) / 2N is the cost per statement, free of the backend's
# start-up and of the noise of a shared machine.  The anchor is the same
# server with no extension loaded, measured in the same run.
#
# Settings (environment): CALLGRIND_N=500, SCALE=1, PROTOCOL=prepared,
# SCRIPT=-S (any pgbench script option, e.g. "-b tpcb-like").
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --inside ]; then
	. "$top/regress/lib/stage.sh"
	pp_stage=$top/build/stage-n1cg
	pp_stage_extension
	pp_venv_opts ""
	pp_run_virtualenv bash "$0" --inside
	exit
fi

N=${CALLGRIND_N:-500}
SCALE=${SCALE:-1}
PROTOCOL=${PROTOCOL:-prepared}
SCRIPT=${SCRIPT:--S}
db=pp_n1cg
work=$(mktemp -d /tmp/pgplumb-n1cg.XXXXXX)
chmod 777 "$work"
bindir=/usr/lib/postgresql/$PGVERSION/bin
read -r _ _ _ _ owner pgdata logfile < <(pg_lsclusters -h "$PGVERSION" regress)
conf=$(psql -X -qAt -d postgres -c "SHOW config_file")
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
createdb "$db"
pgbench -q -i -s "$SCALE" "$db" >/dev/null 2>&1
as_owner "$bindir/pg_ctl" -D "$pgdata" -w -m fast stop >/dev/null
vg_pid=

start_vg() {	# shared_preload_libraries
	as_owner bash -c 'exec valgrind --tool=callgrind --callgrind-out-file="$0/cg.%p" \
		"$1/postgres" -D "$2" -c config_file="$3" -c shared_preload_libraries="$4" \
		>"$0/server.log" 2>&1' "$work" "$bindir" "$pgdata" "$conf" "$1" &
	vg_pid=$!
	for _ in $(seq 600); do
		psql -X -qAt -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "server under valgrind did not start" >&2; cat "$work/server.log" >&2; exit 1
}
stop_vg() {
	as_owner "$bindir/pg_ctl" -D "$pgdata" -w -t 600 -m fast stop >/dev/null
	wait "$vg_pid" 2>/dev/null || true
}
backend_instr() {	# transactions [PGOPTIONS] -> instructions of that backend
	local before f
	before=$(ls "$work" | grep '^cg\.' || true)
	PGOPTIONS="${2:-}" pgbench -n -M "$PROTOCOL" $SCRIPT -c 1 -t "$1" "$db" >"$work/pgbench.out" 2>&1 ||
		{ cat "$work/pgbench.out" >&2; exit 1; }
	# pgbench's backends (one looks up the scale, one runs the transactions)
	# write their files when they exit; the busiest one ran the transactions
	sleep 2
	for f in $(ls "$work" | grep '^cg\.' || true); do
		grep -qx "$f" <<<"$before" && continue
		sed -n 's/^summary: \([0-9]*\).*/\1/p' "$work/$f"
		mv "$work/$f" "$work/$f.$1"
	done | sort -n | tail -1
}

echo "== nplusone_callgrind: PostgreSQL $PGVERSION, pgbench $SCRIPT -M $PROTOCOL -c 1, N = $N and $((3 * N)), $(git -C "$top" rev-parse --short HEAD), load $(cut -d' ' -f1 /proc/loadavg)"
declare -A per
for cfg in none n1off n1on; do
	case $cfg in
		none) lib=""; opts="";;
		n1off) lib=pgplumb; opts="-c pgplumb.n_plus_one=off";;
		n1on) lib=pgplumb; opts="-c pgplumb.n_plus_one=on";;
	esac
	start_vg "$lib"
	lo=$(backend_instr "$N" "$opts")
	hi=$(backend_instr $((3 * N)) "$opts")
	stop_vg
	per[$cfg]=$(( (hi - lo) / (2 * N) ))
	printf '%-6s %8d instructions per transaction\n' "$cfg" "${per[$cfg]}"
done
echo "pgplumb, n_plus_one off: +$((per[n1off] - per[none])) over none"
echo "pgplumb, n_plus_one on:  +$((per[n1on] - per[none])) over none"
echo "N+1 collector:           +$((per[n1on] - per[n1off])) ($(awk -v a="${per[n1on]}" -v b="${per[n1off]}" 'BEGIN { printf "%.2f%%", 100 * (a - b) / b }') of a transaction)"
if [ -n "${KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
# start it again for pg_virtualenv to stop and drop
as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -o "-c config_file=$conf" -w start >/dev/null 2>&1 || true
