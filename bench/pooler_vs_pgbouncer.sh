#!/bin/bash
# bench/pooler_vs_pgbouncer.sh -- pgplumb-pooler against PgBouncer and direct PostgreSQL.
#
# One throwaway PostgreSQL 15 (pg_virtualenv), pgbench data initialised once, then
# alternating rounds: for each round, for each test point, direct -> pgbouncer -> pgplumb
# (same pool mode and pool size for both poolers, same client auth).  Reports the median
# tps of each system per point and the ratios of medians; p50/p99 latency at 1 client
# (from `pgbench --log` of the 1-client -S runs); RSS per idle client with IDLE_CLIENTS
# idle logged-in clients.  Prints one table, writes bench/results/pooler_vs_pgbouncer-<date>.md
# (+ .csv of every round, + .png tps-vs-clients plot).
#
# Knobs (environment):
#   DURATION=10 ROUNDS=5        seconds per run, rounds (>= 5 for recorded results)
#   CLIENTS="1 10 50 200"       client counts for -S and TPC-B
#   CONNECT_CLIENTS=10          clients of the -C (connect per transaction) point
#   POOL_SIZE=20 POOL_MODE=transaction   both poolers
#   SCALE=10 JOBS=2             pgbench scale, max pgbench threads
#   IDLE_CLIENTS=5000           idle clients for the memory test (0 = skip)
#   PINGPONG=20000              interleaved 1-client latency: queries per pooler (0 = skip)
#   AUTH_TYPE=md5               client auth on both poolers (md5, plain, trust, scram-sha-256)
#   PROTOCOL=simple             pgbench -M (simple, extended, prepared)
#   POOLER_BIN=...              pgplumb-pooler binary (default: built one in pooler/)
#   SYSTEMS="direct pgbouncer pgplumb"
#   CALLGRIND=1 CG_TX1=1000 CG_TX2=6000   instructions per relayed transaction (0 = skip)
#   STRACE=1 ST_TX=2000 ST_CONN=500 ST_TX200=50   system calls per transaction (strace -c; 0 = skip):
#                               TPC-B and -C at 1 client, -S at 200 clients (ST_TX200 per client)
#   RESULTS_DIR=bench/results   where to write; NO_RESULTS=1 to only print
# A full default run (DURATION=10 ROUNDS=5) takes about 25 minutes; DURATION=5 about 14.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-"1 10 50 200"}
CONNECT_CLIENTS=${CONNECT_CLIENTS:-10}
POOL_SIZE=${POOL_SIZE:-20}
POOL_MODE=${POOL_MODE:-transaction}
SCALE=${SCALE:-10}
JOBS=${JOBS:-2}
IDLE_CLIENTS=${IDLE_CLIENTS:-5000}
AUTH_TYPE=${AUTH_TYPE:-md5}
PROTOCOL=${PROTOCOL:-simple}
SYSTEMS=${SYSTEMS:-"direct pgbouncer pgplumb"}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
BOUNCER_PORT=${BOUNCER_PORT:-16432}
PLUMB_PORT=${PLUMB_PORT:-16433}

find_pooler() {
	local c
	for c in "${POOLER_BIN:-}" "$ROOT/pooler/pgplumb-pooler" "$ROOT/pooler/build/pgplumb-pooler" \
		"$ROOT/build/pgplumb-pooler"; do
		if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
	done
	return 1
}

# ---------------------------------------------------------------------------
# Outer level: start a throwaway PostgreSQL 15 and re-run ourselves inside it.
# ---------------------------------------------------------------------------
if [ "${1:-}" != "--inside" ]; then
	for cmd in pg_virtualenv pgbench psql gnuplot python3 runuser; do
		command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 1; }
	done
	case " $SYSTEMS " in *" pgbouncer "*)
		command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] ||
			{ echo "missing pgbouncer (apt-get install pgbouncer)" >&2; exit 1; } ;;
	esac
	case " $SYSTEMS " in *" pgplumb "*)
		find_pooler >/dev/null || { echo "pgplumb-pooler not built (make -C pooler)" >&2; exit 1; } ;;
	esac
	export BENCH_COMMAND="${POOLER_BIN:+POOLER_BIN=$POOLER_BIN }DURATION=$DURATION ROUNDS=$ROUNDS CLIENTS=\"$CLIENTS\" POOL_SIZE=$POOL_SIZE POOL_MODE=$POOL_MODE SCALE=$SCALE JOBS=$JOBS IDLE_CLIENTS=$IDLE_CLIENTS AUTH_TYPE=$AUTH_TYPE PROTOCOL=$PROTOCOL bench/pooler_vs_pgbouncer.sh"
	# max_connections covers 200 direct clients plus both pools.  pg_virtualenv picks a
	# free port but can lose a race with another cluster starting at the same moment:
	# retry when the cluster did not come up (our inside part never started).
	export BENCH_STARTED=$(mktemp /tmp/pooler_bench_started.XXXXXX)
	rm -f "$BENCH_STARTED"
	trap 'rm -f "$BENCH_STARTED"' EXIT
	for attempt in 1 2 3; do
		rc=0
		pg_virtualenv -t -v 15 -o max_connections=300 -o shared_buffers=256MB \
			-o synchronous_commit=off "$0" --inside || rc=$?
		[ -e "$BENCH_STARTED" ] && exit $rc
		echo "PostgreSQL did not start (attempt $attempt); retrying" >&2
		sleep $((attempt * 3))
	done
	exit 1
