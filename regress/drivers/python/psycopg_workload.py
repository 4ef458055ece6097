#!/usr/bin/python3
"""regress/drivers/python/psycopg_workload.py -- psycopg 3 workload.

DRV_CLIENTS concurrent asyncio tasks, each with its own AsyncConnection
(autocommit, prepare_threshold=2: a query becomes a server-side named
statement "_pg3_<n>" from its third execution on that connection, so each
connection numbers its statements from 0 and a pooler that shares server
connections must keep them apart; prepared_max=4, so psycopg also sends
"DEALLOCATE _pg3_<n>" for the least recently used ones).  Each task runs DRV_ROUNDS rounds of:
  prepared -- the same INSERT ... RETURNING and SELECT texts every round
              (prepared after the threshold), plus one with prepare=True;
  pipeline -- conn.pipeline() inside conn.transaction(): several statements
              sent without waiting, results read afterwards; then a pipeline
              whose first statement fails (23505) so the rest are aborted;
  txn      -- transaction with SET LOCAL application_name and TimeZone, an
              UPDATE of the task's account, the shared counter, a pause, and
              COMMIT (or psycopg.Rollback every third round);
  errors   -- a unique violation in autocommit and inside a transaction
              (25P02 after it), recovery after each;
and last: session -- session-level SET application_name, TimeZone and
search_path, checked by several queries with pauses between them, then RESET
ALL (startup application_name and default search_path again).
Output: sorted "section<TAB>key<TAB>value" lines and an end marker; exit 1 on
an unexpected error or a result that differs from PostgreSQL's.
"""
import asyncio
import json
import logging
import os
import sys

import psycopg

CLIENTS = int(os.environ.get("DRV_CLIENTS", "24"))
ROUNDS = int(os.environ.get("DRV_ROUNDS", "8"))
STARTUP_APP = "py-conn"
ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"]
TS = "'2024-01-01 12:00:00+00'::timestamptz::text"

DEADLINE = float(os.environ.get("DRV_DEADLINE", "60"))

lines = []
failures = 0
where = {}  # task -> what it is doing, reported if the deadline passes


def zone(i):
    return ZONES[i % len(ZONES)]


def put(section, key, value):
    lines.append(f"{section}\t{key}\t{value}")


def fail(what):
    global failures
    failures += 1
    if failures <= 20:
        print(f"psycopg: {what}", file=sys.stderr)


def show(v):
    return v if isinstance(v, str) else json.dumps(v, default=str)


def expect(section, key, got, want):
    g, w = show(got), show(want)
    put(section, key, g)
    if g != w:
        put(section, key, f"MISMATCH want {w}")
        fail(f"{section} {key}: got {g}, want {w}")


def error(section, key, err):
    code = getattr(err, "sqlstate", None) or type(err).__name__
    msg = str(err).split("\n")[0]
    put(section, key, f"ERROR {code} {msg}")
    fail(f"{section} {key}: {code} {msg}")


def expected_error(section, key, err, code):
    if getattr(err, "sqlstate", None) == code:
        put(section, key, f"expected-error {code}")
    else:
        error(section, key, err)


def no_error(section, key, code):
    put(section, key, "no error")
    fail(f"{section} {key}: expected {code}, got no error")


INS = "INSERT INTO drv.py_events (client, seq, note) VALUES (%s, %s, %s) RETURNING client, seq, note"
GET = "SELECT note, length(note) FROM drv.py_events WHERE client = %s AND seq = %s"
UPD = "UPDATE drv.py_accounts SET balance = balance + %s WHERE id = %s RETURNING balance"


TRACE_DIR = os.environ.get("DRV_TRACE_DIR")
trace_files = []


