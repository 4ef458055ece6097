#!/bin/bash
# t_batch_differential.sh -- the batch-insert rewriting differential test.
#
# Starts a throwaway PostgreSQL 15 (pg_virtualenv), then Debian's PgBouncer
# (session mode, no rewriting) and the batch test relay
# (pooler/build/batch/batch_proxy: pooler/batch.c over real sockets, rewriting
# on), and runs regress/pooler/batch_diff.py against direct PostgreSQL, PgBouncer
# and the relay: every client-visible reply and the final table contents must
# be identical.  The relay must also have really rewritten segments and really
# fallen back (so a relay that rewrote nothing cannot pass).
#
# With PGPLUMB_POOLER=path/to/binary (make check-batching), pgplumb-pooler with
# insert_batching = on is a target twice: in session pooling and in
# transaction pooling, so every scenario is checked in both modes; then the
# scenarios without a transaction block run again in statement pooling.
#
# Usage: regress/pooler/t_batch_differential.sh        (from the repository root)
#        BATCH_DIFF_ONLY=scenario_name ... to run one scenario
# Needs: postgresql-15, postgresql-common, pgbouncer, python3-psycopg,
#        libpg-query-dev, libprotobuf-c-dev, check.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" != "--inner" ]; then
	make -s -f pooler/batch.mk all >/dev/null
	# another try when pg_virtualenv failed before our command started
	# (other sessions' throwaway clusters race for ports)
	top=$PWD
	. regress/lib/stage.sh
	pp_venv=(-t -v "$pp_pgver")
	rc=0
	pp_run_virtualenv timeout 600 "$0" --inner || rc=$?
	exit $rc
fi

work=$(mktemp -d /tmp/t_batch.XXXXXX)
chmod 755 "$work"
chown postgres "$work"	# PgBouncer runs as postgres and writes its log here
pids=()
declare -A ports
modes="session transaction statement s-stream t-stream u-session u-transaction"
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

pgport=$(psql -Atc 'show port')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bport=$(free_port)
rport=$(free_port)
pport=$(free_port)

