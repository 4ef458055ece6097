#!/bin/bash
# regress/t/statements_evict_hot.sh -- a statement that has run many times
# survives a burst of distinct statements that fills the table many times
# over while it does not run, and still goes once it has stopped for long.
#
# pgplumb.max = 100.  The hot statement runs HOT times (pgbench -t, one
# client), then another session runs BURST statements of distinct shapes
# while the hot one is idle: its calls must still equal HOT (the clock sweep
# passes over a much-used entry for tens of turns, not a handful; with
# halving counts, 16 turns meant the burst below evicted it).  Then a longer
# burst of LONG statements: the hot entry, idle all along, must be gone
# (old entries are not protected forever).  Nothing runs concurrently, so
# the outcome does not depend on timing.
set -euo pipefail
db=pp_t_evict_hot
HOT=${HOT:-1000}
BURST=${BURST:-1000}
LONG=${LONG:-6000}
work=$(mktemp -d)
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
. "$PGPLUMB_TOP/regress/lib/restart.sh"
pp_small_max "$db" 100 || exit 1

pp_distinct_selects 0 "$BURST" >"$work/burst.sql"
pp_distinct_selects "$BURST" "$LONG" >"$work/long.sql"
echo "SELECT 42 AS pp_evict_hot;" >"$work/hot.sql"

pgbench -n -c 1 -t "$HOT" -f "$work/hot.sql" "$db" >"$work/hot.out" 2>&1
hot_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/hot.out")
hot_calls() { psql_db -c "SELECT coalesce(sum(calls), 0) FROM pgplumb.statements WHERE query LIKE '%pp_evict_hot%'"; }
evictions() { psql_db -c "SELECT evictions FROM pgplumb.info"; }
before=$(hot_calls)

psql_db -f "$work/burst.sql" >/dev/null
after_burst=$(hot_calls)
ev_burst=$(evictions)
psql_db -f "$work/long.sql" >/dev/null
after_long=$(hot_calls)
ev_long=$(evictions)
echo "hot ran $hot_tx; calls before burst $before, after $BURST distinct $after_burst (evictions $ev_burst), after $LONG more $after_long (evictions $ev_long)"

fail=0
[ "$hot_tx" = "$HOT" ] && [ "$before" = "$HOT" ] || { echo "FAIL: hot statement shows $before calls, ran $hot_tx"; fail=1; }
[ "$ev_burst" -ge $((BURST - 100)) ] || { echo "FAIL: the burst evicted only $ev_burst entries"; fail=1; }
[ "$after_burst" = "$HOT" ] || { echo "FAIL: after the burst the hot statement shows $after_burst calls, not $HOT (evicted)"; fail=1; }
[ "$after_long" = 0 ] || { echo "FAIL: after $LONG more distinct statements the idle hot statement is still there ($after_long calls)"; fail=1; }
[ $fail -eq 0 ] && echo "statements_evict_hot: ok"
exit $fail
