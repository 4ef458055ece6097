#!/usr/bin/python3
"""Differential test client for batch-insert rewriting.

Sends the same protocol message sequences to two or more targets (host:port),
records every reply the client sees -- message type and content: command
tags, rows, row descriptions, error fields, ReadyForQuery status -- and the
final table contents, and compares every target with the first (direct
PostgreSQL).  Exit status 0 when all are identical, 1 otherwise.

Connections are opened with psycopg (so authentication is libpq's), then the
script speaks the v3 protocol itself on the connection's socket so that it
controls each message exactly (pipelining, Describe, Flush, formats).

    batch_diff.py [--list] [--only NAME] [--implicit-only | --session-only] HOST:PORT ...
--implicit-only skips the scenarios with a transaction block (statement pooling).
    batch_diff.py --unnest-check DIRECT TARGET [no]
checks that TARGET (session pooling, insert_batch_form = unnest) stores
tricky text values exactly through the unnest form (with "no": that it
does not use the form).
    batch_diff.py --stream-check DIRECT TARGET [SECONDS]
checks that TARGET (insert_batch_stream_rows <= 3) sends the replies of a
run's first statements before a later row of the run completes (waiting at
most SECONDS, 10, for them).
--session-only runs only the scenarios that need session pooling (LISTEN),
which the other runs skip.
Environment: PGUSER, PGPASSWORD, PGDATABASE as for libpq.
"""
import os
import random
import socket
import struct
import sys

import psycopg

TIMEOUT = 20.0

# ---- messages ----


def _msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def _s(x):
    return x.encode() + b"\0"


def parse(sql, name="", types=()):
    return _msg(b"P", _s(name) + _s(sql) + struct.pack("!H", len(types)) +
                b"".join(struct.pack("!I", t) for t in types))


def bind(params, stmt="", fmts=(), resfmts=()):
    body = _s("") + _s(stmt) + struct.pack("!H", len(fmts))
    body += b"".join(struct.pack("!H", f) for f in fmts)
    body += struct.pack("!H", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            v = p if isinstance(p, bytes) else str(p).encode()
            body += struct.pack("!I", len(v)) + v
    body += struct.pack("!H", len(resfmts)) + b"".join(struct.pack("!H", f) for f in resfmts)
    return _msg(b"B", body)


def describe_portal():
    return _msg(b"D", b"P" + _s(""))


def describe_stmt(name=""):
    return _msg(b"D", b"S" + _s(name))


def execute():
    return _msg(b"E", _s("") + struct.pack("!I", 0))


def sync():
    return _msg(b"S")


def query(sql):
    return _msg(b"Q", _s(sql))


def rows(sql, values, describe=True, stmt=""):
    """Bind [Describe] Execute for each row of values."""
    out = []
    for v in values:
        out.append(bind(v, stmt))
        if describe:
            out.append(describe_portal())
        out.append(execute())
    return out


# ---- reading replies ----

def _fields(body):
    out = []
    i = 0
    while i < len(body) and body[i] != 0:
        j = body.index(b"\0", i + 1)
        out.append((chr(body[i]), body[i + 1:j].decode()))
        i = j + 1
    return out


def decode(t, body):
    """A comparable record of one backend message."""
    if t in "12357nsI":
        return (t,)
    if t == "C":
        return (t, body[:-1].decode())
    if t == "Z":
        return (t, chr(body[0]))
    if t in "EN":
        return (t, tuple(_fields(body)))
    if t == "D":
        n = struct.unpack("!H", body[:2])[0]
        vals, i = [], 2
        for _ in range(n):
            ln = struct.unpack("!i", body[i:i + 4])[0]
            i += 4
            if ln < 0:
                vals.append(None)
            else:
                vals.append(body[i:i + ln].hex() if False else body[i:i + ln].decode("latin1"))
                i += ln
        return (t, tuple(vals))
    if t == "T":
        n = struct.unpack("!H", body[:2])[0]
        cols, i = [], 2
        for _ in range(n):
            j = body.index(b"\0", i)
            name = body[i:j].decode()
            tab, att, typ, sz, mod, fmt = struct.unpack("!IhIhih", body[j + 1:j + 19])
            cols.append((name, tab, att, typ, sz, mod, fmt))
            i = j + 19
        return (t, tuple(cols))
    if t == "t":
        n = struct.unpack("!H", body[:2])[0]
        return (t, struct.unpack("!%dI" % n, body[2:2 + 4 * n]))
    return (t, body.hex())


class Conn:
    def __init__(self, hostport):
        host, port = hostport.rsplit(":", 1)
        self.pg = psycopg.connect(host=host, port=port, sslmode="disable",
                                  autocommit=True, connect_timeout=10)
        self.sock = socket.socket(fileno=os.dup(self.pg.pgconn.socket))
        self.sock.settimeout(TIMEOUT)
        self.buf = b""

    def send(self, msgs):
        self.sock.sendall(b"".join(msgs))

    def _read_msg(self):
        while True:
            if len(self.buf) >= 5:
                ln = struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) >= 1 + ln:
                    t, body = chr(self.buf[0]), self.buf[5:1 + ln]
                    self.buf = self.buf[1 + ln:]
                    return t, body
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("connection closed by target")
            self.buf += data

    def until_ready(self, n=1, asynchronous=False):
        """Replies up to and including the n-th ReadyForQuery.  ParameterStatus
        and notifications are left out unless `asynchronous` (then a
        notification is recorded without the sender's process id)."""
        out = []
        while n > 0:
            t, body = self._read_msg()
            if t == "A" and asynchronous:
                out.append((t, tuple(body[4:].split(b"\0")[:2])))
                continue
            if t == "S" and asynchronous:
                out.append((t, tuple(body.split(b"\0")[:2])))
                continue
            if t == "S" or t == "A":
                continue  # not part of the comparison
            out.append(decode(t, body))
            if t == "Z":
                n -= 1
        return out

    def close(self):
        self.sock.close()
        self.pg.close()