async def connect(name="final"):
    conn = await connect_untraced()
    # Fewer prepared statements than the workload repeats: psycopg evicts the
    # least recently used with "DEALLOCATE _pg3_<n>" (a simple query) and
    # prepares it again later under a new name.
    conn.prepared_max = 4
    if TRACE_DIR:
        # libpq's protocol trace (every message both ways) for this connection.
        f = open(os.path.join(TRACE_DIR, f"psycopg.{name}.trace"), "w")
        trace_files.append(f)
        conn.pgconn.trace(f.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
    return conn


async def connect_untraced():
    return await psycopg.AsyncConnection.connect(
        host=os.environ.get("DRV_HOST", "127.0.0.1"),
        port=os.environ.get("DRV_PORT", "5432"),
        dbname=os.environ.get("DRV_DB", "drivers"),
        user=os.environ.get("DRV_USER", "postgres"),
        password=os.environ.get("DRV_PASSWORD", ""),
        application_name=STARTUP_APP,
        connect_timeout=30,
        autocommit=True,
        prepare_threshold=2,
    )


async def rows(conn, query, params=None, prepare=None):
    cur = await conn.execute(query, params, prepare=prepare)
    return [list(r) for r in await cur.fetchall()]


async def round_prepared(conn, i, j):
    k = f"{i}.{j}"
    try:
        expect("prepared", k + ".ins", await rows(conn, INS, (i, j, f"note-{k}")), [[i, j, f"note-{k}"]])
        expect("prepared", k + ".get", await rows(conn, GET, (i, j)), [[f"note-{k}", len(f"note-{k}")]])
        got = await rows(conn, "SELECT %s::int * %s::int, current_setting('application_name')", (i, j), prepare=True)
        expect("prepared", k + ".now", got, [[i * j, STARTUP_APP]])
    except psycopg.Error as e:
        error("prepared", k, e)


async def round_pipeline(conn, i, j):
    k = f"{i}.{j}"
    seq = 100 + j
    try:
        async with conn.transaction():
            async with conn.pipeline():
                c1 = await conn.execute(INS, (i, seq, f"pipe-{k}"))
                c2 = await conn.execute(UPD, (1, i))
                c3 = await conn.execute(GET, (i, seq))
                c4 = await conn.execute("SELECT count(*) FROM drv.py_events WHERE client = %s", (i,))
            expect("pipeline", k + ".ins", [list(r) for r in await c1.fetchall()], [[i, seq, f"pipe-{k}"]])
            put("pipeline", k + ".upd", c2.rowcount)
            expect("pipeline", k + ".get", [list(r) for r in await c3.fetchall()], [[f"pipe-{k}", len(f"pipe-{k}")]])
            expect("pipeline", k + ".count", (await c4.fetchone())[0], 2 * (j + 1))
    except psycopg.Error as e:
        error("pipeline", k, e)
    # A failing statement in a pipeline: the server skips the rest until Sync.
    try:
        async with conn.pipeline():
            await conn.execute(INS, (i, seq, "duplicate"))
            await conn.execute("SELECT 1")
        no_error("pipeline", k + ".dup", "23505")
    except psycopg.Error as e:
        expected_error("pipeline", k + ".dup", e, "23505")
    try:
        expect("pipeline", k + ".recovered", await rows(conn, GET, (i, seq)), [[f"pipe-{k}", len(f"pipe-{k}")]])
    except psycopg.Error as e:
        error("pipeline", k + ".recovered", e)


async def round_txn(conn, i, j):
    k = f"{i}.{j}"
    commit = j % 3 != 2
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL application_name = 'py_txn_{i}_{j}'")
            await conn.execute(f"SET LOCAL TimeZone = '{zone(i)}'")
            got = await rows(conn, f"SELECT current_setting('application_name'), current_setting('TimeZone'), {TS}")
            expect("txn", k + ".inside", got, [[f"py_txn_{i}_{j}", zone(i), got[0][2]]])
            put("txn", k + ".ts", got[0][2])
            expect("txn", k + ".upd", await rows(conn, "UPDATE drv.py_accounts SET balance = balance + 10 WHERE id = %s RETURNING id", (i,)), [[i]])
            await conn.execute("UPDATE drv.py_counter SET n = n + 1 WHERE id = 1")
            await asyncio.sleep(0.002)
            if not commit:
                raise psycopg.Rollback()
        expect("txn", k + ".after", await rows(conn, "SELECT current_setting('application_name')"), [[STARTUP_APP]])
    except psycopg.Error as e:
        error("txn", k, e)


async def round_errors(conn, i, j):
    k = f"{i}.{j}"
    try:
        await conn.execute(INS, (i, j, "duplicate"))
        no_error("errors", k + ".dup", "23505")
    except psycopg.Error as e:
        expected_error("errors", k + ".dup", e, "23505")
    try:
        async with conn.transaction():
            await conn.execute("UPDATE drv.py_accounts SET balance = balance - 1 WHERE id = %s", (i,))
            try:
                await conn.execute(INS, (i, j, "duplicate"))
                no_error("errors", k + ".txdup", "23505")
            except psycopg.Error as e:
                expected_error("errors", k + ".txdup", e, "23505")
            try:
                await conn.execute("SELECT 1")
                no_error("errors", k + ".aborted", "25P02")
            except psycopg.Error as e:
                expected_error("errors", k + ".aborted", e, "25P02")
            raise psycopg.Rollback()
    except psycopg.Error as e:
        error("errors", k, e)
    try:
        expect("errors", k + ".recovered", await rows(conn, GET, (i, j)), [[f"note-{k}", len(f"note-{k}")]])
    except psycopg.Error as e:
        error("errors", k + ".recovered", e)


async def session(conn, i):
    k = str(i)
    try:
        await conn.execute(f"SET application_name = 'py_sess_{i}'")
        await conn.execute(f"SET TimeZone = '{zone(i)}'")
        await conn.execute("SET search_path = drv, public")
        for r in range(4):
            await asyncio.sleep(0.003)
            try:
                got = await rows(conn, f"SELECT current_setting('application_name'), current_setting('TimeZone'), {TS}")
                expect("session", f"{k}.{r}.app", got[0][0], f"py_sess_{i}")
                expect("session", f"{k}.{r}.tz", got[0][1], zone(i))
                put("session", f"{k}.{r}.ts", got[0][2])
            except psycopg.Error as e:
                error("session", f"{k}.{r}", e)
            try:
                got = await rows(conn, "SELECT balance IS NOT NULL FROM py_accounts WHERE id = %s", (i,), prepare=False)
                expect("session", f"{k}.{r}.search_path", got, [[True]])
            except psycopg.Error as e:
                error("session", f"{k}.{r}.search_path", e)
        await conn.execute("RESET ALL")
        got = await rows(conn, "SELECT current_setting('application_name'), current_setting('TimeZone'), current_setting('search_path')")
        expect("session", k + ".reset.app", got[0][0], STARTUP_APP)
        put("session", k + ".reset.tz", got[0][1])
        expect("session", k + ".reset.search_path", got[0][2], '"$user", public')
    except psycopg.Error as e:
        error("session", k, e)


async def task(i):
    try:
        conn = await connect(f"client{i}")
    except psycopg.Error as e:
        error("connect", str(i), e)
        return
    async with conn:
        for j in range(ROUNDS):
            for name, fn in (("prepared", round_prepared), ("pipeline", round_pipeline),
                             ("txn", round_txn), ("errors", round_errors)):
                where[i] = f"{name} {j}"
                await fn(conn, i, j)
        where[i] = "session"
        await session(conn, i)
    where.pop(i, None)


async def final_state():
    commits = sum(1 for j in range(ROUNDS) if j % 3 != 2)
    async with await connect() as conn:
        evs = await rows(conn, "SELECT client, seq, note FROM drv.py_events ORDER BY client, seq")
        for c, s, n in evs:
            put("final", f"event.{c}.{s}", n)
        expect("final", "events.count", len(evs), 2 * CLIENTS * ROUNDS)
        for ident, bal in await rows(conn, "SELECT id, balance FROM drv.py_accounts WHERE id < %s ORDER BY id", (CLIENTS,)):
            expect("final", f"account.{ident}", bal, 1000 + ROUNDS + 10 * commits)
        expect("final", "counter", (await rows(conn, "SELECT n FROM drv.py_counter"))[0][0], CLIENTS * commits)


async def main():
    await asyncio.gather(*(task(i) for i in range(CLIENTS)))
    where[-1] = "final state"
    try:
        await final_state()
    except psycopg.Error as e:
        error("final", "state", e)
    where.pop(-1, None)


if __name__ == "__main__":
    # psycopg logs "error ignored terminating <pipeline>" after an aborted
    # pipeline; the error itself is what the digest records.
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)
    try:
        asyncio.run(asyncio.wait_for(main(), DEADLINE))
    except asyncio.TimeoutError:  # a hang: say who was stuck where
        for i, what in sorted(where.items()):
            put("main", f"stuck.{i}", what)
        fail(f"deadline of {DEADLINE:g} s passed with {len(where)} tasks unfinished")
    except Exception as e:  # a bug: recorded, never silent
        error("main", "fatal", e)
    lines.sort()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write(f"end psycopg lines={len(lines)} failures={failures}\n")
    sys.exit(0 if failures == 0 else 1)
