"""prep_diff.py -- randomized differential test of the extended protocol
(issue 5): seeded random sequences of Parse/Bind/Describe/Execute/Close/
Flush/Sync (and simple queries: BEGIN, COMMIT, ROLLBACK, errors) over named
and unnamed statements and portals, from two interleaved clients, sent once
straight to PostgreSQL and once through the pooler (transaction pooling, a
pool small enough that the clients share server connections).  Each segment
(ending with a Sync, or a simple Query) is sent to both, the replies are read
up to ReadyForQuery and compared byte for byte.  Prints the seed and the first
difference; exit status 1 if there is one.

Usage: prep_diff.py POOLER_PORT DIRECT_PORT [SEED ...] [--segments N] [--verbose]
                   [--pipeline K] [--strict] [--more-sql]
       prep_diff.py POOLER_PORT DIRECT_PORT --cases | --perdb | --fresh | --discard
                   | --ddl | --reload POOLER_INI [--verbose]
(--verbose: on a difference, also every earlier segment of that client;
--pipeline K: K segments sent before their replies are read; a segment that
follows one which may still fail waits in the pooler for its replies, README,
"Errors in a pipeline"; --more-sql: DISCARD ALL, DEALLOCATE ALL, SET and
RESET search_path and a DROP TABLE IF EXISTS among the simple queries)
"""
import itertools
import random
import struct
import sys

from pgwire import Conn, cstr, fields

NAMES = ["", "s1", "s2", "s3"]
PORTALS = ["", "p1", "p2"]
# (text, parameter types): good, failing at parse, analysis or execution
QUERIES = [
    ("select 1", ()),
    ("select 2 as two", ()),
    ("select $1::int + 1", (23,)),
    ("select $1::int + 1", ()),
    ("select $1::text || $2::text", ()),
    # volatile, so that 10 / 0 fails at Execute: folded into a custom plan
    # it would fail at Bind, and when the plan cache switches to a generic
    # plan differs between a direct connection and the pooler's shared,
    # re-prepared server-side statements (README, "Known differences")
    ("select 10 / ($1::int + (random() * 0)::int)", ()),
    ("select generate_series(1, 3) as g", ()),
    ("selec 1", ()),
    ("select * from pp_no_such_table", ()),
    ("select $2::int", (23,)),
    ("begin", ()),
    ("commit", ()),
    ("rollback", ()),
    ("", ()),
    ("values (1, 'a'), (2, 'b')", ()),
    # no rows, one parameter (a Describe of it answers in a failed
    # transaction); "begin" above is transaction control that does not end
    # one, "commit" one that does
    ("insert into pp_prep_fail values ($1)", ()),
    ("insert into pp_prep_fail values ($1::int + $2)", (23,)),
]
STRICT = False             # --strict: tolerate no difference
SIMPLE = ["begin", "commit", "rollback", "select 1", "select 1/0", "selec",
          "select 'x' as y; select 2"]
VALUES = ["1", "0", "7", "x", None]
# --more-sql: simple queries that change what the pooler tracks (its server
# caches and rows probe, the clients' names and search_path, DDL that makes
# its statements new ones) without changing what any text means; the DDL
# takes no lock (it finds no table), so that one side's open transaction
# never holds up the other's
MORE_SIMPLE = ["discard all", "deallocate all", "set search_path = public, pg_catalog",
               "reset search_path", "drop table if exists pp_prep_none"]


def msg(typ, payload=b""):
    return typ + struct.pack("!i", len(payload) + 4) + payload


def m_parse(rng):
    name = rng.choice(NAMES)
    sql, types = rng.choice(QUERIES)
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
               b"".join(struct.pack("!i", t) for t in types))


def m_bind(rng):
    n = rng.choice([0, 1, 1, 1, 2])
    body = cstr(rng.choice(PORTALS)) + cstr(rng.choice(NAMES)) + struct.pack("!hh", 0, n)
    for _ in range(n):
        v = rng.choice(VALUES)
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v.encode()
    return msg(b"B", body + struct.pack("!h", 0))


def m_describe(rng):
    if rng.random() < 0.5:
        return msg(b"D", b"S" + cstr(rng.choice(NAMES)))
    return msg(b"D", b"P" + cstr(rng.choice(PORTALS)))


