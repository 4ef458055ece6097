# A Bind or Describe of a statement that the client has and its server
# connection lacks (evicted), in a transaction that has failed (issue 5,
# prep_diff.py --cases): PostgreSQL finds the statement, checks the
# parameter count (08P01) and describes statements that return no rows
# before it refuses with 25P02; the pooler's replies must be the same bytes,
# one segment at a time and with the failing segment pipelined before.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --cases 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection (above)"
ok "Bind/Describe of an evicted statement in a failed transaction answered as PostgreSQL answers"

# the same on a server connection that has had no Parse yet (the one before
# was terminated): the rows probe goes ahead of its first request
out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --fresh 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies on a new server connection differ from a direct connection (above)"
ok "Describe in a failed transaction on a new server connection answered as PostgreSQL answers"
