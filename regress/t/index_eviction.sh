#!/bin/bash
# regress/t/index_eviction.sh -- with more distinct statements than
# pgplumb.max_index_entries: the table stays bounded, the least used entries
# are evicted, a hot statement's executions stay exact, and an index whose
# statement entries were all evicted still counts as used in
# pgplumb.unused_indexes.  (No restart: it uses the server's setting.)
set -eu
db=pp_index_eviction
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
trap 'dropdb --if-exists "$db"' EXIT

dropdb --if-exists "$db"
createdb "$db"
q "CREATE EXTENSION pgplumb" >/dev/null
q "CREATE TABLE ev (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL)" >/dev/null
q "CREATE INDEX ev_b ON ev (b)" >/dev/null
q "INSERT INTO ev SELECT g, g, g FROM generate_series(1, 1000) g" >/dev/null
q "VACUUM ANALYZE ev" >/dev/null
max=$(q "SHOW pgplumb.max_index_entries")
# enough to evict every entry made before the table first filled
n=$((2 * max + max / 10))
echo "max_index_entries $max, distinct statements $n"
q "SELECT pgplumb.reset_index_usage()" >/dev/null

# ev_b is used by one statement, once, before the churn
q "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT a FROM ev WHERE b = 5" >/dev/null

# n distinct statements (i output columns, j filter clauses), each followed
# by the hot one
psql -X -q -v ON_ERROR_STOP=1 -v n="$n" -d "$db" >/dev/null <<'SQL'
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT format('SELECT %s FROM ev WHERE id = 7%s',
			  repeat('a, ', i) || 'b', repeat(' AND b > 0', j))
	|| E';\n' || 'SELECT b FROM ev WHERE id = 3'
	FROM generate_series(1, 100) i, generate_series(0, :n / 100) j
	ORDER BY j, i
	LIMIT :n
\gexec
SQL

info=$(q "SELECT entries || ' ' || max_entries || ' ' || (evictions > 0) FROM pgplumb.index_usage_info")
echo "entries max evicted: $info"
set -- $info
[ "$1" -le "$max" ] || fail "entries $1 above max_index_entries $max"
[ "$3" = true ] || fail "nothing evicted"

hot=$(q "SELECT sum(executions) FROM pgplumb.index_usage
         WHERE query = 'SELECT b FROM ev WHERE id = \$1'")
echo "hot statement executions: $hot"
[ "$hot" = "$n" ] || fail "hot statement: expected $n executions, got '$hot'"

cold=$(q "SELECT count(*) FROM pgplumb.index_usage WHERE indexrelid = 'ev_b'::regclass")
echo "entries left for ev_b's statement: $cold"
[ "$cold" = 0 ] || fail "expected ev_b's only statement entry to be evicted"
used=$(q "SELECT count(*) FROM pgplumb.unused_indexes WHERE indexrelid = 'ev_b'::regclass AND unused")
[ "$used" = 0 ] || fail "ev_b reported unused after its statement entry was evicted"
echo "ok"
