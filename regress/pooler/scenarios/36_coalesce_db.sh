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

# main section off, one entry on (with its own delay)
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 0" "codb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalescing=on insert_coalesce_delay=20ms"
m0=$(merged)
run_ins ppdb
m1=$(merged)
assert_eq "$m1" "$m0" "main section off: nothing merged through ppdb"
run_ins codb
m2=$(merged)
assert_ge "$((m2 - m1))" 50 "entry with insert_coalescing=on: rows merged ($m1 -> $m2)"
assert_eq "$(ddb -c "select count(*) from cd_t")" 600 "every INSERT committed"
stop_pooler

# main section on, one entry off
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 20ms" "nocodb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalescing=off"
m0=$(merged)
run_ins nocodb
m1=$(merged)
assert_eq "$m1" "$m0" "entry with insert_coalescing=off: nothing merged through it"
run_ins ppdb
m2=$(merged)
assert_ge "$((m2 - m1))" 50 "main section on: rows merged through ppdb ($m1 -> $m2)"
assert_eq "$(ddb -c "select count(*) from cd_t")" 1200 "every INSERT committed"

# a bad value in an entry: refused at start, kept out on reload
stop_pooler
write_ini "pool_mode = transaction" "bad = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_coalesce_delay=soon"
if "$POOLER_BIN" "$POOLER_INI" >"$SCEN_DIR/bad.out" 2>&1; then
	fail "the pooler started with insert_coalesce_delay=soon"
fi
assert_contains "$(cat "$SCEN_DIR/bad.out")" "insert_coalesce_delay" "an invalid entry value is refused naming the key"
