# connect_query of a [databases] entry runs on every new server connection
# before any client gets it; a failing connect_query fails the login.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction" "cq = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb connect_query='set work_mem = 1234'
badcq = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb connect_query='select * from no_such_relation'"
assert_eq "$(PQDB=cq pq -c "show work_mem")" 1234kB "connect_query ran on the server connection"
err=$(PQDB=badcq pq -c "select 1" 2>&1)
assert_contains "$err" "no_such_relation" "failing connect_query reported to the client"
assert_eq "$(pq -c "select 'others ok'")" "others ok" "other databases unaffected"