cat >"$work/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$pgport user=postgres password=$PGPASSWORD
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 60
ignore_startup_parameters = extra_float_digits
logfile = $work/pgbouncer.log
EOF
echo '"postgres" "unused"' >"$work/userlist.txt"
chmod 644 "$work"/*
runuser -u postgres -- pgbouncer "$work/pgbouncer.ini" &
pids+=($!)
: >"$work/relay.stats"
chmod 666 "$work/relay.stats"
# 64 rows per multi-row statement so that the large scenarios span chunks.
pooler/build/batch/batch_proxy "$rport" 127.0.0.1 "$pgport" 64 "$work/relay.stats" &
pids+=($!)
targets=("127.0.0.1:$pgport" "127.0.0.1:$bport" "127.0.0.1:$rport")
if [ -n "${PGPLUMB_POOLER:-}" ]; then
	# session pooling, and transaction pooling with 2 server connections
	# (statements re-prepared on whichever server the client gets)
	# s-stream / t-stream: session / transaction pooling with runs streamed
	# (insert_batch_stream_rows 2, global; 3, a [databases] key)
	# insert_batch_form: values in session pooling, unnest in u-session
	# (global) and u-transaction (a [databases] key), auto in t-stream, the
	# default elsewhere
	for mode in $modes; do
		port=$(free_port)
		# transaction pooling: statements of at most 1 kB of values (a
		# [databases] key), so the large scenarios are split by bytes rather
		# than rows (checked below against session pooling)
		dbextra= extra= pm=$mode
		case $mode in
			session) extra="insert_batch_form = values" ;;
			transaction) dbextra=" insert_batch_max_bytes=1024" ;;
			s-stream) extra="insert_batch_stream_rows = 2" pm=session ;;
			t-stream) dbextra=" insert_batch_stream_rows=3 insert_batch_form=auto" pm=transaction ;;
			u-session) extra="insert_batch_form = unnest" pm=session ;;
			u-transaction) dbextra=" insert_batch_form=unnest insert_batch_max_bytes=1024" pm=transaction ;;
		esac
		cat >"$work/pgplumb-$mode.ini" <<EOF
[databases]
nobatch = host=127.0.0.1 port=$pgport dbname=postgres user=postgres password=$PGPASSWORD insert_batching=off
* = host=127.0.0.1 port=$pgport user=postgres password=$PGPASSWORD$dbextra
[pgplumb]
listen_addr = 127.0.0.1
listen_port = $port
admin_users = postgres
auth_type = trust
auth_file = $work/userlist.txt
unix_socket_dir =
pool_mode = $pm
default_pool_size = 2
insert_batching = on
logfile = $work/pgplumb-$mode.log
$extra
EOF
		"$PGPLUMB_POOLER" "$work/pgplumb-$mode.ini" &
		pids+=($!)
		ports[$mode]=$port
		if [ $mode = statement ]; then stport=$port; else targets+=("127.0.0.1:$port"); fi
	done
fi

# wait (bounded) until every target accepts connections
for hp in "${targets[@]}"; do
	for _ in $(seq 50); do
		if psql "host=${hp%:*} port=${hp#*:} dbname=postgres sslmode=disable connect_timeout=2" \
			-Atc 'select 1' >/dev/null 2>&1; then break; fi
		sleep 0.1
	done
done

export PGDATABASE=postgres
rc=0
/usr/bin/python3 regress/pooler/batch_diff.py ${BATCH_DIFF_ONLY:+--only "$BATCH_DIFF_ONLY"} "${targets[@]}" || rc=1
if [ -z "${BATCH_DIFF_ONLY:-}" ]; then
	# LISTEN: direct, PgBouncer, the relay and the session-pooling targets
	echo "--- session pooling only (LISTEN)"
	session_targets=("${targets[@]:0:3}")
	if [ -n "${PGPLUMB_POOLER:-}" ]; then
		session_targets+=("127.0.0.1:${ports[session]}" "127.0.0.1:${ports[s-stream]}")
	fi
	/usr/bin/python3 regress/pooler/batch_diff.py --session-only "${session_targets[@]}" || rc=1
fi
if [ -n "${stport:-}" ]; then
	# statement pooling refuses transaction blocks: the other scenarios
	echo "--- statement pooling (scenarios without BEGIN)"
	/usr/bin/python3 regress/pooler/batch_diff.py --implicit-only ${BATCH_DIFF_ONLY:+--only "$BATCH_DIFF_ONLY"} \
		"${targets[0]}" "127.0.0.1:$stport" || rc=1
fi
if [ -n "${PGPLUMB_POOLER:-}" ] && [ -z "${BATCH_DIFF_ONLY:-}" ]; then
	# the streamed targets answer a run's first rows before its last one
	# completes; session pooling without streaming must not (the check can fail)
	for mode in s-stream t-stream; do
		/usr/bin/python3 regress/pooler/batch_diff.py --stream-check "${targets[0]}" "127.0.0.1:${ports[$mode]}" || rc=1
	done
	if /usr/bin/python3 regress/pooler/batch_diff.py --stream-check "${targets[0]}" "127.0.0.1:${ports[session]}" 2; then
		echo "FAIL: the stream check passed without insert_batch_stream_rows"
		rc=1
	fi
	# insert_batch_form = unnest really runs unnest statements, and values not
	/usr/bin/python3 regress/pooler/batch_diff.py --unnest-check "${targets[0]}" "127.0.0.1:${ports[u-session]}" || rc=1
	/usr/bin/python3 regress/pooler/batch_diff.py --unnest-check "${targets[0]}" "127.0.0.1:${ports[session]}" no || rc=1
fi
for mode in $modes; do
	if [ $rc -ne 0 ] && [ -f "$work/pgplumb-$mode.log" ]; then
		echo "--- pgplumb-pooler ($mode) log (last 20 lines)"
		tail -n 20 "$work/pgplumb-$mode.log"
	fi
done
sleep 0.3	# let the relay's children write their counters
read -r batches rows segments fallbacks < <(awk '{b+=$1; r+=$2; s+=$3; f+=$4} END {print b+0, r+0, s+0, f+0}' "$work/relay.stats")
echo "relay: $batches multi-row statements carrying $rows rows, $segments segments rewritten, $fallbacks fallbacks"
if [ -z "${BATCH_DIFF_ONLY:-}" ] && { [ "$segments" -lt 10 ] || [ "$fallbacks" -lt 5 ]; }; then
	echo "FAIL: the relay did not rewrite (or did not fall back) as often as the scenarios require"
	rc=1
fi
if [ -n "${PGPLUMB_POOLER:-}" ]; then
	# insert_batching=off for one [databases] entry: the same multi-statement
	# string is rewritten through "postgres" and not through "nobatch"
	psql -qc 'CREATE TABLE bover (a int)'
	for db in postgres nobatch; do
		psql "host=127.0.0.1 port=${ports[session]} dbname=$db sslmode=disable" -qc \
			'INSERT INTO bover VALUES (1); INSERT INTO bover VALUES (2)'
	done
	[ "$(psql -Atc 'SELECT count(*) FROM bover')" = 4 ] || { echo "FAIL: bover rows"; rc=1; }
	# a multi-statement string's literals go as parameters of a prepared
	# statement (session pooling: the client's session is the server's)
	psql -qc 'CREATE TABLE blitp (a int, b text)'
	n=$(psql "host=127.0.0.1 port=${ports[session]} dbname=postgres sslmode=disable" -qAt \
		-c "INSERT INTO blitp VALUES (1, 'x'); INSERT INTO blitp VALUES (-2, NULL)" \
		-c "SELECT string_agg(parameter_types::text, ' ') FROM pg_prepared_statements
			WHERE name LIKE 'pgplumb_batch%' AND statement LIKE '%INTO blitp VALUES (\$1, \$2),(\$3, \$4)%'")
	echo "literals as parameters: prepared with types $n"
	[ "$n" = '{integer,text,integer,text}' ] || { echo "FAIL: literals not sent as parameters"; rc=1; }
	[ "$(psql -Atc "SELECT string_agg(a || ':' || coalesce(b, '-'), ' ' ORDER BY a) FROM blitp")" = '-2:- 1:x' ] ||
		{ echo "FAIL: blitp rows"; rc=1; }
	psql -qc 'DROP TABLE bover, blitp'
	sleep 0.3	# the last clients' counters reach the pool when they are freed
fi
declare -A extra
for mode in $modes; do
	[ -n "${PGPLUMB_POOLER:-}" ] || break
	read -r pb pr ps pf < <(sed -n 's/.*insert batching: \([0-9]*\) multi-row statements carrying \([0-9]*\) rows, \([0-9]*\) segments rewritten, \([0-9]*\) fallbacks.*/\1 \2 \3 \4/p' "$work/pgplumb-$mode.log" |
		awk '{b+=$1; r+=$2; s+=$3; f+=$4} END {print b+0, r+0, s+0, f+0}')
	echo "pgplumb-pooler ($mode): $pb multi-row statements carrying $pr rows, $ps segments rewritten, $pf fallbacks"
	# statements beyond one per segment: more when runs are split by bytes
	extra[$mode]=$((pb - ps))
	if [ $mode != session ] && [ $mode != statement ] && [ $mode != u-session ] && [ -z "${BATCH_DIFF_ONLY:-}" ] &&
		[ "${extra[$mode]}" -le "${extra[session]}" ]; then
		echo "FAIL: $mode: insert_batch_max_bytes or insert_batch_stream_rows did not split runs" \
			"(${extra[$mode]} statements beyond one per segment, session pooling ${extra[session]})"
		rc=1
	fi
	if [ -z "${BATCH_DIFF_ONLY:-}" ] && { [ "$ps" -lt 10 ] || [ "$pf" -lt 5 ]; }; then
		echo "FAIL: pgplumb-pooler ($mode) did not rewrite (or did not fall back) as often as the scenarios require"
		rc=1
	fi
	# SHOW BATCHING agrees with the clients' own counters, reasons add up
	show=$(psql "host=127.0.0.1 port=${ports[$mode]} dbname=pgbouncer user=postgres sslmode=disable" \
		-AtF' ' -c 'SHOW BATCHING')
	echo "SHOW BATCHING ($mode):" $show
	read -r _ ss sr sb ssaved sf sfe sfr sft < <(awk '$1 == "postgres"' <<<"$show")
	if [ "${ss:-x}" != "$ps" ] || [ "$sr" != "$pr" ] || [ "$sb" != "$pb" ] || [ "$sf" != "$pf" ] ||
		[ "$ssaved" != $((sr - sb)) ] || [ $((sfe + sfr + sft)) != "$sf" ]; then
		echo "FAIL: SHOW BATCHING ($mode) does not match the clients' counters"
		rc=1
	fi
	if [ -z "${BATCH_DIFF_ONLY:-}" ] && { [ "$sfe" -lt 1 ] || [ "$sfr" -lt 1 ] || [ "$sft" -lt 1 ]; }; then
		echo "FAIL: SHOW BATCHING ($mode): a fallback reason the scenarios cause is missing"
		rc=1
	fi
	if [ $mode = session ] && ! awk '$1 == "nobatch" && $2 == 0 {ok=1} END {exit !ok}' <<<"$show"; then
		echo "FAIL: insert_batching=off in [databases] did not stop rewriting"
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "PASS t_batch_differential" || echo "FAIL t_batch_differential"
exit $rc
