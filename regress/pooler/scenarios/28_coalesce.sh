# insert_coalescing: concurrent autocommit single-row INSERTs of different
# clients are merged into one multi-row INSERT.  The same messages are sent
# straight to PostgreSQL and through the pooler; every client must see the
# same replies (a duplicate key, also one found only at COMMIT, gets its own
# 23505 while the others commit)
# and the tables must end up the same.  Only SHOW COALESCING tells that
# rows were merged and that the failing merge was undone and replayed.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 50ms"
ddb() { psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=postgres" -XAtq "$@"; }

ddb -c "drop table if exists co_t, co_trig, co_def, co_note, co_audit, co_log, co_defa;
  create table co_t (id int primary key, v text not null, n numeric);
  create table co_note (id int primary key, v text);
  create function co_note_row() returns trigger language plpgsql as 'begin raise notice ''row %'', new.id; return null; end';
  create trigger co_nt after insert on co_note for each row execute function co_note_row();
  create table co_log (id int, x bigint);
  create table co_audit (id int primary key, v text not null);
  create function co_audit_row() returns trigger language plpgsql as 'begin insert into co_log values (new.id, txid_current()); return null; end';
  create trigger co_at after insert on co_audit for each row execute function co_audit_row();
  create table co_defa (id int unique deferrable initially deferred, v text not null);
  create trigger co_dat after insert on co_defa for each row execute function co_audit_row();
  create table co_def (id int unique deferrable initially deferred, v text not null);
  create table co_trig (id int primary key, v text);
  create function co_stmt_trig() returns trigger language plpgsql as 'begin return null; end';
  create trigger co_st after insert on co_trig for each statement execute function co_stmt_trig();" >/dev/null ||
	fail "setup"

out=$(/usr/bin/python3 - "$POOLER_PORT" "$PG_SERVER_PORT" <<'PY'
import struct, sys, time
from pgwire import Conn, fields

pooler, direct = int(sys.argv[1]), int(sys.argv[2])

def s(x): return x.encode() + b"\0"

def ext(c, sql, params, named=None, types=(), describe=True, parse=True):
    """one autocommit INSERT as Parse/Bind/Describe/Execute/Sync (libpq's
    PQexecParams order), in one write"""
    buf = b""
    def m(t, body=b""):
        return t + struct.pack("!i", len(body) + 4) + body
    if parse:
        buf += m(b"P", s(named or "") + s(sql) + struct.pack("!h", len(types)) +
                 b"".join(struct.pack("!i", t) for t in types))
    body = s("") + s(named or "") + struct.pack("!hh", 0, len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            body += struct.pack("!i", len(p)) + p.encode()
    buf += m(b"B", body + struct.pack("!h", 0))
    if describe:
        buf += m(b"D", b"P" + s(""))
    buf += m(b"E", s("") + struct.pack("!i", 0)) + m(b"S")
    c.send(buf)

def summary(msgs):
    out = []
    for t, p in msgs:
        if t == b"E":
            f = fields(p)
            out.append("E%s:%s:%s" % (f["C"], f.get("M", ""), f.get("D", "")))
        elif t == b"C":
            out.append("C" + p[:-1].decode())
        elif t == b"Z":
            out.append("Z" + p.decode())
        elif t == b"N":
            out.append("N:" + fields(p).get("M", ""))
        else:
            out.append(t.decode())
    return " ".join(out)

def login(port):
    c = Conn(port); c.startup(); c.read_until(); return c

def run(port, table, bad):
    """one round: 10 clients send at once; returns each client's replies.
    bad: clients 4, 5 and 6 send a duplicate key, a NULL into a NOT NULL
    column and an integer that does not parse; bad == "dup": only client 4
    (so that with a deferred key the merged INSERT fails only at COMMIT)"""
    cs = [login(port) for _ in range(10)]
    ins = "insert into %s (id, v) values ($1, $2)" % table
    # prepared by name first (answered by the pooler without a server)
    cs[9].msg(b"P", s("p9") + s(ins) + struct.pack("!h", 0)); cs[9].msg(b"S")
    cs[9].read_until()
    for i, c in enumerate(cs):
        if i < 4:      # simple protocol, literals
            c.query("insert into %s (id, v) values (%d, 'q%d')" % (table, i + 1, i))
        elif i in (4, 5, 6) and (not bad or (bad == "dup" and i != 4)):
            c.query("insert into %s (id, v) values (%d, 'ok%d')" % (table, i + 1, i)) if i == 4 else \
                ext(c, ins, [str(i + 1), "ok%d" % i])
        elif i == 4:   # duplicate of the row inserted before the round
            c.query("insert into %s (id, v) values (100, 'dup')" % table)
        elif i == 5:   # NOT NULL violation, extended protocol
            ext(c, ins, ["6", None])
        elif i == 6:   # bad input syntax for integer
            ext(c, ins, ["x7", "bad"])
        elif i == 9:
            ext(c, ins, ["10", "e9"], named="p9", parse=False)
        else:
            ext(c, ins, [str(i + 1), "e%d" % i], describe=(i % 2 == 0))
    res = [summary(c.read_until()) for c in cs]
    for c in cs:
        c.close()
    return res

def contents(port, table):
    c = login(port)
    c.query("select string_agg(id || '=' || v, ',' order by id) from %s" % table)
    rows = [p[6:].decode() for t, p in c.read_until() if t == b"D"]
    c.close()
    return rows

def reset(port, table):
    c = login(port)
    c.query("truncate %s; insert into %s values (100, 'first')" % (table, table))
    c.read_until(); c.close()

# co_def: the duplicate key is found at COMMIT (a deferred unique constraint)
# co_note: a row trigger raises a NOTICE per row: each client must get its
# own row's, in its place, and no other's (the table is then not merged);
# co_audit: a silent row trigger: merged (inside BEGIN..COMMIT: the rows
# its trigger logs share a transaction id), and undone on an error; co_defa:
# a silent row trigger and a deferred key whose duplicate fails the COMMIT
for table, bad in (("co_t", False), ("co_t", True), ("co_trig", True), ("co_def", True),
                   ("co_note", False), ("co_note", True), ("co_audit", False), ("co_audit", True),
                   ("co_defa", "dup")):
    name = table + ("/dup" if bad == "dup" else "/bad" if bad else "/good")
    reset(direct, table)
    want = run(direct, table, bad)
    want_rows = contents(direct, table)
    reset(direct, table)
    got = run(pooler, table, bad)
    got_rows = contents(direct, table)
    for i, (w, g) in enumerate(zip(want, got)):
        print("%s client %d: %s" % (name, i, "same" if w == g else "DIFF direct=%r pooler=%r" % (w, g)))
    print("%s rows: %s %s" % (name, "same" if want_rows == got_rows else "DIFF direct=%r" % want_rows, got_rows))
    print("%s replies: %s" % (name, " | ".join(got)))
    if table == "co_audit" and not bad:
        c = login(direct)
        c.query("select count(*) - count(distinct x) from co_log")
        shared = [p[6:].decode() for t, p in c.read_until() if t == b"D"]
        c.close()
        print("co_audit rows sharing a transaction:", shared[0])
PY
) || fail "python client: $out"
echo "$out" >"$SCEN_DIR/clients.out"
assert_not_contains "$out" "DIFF" "every client saw what PostgreSQL sends directly, tables identical"
assert_contains "$out" "co_t/bad client 4: same" "the duplicate key client compared"
assert_contains "$out" "co_t/bad rows: same ['1=q0,2=q1,3=q2,4=q3,8=e7,9=e8,10=e9,100=first']" "the other clients' rows committed, the failing ones not"
assert_contains "$out" "E23505" "the duplicate key got 23505 through the pooler"
assert_contains "$out" "co_def/bad client 4: same" "a duplicate key found at commit: same replies"
assert_contains "$out" "co_def/bad rows: same" "a duplicate key found at commit: same rows"
assert_contains "$out" "E23502" "the NOT NULL violation got 23502"
assert_contains "$out" "E22P02" "the bad input got 22P02"
assert_contains "$out" "co_note/good client 9: same" "a row trigger's NOTICE: client 9 compared"
assert_contains "$out" "N:row 10 C" "client 9 got its own row's NOTICE before its CommandComplete"
assert_not_contains "$out" "co_audit rows sharing a transaction: 0" "rows into a table with a silent row trigger were merged"
assert_log "co_note .* is no longer coalesced (its rows raise NOTICEs)"
assert_contains "$out" "co_defa/dup client 4: same" "a silent row trigger and a duplicate key found at COMMIT: same replies"
assert_contains "$out" "co_defa/dup rows: same" "... and same rows"

stats=$(padmin -F' ' -c "show coalescing")
echo "$stats" >"$SCEN_DIR/stats.out"
read -r rows stmts fallbacks solo <<<"$stats"
assert_ge "${stmts:-0}" 2 "merged statements committed (SHOW COALESCING: $stats)"
assert_ge "${rows:-0}" 6 "rows committed through merged statements"
assert_ge "${fallbacks:-0}" 1 "the failing merge was undone and replayed"
assert_log "co_trig\" is not coalesced\|co_trig .* is not coalesced\|INSERT INTO co_trig\|into co_trig"

# pgbench -M prepared, one autocommit INSERT per transaction: every row arrives
ddb -c "drop table if exists co_bench; create table co_bench (id bigserial primary key, a int, b text)" >/dev/null
printf '%s\n' '\set a random(1, 1000000)' "insert into co_bench (a, b) values (:a, 'x');" >"$SCEN_DIR/ins.sql"
for mode in prepared simple; do
	pgbench -n -M $mode -c 10 -j 2 -t 50 -f "$SCEN_DIR/ins.sql" "$(pooler_url)" >"$SCEN_DIR/pgb-$mode.out" 2>&1 ||
		fail "pgbench -M $mode: $(tail -5 "$SCEN_DIR/pgb-$mode.out")"
done
n=$(ddb -c "select count(*) from co_bench")
assert_eq "$n" 1000 "pgbench -M prepared and simple: every one of 1000 INSERTs committed"
stats2=$(padmin -F' ' -c "show coalescing")
read -r rows2 _ <<<"$stats2"
assert_ge "$((rows2 - rows))" 100 "pgbench INSERTs were merged (SHOW COALESCING: $stats2)"

# clients that vanish while their INSERT is held or being merged: the others
# are answered, the pooler stays up (a sanitizer report fails the scenario)
out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import socket, struct, sys
from pgwire import Conn
port = int(sys.argv[1])
answered = 0
for rnd in range(5):
    cs = []
    for i in range(30):
        c = Conn(port); c.startup(); c.read_until(); cs.append(c)
    for i, c in enumerate(cs):
        c.query("insert into co_bench (a, b) values (%d, 'vanish')" % i)
    # a third leave at once, the group leaders among them (client 0 is sent
    # alone, client 1 leads the next group), without reading their replies
    for i, c in enumerate(cs):
        if i % 3 != 1:
            continue
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.s.close()
    for i, c in enumerate(cs):
        if i % 3 != 1:
            if any(t == b"C" for t, p in c.read_until()):
                answered += 1
            c.close()
print("answered", answered)
PY
) || fail "vanishing clients: $out"
assert_eq "$out" "answered 100" "the clients that stayed were answered (5 rounds of 30, 10 leaving)"
n=$(pq -c "select count(*) from co_bench where b = 'vanish'")
assert_ge "$n" 100 "their rows committed ($n of 150 rows, the vanished ones may or may not be)"

# the server connection is lost while a merged INSERT runs (a row trigger
# makes it slow, then its backend is terminated): whether it committed is
# unknown to the pooler, so every client of the group gets a connection
# error, as on a direct connection; exactly the clients told of success
# have their row; the pooler goes on
ddb -c "create table co_slow (id int, v text);
  create function co_slow_row() returns trigger language plpgsql as 'begin perform pg_sleep(0.3); return new; end';
  create trigger co_slow_t before insert on co_slow for each row execute function co_slow_row();" >/dev/null ||
	fail "setup co_slow"
/usr/bin/python3 - "$POOLER_PORT" >"$SCEN_DIR/slow.out" 2>&1 <<'PY' &
import sys, time
from pgwire import Conn, fields
port = int(sys.argv[1])
cs = []
for i in range(6):
    c = Conn(port, timeout=10); c.startup(); c.read_until(); cs.append(c)
for i, c in enumerate(cs):
    c.query("insert into co_slow values (%d, 'x')" % i)
res = []
for c in cs:
    try:
        msgs = c.read_until(timeout=10)
        errs = [fields(p).get("C") for t, p in msgs if t == b"E"]
        res.append(errs[0] if errs else "ok%d" % len(res))
    except Exception as e:
        res.append("closed")
print(" ".join(res))
PY
pyjob=$!
# the first INSERT runs alone while the others collect: wait (at most 10 s)
# for the backend running their merged INSERT, and terminate that one
for _ in $(seq 1 100); do
	nterm=$(ddb -c "select count(pg_terminate_backend(pid)) from pg_stat_activity
	  where query like 'insert into co_slow %),(%' and state = 'active' and pid <> pg_backend_pid()")
	[ "${nterm:-0}" -gt 0 ] && break
	sleep 0.1
done
echo "${nterm:-0}" >"$SCEN_DIR/terminated.out"
wait $pyjob || fail "slow clients: $(cat "$SCEN_DIR/slow.out")"
out=$(cat "$SCEN_DIR/slow.out")
okids=$(tr ' ' '\n' <<<"$out" | sed -n 's/^ok//p' | sort -n | tr '\n' ' ')
rows=$(ddb -c "select string_agg(id::text, ' ' order by id) from co_slow")
assert_eq "$okids" "${rows:+$rows }" "exactly the clients told of success have their row ($out; backends terminated: $(cat "$SCEN_DIR/terminated.out"))"
assert_ge "$(cat "$SCEN_DIR/terminated.out")" 1 "a backend running the merged INSERT was terminated"
assert_contains "$out" "08006" "the clients of the lost merged INSERT got a connection error"
assert_eq "$(pq -c "insert into co_t values (500, 'after')" -c "select v from co_t where id = 500")" "after" "the pooler goes on"
