#!/bin/bash
# bench/prepare_callgrind.sh -- CPU instructions per transaction that
# pgplumb-pooler spends relaying `pgbench -M prepared -S` (or MODE; 1 client,
# transaction pooling, pool size 1), for two builds: ANCHOR (e.g. the build
# of the commit before a change) and the built pooler/pgplumb-pooler (or
# POOLER_BIN).  Each runs under callgrind twice, for TX1 and TX2
# transactions; (I(TX2) - I(TX1)) / (TX2 - TX1) removes start-up and login.
# Deterministic, so it is usable on a loaded machine.  Prints both figures
# and the ratio against the anchor.
# Usage: ANCHOR=/path/to/old/pgplumb-pooler [MODE=extended] bench/prepare_callgrind.sh
# (MODE: the pgbench -M query mode, prepared by default)
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${ANCHOR:?set ANCHOR to the pgplumb-pooler binary to compare with}"
: "${POOLER_BIN:=$HERE/../pooler/pgplumb-pooler}"
: "${TX1:=1000}" "${TX2:=6000}"
if [ -z "${PGPLUMB_CG_INNER:-}" ]; then
	export ANCHOR POOLER_BIN TX1 TX2 MODE="${MODE:-prepared}" PGPLUMB_CG_INNER=1
	pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	exec pg_virtualenv -t -v 15 -c "-p $pgport" "$0"
fi
W=$(mktemp -d /tmp/prepare_cg.XXXXXX)
createdb ppdb && pgbench -i -s 1 -q ppdb >"$W/init.log" 2>&1 || { echo "pgbench -i failed"; exit 1; }
total() {	# binary transactions -> instructions of the whole run
	local bin=$1 tx=$2 port vp
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$W/p.ini" <<INI
[databases]
ppdb = host=127.0.0.1 port=$PGPORT dbname=ppdb user=$PGUSER password=$PGPASSWORD
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
pool_mode = transaction
default_pool_size = 1
INI
	valgrind -q --tool=callgrind --callgrind-out-file="$W/cg" "$bin" "$W/p.ini" >"$W/pooler.log" 2>&1 &
	vp=$!
	for _ in $(seq 100); do
		psql "host=127.0.0.1 port=$port dbname=ppdb" -XAtqc 'select 1' >/dev/null 2>&1 && break
		sleep 0.2
	done
	pgbench -n -M "${MODE:-prepared}" -S -c 1 -t "$tx" "host=127.0.0.1 port=$port dbname=ppdb" >"$W/pgb.log" 2>&1 ||
		{ echo "pgbench failed: $(tail -2 "$W/pgb.log")" >&2; }
	kill -INT "$vp"; wait "$vp"
	callgrind_annotate "$W/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
per_tx() { echo $(( ($(total "$1" "$TX2") - $(total "$1" "$TX1")) / (TX2 - TX1) )); }
a=$(per_tx "$ANCHOR")
b=$(per_tx "$POOLER_BIN")
echo "instructions per transaction: anchor $a, this build $b, ratio $(python3 -c "print(f'{$b / $a:.3f}')")"
rm -rf "$W"
