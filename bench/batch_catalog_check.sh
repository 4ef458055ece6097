#!/bin/bash
# bench/batch_catalog_check.sh -- what one re-check of a table costs the
# server: BATCH_CATALOG_SQL (pooler/batch.h, the question insert_batching and
# insert_coalescing ask once per table and client, again after
# insert_batch_catalog_ttl) against the anchor it saves work for, one
# hand-written 100-row INSERT, and SELECT 1.  Direct to PostgreSQL, pgbench
# -M prepared, one client, DURATION seconds per point, rounds alternating;
# median latency per point and the median of the per-round ratios
# catalog / values100.  The table asked about has a primary key, a default
# and a check constraint (what the query's pg_depend part looks at).
#
# Knobs: ROUNDS=5 DURATION=3, RESULTS_DIR, NO_RESULTS=1 to only print.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/batch_common.sh"
export ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-3} RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

if [ "${1:-}" != "--inside" ]; then
	BENCH_CMD="$0 $*"
	bench_enter_cluster timeout 600 "$0" --inside
fi

bench_work_dir bench_batchcat
# the query text, with pgbench's variable for $1
cat >"$WORK/p.c" <<'EOF'
#include <stdio.h>
#include "batch.h"
int main(void) { fputs(BATCH_CATALOG_SQL, stdout); return 0; }
EOF
cc -I"$ROOT/pooler" -I"$ROOT/common" "$WORK/p.c" -o "$WORK/p"
{ "$WORK/p" | sed 's/\$1/:t/g'; echo ';'; } >"$WORK/catalog.sql"
echo 'SELECT 1;' >"$WORK/select1.sql"
{ echo '\set a random(1, 1000000)'; printf 'INSERT INTO bi (a, b, c) VALUES '
  for i in $(seq 100); do printf "(:a, %d, 'payload')" "$i"; [ "$i" -lt 100 ] && printf ', '; done; echo ';'; } >"$WORK/values100.sql"
chmod 644 "$WORK"/*.sql
psql -qc "DROP TABLE IF EXISTS bi, bcat; CREATE TABLE bi (a int, b int, c text);
  CREATE TABLE bcat (id int PRIMARY KEY, v text DEFAULT now()::text, n int CHECK (n > 0))"

points="select1 catalog values100"
for r in $(seq "$ROUNDS"); do
	for p in $points; do
		psql -qc "TRUNCATE bi"
		lat=$(pgbench -n -M prepared -D t=bcat -T "$DURATION" -f "$WORK/$p.sql" 2>/dev/null |
			awk '/^latency average/ {print $4}')
		echo "$p $r $lat" >>"$WORK/lat"
		log "round $r $p: $lat ms"
	done
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
{
	echo "| point | median latency (ms) |"
	echo "|---|---|"
	for p in $points; do
		echo "| $p | $(awk -v p="$p" '$1 == p {print $3}' "$WORK/lat" | median) |"
	done
	echo
	ratio=$(awk '$1 == "catalog" {c[$2] = $3} $1 == "values100" {v[$2] = $3}
		END {for (r in c) print c[r] / v[r]}' "$WORK/lat" | median)
	echo "catalog / values100 (median of $ROUNDS per-round ratios): $ratio"
} >"$WORK/report.md"
bench_write_report batch_catalog_check "ROUNDS=$ROUNDS DURATION=$DURATION"
