# Statement names in replies while insert_batching handles a client's
# messages or insert_coalescing holds one of its INSERTs (issue 5): errors
# that name a statement must name the client's statement, never the pooler's
# PGPLUMB_<n>.  Each case runs straight to the server and through the pooler
# (transaction pooling, batching and coalescing on), on fresh connections;
# the replies must be the same bytes.
. "$(dirname "$0")/../lib.sh"
psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=postgres" -XAtqc \
	"set client_min_messages = warning; drop table if exists en_t; create table en_t (id int, v text)" || fail "create table"
start_pooler "pool_mode = transaction
default_pool_size = 1
insert_batching = on
insert_coalescing = on"

out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import sys
from pgwire import compare_cases, parse, bind, execute, describe, sync

pooler, direct = int(sys.argv[1]), int(sys.argv[2])
INS = "insert into en_t (id, v) values ($1::int, $2)"


cases = {
    # an INSERT first: the client gets its rewriter, then a Bind fails
    "INSERT, then a Bind with too few parameters": [
        lambda c: c.query("insert into en_t values (1, 'a')"),
        lambda c: (parse(c, "s1", "select $1::int"), bind(c, "s1"), execute(c), sync(c))],
    "pipelined INSERTs, one Bind with too few parameters": [
        lambda c: (parse(c, "ins", INS), sync(c)),
        lambda c: [x for i in range(4) for x in (bind(c, "ins", str(i), "v"), execute(c))] +
                  [bind(c, "ins", "9"), execute(c), sync(c)]],
    "pipelined INSERTs, then a Bind of another statement that fails": [
        lambda c: (parse(c, "ins", INS), parse(c, "two", "select $1::int, $2::int"), sync(c)),
        lambda c: [x for i in range(4) for x in (bind(c, "ins", str(i), "v"), execute(c))] +
                  [bind(c, "two", "1"), execute(c), sync(c)]],
    "pipeline with INSERTs, Describe of a statement, wrong Bind after": [
        lambda c: (parse(c, "d", "select $1::text"), sync(c)),
        lambda c: [x for i in range(3) for x in (parse(c, "", INS), bind(c, "", str(i), "w"),
                                                 execute(c))] +
                  [describe(c, b"S", "d"), bind(c, "d"), execute(c), sync(c)]],
    "autocommit INSERT (coalescing) with too few parameters": [
        lambda c: (parse(c, "one", INS), sync(c)),
        lambda c: (bind(c, "one", "5"), execute(c), sync(c))],
}
for name, got in compare_cases(cases, direct, pooler).items():
    if not any(t == b"E" for t, p in got):
        print("  no error through the pooler")
    for t, p in got:
        if b"PGPLUMB_" in p:
            print("  leaks a pooler name:", p)
PY
) || fail "raw protocol client failed: $out"
echo "$out" | sed 's/^/  /'
assert_not_contains "$out" "DIFFERENT" "replies naming statements are the same bytes as direct"
assert_not_contains "$out" "no error through the pooler" "every case fails through the pooler as it does direct"
assert_not_contains "$out" "leaks a pooler name" "no reply shows a pooler statement name"
