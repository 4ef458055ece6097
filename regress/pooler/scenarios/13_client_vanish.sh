# A client that vanishes mid-transaction or mid-query: its server
# connection is closed (never handed to another client dirty), the query is
# cancelled, and the pool refills for everyone else.
. "$(dirname "$0")/../lib.sh"
for mode in transaction session; do
	start_pooler "pool_mode = $mode
default_pool_size = 1"
	/usr/bin/python3 - "$POOLER_PORT" <<'PY' || fail "vanishing client script"
import sys
from pgwire import Conn
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
c.query("begin"); c.read_until()
c.query("insert into items values (8001, 'uncommitted')"); c.read_until()
c.s.close()      # gone without Terminate, transaction open
PY
	out=$(pq -c "select count(*) from items where id = 8001" -c "select current_setting('transaction_isolation') is not null" -c "select now() = statement_timestamp()")
	assert_eq "$out" $'0\nt\nt' "$mode: next client gets a clean server (no open transaction, no leftover row)"
	assert_eq "$(direct -c "select count(*) from pg_stat_activity where datname = 'ppdb' and state like 'idle in transaction%'")" 0 "$mode: nothing idle in transaction on the server"

	# vanish in the middle of a long query: the query is cancelled
	/usr/bin/python3 - "$POOLER_PORT" <<'PY' || fail "vanishing mid-query"
import sys, time
from pgwire import Conn
c = Conn(int(sys.argv[1]))
c.startup(); c.read_until()
c.query("select pg_sleep(10)")
time.sleep(0.3)
c.s.close()
PY
	wait_for "[ \"\$(direct -c \"select count(*) from pg_stat_activity where query = 'select pg_sleep(10)'\")\" = 0 ]" 2000 || fail "$mode: abandoned query still running"
	ok "$mode: abandoned query stopped on the server"
	assert_eq "$(pq -c "select 'refilled'")" refilled "$mode: pool refilled"
	stop_pooler
done