# ---- scenarios ----
# Each is a list of steps (messages, number of ReadyForQuery to wait for).

INS = "INSERT INTO bt (id, v) VALUES ($1, $2)"
INS_RET = "INSERT INTO bt (id, v) VALUES ($1, $2) RETURNING id, v"
INS_NOTHING = "INSERT INTO bt (id, v) VALUES ($1, $2) ON CONFLICT DO NOTHING"
INS_UPDATE = ("INSERT INTO bt (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE "
              "SET v = EXCLUDED.v")
INS_SERIAL = "INSERT INTO bs (k, v) VALUES ($1, $2) RETURNING id, k"


def vals(ids, v="x"):
    return [(i, "%s%s" % (v, i)) for i in ids]


INS_U = "INSERT INTO bu (id, t) VALUES ($1, $2)"
INS_UT = "INSERT INTO bu (id, t, c, vc, n, ts, e, j, r, bits) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
INS_U2 = "INSERT INTO bu2 (id, a, dm, bx) VALUES ($1, $2, $3, $4)"
TRICKY = [(100 + i, v) for i, v in enumerate([
    'say "hi"', "back\\slash", "both \\\" and \\", None, "", "NULL", "null", " lead", "trail ",
    "  ", "{braces}", "a,b,c", "{1,2}", "\u00e9t\u00e9 \u65e5\u672c", "\"",
    "\\", "tab\there", "new\nline", "'single'", "}{", "NUL", "\\\u00e9 back and non-ASCII"])]
UT_ROWS = [(1, "a", "ab", "abc", "1.555", "2024-02-29 12:00", "a", '{"k": "v"}', "[1,5)", "101"),
           (2, 'q"q', "a b ", "ab   ", "-0.005", "epoch", "b c", '{"k": "a\\"b", "l": [1, "}"]}', "empty", "000"),
           (3, None, None, None, None, None, 'd"e', "null", "(,)", None),
           (4, "x", "", "", "0", "infinity", "a", '"str"', "[3,3]", "111"),
           (9, "\u00e9", "\u00e9", "\u00e9\u00e9", "12.3", "2000-01-01", "b c", '[]', "(1,2]", "010")]


def seg(sql, values, describe=True, extra=()):
    return ([parse(sql)] + rows(sql, values, describe) + list(extra) + [sync()], 1)


def literal_strings(seed, n):
    """n multi-statement INSERT strings into blit with literals of random forms
    (a fixed seed: the same strings every run): most columns repeat one kind
    of literal, so that many strings go as parameters; the others fail or
    keep their literals."""
    rnd = random.Random(seed)
    forms = ["NULL", "TRUE", "false", "0", "-17", "32767", "2147483647", "2147483648",
             "-2147483648", "9223372036854775808", "1.5", "-.25", "1e3", "5.", "007",
             "'x'", "'it''s'", "''", "'12'", "'2024-02-29'", "'{\"k\": [1]}'", "'a\\b'"]
    cols = ["i", "b", "n", "t", "f", "d", "j"]
    steps = []
    for k in range(n):
        cs = rnd.sample(cols, rnd.randint(1, 3))
        base = [rnd.choice(forms) for _ in cs]
        rows = ["INSERT INTO blit (id, %s) VALUES (%d, %s)" %
                (", ".join(cs), 10 * k + r,
                 ", ".join(b if rnd.random() < 0.85 else rnd.choice(forms) for b in base))
                for r in range(rnd.randint(2, 4))]
        steps.append(([query("; ".join(rows))], 1))
    return steps


