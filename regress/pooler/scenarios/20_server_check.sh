# server_check_query runs on a server connection unused for longer than
# server_check_delay before it is handed out again; a failing check closes
# the connection and the client gets a fresh one.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
server_check_delay = 300ms
server_check_query = select set_config('pp.checked', 'checked', false)"
# a custom setting (application_name follows the client to its server)
checked() { pq -c "select coalesce(current_setting('pp.checked', true), '')"; }
p1=$(checked)
assert_eq "$p1" "" "fresh server: no check yet"
assert_eq "$(checked)" "" "reused within server_check_delay: no check"
sleep 0.5
assert_eq "$(checked)" checked "after server_check_delay the check query ran first"
assert_eq "$(padmin -c "show pools" | grep '^ppdb|' | cut -d'|' -f12)" 0 "SHOW POOLS sv_tested back to 0"
stop_pooler

start_pooler "pool_mode = transaction
default_pool_size = 1
server_check_delay = 0
server_check_query = select * from no_such_table_for_check"
pid1=$(pq -c "select pg_backend_pid()")
pid2=$(pq -c "select pg_backend_pid()")
[ -n "$pid2" ] && [ "$pid1" != "$pid2" ] || fail "failing check should replace the server ($pid1 -> $pid2)"
ok "failing server_check_query closed the server; client got a fresh one"
assert_log "server_check_query failed"