def m_execute(rng):
    return msg(b"E", cstr(rng.choice(PORTALS)) + struct.pack("!i", rng.choice([0, 0, 0, 2])))


def m_close(rng):
    if rng.random() < 0.6:
        return msg(b"C", b"S" + cstr(rng.choice(NAMES)))
    return msg(b"C", b"P" + cstr(rng.choice(PORTALS)))


def segment(rng):
    """One client request ending with a Sync (or one simple Query)."""
    if rng.random() < 0.12:
        return msg(b"Q", cstr(rng.choice(SIMPLE))), "Q"
    out, kinds = b"", []
    for _ in range(rng.randint(1, 6)):
        k = rng.choices("PBDECH", weights=[5, 5, 2, 4, 2, 1])[0]
        out += {"P": m_parse, "B": m_bind, "D": m_describe, "E": m_execute,
                "C": m_close, "H": lambda r: msg(b"H")}[k](rng)
        kinds.append(k)
    return out + msg(b"S"), "".join(kinds) + "S"


def login(port):
    c = Conn(port)
    c.startup()
    c.read_until()
    return c


def known_difference(before, direct, pooler, sent=None):
    """A documented difference (README, "Known differences"): in a
    transaction that has already failed, a Describe of a statement the
    server connection does not have, and that the pooler has not seen
    described before, gets 25P02 from the Parse the pooler sends first,
    where PostgreSQL describes statements that return no rows and refuses
    the others from exec_describe_statement_message.  (A Bind is answered as
    PostgreSQL answers it, scenario 34.)"""
    if STRICT or before != b"E" or direct[-1:] != pooler[-1:]:
        return None
    if sent is not None and not any(m[:1] == b"D" and m[5:6] == b"S" for m in split_msgs(sent)):
        return None
    why = "25P02 from the Parse before a Describe in a failed transaction"

    def ours(p):
        f = fields(p)
        return f.get("C") == "25P02" and f.get("R") == "exec_parse_message"
    errs = [p for t, p in pooler if t == b"E"]
    if len(errs) == 1 and ours(errs[0]):
        return why
    return None


def split_msgs(data):
    """The messages of a byte string sent."""
    out = []
    while data:
        n = struct.unpack("!i", data[1:5])[0]
        out.append(data[:1 + n])
        data = data[1 + n:]
    return out


def by_segment(msgs):
    """Replies cut after each ReadyForQuery."""
    out, cur = [], []
    for m in msgs:
        cur.append(m)
        if m[0] == b"Z":
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])


def known_first_difference(before, direct, pooler, sent):
    """known_difference() of the first segment whose replies differ (the
    later ones may follow from it), with the status before that segment."""
    for d, p in zip(by_segment(direct), by_segment(pooler)):
        if d != p:
            return known_difference(before, d, p, sent)
        before = d[-1][1]
    return None


def show(msgs):
    return [(t.decode() if t else None, p) for t, p in msgs]