SCENARIOS = {
    "success_implicit": [seg(INS, vals(range(1, 6)))],
    "success_no_describe": [seg(INS, vals(range(1, 9)), describe=False)],
    "dup_row1_existing": [seg(INS, vals([1])), seg(INS, vals([1, 2, 3, 4]))],
    "dup_middle": [seg(INS, vals([1, 2, 3, 2, 5]))],
    # after the first segment the table is known to be plain: no row-count
    # guard, the Sync goes with the segment, and the error still replays
    "unguarded_error_later_segment": [seg(INS, vals([1, 2])), seg(INS, vals([3, 4, 3, 5])),
                                      seg(INS, vals([6, 7]), describe=False),
                                      seg(INS_NOTHING, vals([7, 8, 9]))],
    "dup_last": [seg(INS, vals([1, 2, 3, 4, 1]))],
    "not_null": [seg(INS, [(1, "a"), (2, "b"), (3, None), (4, "d")])],
    "bad_input_syntax": [seg(INS, [(1, "a"), ("abc", "b"), (3, "c")])],
    "returning": [seg(INS_RET, vals(range(1, 5)))],
    "returning_error_middle": [seg(INS_RET, vals([1, 2, 1, 4]))],
    "serial_returning": [seg(INS_SERIAL, [(10, "a"), (20, "b"), (30, "c")])],
    "on_conflict_nothing_no_hit": [seg(INS_NOTHING, vals([1, 2, 3]))],
    "on_conflict_nothing_hit": [seg(INS, vals([2])), seg(INS_NOTHING, vals([1, 2, 3]))],
    "on_conflict_nothing_dup_in_batch": [seg(INS_NOTHING, vals([1, 2, 1, 3]))],
    "on_conflict_update_twice": [seg(INS_UPDATE, [(1, "a"), (2, "b"), (1, "c")])],
    "on_conflict_update_existing": [seg(INS, vals([2])), seg(INS_UPDATE, vals([1, 2, 3], "y"))],
    "explicit_commit": [([query("BEGIN")], 1), seg(INS, vals(range(1, 5))),
                        seg(INS, vals(range(5, 8))), ([query("COMMIT")], 1)],
    "explicit_error_then_commit": [([query("BEGIN")], 1), seg(INS, vals([1, 2])),
                                   seg(INS, vals([3, 4, 3, 5])), ([query("COMMIT")], 1)],
    "explicit_error_rollback": [([query("BEGIN")], 1), seg(INS, vals([1, 2, 2])),
                                ([query("ROLLBACK")], 1), seg(INS, vals([7, 8]))],
    "explicit_pipelined_begin": [([query("BEGIN")] + [parse(INS)] +
                                  rows(INS, vals([1, 2, 3])) + [sync(), query("COMMIT")], 3)],
    "mixed_select_after": [seg(INS, vals([1, 2, 3]),
                               extra=[parse("SELECT count(*), max(v) FROM bt"), bind([]),
                                      describe_portal(), execute()])],
    "mixed_select_before": [([parse("SELECT count(*) FROM bt"), bind([]), execute(),
                              parse(INS)] + rows(INS, vals([1, 2, 3])) + [sync()], 1)],
    "mixed_select_error_after_select": [seg(INS, vals([1, 1]),
                                            extra=[parse("SELECT 1/0"), bind([]), execute()])],
    "two_runs_one_segment": [([parse(INS)] + rows(INS, vals([1, 2])) +
                              [parse(INS_RET)] + rows(INS_RET, vals([3, 4])) + [sync()], 1)],
    "repeated_unnamed_parse": [([m for i in range(1, 5)
                                 for m in [parse(INS)] + rows(INS, vals([i]))] + [sync()], 1)],
    "named_statements_pgbench_style": [
        ([parse(INS, "P_0"), parse(INS, "P_1"), parse(INS, "P_2")] +
         [m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 1])[0], s), describe_portal(), execute())] + [sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 11])[0], s), describe_portal(), execute())] + [sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 11])[0], s), describe_portal(), execute())] + [sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 21])[0], s), describe_portal(), execute())] + [sync()], 1)],
    # what pgbench -M prepared sends: each statement prepared in its own
    # Parse + Sync, then pipelines binding several names of the same text
    "pgbench_prepared_then_pipelines": [
        ([parse(INS, "P_0"), sync()], 1), ([parse(INS, "P_1"), sync()], 1),
        ([parse(INS, "P_2"), sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2", "P_0"])
          for m in (bind(vals([i + 1])[0], s), describe_portal(), execute())] + [sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 3])[0], s), describe_portal(), execute())] + [sync()], 1),
        ([m for i, s in enumerate(["P_0", "P_1", "P_2"])
          for m in (bind(vals([i + 10])[0], s), describe_portal(), execute())] + [sync()], 1)],
    "named_created_then_error": [([parse(INS, "ins")] + rows(INS, vals([1, 1]), stmt="ins") +
                                  [sync()], 1),
                                 ([m for m in rows(INS, vals([5, 6]), stmt="ins")] + [sync()], 1)],
    # the unnamed statement prepared in its own Sync (transaction pooling
    # answers that Parse itself), then bound by later pipelines
    "unnamed_parsed_alone_then_rows": [([parse(INS), sync()], 1),
                                       (rows(INS, vals([1, 2, 3])) + [sync()], 1),
                                       (rows(INS, vals([4, 5, 4])) + [sync()], 1),
                                       (rows(INS, vals([6, 7])) + [sync()], 1)],
    "describe_statement": [([parse(INS_RET), describe_stmt()] + rows(INS_RET, vals([1, 2])) +
                            [sync()], 1)],
    "binary_params": [([parse(INS, types=(23, 25))] +
                       [m for i in (1, 2, 3) for m in
                        (bind([struct.pack("!i", i), b"b%d" % i], fmts=(1, 0)), execute())] +
                       [sync()], 1)],
    "large_batch_chunks": [seg(INS, vals(range(1, 301)), describe=False)],
    "large_batch_error_late": [seg(INS, vals(list(range(1, 250)) + [17]), describe=False)],
    "statement_trigger": [seg(INS.replace("bt", "bstmt"), vals([1, 2, 3])),
                          seg(INS.replace("bt", "bstmt"), vals([4, 5, 6]))],
    "row_trigger_changes_rows": [seg(INS.replace("bt", "brow"), vals([1, 2, 3])),
                                 seg(INS.replace("bt", "brow"), vals([4, 5]))],
    "row_trigger_skips_rows": [seg(INS.replace("bt", "bskip"), vals([1, 2, 3])),
                               seg(INS.replace("bt", "bskip"), vals([5, 7]))],
    "rule_on_insert": [seg(INS.replace("bt", "brule"), vals([1, 2, 3])),
                       seg(INS.replace("bt", "brule"), vals([4, 5]))],
    "simple_multi_statement_trigger": [([query("INSERT INTO bstmt VALUES (1, 'a'); "
                                               "INSERT INTO bstmt VALUES (2, 'b')")], 1),
                                       ([query("INSERT INTO bstmt VALUES (3, 'a'); "
                                               "INSERT INTO bstmt VALUES (4, 'b')")], 1)],
    "simple_multi": [([query("INSERT INTO bt (id, v) VALUES (1, 'a'); "
                             "INSERT INTO bt (id, v) VALUES (2, 'b');"
                             "INSERT INTO bt (id, v) VALUES (3, NULL)")], 1),
                     ([query("INSERT INTO bt (id, v) VALUES (4, 'a'); "
                             "INSERT INTO bt (id, v) VALUES (5, 'b');"
                             "INSERT INTO bt (id, v) VALUES (6, 'c')")], 1)],
    "simple_multi_dup_middle": [([query("INSERT INTO bt (id, v) VALUES (1, 'a'); "
                                        "INSERT INTO bt (id, v) VALUES (1, 'b');"
                                        "INSERT INTO bt (id, v) VALUES (3, 'c')")], 1)],
    "simple_multi_returning": [([query("INSERT INTO bt VALUES (1, 'a') RETURNING *; "
                                       "INSERT INTO bt VALUES (2, 'b') RETURNING *")], 1)],
    "simple_multi_in_txn_error": [([query("BEGIN")], 1),
                                  ([query("INSERT INTO bt VALUES (1, 'a'); "
                                          "INSERT INTO bt VALUES (1, 'b')")], 1),
                                  ([query("COMMIT")], 1)],
    # literals sent as parameters: the types PostgreSQL gives them, NULLs,
    # quotes, assignment casts (numeric into int rounds, int into text), and
    # the strings kept as literals (a backslash, a column of mixed types)
    "simple_multi_literal_types": [
        ([query("INSERT INTO blit VALUES (1, 7, 9000000000, 1.555, 'it''s', true, '2024-01-02', '{\"a\": 1}');"
                "INSERT INTO blit VALUES (2, -2147483648, -9223372036854775808, -.5, '', FALSE, NULL, NULL);"
                "INSERT INTO blit VALUES (3, NULL, 12345678901, 1e2, 'x  y', TRUE, '2024-02-29', '[1, 2]')")], 1),
        ([query("INSERT INTO blit (id, i, t) VALUES (4, 2.5, 5); INSERT INTO blit (id, i, t) VALUES (5, 3.5, -6)")], 1),
        ([query("INSERT INTO blit (id, i, t) VALUES (6, 007, 1e3); INSERT INTO blit (id, i, t) VALUES (7, 08, 0.10)")], 1),
        ([query("INSERT INTO blit (id, t) VALUES (8, 'a\\b'); INSERT INTO blit (id, t) VALUES (9, 'c')")], 1),
        ([query("INSERT INTO blit (id, t) VALUES (10, 1); INSERT INTO blit (id, t) VALUES (11, 'x')")], 1)],
    "simple_multi_literal_errors": [
        ([query("INSERT INTO blit (id, i) VALUES (1, '1'); INSERT INTO blit (id, i) VALUES (2, 'abc')")], 1),
        ([query("INSERT INTO blit (id, i) VALUES (3, 1); INSERT INTO blit (id, i) VALUES (4, 3000000000)")], 1),
        ([query("INSERT INTO blit (id, d) VALUES (5, '2024-01-01'); INSERT INTO blit (id, d) VALUES (6, 7)")], 1),
        ([query("INSERT INTO blit (id, n) VALUES (7, 1); INSERT INTO blit (id, n) VALUES (8, 123456.7)")], 1),
        ([query("INSERT INTO blit (id, i) VALUES (9, 1); INSERT INTO blit (id, i) VALUES (9, 2)")], 1)],
    "simple_multi_literal_random": literal_strings(7, 40),
    "simple_multi_mixed_tables": [([query("INSERT INTO bt VALUES (1, 'a'); "
                                          "INSERT INTO bs (k, v) VALUES (1, 'b')")], 1)],
    # ten rows: with insert_batch_stream_rows 2 or 3 the run is several
    # statements whose replies reach the client one by one; an error in the
    # first, a middle and the last of them, inside BEGIN too
    "stream_error_first_chunk": [seg(INS, vals([1, 2, 1] + list(range(4, 11))), describe=False)],
    "stream_error_middle_chunk": [seg(INS, vals(list(range(1, 7)) + [2, 8, 9, 10]))],
    "stream_error_last_chunk": [seg(INS, vals(list(range(1, 10)) + [3]), describe=False)],
    "stream_explicit_commit": [([query("BEGIN")], 1), seg(INS, vals(range(1, 11))),
                               seg(INS, vals(range(11, 21)), describe=False), ([query("COMMIT")], 1)],
    "stream_explicit_error_middle": [([query("BEGIN")], 1), seg(INS, vals(range(1, 4))),
                                     seg(INS, vals([4, 5, 6, 7, 8, 5, 9, 10, 11, 12])),
                                     ([query("COMMIT")], 1)],
    "stream_explicit_error_last_then_rollback": [([query("BEGIN")], 1),
                                                 seg(INS, vals(list(range(1, 10)) + [1])),
                                                 ([query("ROLLBACK")], 1), seg(INS, vals([1, 2, 3]))],
    # the unique check deferred to COMMIT: every row's reply was sent, then
    # the commit at Sync fails
    "stream_deferred_unique_fails_at_commit": [seg(INS.replace("bt", "bdef"), vals(list(range(1, 10)) + [4]))],
    # RETURNING rows are not streamed (a replay may return other values, e.g.
    # serial ids); a SELECT between two runs stops streaming for the same reason
    "stream_returning_error_last": [seg(INS_RET, vals([1, 2, 3, 4, 5, 6, 3]))],
    # insert_batch_form = unnest / auto: a connection's first run into a
    # table asks for the column types (and goes as VALUES); the next runs
    # are INSERT ... SELECT * FROM unnest($1::T[], ...) with the values as
    # array literals: quotes, backslashes, NULL and the word NULL, empty
    # strings, spaces, braces, commas, non-ASCII (a backslash together with
    # non-ASCII goes as VALUES)
    "unnest_tricky_text": [seg(INS_U, vals([1, 2])), seg(INS_U, TRICKY[:-1]),
                           seg(INS_U, TRICKY[-3:], describe=False)],
    "unnest_types": [seg(INS_UT, UT_ROWS[:2]), seg(INS_UT, [(11,) + r[1:] for r in UT_ROWS]),
                     seg(INS_UT + " RETURNING *", [(20,) + UT_ROWS[1][1:], (21,) + UT_ROWS[2][1:]])],
    "unnest_errors_later_segment": [seg(INS_UT, [UT_ROWS[0], (30,) + UT_ROWS[0][1:]]),
                                    seg(INS_UT, [UT_ROWS[1], (5, "x", "abcde", "abcdefgh", "1", None, "a", None, None, None)]),
                                    seg(INS_UT, [UT_ROWS[2], (6, "x", "a", "b", "1", None, "zz", None, None, None)]),
                                    seg(INS_UT, [UT_ROWS[3], (7, "x", "a", "b", "1", "2024-13-01", "a", None, None, None)]),
                                    seg(INS_UT, [(8, "x", "a", "b", "1", None, "a", "{bad", None, None), UT_ROWS[4]]),
                                    seg(INS_U, [(9, "a"), (10, None), (11, "c")])],
    "unnest_fallback_types": [seg(INS_U2, [(1, "{1,2}", "3", "(1,2),(3,4)"), (7, None, None, None)]),
                              seg(INS_U2, [(2, "{{1,2},{3,4}}", "4", "(0,0),(1,1)"), (3, None, None, None),
                                           (4, "{}", "5", "(1,1),(2,2)")]),
                              seg(INS_U2, [(5, "{1}", "0", None), (6, "{1}", "1", None)])],
    # a literal in a domain or array column: the column's type does not
    # matter to a literal (it stays in the select list)
    "unnest_literal_columns": [seg("INSERT INTO bu2 (id, dm, a) VALUES ($1, 5, '{7,8}')", [(1,), (2,)]),
                               seg("INSERT INTO bu2 (id, dm, a) VALUES ($1, 5, '{7,8}')", [(3,), (4,), (5,)]),
                               seg("INSERT INTO bu2 (dm, id) VALUES (0, $1)", [(6,), (7,)]),
                               seg("INSERT INTO bu2 (id, bx) VALUES ($1, '(1,1),(0,0)') RETURNING *",
                                   [(8,), (9,)]),
                               seg("INSERT INTO bu2 (id, bx) VALUES ($1, '(1,1),(0,0)') RETURNING *",
                                   [(10,), (11,), (10,)])],
    "unnest_no_column_list": [seg("INSERT INTO bu VALUES ($1, $2)", vals([1, 2])),
                              seg("INSERT INTO bu VALUES ($1, $2)", TRICKY[:6]),
                              seg("INSERT INTO bu VALUES ($1, $2) RETURNING *", vals([30, 31, 30]))],
    "unnest_reordered_and_literal": [seg("INSERT INTO bu (t, id) VALUES ($1, $2)", [("a", 1), ("a", 10)]),
                                     seg("INSERT INTO bu (t, id) VALUES ($1, $2)", [("b", 2), ('"c"', 3)]),
                                     seg("INSERT INTO bu (id, t) VALUES ($2, $1)", [("d", 4), ("e", 5)]),
                                     seg("INSERT INTO bu (id, t, c) VALUES ($1, $2, 'lit')", vals([6, 9])),
                                     seg("INSERT INTO bu (id, t, c) VALUES ($1, $2, 'lit')", vals([7, 8]))],
    "unnest_declared_types": [([parse(INS_U, types=(23, 25))] + rows(INS_U, vals([1, 9])) + [sync()], 1),
                              ([parse(INS_U, types=(23, 25))] + rows(INS_U, vals([2, 3])) + [sync()], 1),
                              ([parse(INS_U, types=(23, 0))] + rows(INS_U, vals([4, 5])) + [sync()], 1),
                              ([parse(INS_U, types=(1700, 25))] + rows(INS_U, [("6.4", "a"), ("7.6", "b")]) +
                               [sync()], 1),
                              ([parse(INS_U, types=(23, 25))] + [m for i in (10, 11) for m in
                               (bind([struct.pack("!i", i), b"b"], fmts=(1, 0)), execute())] + [sync()], 1)],
    "unnest_on_conflict": [seg(INS.replace("bt", "bu").replace("v)", "t)").replace("v = EXCLUDED.v", "t = EXCLUDED.t"),
                               vals([1, 10])),
                           seg(INS_UPDATE.replace("bt", "bu").replace("v)", "t)").replace("v = EXCLUDED.v", "t = EXCLUDED.t"),
                               vals([1, 2, 3], 'q"')),
                           seg(INS_UPDATE.replace("bt", "bu").replace("v)", "t)").replace("v = EXCLUDED.v", "t = EXCLUDED.t")
                               + " RETURNING id, t", vals([3, 4, 5], "r")),
                           seg(INS_UPDATE.replace("bt", "bu").replace("v)", "t)").replace("v = EXCLUDED.v", "t = EXCLUDED.t"),
                               vals([6, 7, 6], "s")),
                           seg(INS_NOTHING.replace("bt", "bu").replace("v)", "t)"), vals([7, 8, 9], "t"))],
    # a Parse after the error, in the failed transaction, gets 25P02 (in
    # transaction pooling the pooler once answered it itself)
    "unnest_explicit_txn": [([query("BEGIN")], 1), seg(INS_U, vals([1, 2])), seg(INS_U, TRICKY[:5]),
                            seg(INS_U, vals([50, 51, 50])), seg(INS_U, vals([54, 55])),
                            ([query("ROLLBACK")], 1),
                            ([query("BEGIN")], 1), seg(INS_U, vals([52, 53])), seg(INS_U, TRICKY[5:9]),
                            ([query("COMMIT")], 1)],
    "stream_select_between_error": [([parse(INS)] + rows(INS, vals(range(1, 6))) +
                                     [parse("SELECT count(*) FROM bt"), bind([]), execute(), parse(INS)] +
                                     rows(INS, vals([6, 7, 8, 9, 3])) + [sync()], 1)],
}

