# Prepared statements in transaction pooling (issue 7): named and unnamed
# statements follow the client to whichever server it gets, identical texts
# share one server-side statement, max_prepared_statements bounds each
# server's cache, replies stay in order through errors and pipelines.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2
max_prepared_statements = 3"

# pgbench -M prepared with more clients than servers: its PQprepare is
# synchronous, so a Parse must not wait for a server held by another client
pgbench -n -M prepared -c 8 -j 2 -T 2 "$(pooler_url)" >"$SCEN_DIR/pgb.out" 2>&1 ||
	fail "pgbench -M prepared failed: $(tail -5 "$SCEN_DIR/pgb.out")"
grep -q "number of failed transactions: 0" "$SCEN_DIR/pgb.out" || fail "failed transactions: $(grep failed "$SCEN_DIR/pgb.out")"
tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SCEN_DIR/pgb.out")
assert_ge "$tx" 50 "pgbench -M prepared through transaction pooling"

# raw protocol: what the client sees, message by message
out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import struct, sys, time
from pgwire import Conn, fields, parse, bind, execute, describe, close, sync

port = int(sys.argv[1])


def login():
    c = Conn(port); c.startup(); c.read_until(); return c

def summary(msgs):
    """message types, DataRow values and error SQLSTATEs"""
    out = []
    for t, p in msgs:
        if t == b"D":
            n = struct.unpack("!h", p[:2])[0]; pos = 2; vals = []
            for _ in range(n):
                l = struct.unpack("!i", p[pos:pos + 4])[0]; pos += 4
                vals.append(p[pos:pos + l].decode()); pos += l
            out.append("D" + ",".join(vals))
        elif t == b"E":
            out.append("E" + fields(p)["C"])
        elif t == b"C":
            out.append("C" + p[:-1].decode())
        else:
            out.append(t.decode())
    return " ".join(out)

a, b, hold = login(), login(), login()
# a prepares without a server (answered by the pooler), b uses the same name
# for another text
parse(a, "s1", "select $1::int * 10", (23,)); sync(a)
print("a parse:", summary(a.read_until()))
parse(b, "s1", "select $1::text || '!'"); sync(b)
print("b parse:", summary(b.read_until()))
# hold one server in a transaction so that a and b share the other one
hold.query("begin"); hold.read_until()
for i in range(3):
    bind(a, "s1", str(i)); execute(a); sync(a)
    print("a exec:", summary(a.read_until()))
    bind(b, "s1", "x%d" % i); execute(b); sync(b)
    print("b exec:", summary(b.read_until()))
hold.query("commit"); hold.read_until()
# Describe of a statement
describe(a, b"S", "s1"); sync(a)
print("a describe:", summary(a.read_until()))
# pipeline: Parse/Bind/Execute x 20 and one Sync
for i in range(20):
    parse(a, "", "select $1::int + 1"); bind(a, "", str(i)); execute(a)
sync(a)
res = a.read_until()
print("pipeline rows:", [m for m in summary(res).split() if m.startswith("D")] == ["D%d" % (i + 1) for i in range(20)])
# an error in the middle: the rest up to Sync is skipped, then all is well
parse(a, "div", "select 10 / $1::int")
for v in ("5", "0", "2"):
    bind(a, "div", v); execute(a)
sync(a)
print("a error:", summary(a.read_until()))
bind(a, "div", "2"); execute(a); sync(a)
print("a after error:", summary(a.read_until()))
# a syntax error shows at the Parse, as on a direct connection (the text
# was never parsed by a server, so the Parse is not answered by the pooler)
parse(a, "bad", "selec 1"); sync(a)
print("a bad parse:", summary(a.read_until()))
bind(a, "bad"); execute(a); sync(a)
print("a bad use:", summary(a.read_until()))
# Close, then the name is unknown
close(a, b"S", "s1"); sync(a)
print("a close:", summary(a.read_until()))
bind(a, "s1", "1"); execute(a); sync(a)
print("a closed use:", summary(a.read_until()))
# b still has its own s1
bind(b, "s1", "y"); execute(b); sync(b)
print("b still:", summary(b.read_until()))
# DEALLOCATE as SQL (simple query) and through Parse/Bind/Execute (psycopg)
b.query("DEALLOCATE s1"); print("b deallocate:", summary(b.read_until()))
bind(b, "s1", "z"); execute(b); sync(b)
print("b deallocated use:", summary(b.read_until()))
parse(b, "keep", "select 7"); sync(b); b.read_until()
parse(b, "", "DEALLOCATE keep"); bind(b, ""); describe(b, b"P", ""); execute(b); sync(b)
print("b deallocate ext:", summary(b.read_until()))
bind(b, "keep"); execute(b); sync(b)
print("b keep gone:", summary(b.read_until()))
# more statements than max_prepared_statements on one server
names = ["m%d" % i for i in range(6)]
for i, n in enumerate(names):
    parse(a, n, "select %d" % i)
sync(a); a.read_until()
for rnd in range(2):
    for i, n in enumerate(names):
        bind(a, n); execute(a)
    sync(a)
    got = [m for m in summary(a.read_until()).split() if m.startswith("D")]
    print("evicting round %d:" % rnd, got == ["D%d" % i for i in range(6)])
# (the rows probe PGPLUMB_000, one per server connection, is kept outside the cache)
a.query("select count(*) from pg_prepared_statements where name like 'PGPLUMB%' and name <> 'PGPLUMB_000'")
print("server statements:", summary(a.read_until()))

