# insert_coalescing and insert_coalesce_delay as [databases] keys: an entry
# can turn coalescing on while the main section has it off, and off while
# the main section has it on.  SHOW COALESCING counts the rows merged.  (The
# delay matters only while a table's merges in flight are at their limit,
# so its per-entry value is checked in check_cfg, not here.)
. "$(dirname "$0")/../lib.sh"
ddb() { psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=postgres" -XAtq "$@"; }

ddb -c "drop table if exists cd_t; create table cd_t (id bigserial primary key, a int, b text)" >/dev/null ||
	fail "setup"
printf '%s\n' '\set a random(1, 1000000)' "insert into cd_t (a, b) values (:a, 'x');" >"$SCEN_DIR/ins.sql"

merged() { padmin -F' ' -c "show coalescing" | cut -d' ' -f1; }
# run_ins DB: 10 clients, 30 autocommit INSERTs each, through entry DB
run_ins() {
	pgbench -n -M prepared -c 10 -j 2 -t 30 -f "$SCEN_DIR/ins.sql" \
		"host=127.0.0.1 port=$POOLER_PORT dbname=$1 user=postgres" >"$SCEN_DIR/pgb-$1.out" 2>&1 ||
		fail "pgbench through $1: $(tail -5 "$SCEN_DIR/pgb-$1.out")"
}

# check_merging OFF ON TOTAL: pgbench through entry OFF merges nothing,
# through entry ON it merges; TOTAL rows in the table after both
check_merging() {
	local m0 m1 m2
	m0=$(merged)
	run_ins "$1"
	m1=$(merged)
	assert_eq "$m1" "$m0" "nothing merged through $1"
	run_ins "$2"
	m2=$(merged)
	assert_ge "$((m2 - m1))" 50 "rows merged through $2 ($m1 -> $m2)"
	assert_eq "$(ddb -c "select count(*) from cd_t")" "$3" "every INSERT committed"
}

# main section off, one entry on (with its own delay)
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 0" "codb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalescing=on insert_coalesce_delay=20ms"
check_merging ppdb codb 600
stop_pooler

# main section on, one entry off
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 20ms" "nocodb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalescing=off"
check_merging nocodb ppdb 1200

# a bad value in an entry: kept out on reload (the old entries stay in
# force), refused at start
write_ini "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 20ms" "nocodb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalescing=bogus"
padmin -c "reload" >"$SCEN_DIR/reload.out" 2>&1
assert_log "reload failed, keeping the old configuration: .*invalid value \"bogus\" for \"insert_coalescing\""
check_merging nocodb ppdb 1800
stop_pooler
write_ini "pool_mode = transaction" "bad = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalesce_delay=soon"
if "$POOLER_BIN" "$POOLER_INI" >"$SCEN_DIR/bad.out" 2>&1; then
	fail "the pooler started with insert_coalesce_delay=soon"
fi
assert_contains "$(cat "$SCEN_DIR/bad.out")" "insert_coalesce_delay" "an invalid entry value is refused naming the key"
