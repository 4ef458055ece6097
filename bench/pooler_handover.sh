#!/bin/bash
# bench/pooler_handover.sh -- where the time of a pooled transaction goes when clients
# outnumber the pool (the hand-over of a released server to the next waiting client).
#
# One throwaway PostgreSQL 15, pgbench data once, PgBouncer and pgplumb-pooler with the
# same ini (transaction mode, POOL_SIZE), then alternating rounds of a FIXED amount of work
# (`pgbench -c CLIENTS -t TX`, TPC-B by default) on each pooler.  Per transaction:
#   - the pooler's system calls (perf tracepoints) and context switches (voluntary =
#     wake-ups after a wait, involuntary = preempted), its CPU (task-clock);
#   - context switches of the whole machine (perf -a), i.e. of pgbench and the backends too;
#   - how the pooled server backends spend their time, sampled from pg_stat_activity every
#     SAMPLE_MS: 'active' (running a query), 'idle in transaction' (waiting for the client's
#     next query: the client round trip through the pooler) and 'idle' (between
#     transactions: released, not yet given to the next client -- the hand-over gap).
# tps is printed too, with the ratio of medians, but on a shared machine the counts and
# the state shares are what to read.  Counts do not need many rounds; the default is 5.
#
# Knobs: CLIENTS=50 TX=400 ROUNDS=5 POOL_SIZE=20 SCALE=10 JOBS=2 SAMPLE_MS=10
#        SCRIPT="" (pgbench options: "" = TPC-B, "-S" = select only)
#        RESET=0: 1 = before every run, directly on PostgreSQL, what pgbench does without -n
#        (VACUUM pgbench_branches and pgbench_tellers, TRUNCATE pgbench_history), so that
#        no run starts from the tables an earlier run left behind
#        GAPS=1: after the rounds, one more run per pooler under `perf record` of its
#        sendto/recvfrom calls: per server connection, the time from the last read of the
#        previous transaction's reply (its ReadyForQuery) to the write of the next client's
#        BEGIN (the hand-over gap; split by whether a client's BEGIN was already waiting
#        when the reply was read), and from a reply's read to the write of the same
#        client's next statement (the round trip through pgbench, while the transaction's
#        row locks are held); p50/p90/p99 in µs.  perf slows the pooler a little; both alike.
#        RELAY=1: after the rounds, one more run per pooler under a machine-wide `perf record`
#        of sendto/sendmsg/recvfrom and the pooler's epoll_wait returns: per message, the time
#        from its write by pgbench or by a backend (its arrival at the pooler) to the pooler's
#        read of it and to the pooler's write to the other side, by kind (BEGIN, in-transaction
#        query, reply in the transaction, END, COMMIT's reply), p50/p90/p99 in µs; the ready
#        events per epoll_wait; how many reads (and of them new BEGINs) the pooler did in a
#        loop turn before an in-transaction message, and the time it spent on them; how long
#        the teller and branch row locks were held (TPC-B: from the UPDATE's reply leaving the
#        backend to COMMIT's reply leaving it)
#        (bench/lib/pooler_relay.py).  RELAY_ROUNDS=2 such runs per pooler, alternating;
#        the first round's tables are printed, and the medians over the rounds.
#        POOLER_BIN=... (default: pooler/pgplumb-pooler) SYSTEMS="pgbouncer pgplumb"
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIENTS=${CLIENTS:-50}
TX=${TX:-400}
ROUNDS=${ROUNDS:-5}
POOL_SIZE=${POOL_SIZE:-20}
SCALE=${SCALE:-10}
JOBS=${JOBS:-2}
SAMPLE_MS=${SAMPLE_MS:-10}
SCRIPT=${SCRIPT:-}
RESET=${RESET:-0}
GAPS=${GAPS:-1}
RELAY=${RELAY:-0}
RELAY_ROUNDS=${RELAY_ROUNDS:-2}
SYSTEMS=${SYSTEMS:-"pgbouncer pgplumb"}
BOUNCER_PORT=${BOUNCER_PORT:-16532}
PLUMB_PORT=${PLUMB_PORT:-16533}

