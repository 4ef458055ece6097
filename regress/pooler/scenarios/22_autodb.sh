# The "*" entry serves databases not listed (auto-databases); their pools are
# freed after autodb_idle_timeout without clients or servers.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
server_idle_timeout = 200ms
autodb_idle_timeout = 300ms" "* = host=127.0.0.1 port=$PG_SERVER_PORT"
assert_eq "$(PQDB=ppdb2 pq -c "select current_database()")" ppdb2 "auto-database through the * entry"
assert_contains "$(padmin -c "show pools")" "ppdb2|postgres" "pool exists while in use"
wait_for "! padmin -c 'show pools' | grep -q '^ppdb2|'" 3000 || fail "auto-database pool not freed"
ok "empty auto-database pool freed"
assert_log "auto-database pool unused for autodb_idle_timeout"
assert_eq "$(PQDB=ppdb2 pq -c "select 'again'")" again "the database works again afterwards"
