#!/bin/bash
# regress/t/statements_percentiles.sh -- p50/p95/p99/p99.9 of a statement run
# with known durations (pg_sleep) fall within 5 % of the true values.
#
# 100 calls of one statement: 40 x 20 ms, 52 x 40 ms, 5 x 80 ms, 3 x 160 ms,
# in shuffled order.  A sleep can overshoot on a busy machine, so the true
# duration of every call is taken from pg_stat_statements (its
# total_exec_time after each call, minus the one before), and the true
# percentiles are the nearest-rank ones of those 100 durations.
set -euo pipefail
db=pp_t_percentiles
psql_db() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c "CREATE EXTENSION pgplumb" -c "CREATE EXTENSION pg_stat_statements"
psql_db -c "SELECT pgplumb.reset(), pg_stat_statements_reset()" >/dev/null

probe_total="SELECT 'total=' || total_exec_time FROM pg_stat_statements
  WHERE query LIKE '%pp_percentile_probe%' AND query NOT LIKE '%pg_stat_statements%';"
durations=$({
	for i in $(seq 40); do echo 0.020; done
	for i in $(seq 52); do echo 0.040; done
	for i in $(seq 5); do echo 0.080; done
	for i in $(seq 3); do echo 0.160; done
} | shuf | while read -r d; do
	echo "SELECT pg_sleep($d) AS pp_percentile_probe;"
	echo "$probe_total"
done | psql_db | sed -n 's/^total=//p' | awk '{ print $1 - prev; prev = $1 }' | sort -g)

n=$(grep -c . <<<"$durations")
[ "$n" = 100 ] || { echo "FAIL: got $n durations from pg_stat_statements"; exit 1; }
truth() { sed -n "$1p" <<<"$durations"; }	# nearest rank: ceil(q * 100)

row=$(psql_db -F ' ' -c "SELECT calls, p50_exec_time, p95_exec_time, p99_exec_time, p999_exec_time
                           FROM pgplumb.statements WHERE query LIKE '%pp_percentile_probe%'")
read -r calls p50 p95 p99 p999 <<<"$row"
[ "$calls" = 100 ] || { echo "FAIL: calls = $calls, expected 100"; exit 1; }

fail=0
check() {	# name measured true
	if awk -v m="$2" -v t="$3" 'BEGIN { d = (m - t) / t; if (d < 0) d = -d; exit !(d <= 0.05) }'; then
		printf 'ok   %-4s = %8.3f ms (true %8.3f ms)\n' "$1" "$2" "$3"
	else
		printf 'FAIL %-4s = %8.3f ms, true %8.3f ms: more than 5 %% off\n' "$1" "$2" "$3"; fail=1
	fi
}
check p50 "$p50" "$(truth 50)"
check p95 "$p95" "$(truth 95)"
check p99 "$p99" "$(truth 99)"
check p999 "$p999" "$(truth 100)"
# and the true values are where the requested sleeps put them: a sleep may
# overshoot on a loaded machine (an 80 ms sleep took 95 ms at load 8), so
# up to 25 % more, never less
near_requested() {	# name true requested
	if awk -v m="$2" -v t="$3" 'BEGIN { exit !(m >= 0.95 * t && m <= 1.25 * t) }'; then
		printf 'ok   %-4s = %8.3f ms (requested %8.3f ms)\n' "$1" "$2" "$3"
	else
		printf 'FAIL %-4s = %8.3f ms, requested %8.3f ms: not within -5 %%..+25 %%\n' "$1" "$2" "$3"; fail=1
	fi
}
near_requested p50_vs_requested "$(truth 50)" 40
near_requested p95_vs_requested "$(truth 95)" 80

# The histogram function returns the 100 samples, each in a bucket that
# holds one of the true durations.  pgplumb and pg_stat_statements time a
# call at slightly different points, and a loaded machine widens that gap, so
# a duration just past a bucket edge (buckets are ~3 % wide) may be counted
# in the neighbouring bucket: the bounds get 2 % of slack.  A bucket far from
# every true duration still fails.
buckets=$(psql_db -c "SELECT sum(h.count),
                             bool_and(EXISTS (SELECT FROM unnest(string_to_array('$(tr '\n' ' ' <<<"$durations" | xargs)', ' ')::float8[]) d
                                              WHERE d >= h.lower_ms * 0.98 AND (d < h.upper_ms * 1.02 OR h.upper_ms IS NULL)))
                        FROM pgplumb.statements s, pgplumb.statement_histogram(s.queryid) h
                       WHERE s.query LIKE '%pp_percentile_probe%'")
echo "histogram samples|every bucket holds a true duration: $buckets"
[ "$buckets" = "100|t" ] || { echo "FAIL: unexpected histogram"; fail=1; }
exit $fail
