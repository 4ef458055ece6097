#!/bin/bash
# bench/batch_unnest_server.sh -- server instructions per 100-row batch for
# the two forms of insert_batch_form: the pgbench pipeline of 100 single-row
# INSERTs (bench_batch_scripts' pipe.sql, -M prepared) through pgplumb-pooler
# in session mode, executed by the server as a multi-row VALUES or as
# INSERT ... SELECT ... FROM unnest($1::integer[], $2::integer[]).
#
# Load-independent: a private PostgreSQL 15 cluster runs under valgrind
# --tool=callgrind (every server process, the backends are forks), the
# pooler does not.  For each form, runs of N and 3N transactions; the
# instructions of all server processes of a run are summed, and
# (I(3N) - I(N)) / 2N is the figure per transaction (what does not grow
# with the transactions -- start-up, shut-down -- cancels out).  The
# hand-written 100-row VALUES INSERT (values100.sql) is measured the same
# way, directly, as the anchor.
#
# Knobs: N=100, FORMS="values unnest", ROWS=100 (rows per transaction: the
# pipeline and the hand-written VALUES get ROWS rows), RESULTS_DIR,
# TEXT_BYTES=0 (> 0: the text column is a third parameter, a string of that
# many bytes, instead of the literal 'payload'), NO_RESULTS=1.
# Needs: postgresql-15, valgrind, pgbench; run as root (the cluster runs as
# postgres).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export N=${N:-100} ROWS=${ROWS:-100} TEXT_BYTES=${TEXT_BYTES:-0} RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
FORMS=${FORMS:-values unnest}
BIN=/usr/lib/postgresql/15/bin
BENCH_CMD="$0 $*"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

[ -x "$ROOT/pooler/pgplumb-pooler" ] || make -s -C "$ROOT/pooler" >/dev/null
WORK=$(mktemp -d /tmp/bench_unnest_srv.XXXXXX)
chmod 755 "$WORK"
PGPID="" PID=""
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi
	if [ -n "$PGPID" ]; then kill -INT "$(head -1 "$WORK/data/postmaster.pid")" 2>/dev/null || true; wait "$PGPID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGP=$(free_port)
PORT=$(free_port)
bench_batch_scripts "$WORK"
if [ "$ROWS" != 100 ]; then	# the same scripts with ROWS rows
	awk -v n="$ROWS" '/^INSERT/ {if (++k > n) next} {print}' "$WORK/pipe.sql" >"$WORK/p.tmp" && mv "$WORK/p.tmp" "$WORK/pipe.sql"
	{ head -2 "$WORK/values100.sql"; printf 'INSERT INTO bi (a, b, c) VALUES '
	  for i in $(seq "$ROWS"); do printf "(:a, :b, 'payload')"; [ "$i" -lt "$ROWS" ] && printf ', '; done; echo ';'; } >"$WORK/v.tmp"
	mv "$WORK/v.tmp" "$WORK/values100.sql"
fi
PGB_TEXT=()
if [ "$TEXT_BYTES" -gt 0 ]; then	# 'payload' becomes :s, a parameter
	sed -i "s/'payload'/:s/g" "$WORK/pipe.sql" "$WORK/values100.sql"
	PGB_TEXT=(-D "s=$(head -c "$TEXT_BYTES" /dev/zero | tr '\0' 'x')")
fi
echo '"postgres" ""' >"$WORK/userlist.txt"
chown -R postgres: "$WORK"
runuser -u postgres -- "$BIN/initdb" -D "$WORK/data" -A trust -U postgres >/dev/null

