#!/bin/bash
# run.sh -- end-to-end scenarios for pgplumb-pooler against a throwaway
# PostgreSQL 15 (pg_virtualenv).  Each scenario in scenarios/*.sh starts its
# own pooler on a free port with its own ini and asserts on what clients see
# and on the pooler log.  Prints "N passed, N failed"; exit non-zero on any
# failure.  Usage: regress/pooler/run.sh [scenario-name-substring...]
# The pooler binary is $POOLER_BIN or pooler/pgplumb-pooler.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

if [ -z "${PGPLUMB_E2E_INNER:-}" ]; then
	: "${POOLER_BIN:=$ROOT/pooler/pgplumb-pooler}"
	case "$POOLER_BIN" in /*) ;; *) POOLER_BIN="$ROOT/$POOLER_BIN" ;; esac
	if [ ! -x "$POOLER_BIN" ]; then
		echo "pooler binary not found: $POOLER_BIN (run make -C pooler)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	export POOLER_BIN PGPLUMB_E2E_INNER=1
	# The summary is printed here, after pg_virtualenv's own messages, so that
	# it is the last line of the run.
	E2E_SUMMARY="$(mktemp /tmp/pgplumb-e2e-summary.XXXXXX)"
	export E2E_SUMMARY
	trap 'rm -f "$E2E_SUMMARY"' EXIT
	# -t: temporary cluster in /tmp, safe when run as root; a free port of our
	# own so that several runs (other sessions) do not collide on 5433
	pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	pg_virtualenv -t -v 15 -c "-p $pgport" "$HERE/run.sh" "$@"
	rc=$?
	if [ -s "$E2E_SUMMARY" ]; then
		cat "$E2E_SUMMARY"
	else
		echo "0 passed, 1 failed"	# the cluster or the harness itself failed
		rc=1
	fi
	exit $rc
fi

# ---- inside pg_virtualenv: PGHOST/PGPORT/PGUSER/PGPASSWORD point at the cluster
export E2E_WORK="$(mktemp -d /tmp/pgplumb-e2e.XXXXXX)"
cleanup() {
	# every scenario kills its own poolers; this catches leftovers
	for f in "$E2E_WORK"/*/pooler.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	if [ -n "${KEEP_E2E:-}" ]; then echo "work dir kept: $E2E_WORK"; else rm -rf "$E2E_WORK"; fi
}
trap cleanup EXIT

# Local TCP: trust for most users; md5/SCRAM users for auth scenarios.
HBA="$(psql -XAtc 'show hba_file')"
{
	echo "host all pp_md5 127.0.0.1/32 md5"
	echo "host all pp_scram 127.0.0.1/32 scram-sha-256"
	echo "host all all 127.0.0.1/32 trust"
	echo "local all all trust"
	cat "$HBA"
} > "$E2E_WORK/hba" && cat "$E2E_WORK/hba" > "$HBA"
psql -XqAtc 'select pg_reload_conf()' >/dev/null
psql -Xq >/dev/null <<'SQL'
create database ppdb;
create database ppdb2;
set password_encryption = 'md5';
create role pp_md5 login password 'md5pass';
set password_encryption = 'scram-sha-256';
create role pp_scram login password 'scrampass';
create role ppuser login;
SQL
psql -Xq -d ppdb >/dev/null <<'SQL'
create table items (id int primary key, v text);
grant all on items to public;
SQL
pgbench -i -s 1 -q "host=127.0.0.1 dbname=ppdb user=postgres" >/dev/null 2>&1 || { echo "pgbench -i failed"; exit 1; }
export PG_SERVER_PORT="$PGPORT"
export PG_DATA_DIR="$(psql -XAtc 'show data_directory')"
export PG_SOCKET_DIR="$(psql -XAtc 'show unix_socket_directories' | cut -d, -f1)"

pass=0
fail=0
failed_names=()
for s in "$HERE"/scenarios/*.sh; do
	name="$(basename "$s" .sh)"
	if [ $# -gt 0 ]; then
		match=0
		for pat in "$@"; do case "$name" in *"$pat"*) match=1 ;; esac; done
		[ $match = 1 ] || continue
	fi
	dir="$E2E_WORK/$name"
	mkdir -p "$dir"
	start=$(date +%s%N)
	rc=0
	SCEN_DIR="$dir" timeout -k 5 90 bash "$s" >"$dir/out" 2>&1 || rc=$?
	# a sanitizer or leak report in the pooler's log fails the scenario too
	if [ -f "$dir/pooler.log" ] && grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$dir/pooler.log"; then
		echo "sanitizer report in the pooler log" >>"$dir/out"
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS %-32s %6d ms\n' "$name" $((($(date +%s%N) - start) / 1000000))
	else
		fail=$((fail + 1))
		failed_names+=("$name")
		printf 'FAIL %-32s %6d ms\n' "$name" $((($(date +%s%N) - start) / 1000000))
		sed 's/^/    | /' "$dir/out" | tail -40
		if [ -f "$dir/pooler.log" ]; then
			echo "    pooler log (tail):"
			sed 's/^/    > /' "$dir/pooler.log" | tail -25
		fi
	fi
done
echo "$pass passed, $fail failed" >"$E2E_SUMMARY"
[ $fail -eq 0 ]
