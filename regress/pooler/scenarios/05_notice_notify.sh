# NOTICE and NOTIFY pass through (session mode, where LISTEN works).
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = session"

err=$(pq -c "do \$\$ begin raise notice 'hello from the server'; end \$\$" 2>&1)
assert_contains "$err" "NOTICE:  hello from the server" "NoticeResponse relayed"

/usr/bin/python3 - "$(pooler_url)" <<'PY' || fail "LISTEN/NOTIFY through the pooler"
import sys, time, psycopg
url = sys.argv[1]
with psycopg.connect(url, autocommit=True) as l, psycopg.connect(url, autocommit=True) as n:
    got = []
    l.add_notify_handler(got.append)
    l.execute("listen ppchan")
    n.execute("notify ppchan, 'payload-1'")
    for _ in range(30):
        l.execute("select 1")
        if got:
            break
        time.sleep(0.05)
    assert got and got[0].channel == "ppchan" and got[0].payload == "payload-1", got
print("notify ok")
PY
ok "NotificationResponse delivered to the listener"
