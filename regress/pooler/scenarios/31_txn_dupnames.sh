# A named Parse of a name the client already has (issue 5): PostgreSQL
# parses and analyses the new text, then fails it with 42P05 `prepared
# statement "x" already exists`, skips the rest up to Sync and keeps the old
# statement; a failed Parse leaves no statement of that name.  Each case runs
# straight to the server and through the pooler in transaction mode, on
# fresh connections, step by step or with Sync segments pipelined; the
# replies must be the same bytes.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 4"

out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import sys
from pgwire import compare_cases, parse, bind, execute, describe, close, sync

pooler, direct = int(sys.argv[1]), int(sys.argv[2])

cases = {
    "same text again": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: (parse(c, "a", "select 1"), bind(c, "a"), execute(c), sync(c)),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "other text: the old statement stays": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: (parse(c, "a", "select 2"), bind(c, "a"), execute(c), sync(c)),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "first Parse without a Sync before the second": [
        lambda c: (parse(c, "a", "select 1"), parse(c, "a", "select 2"), sync(c)),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "syntax error comes before 42P05": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: (parse(c, "a", "selec 2"), sync(c)),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "analysis error comes before 42P05": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: (parse(c, "a", "select * from no_such_table"), sync(c))],
    "in an aborted transaction: 25P02": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: c.query("begin"),
        lambda c: c.query("select 1/0"),
        lambda c: (parse(c, "a", "select 2"), sync(c)),
        lambda c: c.query("rollback"),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "a failed Parse leaves no statement: the next one succeeds": [
        lambda c: (parse(c, "a", "selec 1"), sync(c)),
        lambda c: (parse(c, "a", "select 3"), bind(c, "a"), execute(c), sync(c))],
    "a skipped Parse leaves no statement": [
        lambda c: (parse(c, "z", "select 1/$1::int"), bind(c, "z", "0"), execute(c),
                   parse(c, "a", "select 4"), sync(c)),
        lambda c: (parse(c, "a", "select 5"), bind(c, "a"), execute(c), sync(c))],
    "a failed re-Parse keeps the old statement": [
        lambda c: (parse(c, "a", "select 6"), sync(c)),
        lambda c: (parse(c, "a", "selec 7"), sync(c)),
        lambda c: (parse(c, "a", "select 8"), sync(c)),
        lambda c: (bind(c, "a"), execute(c), sync(c))],
    "closed, then prepared again": [
        lambda c: (parse(c, "a", "select 1"), sync(c)),
        lambda c: (close(c, b"S", "a"), parse(c, "a", "select 9"), bind(c, "a"), execute(c), sync(c))],
    "with parameter types, Describe after": [
        lambda c: (parse(c, "a", "select $1::int", (23,)), sync(c)),
        lambda c: (parse(c, "a", "select $1::text", (25,)), describe(c, b"S", "a"), sync(c)),
        lambda c: (describe(c, b"S", "a"), sync(c))],
    "unnamed statement is replaced, no error": [
        lambda c: (parse(c, "", "select 1"), sync(c)),
        lambda c: (parse(c, "", "select 2"), bind(c, ""), execute(c), sync(c))],
    # a segment pipelined after one that may fail waits for its replies
    "pipelined: a failed Parse, then the same name in the next segment": [
        (lambda c: (parse(c, "a", "selec 1"), sync(c),
                    parse(c, "a", "select 11"), bind(c, "a"), execute(c), sync(c)), 2)],
    "pipelined: a skipped Parse, then the same name in the next segment": [
        (lambda c: (bind(c, "nosuch"), parse(c, "a", "select 12"), sync(c),
                    parse(c, "a", "select 13"), bind(c, "a"), execute(c), sync(c)), 2)],
    "pipelined: a skipped Close, then a Bind in the next segment": [
        lambda c: (parse(c, "a", "select 14"), sync(c)),
        (lambda c: (bind(c, "nosuch"), close(c, b"S", "a"), sync(c),
                    bind(c, "a"), execute(c), sync(c)), 2)],
    "pipelined: a failed unnamed Parse, then a Bind of it": [
        lambda c: (parse(c, "", "select 15"), sync(c)),
        (lambda c: (parse(c, "", "selec 16"), sync(c), bind(c, ""), execute(c), sync(c),
                    c.query("select 17"), bind(c, ""), execute(c), sync(c)), 4)],
    "pipelined: a failed unnamed Parse, then a Flush and a Bind of it": [
        lambda c: (parse(c, "", "select 18"), sync(c)),
        (lambda c: (parse(c, "", "select * from pp_no_such_table"), sync(c),
                    c.msg(b"H"), bind(c, ""), execute(c), sync(c)), 2)],
    "many names on a small cache, then duplicates": [
        lambda c: [parse(c, "m%d" % i, "select %d" % i) for i in range(6)] + [sync(c)],
        lambda c: [parse(c, "m%d" % i, "select 1%d" % i) for i in range(6)] + [sync(c)],
        lambda c: [x for i in range(6) for x in (bind(c, "m%d" % i), execute(c))] + [sync(c)]],
}
got = compare_cases(cases, direct, pooler)
if b"42P05" not in b"".join(p for t, p in got["other text: the old statement stays"]):
    print("no 42P05 through the pooler")
PY
) || fail "raw protocol client failed: $out"
echo "$out" | sed 's/^/  /'
assert_not_contains "$out" "DIFFERENT" "replies to duplicate and failed Parses are the same bytes as direct"
assert_not_contains "$out" "no 42P05" "a duplicate name fails with 42P05"