NOTE = INS.replace("bt", "bnote")
NOTEB = INS.replace("bt", "bnoteb")
WARN = INS.replace("bt", "bwarn")
AUDIT = INS.replace("bt", "baudit")
NOTIFY = INS.replace("bt", "bnotify")
DOM = "INSERT INTO bndom (id, v) VALUES ($1, $2)"
SCENARIOS.update({
    # row triggers raising NOTICEs or WARNINGs: each row's message between
    # its replies, as a direct connection has them (issue 6)
    "notice_after_row": [seg(NOTE, vals(range(1, 8))), seg(NOTE, vals(range(8, 11)), describe=False)],
    "notice_before_row": [seg(NOTEB, vals(range(1, 8))), seg(NOTEB, vals([8, 9, 8, 10]))],
    "notice_warning_some_rows": [seg(WARN, vals(range(2, 9))), seg(WARN, vals([10, 12, 14]))],
    # streamed (insert_batch_stream_rows 2 or 3): the first statements' replies
    # have gone to the client when a later row warns; the replay must repeat them
    "notice_after_streamed_rows": [seg(WARN, vals([2, 4, 6, 8, 10, 11, 12]), describe=False)],
    "notice_returning": [seg(NOTE + " RETURNING id", vals(range(1, 5)))],
    "notice_explicit_commit": [([query("BEGIN")], 1), seg(NOTE, vals(range(1, 6))),
                               seg(NOTEB, vals(range(1, 6)), describe=False), ([query("COMMIT")], 1)],
    "notice_explicit_error": [([query("BEGIN")], 1), seg(NOTEB, vals([1, 2, 3, 2, 5])),
                              ([query("ROLLBACK")], 1), seg(NOTE, vals([1, 2, 3]))],
    # suppressed by client_min_messages: no message, so nothing to interleave
    "notice_suppressed": [([query("BEGIN")], 1), ([query("SET LOCAL client_min_messages = error")], 1),
                          seg(NOTE, vals(range(1, 6))), seg(WARN, vals(range(1, 6))),
                          seg(NOTE, vals(range(6, 9))), ([query("COMMIT")], 1)],
    "notice_multi_statement": [([query("INSERT INTO bnote VALUES (1, 'a'); INSERT INTO bnote VALUES (2, 'b'); "
                                       "INSERT INTO bnote VALUES (3, 'c')")], 1),
                               ([query("INSERT INTO bnoteb VALUES (1, 'a'); INSERT INTO bnoteb VALUES (2, 'b')")], 1),
                               ([query("INSERT INTO bnote VALUES (4, 'a'); INSERT INTO bnote VALUES (5, 'b')")], 1)],
    "notice_mixed_tables_pipeline": [([parse(INS)] + rows(INS, vals([1, 2, 3])) + [parse(NOTE)] +
                                      rows(NOTE, vals([1, 2, 3])) + [sync()], 1),
                                     ([parse(NOTE)] + rows(NOTE, vals([4, 5, 6])) + [parse(INS)] +
                                      rows(INS, vals([4, 5, 6])) + [sync()], 1)],
    "notice_domain_check": [seg(DOM, [(1, 1), (2, 2), (3, 3)]), seg(DOM, [(4, 4), (5, -5), (6, 6)])],
    "notice_partition_trigger": [seg(INS.replace("bt", "bpnoisy"), vals(range(1, 4))),
                                 seg(INS.replace("bt", "bpnoisy"), vals(range(4, 9)))],
    "notice_index_expression": [seg(INS.replace("bt", "bidx"), vals(range(1, 4))),
                                seg(INS.replace("bt", "bidx"), vals(range(4, 8)))],
    "partitioned_quiet": [seg(INS.replace("bt", "bpart"), vals(range(1, 9))),
                          seg(INS.replace("bt", "bpart"), vals([9, 10, 3, 11]))],
    "audit_trigger_silent": [seg(AUDIT, vals(range(1, 8))), seg(AUDIT, vals(range(8, 12))),
                             seg(AUDIT, vals([12, 13, 12]))],
    # replies recorded with ParameterStatus and notifications (without the pid)
    "async_notify_trigger": [([query("LISTEN bnotify")], 1), seg(NOTIFY, vals(range(1, 5))),
                             seg(NOTIFY, vals([5, 6, 5])), ([query("UNLISTEN *")], 1)],
    "async_param_trigger": [seg(NOTIFY, [(1, "a"), (2, "tz"), (3, "b")]),
                            ([query("RESET IntervalStyle")], 1)],
})

