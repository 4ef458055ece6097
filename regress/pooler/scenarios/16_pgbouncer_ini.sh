# Drop-in: one pgbouncer.ini using PgBouncer's settings runs Debian's
# PgBouncer and then pgplumb-pooler unchanged; both serve the same queries
# and report the same settings in SHOW CONFIG.
. "$(dirname "$0")/../lib.sh"
command -v pgbouncer >/dev/null || fail "pgbouncer not installed"
chmod 755 "$(dirname "$SCEN_DIR")"
chown postgres "$SCEN_DIR"
port=$(free_port)
echo '"postgres" ""' >"$SCEN_DIR/userlist.txt"
echo '"stats" ""' >>"$SCEN_DIR/userlist.txt"
cat >"$SCEN_DIR/pgbouncer.ini" <<INI
;; a pgbouncer.ini as people write them
[databases]
ppdb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb pool_size=4

[pgbouncer]
logfile = $SCEN_DIR/bouncer.log
pidfile = $SCEN_DIR/bouncer.pid
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $SCEN_DIR/userlist.txt
admin_users = postgres
stats_users = stats
pool_mode = transaction
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
max_client_conn = 200
default_pool_size = 3
min_pool_size = 1
reserve_pool_size = 1
reserve_pool_timeout = 3
max_db_connections = 10
server_lifetime = 3600
server_idle_timeout = 600
server_connect_timeout = 15
server_login_retry = 1
query_timeout = 0
query_wait_timeout = 120
client_idle_timeout = 0
client_login_timeout = 60
idle_transaction_timeout = 0
log_connections = 1
log_disconnections = 1
INI
chmod 644 "$SCEN_DIR"/*.ini "$SCEN_DIR/userlist.txt"

check_one() { # name
	local url="host=127.0.0.1 port=$port dbname=ppdb user=postgres options=-cextra_float_digits=3"
	wait_for "psql 'host=127.0.0.1 port=$port dbname=pgbouncer user=postgres' -XAtqc 'show pools'" 5000 || fail "$1 did not start"
	assert_eq "$(psql "host=127.0.0.1 port=$port dbname=ppdb user=postgres" -XAtqc "select 21 * 2")" 42 "$1 serves queries"
	pgbench -n -c 4 -T 1 -S "host=127.0.0.1 port=$port dbname=ppdb user=postgres" >/dev/null 2>&1 || true
	psql "host=127.0.0.1 port=$port dbname=pgbouncer user=postgres" -XAtq -c "show config" |
		grep -E '^(default_pool_size|max_client_conn|pool_mode|reserve_pool_size|server_reset_query|query_wait_timeout)\|' |
		cut -d'|' -f1,2 | sort >"$SCEN_DIR/config.$1"
	assert_eq "$(psql "host=127.0.0.1 port=$port dbname=pgbouncer user=postgres" -XAtq -c "show databases" | grep '^ppdb|' | cut -d'|' -f6)" 4 "$1: per-database pool_size"
	for cmd in pools stats clients servers lists config databases; do
		psql "host=127.0.0.1 port=$port dbname=pgbouncer user=postgres" -XAq -F, -c "show $cmd" | head -1 >"$SCEN_DIR/cols.$cmd.$1"
	done
}

su postgres -s /bin/sh -c "pgbouncer $SCEN_DIR/pgbouncer.ini" >"$SCEN_DIR/bouncer.out" 2>&1 &
bpid=$!
stop_bouncer() { [ -f "$SCEN_DIR/bouncer.pid" ] && kill -TERM "$(cat "$SCEN_DIR/bouncer.pid")" 2>/dev/null; }
trap 'stop_bouncer; stop_pooler' EXIT
check_one pgbouncer
stop_bouncer; wait $bpid 2>/dev/null
wait_for "! psql 'host=127.0.0.1 port=$port dbname=pgbouncer user=postgres' -XAtqc 'show pools'" 3000 || fail "pgbouncer did not stop"

"$POOLER_BIN" "$SCEN_DIR/pgbouncer.ini" >"$POOLER_LOG" 2>&1 &
POOLER_PID=$!
check_one pgplumb
grep -q "login attempt" "$SCEN_DIR/bouncer.log" || fail "logfile setting not honoured"
ok "pgplumb-pooler wrote to logfile"
# log rotation: move the file away, SIGHUP, the pooler writes a new one
mv "$SCEN_DIR/bouncer.log" "$SCEN_DIR/bouncer.log.1"
kill -HUP "$POOLER_PID"
wait_for "[ -f '$SCEN_DIR/bouncer.log' ]" 2000 || fail "logfile not reopened on SIGHUP"
psql "host=127.0.0.1 port=$port dbname=ppdb user=postgres" -XAtqc "select 1" >/dev/null
wait_for "grep -q 'login attempt' '$SCEN_DIR/bouncer.log'" 2000 || fail "new logfile not written"
ok "SIGHUP reopened logfile (rotation)"
diff "$SCEN_DIR/config.pgbouncer" "$SCEN_DIR/config.pgplumb" || fail "SHOW CONFIG differs for shared settings"
ok "SHOW CONFIG agrees with PgBouncer on the shared settings: $(tr '\n' ' ' <"$SCEN_DIR/config.pgplumb")"
for cmd in pools stats clients servers lists config databases; do
	diff "$SCEN_DIR/cols.$cmd.pgbouncer" "$SCEN_DIR/cols.$cmd.pgplumb" >/dev/null || fail "SHOW ${cmd^^} columns differ from PgBouncer: $(cat "$SCEN_DIR/cols.$cmd.pgbouncer") vs $(cat "$SCEN_DIR/cols.$cmd.pgplumb")"
done
ok "SHOW POOLS/STATS/CLIENTS/SERVERS/LISTS/CONFIG columns identical to PgBouncer 1.18"
