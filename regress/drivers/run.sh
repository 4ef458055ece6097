#!/bin/bash
# regress/drivers/run.sh -- run real client drivers' workloads directly against
# a throwaway PostgreSQL and through a connection pooler, and compare.
#
# Each workload (one per driver) prints a deterministic digest of what it saw:
# sorted "section<TAB>key<TAB>value" lines and, for errors it provoked on
# purpose, only their SQLSTATE.  It also checks its own results and exits 1
# on a mismatch or an unexpected error.  A driver passes through a pooler when
# the direct run passes and the pooled run exits 0 with a byte-identical digest.
#
# Usage: regress/drivers/run.sh [--target direct|pgbouncer|pgplumb]
#            [--pool-mode transaction|session] [--pooler-bin PATH]
#            [--driver NAME[,NAME...]]... [--clients N] [--trace]
# Drivers: node-pg postgres-js pgjdbc psycopg pgbench-prepared pgbench-extended
# (default: all).  The last line is "N passed, N failed"; exit 0 only if none
# failed.  Digests and logs are kept in regress/drivers/results/<target>/;
# --trace also keeps protocol traces there (psycopg: libpq's trace of every
# connection; pgjdbc: its FINEST java.util.logging log), in trace-<driver>-<direct|target>/
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ALL_DRIVERS="node-pg postgres-js pgjdbc psycopg pgbench-prepared pgbench-extended"

usage() {
	sed -n '/^# Usage:/,/^# (default/p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

target=direct pool_mode=transaction pooler_bin="" drivers="" clients=24 trace=0
while [ $# -gt 0 ]; do
	case "$1" in
		--target) target=${2:?}; shift 2 ;;
		--target=*) target=${1#*=}; shift ;;
		--pool-mode) pool_mode=${2:?}; shift 2 ;;
		--pool-mode=*) pool_mode=${1#*=}; shift ;;
		--pooler-bin) pooler_bin=${2:?}; shift 2 ;;
		--pooler-bin=*) pooler_bin=${1#*=}; shift ;;
		--driver) drivers="$drivers ${2:?}"; shift 2 ;;
		--driver=*) drivers="$drivers ${1#*=}"; shift ;;
		--trace) trace=1; shift ;;
		--clients) clients=${2:?}; shift 2 ;;
		--clients=*) clients=${1#*=}; shift ;;
		-h|--help) usage 0 ;;
		*) echo "run.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
	esac
done
drivers=$(echo "${drivers:-$ALL_DRIVERS}" | tr ',' ' ')
for d in $drivers; do
	case " $ALL_DRIVERS " in *" $d "*) ;; *) echo "run.sh: unknown driver: $d (known: $ALL_DRIVERS)" >&2; exit 2 ;; esac
done
case "$target" in direct|pgbouncer|pgplumb) ;; *) echo "run.sh: unknown target: $target" >&2; exit 2 ;; esac
case "$pool_mode" in transaction|session) ;; *) echo "run.sh: unknown pool mode: $pool_mode" >&2; exit 2 ;; esac
case "$clients" in ''|*[!0-9]*) echo "run.sh: --clients needs a number" >&2; exit 2 ;; esac
[ "$clients" -ge 1 ] && [ "$clients" -le 60 ] || { echo "run.sh: --clients must be 1..60" >&2; exit 2; }