fi
touch "$BENCH_STARTED"

# ---------------------------------------------------------------------------
# Inside: PGHOST/PGPORT/PGUSER/PGPASSWORD point at the throwaway cluster.
# ---------------------------------------------------------------------------
PATH=$PATH:/usr/sbin
PG_PORT=$PGPORT
PG_USER=$PGUSER
PG_PASSWORD=$PGPASSWORD
DB=bench
WORK=$(mktemp -d /tmp/pooler_bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()

cleanup() {
	local p i alive
	# newest first: the poolers themselves before the runuser wrappers
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[$i]}
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for i in $(seq 1 30); do
		alive=0
		for p in "${PIDS[@]:-}"; do
			[ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# --- configuration files for both poolers (same settings) -------------------
echo "\"$PG_USER\" \"$PG_PASSWORD\"" > "$WORK/userlist.txt"
write_ini() {	# $1 = section name, $2 = port, $3 = file
	cat > "$3" <<EOF
[databases]
$DB = host=127.0.0.1 port=$PG_PORT dbname=$DB user=$PG_USER password=$PG_PASSWORD

[$1]
listen_addr = 127.0.0.1
listen_port = $2
unix_socket_dir = $WORK
auth_type = $AUTH_TYPE
auth_file = $WORK/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = $POOL_SIZE
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = $((IDLE_CLIENTS + 500))
max_db_connections = 0
server_lifetime = 3600
server_idle_timeout = 600
log_connections = 0
log_disconnections = 0
logfile = $WORK/$1.log
pidfile = $WORK/$1.pid
EOF
}
write_ini pgbouncer "$BOUNCER_PORT" "$WORK/pgbouncer.ini"
write_ini pgplumb "$PLUMB_PORT" "$WORK/pgplumb.ini"
if PLUMB_SRC=$(find_pooler); then
	# a sanitizer build (make SANITIZE=1) would measure the sanitizer, not the pooler
	if ldd "$PLUMB_SRC" | grep -q 'libasan\|libubsan'; then
		echo "$PLUMB_SRC is a sanitizer build; rebuild it with plain 'make -C pooler'" >&2
		exit 1
	fi
	cp "$PLUMB_SRC" "$WORK/pgplumb-pooler"
fi
chown -R postgres: "$WORK"

start_pgbouncer() {
	# runuser resets the soft fd limit to 1024; raise it again for the idle-client test
	runuser -u postgres -- sh -c "ulimit -n $(ulimit -Hn); exec pgbouncer -q $WORK/pgbouncer.ini" &
	PIDS+=($!)
	disown $!
}
start_pgplumb() {
	runuser -u postgres -- sh -c "ulimit -n $(ulimit -Hn); exec $WORK/pgplumb-pooler $WORK/pgplumb.ini" \
		2>>"$WORK/pgplumb.stderr" &
	PIDS+=($!)
	disown $!
}
wait_port() {	# $1 port
	local i
	for i in $(seq 1 100); do
		if PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$1" -U "$PG_USER" -d "$DB" -Atc 'select 1' \
			>/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "nothing answers on port $1" >&2
	return 1
}
# pid of the process listening on a TCP port (runuser's child)
listener_pid() {
	ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

port_of() {
	case $1 in
	direct) echo "$PG_PORT" ;;
	pgbouncer) echo "$BOUNCER_PORT" ;;
	pgplumb) echo "$PLUMB_PORT" ;;
	esac
}

# --- data -------------------------------------------------------------------
log "initialising pgbench scale $SCALE"
psql -qc "CREATE DATABASE $DB" >/dev/null
pgbench -i -q -s "$SCALE" "$DB" >/dev/null 2>&1
psql -qd "$DB" -c "VACUUM ANALYZE" >/dev/null