def run_seed(pooler, direct, seed, segments, verbose=False, pipeline=1):
    rng = random.Random(seed)
    setup = login(direct)
    setup.query(CASE_TABLE)
    setup.read_until()
    setup.close()
    conns = {"direct": [login(direct), login(direct)], "pooler": [login(pooler), login(pooler)]}
    status = [b"I", b"I"]
    tolerated = {}
    history = [[], []]          # per client: (segment, direct replies) since login
    try:
        for i in range(segments):
            # a client in a transaction holds the pooler's only server: the
            # other one waits, so the next request is that client's
            busy = [k for k in (0, 1) if status[k] != b"I"]
            who = busy[0] if busy else rng.randint(0, 1)
            data, kinds = segment(rng)
            for _ in range(pipeline - 1):
                d, k = segment(rng)
                data, kinds = data + d, kinds + "|" + k
            got = {}
            for side in ("direct", "pooler"):
                c = conns[side][who]
                c.send(data)
                got[side] = []
                for _ in range(pipeline):
                    got[side] += c.read_until(timeout=10.0)
            why = got["direct"] != got["pooler"] and \
                known_first_difference(status[who], got["direct"], got["pooler"], data)
            if why:
                # the two sides' statements may differ from here: start over
                tolerated[why] = tolerated.get(why, 0) + 1
                for side, port in (("direct", direct), ("pooler", pooler)):
                    for c in conns[side]:
                        c.close()
                    conns[side] = [login(port), login(port)]
                status = [b"I", b"I"]
                history = [[], []]
                continue
            if got["direct"] != got["pooler"]:
                for n, (a, b) in enumerate(zip(got["direct"], got["pooler"])):
                    if a != b:
                        break
                else:
                    n = min(len(got["direct"]), len(got["pooler"]))
                print("seed %d: DIFFERENT at segment %d (client %d, %s), reply %d" %
                      (seed, i, who, kinds, n))
                print("  sent:  ", data)
                print("  direct:", show(got["direct"]))
                print("  pooler:", show(got["pooler"]))
                if verbose:
                    print("  client %d before, with the direct replies:" % who)
                    for d, r in history[who]:
                        print("    ", d, [(t.decode(), p[:70]) for t, p in r])
                return False
            history[who].append((data, got["direct"]))
            last = got["direct"][-1]
            if last[0] != b"Z":
                print("seed %d: connection lost at segment %d" % (seed, i))
                return False
            status[who] = last[1]
        print("seed %d: %d segments same" % (seed, segments))
        for why, n in tolerated.items():
            print("  known difference, %d time(s): %s" % (n, why))
        return True
    finally:
        for side in conns.values():
            for c in side:
                c.close()


# ---- directed cases: a Bind or Describe of a statement the server connection
# lacks, in a transaction that has failed (README, "Known differences")

CASE_TABLE = "create table if not exists pp_prep_fail (v int)"
CASE_TEXTS = [
    ("select $1::int + 1", ()),                 # rows, 1 parameter
    ("insert into pp_prep_fail values ($1)", ()),   # no rows, 1 parameter
    ("begin", ()),                              # no rows, refused when failed
    ("commit", ()),                             # ends the transaction
    ("select $2::int", (23,)),                  # 2 parameters, one declared
    ("select '$3', $1::int /* $4 */ -- $5\n", ()),   # 1 parameter
]


def m_parse_named(name, sql, types=()):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
               b"".join(struct.pack("!i", t) for t in types))


def m_bind_n(name, n, fmt=()):
    body = cstr("") + cstr(name) + struct.pack("!h", len(fmt)) + \
        b"".join(struct.pack("!h", f) for f in fmt) + struct.pack("!h", n)
    for _ in range(n):
        body += struct.pack("!i", 1) + b"5"
    return msg(b"B", body + struct.pack("!h", 0))


