"""Relay delays of a transaction-mode pooler, from a machine-wide perf trace
(bench/pooler_handover.sh, RELAY=1).

argv: perf-script-file ss-file pooler-pid pooler-port pg-port [csv round system]

The trace holds sys_enter_sendto/sendmsg, sys_enter_recvfrom, sys_exit_recvfrom
of every process and the pooler's sys_enter/exit_epoll_wait.  ss-file is `ss -tnpH state
established` taken while pgbench ran: it maps each (pid, fd) to its TCP
connection, so that a message's write by pgbench or by a backend (its arrival
at the pooler: loopback delivers within the sendto) can be followed to the
pooler's read of it and to the pooler's write to the other side.

Messages (pgbench TPC-B, simple protocol, one message a write):
  client queries: 12 bytes = "BEGIN;", 10 = "END;", others in the transaction
  server replies: 17 bytes = BEGIN's, 18 = COMMIT's, others in the transaction
Printed per class: arrival -> pooler read ("wait"), arrival -> pooler write
("relay"), p50/p90/p99 in µs; how many ready events each epoll_wait returned;
for in-transaction messages, how many reads the pooler did in the same loop
turn before it reached them, and how many of those were new transactions'
BEGINs (clients that may still need a server); how many messages arrived while
the pooler waited in epoll_wait, and for those the time until it returned (the
pooler's wake-up, mostly waiting for a CPU).
"""
import re
import sys

LINE = re.compile(r"^\s*(\S+)\s+(\d+)/(\d+)\s+\[\d+\]\s+(\d+\.\d+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")
SS = re.compile(r"(\d+\.\d+\.\d+\.\d+:\d+)\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+users:\((.*)\)\s*$")
PROC = re.compile(r'\("[^"]*",pid=(\d+),fd=(\d+)\)')


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def dist(v):
    return "%.0f / %.0f / %.0f (%d)" % (pct(v, .5), pct(v, .9), pct(v, .99), len(v))


def cls_of(side, ln):
    if side == "c":
        return "client BEGIN" if ln == 12 else "client END" if ln == 10 else "client query in transaction"
    return "server reply to BEGIN" if ln == 17 else "server reply to COMMIT" if ln == 18 else "server reply in transaction"


