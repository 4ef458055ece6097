"""bench/lib/coalesce_rounds.py -- the rounds of bench/coalesce_rounds.sh.

Run inside the throwaway cluster with the pooler started; environment:
PG_PORT, PORT (the pooler), WORK, POOLER_PID, DATADIR, ROUNDS, DURATION,
PERF (1: perf stat counts), PGBENCH_PIN (taskset -c list for pgbench or "").
Prints a markdown report on stdout, progress on stderr.
"""
import os
import statistics
import subprocess
import sys
import threading
import time

E = os.environ
HZ = os.sysconf("SC_CLK_TCK")
ROUNDS = int(E["ROUNDS"])
DURATION = int(E["DURATION"])
PERF = E.get("PERF", "0") == "1"
POOLER = int(E["POOLER_PID"])
WORK = E["WORK"]
POOLER_EV = ["task-clock", "context-switches", "cpu-migrations",
             "syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_recvfrom",
             "syscalls:sys_enter_sendto", "syscalls:sys_enter_sendmsg"]
PGBENCH_EV = ["task-clock", "context-switches", "cpu-migrations",
              "syscalls:sys_enter_ppoll", "syscalls:sys_enter_poll",
              "syscalls:sys_enter_select", "syscalls:sys_enter_pselect6",
              "syscalls:sys_enter_recvfrom", "syscalls:sys_enter_sendto"]


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg), file=sys.stderr, flush=True)


