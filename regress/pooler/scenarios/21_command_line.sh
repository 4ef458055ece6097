# Command line: --version, --help, usage errors, a bad config file refused
# with file and line, an unknown setting warned about, -d daemonizes and
# writes the pidfile; SIGTERM removes it.
. "$(dirname "$0")/../lib.sh"
out=$("$POOLER_BIN" --version)
assert_contains "$out" "pgplumb-pooler " "--version"
out=$("$POOLER_BIN" --help)
assert_contains "$out" "Usage: pgplumb-pooler" "--help"
"$POOLER_BIN" >/dev/null 2>&1
assert_eq "$?" 2 "no config file: usage error (exit 2)"

write_ini "default_pool_size = lots"
err=$("$POOLER_BIN" "$POOLER_INI" 2>&1)
rc=$?
assert_eq "$rc" 1 "invalid value: exit 1"
assert_contains "$err" "pooler.ini" "error names the file"
assert_contains "$err" "default_pool_size" "error names the setting"

write_ini "no_such_setting = 1
logfile = $SCEN_DIR/daemon.log"
"$POOLER_BIN" -d "$POOLER_INI" >"$SCEN_DIR/daemon.out" 2>&1
assert_eq "$?" 0 "-d returns at once"
wait_for "[ -s '$SCEN_DIR/pooler.pid' ]" 3000 || fail "no pidfile from the daemon"
POOLER_PID=$(cat "$SCEN_DIR/pooler.pid")
trap 'stop_pooler' EXIT
kill -0 "$POOLER_PID" || fail "daemon not running"
ok "daemon running with pid $POOLER_PID"
wait_for "psql 'host=127.0.0.1 port=$POOLER_PORT dbname=pgbouncer user=postgres' -XAtqc 'show version'" 3000 || fail "daemon not serving"
assert_eq "$(pq -c "select 'from the daemon'")" "from the daemon" "daemon serves queries"
grep -q "no_such_setting" "$SCEN_DIR/daemon.log" "$SCEN_DIR/daemon.out" || fail "unknown setting not warned about"
ok "unknown setting warned about"
kill -TERM "$POOLER_PID"
wait_for "! kill -0 $POOLER_PID" 3000 || fail "daemon did not stop"
[ ! -e "$SCEN_DIR/pooler.pid" ] || fail "pidfile left behind"
ok "SIGTERM stopped the daemon and removed its pidfile"
