# Unix sockets on both sides: clients connect to the pooler's socket in
# unix_socket_dir, and a [databases] entry with host=/dir reaches PostgreSQL
# through its socket.
. "$(dirname "$0")/../lib.sh"
sockdir="$SCEN_DIR/sock"
mkdir -p "$sockdir"
start_pooler "pool_mode = transaction
unix_socket_dir = $sockdir" "viaunix = host=$PG_SOCKET_DIR port=$PG_SERVER_PORT dbname=ppdb"
[ -S "$sockdir/.s.PGSQL.$POOLER_PORT" ] || fail "no socket file in unix_socket_dir"
ok "socket file created"
out=$(psql "host=$sockdir port=$POOLER_PORT dbname=ppdb user=postgres" -XAtqc "select 'over unix socket'")
assert_eq "$out" "over unix socket" "client over the pooler's unix socket"
out=$(psql "host=127.0.0.1 port=$POOLER_PORT dbname=viaunix user=postgres" -XAtqc "select coalesce(inet_client_addr()::text, 'local')")
assert_eq "$out" local "server connection over PostgreSQL's unix socket"
assert_contains "$(psql "host=$sockdir port=$POOLER_PORT dbname=pgbouncer user=postgres" -XAtqc 'show clients')" "|unix|" "SHOW CLIENTS shows the unix client"
stop_pooler
[ ! -e "$sockdir/.s.PGSQL.$POOLER_PORT" ] || fail "socket file left after shutdown"
ok "socket file removed at shutdown"
