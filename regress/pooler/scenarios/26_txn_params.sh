# Session parameters follow each client to its server connection (issue 7):
# startup values reach the server, session SETs (reported ones and
# search_path, which PostgreSQL 15 does not report) do not leak to other
# clients, rolled-back and SET LOCAL changes do not stick, RESET ALL brings
# back the client's startup values, and nothing is sent when nothing differs.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
track_extra_parameters = IntervalStyle, statement_timeout"

out=$(/usr/bin/python3 - "$(pooler_url)" <<'PY'
import sys, psycopg
url = sys.argv[1]
def one(c, sql):
    return c.execute(sql).fetchone()[0]
# two clients, one server: every query of one runs on the server the other used
a = psycopg.connect(url + " application_name=app_a options=''", autocommit=True)
b = psycopg.connect(url + " application_name=app_b", autocommit=True)
print("welcome a:", a.info.parameter_status("application_name"))
print("startup a:", one(a, "select current_setting('application_name')"))
print("startup b:", one(b, "select current_setting('application_name')"))
a.execute("set search_path = pp_a, public")
a.execute("set TimeZone = 'Asia/Tokyo'")
a.execute("set application_name = 'a_session'")
a.execute("set statement_timeout = '12s'")
a.execute("set IntervalStyle = 'iso_8601'")
print("b sees:", one(b, "select current_setting('search_path') || '|' || current_setting('TimeZone') || '|' || current_setting('application_name') || '|' || current_setting('statement_timeout') || '|' || current_setting('IntervalStyle')"))
print("a sees:", one(a, "select current_setting('search_path') || '|' || current_setting('TimeZone') || '|' || current_setting('application_name') || '|' || current_setting('statement_timeout') || '|' || current_setting('IntervalStyle')"))
print("a status:", a.info.parameter_status("TimeZone"), a.info.parameter_status("application_name"))
# transaction semantics
with a.transaction():
    a.execute("set local search_path = pp_local")
    print("a local:", one(a, "show search_path"))
print("a after local:", one(a, "show search_path"))
try:
    with a.transaction():
        a.execute("set search_path = pp_rolled_back")
        raise psycopg.Rollback()
except psycopg.Rollback:
    pass
print("b between:", one(b, "show search_path"))
print("a after rollback:", one(a, "show search_path"))
with a.transaction():
    a.execute("set search_path = pp_committed")
print("b between2:", one(b, "show search_path"))
print("a after commit:", one(a, "show search_path"))
# an error later in the same query undoes the SET
try:
    a.execute("set search_path = pp_failed; select 1/0")
except psycopg.errors.DivisionByZero:
    pass
print("b between3:", one(b, "show search_path"))
print("a after error:", one(a, "show search_path"))
# RESET ALL: the startup values, not the server connection's
a.execute("RESET ALL")
print("b between4:", one(b, "show search_path"))
print("a reset:", one(a, "select current_setting('application_name') || '|' || current_setting('search_path') || '|' || current_setting('TimeZone') || '|' || current_setting('statement_timeout')"))
print("b end:", one(b, "select current_setting('application_name') || '|' || current_setting('search_path')"))
PY
)
echo "$out"
assert_contains "$out" "welcome a: app_a" "the client is told its own application_name at login"
assert_contains "$out" "startup a: app_a" "startup application_name reaches the server (a)"
assert_contains "$out" "startup b: app_b" "startup application_name reaches the server (b)"
assert_contains "$out" 'b sees: "$user", public|' "search_path of another client does not leak"
assert_not_contains "$out" "b sees: \"\$user\", public|Asia/Tokyo" "TimeZone of another client does not leak"
assert_contains "$out" "|app_b|0|postgres" "application_name, statement_timeout (extra), IntervalStyle (extra) do not leak"
assert_contains "$out" "a sees: pp_a, public|Asia/Tokyo|a_session|12s|iso_8601" "session SETs follow the client"
assert_contains "$out" "a status: Asia/Tokyo a_session" "the client's ParameterStatus values are its own"
assert_contains "$out" "a local: pp_local" "SET LOCAL applies in the transaction"
assert_contains "$out" "a after local: pp_a, public" "SET LOCAL gone after the transaction"
assert_contains "$out" "a after rollback: pp_a, public" "SET in a rolled-back transaction gone"
assert_contains "$out" "a after commit: pp_committed" "SET in a committed transaction kept"
assert_contains "$out" "b between2: \"\$user\", public" "committed SET does not leak"
assert_contains "$out" "a after error: pp_committed" "SET undone by an error later in its query"
assert_contains "$out" 'a reset: app_a|"$user", public|' "RESET ALL brings back the startup application_name and default search_path"
assert_contains "$out" "|0" "RESET ALL resets statement_timeout"
assert_contains "$out" 'b end: app_b|"$user", public' "the other client unaffected"

# nothing sent when nothing differs: one client alone does not sync again
before=$(grep -c "session parameters synced" "$POOLER_LOG")
PQOPTS="application_name=solo" pq -c "select 1" -c "select 2" -c "select 3" -c "select 4" >/dev/null
after=$(grep -c "session parameters synced" "$POOLER_LOG")
assert_le $((after - before)) 1 "one sync for four transactions of one client"
stop_pooler

# session mode: startup values reach the server, RESET ALL brings them back
start_pooler "pool_mode = session
default_pool_size = 2"
out=$(PQOPTS="application_name=sess_app" pq -c "set application_name = 'changed'" -c "reset all" -c "show application_name")
assert_eq "$out" "sess_app" "session mode: RESET ALL brings back the startup application_name"
out=$(PQOPTS="application_name=other" pq -c "show application_name")
assert_eq "$out" "other" "session mode: the next client's own application_name"
