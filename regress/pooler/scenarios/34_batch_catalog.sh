# insert_batching and insert_coalescing: what they learnt from the catalog
# about a table (statement-level triggers, column types) is asked again
# after insert_batch_catalog_ttl, and at once after DDL sent through the
# pooler.  A client that already batched into a table keeps batching into
# it; then a statement-level trigger is created (on a direct connection: the
# next batch after the TTL; through the pooler by another client: the next
# batch at once) and must fire once per row, as PostgreSQL fires it for
# single-row INSERTs.  Under insert_batch_form = unnest, a column changed
# from integer to text must store '007', not 7.
. "$(dirname "$0")/../lib.sh"
ddb() { psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=postgres" -XAtq "$@"; }

ddb -c "drop table if exists bc_t, bc_u, bc_v, bc_ty, bc_c, bc_cp, bc_log;
  create table bc_t (id int primary key, v text);
  create table bc_v (id int primary key, v text);
  create table bc_u (id int primary key, v text);
  create table bc_ty (id int primary key, v int);
  create table bc_c (id int primary key, v text);
  create table bc_cp (id int primary key, v text);
  create table bc_log (t text);
  create or replace function bc_stmt() returns trigger language plpgsql as
    'begin insert into bc_log values (tg_table_name); return null; end';" >/dev/null || fail "setup"

start_pooler "pool_mode = session
insert_batching = 1
insert_batch_form = unnest
insert_batch_catalog_ttl = 1"

out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import struct, sys, time
from pgwire import Conn, fields

pooler, direct = int(sys.argv[1]), int(sys.argv[2])
TTL = 1.0

def s(x): return x.encode() + b"\0"

def login(port):
    c = Conn(port); c.startup(); c.read_until(); return c

def pipeline(c, table, rows, read=True, name="", parse=True):
    """one Parse of a single-row INSERT (unless parse is False: the statement
    name was prepared before), a Bind/Execute per row, one Sync"""
    def m(t, body=b""):
        return t + struct.pack("!i", len(body) + 4) + body
    sql = "insert into %s (id, v) values ($1, $2)" % table
    buf = m(b"P", s(name) + s(sql) + struct.pack("!h", 0)) if parse else b""
    for r in rows:
        body = s("") + s(name) + struct.pack("!hh", 0, 2)
        for p in r:
            body += struct.pack("!i", len(p)) + p.encode()
        buf += m(b"B", body + struct.pack("!h", 0)) + m(b"E", s("") + struct.pack("!i", 0))
    c.send(buf + m(b"S"))
    if read:
        check_batch(c, len(rows))

def check_batch(c, n):
    got = c.read_until()
    tags = [p[:-1].decode() for t, p in got if t == b"C"]
    errs = [fields(p).get("M") for t, p in got if t == b"E"]
    assert not errs and tags == ["INSERT 0 1"] * n, (tags, errs)

def one(port, sql):
    c = login(port)
    c.query(sql)
    got = c.read_until()
    c.close()
    errs = [fields(p).get("M") for t, p in got if t == b"E"]
    assert not errs, (sql, errs)
    return [p[6:].decode() for t, p in got if t == b"D"]

def rows(first, n, fmt="%d"):
    return [(str(i), fmt % i) for i in range(first, first + n)]

a = login(pooler)

# a trigger created on a direct connection: obeyed after the TTL
pipeline(a, "bc_t", rows(1, 10))
pipeline(a, "bc_t", rows(11, 10))
one(direct, "create trigger bc_t_st after insert on bc_t for each statement execute function bc_stmt()")
time.sleep(TTL + 0.5)
pipeline(a, "bc_t", rows(21, 10))
print("direct ddl, after the ttl: bc_t trigger fired %s times for 10 rows" %
      one(direct, "select count(*) from bc_log where t = 'bc_t'")[0])

# the same through the pooler by another client: obeyed at once
pipeline(a, "bc_u", rows(1, 10))
pipeline(a, "bc_u", rows(11, 10))
one(pooler, "create trigger bc_u_st after insert on bc_u for each statement execute function bc_stmt()")
pipeline(a, "bc_u", rows(21, 10))
print("pooler ddl, at once: bc_u trigger fired %s times for 10 rows" %
      one(direct, "select count(*) from bc_log where t = 'bc_u'")[0])

# DDL through the pooler inside a transaction: a batch of a prepared
# statement sent before its COMMIT is checked before it (its INSERT then
# waits for the DDL's lock); the next one after the COMMIT must see the
# trigger.  (An unnamed Parse in the batch would wait for the lock first.)
pipeline(a, "bc_v", rows(1, 10), name="v1")
b = login(pooler)
for q in ("begin", "create trigger bc_v_st after insert on bc_v for each statement execute function bc_stmt()"):
    b.query(q); b.read_until()
pipeline(a, "bc_v", rows(11, 10), read=False, name="v1", parse=False)
time.sleep(0.3)
b.query("commit"); b.read_until(); b.close()
check_batch(a, 10)
before = int(one(direct, "select count(*) from bc_log where t = 'bc_v'")[0])
pipeline(a, "bc_v", rows(21, 10), name="v1", parse=False)
print("pooler ddl in a transaction, after its commit: bc_v trigger fired %d times for 10 rows" %
      (int(one(direct, "select count(*) from bc_log where t = 'bc_v'")[0]) - before))

# insert_batch_form = unnest: a column type changed on a direct connection
pipeline(a, "bc_ty", rows(1, 10))     # learns the column types (as VALUES)
pipeline(a, "bc_ty", rows(11, 10))    # unnest($2::integer[])
one(direct, "alter table bc_ty alter column v type text")
time.sleep(TTL + 0.5)
pipeline(a, "bc_ty", rows(21, 10, "%03d"))
pipeline(a, "bc_ty", rows(31, 10, "%03d"))
print("type change: stored %s" %
      one(direct, "select string_agg(v, ',' order by id) from bc_ty where id in (21, 22, 31, 40)")[0])
a.close()
PY
) || fail "python client: $out"
echo "$out"
assert_contains "$out" "bc_t trigger fired 10 times for 10 rows" \
	"a statement trigger created directly fires once per row after insert_batch_catalog_ttl"
