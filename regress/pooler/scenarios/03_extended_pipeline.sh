# Extended protocol with pipelining (pgbench \startpipeline) in transaction
# mode: replies stay in order and transactions land on one server each.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2"

cat >"$SCEN_DIR/pipe.sql" <<'SQL'
\set id random(1000, 1000000000)
\startpipeline
select :id as a;
insert into items values (:id, 'p') on conflict do nothing;
select v from items where id = :id;
select 1;
\endpipeline
SQL
pgbench -n -c 6 -j 2 -T 2 -M extended -f "$SCEN_DIR/pipe.sql" "$(pooler_url)" >"$SCEN_DIR/pipe.out" 2>&1 || fail "pipelined pgbench failed: $(head -20 "$SCEN_DIR/pipe.out")"
grep -q "number of failed transactions: 0" "$SCEN_DIR/pipe.out" || fail "failed pipelined transactions"
tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/pipe.out")
assert_ge "$tx" 50 "pipelined transactions processed"

# a Python client pipelining many statements in one transaction
/usr/bin/python3 - "$(pooler_url)" <<'PY' || fail "psycopg pipeline"
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    with c.pipeline():
        curs = [c.execute("select %s::int * 2", (i,)) for i in range(200)]
    vals = [cur.fetchone()[0] for cur in curs]
    assert vals == [i * 2 for i in range(200)], vals[:5]
    with c.transaction():
        with c.pipeline():
            c.execute("create temp table pp_tmp(a int) on commit drop")
            for i in range(50):
                c.execute("insert into pp_tmp values (%s)", (i,))
            cur = c.execute("select sum(a) from pp_tmp")
        assert cur.fetchone()[0] == sum(range(50))
print("python pipeline ok")
PY
ok "psycopg pipeline mode results in order"

# startup packet and a query in one write, to a pool with no server yet:
# the query waits for the pool's first login and is answered
stop_pooler
start_pooler "pool_mode = transaction" "fresh = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb2"
out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import struct, sys
from pgwire import Conn
c = Conn(int(sys.argv[1]))
body = struct.pack("!i", 196608) + b"user\0postgres\0database\0fresh\0\0"
q = b"select 'pipelined login'\0"
c.send(struct.pack("!i", len(body) + 4) + body + b"Q" + struct.pack("!i", len(q) + 4) + q)
c.read_until()                       # login: ... ReadyForQuery
msgs = c.read_until()                # the query's answer
print([p for t, p in msgs if t == b"D"])
PY
)
assert_contains "$out" "pipelined login" "query sent with the startup packet answered after the first login"