# LISTEN needs a session of its own: transaction and statement pooling refuse it
SESSION_ONLY = {"async_notify_trigger"}

SETUP = """
DROP TABLE IF EXISTS bt, bs, bstmt, brow, bskip, brule, blog, blit, bdef, bu, bu2;
DROP DOMAIN IF EXISTS bdom;
DROP TYPE IF EXISTS benum;
CREATE DOMAIN bdom AS int CHECK (VALUE > 0);
CREATE TYPE benum AS ENUM ('a', 'b c', 'd"e');
CREATE TABLE bu (id int PRIMARY KEY, t text, c char(4), vc varchar(5), n numeric(6, 2), ts timestamp,
                 e benum, j jsonb, r int4range, bits bit(3));
-- types the unnest form leaves to VALUES: an array, a domain, box (';' delimits its arrays)
CREATE TABLE bu2 (id int PRIMARY KEY, a int[], dm bdom, bx box);
CREATE TABLE bdef (id int UNIQUE DEFERRABLE INITIALLY DEFERRED, v text);
CREATE TABLE blit (id int PRIMARY KEY, i int, b bigint, n numeric(6, 2), t text, f boolean, d date, j jsonb);
CREATE TABLE bt (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE bs (id serial PRIMARY KEY, k int UNIQUE, v text);
CREATE TABLE blog (src text, n bigint);
-- a statement-level trigger: fires once per statement, so never rewritten
CREATE TABLE bstmt (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION blog_stmt() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO blog VALUES (TG_TABLE_NAME, 1); RETURN NULL; END$$;
CREATE TRIGGER bstmt_t AFTER INSERT ON bstmt FOR EACH STATEMENT EXECUTE FUNCTION blog_stmt();
-- a row-level trigger changing the row: the same with multi-row INSERTs
CREATE TABLE brow (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION brow_upper() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN NEW.v := upper(NEW.v); RETURN NEW; END$$;
CREATE TRIGGER brow_t BEFORE INSERT ON brow FOR EACH ROW EXECUTE FUNCTION brow_upper();
-- a row-level trigger skipping even ids: the row count differs, the guard notices
CREATE TABLE bskip (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION bskip_even() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END$$;
CREATE TRIGGER bskip_t BEFORE INSERT ON bskip FOR EACH ROW EXECUTE FUNCTION bskip_even();
-- a rule: never rewritten
CREATE TABLE brule (id int PRIMARY KEY, v text);
CREATE RULE brule_r AS ON INSERT TO brule DO ALSO INSERT INTO blog VALUES ('brule', NEW.id);
"""


