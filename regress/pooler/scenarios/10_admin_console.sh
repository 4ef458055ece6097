# Admin console on the virtual database pgbouncer (alias pgplumb): SHOW
# commands with PgBouncer's column names, PAUSE/RESUME, RELOAD, KILL,
# SHUTDOWN; stats_users may only look.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2"
pq -c "select 1" >/dev/null

cols() { psql "host=127.0.0.1 port=$POOLER_PORT dbname=${2:-pgbouncer} user=postgres" -XAq -F, -c "$1" | head -1; }
assert_eq "$(cols 'show pools')" "database,user,cl_active,cl_waiting,cl_active_cancel_req,cl_waiting_cancel_req,sv_active,sv_active_cancel,sv_being_canceled,sv_idle,sv_used,sv_tested,sv_login,maxwait,maxwait_us,pool_mode" "SHOW POOLS columns"
assert_contains "$(cols 'show stats')" "database,total_xact_count,total_query_count,total_received,total_sent,total_xact_time,total_query_time,total_wait_time" "SHOW STATS columns"
assert_contains "$(cols 'show clients')" "type,user,database,state,addr,port,local_addr,local_port,connect_time,request_time,wait,wait_us,close_needed,ptr,link,remote_pid,tls" "SHOW CLIENTS columns"
assert_contains "$(cols 'show servers')" "type,user,database,state,addr,port" "SHOW SERVERS columns"
assert_contains "$(cols 'show databases')" "name,host,port,database,force_user,pool_size,min_pool_size,reserve_pool" "SHOW DATABASES columns"
assert_eq "$(cols 'show config')" "key,value,default,changeable" "SHOW CONFIG columns"
assert_eq "$(cols 'show lists')" "list,items" "SHOW LISTS columns"
assert_eq "$(cols 'show pools' pgplumb)" "$(cols 'show pools')" "alias database pgplumb"

assert_eq "$(padmin -c "show config" | grep '^default_pool_size|' | cut -d'|' -f2)" 2 "SHOW CONFIG value from the settings table"
assert_eq "$(padmin -c "show servers" | grep -c '^S|postgres|ppdb|idle|')" 1 "SHOW SERVERS lists the idle server"
assert_eq "$(padmin -c "show clients" | grep '^C|postgres|pgbouncer|' | cut -d'|' -f7,8)" "127.0.0.1|$POOLER_PORT" "SHOW CLIENTS local_addr/local_port"
assert_eq "$(padmin -c "show servers" | grep '^S|postgres|ppdb|' | cut -d'|' -f7)" "127.0.0.1" "SHOW SERVERS local_addr"
q=$(padmin -c "show stats" | grep '^ppdb|' | cut -d'|' -f3)
assert_ge "$q" 1 "SHOW STATS counts queries"
err=$(padmin -c "show nonsense" 2>&1)
assert_contains "$err" "unknown admin command" "unknown command is an error"

# PAUSE waits for running transactions to release their servers, closes
# them, and returns; new queries wait; RESUME lets them through
pq -c "select pg_sleep(1.5)" >/dev/null 2>&1 &
busy=$!
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query = 'select pg_sleep(1.5)'\")\" = 1 ]" 3000 || fail "busy query not running"
t0=$(now_ms)
padmin -c "pause" >/dev/null
t1=$(now_ms)
wait $busy || fail "the running query was disturbed by PAUSE"
assert_ge $((t1 - t0)) 500 "PAUSE returned only after the running query finished (ms)"
assert_eq "$(backend_count)" 0 "no server connections once PAUSE returned"
assert_log "PAUSE done"
t0=$(now_ms)
pq -c "select 'after resume'" >"$SCEN_DIR/paused.out" 2>&1 &
waiter=$!
sleep 0.4
assert_eq "$(padmin -c "show pools" | grep '^ppdb|' | cut -d'|' -f4)" 1 "client waits while paused"
assert_eq "$(backend_count)" 0 "no server opened while paused"
padmin -c "resume" >/dev/null
wait $waiter
assert_eq "$(cat "$SCEN_DIR/paused.out")" "after resume" "RESUME serves the waiting client"
assert_ge $(($(now_ms) - t0)) 400 "query waited for RESUME (ms)"

# RELOAD picks up a new pool size
sed -i 's/^default_pool_size = 2/default_pool_size = 4/' "$POOLER_INI"
assert_eq "$(padmin -c "reload")" "" "RELOAD succeeds"
assert_eq "$(padmin -c "show config" | grep '^default_pool_size|' | cut -d'|' -f2)" 4 "RELOAD applied default_pool_size"
assert_eq "$(padmin -c "show databases" | grep '^ppdb|' | cut -d'|' -f6)" 4 "SHOW DATABASES shows the new pool_size"

# RECONNECT: servers are replaced (idle ones at once)
p1=$(pq -c "select pg_backend_pid()")
padmin -c "reconnect ppdb" >/dev/null
p2=$(pq -c "select pg_backend_pid()")
[ -n "$p2" ] && [ "$p1" != "$p2" ] || fail "RECONNECT kept backend $p1"
ok "RECONNECT replaced the server connection ($p1 -> $p2)"

# stats_users may look but not control
err=$(ADMUSER=stats padmin -c "pause" 2>&1)
assert_contains "$err" "admin access needed" "stats user cannot PAUSE"
out=$(ADMUSER=stats padmin -c "show lists" | grep -c '|')
assert_ge "$out" 5 "stats user can SHOW"
err=$(ADMUSER=ppuser padmin -c "show pools" 2>&1)
assert_contains "$err" "not allowed to use the admin console" "other users refused"

# KILL db: clients and servers of that database dropped
pq -c "select pg_sleep(5)" >"$SCEN_DIR/killed.out" 2>&1 &
victim=$!
wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query = 'select pg_sleep(5)'\")\" = 1 ]" 3000 || fail "victim not running"
padmin -c "kill ppdb" >/dev/null
wait $victim
assert_contains "$(cat "$SCEN_DIR/killed.out")" "KILL" "killed client told why"
wait_for "[ \"\$(backend_count)\" = 0 ]" 2000 || fail "KILL left server connections"
ok "KILL closed the servers"
assert_eq "$(pq -c "select 'after kill'")" "after kill" "database usable again after KILL"

# SHUTDOWN stops the process
padmin -c "shutdown" >/dev/null 2>&1
wait_for "! kill -0 $POOLER_PID" 3000 || fail "SHUTDOWN did not stop the pooler"
ok "SHUTDOWN stopped the pooler"
assert_log "shutdown complete"