# After an error the server ignores everything up to Sync, Parse and Close
# included: the statement names must stay as they were, as with PostgreSQL
# itself.  Each case runs through the pooler and straight to the server,
# pipelined and "paused": a Flush and a pause after the failing request, so
# that the pooler has seen the error before the rest arrives.
PAUSED = [False]
def pause(c):
    if PAUSED[0]:
        c.msg(b"H"); time.sleep(0.2)
cases = {
    "unnamed": [
        lambda c: (parse(c, "", "select 1"), bind(c, ""), execute(c), sync(c)),
        lambda c: (parse(c, "", "select 10 / $1::int"), bind(c, "", "0"), execute(c), pause(c),
                   parse(c, "", "select 2"), sync(c)),
        lambda c: (bind(c, ""), execute(c), sync(c))],
    "unnamed bad parse": [
        lambda c: (parse(c, "", "select 1"), bind(c, ""), execute(c), sync(c)),
        lambda c: (bind(c, ""), execute(c), parse(c, "", "selec 2"), pause(c), parse(c, "", "select 3"), sync(c)),
        lambda c: (bind(c, ""), execute(c), sync(c))],
    "named": [
        lambda c: (parse(c, "n1", "select 10"), parse(c, "c1", "select 30"), sync(c)),
        lambda c: (parse(c, "", "select 10 / $1::int"), bind(c, "", "0"), execute(c), pause(c),
                   parse(c, "n2", "select 20"), close(c, b"S", "c1"), sync(c)),
        lambda c: (bind(c, "n1"), execute(c), bind(c, "c1"), execute(c), sync(c)),
        lambda c: (bind(c, "n2"), execute(c), sync(c))],
}
for label, steps in cases.items():
    for paused in (False, True):
        PAUSED[0] = paused
        got = {}
        for who, p in (("pooler", port), ("direct", int(sys.argv[2]))):
            c = Conn(p); c.startup(); c.read_until()
            res = []
            for step in steps:
                step(c)
                res.append(summary(c.read_until()))
            got[who] = " / ".join(res)
            c.close()
        print("skipped %s%s: %s" % (label, " paused" if paused else "",
              "same" if got["pooler"] == got["direct"] else "DIFFER pooler=%r direct=%r" % (got["pooler"], got["direct"])))
        print("  direct:", got["direct"])
PY
)
echo "$out"
assert_contains "$out" "a parse: 1 Z" "Parse answered without a server"
assert_contains "$out" "b parse: 1 Z" "same name, other text, other client"
assert_contains "$out" "a exec: 2 D0 CSELECT 1 Z" "statement used on a server it was not prepared on (0)"
assert_contains "$out" "a exec: 2 D20 CSELECT 1 Z" "statement used on a server it was not prepared on (2)"
assert_contains "$out" "b exec: 2 Dx2! CSELECT 1 Z" "each client gets its own statement under the same name"
assert_contains "$out" "a describe: t T Z" "Describe statement: ParameterDescription, RowDescription"
assert_contains "$out" "pipeline rows: True" "20 pipelined unnamed statements answered in order"
# 10/0 fails at Bind: the planner folds the constant
assert_contains "$out" "a error: 1 2 D2 CSELECT 1 E22012 Z" "error mid-pipeline: the rest skipped up to Sync"
assert_contains "$out" "a after error: 2 D5 CSELECT 1 Z" "statement usable after the error"
assert_contains "$out" "a bad parse: E42601 Z" "syntax error reported at the Parse"
assert_contains "$out" "a bad use: E26000 Z" "a failed Parse leaves no statement"
assert_contains "$out" "a close: 3 Z" "Close answered"
assert_contains "$out" "a closed use: E26000 Z" "closed statement does not exist any more (26000)"
assert_contains "$out" "b still: 2 Dy! CSELECT 1 Z" "another client's statement of the same name untouched"
assert_contains "$out" "b deallocate: CDEALLOCATE Z" "DEALLOCATE as a simple query"
assert_contains "$out" "b deallocated use: E26000 Z" "deallocated statement gone"
assert_contains "$out" "b deallocate ext: 1 2 n CDEALLOCATE Z" "DEALLOCATE through the extended protocol"
assert_contains "$out" "b keep gone: E26000 Z" "statement deallocated through the extended protocol gone"
assert_contains "$out" "evicting round 0: True" "6 statements over a cache of 3 (round 1)"
assert_contains "$out" "evicting round 1: True" "6 statements over a cache of 3 (round 2)"
n=$(echo "$out" | sed -n 's/^server statements: T D\([0-9]*\) .*/\1/p')
assert_le "$n" 3 "server-side statements bounded by max_prepared_statements"
for c in "unnamed" "unnamed paused" "unnamed bad parse" "unnamed bad parse paused" "named" "named paused"; do
	assert_contains "$out" "skipped $c: same" "Parse/Close ignored after an error leave the names as on PostgreSQL ($c)"
done

# psycopg 3 with server-side prepared statements on 6 connections sharing 2 servers
/usr/bin/python3 - "$(pooler_url)" <<'PY' || fail "psycopg prepared statements"
import sys, psycopg
conns = [psycopg.connect(sys.argv[1], autocommit=True, prepare_threshold=0) for _ in range(6)]
for rnd in range(4):
    for i, c in enumerate(conns):
        assert c.execute("select %s::int + %s::int", (i, rnd)).fetchone()[0] == i + rnd
        with c.transaction():
            assert c.execute("select %s::text || 'x'", (str(i),)).fetchone()[0] == "%dx" % i
for c in conns:
    c.close()
print("psycopg ok")
PY
ok "psycopg prepared statements on 6 connections over 2 servers"
n=$(direct -c "select count(*) from pg_stat_activity where datname = 'ppdb' and pid <> pg_backend_pid()")
assert_le "$n" 2 "never more than default_pool_size server connections"