def cases():
    """(label, segments): each segment is sent and its replies read (a list
    of segments in one item: sent together, pipelined)."""
    sync, out = msg(b"S"), []
    uniq = itertools.count(1000)
    fail_ext = m_parse_named("", "select 1/0") + m_bind_n("", 0) + msg(b"E", cstr("") + b"\0\0\0\0") + sync
    for sql, types in CASE_TEXTS:
        for learn in (False, True):
            prep = m_parse_named("s1", sql, types) + \
                (msg(b"D", b"S" + cstr("s1")) if learn else b"") + sync
            # three more statements: s1 leaves the server's cache of 3
            # (f2 described: a statement the server has that returns rows)
            evict = b"".join(m_parse_named("f%d" % k, "select %d" % (100 + k)) for k in range(3)) + \
                msg(b"D", b"S" + cstr("f2")) + sync
            probes = [("bind %d" % n, m_bind_n("s1", n) + sync) for n in (0, 1, 2)]
            probes.append(("bind 1 binary", m_bind_n("s1", 1, (1,)) + sync))
            probes.append(("describe", msg(b"D", b"S" + cstr("s1")) + sync))
            for pname, probe in probes:
                for piped in (False, True):
                    body = [prep, evict, msg(b"Q", cstr("begin"))]
                    body += [[fail_ext, probe]] if piped else [fail_ext, probe]
                    body.append(msg(b"Q", cstr("rollback")))
                    out.append(("%r%s, %s%s" % (sql, types or "", pname,
                                                 ", described" if learn else "") +
                                (", pipelined" if piped else ""), body))
            # the server's cache holds only statements without rows (three
            # INSERTs evict s1), the transaction failed by a simple query
            # (texts new to the pooler in each case, so that they evict)
            ins = b"".join(m_parse_named("i%d" % k, "insert into pp_prep_fail values (%d)" %
                                         next(uniq)) for k in range(3)) + sync
            # an earlier segment unanswered: it binds z, which the server
            # has (no Parse in it, so nothing waits), and fails at Bind or
            # Execute; s1 left the cache of 3 (s1, z, i0, i1)
            prep_z = m_parse_named("s1", sql, types) + \
                (msg(b"D", b"S" + cstr("s1")) if learn else b"") + \
                m_parse_named("z", "select 10 / $1::int") + sync
            ins2 = b"".join(m_parse_named("i%d" % k, "insert into pp_prep_fail values (%d)" %
                                          next(uniq)) for k in range(2)) + sync
            fail_z = m_bind_zero("z") + msg(b"E", cstr("") + b"\0\0\0\0") + sync
            for pname, probe in probes[1:2] + probes[4:]:
                out.append(("%r%s, %s%s, no rows cached" % (sql, types or "", pname,
                                                          ", described" if learn else ""),
                            [prep, ins, msg(b"Q", cstr("begin")), msg(b"Q", cstr("select 1/0")),
                             probe, msg(b"Q", cstr("rollback"))]))
                out.append(("%r%s, %s%s, after an unanswered Bind" %
                            (sql, types or "", pname, ", described" if learn else ""),
                            [prep_z, ins2, msg(b"Q", cstr("begin")), [fail_z, probe],
                             msg(b"Q", cstr("rollback"))]))
    return out


def m_bind_zero(name):
    """Bind of `name` to the unnamed portal with one text parameter, 0."""
    return msg(b"B", cstr("") + cstr(name) + struct.pack("!hhi", 0, 1, 1) + b"0" +
               struct.pack("!h", 0))


def send_body(port, body, user="postgres", database="ppdb", hooks=None):
    """Log in, send each item of `body` (a list of segments in one item:
    sent together, pipelined) and read its replies; the replies per segment.
    hooks: {item index: function(port)} called before that item is sent."""
    c = Conn(port)
    c.startup(user=user, database=database)
    c.read_until()
    out = []
    for i, item in enumerate(body):
        if hooks and i in hooks:
            hooks[i](port)
        parts = item if isinstance(item, list) else [item]
        c.send(b"".join(parts))
        for _ in parts:
            out.append(c.read_until(timeout=10.0))
    c.close()
    return out


def same_body(label, pooler, direct, body, verbose=False, detail=True, hooks=None,
              **login_as):
    """send_body() to both sides; True if the replies are the same, else
    prints the label (and, with `detail`, the segments that differ)."""
    got = {side: send_body(port, body, hooks=hooks, **login_as)
           for side, port in (("direct", direct), ("pooler", pooler))}
    if got["direct"] == got["pooler"]:
        if verbose:
            print("same:", label)
        return True
    print("DIFFERENT:", label)
    for d, p in zip(got["direct"], got["pooler"]):
        if d != p and (detail or verbose):
            print("  direct:", show(d))
            print("  pooler:", show(p))
    return False


def run_cases(pooler, direct, verbose=False):
    setup = login(direct)
    setup.query(CASE_TABLE)
    setup.read_until()
    setup.close()
    bad = 0
    for label, body in cases():
        if not same_body(label, pooler, direct, body, verbose, detail=bad < 3):
            bad += 1
    print("cases: %d, different: %d" % (len(cases()), bad))
    return bad == 0


# ---- a server connection that never had a Parse (scenario 35): client A
# keeps a statement alive in the pooler, the pool's only server connection
# is terminated, client B prepares the same text (answered by the pooler,
# no server), fails a transaction on the new server connection with simple
# queries and describes the statement

