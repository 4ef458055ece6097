"""Cut a perf trace of pgbench, a proxy and a PostgreSQL backend into
transactions and print the median of each stage of the serial path (see
bench/batch_latency.sh).

argv: target trace-file pgbench-pid backend-pids proxy-pid(0: none)
      proxy-client-fds tps-under-tracing
"""
import re
import statistics
import sys

LINE = re.compile(r"^\s*([0-9.]+) \(\s*([0-9.]*)\s*(?:ms)?\): (\S+)/(\d+) (\w+)\((?:fd: (\d+))?.*\)\s+= (-?\d+)")
# a call another process's output interrupted: its start, then its end
OPEN = re.compile(r"^\s*([0-9.]+) \(\s*\): (\S+)/(\d+) (\w+)\((?:fd: (\d+))?.*\)\s+\.\.\.$")
CONT = re.compile(r"^\s*([0-9.]+) \(\s*([0-9.]*) ms\): (\S+)/(\d+)\s+\.\.\. \[continued\]: (\w+)\(\)\)\s+= (-?\d+)")


def load(path):
    ev = []
    pending = {}
    for line in open(path, errors="replace"):
        m = OPEN.match(line)
        if m:
            pending[m.group(3)] = (m.group(4), m.group(5))
            continue
        m = CONT.match(line)
        if m:
            start, dur, comm, pid, call, ret = m.groups()
            if pending.get(pid, ("",))[0] != call:
                continue
            fd = pending.pop(pid)[1]
            m = (start, dur, comm, pid, call, fd, ret)
        else:
            m = LINE.match(line)
            if not m:
                continue
            m = m.groups()
        start, dur, _comm, pid, call, fd, ret = m
        start = float(start) * 1000.0		# microseconds
        end = start + (float(dur) * 1000.0 if dur else 0.0)
        ev.append((start, end, int(pid), call, int(fd) if fd else -1, int(ret)))
    ev.sort()
    return ev


SENDS = ("sendto", "sendmsg", "write", "writev")
RECVS = ("recvfrom", "recvmsg", "read")


def cut(target, path, bench, backends, proxy, cfds):
    """Per transaction: {stage: microseconds} (stages as in batch_latency.sh)."""
    bench, proxy = int(bench), int(proxy)
    cfds = {int(x) for x in cfds.split(",") if x}
    ev = load(path)
    data = [e for e in ev if e[5] > 0 and (e[3] in SENDS or e[3] in RECVS)]
    # the backend that did the work: the one with the most socket reads
    bpids = [int(x) for x in backends.split(",") if x]
    backend = max(bpids, key=lambda p: sum(1 for e in data if e[2] == p and e[3] in RECVS))
    # cycles: each starts at pgbench's first send after it received something
    starts, got = [], True
    for e in data:
        if e[2] == bench and e[3] in SENDS:
            if got:
                starts.append(e[0])
            got = False
        elif e[2] == bench and e[3] in RECVS:
            got = True
    out = []
    j = 0
    for i in range(len(starts) - 1):
        lo, hi = starts[i], starts[i + 1]
        while j < len(data) and data[j][0] < lo:
            j += 1
        k = j
        while k < len(data) and data[k][0] < hi:
            k += 1
        w = data[j:k]
        c_sends = [e for e in w if e[2] == bench and e[3] in SENDS]
        c_recvs = [e for e in w if e[2] == bench and e[3] in RECVS]
        b_recvs = [e for e in w if e[2] == backend and e[3] in RECVS]
        b_sends = [e for e in w if e[2] == backend and e[3] in SENDS]
        if not c_sends or not c_recvs or not b_recvs or not b_sends:
            continue
        c_send, c_recv = c_sends[-1][0], c_recvs[-1][1]
        if proxy:
            p = [e for e in w if e[2] == proxy]
            s_out = [e for e in p if e[3] in SENDS and e[4] not in cfds]
            if not s_out:
                continue
            p_sout = s_out[0][0]
            c_in = [e for e in p if e[3] in RECVS and e[4] in cfds and e[1] <= p_sout]
            c_out = [e for e in p if e[3] in SENDS and e[4] in cfds and e[0] > p_sout]
            if not c_in or not c_out:
                continue
            p_in, p_cout = c_in[-1][1], c_out[-1][0]
            s_in = [e for e in p if e[3] in RECVS and e[4] not in cfds and p_sout < e[1] <= p_cout]
            if not s_in:
                continue
            p_sin = s_in[-1][1]
            b_in = [e for e in b_recvs if e[1] > p_sout]
            b_out = [e for e in b_sends if e[0] < p_sin]
            if not b_in or not b_out:
                continue
            b_in, b_out = b_in[0][1], b_out[-1][0]
            row = {"c->p": p_in - c_send, "proxy in": p_sout - p_in, "p->s": b_in - p_sout,
                   "server": b_out - b_in, "s->p": p_sin - b_out, "proxy out": p_cout - p_sin,
                   "p->c": c_recv - p_cout}
            row["hops"] = row["c->p"] + row["p->s"] + row["s->p"] + row["p->c"]
        else:
            b_in, b_out = b_recvs[0][1], b_sends[-1][0]
            row = {"c->s": b_in - c_send, "server": b_out - b_in, "s->c": c_recv - b_out}
            row["hops"] = row["c->s"] + row["s->c"]
        row["client"] = hi - c_recv
        if min(row.values()) < 0:
            continue
        row["cycle"] = hi - lo
        out.append(row)
    return out


ORDER = ["client", "c->p", "proxy in", "p->s", "c->s", "server", "s->p", "proxy out", "p->c", "s->c", "hops", "cycle"]


def main():
    """argv[1]: a manifest, one traced run a line:
    target trace pgbench-pid backend-pids proxy-pid(0: none) proxy-client-fds(-: none) tps"""
    rows, tps = {}, {}
    for line in open(sys.argv[1]):
        f = line.split()
        if len(f) < 7:
            continue
        target = f[0]
        rows.setdefault(target, []).extend(cut(target, f[1], f[2], f[3], f[4], "" if f[5] == "-" else f[5]))
        tps.setdefault(target, []).append(float(f[6] or 0))
    med = {}
    for target, rs in rows.items():
        keys = [k for k in ORDER if k in rs[0]] if rs else []
        print("### %s (%d transactions traced over %d runs; tps under tracing per run: %s)\n" % (
            target, len(rs), len(tps[target]), ", ".join("%.0f" % t for t in tps[target])))
        if not rs:
            print("(no complete transaction)\n")
            continue
        med[target] = {k: statistics.median(r[k] for r in rs) for k in keys}
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        print("| " + " | ".join("%.0f" % med[target][k] for k in keys) + " |")
        print()
    a, b = "pgplumb", "pgbouncer-values"
    if a in med and b in med:
        print("pgplumb pipelined minus PgBouncer relaying the hand-written INSERT, per stage (us): " +
              ", ".join("%s %+.0f" % (k, med[a][k] - med[b][k]) for k in ORDER if k in med[a] and k in med[b]))
        print()


main()
