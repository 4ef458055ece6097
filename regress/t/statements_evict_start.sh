#!/bin/bash
# regress/t/statements_evict_start.sh -- a much-used statement survives a
# burst of one-off statements also when it sits where the clock hand starts
# its long sweeps.
#
# pgplumb.max = 100, restarted with pgplumb.save and pgplumb.track_utility
# off so that the table starts empty and the first statement run takes slot
# 0, where the clock hand starts.  The hot statement runs HOT times first,
# then one session runs BURST statements of distinct shapes, each created at
# parse analysis and run once (usage 2).  Such a cohort is passed over twice
# before any of it can go, so a sweep walks two full turns and comes back to
# the slot it started from; the entries behind that slot go one per sweep,
# and the next long sweep starts from the same slot again.  Counting that
# third visit as "two turns have freed nothing" halved the hot entry once
# per cohort (7 times within 1000 statements: gone, while 27 turns of u/16+1
# leave it ~150).  statements_evict_hot.sh hit this only when the slot order
# left by pgplumb.reset() put the hot entry there; here it always is.
set -euo pipefail
db=pp_t_evict_start
HOT=${HOT:-1000}
BURST=${BURST:-1000}
work=$(mktemp -d)
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
. "$PGPLUMB_TOP/regress/lib/restart.sh"
pp_small_max "$db" 100 || exit 1
cleanup_settings() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET pgplumb.save" -c "ALTER SYSTEM RESET pgplumb.track_utility" >/dev/null 2>&1 || true
	pp_small_max_cleanup
}
trap cleanup_settings EXIT
# save off before the restart, so that the shutdown writes no file and the
# start loads none
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET pgplumb.save = off" \
	-c "ALTER SYSTEM SET pgplumb.track_utility = off" -c "SELECT pg_reload_conf()" >/dev/null
pp_restart

pp_distinct_selects 0 "$BURST" >"$work/burst.sql"
echo "SELECT 42 AS pp_evict_start;" >"$work/hot.sql"

hot_calls() { psql_db -c "SELECT coalesce(sum(calls), 0) FROM pgplumb.statements WHERE query LIKE '%pp_evict_start%'"; }
pgbench -n -c 1 -t "$HOT" -f "$work/hot.sql" "$db" >"$work/hot.out" 2>&1
entries=$(psql_db -c "SELECT entries FROM pgplumb.info")
before=$(hot_calls)
psql_db -f "$work/burst.sql" >/dev/null
after=$(hot_calls)
ev=$(psql_db -c "SELECT evictions FROM pgplumb.info")
echo "entries after the hot run $entries; hot calls before $before, after $BURST distinct $after (evictions $ev)"

fail=0
[ "$entries" = 1 ] || { echo "FAIL: the table did not start empty ($entries entries after the hot run)"; fail=1; }
[ "$before" = "$HOT" ] || { echo "FAIL: hot statement shows $before calls, not $HOT"; fail=1; }
[ "$ev" -ge $((BURST - 100)) ] || { echo "FAIL: the burst evicted only $ev entries"; fail=1; }
[ "$after" = "$HOT" ] || { echo "FAIL: after the burst the hot statement shows $after calls, not $HOT (evicted)"; fail=1; }
[ $fail -eq 0 ] && echo "statements_evict_start: ok"
exit $fail