TABLES = ("bt", "bs", "bstmt", "brow", "bskip", "brule", "blog", "blit", "bdef", "bu", "bu2")


# Tables for the NOTICE scenarios (issue 6).
SETUP += """
DROP TABLE IF EXISTS bnote, bnoteb, bwarn, baudit, bnotify, bndom, bpart, bpnoisy, bidx;
DROP DOMAIN IF EXISTS bnoisy;
-- row triggers raising a message per row: PostgreSQL puts each between the
-- replies of the single-row INSERTs (AFTER: before the row's CommandComplete;
-- BEFORE: before its row is stored)
CREATE TABLE bnote (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION bnote_after() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'after row %', NEW.id; RETURN NULL; END$$;
CREATE TRIGGER bnote_t AFTER INSERT ON bnote FOR EACH ROW EXECUTE FUNCTION bnote_after();
CREATE TABLE bnoteb (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION bnote_before() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'before row % %', NEW.id, NEW.v; RETURN NEW; END$$;
CREATE TRIGGER bnoteb_t BEFORE INSERT ON bnoteb FOR EACH ROW EXECUTE FUNCTION bnote_before();
CREATE TABLE bwarn (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION bwarn_row() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN IF NEW.id % 2 = 1 THEN RAISE WARNING 'odd row %', NEW.id; END IF; RETURN NEW; END$$;
CREATE TRIGGER bwarn_t BEFORE INSERT ON bwarn FOR EACH ROW EXECUTE FUNCTION bwarn_row();
-- a silent audit trigger: rewritten (its Sync waits for the replies)
CREATE TABLE baudit (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION baudit_row() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO blog VALUES ('baudit', NEW.id); RETURN NULL; END$$;
CREATE TRIGGER baudit_t AFTER INSERT ON baudit FOR EACH ROW EXECUTE FUNCTION baudit_row();
-- NOTIFY and a reported parameter set by a row trigger: sent after the commit
CREATE TABLE bnotify (id int PRIMARY KEY, v text);
CREATE OR REPLACE FUNCTION bnotify_row() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_notify('bnotify', NEW.id::text);
  IF NEW.v = 'tz' THEN PERFORM set_config('IntervalStyle', 'iso_8601', false); END IF;
  RETURN NULL; END$$;
CREATE TRIGGER bnotify_t AFTER INSERT ON bnotify FOR EACH ROW EXECUTE FUNCTION bnotify_row();
-- a domain whose check calls a function that raises a NOTICE
CREATE OR REPLACE FUNCTION bnoisy_ok(int) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'checking %', $1; RETURN $1 > 0; END$$;
CREATE DOMAIN bnoisy AS int CHECK (bnoisy_ok(VALUE));
CREATE TABLE bndom (id int PRIMARY KEY, v bnoisy);
-- an index expression whose function raises a NOTICE for each row indexed
CREATE OR REPLACE FUNCTION bidx_key(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE NOTICE 'indexing %', $1; RETURN $1; END$$;
CREATE TABLE bidx (id int PRIMARY KEY, v text);
CREATE INDEX bidx_k ON bidx (bidx_key(id));
-- partitioned: quiet, and with a NOTICE trigger on one partition only
CREATE TABLE bpart (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE bpart_1 PARTITION OF bpart FOR VALUES FROM (0) TO (5);
CREATE TABLE bpart_2 PARTITION OF bpart FOR VALUES FROM (5) TO (100);
CREATE TABLE bpnoisy (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE bpnoisy_1 PARTITION OF bpnoisy FOR VALUES FROM (0) TO (5);
CREATE TABLE bpnoisy_2 PARTITION OF bpnoisy FOR VALUES FROM (5) TO (100);
CREATE TRIGGER bpnoisy_t AFTER INSERT ON bpnoisy_2 FOR EACH ROW EXECUTE FUNCTION bnote_after();
"""
TABLES += ("bnote", "bnoteb", "bwarn", "baudit", "bnotify", "bndom", "bpart", "bpnoisy", "bidx")

