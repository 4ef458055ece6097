#!/bin/bash
# regress/t/index_save.sh -- with pgplumb.save on (the default), index usage
# survives a clean restart: per-statement entries, the used-index set read
# by pgplumb.unused_indexes, and the reset time; with it off, it does not.
# Restarts the server; pgplumb.save is changed with ALTER SYSTEM and
# restored on exit.
set -euo pipefail
db=pp_index_save
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

. "$PGPLUMB_TOP/regress/lib/restart.sh"
cleanup() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET pgplumb.save" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q "CREATE EXTENSION pgplumb" >/dev/null
q "CREATE TABLE sv (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL)" >/dev/null
q "CREATE INDEX sv_a ON sv (a)" >/dev/null
q "CREATE INDEX sv_b ON sv (b)" >/dev/null
q "INSERT INTO sv SELECT g, g % 10, g % 7 FROM generate_series(1, 2000) g" >/dev/null
q "VACUUM ANALYZE sv" >/dev/null
q "SELECT pgplumb.reset_index_usage()" >/dev/null
for i in 1 2 3; do
	q "SET enable_seqscan = off; SET enable_bitmapscan = off; SET pgplumb.sample_rate = 1;
	   SELECT count(b) FROM sv WHERE a = $i" >/dev/null
done

report() {
	q "SELECT (SELECT string_agg(indexrelid::text || ' ' || scan_kind || ' ' || executions || ' ' || rows, ', ')
	           FROM pgplumb.index_usage WHERE relid = 'sv'::regclass)
	       || ' | unused: ' ||
	       (SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid::text)
	        FROM pgplumb.unused_indexes WHERE relid = 'sv'::regclass AND unused)
	       || ' | reset: ' || (SELECT stats_reset FROM pgplumb.index_usage_info)"
}
before=$(report)
echo "before restart: $before"
case "$before" in "sv_a index 3 600 | unused: sv_b,sv_pkey | reset: "*) ;;
	*) fail "unexpected figures before the restart" ;; esac

pp_restart
after=$(report)
echo "after restart:  $after"
[ "$after" = "$before" ] || fail "index usage changed across a clean restart"

# pgplumb.save off: a restart starts from nothing
psql -X -q -d postgres -c "ALTER SYSTEM SET pgplumb.save = off" -c "SELECT pg_reload_conf()" >/dev/null
pp_restart
n=$(q "SELECT entries || ' ' || indexes FROM pgplumb.index_usage_info")
echo "with pgplumb.save off, after restart: entries, indexes = $n"
[ "$n" = "0 0" ] || fail "expected nothing kept with pgplumb.save off, got '$n'"
echo "ok"
