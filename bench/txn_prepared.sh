#!/bin/bash
# bench/txn_prepared.sh -- issue 7's performance bar: pgbench -M prepared
# through pgplumb-pooler in transaction mode, against pgplumb's own
# -M simple (transaction mode) and against PgBouncer running -M prepared in
# session mode (Debian's PgBouncer 1.18 cannot do prepared statements in
# transaction mode), all with the same number of server connections.
#
# One throwaway PostgreSQL 15 (pg_virtualenv), pgbench data initialised
# once, then ROUNDS alternating rounds of the three configurations (and
# direct -M prepared for reference); figures are medians of the rounds.
# Prints a markdown table; the pooler processes are stopped on exit.
#
# Knobs (environment): ROUNDS=5 DURATION=5 CLIENTS=8 JOBS=2 SCALE=10
#   POOL_SIZE=8 (server connections of every pooler; PgBouncer session mode
#   needs one per client, so CLIENTS should not exceed it)
#   SCRIPT=select|tpcb (pgbench -S or the default TPC-B)
#   POOLER_BIN=pooler/pgplumb-pooler
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
SCALE=${SCALE:-10}
POOL_SIZE=${POOL_SIZE:-8}
SCRIPT=${SCRIPT:-select}
: "${POOLER_BIN:=$ROOT/pooler/pgplumb-pooler}"
case "$POOLER_BIN" in /*) ;; *) POOLER_BIN="$ROOT/$POOLER_BIN" ;; esac

if [ -z "${TXN_BENCH_INNER:-}" ]; then
	for cmd in pg_virtualenv pgbench psql pgbouncer runuser python3; do
		command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 1; }
	done
	[ -x "$POOLER_BIN" ] || { echo "no pooler binary $POOLER_BIN (make -C pooler)" >&2; exit 1; }
	if ldd "$POOLER_BIN" | grep -q 'libasan\|libubsan'; then
		echo "$POOLER_BIN is a sanitizer build; rebuild it with plain 'make -C pooler'" >&2
		exit 1
	fi
	export TXN_BENCH_INNER=1 ROUNDS DURATION CLIENTS JOBS SCALE POOL_SIZE SCRIPT POOLER_BIN
	for try in 1 2 3; do
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		pg_virtualenv -t -v 15 -o max_connections=100 -c "-p $port" "$0" "$@" && exit 0
		rc=$?
		[ $rc -ne 2 ] && exit $rc	# only retry a lost port race
	done
	exit 1
fi

# ---- inside pg_virtualenv
WORK=$(mktemp -d /tmp/txn-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	# PIDS are runuser wrappers: signal the poolers themselves (their
	# children) too, or a killed wrapper leaves its pooler running.
	# SIGINT: both poolers stop once running transactions end (none by now)
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && { pkill -INT -P "$p" 2>/dev/null; kill -INT "$p" 2>/dev/null; }
	done
	for _ in $(seq 1 50); do
		alive=0
		for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && { pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; }
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

psql -qc "create database bench" >/dev/null
pgbench -i -q -s "$SCALE" "host=127.0.0.1 dbname=bench user=$PGUSER" >/dev/null 2>&1 ||
	{ echo "pgbench -i failed" >&2; exit 1; }
echo "\"$PGUSER\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
write_ini() {	# section port mode file
	cat >"$4" <<EOF
[databases]
bench = host=127.0.0.1 port=$PGPORT dbname=bench user=$PGUSER password=$PGPASSWORD

[$1]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = $3
default_pool_size = $POOL_SIZE
max_client_conn = 200
log_connections = 0
log_disconnections = 0
logfile = $WORK/$1-$3.log
EOF
}
PLUMB_PORT=$(free_port)
BOUNCER_PORT=$(free_port)
write_ini pgplumb "$PLUMB_PORT" transaction "$WORK/pgplumb.ini"
write_ini pgbouncer "$BOUNCER_PORT" session "$WORK/pgbouncer.ini"
cp "$POOLER_BIN" "$WORK/pgplumb-pooler"
chown -R postgres: "$WORK"
runuser -u postgres -- "$WORK/pgplumb-pooler" "$WORK/pgplumb.ini" 2>>"$WORK/pgplumb.stderr" &
PIDS+=($!)
runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" &
PIDS+=($!)
for port in "$PLUMB_PORT" "$BOUNCER_PORT"; do
	for _ in $(seq 1 100); do
		psql "host=127.0.0.1 port=$port dbname=bench user=$PGUSER" -XAtqc 'select 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
done

opt=""
[ "$SCRIPT" = select ] && opt="-S"
run() {	# name port protocol
	local tps
	tps=$(pgbench -n $opt -M "$3" -c "$CLIENTS" -j "$JOBS" -T "$DURATION" \
		"host=127.0.0.1 port=$2 dbname=bench user=$PGUSER" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
	echo "$1 ${tps:-0}" >>"$WORK/results"
	echo "round $r: $1 ${tps:-failed}" >&2
}
for r in $(seq 1 "$ROUNDS"); do
	run "pgplumb-txn-prepared" "$PLUMB_PORT" prepared
	run "pgplumb-txn-simple" "$PLUMB_PORT" simple
	run "pgbouncer-session-prepared" "$BOUNCER_PORT" prepared
	run "direct-prepared" "$PGPORT" prepared
done
RESULTS="$WORK/results" python3 - <<'PY'
import os, statistics as st
E = os.environ
rows = {}
for line in open(E["RESULTS"]):
    k, v = line.split()
    rows.setdefault(k, []).append(float(v))
med = {k: st.median(v) for k, v in rows.items()}
print(f"pgbench {'-S' if E['SCRIPT'] == 'select' else 'TPC-B'}, scale {E['SCALE']}, {E['CLIENTS']} clients, "
      f"{E['JOBS']} threads, {E['DURATION']} s per run, {E['POOL_SIZE']} server connections per pooler, "
      f"{E['ROUNDS']} alternating rounds, medians\n")
print("| configuration | tps (median) | all rounds |")
print("|---|---|---|")
for k in ("pgplumb-txn-prepared", "pgplumb-txn-simple", "pgbouncer-session-prepared", "direct-prepared"):
    print(f"| {k} | {med[k]:.0f} | {' '.join(f'{x:.0f}' for x in rows[k])} |")
p = med["pgplumb-txn-prepared"]
print(f"\npgplumb transaction -M prepared / pgplumb transaction -M simple: {p / med['pgplumb-txn-simple']:.2f}")
print(f"pgplumb transaction -M prepared / PgBouncer session -M prepared: {p / med['pgbouncer-session-prepared']:.2f}")
PY