declare -A LPID
case " $SYSTEMS " in *" pgbouncer "*)
	start_pgbouncer; wait_port "$BOUNCER_PORT"; LPID[pgbouncer]=$(listener_pid "$BOUNCER_PORT")
	PIDS+=("${LPID[pgbouncer]}") ;;
esac
case " $SYSTEMS " in *" pgplumb "*)
	start_pgplumb; wait_port "$PLUMB_PORT"; LPID[pgplumb]=$(listener_pid "$PLUMB_PORT")
	PIDS+=("${LPID[pgplumb]}") ;;
esac
# CPU time used so far by a pooler process, in ns (scheduler run time: user + system,
# exact, unlike the 10 ms ticks of /proc/PID/stat)
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }

# --- test points --------------------------------------------------------------
# name|pgbench options|clients
POINTS=()
for c in $CLIENTS; do POINTS+=("S|-S|$c"); done
for c in $CLIENTS; do POINTS+=("tpcb||$c"); done
POINTS+=("connect|-C -S|$CONNECT_CLIENTS")

CSV="$WORK/rounds.csv"
echo "round,test,clients,system,tps,transactions,pooler_cpu_us" > "$CSV"

run_point() {	# $1 system, $2 test, $3 options, $4 clients, $5 round
	local port j out tps logopt=() t0=0 t1=0 ntx cpu=""
	port=$(port_of "$1")
	[ -n "${LPID[$1]:-}" ] && t0=$(cpu_ns "${LPID[$1]}")
	j=$(( $4 < JOBS ? $4 : JOBS ))
	if [ "$2" = S ] && [ "$4" = 1 ]; then
		mkdir -p "$WORK/lat"
		logopt=(--log "--log-prefix=$WORK/lat/$1.r$5")
	fi
	# shellcheck disable=SC2086
	out=$(PGPASSWORD=$PG_PASSWORD pgbench -n -M "$PROTOCOL" $3 -c "$4" -j "$j" -T "$DURATION" "${logopt[@]}" \
		-h 127.0.0.1 -p "$port" -U "$PG_USER" "$DB" 2>&1) || {
		echo "pgbench failed for $1 $2 c=$4:" >&2
		echo "$out" | tail -5 >&2
		tps=0
	}
	[ -n "${LPID[$1]:-}" ] && t1=$(cpu_ns "${LPID[$1]}") && cpu=$(( (t1 - t0) / 1000 ))
	tps=${tps:-$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)}
	ntx=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' | head -1)
	echo "$5,$2,$4,$1,${tps:-0},${ntx:-0},$cpu" >> "$CSV"
	log "round $5 $2 c=$4 $1: ${tps:-0} tps"
}

START=$(date +%s)
export LOAD_START="$(uptime | sed 's/.*load average: //')"
# odd rounds run the systems in the order given, even rounds in reverse, so that
# no system always runs right after the same other one
SYSTEMS_REV=$(echo "$SYSTEMS" | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq 1 "$ROUNDS"); do
	order=$SYSTEMS
	[ $((r % 2)) = 0 ] && order=$SYSTEMS_REV
	for p in "${POINTS[@]}"; do
		IFS='|' read -r name opts c <<< "$p"
		for s in $order; do
			tps=""
			run_point "$s" "$name" "$opts" "$c" "$r"
		done
	done
done

# --- idle clients: RSS per client -----------------------------------------------
cat > "$WORK/idle.py" <<'EOF'
# idle.py PORT N USER DB PASSWORD: open N client connections that log in (startup +
# md5/cleartext/trust auth) and stay idle, print "ready", wait for stdin to close, then exit.
# idle.py pingpong N USER DB PASSWORD PORT... : one connection per port; N times, one
# pgbench -S query on each in turn (order reversed every other time), so that every
# pooler's query sits next to the others' in time; prints "PORT p50 p99" in µs per port.
# Bounded: 10 s per connection and per reply.
import hashlib, random, resource, socket, struct, sys, time
def recv_exact(s, k):
    b = b""
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c:
            raise IOError("closed")
        b += c
    return b