# ---------------------------------------------------------------------------
# Outside the cluster: check tools, prepare, then re-run this script inside
# pg_virtualenv (which creates the throwaway cluster and drops it on exit).
if [ -z "${DRV_INSIDE:-}" ]; then
	need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh: $1 not found ($2)" >&2; missing=1; }; }
	missing=0
	need pg_virtualenv "Debian package postgresql-common"
	need psql "Debian package postgresql-client-15"
	case " $drivers " in *" node-pg "*|*" postgres-js "*) need node "Debian package nodejs"; need npm "Debian package npm" ;; esac
	case " $drivers " in *" pgjdbc "*)
		need javac "Debian package default-jdk-headless"
		[ -r /usr/share/java/postgresql.jar ] || { echo "run.sh: /usr/share/java/postgresql.jar not found (Debian package libpostgresql-jdbc-java)" >&2; missing=1; } ;;
	esac
	case " $drivers " in *" psycopg "*)
		/usr/bin/python3 -c 'import psycopg' 2>/dev/null || { echo "run.sh: /usr/bin/python3 cannot import psycopg (Debian package python3-psycopg)" >&2; missing=1; } ;;
	esac
	case " $drivers " in *" pgbench-"*) need pgbench "Debian package postgresql-client-15" ;; esac
	[ "$target" = pgbouncer ] && need pgbouncer "Debian package pgbouncer"
	if [ "$target" = pgplumb ]; then
		if [ -z "$pooler_bin" ]; then
			pooler_bin=$top/pooler/pgplumb-pooler
			if [ -f "$top/pooler/Makefile" ]; then make -s -C "$top/pooler" >&2 || { echo "run.sh: make -C pooler failed" >&2; missing=1; }; fi
		fi
		[ -x "$pooler_bin" ] || { echo "run.sh: pooler binary $pooler_bin not found (build it with make -C pooler, or pass --pooler-bin)" >&2; missing=1; }
		pooler_bin=$(cd "$(dirname "$pooler_bin")" 2>/dev/null && pwd)/$(basename "$pooler_bin")
	fi
	if [ $missing -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi

	case " $drivers " in *" node-pg "*|*" postgres-js "*)
		if [ ! -d "$here/node/node_modules/pg" ] || [ ! -d "$here/node/node_modules/postgres" ]; then
			echo "run.sh: installing node modules (npm ci)" >&2
			(cd "$here/node" && npm ci --no-audit --no-fund >&2) || { echo "run.sh: npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
		fi ;;
	esac

	results=$here/results/$target
	[ "$target" != direct ] && results=$results-$pool_mode
	rm -rf "$results"; mkdir -p "$results"
	# The pooler runs as postgres (PgBouncer refuses root): it reads its files
	# from a private temporary directory it owns.
	work=$(mktemp -d /tmp/pgplumb-drivers.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	chmod 755 "$work"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work"

	export DRV_INSIDE=1 DRV_TARGET=$target DRV_POOL_MODE=$pool_mode DRV_POOLER_BIN=$pooler_bin
	export DRV_DRIVERS=$drivers DRV_CLIENTS=$clients DRV_WORK=$work DRV_RESULTS=$results DRV_TRACE=$trace
	started=$(date +%s)
	# pg_virtualenv picks a free port but can lose a race with another cluster
	# starting at the same moment: retry when our inside part never started.
	for attempt in 1 2 3; do
		pg_virtualenv -t -v 15 -o max_connections=200 -o fsync=off "$0"
		rc=$?
		[ -e "$work/started" ] && break
		echo "run.sh: PostgreSQL did not start (attempt $attempt)" >&2
		sleep $((attempt * 3))
	done
	echo "run.sh: target $target${pooler_bin:+ ($pooler_bin)}, $(( $(date +%s) - started )) s; results in ${results#$top/}/"
	if [ -f "$work/summary" ]; then
		cat "$work/summary"
	else
		echo "run.sh: the run inside the cluster ended early (exit $rc)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	[ $rc -eq 0 ] && grep -q ' 0 failed$' "$work/summary"
	exit $?
fi

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: PGHOST, PGPORT, PGUSER, PGPASSWORD name the cluster.
work=$DRV_WORK results=$DRV_RESULTS
touch "$work/started"
pooler_pid="" runner_pid=""
cleanup() {
	local pid=""
	[ -f "$work/pooler.pid" ] && pid=$(cat "$work/pooler.pid" 2>/dev/null)
	sampler_stop
	for p in $pid $pooler_pid $runner_pid; do kill "$p" 2>/dev/null; done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=0
		for p in $pid $pooler_pid $runner_pid; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.2
	done
	for p in $pid $pooler_pid $runner_pid; do kill -9 "$p" 2>/dev/null; done
	[ -f "$work/pooler.log" ] && cp "$work/pooler.log" "$results/pooler.log" 2>/dev/null
	return 0
}
trap cleanup EXIT

passed=0 failed=0 failed_names=""
say() { echo "$@"; }
ok() { passed=$((passed + 1)); say "ok     $1"; }
not_ok() {
	failed=$((failed + 1)); failed_names="$failed_names $1"; say "FAILED $1${2:+: $2}"
}

psql -q -X -c "CREATE DATABASE drivers" -c "CREATE DATABASE pgbench" postgres >/dev/null || exit 1

# A free loopback port for the pooler.
free_port() {
	local p
	# below the kernel's ephemeral range (32768 up), which outgoing
	# connections draw their local ports from
	for p in $(shuf -i 20000-32000 -n 50); do
		# Nothing accepts a connection there (bash's /dev/tcp; no extra tool needed).
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# Write the pooler's configuration (PgBouncer's syntax; section name per pooler).
write_config() {
	local section=$1 port=$2 size
	size=2
	# In session mode a client keeps its server connection until it disconnects,
	# and the workloads keep their connections open: give every client one.
	[ "$DRV_POOL_MODE" = session ] && size=$((DRV_CLIENTS + 4))
	POOL_SIZE=$size
	printf '"%s" "%s"\n' "$PGUSER" "$PGPASSWORD" >"$work/userlist.txt"
	cat >"$work/pooler.ini" <<-EOF
	[databases]
	drivers = host=127.0.0.1 port=$PGPORT dbname=drivers user=$PGUSER password=$PGPASSWORD
	pgbench = host=127.0.0.1 port=$PGPORT dbname=pgbench user=$PGUSER password=$PGPASSWORD

	[$section]
	listen_addr = 127.0.0.1
	listen_port = $port
	auth_type = trust
	auth_file = $work/userlist.txt
	admin_users = $PGUSER
	pool_mode = $DRV_POOL_MODE
	default_pool_size = $size
	max_client_conn = 300
	ignore_startup_parameters = extra_float_digits
	logfile = $work/pooler.log
	pidfile = $work/pooler.pid
	EOF
	[ "$section" = pgbouncer ] && echo "unix_socket_dir =" >>"$work/pooler.ini"
	chmod 644 "$work/pooler.ini" "$work/userlist.txt"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work"/*
	return 0
}

start_pooler() {
	local attempt
	for attempt in 1 2 3; do
		start_pooler_once && return 0
		# another process took the port between the probe and the bind
		grep -q "Address already in use" "$work/pooler.stderr" "$work/pooler.log" 2>/dev/null || return 1
		kill "$runner_pid" 2>/dev/null; wait "$runner_pid" 2>/dev/null
		: >"$work/pooler.stderr"; : >"$work/pooler.log"
		say "pooler: port taken, trying another (attempt $attempt)"
	done
	return 1
}

start_pooler_once() {
	local port cmd
	port=$(free_port) || { echo "no free port"; return 1; }
	case "$DRV_TARGET" in
		pgbouncer) write_config pgbouncer "$port"; cmd=(pgbouncer "$work/pooler.ini") ;;
		pgplumb)
			write_config pgplumb "$port"
			# A copy the postgres user can surely execute (the tree may be under /root).
			cp "$DRV_POOLER_BIN" "$work/pgplumb-pooler" && chmod 755 "$work/pgplumb-pooler" || return 1
			cmd=("$work/pgplumb-pooler" "$work/pooler.ini") ;;
	esac
	cp "$work/pooler.ini" "$results/pooler.ini"
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "${cmd[@]}" >>"$work/pooler.stderr" 2>&1 &
	else
		"${cmd[@]}" >>"$work/pooler.stderr" 2>&1 &
	fi
	runner_pid=$!
	for _ in $(seq 1 50); do
		if pg_isready -q -h 127.0.0.1 -p "$port" -d drivers 2>/dev/null &&
			psql -X -q -h 127.0.0.1 -p "$port" -d drivers -Atc "SELECT 1" >/dev/null 2>&1; then
			POOLER_PORT=$port
			say "pooler: $DRV_TARGET ($DRV_POOL_MODE mode) on 127.0.0.1:$port, server 127.0.0.1:$PGPORT"
			return 0
		fi
		kill -0 "$runner_pid" 2>/dev/null || break
		sleep 0.2
	done
	say "pooler: $DRV_TARGET did not start or does not answer SELECT 1; its output:"
	cat "$work/pooler.stderr" "$work/pooler.log" 2>/dev/null | tail -20 | sed 's/^/    /'
	return 1
}

# The harness's own direct connections to "drivers" carry this
# application_name, so that the sampler below does not count one that is
# still exiting when a workload starts.
HARNESS_APP=pp_drivers_harness
reset_schema() {
	PGAPPNAME=$HARNESS_APP psql -X -q -v ON_ERROR_STOP=1 -d drivers -f "$here/schema.sql" >/dev/null
}

java_built=""
build_java() {
	[ -n "$java_built" ] && return 0
	mkdir -p "$work/java"
	javac -d "$work/java" -cp /usr/share/java/postgresql.jar "$here/java/JdbcWorkload.java" &&
		java_built=1
}

# pgbench through a port: a short run that must exit 0 with no failed or
# aborted transactions, leaving the TPC-B balances consistent.  Prints a digest.
pgbench_workload() {
	local mode=$1 port=$2 out rc failed processed sums
	PGAPPNAME=$HARNESS_APP pgbench -i -q -s 1 -h "$PGHOST" -p "$PGPORT" pgbench >/dev/null 2>&1 || { echo "pgbench -i failed"; return 1; }
	sampler_start "$port" pgbench
	out=$(timeout 30 pgbench -n -h 127.0.0.1 -p "$port" -c 20 -j 2 -T 3 -M "$mode" pgbench 2>&1)
	rc=$?
	sampler_stop
	echo "$out" >&2
	failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
	processed=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	sums=$(psql -X -At -h "$PGHOST" -p "$PGPORT" -d pgbench -c "
		SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
		   AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
		   AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)")
	echo "pgbench	exit	$rc"
	echo "pgbench	failed-transactions	${failed:-missing}"
	if [ "${processed:-0}" -gt 0 ] 2>/dev/null; then echo "pgbench	processed	>0"; else echo "pgbench	processed	${processed:-missing}"; fi
	echo "pgbench	balances-consistent	$sums"
	echo "$out" | grep -E '^(pgbench: error|.*aborted|.*ERROR)' | sed 's/[0-9]\+/N/g' | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/pgbench\terror\t\2 (x\1)/' | head -5
	local ok=1
	[ $rc -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${processed:-0}" -gt 0 ] 2>/dev/null && [ "$sums" = t ] || ok=0
	echo "end pgbench-$mode failures=$((1 - ok))"
	[ $ok -eq 1 ]
}

# While a workload runs through the pooler, count the server connections it
# holds to database $2 (its pool) every 0.2 s; the most seen is checked
# against default_pool_size.  The sampler itself connects to "postgres".
sampler_pid=""
sampler_start() {
	[ "$1" = "$PGPORT" ] && return 0
	echo 0 >"$work/backends.max"
	(
		max=0
		while :; do
			n=$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
				WHERE datname = '$2' AND backend_type = 'client backend'
				  AND application_name IS DISTINCT FROM '$HARNESS_APP'" 2>/dev/null)
			if [ -n "$n" ] && [ "$n" -gt "$max" ]; then max=$n; echo "$max" >"$work/backends.max"; fi
			sleep 0.2
		done
	) &
	sampler_pid=$!
}
sampler_stop() {
	[ -n "$sampler_pid" ] || return 0
	kill "$sampler_pid" 2>/dev/null
	wait "$sampler_pid" 2>/dev/null
	sampler_pid=""
	return 0
}

# Run one driver's workload against a port; digest to $3, stderr to $3.log.
run_workload() {
	local driver=$1 port=$2 out=$3 rc
	reset_schema || { echo "schema reset failed" >"$out.log"; return 1; }
	export DRV_HOST=127.0.0.1 DRV_PORT=$port DRV_DB=drivers DRV_USER=$PGUSER DRV_PASSWORD=$PGPASSWORD
	# The workload's own deadline (it then prints what it has, naming the
	# stuck clients); timeout(1) only if even that does not happen.
	local hard=$((DRV_DEADLINE + 20))
	case "$driver" in pgjdbc) build_java 2>"$out.log" || return 1 ;; esac
	unset DRV_TRACE_DIR
	if [ "$DRV_TRACE" = 1 ]; then
		export DRV_TRACE_DIR=$results/trace-$(basename "$out" | sed 's/\.\([^.]*\)$/-\1/')
		mkdir -p "$DRV_TRACE_DIR"
	fi
	case "$driver" in pgbench-*) ;; *) sampler_start "$port" drivers ;; esac
	case "$driver" in
		node-pg) timeout "$hard" node "$here/node/node_pg.js" >"$out" 2>"$out.log" ;;
		postgres-js) timeout "$hard" node "$here/node/postgres_js.js" >"$out" 2>"$out.log" ;;
		psycopg) timeout "$hard" /usr/bin/python3 "$here/python/psycopg_workload.py" >"$out" 2>"$out.log" ;;
		pgjdbc)
			local jopts=()
			if [ -n "${DRV_TRACE_DIR:-}" ]; then
				# pgjdbc logs every protocol message at FINEST (FE=> Parse(stmt=S_1,...), <=BE ...).
				cat >"$DRV_TRACE_DIR/logging.properties" <<-EOF
				handlers = java.util.logging.FileHandler
				java.util.logging.FileHandler.pattern = $DRV_TRACE_DIR/pgjdbc.trace
				java.util.logging.FileHandler.limit = 200000000
				java.util.logging.FileHandler.level = ALL
				java.util.logging.FileHandler.formatter = java.util.logging.SimpleFormatter
				java.util.logging.SimpleFormatter.format = %1\$tT.%1\$tL %5\$s%n
				org.postgresql.level = FINEST
				EOF
				jopts=(-Djava.util.logging.config.file="$DRV_TRACE_DIR/logging.properties")
			fi
			timeout "$hard" java -Xss512k "${jopts[@]}" -cp "$work/java:/usr/share/java/postgresql.jar" JdbcWorkload >"$out" 2>>"$out.log" ;;
		pgbench-prepared) pgbench_workload prepared "$port" >"$out" 2>"$out.log" ;;
		pgbench-extended) pgbench_workload extended "$port" >"$out" 2>"$out.log" ;;
	esac
	rc=$?
	sampler_stop
	[ $rc -eq 124 ] && echo "run.sh: killed after $hard s" >>"$out.log"
	return $rc
}

