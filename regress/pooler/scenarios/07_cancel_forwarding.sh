# A client's CancelRequest (psql on SIGINT) reaches the right backend
# through the pooler-issued key, in transaction mode with several clients.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 3"

# a bystander whose query must not be cancelled
pq -c "select pg_sleep(1.5)" -c "select 'bystander done'" >"$SCEN_DIR/bystander.out" 2>&1 &
by=$!
/usr/bin/python3 - "$(pooler_url)" >"$SCEN_DIR/victim.out" 2>&1 <<'PY'
import sys, threading, time, psycopg
c = psycopg.connect(sys.argv[1], autocommit=True)
threading.Timer(0.3, c.cancel).start()
t0 = time.time()
try:
    c.execute("select pg_sleep(20)")
    print("not cancelled")
except psycopg.errors.QueryCanceled as e:
    print("cancelled:", e.sqlstate, str(e).strip(), "elapsed_ms=%d" % ((time.time() - t0) * 1000))
print("after:", c.execute("select 'same connection ok'").fetchone()[0])
PY
out=$(cat "$SCEN_DIR/victim.out")
assert_contains "$out" "cancelled: 57014 canceling statement due to user request" "cancel forwarded to the server"
ms=$(echo "$out" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
assert_le "$ms" 2000 "cancel took effect quickly (ms)"
assert_contains "$out" "after: same connection ok" "client goes on after its cancel"
assert_log "cancel request forwarded"
wait $by
assert_contains "$(cat "$SCEN_DIR/bystander.out")" "bystander done" "other client's query untouched"

# a cancel with a wrong key is ignored and the pooler keeps serving
/usr/bin/python3 - "$POOLER_PORT" <<'PY' || fail "bogus cancel"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(struct.pack("!iiii", 16, 80877102, 12345, 67890))
assert s.recv(10) == b""
PY
assert_log "cancel request with an unknown key"
assert_eq "$(pq -c "select 7")" 7 "still serving"
