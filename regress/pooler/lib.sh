# lib.sh -- helpers for the pooler end-to-end scenarios (sourced).
# Provides: start_pooler, stop_pooler, pq (psql through the pooler),
# padmin (admin console), direct (psql to the server), assertions.
# Every scenario gets SCEN_DIR (its work dir) and PG_SERVER_PORT from run.sh.
set -u
LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$LIB_DIR"
POOLER_PID=""
POOLER_PORT=""
POOLER_LOG="$SCEN_DIR/pooler.log"
POOLER_INI="$SCEN_DIR/pooler.ini"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $* [$(date +%S.%N | cut -c1-6)]"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# write_ini "main-section lines" ["extra [databases] lines"]
write_ini() {
	local main="$1" dbs="${2:-}"
	[ -n "$POOLER_PORT" ] || POOLER_PORT=$(free_port)
	cat >"$POOLER_INI" <<INI
[databases]
ppdb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb
$dbs

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOLER_PORT
unix_socket_dir =
auth_type = trust
admin_users = postgres
stats_users = stats
pidfile = $SCEN_DIR/pooler.pid
server_login_retry = 0.2
$main
INI
}

# start_pooler "main-section lines" ["extra [databases] lines"]
start_pooler() {
	write_ini "$@"
	"$POOLER_BIN" -v "$POOLER_INI" >>"$POOLER_LOG" 2>&1 &
	POOLER_PID=$!
	trap 'stop_pooler' EXIT
	for _ in $(seq 1 100); do
		if psql "host=127.0.0.1 port=$POOLER_PORT dbname=pgbouncer user=postgres" -XAtqc 'show version' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$POOLER_PID" 2>/dev/null || fail "pooler exited at start: $(tail -5 "$POOLER_LOG")"
		sleep 0.05
	done
	fail "pooler did not start listening"
}

stop_pooler() {
	if [ -n "$POOLER_PID" ] && kill -0 "$POOLER_PID" 2>/dev/null; then
		kill -INT "$POOLER_PID" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$POOLER_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$POOLER_PID" 2>/dev/null
	fi
	wait "$POOLER_PID" 2>/dev/null
	POOLER_PID=""
}

# pq [psql args...]: through the pooler to ppdb as postgres (override with PQDB/PQUSER)
pq() {
	psql "host=127.0.0.1 port=$POOLER_PORT dbname=${PQDB:-ppdb} user=${PQUSER:-postgres} ${PQOPTS:-}" -XAtq "$@"
}
padmin() {
	psql "host=127.0.0.1 port=$POOLER_PORT dbname=pgbouncer user=${ADMUSER:-postgres}" -XAtq "$@"
}
# direct: straight to the server, for catalog queries (pg_stat_activity...); it
# connects to "postgres" so that its own short-lived sessions (still exiting
# when the next check runs) never count as ppdb backends
direct() {
	psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=postgres user=postgres" -XAtq "$@"
}
pooler_url() { echo "host=127.0.0.1 port=$POOLER_PORT dbname=${PQDB:-ppdb} user=${PQUSER:-postgres}"; }

# number of server backends connected to ppdb (excluding this query's own)
backend_count() {
	direct -c "select count(*) from pg_stat_activity where datname='${1:-ppdb}' and pid <> pg_backend_pid()"
}

assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; ok "$3"; }
assert_le() { [ "$1" -le "$2" ] || fail "$3: expected <= $2, got $1"; ok "$3 ($1 <= $2)"; }
assert_ge() { [ "$1" -ge "$2" ] || fail "$3: expected >= $2, got $1"; ok "$3 ($1 >= $2)"; }
assert_contains() { case "$1" in *"$2"*) ok "$3" ;; *) fail "$3: '$2' not in: $1" ;; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "$3: '$2' found in: $1" ;; *) ok "$3" ;; esac; }
assert_log() { grep -q -- "$1" "$POOLER_LOG" || fail "log lacks '$1'"; ok "log has '$1'"; }

# wait_for "command" timeout_ms: poll until the command succeeds
wait_for() {
	local cmd="$1" ms="${2:-3000}" waited=0
	while [ $waited -lt "$ms" ]; do
		if eval "$cmd" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
		waited=$((waited + 50))
	done
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