# Why a run failed, in a few lines: the most frequent unexpected errors and
# mismatches, and (given the direct digest) which sections differ.
explain() {
	local digest=$1 reference=${2:-}
	grep -P '\t(ERROR|MISMATCH)|\terror\t' "$digest" 2>/dev/null | cut -f1,3 |
		sed -e 's/\tMISMATCH .*/\tMISMATCH (a result differs from what PostgreSQL returns)/' \
			-e 's/prepared statement "[^"]*"/prepared statement "<name>"/' -e 's/\t/: /' |
		sort | uniq -c | sort -rn | head -8 | sed 's/^/    /'
	if [ -n "$reference" ]; then
		echo "    sections that differ (lines): $(diff "$reference" "$digest" | sed -n 's/^[<>] \([^\t]*\)\t.*/\1/p' | sort | uniq -c | awk '{printf "%s(%s) ", $2, $1}')"
	fi
	tail -3 "$digest.log" 2>/dev/null | sed 's/^/    log: /'
}

if [ "$DRV_TARGET" != direct ]; then
	start_pooler || { not_ok "$DRV_TARGET-start" "the pooler did not start"; printf '%s passed, %s failed\n' "$passed" "$failed" >"$work/summary"; exit 0; }
fi
via="$DRV_TARGET ($DRV_POOL_MODE)"