def table_contents(pg):
    out = []
    for t in TABLES:
        out.append((t, pg.execute("SELECT * FROM %s ORDER BY 1" % t).fetchall()))
    return out


def run(hostport, steps, admin, asynchronous=False):
    admin.execute("TRUNCATE %s RESTART IDENTITY" % ", ".join(TABLES))
    c = Conn(hostport)
    record = []
    try:
        for msgs, nready in steps:
            c.send(msgs)
            record.append(c.until_ready(nready, asynchronous))
    finally:
        c.close()
    return record, table_contents(admin)


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i, x, y
    return min(len(a), len(b)), a[len(b):len(b) + 1], b[len(a):len(a) + 1]


def stream_check(direct, target, wait=10.0):
    """insert_batch_stream_rows: the replies of a run's first statements reach
    the client while a later row of the same pipeline still waits.  Another
    session holds an uncommitted row with key 10; the pipeline inserts 1..10.
    Row 10 blocks until that session rolls back, so the replies of rows 1..3
    can only arrive before then if they were streamed (else the read times
    out).  Returns an error text or None."""
    host, port = direct.rsplit(":", 1)
    admin = psycopg.connect(host=host, port=port, sslmode="disable", autocommit=True)
    admin.execute("DROP TABLE IF EXISTS bstream; CREATE TABLE bstream (id int PRIMARY KEY, v text)")
    blocker = psycopg.connect(host=host, port=port, sslmode="disable")
    blocker.execute("INSERT INTO bstream VALUES (10, 'blocker')")
    ins = INS.replace("bt", "bstream")
    c = Conn(target)
    err = None
    try:
        c.send([parse(ins)] + rows(ins, vals(range(1, 11)), describe=False) + [sync()])
        c.sock.settimeout(wait)
        seen = []
        try:
            while sum(1 for t, _ in seen if t == "C") < 3:
                seen.append(c._read_msg())
        except socket.timeout:
            err = "no reply of rows 1..3 while row 10 waited (%d messages): not streamed" % len(seen)
        blocker.rollback()
        c.sock.settimeout(TIMEOUT)
        rest = c.until_ready(1)
        tags = [x[1] for x in [decode(t, b) for t, b in seen] + rest if x[0] == "C"]
        if err is None and (tags != ["INSERT 0 1"] * 10 or rest[-1] != ("Z", "I")):
            err = "replies after the wait: %r" % (rest,)
        n = admin.execute("SELECT count(*), min(v) FROM bstream").fetchone()
        if err is None and n != (10, "x1"):
            err = "table after the streamed run: %r" % (n,)
    finally:
        c.close()
        blocker.close()
        admin.execute("DROP TABLE bstream")
        admin.close()
    return err


