#!/bin/bash
# bench/demo/inside.sh -- the part of the demo that runs inside pg_virtualenv
# (PGHOST, PGPORT, PGUSER, PGPASSWORD point at the throwaway server).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
demo=$top/bench/demo
work=$(mktemp -d /tmp/pgplumb-demo.XXXXXX)
pooler_pid=

cleanup() {
	if [ -n "$pooler_pid" ]; then
		kill "$pooler_pid" 2>/dev/null || true
		wait "$pooler_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

reset_stats() {
	psql_q -c "SELECT pgplumb.reset(), pgplumb.reset_index_usage(), pgplumb.reset_n_plus_one()" >/dev/null
}
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off "$@"; }
has_view() { [ "$(psql -X -Atc "SELECT to_regclass('$1') IS NOT NULL")" = t ]; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== creating the sample schema (100 000 orders, 2 000 customers)"
psql_q -f "$demo/schema.sql"

# The pooler in front: transaction mode, 4 server connections for the app's 8.
app_host=$PGHOST app_port=$PGPORT app_db=$PGDATABASE
pooler=$top/pooler/pgplumb-pooler
if [ -x "$pooler" ]; then
	port=$(free_port)
	printf '"%s" "%s"\n' "$PGUSER" "$PGPASSWORD" > "$work/userlist.txt"
	cat > "$work/pooler.ini" <<EOF
[databases]
demo = host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=$PGUSER password=$PGPASSWORD

[pgplumb]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 4
min_pool_size = 2
max_client_conn = 100
admin_users = $PGUSER
EOF
	"$pooler" "$work/pooler.ini" > "$work/pooler.log" 2>&1 &
	pooler_pid=$!
	for _ in $(seq 50); do
		psql -X -h 127.0.0.1 -p "$port" -d demo -Atc 'SELECT 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
	if psql -X -h 127.0.0.1 -p "$port" -d demo -Atc 'SELECT 1' >/dev/null 2>&1; then
		echo "== pgplumb-pooler listening on 127.0.0.1:$port (transaction mode, pool size 4)"
		app_host=127.0.0.1 app_port=$port app_db=demo
	else
		echo "== pgplumb-pooler did not start (log below); the app connects directly"
		tail -5 "$work/pooler.log" | sed 's/^/   /'
		kill "$pooler_pid" 2>/dev/null || true
		pooler_pid=
	fi
else
	echo "== pgplumb-pooler is not built; the app connects directly"
fi

run_app() {
	PGHOST=$app_host PGPORT=$app_port PGDATABASE=$app_db PGAPPNAME=demo-app \
		node "$demo/app/app.js" "$1"
}

reports() {
	echo
	echo "---- Slowest statements (pgplumb.statements, by total time) ----"
	psql_q -c "
		SELECT calls,
		       round(total_exec_time::numeric, 1) AS total_ms,
		       round(mean_exec_time::numeric, 3) AS mean_ms,
		       round(p50_exec_time::numeric, 3) AS p50_ms,
		       round(p95_exec_time::numeric, 3) AS p95_ms,
		       round(p99_exec_time::numeric, 3) AS p99_ms,
		       left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query
		FROM pgplumb.statements
		WHERE query NOT LIKE '%pgplumb%' AND query !~* '^(BEGIN|COMMIT)'
		ORDER BY total_exec_time DESC LIMIT 8"
	echo "---- Index advice (pgplumb.index_advice) ----"
	if has_view pgplumb.index_advice; then
		psql_q -c "
			SELECT advice, executions, rows_examined, rows_returned,
			       examined_per_returned AS examined_per_row
			FROM pgplumb.index_advice ORDER BY rows_examined DESC"
	else
		echo "(not available in this build)"
	fi
	echo "---- N+1 and loop findings (pgplumb.n_plus_one) ----"
	if has_view pgplumb.n_plus_one; then
		psql_q -x -c "
			SELECT kind, loops, total_repeats, max_repeats,
			       round(child_exec_time::numeric, 1) AS child_ms,
			       round(est_saved_time::numeric, 1) AS est_saved_ms,
			       parent_query, child_query, suggestion
			FROM pgplumb.n_plus_one ORDER BY est_saved_time DESC"
	else
		echo "(not available in this build)"
	fi
}

reset_stats
echo
echo "==== 1. The app as written ===="
before=$(run_app before)
reports

if [ -n "$pooler_pid" ]; then
	echo "---- The pooler (SHOW POOLS, SHOW STATS on its admin console) ----"
	psql -X -P pager=off -h 127.0.0.1 -p "$app_port" -d pgbouncer \
		-c "SHOW POOLS" -c "SHOW STATS" || true
fi

echo
echo "==== 2. Applying the fixes ===="
if has_view pgplumb.index_advice; then
	psql -X -Atc "SELECT advice || ';' FROM pgplumb.index_advice" > "$work/fixes.sql"
	sed 's/^/   /' "$work/fixes.sql"
	psql_q -f "$work/fixes.sql"
fi
echo "   app: eager loading with = ANY(\$1) instead of the N+1 loop;"
echo "        one INSERT ... SELECT FROM unnest() instead of one-row INSERTs"
reset_stats

echo
echo "==== 3. The app with the fixes ===="
after=$(run_app after)
reports

echo "---- Which statements use which index on orders (pgplumb.index_usage) ----"
psql_q -c "
	SELECT u.indexrelid AS index, u.scan_kind, u.executions, u.rows,
	       left(pgplumb.statement_text(u.queryid), 60) AS statement
	FROM pgplumb.index_usage u
	WHERE u.relid = 'orders'::regclass
	ORDER BY u.executions DESC"

echo
echo "==== The difference (wall time of the app's handlers) ===="
/usr/bin/python3 - "$before" "$after" <<'EOF'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'handler':<15} {'requests':>8} {'before ms':>10} {'after ms':>9} {'speed-up':>9}  same rows")
for h in b:
    same = 'yes' if b[h]['rows'] == a[h]['rows'] else f"NO ({b[h]['rows']} vs {a[h]['rows']})"
    print(f"{h:<15} {b[h]['requests']:>8} {b[h]['ms']:>10} {a[h]['ms']:>9} "
          f"{b[h]['ms'] / max(a[h]['ms'], 1):>8.1f}x  {same}")
EOF
echo
echo "== stopping the pooler and the throwaway PostgreSQL"
