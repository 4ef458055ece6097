#!/bin/bash
# bench/batch_trigger.sh -- what insert_batching keeps for tables whose rows
# may raise NOTICEs (issue 6).
#
# The catalog check calls a table "noisy" when it has a row-level INSERT
# trigger, a domain-typed column, a default or constraint calling a
# non-built-in function, or is not a plain table.  An attempt into such a
# table sends Flush, waits for the multi-row statement's replies and only then
# its Sync (one more round trip per segment), so that a NOTICE can still undo
# it.  This measures that cost on:
#   plain    bi  (a int, b int, c text)                      the anchor
#   domain   bid (a dint, b int, c text), dint a domain over int with no
#            check: the same work on the server, only the Sync waits
#   audit    bia (a int, b int, c text) with a silent AFTER ROW trigger
#            writing each row into an audit table (the common case)
# each as 100 single-row INSERTs in one pgbench pipeline (-M prepared, 1
# client), direct and through pgplumb-pooler (session mode, insert_batching
# on).  Alternating rounds (every point once per round, same order), median
# rows/s per point; ratios of medians: pooler/direct per table (the speed-up
# kept), and domain/plain through the pooler (the price of the held Sync).
# Then insert_coalescing (a second pooler, transaction mode, insert_coalescing
# on): 50 clients (-j 2) of autocommit single-row INSERTs into the plain and
# the audit table, direct and through it (the audit table's merged INSERTs
# run inside BEGIN and are committed only after their replies came).
# Knobs: DURATION=5 ROUNDS=5, RESULTS_DIR, NO_RESULTS=1 to only print.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

if [ "${1:-}" != "--inside" ]; then
	for cmd in pg_virtualenv pgbench psql python3; do
		command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 1; }
	done
	[ -x "$ROOT/pooler/pgplumb-pooler" ] || { echo "build pooler/pgplumb-pooler first" >&2; exit 1; }
	export DURATION ROUNDS RESULTS_DIR
	BENCH_CMD="$0 $*"
	bench_enter_cluster timeout 1800 "$0" --inside
fi

bench_work_dir bench_trig

PG_PORT=$(psql -XAtc 'show port')
DB=postgres
PLUMB_PORT=$(free_port)
COAL_PORT=$(free_port)

psql -Xq <<'SQL'
CREATE TABLE bi (a int, b int, c text);
CREATE DOMAIN dint AS int;
CREATE TABLE bid (a dint, b int, c text);
CREATE TABLE bia (a int, b int, c text);
CREATE TABLE bia_log (a int, at timestamptz);
CREATE FUNCTION bia_audit() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO bia_log VALUES (NEW.a, now()); RETURN NULL; END$$;
CREATE TRIGGER bia_t AFTER INSERT ON bia FOR EACH ROW EXECUTE FUNCTION bia_audit();
SQL

echo "\"postgres\" \"$PGPASSWORD\"" >"$WORK/userlist.txt"
cat >"$WORK/pgplumb.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT user=postgres password=$PGPASSWORD
[pgplumb]
listen_addr = 127.0.0.1
listen_port = $PLUMB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
default_pool_size = 4
insert_batching = 1
admin_users = postgres
logfile = $WORK/pgplumb.log
EOF
sed -e "s/^listen_port = .*/listen_port = $COAL_PORT/" -e 's/^pool_mode = .*/pool_mode = transaction/' \
	-e 's/^insert_batching = 1/insert_coalescing = 1/' -e "s|pgplumb.log|coal.log|" \
	"$WORK/pgplumb.ini" >"$WORK/coal.ini"
for ini in pgplumb coal; do
	"$ROOT/pooler/pgplumb-pooler" "$WORK/$ini.ini" &
	PIDS+=($!)
done
for port in $PLUMB_PORT $COAL_PORT; do
	for _ in $(seq 50); do
		psql "host=127.0.0.1 port=$port dbname=$DB sslmode=disable" -XAtc 'select 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
done

for t in bi bid bia; do
	{
		echo '\set a random(1, 1000000)'
		echo '\set b random(1, 1000000)'
		echo '\startpipeline'
		for _ in $(seq 100); do echo "INSERT INTO $t (a, b, c) VALUES (:a, :b, 'payload');"; done
		echo '\endpipeline'
	} >"$WORK/$t.sql"
	printf '%s\n' '\set a random(1, 1000000)' "INSERT INTO $t (a, b, c) VALUES (:a, 1, 'payload');" >"$WORK/${t}1.sql"
done