def unnest_check(direct, target, want):
    """insert_batch_form = unnest: on one connection through TARGET, a run
    into a new table (learning its column types), then the tricky text
    values; the rows stored must be exactly the values sent, and the session
    must hold a prepared INSERT ... FROM unnest( (session pooling: the
    client's session is the server's) -- or none when want is False.
    Returns an error text or None."""
    host, port = direct.rsplit(":", 1)
    admin = psycopg.connect(host=host, port=port, sslmode="disable", autocommit=True)
    admin.execute("DROP TABLE IF EXISTS bunn; CREATE TABLE bunn (id int PRIMARY KEY, t text)")
    ins = INS_U.replace("bu ", "bunn ")
    c = Conn(target)
    err = None
    try:
        for values in (vals([1, 2]), TRICKY[:-1]):
            c.send([parse(ins)] + rows(ins, values, describe=False) + [sync()])
            got = c.until_ready(1)
            if got != [("1",)] + [("2",), ("C", "INSERT 0 1")] * len(values) + [("Z", "I")]:
                err = "replies: %r" % (got,)
        c.send([query("SELECT count(*) FROM pg_prepared_statements "
                      "WHERE statement LIKE '%INTO bunn (id, t) SELECT * FROM unnest($1::integer[], $2::text[])%'")])
        got = c.until_ready(1)
        n = int(got[1][1][0]) if len(got) > 1 and got[1][0] == "D" else -1
        if err is None and (n >= 1) != want:
            err = "%d prepared unnest statement(s) in the session" % n
        stored = admin.execute("SELECT id, t FROM bunn ORDER BY id").fetchall()
        if err is None and stored != vals([1, 2]) + TRICKY[:-1]:
            err = "stored rows differ: %r" % (stored,)
    finally:
        c.close()
        admin.execute("DROP TABLE bunn")
        admin.close()
    return err


def main(argv):
    only = None
    implicit_only = False
    session_only = False
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--list":
            print("\n".join(SCENARIOS))
            return 0
        if argv[i] == "--stream-check":
            err = stream_check(argv[i + 1], argv[i + 2], *map(float, argv[i + 3:i + 4]))
            print("stream check %s: %s" % (argv[i + 2], err or "replies streamed before the run ended"))
            return 1 if err else 0
        if argv[i] == "--unnest-check":
            err = unnest_check(argv[i + 1], argv[i + 2], argv[i + 3:i + 4] != ["no"])
            print("unnest check %s: %s" % (argv[i + 2], err or "as expected"))
            return 1 if err else 0
        if argv[i] == "--implicit-only":
            implicit_only = True
            i += 1
            continue
        if argv[i] == "--session-only":
            session_only = True
            i += 1
            continue
        if argv[i] == "--only":
            only = argv[i + 1]
            i += 2
            continue
        args.append(argv[i])
        i += 1
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = args[0].rsplit(":", 1)
    admin = psycopg.connect(host=host, port=port, sslmode="disable", autocommit=True)
    admin.execute(SETUP)
    failures = 0
    for name, steps in SCENARIOS.items():
        if only and name != only:
            continue
        if implicit_only and any(query("BEGIN") in msgs for msgs, _ in steps):
            continue
        if session_only != (name in SESSION_ONLY):
            continue
        results = [run(hp, steps, admin, name.startswith("async_")) for hp in args]
        base = results[0]
        status = []
        for hp, res in zip(args[1:], results[1:]):
            if res == base:
                status.append("same")
                continue
            failures += 1
            if res[0] != base[0]:
                for k, (x, y) in enumerate(zip(base[0], res[0])):
                    if x != y:
                        i, a, b = first_diff(x, y)
                        status.append("DIFF %s step %d reply %d:\n    direct: %r\n    target: %r"
                                      % (hp, k, i, a, b))
                        break
            else:
                status.append("DIFF %s table contents:\n    direct: %r\n    target: %r"
                              % (hp, base[1], res[1]))
        nrep = sum(len(r) for r in base[0])
        print("%-34s %3d replies  %s" % (name, nrep, "; ".join(status)))
    admin.execute("DROP TABLE %s; DROP DOMAIN bdom; DROP TYPE benum" % ", ".join(TABLES))
    admin.close()
    print("%d difference(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
