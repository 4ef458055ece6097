# track_client_id: in transaction pooling the server connection's
# pgplumb.client_id is the id of the client it serves (for the extension's
# N+1 detector).  Two clients share one server connection (pool size 1):
# each sees its own id, the same on every statement, over the simple and the
# extended protocol; the pooler's SET is sent only when the connection
# changes hands, and its replies never reach a client (raw protocol: exactly
# one CommandComplete per query).  The server has no pgplumb extension
# loaded: SET of the placeholder setting is accepted.  Turned off by RELOAD,
# a connection that held an id is RESET.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
track_client_id = 1"

assert_eq "$(direct -c "select count(*) from pg_settings where name like 'pgplumb.%'")" 0 \
	"the server has no pgplumb setting defined (extension not loaded)"

out=$(/usr/bin/python3 - "$(pooler_url)" "$POOLER_PORT" <<'PY'
import sys, psycopg, pgwire
url, port = sys.argv[1], int(sys.argv[2])
Q = "select current_setting('pgplumb.client_id', true), pg_backend_pid()"
a = psycopg.connect(url, autocommit=True)                                   # extended protocol
b = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor)  # simple protocol
ids = {"a": set(), "b": set()}
pids = set()
for i in range(4):
    for name, c in (("a", a), ("b", b)):
        cid, pid = c.execute(Q).fetchone()
        ids[name].add(cid)
        pids.add(pid)
    # a transaction block: the id holds inside it too
    with a.transaction():
        ids["a"].add(a.execute(Q).fetchone()[0])
        ids["a"].add(a.execute(Q).fetchone()[0])
print("pids:", len(pids))
print("a ids:", sorted(ids["a"]))
print("b ids:", sorted(ids["b"]))
print("distinct:", ids["a"].isdisjoint(ids["b"]) and "" not in ids["a"] and "" not in ids["b"]
      and None not in ids["a"] and None not in ids["b"])
# the id is a number the pooler issues
print("numeric:", all(x.isdigit() for x in ids["a"] | ids["b"]))
# raw protocol: a client that does not own the connection gets its query's
# replies and nothing of the pooler's SET (one C, one Z per query)
r = pgwire.Conn(port)
r.startup()
r.read_until()
kinds = []
for i in range(3):
    a.execute("select 1")           # the connection changes hands before each query
    r.query("select current_setting('pgplumb.client_id')")
    msgs = r.read_until()
    kinds.append("".join(t.decode() for t, _ in msgs))
    vals = [p for t, p in msgs if t == b"D"]
print("raw kinds:", kinds)
r.close()
a.close(); b.close()
PY
)
echo "$out"
assert_contains "$out" "pids: 1" "both clients ran on the one server connection"
assert_contains "$out" "distinct: True" "each client has its own, non-empty id"
assert_contains "$out" "numeric: True" "ids are pooler-issued numbers"
# exactly one id per client over 4 rounds and 2 transactions: stable
echo "$out" | grep -Eq "^a ids: \['[0-9]+'\]$" || fail "client a's id changed: $(echo "$out" | grep '^a ids')"
ok "client a's id is stable (extended protocol, transaction blocks)"
echo "$out" | grep -Eq "^b ids: \['[0-9]+'\]$" || fail "client b's id changed: $(echo "$out" | grep '^b ids')"
ok "client b's id is stable (simple protocol)"
assert_contains "$out" "raw kinds: ['TDCZ', 'TDCZ', 'TDCZ']" "the SET's replies never reach the client"
assert_not_contains "$(grep -i 'setting session parameters failed' "$POOLER_LOG")" "failed" \
	"no SET failed on the server"

# one SET per change of hands, not one per statement: a lone client running
# ten statements after another client costs one SET (the pooler logs each at
# debug level; the scenario runs it with -v)
sets_before=$(grep -c 'pgplumb.client_id set' "$POOLER_LOG")
out2=$(/usr/bin/python3 - "$(pooler_url)" <<'PY'
import sys, psycopg
c = psycopg.connect(sys.argv[1], autocommit=True)
ids = {c.execute("select current_setting('pgplumb.client_id', true)").fetchone()[0] for i in range(10)}
print("alone:", len(ids))
PY
)
echo "$out2"
assert_contains "$out2" "alone: 1" "a lone client keeps its id"
assert_eq "$(( $(grep -c 'pgplumb.client_id set' "$POOLER_LOG") - sets_before ))" 1 \
	"one SET for ten statements of one client"

# RELOAD with track_client_id off: the connection's id is RESET
write_ini "pool_mode = transaction
default_pool_size = 1
track_client_id = 0"
assert_eq "$(padmin -c "reload")" "" "RELOAD succeeds"
assert_eq "$(pq -c "select coalesce(current_setting('pgplumb.client_id', true), '<null>')")" "" \
	"with track_client_id off the server's id is reset"
