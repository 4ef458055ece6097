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


def main():
    target, path, bench, backends, proxy, cfds, tps = sys.argv[1:8]
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
    stages = {}
    totals = []
    for i in range(len(starts) - 1):
        lo, hi = starts[i], starts[i + 1]
        w = [e for e in data if lo <= e[0] < hi]
        c_sends = [e for e in w if e[2] == bench and e[3] in SENDS]
        c_recvs = [e for e in w if e[2] == bench and e[3] in RECVS]
        b_recvs = [e for e in w if e[2] == backend and e[3] in RECVS]
        b_sends = [e for e in w if e[2] == backend and e[3] in SENDS]
        if not c_sends or not c_recvs or not b_recvs or not b_sends:
            continue
        c_send, c_recv = c_sends[-1][0], c_recvs[-1][1]
        row = {}
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
        else:
            b_in, b_out = b_recvs[0][1], b_sends[-1][0]
            row = {"c->s": b_in - c_send, "server": b_out - b_in, "s->c": c_recv - b_out}
        row["client"] = hi - c_recv
        if min(row.values()) < 0:
            continue
        for k, v in row.items():
            stages.setdefault(k, []).append(v)
        totals.append(hi - lo)
    order = ["client", "c->p", "proxy in", "p->s", "c->s", "server", "s->p", "proxy out", "p->c", "s->c"]
    keys = [k for k in order if k in stages]
    print("### %s (%d transactions traced, %.0f tps under tracing)\n" % (target, len(totals), float(tps or 0)))
    print("| " + " | ".join(keys) + " | cycle |")
    print("|" + "---|" * (len(keys) + 1))
    print("| " + " | ".join("%.0f" % statistics.median(stages[k]) for k in keys) +
          " | %.0f |" % statistics.median(totals) if totals else "| (no complete transaction) |")
    print()


main()
