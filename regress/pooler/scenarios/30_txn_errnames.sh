# Replies that name a prepared statement (issue 5): in transaction pooling
# the server knows client statements as PGPLUMB_<n>, but an ErrorResponse
# must read as a direct connection's would, with the client's name (or ""
# for the unnamed statement).  Each case runs straight to the server and
# through the pooler on fresh connections; the replies must be the same
# bytes (SQLSTATE, message, every field).  A client statement named like a
# pooler one must not reach another client's statement on the server.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1"

out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import struct, sys
from pgwire import Conn, parse, bind, execute, describe, sync

pooler, direct = int(sys.argv[1]), int(sys.argv[2])


def login(port):
    c = Conn(port); c.startup(); c.read_until(); return c

def run(port, steps):
    c = login(port)
    steps(c)
    res = c.read_until()
    c.close()
    return res

# a statement of another client, prepared on the pooler's only server: its
# server-side name
other = login(pooler)
parse(other, "theirs", "select 'not yours'"); bind(other, "theirs"); execute(other); sync(other)
other.read_until()
other.query("select name from pg_prepared_statements where statement = 'select ''not yours'''")
rows = [p for t, p in other.read_until() if t == b"D"]
taken = rows[0][6:].decode() if rows else "PGPLUMB_1"
print("taken:", taken)

cases = {
    "unnamed, wrong parameter count":
        lambda c: (parse(c, "", "select 1"), bind(c, "", "5"), execute(c), sync(c)),
    "named, wrong parameter count":
        lambda c: (parse(c, "s1", "select $1::int", (23,)), bind(c, "s1"), execute(c), sync(c)),
    "named, portal, after a good Bind":
        lambda c: (parse(c, "two", "select $1::int + $2::int"), bind(c, "two", "1", "2"),
                   execute(c), bind(c, "two", "1", portal="p"), execute(c, "p"), sync(c)),
    "client name like the pooler's":
        lambda c: (parse(c, taken, "select 2"), bind(c, taken, "x"), execute(c), sync(c)),
    "Describe, then a bad Bind":
        lambda c: (parse(c, "d1", "select $1::text"), describe(c, b"S", "d1"),
                   bind(c, "d1"), execute(c), sync(c)),
    "Bind of another client's server-side name":
        lambda c: (bind(c, taken), execute(c), sync(c)),
    "Describe of another client's server-side name":
        lambda c: (describe(c, b"S", taken), sync(c)),
    "long client name":
        lambda c: (parse(c, "n" * 60, "select 3"), bind(c, "n" * 60, "1"), execute(c), sync(c)),
}
for name, steps in cases.items():
    want = run(direct, steps)
    got = run(pooler, steps)
    errs = [p for t, p in got if t == b"E"]
    print("%s: %s" % (name, "same" if got == want else "DIFFERENT"))
    if got != want:
        print("  direct:", want)
        print("  pooler:", got)
    if not errs:
        print("  no error through the pooler")
    for e in errs:
        if b"PGPLUMB_" in e and taken.encode() not in e:
            print("  leaks a pooler name:", e)
PY
) || fail "raw protocol client failed: $out"
echo "$out" | sed 's/^/  /'
assert_not_contains "$out" "DIFFERENT" "replies naming statements are the same bytes as direct"
assert_not_contains "$out" "no error through the pooler" "every case fails through the pooler as it does direct"
assert_not_contains "$out" "leaks a pooler name" "no reply shows a pooler statement name"