def login(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    while True:
        t, l = struct.unpack("!ci", recv_exact(s, 5))
        m = recv_exact(s, l - 4)
        if t == b"R":
            code = struct.unpack("!i", m[:4])[0]
            if code == 5:
                inner = hashlib.md5(pw.encode() + user.encode()).hexdigest()
                resp = b"md5" + hashlib.md5(inner.encode() + m[4:8]).hexdigest().encode() + b"\0"
                s.sendall(b"p" + struct.pack("!i", len(resp) + 4) + resp)
            elif code == 3:
                resp = pw.encode() + b"\0"
                s.sendall(b"p" + struct.pack("!i", len(resp) + 4) + resp)
            elif code != 0:
                raise SystemExit("unsupported auth request %d" % code)
        elif t == b"E":
            raise SystemExit("error: %r" % m)
        elif t == b"Z":
            break
    return s
def query(s, sql):
    body = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!i", len(body) + 4) + body)
    while True:
        t, l = struct.unpack("!ci", recv_exact(s, 5))
        m = recv_exact(s, l - 4)
        if t == b"E":
            raise SystemExit("error: %r" % m)
        if t == b"Z":
            return
if sys.argv[1] == "pingpong":
    n, user, db, pw, ports = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], [int(p) for p in sys.argv[6:]]
    socks = [login(p) for p in ports]
    lat = [[] for _ in ports]
    for i in range(n):
        sql = "SELECT abalance FROM pgbench_accounts WHERE aid = %d" % random.randint(1, 100000)
        for k in (range(len(ports)) if i % 2 == 0 else reversed(range(len(ports)))):
            t0 = time.perf_counter_ns()
            query(socks[k], sql)
            lat[k].append((time.perf_counter_ns() - t0) / 1000)
    for p, v in zip(ports, lat):
        v.sort()
        print(p, round(v[len(v) // 2], 1), round(v[min(len(v) - 1, int(0.99 * len(v)))], 1))
    sys.exit(0)
port, n, user, db, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, n + 100))
socks = []
for i in range(n):
    try:
        socks.append(login(port))
    except Exception as e:
        raise SystemExit("client %d of %d: %r" % (i + 1, n, e))
print("ready", len(socks), flush=True)
sys.stdin.read()
EOF

# --- latency, interleaved: one query to each pooler in turn ---------------------------
# pgbench's 1-client runs of the two poolers are seconds apart, and a shared machine's
# load moves within seconds; here consecutive queries alternate between the poolers.
PINGPONG=${PINGPONG:-20000}
if [ "$PINGPONG" -gt 0 ] && [[ " $SYSTEMS " == *" pgbouncer "* ]] && [[ " $SYSTEMS " == *" pgplumb "* ]]; then
	log "interleaved latency: $PINGPONG queries on each pooler"
	python3 "$WORK/idle.py" pingpong "$PINGPONG" "$PG_USER" "$DB" "$PG_PASSWORD" \
		"$BOUNCER_PORT" "$PLUMB_PORT" > "$WORK/pingpong.out" 2>&1 || {
		log "interleaved latency failed: $(tail -2 "$WORK/pingpong.out")"
		rm -f "$WORK/pingpong.out"
	}
fi

measure_idle() {	# $1 system -> prints "rss_before_kb rss_after_kb"
	local port pid before after
	port=$(port_of "$1")
	pid=$(listener_pid "$port")
	before=$(rss_kb "$pid")
	mkfifo "$WORK/idle.fifo.$1"
	python3 "$WORK/idle.py" "$port" "$IDLE_CLIENTS" "$PG_USER" "$DB" "$PG_PASSWORD" \
		< "$WORK/idle.fifo.$1" > "$WORK/idle.out.$1" 2>&1 &
	local ipid=$!
	PIDS+=($ipid)
	exec 9> "$WORK/idle.fifo.$1"
	local i
	for i in $(seq 1 600); do
		grep -q ready "$WORK/idle.out.$1" 2>/dev/null && break
		kill -0 $ipid 2>/dev/null || break
		sleep 0.1
	done
	if grep -q ready "$WORK/idle.out.$1"; then
		sleep 1
		after=$(rss_kb "$pid")
	else
		log "idle clients failed on $1: $(tail -2 "$WORK/idle.out.$1")"
		after=""
	fi
	exec 9>&-
	wait $ipid 2>/dev/null || true
	echo "$before ${after:-NA}"
}

declare -A RSS_BEFORE RSS_AFTER
if [ "$IDLE_CLIENTS" -gt 0 ]; then
	for s in $SYSTEMS; do
		[ "$s" = direct ] && continue
		log "opening $IDLE_CLIENTS idle clients on $s"
		read -r b a <<< "$(measure_idle "$s")"
		RSS_BEFORE[$s]=$b
		RSS_AFTER[$s]=$a
		log "$s RSS ${b} kB -> ${a} kB"
	done
fi
# --- instructions per relayed transaction (callgrind: deterministic, unlike tps) -------------
# Each pooler runs under callgrind twice, relaying CG_TX1 and CG_TX2 pgbench -S transactions
# (-M PROTOCOL) from one client; (I2 - I1) / (CG_TX2 - CG_TX1) cancels start-up, login and shutdown.
declare -A INSN
if [ "${CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
	CG_TX1=${CG_TX1:-1000}
	CG_TX2=${CG_TX2:-6000}
	cg_port=$((PLUMB_PORT + 10))
	for s in $SYSTEMS; do
		[ "$s" = direct ] && continue
		tot=()
		for n in $CG_TX1 $CG_TX2; do
			sed "s/^listen_port = .*/listen_port = $cg_port/; s|^pidfile = .*|pidfile = $WORK/cg.$s.pid|; s|^logfile = .*|logfile = $WORK/cg.$s.log|" \
				"$WORK/$s.ini" > "$WORK/cg.$s.ini"
			[ "$s" = pgbouncer ] && bin=pgbouncer || bin=$WORK/pgplumb-pooler
			rm -f "$WORK/cg.$s.out" "$WORK/cg.$s.pid"
			chown postgres: "$WORK/cg.$s.ini"
			runuser -u postgres -- valgrind -q --tool=callgrind --callgrind-out-file="$WORK/cg.$s.out" \
				"$bin" "$WORK/cg.$s.ini" >/dev/null 2>&1 &
			cgpid=$!
			PIDS+=($cgpid)
			disown $cgpid
			if wait_port "$cg_port"; then
				PGPASSWORD=$PG_PASSWORD pgbench -n -S -M "$PROTOCOL" -c 1 -t "$n" -h 127.0.0.1 -p "$cg_port" \
					-U "$PG_USER" "$DB" >/dev/null 2>&1 || log "callgrind pgbench failed on $s"
			fi
			lp=$(listener_pid "$cg_port")
			[ -n "$lp" ] && kill -INT "$lp"
			for _ in $(seq 1 300); do
				[ -s "$WORK/cg.$s.out" ] && ! kill -0 "$cgpid" 2>/dev/null && break
				sleep 0.1
			done
			tot+=("$(sed -n 's/^totals: *\([0-9]*\).*/\1/p; s/^summary: *\([0-9]*\).*/\1/p' "$WORK/cg.$s.out" 2>/dev/null | head -1)")
		done
		if [ -n "${tot[0]}" ] && [ -n "${tot[1]}" ]; then
			INSN[$s]=$(( (tot[1] - tot[0]) / (CG_TX2 - CG_TX1) ))
			log "$s: ${INSN[$s]} instructions per relayed transaction"
		else
			log "callgrind measurement failed for $s"
		fi
	done
fi
# --- system calls per transaction (strace -c on the running poolers) -----------------
# TPC-B at 1 client (ST_TX transactions) and -C -S at 1 client (ST_CONN connections);
# the pooler is traced only while the counted pgbench runs.
declare -A SYSC
if [ "${STRACE:-1}" = 1 ] && command -v strace >/dev/null; then
	ST_TX=${ST_TX:-2000}
	ST_CONN=${ST_CONN:-500}
	ST_TX200=${ST_TX200:-50}	# -S at 200 clients: transactions per client (0 = skip)
	for s in $SYSTEMS; do
		[ "$s" = direct ] && continue
		for t in "tpcb||$ST_TX|1" "connect|-C -S|$ST_CONN|1" "S200|-S|$((ST_TX200 * 200))|200"; do
			IFS='|' read -r name opts n nc <<< "$t"
			[ "$n" -gt 0 ] || continue
			strace -c -f -p "${LPID[$s]}" -o "$WORK/strace.$s.$name" 2>/dev/null &
			stpid=$!
			sleep 0.5
			# shellcheck disable=SC2086
			PGPASSWORD=$PG_PASSWORD pgbench -n -M "$PROTOCOL" $opts -c "$nc" -j "$(( nc < JOBS ? nc : JOBS ))" \
				-t "$((n / nc))" -h 127.0.0.1 \
				-p "$(port_of "$s")" -U "$PG_USER" "$DB" >/dev/null 2>&1 || log "strace pgbench failed on $s"
			kill -INT $stpid 2>/dev/null
			wait $stpid 2>/dev/null || true
			# calls of each system call, per transaction
			# (strace -c rows: % time, seconds, usecs/call, calls, [errors,] name)
			SYSC[$s.$name]=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" && $4 ~ /^[0-9]+$/ {
					printf "%s=%.2f ", $NF, $4 / n; tot += $4
				} END { printf "total=%.2f", tot / n }' "$WORK/strace.$s.$name")
			log "$s $name system calls per transaction: ${SYSC[$s.$name]}"
		done
	done
fi
ELAPSED=$(( $(date +%s) - START ))

# --- report -----------------------------------------------------------------------
DATE=$(date -u +%Y-%m-%d)
STAMP=$(date -u +%Y-%m-%dT%H:%MZ)
export BOUNCER_PORT PLUMB_PORT PINGPONG
export CSV WORK SYSTEMS PROTOCOL DURATION ROUNDS POOL_SIZE POOL_MODE JOBS SCALE AUTH_TYPE IDLE_CLIENTS \
	CONNECT_CLIENTS ELAPSED STAMP
export INSN_SUMMARY="$(for s in "${!INSN[@]}"; do echo "$s ${INSN[$s]}"; done)"
export SYSC_SUMMARY="$(for k in "${!SYSC[@]}"; do echo "$k ${SYSC[$k]}"; done)"
export LOAD_END="$(uptime | sed 's/.*load average: //')"
export CG_TX1 CG_TX2
export RSS_SUMMARY="$(for s in $SYSTEMS; do [ "$s" = direct ] && continue; echo "$s ${RSS_BEFORE[$s]:-NA} ${RSS_AFTER[$s]:-NA}"; done)"
export DIRECT_AUTH="$(psql -Atc "select string_agg(distinct auth_method, ', ') from pg_hba_file_rules where type = 'host'" 2>/dev/null || echo '?')"
export PGB_VERSION="$(pgbouncer --version 2>/dev/null | head -1)"
export PG_VERSION="$(psql -Atc 'select version()' | cut -d, -f1)"
export HOST_INFO="$(nproc) CPUs, $(uname -r)"
export PLUMB_COMMIT="${PLUMB_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"

python3 - > "$WORK/report.md" <<'EOF'
import csv, glob, os, statistics as st
rows = list(csv.DictReader(open(os.environ["CSV"])))
systems = os.environ["SYSTEMS"].split()
med = {}
for r in rows:
    med.setdefault((r["test"], int(r["clients"]), r["system"]), []).append(float(r["tps"]))
points = []
for r in rows:
    k = (r["test"], int(r["clients"]))
    if k not in points:
        points.append(k)
def m(t, c, s):
    v = med.get((t, c, s))
    return st.median(v) if v else None
def f(x, d=0):
    return "n/a" if x is None else f"{x:,.{d}f}"
def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"
label = {"S": "pgbench -S", "tpcb": "TPC-B", "connect": "-C -S (connect per txn)"}
E = os.environ
out = []
out.append(f"# pgplumb-pooler vs PgBouncer vs direct — {E['STAMP']}\n")
out.append(f"Command: `{E.get('BENCH_COMMAND', 'bench/pooler_vs_pgbouncer.sh')}` (pgplumb commit {E['PLUMB_COMMIT']})\n")
out.append(f"Setup: {E['PG_VERSION']}; {E['PGB_VERSION']}; {E['HOST_INFO']}; everything on one machine over loopback TCP. "
           f"Both poolers: pool_mode={E['POOL_MODE']}, default_pool_size={E['POOL_SIZE']}, auth_type={E['AUTH_TYPE']}, "
           f"run as user postgres. pgbench -M {E['PROTOCOL']}, scale {E['SCALE']}, -j min(clients,{E['JOBS']}), -T {E['DURATION']} s per run, "
           f"{E['ROUNDS']} alternating rounds (direct, pgbouncer, pgplumb per point per round, in reverse order in even rounds); figures are medians of the rounds. "
           f"Measuring took {E['ELAPSED']} s; load average (1, 5, 15 min) {E.get('LOAD_START', '?')} at the start, "
           f"{E.get('LOAD_END', '?')} at the end (2 CPUs: above 2 the machine was shared). Direct connections log in with the throwaway cluster's own TCP auth "
           f"({E.get('DIRECT_AUTH', '?')}), which dominates the direct -C figure; both poolers keep their server connections.\n")
out.append("## Throughput (tps, median of rounds)\n")
hdr = "| test | clients | " + " | ".join(systems) + " | pgplumb / pgbouncer | pgplumb / direct |"
out.append(hdr)
out.append("|" + "---|" * (hdr.count("|") - 1))
for t, c in points:
    vals = [m(t, c, s) for s in systems]
    out.append(f"| {label.get(t, t)} | {c} | " + " | ".join(f(v) for v in vals) +
               f" | {ratio(m(t, c, 'pgplumb'), m(t, c, 'pgbouncer'))} | {ratio(m(t, c, 'pgplumb'), m(t, c, 'direct'))} |")
# pooler CPU (user + system, from /proc) per transaction: includes the kernel side of
# its system calls, which callgrind does not see
cpu = {}
for r in rows:
    if r.get("pooler_cpu_us") and int(r.get("transactions") or 0) > 0:
        cpu.setdefault((r["test"], int(r["clients"]), r["system"]), []).append(
            int(r["pooler_cpu_us"]) / int(r["transactions"]))
poolers = [s for s in systems if s != "direct"]
if cpu and poolers:
    out.append("\n## Pooler CPU per transaction (µs of CPU time from /proc/PID/schedstat, user + system, median of rounds)\n")
    out.append("| test | clients | " + " | ".join(poolers) + " | pgplumb / pgbouncer |")
    out.append("|" + "---|" * (len(poolers) + 3))
    for t, c in points:
        vals = [st.median(cpu[(t, c, s)]) if (t, c, s) in cpu else None for s in poolers]
        pp, pb = (st.median(cpu[(t, c, k)]) if (t, c, k) in cpu else None for k in ("pgplumb", "pgbouncer"))
        out.append(f"| {label.get(t, t)} | {c} | " + " | ".join(f(v, 1) for v in vals) + f" | {ratio(pp, pb)} |")
# latency at 1 client from the --log files: per round p50/p99, median over rounds
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
lat = {}
per_round = {}	# (system, round) -> (p50, p99)
for s in systems:
    p50s, p99s = [], []
    for fn in sorted(glob.glob(os.path.join(E["WORK"], "lat", f"{s}.r*"))):
        v = []
        for line in open(fn):
            parts = line.split()
            if len(parts) >= 3:
                v.append(int(parts[2]))
        if v:
            p50s.append(pct(v, 50)); p99s.append(pct(v, 99))
            rnd = os.path.basename(fn)[len(s) + 2:].split(".")[0]
            per_round[(s, rnd)] = (p50s[-1], p99s[-1])
    if p50s:
        lat[s] = (st.median(p50s), st.median(p99s))
out.append("\n## Latency at 1 client, pgbench -S (µs, median over rounds of each round's percentile)\n")
out.append("| system | p50 | p99 | added p50 vs direct | added p99 vs direct |")
out.append("|---|---|---|---|---|")
for s in systems:
    if s in lat:
        d = lat.get("direct")
        a50 = f"{lat[s][0] - d[0]:+.0f}" if d and s != "direct" else "—"
        a99 = f"{lat[s][1] - d[1]:+.0f}" if d and s != "direct" else "—"
        out.append(f"| {s} | {lat[s][0]:.0f} | {lat[s][1]:.0f} | {a50} | {a99} |")
# the same round's runs sit next to each other in time: their differences
# cancel most of the drift of a shared machine
pairs = [(per_round[("pgplumb", r)], per_round[("pgbouncer", r)])
         for (s, r) in per_round if s == "pgplumb" and ("pgbouncer", r) in per_round]
if pairs:
    d50 = st.median(a[0] - b[0] for a, b in pairs)
    d99 = st.median(a[1] - b[1] for a, b in pairs)
    out.append(f"\npgplumb minus pgbouncer, same round (median over {len(pairs)} rounds): "
               f"p50 {d50:+.0f} µs, p99 {d99:+.0f} µs; per round p50: "
               + ", ".join(f"{a[0] - b[0]:+d}" for a, b in pairs))
pp = os.path.join(E["WORK"], "pingpong.out")
if os.path.exists(pp):
    v = {}
    for line in open(pp):
        f3 = line.split()
        if len(f3) == 3:
            v[int(f3[0])] = (float(f3[1]), float(f3[2]))
    b, p = v.get(int(E["BOUNCER_PORT"])), v.get(int(E["PLUMB_PORT"]))
    if b and p:
        out.append(f"\nInterleaved (one simple-protocol `-S` query to each pooler in turn, {E['PINGPONG']} each, "
                   "one client; round trip as the client sees it, µs):\n")
        out.append("| system | p50 | p99 |")
        out.append("|---|---|---|")
        out.append(f"| pgbouncer | {b[0]:.1f} | {b[1]:.1f} |")
        out.append(f"| pgplumb | {p[0]:.1f} | {p[1]:.1f} |")
        out.append(f"| pgplumb − pgbouncer | {p[0] - b[0]:+.1f} | {p[1] - b[1]:+.1f} |")
if int(E["IDLE_CLIENTS"]) > 0:
    out.append(f"\n## Memory with {E['IDLE_CLIENTS']} idle logged-in clients (RSS of the pooler process)\n")
    out.append("| system | RSS before (kB) | RSS with idle clients (kB) | per idle client (bytes) |")
    out.append("|---|---|---|---|")
for line in (E.get("RSS_SUMMARY", "") if int(E["IDLE_CLIENTS"]) > 0 else "").splitlines():
    s, b, a = line.split()
    per = "n/a"
    if b != "NA" and a != "NA" and int(E["IDLE_CLIENTS"]) > 0:
        per = f"{(int(a) - int(b)) * 1024 / int(E['IDLE_CLIENTS']):,.0f}"
    out.append(f"| {s} | {b} | {a} | {per} |")
if E.get("SYSC_SUMMARY", "").strip():
    sysc = {}
    for l in E["SYSC_SUMMARY"].splitlines():
        if l.strip():
            k, *kv = l.split()
            sysc[k] = dict(x.split("=") for x in kv)
    out.append("\n## System calls per transaction (strace -c on the pooler)\n")
    out.append("| system | workload | recvfrom | sendto | epoll_wait | epoll_ctl | other | total |")
    out.append("|---|---|---|---|---|---|---|---|")
    for s in systems:
        for t, lab in (("tpcb", "TPC-B, 1 client"), ("connect", "-C -S, 1 client (per connection)"),
                       ("S200", "-S, 200 clients")):
            d = sysc.get(f"{s}.{t}")
            if not d:
                continue
            main = {k: float(d.get(k, 0)) for k in ("recvfrom", "sendto", "epoll_wait", "epoll_ctl")}
            tot = float(d.get("total", 0))
            other = tot - sum(main.values())
            out.append(f"| {s} | {lab} | {main['recvfrom']:.2f} | {main['sendto']:.2f} | {main['epoll_wait']:.2f} | "
                       f"{main['epoll_ctl']:.2f} | {other:.2f} | {tot:.2f} |")
if E.get("INSN_SUMMARY", "").strip():
    insn = dict(l.split() for l in E["INSN_SUMMARY"].splitlines() if l.strip())
    out.append(f"\n## CPU instructions per relayed transaction (callgrind, pgbench -S -M {E.get('PROTOCOL', 'simple')}, 1 client)\n")
    out.append(f"Deterministic: (instructions for {E.get('CG_TX2')} transactions − for {E.get('CG_TX1')}) / difference, "
               "whole pooler process, user space.\n")
    out.append("| system | instructions per transaction |")
    out.append("|---|---|")
    for s in systems:
        if s in insn:
            out.append(f"| {s} | {int(insn[s]):,} |")
    if "pgplumb" in insn and "pgbouncer" in insn and int(insn["pgbouncer"]) > 0:
        out.append(f"\npgplumb / pgbouncer: {int(insn['pgplumb']) / int(insn['pgbouncer']):.2f}")
# data for the plot
with open(os.path.join(E["WORK"], "plot.dat"), "w") as pf:
    for t in ("S", "tpcb"):
        for s in systems:
            pf.write(f"# {t} {s}\n")
            for tt, c in points:
                if tt == t and m(t, c, s) is not None:
                    pf.write(f"{c} {m(t, c, s)}\n")
            pf.write("\n\n")
print("\n".join(out))
EOF

# plot: tps vs clients, one panel per workload
PNG="$WORK/plot.png"
{
	echo "set terminal pngcairo size 1100,450 noenhanced"
	echo "set output '$PNG'"
	echo "set multiplot layout 1,2 title 'tps vs clients (pool_size $POOL_SIZE, $POOL_MODE mode, median of $ROUNDS rounds)'"
	echo "set logscale x; set xlabel 'clients'; set ylabel 'tps'; set key below; set grid"
	echo "set xtics (1,10,50,200)"
	idx=0
	for t in S tpcb; do
		[ $t = S ] && echo "set title 'pgbench -S'" || echo "set title 'TPC-B'"
		line="plot "
		sep=""
		for s in $SYSTEMS; do
			line+="$sep'$WORK/plot.dat' index $idx with linespoints lw 2 title '$s'"
			sep=", "
			idx=$((idx + 1))
		done
		echo "$line"
	done
	echo "unset multiplot"
} > "$WORK/plot.gp"
gnuplot "$WORK/plot.gp" 2>/dev/null || log "gnuplot failed"

cat "$WORK/report.md"
if [ -z "${NO_RESULTS:-}" ]; then
	mkdir -p "$RESULTS_DIR"
	base="$RESULTS_DIR/pooler_vs_pgbouncer-$DATE"
	# never overwrite an earlier record of the same day
	[ -e "$base.md" ] && base="$base-$(date -u +%H%M)"
	cp "$WORK/report.md" "$base.md"
	cp "$CSV" "$base.csv"
	[ -f "$PNG" ] && cp "$PNG" "$base.png" && echo -e "\n![tps vs clients]($(basename "$base").png)" >> "$base.md"
	echo -e "\nEvery round: [$(basename "$base").csv]($(basename "$base").csv)" >> "$base.md"
	log "wrote $base.md, .csv, .png"
fi