def main():
    trace, ssfile, ppid, pport, pgport = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    # (local, peer) -> (pid, fd)
    ends = {}
    for line in open(ssfile):
        m = SS.search(line)
        if not m:
            continue
        for p in PROC.finditer(m.group(3)):
            ends[(m.group(1), m.group(2))] = (int(p.group(1)), int(p.group(2)))
    # pooler fd -> ("c"|"s", (pid, fd) of the other end)
    pfd = {}
    for (loc, peer), (pid, fd) in ends.items():
        if pid != ppid:
            continue
        other = ends.get((peer, loc))
        if other is None:
            continue
        if loc.endswith(":" + pport):
            pfd[fd] = ("c", other)
        elif peer.endswith(":" + pgport):
            pfd[fd] = ("s", other)
    # the other ends' (pid, fd) -> pooler fd
    far = {v[1]: fd for fd, v in pfd.items()}

    # pending messages per pooler fd: list of (arrival time, length)
    arrived = {}
    # pooler reads not yet matched to their write: [(t_arr, t_read, class, kind, pos, begins_before)]
    to_write = {"c": [], "s": []}
    enter_fd = {}
    turn_reads = 0
    turn_begins = 0
    turns = []
    res = {}
    lost = [0]
    # per client fd: replies since BEGIN's, and when the teller's and the branch's
    # UPDATE replies arrived (their row locks are held from then to the commit)
    txn = {}
    hold = {"teller": [], "branch": []}

    def row_locks(cfd, c, t_arr):
        st = txn.setdefault(cfd, [None, None, None])
        if c == "server reply to BEGIN":
            st[:] = [0, None, None]
        elif st[0] is None:
            return
        elif c == "server reply in transaction":
            st[0] += 1
            # TPC-B: UPDATE accounts, SELECT, UPDATE tellers (3), UPDATE branches (4), INSERT
            if st[0] == 3:
                st[1] = t_arr
            elif st[0] == 4:
                st[2] = t_arr
        elif c == "server reply to COMMIT":
            if st[0] == 5 and st[1] is not None and st[2] is not None:
                hold["teller"].append(t_arr - st[1])
                hold["branch"].append(t_arr - st[2])
            st[:] = [None, None, None]
    turn_start = 0.0
    asleep = False
    begin_time = 0.0
    begin_open = None

    def add(cls, key, v):
        res.setdefault(cls, {}).setdefault(key, []).append(v)

    for line in open(trace, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        comm, pid, tid, t, kind, call, args = m.groups()
        pid, tid, t = int(pid), int(tid), float(m.group(4)) * 1e6
        if pid == ppid:
            if call == "epoll_wait" and kind == "enter":
                asleep = True
            elif call == "epoll_wait" and kind == "exit":
                asleep = False
                n = int(re.search(r"(0x[0-9a-f]+|-?\d+)\s*$", args).group(1), 0)
                if n < 1 << 62:
                    turns.append(n)
                turn_reads = turn_begins = 0
                turn_start = t
                begin_time = 0.0
                begin_open = None
                # reads matched to no write in their turn: deferred
                for side in to_write:
                    for r in to_write[side]:
                        for _, mln in r[2]:
                            add(cls_of(side, mln), "deferred", 1)
                    to_write[side] = []
            elif kind == "enter" and call in ("recvfrom",):
                enter_fd[tid] = int(re.search(r"fd: (0x[0-9a-f]+)", args).group(1), 16)
                # a BEGIN's handling lasts from its read to the pooler's next read
                if begin_open is not None:
                    begin_time += t - begin_open
                    begin_open = None
            elif kind == "exit" and call == "recvfrom":
                fd = enter_fd.pop(tid, None)
                ret = int(re.search(r"(0x[0-9a-f]+|-?\d+)\s*$", args).group(1), 0)
                if fd not in pfd or ret <= 0 or ret >= 1 << 62:
                    continue
                side = pfd[fd][0]
                q = arrived.get(fd)
                # the messages this read took: the newest writes of the other end
                # that fit in it (a read empties the socket: a pooler reads up to
                # 16 kB); older ones left are writes whose read the trace lost
                msgs = []
                left = ret
                while q and left >= q[-1][1]:
                    t_arr, ln, slept = q.pop()
                    left -= ln
                    msgs.insert(0, (t_arr, ln, slept))
                if q:
                    lost[0] += len(q)
                    q.clear()
                for t_arr, ln, slept in msgs:
                    cls = cls_of(side, ln)
                    # arrived while the pooler waited in epoll_wait: how long until it returned
                    add(cls, "slept", 1 if slept else 0)
                    if slept and turn_start >= t_arr:
                        add(cls, "wake", turn_start - t_arr)
                    add(cls, "wait", t - t_arr)
                    add(cls, "pos", turn_reads)
                    add(cls, "begins_before", turn_begins)
                    add(cls, "turn_wait", t - turn_start)
                    add(cls, "begin_time", begin_time)
                    if cls == "client BEGIN":
                        turn_begins += 1
                        begin_open = t
                fwd = [(t_arr, ln) for t_arr, ln, _ in msgs if not (side == "c" and ln == 12)]
                if fwd:
                    to_write[side].append((t, sum(ln for _, ln in fwd), fwd, side))
                turn_reads += 1
            elif kind == "enter" and call in ("sendto", "sendmsg"):
                fd = int(re.search(r"fd: (0x[0-9a-f]+)", args).group(1), 16)
                if fd not in pfd:
                    continue
                # a write to a server relays the oldest unrelayed client read, and back
                src = "c" if pfd[fd][0] == "s" else "s"
                lm = re.search(r"len: (0x[0-9a-f]+)", args)
                ln = int(lm.group(1), 16) if lm else None
                for i, r in enumerate(to_write[src]):
                    if ln is None or r[1] == ln:
                        t_read, _, fwd, _ = to_write[src].pop(i)
                        for t_arr, mln in fwd:
                            c = cls_of(src, mln)
                            add(c, "relay", t - t_arr)
                            if src == "s":
                                row_locks(fd, c, t_arr)
                        break
        elif kind == "enter" and call == "sendto":
            fd = int(re.search(r"fd: (0x[0-9a-f]+)", args).group(1), 16)
            key = (pid, fd)
            if key in far:
                ln = int(re.search(r"len: (0x[0-9a-f]+)", args).group(1), 16)
                arrived.setdefault(far[key], []).append((t, ln, asleep))

    print("epoll_wait calls: %d (%d returned nothing); ready events per call p50 / p90 / p99 / max: %d / %d / %d / %d; mean %.2f"
          % (len(turns), turns.count(0), pct(turns, .5), pct(turns, .9), pct(turns, .99), max(turns or [0]),
             sum(turns) / max(1, len(turns))))
    print("writes whose pooler read was not found (lost events, partial reads): %d" % lost[0])
    print("row locks held, from the UPDATE's reply leaving the backend to COMMIT's reply leaving it, µs p50 / p90 / p99 (n), mean:"
          " branch %s, %.0f; teller %s, %.0f" % (dist(hold["branch"]), sum(hold["branch"]) / max(1, len(hold["branch"])),
                                                 dist(hold["teller"]), sum(hold["teller"]) / max(1, len(hold["teller"]))))
    if len(sys.argv) > 8:
        with open(sys.argv[6], "a") as f:
            for k in ("branch", "teller"):
                h = hold[k]
                for key, x in (("p50", pct(h, .5)), ("p90", pct(h, .9)), ("mean", sum(h) / max(1, len(h)))):
                    f.write("%s,%s,%s lock held,%s,%.3f\n" % (sys.argv[7], sys.argv[8], k, "hold_" + key, x))
    print()
    print("| message | arrival -> pooler read, µs | arrival -> pooler write, µs | reads before it in its loop turn | of them new BEGINs | mean pos / BEGINs before | loop turn start -> its read, µs | of it handling new BEGINs, µs (mean) | relayed in a later turn | arrived while the pooler slept in epoll_wait (share) | then arrival -> epoll_wait return, µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = ["client BEGIN", "server reply to BEGIN", "client query in transaction",
             "server reply in transaction", "client END", "server reply to COMMIT"]
    for cls in order:
        r = res.get(cls)
        if not r:
            continue
        pos, bb = r.get("pos", []), r.get("begins_before", [])
        tw, bt = r.get("turn_wait", []), r.get("begin_time", [])
        sl = r.get("slept", [])
        print("| %s | %s | %s | %s | %s | %.2f / %.2f | %s | %s (%.1f) | %d | %.2f | %s |" % (
            cls, dist(r.get("wait", [])), dist(r.get("relay", [])) if cls != "client BEGIN" else "-",
            dist(pos), dist(bb), sum(pos) / max(1, len(pos)), sum(bb) / max(1, len(bb)),
            dist(tw), dist(bt), sum(bt) / max(1, len(bt)), len(r.get("deferred", [])),
            sum(sl) / max(1, len(sl)), dist(r.get("wake", []))))
        if len(sys.argv) > 8:
            rl = r.get("relay", [])
            with open(sys.argv[6], "a") as f:
                for key, x in (("relay_p50", pct(rl, .5)), ("relay_p90", pct(rl, .9)), ("relay_p99", pct(rl, .99)),
                               ("turn_wait_mean", sum(tw) / max(1, len(tw))), ("begin_time_mean", sum(bt) / max(1, len(bt))),
                               ("pos_mean", sum(pos) / max(1, len(pos))), ("slept_share", sum(sl) / max(1, len(sl))),
                               ("wake_p50", pct(r.get("wake", []), .5)), ("wake_p90", pct(r.get("wake", []), .9))):
                    f.write("%s,%s,%s,%s,%.3f\n" % (sys.argv[7], sys.argv[8], cls, key, x))


main()