def run_fresh(pooler, direct):
    sync, bad = msg(b"S"), 0
    for sql, types in CASE_TEXTS:
        keep = login(pooler)
        keep.send(m_parse_named("s1", sql, types) + msg(b"D", b"S" + cstr("s1")) + sync)
        keep.read_until()
        kill = login(direct)
        kill.query("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                   "where datname = 'ppdb' and pid <> pg_backend_pid() "
                   "and backend_type = 'client backend'")
        kill.read_until()
        kill.close()
        body = [m_parse_named("s1", sql, types) + sync, msg(b"Q", cstr("begin")),
                msg(b"Q", cstr("select 1/0")), msg(b"D", b"S" + cstr("s1")) + sync,
                msg(b"Q", cstr("rollback"))]
        if not same_body("%r on a new server connection" % sql, pooler, direct, body):
            bad += 1
        keep.close()
    print("new server connection cases: %d, different: %d" % (len(CASE_TEXTS), bad))
    return bad == 0


# ---- a DISCARD ALL from another client of the same server connection
# (scenario 41): client B prepares and describes a statement, client A's
# DISCARD ALL empties the pool's only server connection (the pooler's rows
# probe PGPLUMB_000 with it), then B fails a transaction and describes its
# statement.  On a direct connection A's DISCARD touches nothing of B's.

def discard_simple(port):
    c = login(port)
    c.query("discard all")
    c.read_until()
    c.close()


def discard_extended(port):
    c = login(port)
    c.send(m_parse_named("", "discard all") + m_bind_n("", 0) +
           msg(b"E", cstr("") + b"\0\0\0\0") + msg(b"S"))
    c.read_until()
    c.close()


def run_discard(pooler, direct, verbose=False):
    sync, bad, n = msg(b"S"), 0, 0
    fail_ext = m_parse_named("", "select 1/0") + m_bind_n("", 0) + \
        msg(b"E", cstr("") + b"\0\0\0\0") + sync
    describe = msg(b"D", b"S" + cstr("s1")) + sync
    for sql, types in CASE_TEXTS:
        for how, discard in (("simple", discard_simple), ("extended", discard_extended)):
            for fail in ("simple", "extended"):
                body = [m_parse_named("s1", sql, types) + describe, msg(b"Q", cstr("begin"))]
                body += [msg(b"Q", cstr("select 1/0"))] if fail == "simple" else [fail_ext]
                body += [describe, msg(b"Q", cstr("rollback")), describe]
                n += 1
                if not same_body("%r%s after another client's %s DISCARD ALL, failed by %s query"
                                 % (sql, types or "", how, fail), pooler, direct, body,
                                 verbose, hooks={1: discard}):
                    bad += 1
    print("discard cases: %d, different: %d" % (n, bad))
    return bad == 0


# ---- descriptions after DDL and for another search_path (scenario 42),
# one pool; a DDL hook runs on the side's own port (through the pooler on
# its side) or, for DDL the pooler does not see, always on the direct port

def sql_on(port, sql):
    c = login(port)
    c.query(sql)
    c.read_until()
    c.close()