# point | port | pgbench script | clients | rows per transaction
POINTS=("plain/direct $PG_PORT bi 1 100" "plain/pgplumb $PLUMB_PORT bi 1 100"
	"domain/direct $PG_PORT bid 1 100" "domain/pgplumb $PLUMB_PORT bid 1 100"
	"audit/direct $PG_PORT bia 1 100" "audit/pgplumb $PLUMB_PORT bia 1 100"
	"coal-plain/direct $PG_PORT bi1 50 1" "coal-plain/pgplumb $COAL_PORT bi1 50 1"
	"coal-audit/direct $PG_PORT bia1 50 1" "coal-audit/pgplumb $COAL_PORT bia1 50 1")
: >"$WORK/runs"
for r in $(seq "$ROUNDS"); do
	for p in "${POINTS[@]}"; do
		read -r name port script clients per <<<"$p"
		psql -XqAtc "TRUNCATE bi, bid, bia, bia_log"
		out=$(pgbench -n -h 127.0.0.1 -p "$port" -T "$DURATION" -M prepared -c "$clients" \
			-j "$((clients > 1 ? 2 : 1))" -f "$WORK/$script.sql" "$DB" 2>&1) ||
			{ echo "pgbench failed for $name:" >&2; echo "$out" >&2; exit 1; }
		tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
		rows=$(awk -v t="$tps" -v n="$per" 'BEGIN{printf "%.0f", t * n}')
		echo "$name $rows" >>"$WORK/runs"
		log "round $r $name: $rows rows/s (load $(cut -d' ' -f1 /proc/loadavg))"
	done
done
show=$(psql "host=127.0.0.1 port=$PLUMB_PORT dbname=pgbouncer user=postgres sslmode=disable" -XAtF' ' -c 'SHOW BATCHING' 2>/dev/null || true)
coal=$(psql "host=127.0.0.1 port=$COAL_PORT dbname=pgbouncer user=postgres sslmode=disable" -XAtF' ' -c 'SHOW COALESCING' 2>/dev/null || true)
grep "insert batching:" "$WORK/pgplumb.log" | tail -n 8 >&2 || true

python3 - "$WORK/runs" "$ROUNDS" "$DURATION" "$show" "$coal" >"$WORK/report.md" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    n, v = line.split()
    runs.setdefault(n, []).append(float(v))
med = {n: statistics.median(v) for n, v in runs.items()}
o = ["# batch_trigger: insert_batching into tables whose rows may raise NOTICEs", "",
     "PostgreSQL 15 (pg_virtualenv, default settings), pgbench -n -M prepared -T %s s per run, "
     "%s alternating rounds. plain/domain/audit: 1 client, 100 single-row INSERTs per pipeline, "
     "pgplumb-pooler session mode, insert_batching = 1. coal-*: 50 clients (-j 2) of autocommit "
     "single-row INSERTs, pgplumb-pooler transaction mode, insert_coalescing = 1 "
     "(insert_coalesce_delay 1ms)." % (sys.argv[3], sys.argv[2]), "",
     "| point | rows/s (median) | rounds |", "|---|---|---|"]
for n in runs:
    o.append("| %s | %.0f | %s |" % (n, med[n], " ".join("%.0f" % x for x in runs[n])))
o += ["", "| ratio of medians | value |", "|---|---|"]
for t in ("plain", "domain", "audit", "coal-plain", "coal-audit"):
    o.append("| %s: pgplumb / direct | %.3f |" % (t, med[t + "/pgplumb"] / med[t + "/direct"]))
o.append("| pgplumb: domain / plain (the held Sync) | %.3f |" % (med["domain/pgplumb"] / med["plain/pgplumb"]))
o.append("| direct: domain / plain | %.3f |" % (med["domain/direct"] / med["plain/direct"]))
o.append("| pgplumb: audit / plain | %.3f |" % (med["audit/pgplumb"] / med["plain/pgplumb"]))
o.append("| direct: audit / plain | %.3f |" % (med["audit/direct"] / med["plain/direct"]))
o.append("| coalescing: audit / plain through the pooler | %.3f |" % (med["coal-audit/pgplumb"] / med["coal-plain/pgplumb"]))
o.append("| coalescing: audit / plain direct | %.3f |" % (med["coal-audit/direct"] / med["coal-plain/direct"]))
o += ["", "SHOW BATCHING at the end: `%s`" % sys.argv[4], "",
      "SHOW COALESCING at the end (coalesced_rows merged_statements fallbacks solo): `%s`" % sys.argv[5]]
print("\n".join(o))
PY
bench_write_report batch_trigger "DURATION=$DURATION ROUNDS=$ROUNDS"