pg_start() {	# $1: callgrind output prefix, or "" for no valgrind
	local wrap=()
	[ -n "$1" ] && wrap=(valgrind -q --tool=callgrind "--callgrind-out-file=$1.%p" --dump-instr=no)
	runuser -u postgres -- "${wrap[@]}" "$BIN/postgres" -D "$WORK/data" -p "$PGP" -k "$WORK" \
		-c listen_addresses=127.0.0.1 -c autovacuum=off -c fsync=off -c synchronous_commit=off \
		-c checkpoint_timeout=1d -c max_wal_size=10GB \
		>>"$WORK/pg.log" 2>&1 &
	PGPID=$!
	for _ in $(seq 600); do
		"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PGP" -U postgres && return 0
		sleep 0.2
	done
	echo "server did not start" >&2; tail "$WORK/pg.log" >&2; exit 1
}
pg_stop() {	# fast shut-down: signal the postmaster itself (not runuser)
	kill -INT "$(head -1 "$WORK/data/postmaster.pid")"
	wait "$PGPID" 2>/dev/null || true
	PGPID=""
}
pooler_start() {	# $1 insert_batch_form
	cat >"$WORK/p.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$PGP dbname=postgres user=postgres
[pgplumb]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
default_pool_size = 1
insert_batching = 1
insert_batch_form = $1
logfile = $WORK/p.log
INI
	"$ROOT/pooler/pgplumb-pooler" "$WORK/p.ini" &
	PID=$!
	for _ in $(seq 100); do
		psql -XAtc 'select 1' -h 127.0.0.1 -p "$PORT" -U postgres -d postgres >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "pooler did not start" >&2; exit 1
}
total() {	# instructions of all processes of the run with prefix $1
	local f
	for f in "$1".*; do
		callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
	done | awk '{s += $1} END {printf "%.0f", s}'
}

pg_start ""
psql -XqAt -h 127.0.0.1 -p "$PGP" -U postgres -d postgres -c "CREATE TABLE bi (a int, b int, c text)"
pg_stop

echo "| point | server instructions per $ROWS-row transaction$([ "$TEXT_BYTES" -gt 0 ] && echo ", text parameter of $TEXT_BYTES bytes") |" >"$WORK/report.md"
echo "|---|---|" >>"$WORK/report.md"
declare -A per
# (with TEXT_BYTES the hand-written statement would pass pgbench's 255 variables: no anchor)
for point in $([ "$TEXT_BYTES" -gt 0 ] || echo values100) $FORMS; do
	declare -A ins=()
	for n in "$N" $((3 * N)); do
		pg_start "$WORK/cg.$point.$n"
		if [ "$point" = values100 ]; then
			port=$PGP script=values100
		else
			pooler_start "$point"
			port=$PORT script=pipe
		fi
		# one connection: 10 warm-up transactions (statements prepared, the
		# table's column types learnt), then n
		pgbench -n -h 127.0.0.1 -p "$port" -U postgres -M prepared -t $((10 + n)) "${PGB_TEXT[@]}" \
			-f "$WORK/$script.sql" postgres >"$WORK/pgbench.out" 2>&1 ||
			{ cat "$WORK/pgbench.out" >&2; exit 1; }
		if [ -n "$PID" ]; then kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; fi
		pg_stop
		ins[$n]=$(total "$WORK/cg.$point.$n")
		log "$point n=$n: ${ins[$n]} instructions in all server processes"
	done
	per[$point]=$(( (ins[$((3 * N))] - ins[$N]) / (2 * N) ))
	echo "| $point | ${per[$point]} |" >>"$WORK/report.md"
done
{
	echo
	echo "values100: the hand-written $ROWS-row VALUES INSERT, direct; values / unnest: the pgbench"
	echo "pipeline of $ROWS single-row INSERTs through pgplumb-pooler (session mode) with"
	echo "insert_batch_form = values / unnest. Server processes under callgrind, (I(3N) - I(N)) / 2N."
	if [ -n "${per[values]:-}" ] && [ -n "${per[unnest]:-}" ]; then
		echo
		echo "- unnest / values server instructions: $(python3 -c "print('%.3f' % (${per[unnest]} / ${per[values]}))")"
		[ -z "${per[values100]:-}" ] || echo "- values / values100: $(python3 -c "print('%.3f' % (${per[values]} / ${per[values100]}))"); unnest / values100: $(python3 -c "print('%.3f' % (${per[unnest]} / ${per[values100]}))")"
	fi
} >>"$WORK/report.md"
bench_write_report "batch_unnest_server-rows$ROWS$([ "$TEXT_BYTES" -gt 0 ] && echo "-text$TEXT_BYTES")" "N=$N ROWS=$ROWS TEXT_BYTES=$TEXT_BYTES"