def psql(sql, port=None, db="postgres"):
    cmd = ["psql", "-XqAt", "-F", " ", "-d", db, "-c", sql]
    if port:
        cmd[1:1] = ["-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def proc_stat(pid):
    """(utime+stime ticks, last cpu, state) of /proc/pid[/task/tid]/stat."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12]), int(rest[36]), rest[0]


def ctxt(pid):
    n = 0
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    n += int(line.split()[1])
    except OSError:
        pass
    return n


def schedstat(pid):
    """(ns on a CPU, ns waiting on a run queue) of /proc/pid[/task/tid]."""
    try:
        with open("/proc/%s/schedstat" % pid) as f:
            a = f.read().split()
        return int(a[0]), int(a[1])
    except OSError:
        return None


def machine():
    """/proc/stat cpu line: (busy, idle + iowait, steal) jiffies."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:3]) + v[5] + v[6], v[3] + v[4], v[7] if len(v) > 7 else 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def backends():
    with open(os.path.join(E["DATADIR"], "postmaster.pid")) as f:
        pm = int(f.readline())
    return pm, children(pm)


def pg_snapshot():
    pm, kids = backends()
    cpu = {}
    cs = 0
    for k in kids:
        st = proc_stat(k)
        if st:
            cpu[k] = st[0]
            cs += ctxt(k)
    with open("/proc/%d/stat" % pm) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    reaped = int(rest[13]) + int(rest[14])	# cutime + cstime
    return cpu, reaped, cs


def coal_counts():
    v = psql("SHOW COALESCING", PORT, "pgbouncer").split()
    sizes = {}
    for line in psql("SHOW COALESCING_SIZES", PORT, "pgbouncer").splitlines():
        n, m = line.split()
        sizes[int(n)] = int(m)
    return [int(x) for x in v], sizes


class Sampler(threading.Thread):
    """Every 20 ms: the last CPU of the pooler, of pgbench's threads and of
    the backends, for the share of samples they were on the same CPU."""

    def __init__(self, pgbench_root):
        super().__init__(daemon=True)
        self.root = pgbench_root
        self.stop = False
        self.samples = []

    def pgbench_threads(self):
        todo, pids = [self.root], []
        while todo:
            p = todo.pop()
            kids = children(p)
            todo += kids
            try:
                if open("/proc/%d/comm" % p).read().strip() == "pgbench":
                    pids.append(p)
            except OSError:
                pass
        tids = []
        for p in pids:
            try:
                tids += ["%d/task/%s" % (p, t) for t in sorted(os.listdir("/proc/%d/task" % p))]
            except OSError:
                pass
        return tids

    def run(self):
        tids = []
        _, kids = backends()
        while not self.stop:
            if not tids:
                tids = self.pgbench_threads()
            s = {"pooler": proc_stat(POOLER), "pgbench": [proc_stat(t) for t in tids],
                 "backends": {k: proc_stat(k) for k in kids},
                 "wait": {"pgbench": [schedstat(t) for t in tids]}, "t": time.time()}
            self.samples.append(s)
            time.sleep(0.02)


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def size_stats(sizes):
    """merges, mean rows, p10/p50/p90 of merge size over merges and over rows."""
    merges = sum(sizes.values())
    rows = sum(n * m for n, m in sizes.items())
    by_merge, by_row = [], []
    for n in sorted(sizes):
        by_merge += [n] * sizes[n]
        by_row += [n] * (n * sizes[n])
    return {"merges": merges, "rows_merged": rows, "mean": rows / merges if merges else 0,
            "m10": pct(by_merge, 0.1), "m50": pct(by_merge, 0.5), "m90": pct(by_merge, 0.9),
            "r10": pct(by_row, 0.1), "r50": pct(by_row, 0.5), "r90": pct(by_row, 0.9)}


def read_perf(path):
    out = {}
    try:
        for line in open(path):
            f = line.strip().split(",")
            if len(f) >= 3 and f[0] and f[0][0].isdigit():
                out[f[2]] = float(f[0])
    except OSError:
        pass
    return out


def run_pgbench(port, tag, pin=None):
    tfile = os.path.join(WORK, "time.%s" % tag)
    pfile = os.path.join(WORK, "perf.pgbench.%s" % tag)
    cmd = ["/usr/bin/time", "-o", tfile, "-f", "%U %S %c %w"]
    if PERF:
        cmd += ["perf", "stat", "-x", ",", "-o", pfile, "-e", ",".join(PGBENCH_EV), "--"]
    pin = pin or E.get("PGBENCH_PIN")
    if pin:
        cmd += ["taskset", "-c", pin]
    cmd += ["pgbench", "-n", "-h", "127.0.0.1", "-p", str(port), "-T", str(DURATION), "-M", "prepared",
            "-c", "50", "-j", "2", "-f", os.path.join(WORK, "single.sql"), "postgres"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), tfile, pfile


def tps_of(out):
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise SystemExit("pgbench: no tps in:\n" + out)


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


def one_round(r):
    """The direct anchor, then every pooler variant, each its own result."""
    global PORT, POOLER
    direct = {"round": r}
    # the anchor, same round
    psql("TRUNCATE bi")
    m0, g0, t0 = machine(), pg_snapshot(), time.time()
    p, tfile, _ = run_pgbench(E["PG_PORT"], "direct")
    direct["direct"] = tps_of(p.communicate()[0])
    m1, g1, t1 = machine(), pg_snapshot(), time.time()
    u, s, _, _ = open(tfile).read().split()
    ours = float(u) + float(s) + (sum(g1[0].get(k, 0) - g0[0].get(k, 0) for k in g1[0]) + g1[1] - g0[1]) / HZ
    direct["direct_others"] = max(0.0, (m1[0] - m0[0]) / HZ - ours) / (t1 - t0)
    out = []
    # the variants' order alternates from round to round
    for label, port, pid, pin in (VARIANTS if r % 2 else VARIANTS[::-1]):
        PORT, POOLER = port, pid
        res = dict(direct, variant=label, pgbench_pin=pin)
        coal_round(r, res)
        out.append(res)
    return out


def coal_round(r, res):
    psql("TRUNCATE bi")
    c0, s0 = coal_counts()
    pg0, reaped0, pgcs0 = pg_snapshot()
    pool0 = proc_stat(POOLER)[0]
    poolcs0 = ctxt(POOLER)
    res["load1"] = loadavg()
    m0 = machine()
    pw0 = schedstat(POOLER)
    bw0 = {k: schedstat(k) for k in backends()[1]}
    t0 = time.time()
    perf_pooler = None
    ppfile = os.path.join(WORK, "perf.pooler.%d" % r)
    if PERF:
        perf_pooler = subprocess.Popen(["perf", "stat", "-x", ",", "-o", ppfile, "-e", ",".join(POOLER_EV),
                                        "-p", str(POOLER)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p, tfile, pfile = run_pgbench(PORT, "coal%d" % r, res.get("pgbench_pin"))
    smp = Sampler(p.pid)
    smp.start()
    out = p.communicate()[0]
    smp.stop = True
    smp.join()
    if perf_pooler:
        perf_pooler.send_signal(2)
        perf_pooler.wait()
    m1 = machine()
    t1 = time.time()
    pw1 = schedstat(POOLER)
    bw1 = {k: schedstat(k) for k in backends()[1]}
    tps = tps_of(out)
    c1, s1 = coal_counts()
    pg1, reaped1, pgcs1 = pg_snapshot()
    rows = tps * DURATION
    res["tps"] = tps
    res["ratio"] = tps / res["direct"]
    sizes = {n: s1.get(n, 0) - s0.get(n, 0) for n in s1}
    res.update(size_stats({n: m for n, m in sizes.items() if m > 0}))
    d = [b - a for a, b in zip(c0, c1)]
    res["solo"] = d[3]
    res["fallbacks"] = d[2]
    res["window_ends"] = d[4]
    res["overlapped"] = d[5]
    u, s, cs_inv, cs_vol = open(tfile).read().split()
    res["pgbench_us"] = (float(u) + float(s)) * 1e6 / rows
    res["pgbench_cs"] = (int(cs_inv) + int(cs_vol)) / rows
    res["pooler_us"] = (proc_stat(POOLER)[0] - pool0) / HZ * 1e6 / rows
    res["pooler_cs"] = (ctxt(POOLER) - poolcs0) / rows
    per_be = {k: pg1[k] - pg0.get(k, 0) for k in pg1}
    pg_ticks = sum(per_be.values()) + (reaped1 - reaped0)
    res["pg_us"] = pg_ticks / HZ * 1e6 / rows
    res["pg_cs"] = (pgcs1 - pgcs0) / rows
    busy = sorted(per_be.values(), reverse=True)
    res["backends"] = sum(1 for v in busy if pg_ticks and v >= 0.1 * pg_ticks)
    top = max(per_be, key=per_be.get) if per_be else None
    # co-location, over the samples where pgbench was running
    same_pb = same_pp = same_tt = n = 0
    for smpl in smp.samples:
        po, th = smpl["pooler"], [t for t in smpl["pgbench"] if t]
        be = smpl["backends"].get(top)
        if not po or not th or not be:
            continue
        n += 1
        same_pb += po[1] == be[1]
        same_pp += any(t[1] == po[1] for t in th)
        same_tt += len(th) >= 2 and th[0][1] == th[1][1]
    ns_per_us_row = rows * 1000.0	# ns in all -> us per row
    res["pooler_wait_us"] = (pw1[1] - pw0[1]) / ns_per_us_row
    res["pg_wait_us"] = sum(bw1[k][1] - bw0[k][1] for k in bw1 if bw1[k] and bw0.get(k)) / ns_per_us_row
    ws = [smpl for smpl in smp.samples if smpl["wait"]["pgbench"] and all(smpl["wait"]["pgbench"])]
    if len(ws) >= 2 and len(ws[0]["wait"]["pgbench"]) == len(ws[-1]["wait"]["pgbench"]):
        res["pgbench_wait_us"] = sum(b[1] - a[1] for a, b in zip(ws[0]["wait"]["pgbench"], ws[-1]["wait"]["pgbench"])) / \
            (tps * (ws[-1]["t"] - ws[0]["t"]) * 1000.0)
    busy = (m1[0] - m0[0]) / HZ
    ours = (res["pgbench_us"] + res["pooler_us"] + res["pg_us"]) * rows / 1e6
    res["ours_cores"] = ours / (t1 - t0)
    res["ours_us"] = res["pgbench_us"] + res["pooler_us"] + res["pg_us"]
    res["others_cores"] = max(0.0, busy - ours) / (t1 - t0)
    res["idle_cores"] = (m1[1] - m0[1]) / HZ / (t1 - t0)
    res["steal_cores"] = (m1[2] - m0[2]) / HZ / (t1 - t0)
    res["same_pooler_backend"] = same_pb / n if n else None
    res["same_pooler_pgbench"] = same_pp / n if n else None
    res["same_pgbench_threads"] = same_tt / n if n else None
    if PERF:
        pp, pb = read_perf(ppfile), read_perf(pfile)
        ew = pp.get("syscalls:sys_enter_epoll_wait", 0)
        res["pooler_recv_per_wait"] = pp.get("syscalls:sys_enter_recvfrom", 0) / ew if ew else None
        res["pooler_waits_per_row"] = ew / rows
        res["pooler_migr_per_krow"] = pp.get("cpu-migrations", 0) * 1000 / rows
        pw = sum(pb.get(k, 0) for k in PGBENCH_EV[3:7])
        res["pgbench_recv_per_wait"] = pb.get("syscalls:sys_enter_recvfrom", 0) / pw if pw else None
        res["pgbench_waits_per_row"] = pw / rows
        res["pgbench_migr_per_krow"] = pb.get("cpu-migrations", 0) * 1000 / rows
    log("round %d %s: direct %.0f, coalescing %.0f rows/s (%.2fx), %.1f rows/merge (p10/50/90 by row %s/%s/%s), "
        "solo %d, windows %d, overlapped %d, us/row pgbench %.2f pooler %.2f pg %.2f, load %.2f" % (
            r, res["variant"], res["direct"], tps, res["ratio"], res["mean"], res["r10"], res["r50"], res["r90"],
            res["solo"], res["window_ends"], res["overlapped"], res["pgbench_us"], res["pooler_us"],
            res["pg_us"], res["load1"]))


def fmt(v, f="%.2f"):
    return "" if v is None else f % v


def main():
    # warm-up: every server connection and statement size prepared once
    for _, port, _, pin in VARIANTS:
        p, _, _ = run_pgbench(port, "warm", pin)
        p.communicate()
    allres = [x for r in range(1, ROUNDS + 1) for x in one_round(r)]
    o = []
    for label, _, _, _ in VARIANTS:
        o += report([x for x in allres if x["variant"] == label], label)
    if len(VARIANTS) > 1:
        med = {v[0]: statistics.median(x["tps"] for x in allres if x["variant"] == v[0]) for v in VARIANTS}
        o.append("\n- paired: %s / %s = **%.2f** (medians %.0f / %.0f rows/s)" % (
            VARIANTS[1][0], VARIANTS[0][0], med[VARIANTS[1][0]] / med[VARIANTS[0][0]], med[VARIANTS[1][0]],
            med[VARIANTS[0][0]]))
    print("\n".join(o))


def report(results, label):
    cols = [("rows/s", "tps", "%.0f"), ("/direct", "ratio", "%.2f"), ("direct", "direct", "%.0f"),
            ("others' cores in direct", "direct_others", "%.2f"), ("load1", "load1", "%.2f"), ("merges", "merges", "%d"), ("rows/merge", "mean", "%.1f"),
            ("size p10/50/90 by merge", None, None), ("size p10/50/90 by row", None, None),
            ("solo", "solo", "%d"), ("windows ended", "window_ends", "%d"), ("overlapped", "overlapped", "%d"),
            ("pgbench us/row", "pgbench_us", "%.2f"), ("pooler us/row", "pooler_us", "%.2f"),
            ("postgres us/row", "pg_us", "%.2f"), ("pgbench cs/row", "pgbench_cs", "%.3f"),
            ("pooler cs/row", "pooler_cs", "%.3f"), ("postgres cs/row", "pg_cs", "%.3f"),
            ("busy backends", "backends", "%d"),
            ("pgbench runq-wait us/row", "pgbench_wait_us", "%.2f"), ("pooler runq-wait us/row", "pooler_wait_us", "%.2f"),
            ("postgres runq-wait us/row", "pg_wait_us", "%.2f"),
            ("our us/row", "ours_us", "%.2f"), ("our cores", "ours_cores", "%.2f"), ("others' cores", "others_cores", "%.2f"),
            ("idle cores", "idle_cores", "%.2f"), ("steal cores", "steal_cores", "%.2f"), ("pooler+backend same CPU", "same_pooler_backend", "%.2f"),
            ("pooler+a pgbench thread same CPU", "same_pooler_pgbench", "%.2f"),
            ("pgbench threads same CPU", "same_pgbench_threads", "%.2f")]
    if PERF:
        cols += [("pooler recv/epoll_wait", "pooler_recv_per_wait", "%.1f"),
                 ("pooler epoll_wait/row", "pooler_waits_per_row", "%.3f"),
                 ("pooler migrations/krow", "pooler_migr_per_krow", "%.2f"),
                 ("pgbench recv/poll", "pgbench_recv_per_wait", "%.1f"),
                 ("pgbench polls/row", "pgbench_waits_per_row", "%.3f"),
                 ("pgbench migrations/krow", "pgbench_migr_per_krow", "%.2f")]
    order = sorted(results, key=lambda x: x["tps"])
    o = ["# coalescing at 50 clients, round by round (slowest first): %s\n" % label,
         "pgbench -n -M prepared -c 50 -j 2 -T %d, one autocommit single-row INSERT per transaction; "
         "pgplumb-pooler in transaction mode, pool 20, insert_coalescing = 1, insert_coalesce_delay = %s; "
         "each coalescing round follows a direct round (the anchor). PERF=%s, PIN=%s, NICE=%s.\n" % (
             DURATION, E.get("COALESCE_DELAY", "1ms"), E.get("PERF"), E.get("PIN") or "none", E.get("NICE") or "none"),
         "| round | " + " | ".join(c[0] for c in cols) + " |",
         "|---|" + "---|" * len(cols)]
    for x in order:
        cells = []
        for name, key, f in cols:
            if name.startswith("size p10/50/90 by merge"):
                cells.append("%s/%s/%s" % (x["m10"], x["m50"], x["m90"]))
            elif name.startswith("size p10/50/90 by row"):
                cells.append("%s/%s/%s" % (x["r10"], x["r50"], x["r90"]))
            else:
                cells.append(fmt(x.get(key), f))
        o.append("| %d | %s |" % (x["round"], " | ".join(cells)))
    o.append("")
    med_c = statistics.median(x["tps"] for x in results)
    med_d = statistics.median(x["direct"] for x in results)
    o.append("- medians: coalescing %.0f, direct %.0f rows/s: **%.2fx**; coalescing rounds min %.0f, max %.0f "
             "(max/min %.2f)" % (med_c, med_d, med_c / med_d, order[0]["tps"], order[-1]["tps"],
                                 order[-1]["tps"] / order[0]["tps"]))
    # which figure follows the rate: Pearson r over the coalescing rounds
    corr = []
    for name, key, _ in cols[3:]:
        if key is None:
            continue
        pairs = [(x["tps"], x[key]) for x in results if x.get(key) is not None]
        if len(pairs) < 3:
            continue
        try:
            corr.append("%s %.2f" % (name, statistics.correlation([a for a, _ in pairs], [b for _, b in pairs])))
        except statistics.StatisticsError:
            pass
    o.append("- correlation (Pearson r) of coalescing rows/s with: " + "; ".join(corr))
    pairs = [(x["ratio"], x["others_cores"]) for x in results]
    try:
        o.append("- correlation of coalescing / direct (same round) with others' cores during the coalescing run: %.2f" %
                 statistics.correlation([a for a, _ in pairs], [b for _, b in pairs]))
    except statistics.StatisticsError:
        pass
    o.append("")
    return o


if __name__ == "__main__":
    # "plain" is the pooler of PORT; with NICE or ALT_PIN set, "alt" (the
    # same binary, reniced or pinned, its pgbench pinned) is a second point
    # of every round
    VARIANTS = [("plain", E["PORT"], int(E["POOLER_PID"]), None)]
    if E.get("NICE_PORT"):
        alt_pin = dict(kv.split("=") for kv in E.get("ALT_PIN", "").split())
        VARIANTS.append(("alt (nice %s, pin %s)" % (E.get("NICE") or "0", E.get("ALT_PIN") or "none"),
                         E["NICE_PORT"], int(E["NICE_PID"]), alt_pin.get("pgbench")))
    PORT, POOLER = VARIANTS[0][1], VARIANTS[0][2]
    main()