def ddl_cases(direct):
    sync, out = msg(b"S"), []
    fail = msg(b"Q", cstr("select 1/0"))
    evict = b"".join(m_parse_named("f%d" % k, "select %d" % (200 + k)) for k in range(3)) + sync

    def describe(name):
        return msg(b"D", b"S" + cstr(name)) + sync

    def prep(name, sql):
        return m_parse_named(name, sql) + describe(name)

    for sql in ("insert into pp_ddl values ($1)", "select v from pp_ddl where v = $1"):
        # ALTER through the pooler: a Parse after it is parsed again
        out.append(("ALTER TABLE through the pooler, then %r" % sql,
                    [prep("s1", sql), prep("s2", sql), evict, msg(b"Q", cstr("begin")), fail,
                     describe("s2"), describe("s1"), msg(b"Q", cstr("rollback"))],
                    {0: lambda port: sql_on(port, "alter table pp_ddl alter v type int "
                                            "using null"),
                     1: lambda port: sql_on(port, "alter table pp_ddl alter v type text")}))
    for sql in ("insert into pp_sp values ($1)", "select v from pp_sp where v = $1"):
        # the client's own search_path finds another table
        out.append(("SET search_path, then %r" % sql,
                    [prep("s1", sql), msg(b"Q", cstr("set search_path = pp_ddl_s, public")),
                     prep("s2", sql), evict, msg(b"Q", cstr("begin")), fail, describe("s2"),
                     describe("s1"), msg(b"Q", cstr("rollback")),
                     msg(b"Q", cstr("reset search_path")), prep("s3", sql)], {}))
    # DDL the pooler does not see: 0A000 at the next Bind, and the
    # statement prepared again works
    run = m_bind_n("s1", 0) + msg(b"E", cstr("") + b"\0\0\0\0") + sync
    for reprep in ("same name", "another name"):
        # a table of its own: no statement is shared with the case before
        table = "pp_ddl2_" + reprep.split()[0]
        q = "select v from " + table
        name2 = "s1" if reprep == "same name" else "s2"
        again = (msg(b"C", b"S" + cstr("s1")) if name2 == "s1" else b"") + \
            m_parse_named(name2, q) + m_bind_n(name2, 0) + msg(b"E", cstr("") + b"\0\0\0\0") + sync
        out.append(("ALTER TABLE on a direct connection, prepared again under %s" %
                    ("the " + reprep if name2 == "s1" else reprep),
                    [m_parse_named("s1", q) + run, run, again, run],
                    {0: lambda port, t=table: sql_on(direct, "alter table %s alter v type int "
                                                     "using 1" % t),
                     1: lambda port, t=table: sql_on(direct, "alter table %s alter v type text"
                                                     % t)}))
    return out


def run_ddl(pooler, direct, verbose=False):
    sql_on(direct, "set client_min_messages = warning; "
           "drop schema if exists pp_ddl_s cascade; create schema pp_ddl_s; "
           "drop table if exists pp_sp; create table pp_sp (v int); "
           "create table pp_ddl_s.pp_sp (v date); "
           "drop table if exists pp_ddl; create table pp_ddl (v int); "
           "drop table if exists pp_ddl2_same; create table pp_ddl2_same (v int); "
           "insert into pp_ddl2_same values (1); "
           "drop table if exists pp_ddl2_another; create table pp_ddl2_another (v int); "
           "insert into pp_ddl2_another values (1)")
    bad, cs = 0, ddl_cases(direct)
    for label, body, hooks in cs:
        if not same_body(label, pooler, direct, body, verbose, hooks=hooks):
            bad += 1
    print("ddl cases: %d, different: %d" % (len(cs), bad))
    return bad == 0


# ---- a RELOAD that points the database entry ppdb at another database
# (scenario 43): a client connected before prepares a text, the entry is
# changed to dbname=ppdb2 (pp_reload is int in ppdb, text in ppdb2) and
# reloaded, and the client prepares the same text again and describes it,
# also in a failed transaction.  Compared with a direct connection to ppdb2
# that sends what the client sends after the reload.

def set_entry(pooler, ini, dbname):
    """Point the [databases] entry ppdb at `dbname` and RELOAD."""
    import re
    with open(ini) as f:
        text = f.read()
    text = re.sub(r"(?m)^(ppdb = .*dbname=)\S+", lambda m: m.group(1) + dbname, text)
    with open(ini, "w") as f:
        f.write(text)
    admin = Conn(pooler)
    admin.startup(user="postgres", database="pgbouncer")
    admin.read_until()
    admin.query("RELOAD")
    admin.read_until()
    admin.close()


def run_reload(pooler, direct, ini):
    sync = msg(b"S")
    out = []
    describe = msg(b"D", b"S" + cstr("s2")) + sync
    evict = b"".join(m_parse_named("f%d" % k, "select %d" % (300 + k)) for k in range(3)) + sync
    for sql in ("insert into pp_reload values ($1)", "select v from pp_reload where v = $1"):
        set_entry(pooler, ini, "ppdb")
        client = login(pooler)
        client.send(m_parse_named("s1", sql) + msg(b"D", b"S" + cstr("s1")) + sync)
        client.read_until()
        set_entry(pooler, ini, "ppdb2")
        body = [m_parse_named("s2", sql) + describe, evict, msg(b"Q", cstr("begin")),
                msg(b"Q", cstr("select 1/0")), describe, msg(b"Q", cstr("rollback")), describe]
        got = []
        for item in body:
            client.send(item)
            got.append(client.read_until(timeout=10.0))
        client.close()
        want = send_body(direct, body, database="ppdb2")
        label = "%r prepared again after a RELOAD from ppdb to ppdb2" % sql
        if got == want:
            print("same:", label)
        else:
            print("DIFFERENT:", label)
            for d, p in zip(want, got):
                if d != p:
                    print("  direct:", show(d))
                    print("  pooler:", show(p))
        out.append(got == want)
    print("reload cases: %d, different: %d" % (len(out), out.count(False)))
    return all(out)