assert_contains "$out" "bc_u trigger fired 10 times for 10 rows" \
	"a statement trigger created through the pooler fires once per row at once"
assert_contains "$out" "bc_v trigger fired 10 times for 10 rows" \
	"a statement trigger created through the pooler in a transaction fires once per row after its COMMIT"
assert_contains "$out" "type change: stored 021,022,031,040" \
	"unnest form: a column changed to text stores the text sent"
n=$(padmin -F' ' -c "show batching" | awk '{s += $3} END {print s + 0}')
assert_ge "$n" 1 "rows were rewritten before the DDL (SHOW BATCHING rows: $n)"

# insert_coalescing: the same for concurrent autocommit INSERTs, the TTL
# as a [databases] key (the global one is the default minute)
stop_pooler
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 100ms" "ppdbttl = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb insert_batch_catalog_ttl=1"
out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import sys, time
from pgwire import Conn, fields

pooler, direct = int(sys.argv[1]), int(sys.argv[2])

def login(port):
    c = Conn(port); c.startup(database="ppdbttl" if port == pooler else "ppdb"); c.read_until(); return c

def one(port, sql):
    c = login(port)
    c.query(sql)
    got = c.read_until()
    c.close()
    assert not [t for t, p in got if t == b"E"], (sql, got)
    return [p[6:].decode() for t, p in got if t == b"D"]

cs = [login(pooler) for _ in range(8)]

def burst(table, first):
    """8 clients send one autocommit INSERT each at once"""
    for i, c in enumerate(cs):
        c.query("insert into %s (id, v) values (%d, 'x')" % (table, first + i))
    for c in cs:
        got = c.read_until()
        assert [p[:-1] for t, p in got if t == b"C"] == [b"INSERT 0 1"], got

for table, how in (("bc_c", "direct"), ("bc_cp", "pooler")):
    burst(table, 1)
    burst(table, 11)
    one(direct if how == "direct" else pooler,
        "create trigger %s_st after insert on %s for each statement execute function bc_stmt()" % (table, table))
    if how == "direct":
        time.sleep(1.5)
    burst(table, 21)
    print("%s ddl: %s trigger fired %s times for 8 rows" %
          (how, table, one(direct, "select count(*) from bc_log where t = '%s'" % table)[0]))
for c in cs:
    c.close()
PY
) || fail "python client: $out"
echo "$out"
assert_contains "$out" "bc_c trigger fired 8 times for 8 rows" \
	"coalescing: a statement trigger created directly fires once per row after the TTL"
assert_contains "$out" "bc_cp trigger fired 8 times for 8 rows" \
	"coalescing: a statement trigger created through the pooler fires once per row at once"
stats=$(padmin -F' ' -c "show coalescing")
read -r crows cstmts _ <<<"$stats"
assert_ge "${cstmts:-0}" 2 "rows were merged before the DDL (SHOW COALESCING: $stats)"
ddb -c "drop table bc_t, bc_u, bc_v, bc_ty, bc_c, bc_cp, bc_log; drop function bc_stmt()" >/dev/null
