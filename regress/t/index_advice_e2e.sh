#!/bin/bash
# regress/t/index_advice_e2e.sh -- end to end: a statement sent by pgbench
# over the simple, extended and prepared protocols seq-scans a big table;
# pgplumb.table_scans counts every execution, pgplumb.index_advice names the
# filter column; after running the advised CREATE INDEX the same statement's
# executions appear under the new index in pgplumb.index_usage and its mean
# time (pgplumb.statements) drops.
set -eu
db=pp_index_e2e
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

dropdb --if-exists "$db"
createdb "$db"
trap 'rm -f "$script"; dropdb --if-exists "$db"' EXIT
script=$(mktemp)

q "CREATE EXTENSION pgplumb" >/dev/null
q "ALTER DATABASE $db SET max_parallel_workers_per_gather = 0" >/dev/null
q "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL,
       amount numeric NOT NULL, note text NOT NULL)" >/dev/null
q "INSERT INTO orders SELECT g, (g::bigint * 7919) % 100000, g % 1000, repeat('x', 40)
       FROM generate_series(1, 400000) g" >/dev/null
q "VACUUM ANALYZE orders" >/dev/null

cat >"$script" <<'SQL'
\set c random(1, 100000)
SELECT id, amount FROM orders WHERE customer_id = :c;
SQL

run_workload() {
	pgbench -n -f "$script" -c 2 -j 2 -t 10 -M simple "$db" >/dev/null
	pgbench -n -f "$script" -c 2 -j 2 -t 10 -M extended "$db" >/dev/null
	pgbench -n -f "$script" -c 2 -j 2 -t 10 -M prepared "$db" >/dev/null
}

q "SELECT pgplumb.reset_index_usage()" >/dev/null
q "SELECT pgplumb.reset()" >/dev/null
run_workload

# The simple protocol sends the value as a constant, the extended and
# prepared ones as a parameter: PostgreSQL gives these two query ids (as
# pg_stat_statements does).
qids=$(q "SELECT string_agg(queryid::text, ',') FROM pgplumb.statements
          WHERE query LIKE 'SELECT id, amount FROM orders WHERE customer_id = \$1%' AND toplevel")
[ -n "$qids" ] || fail "statement not in pgplumb.statements"
echo "queryids $qids"
nq=$(echo "$qids" | tr ',' '\n' | wc -l)
[ "$nq" = 2 ] || fail "expected 2 query ids (simple; extended and prepared), got $nq"

# every execution (3 protocols x 2 clients x 10) is a seq scan of orders
scans=$(q "SELECT sum(executions) || ' ' || min(eq_columns::text) || ' ' || (sum(rows_examined) >= 400000 * 60)
           FROM pgplumb.table_scans WHERE queryid IN ($qids) AND relid = 'orders'::regclass")
echo "table_scans: $scans"
[ "$scans" = "60 {customer_id} true" ] || fail "table_scans: expected '60 {customer_id} true', got '$scans'"

advice=$(q "SELECT advice || ' ' || cardinality(queryids) || ' ' || (total_exec_time > 0)
            FROM pgplumb.index_advice
            WHERE relid = 'orders'::regclass AND queryids @> '{$qids}'")
echo "advice: $advice"
[ "$advice" = "CREATE INDEX ON orders (customer_id) 2 true" ] || fail "unexpected advice '$advice'"
advice=${advice% 2 true}
q "SELECT advice, queries, round(total_exec_time) AS total_exec_ms, executions, examined_per_returned
   FROM pgplumb.index_advice WHERE relid = 'orders'::regclass"

mean_time() {
	q "SELECT sum(total_exec_time) / sum(calls) FROM pgplumb.statements
       WHERE queryid IN ($qids) AND toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = '$db')"
}
before=$(mean_time)

# follow the advice
q "$advice" >/dev/null
q "ANALYZE orders" >/dev/null
q "SELECT pgplumb.reset()" >/dev/null
run_workload

# (a bitmap or plain index scan: the planner's choice for 4 scattered rows)
used=$(q "SELECT string_agg(indexrelid::text || ' ' || executions, ', ')
          FROM (SELECT indexrelid, sum(executions) AS executions FROM pgplumb.index_usage
                WHERE queryid IN ($qids) GROUP BY indexrelid) u")
echo "index_usage: $used"
[ "$used" = "orders_customer_id_idx 60" ] \
	|| fail "expected the 60 new executions under orders_customer_id_idx, got '$used'"
still=$(q "SELECT sum(executions) FROM pgplumb.table_scans WHERE queryid IN ($qids)")
[ "$still" = 60 ] || fail "seq scans after the index: expected still 60, got '$still'"
left=$(q "SELECT count(*) FROM pgplumb.index_advice WHERE relid = 'orders'::regclass")
[ "$left" = 0 ] || fail "advice still given after creating the index"

after=$(mean_time)
echo "mean_exec_time before ${before} ms, after ${after} ms"
# a seq scan of 400k rows vs a lookup of 4 rows: a drop far beyond noise
q "SELECT $after * 10 < $before" | grep -qx t || fail "time did not drop tenfold"
echo "ok"