if [ "${1:-}" != "--inside" ]; then
	for cmd in pg_virtualenv pgbench psql perf runuser /usr/sbin/pgbouncer; do
		command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 1; }
	done
	export POOLER=${POOLER_BIN:-$ROOT/pooler/pgplumb-pooler}
	[ -x "$POOLER" ] || { echo "pgplumb-pooler not built (make -C pooler)" >&2; exit 1; }
	if ldd "$POOLER" | grep -q 'libasan\|libubsan'; then
		echo "$POOLER is a sanitizer build" >&2; exit 1
	fi
	# pg_virtualenv can lose a port race with another cluster starting: retry
	export STARTED=$(mktemp -u /tmp/pooler_handover_started.XXXXXX)
	for attempt in 1 2 3; do
		rc=0
		pg_virtualenv -t -v 15 -o max_connections=300 -o shared_buffers=256MB \
			-o synchronous_commit=off "$0" --inside || rc=$?
		[ -e "$STARTED" ] && { rm -f "$STARTED"; exit $rc; }
		sleep $((attempt * 3))
	done
	exit 1
fi
touch "$STARTED"

PATH=$PATH:/usr/sbin
DB=bench
WORK=$(mktemp -d /tmp/pooler_handover.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

echo "\"$PGUSER\" \"$PGPASSWORD\"" > "$WORK/userlist.txt"
for s in pgbouncer pgplumb; do
	[ $s = pgbouncer ] && port=$BOUNCER_PORT || port=$PLUMB_PORT
	cat > "$WORK/$s.ini" <<EOF
[databases]
$DB = host=127.0.0.1 port=$PGPORT dbname=$DB user=pool_$s password=$PGPASSWORD
[$s]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $WORK
auth_type = md5
auth_file = $WORK/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 1000
logfile = $WORK/$s.log
pidfile = $WORK/$s.pid
EOF
done
cp "$POOLER" "$WORK/pgplumb-pooler"
chown -R postgres: "$WORK"

log "initialising pgbench scale $SCALE"
psql -qc "CREATE DATABASE $DB" >/dev/null
pgbench -i -q -s "$SCALE" "$DB" >/dev/null 2>&1
psql -qd "$DB" -c "VACUUM ANALYZE" >/dev/null
# each pooler logs in as a role of its own, so that the sampler sees only its backends
for s in pgbouncer pgplumb; do
	psql -qd "$DB" -c "CREATE ROLE pool_$s LOGIN PASSWORD '$PGPASSWORD'" \
		-c "GRANT ALL ON ALL TABLES IN SCHEMA public TO pool_$s" >/dev/null
done

declare -A PORT PID
PORT[pgbouncer]=$BOUNCER_PORT
PORT[pgplumb]=$PLUMB_PORT
runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" & PIDS+=($!)
runuser -u postgres -- "$WORK/pgplumb-pooler" "$WORK/pgplumb.ini" 2>>"$WORK/pgplumb.stderr" & PIDS+=($!)
for s in $SYSTEMS; do
	for i in $(seq 1 100); do
		psql -h 127.0.0.1 -p "${PORT[$s]}" -d "$DB" -Atc 'select 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
	PID[$s]=$(ss -ltnpH "sport = :${PORT[$s]}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
	PIDS+=("${PID[$s]}")
done

# pg_stat_activity sampler: shares of the pooled backends' states while pgbench runs
cat > "$WORK/sample.py" <<'EOF'
import sys, time, psycopg
ms, stop, role = float(sys.argv[1]), sys.argv[2], sys.argv[3]
import os
n = {"active": 0, "idle in transaction": 0, "idle": 0}
lock = 0
k = 0
with psycopg.connect(autocommit=True, dbname="bench") as c:
    while not os.path.exists(stop):
        for st, lk, cnt in c.execute("SELECT state, wait_event_type = 'Lock', count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = 'bench' AND usename = %s GROUP BY 1, 2", (role,)):
            if st in n:
                n[st] += cnt
                if st == "active" and lk:
                    lock += cnt
        k += 1
        time.sleep(ms / 1000)
tot = sum(n.values()) or 1
print(k, *("%.3f" % (n[s] / tot) for s in ("active", "idle in transaction", "idle")), "%.3f" % (lock / tot))
EOF

EV=(-e task-clock,context-switches,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl
    -e syscalls:sys_exit_recvfrom --filter 'ret == -11')
CSV=$WORK/rounds.csv
echo "round,system,tps,cpu_us_tx,pgbench_us_tx,backends_us_tx,cpu_idle,vcs_tx,ivcs_tx,syscs_tx,recv_tx,send_tx,epwait_tx,epctl_tx,eagain_tx,samples,active,idle_in_tx,idle,lock_wait" > "$CSV"
# run time (ns) of all children of this cluster's postmaster: the backends
PGDATA_DIR=$(psql -Atc 'SHOW data_directory')
POSTMASTER=$(head -1 "$PGDATA_DIR/postmaster.pid")
backends_ns() { local p t=0; for p in $(pgrep -P "$POSTMASTER"); do
	t=$((t + $(awk '{print $1}' "/proc/$p/schedstat" 2>/dev/null || echo 0))); done; echo $t; }
# idle and total jiffies of the whole machine
cpu_idle() { awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
ctx() { awk '/^voluntary_ctxt/ {v=$2} /^nonvoluntary_ctxt/ {n=$2} END {print v, n}' "/proc/$1/status"; }

run() {	# $1 system, $2 round
	local s=$1 pid=${PID[$1]} out v0 n0 v1 n1 ntx tps
	[ "$RESET" = 1 ] && psql -qd "$DB" -c "VACUUM pgbench_branches" -c "VACUUM pgbench_tellers" \
		-c "TRUNCATE pgbench_history" >/dev/null
	rm -f "$WORK/stop"
	/usr/bin/python3 "$WORK/sample.py" "$SAMPLE_MS" "$WORK/stop" "pool_$s" > "$WORK/sample.out" &
	local spid=$!
	read -r v0 n0 < <(ctx "$pid")
	local b0 b1 i0 t0 i1 t1
	b0=$(backends_ns)
	read -r i0 t0 < <(cpu_idle)
	perf stat -x, "${EV[@]}" -p "$pid" -o "$WORK/perf.pooler" -- sleep 3600 &
	local p1=$!
	perf stat -x, -a -e context-switches -o "$WORK/perf.all" -- sleep 3600 &
	local p2=$!
	sleep 0.3
	# shellcheck disable=SC2086
	out=$(perf stat -x, -e task-clock -o "$WORK/perf.pgbench" -- pgbench -n $SCRIPT -c "$CLIENTS" -j "$JOBS" -t "$TX" -h 127.0.0.1 -p "${PORT[$s]}" "$DB" 2>&1)
	# background jobs ignore SIGINT: end perf stat by ending its workload
	kill $(pgrep -P $p1) $(pgrep -P $p2) 2>/dev/null || true
	wait $p1 $p2 2>/dev/null || true
	read -r v1 n1 < <(ctx "$pid")
	b1=$(backends_ns)
	read -r i1 t1 < <(cpu_idle)
	touch "$WORK/stop"
	wait $spid
	ntx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	[ -n "$ntx" ] && [ "$ntx" -gt 0 ] || { echo "$out" | tail -5 >&2; exit 1; }
	# perf -x, lines: value,unit,event,...
	pv() { awk -F, -v e="$2" '$3 == e {print $1}' "$1"; }
	/usr/bin/python3 - "$2" "$s" "$tps" "$ntx" "$(pv "$WORK/perf.pooler" task-clock)" \
		"$(pv "$WORK/perf.pgbench" task-clock)" "$((b1 - b0))" "$(( (i1 - i0) * 1000 / (t1 - t0 + 1) ))" \
		"$((v1 - v0))" "$((n1 - n0))" "$(pv "$WORK/perf.all" context-switches)" \
		"$(pv "$WORK/perf.pooler" syscalls:sys_enter_recvfrom)" "$(pv "$WORK/perf.pooler" syscalls:sys_enter_sendto)" \
		"$(pv "$WORK/perf.pooler" syscalls:sys_enter_epoll_wait)" "$(pv "$WORK/perf.pooler" syscalls:sys_enter_epoll_ctl)" "$(pv "$WORK/perf.pooler" syscalls:sys_exit_recvfrom)" \
		$(cat "$WORK/sample.out") >> "$CSV" <<'EOF'
import sys
r, s, tps, n, clk, pgb, bk, idle, v, iv, cs, rv, sd, ew, ec, ea, k, a, it, idl, lw = sys.argv[1:]
n = float(n)
f = lambda x: "%.3f" % (float(x) / n)
print(",".join([r, s, tps, "%.2f" % (float(clk) * 1000 / n), "%.1f" % (float(pgb) * 1000 / n), "%.1f" % (float(bk) / 1000 / n), "%.3f" % (float(idle) / 1000), f(v), f(iv), f(cs), f(rv), f(sd), f(ew), f(ec), f(ea), k, a, it, idl, lw]))
EOF
	log "round $2 $s: $(tail -1 "$CSV")"
}

log "load: $(uptime)"
REV=$(echo "$SYSTEMS" | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq 1 "$ROUNDS"); do
	order=$SYSTEMS
	[ $((r % 2)) = 0 ] && order=$REV
	for s in $order; do run "$s" "$r"; done
done
log "load: $(uptime)"

cat > "$WORK/gaps.py" <<'EOF'
import re, sys
# perf script lines of one pooler; argv: server fds
srv = set(int(x) for x in sys.argv[1:])
last_recv = {}
pending = None
hand, busy, trip = [], [], []
# BEGINs read from clients minus BEGINs written to servers: clients waiting for a server
waiting = 0
for line in sys.stdin:
    m = re.search(r" (\d+\.\d+):\s+syscalls:sys_(enter|exit)_(sendto|recvfrom): (.*)", line)
    if not m:
        continue
    t, kind, call, args = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == "enter":
        fd = int(re.search(r"fd: (0x[0-9a-f]+)", args).group(1), 16)
        if call == "recvfrom":
            pending = fd
        elif fd in srv and fd in last_recv:
            ln = int(re.search(r"len: (0x[0-9a-f]+)", args).group(1), 16)
            # pgbench's "BEGIN;" as a Query message is 12 bytes
            t0, w = last_recv[fd]
            if ln == 12:
                (busy if w > 0 else hand).append((t - t0) * 1e6)
            else:
                trip.append((t - t0) * 1e6)
        if call == "sendto" and fd in srv and int(re.search(r"len: (0x[0-9a-f]+)", args).group(1), 16) == 12:
            waiting -= 1
    else:
        ret = int(re.search(r"(0x[0-9a-f]+|-?\d+)\s*$", args).group(1), 0)
        if pending in srv and ret > 0 and ret < 1 << 62:
            last_recv[pending] = (t, waiting)
        elif pending is not None and pending not in srv and ret == 12:
            waiting += 1
        pending = None
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
for name, v in (("hand-over to a waiting client", busy), ("hand-over, nobody waiting", hand), ("round trip", trip)):
    print("%s: %d %.0f %.0f %.0f" % (name, len(v), pct(v, .5), pct(v, .9), pct(v, .99)))
EOF
if [ "$GAPS" = 1 ]; then
	for s in $SYSTEMS; do
		[ -e "$WORK/gaps.$s" ] && continue
		pid=${PID[$s]}
		fds=$(ss -tnpH state established "dport = :$PGPORT" | grep "pid=$pid," |
			sed -n 's/.*pid='"$pid"',fd=\([0-9]*\).*/\1/p')
		perf record -q -e syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom \
			-p "$pid" -o "$WORK/perf.data" -- sleep 3600 2>/dev/null &
		p1=$!
		sleep 0.5
		# shellcheck disable=SC2086
		pgbench -n $SCRIPT -c "$CLIENTS" -j "$JOBS" -t "$TX" -h 127.0.0.1 -p "${PORT[$s]}" "$DB" >/dev/null 2>&1
		kill $(pgrep -P $p1) 2>/dev/null || true
		wait $p1 2>/dev/null || true
		perf script -i "$WORK/perf.data" 2>/dev/null | /usr/bin/python3 "$WORK/gaps.py" $fds > "$WORK/gaps.$s"
		log "$s gaps (n p50 p90 p99 µs): $(tr '\n' ';' < "$WORK/gaps.$s")"
	done
fi

relay_run() {	# $1 system, $2 round
	local s=$1 pid=${PID[$1]} p1 p2
	perf record -q -a -m 4096 -e syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom \
		-e syscalls:sys_enter_epoll_wait --filter "common_pid == $pid" -e syscalls:sys_exit_epoll_wait --filter "common_pid == $pid" \
		-o "$WORK/relay.data" -- sleep 3600 2>/dev/null &
	p1=$!
	sleep 0.5
	# shellcheck disable=SC2086
	pgbench -n $SCRIPT -c "$CLIENTS" -j "$JOBS" -t "$TX" -h 127.0.0.1 -p "${PORT[$s]}" "$DB" >/dev/null 2>&1 &
	p2=$!
	sleep 1
	# the connections (pid, fd at each end) while they are all open
	ss -tnpH state established > "$WORK/relay.ss"
	wait $p2 || true
	kill $(pgrep -P $p1) 2>/dev/null || true
	wait $p1 2>/dev/null || true
	perf script -i "$WORK/relay.data" -F comm,pid,tid,cpu,time,event,trace 2>/dev/null > "$WORK/relay.txt"
	/usr/bin/python3 "$ROOT/bench/lib/pooler_relay.py" "$WORK/relay.txt" "$WORK/relay.ss" "$pid" \
		"${PORT[$s]}" "$PGPORT" "$WORK/relay.csv" "$2" "$s" > "$WORK/relay.$s.$2"
	rm -f "$WORK/relay.data" "$WORK/relay.txt"
	log "$s relay round $2: $(sed -n 's/^| client query in transaction | [^|]* | \([^|]*\) |.*/in-transaction query \1/p' "$WORK/relay.$s.$2")"
}
if [ "$RELAY" = 1 ]; then
	for r in $(seq 1 "$RELAY_ROUNDS"); do
		order=$SYSTEMS
		[ $((r % 2)) = 0 ] && order=$REV
		for s in $order; do relay_run "$s" "$r"; done
	done
fi

/usr/bin/python3 - "$CSV" "$CLIENTS" "$TX" "$POOL_SIZE" "${SCRIPT:-TPC-B}" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = ["tps", "cpu_us_tx", "pgbench_us_tx", "backends_us_tx", "cpu_idle", "vcs_tx", "ivcs_tx", "syscs_tx", "recv_tx", "send_tx", "epwait_tx", "epctl_tx", "eagain_tx", "active", "idle_in_tx", "idle", "lock_wait"]
systems = list(dict.fromkeys(r["system"] for r in rows))
print("pgbench %s, %s clients x %s tx, pool_size %s, transaction mode; medians of %d rounds" %
      (sys.argv[5], sys.argv[2], sys.argv[3], sys.argv[4], len(rows) // len(systems)))
print()
print("| per transaction | " + " | ".join(systems) + (" | ratio |" if len(systems) == 2 else " |"))
print("|---|" + "---:|" * (len(systems) + (len(systems) == 2)))
names = {"tps": "tps", "cpu_us_tx": "pooler CPU µs", "pgbench_us_tx": "pgbench CPU µs",
         "backends_us_tx": "PostgreSQL processes' CPU µs", "cpu_idle": "machine CPU idle (share, all users)", "vcs_tx": "pooler voluntary cs (wake-ups)",
         "ivcs_tx": "pooler involuntary cs", "syscs_tx": "context switches, whole machine",
         "recv_tx": "pooler recvfrom", "send_tx": "pooler sendto", "epwait_tx": "pooler epoll_wait",
         "epctl_tx": "pooler epoll_ctl",
         "eagain_tx": "pooler recvfrom -> EAGAIN", "active": "backends 'active' (share)",
         "idle_in_tx": "backends 'idle in transaction'", "idle": "backends 'idle' (hand-over gap)",
         "lock_wait": "backends waiting for a lock (share)"}
for c in cols:
    m = [statistics.median(float(r[c]) for r in rows if r["system"] == s) for s in systems]
    line = "| %s | " % names[c] + " | ".join("%.3f" % x for x in m)
    if len(m) == 2:
        line += " | %.3f" % (m[1] / m[0]) if m[0] else " | -"
    print(line + " |")
import os
w = os.path.dirname(sys.argv[1])
g = {s: dict((l.split(":")[0], l.split()[-4:]) for l in open(os.path.join(w, "gaps." + s)))
     for s in systems if os.path.exists(os.path.join(w, "gaps." + s))}
if len(g) == len(systems):
    print()
    print("Server connection gaps, one run each under perf record (µs: p50 / p90 / p99, n):")
    print()
    print("| gap | " + " | ".join(systems) + " |")
    print("|---|" + "---:|" * len(systems))
    for k in ("hand-over to a waiting client", "hand-over, nobody waiting", "round trip"):
        print("| %s | " % k + " | ".join("%s / %s / %s (%s)" % (g[s][k][1], g[s][k][2], g[s][k][3], g[s][k][0]) for s in systems) + " |")
EOF
if [ "$RELAY" = 1 ]; then
	for s in $SYSTEMS; do
		echo
		echo "Relay delays, $s, round 1 (a machine-wide perf record; µs p50 / p90 / p99 (n)):"
		echo
		cat "$WORK/relay.$s.1"
	done
	echo
	echo "Medians over $RELAY_ROUNDS rounds (µs; arrival = the write by pgbench or the backend):"
	echo
	/usr/bin/python3 - "$WORK/relay.csv" $SYSTEMS <<'EOF'
import collections, statistics, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, s, cls, key, x = line.rstrip("\n").split(",")
    v[(s, cls, key)].append(float(x))
systems = sys.argv[2:]
classes = list(dict.fromkeys(k[1] for k in v))
keys = [("relay_p50", "arrival -> write p50"), ("relay_p90", "p90"), ("relay_p99", "p99"),
        ("turn_wait_mean", "turn start -> read, mean"), ("begin_time_mean", "of it on new BEGINs, mean"),
        ("pos_mean", "reads before it, mean"), ("slept_share", "arrived while the pooler slept (share)"),
        ("wake_p50", "then to epoll_wait return p50"), ("wake_p90", "p90")]
print("| message | " + " | ".join("%s: %s" % (s, k[1]) for k in keys for s in systems) + " |")
print("|---|" + "---:|" * (len(keys) * len(systems)))
for c in classes:
    if c.endswith("lock held"):
        continue
    cells = []
    for k, _ in keys:
        for s in systems:
            x = v.get((s, c, k))
            cells.append("%.1f" % statistics.median(x) if x else "-")
    print("| %s | %s |" % (c, " | ".join(cells)))
hk = [("hold_p50", "p50"), ("hold_p90", "p90"), ("hold_mean", "mean")]
rows = [c for c in classes if c.endswith("lock held")]
if rows:
    print()
    print("Row locks held (µs, from the UPDATE's reply leaving the backend to COMMIT's reply leaving it), medians over the rounds:")
    print()
    print("| lock | " + " | ".join("%s: %s" % (s, k[1]) for k in hk for s in systems) + " |")
    print("|---|" + "---:|" * (len(hk) * len(systems)))
    for c in rows:
        print("| %s | %s |" % (c, " | ".join("%.1f" % statistics.median(v[(s, c, k)]) if v.get((s, c, k)) else "-"
                                             for k, _ in hk for s in systems)))
EOF
fi