for driver in $DRV_DRIVERS; do
	t0=$(date +%s)
	direct=$results/$driver.direct
	export DRV_DEADLINE=100
	run_workload "$driver" "$PGPORT" "$direct"
	rc=$?
	if [ $rc -ne 0 ] || ! tail -1 "$direct" | grep -q '^end .* failures=0$'; then
		not_ok "$driver direct" "exit $rc, see ${direct#$top/}"
		explain "$direct"
		[ "$DRV_TARGET" = direct ] || not_ok "$driver via $via" "no valid direct result to compare with"
		continue
	fi
	ok "$driver direct ($(grep -c . "$direct") digest lines, $(( $(date +%s) - t0 )) s)"
	[ "$DRV_TARGET" = direct ] && continue

	# Through the pooler a workload may take longer than direct, but not much:
	# three times the direct run plus 30 s (60 to 100 s) before it is "stuck".
	DRV_DEADLINE=$(( 3 * ($(date +%s) - t0) + 30 ))
	[ $DRV_DEADLINE -lt 60 ] && DRV_DEADLINE=60
	[ $DRV_DEADLINE -gt 100 ] && DRV_DEADLINE=100
	t0=$(date +%s)
	pooled=$results/$driver.$DRV_TARGET
	run_workload "$driver" "$POOLER_PORT" "$pooled"
	rc=$?
	seen=$(cat "$work/backends.max" 2>/dev/null || echo 0)
	if [ "$seen" -gt "$POOL_SIZE" ]; then
		not_ok "$driver via $via" "$seen server connections seen at once, default_pool_size is $POOL_SIZE"
	elif [ $rc -eq 0 ] && cmp -s "$direct" "$pooled"; then
		ok "$driver via $via (digest identical, at most $seen server connections, $(( $(date +%s) - t0 )) s)"
	else
		ndiff=$(diff "$direct" "$pooled" | grep -c '^[<>]')
		not_ok "$driver via $via" "exit $rc, $ndiff digest lines differ, see ${pooled#$top/}"
		explain "$pooled" "$direct"
		diff "$direct" "$pooled" >"$pooled.diff"
		head -8 "$pooled.diff" | sed 's/^/    diff: /'
	fi
	# A pooler that died takes every later driver with it: say so once.
	if ! pg_isready -q -h 127.0.0.1 -p "$POOLER_PORT" 2>/dev/null; then
		say "pooler: no longer answers on port $POOLER_PORT; restarting it"
		cleanup; pooler_pid="" runner_pid=""; rm -f "$work/pooler.pid"
		start_pooler || break
	fi
done

[ -n "$failed_names" ] && say "failed:$failed_names"
printf '%s passed, %s failed\n' "$passed" "$failed" >"$work/summary"
# The outer run.sh reads the summary; a non-zero exit here would only make
# pg_virtualenv dump the whole server log.
exit 0