# ---- the same text in pools whose tables differ (scenario 40): identities
# (database, user) in order; pp_perdb is int in ppdb, text in ppdb2, date in
# the schema that pp_perdb_u's search_path finds first

PERDB_IDS = [("ppdb", "postgres"), ("ppdb2", "postgres"), ("ppdb", "pp_perdb_u")]
PERDB_TEXTS = ["insert into pp_perdb values ($1)",
               "select v from pp_perdb where v = $1"]


def perdb_cases():
    sync, out = msg(b"S"), []
    fail_ext = m_parse_named("", "select 1/0") + m_bind_n("", 0) + \
        msg(b"E", cstr("") + b"\0\0\0\0") + sync
    describe = msg(b"D", b"S" + cstr("s1")) + sync
    evict = b"".join(m_parse_named("f%d" % k, "select %d" % (100 + k)) for k in range(3)) + sync
    for sql in PERDB_TEXTS:
        for piped in (False, True):
            for ident in PERDB_IDS:
                body = [m_parse_named("s1", sql) + describe, describe, evict,
                        msg(b"Q", cstr("begin"))]
                body += [[fail_ext, describe]] if piped else [fail_ext, describe]
                body.append(msg(b"Q", cstr("rollback")))
                body.append(describe)   # not failed: the server has it again
                out.append(("%s/%s %r%s" % (ident[0], ident[1], sql,
                                            ", pipelined" if piped else ""), ident, body))
    return out


def run_perdb(pooler, direct, verbose=False):
    bad, cs = 0, perdb_cases()
    for label, (db, user), body in cs:
        if not same_body(label, pooler, direct, body, verbose, user=user, database=db):
            bad += 1
    print("perdb cases: %d, different: %d" % (len(cs), bad))
    return bad == 0


def main():
    args = sys.argv[1:]
    segments = 300
    if "--segments" in args:
        k = args.index("--segments")
        segments = int(args[k + 1])
        del args[k:k + 2]
    verbose = "--verbose" in args
    pipeline = 1
    if "--pipeline" in args:
        k = args.index("--pipeline")
        pipeline = int(args[k + 1])
        del args[k:k + 2]
    args = [a for a in args if a != "--verbose"]
    if "--more-sql" in args:
        args.remove("--more-sql")
        SIMPLE.extend(MORE_SIMPLE)
    if "--fresh" in args:
        args.remove("--fresh")
        sys.exit(0 if run_fresh(int(args[0]), int(args[1])) else 1)
    if "--discard" in args:
        args.remove("--discard")
        sys.exit(0 if run_discard(int(args[0]), int(args[1]), verbose) else 1)
    if "--ddl" in args:
        args.remove("--ddl")
        sys.exit(0 if run_ddl(int(args[0]), int(args[1]), verbose) else 1)
    if "--reload" in args:
        k = args.index("--reload")
        ini = args[k + 1]
        del args[k:k + 2]
        sys.exit(0 if run_reload(int(args[0]), int(args[1]), ini) else 1)
    if "--perdb" in args:
        args.remove("--perdb")
        sys.exit(0 if run_perdb(int(args[0]), int(args[1]), verbose) else 1)
    cases_mode = "--cases" in args
    global STRICT
    STRICT = "--strict" in args
    args = [a for a in args if a != "--strict"]
    args = [a for a in args if a != "--cases"]
    pooler, direct = int(args[0]), int(args[1])
    if cases_mode:
        sys.exit(0 if run_cases(pooler, direct, verbose) else 1)
    seeds = [int(s) for s in args[2:]] or [1, 2, 3]
    ok = all([run_seed(pooler, direct, s, segments, verbose, pipeline) for s in seeds])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
