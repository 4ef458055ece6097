# A DISCARD ALL (simple or extended protocol) from one client empties the
# pool's only server connection, the pooler's rows probe PGPLUMB_000 with it
# (issue 5).  Another client that prepared a statement then fails a
# transaction and describes the statement: PostgreSQL answers 25P02 from
# exec_describe_statement_message (or describes a statement without rows),
# and so must the pooler, which needs the rows probe back on that server
# connection for it.  Replies compared byte for byte with direct ones
# (prep_diff.py --discard).
. "$(dirname "$0")/../lib.sh"
psql -Xq -h 127.0.0.1 -p "$PG_SERVER_PORT" -U postgres -d ppdb >/dev/null <<'SQL' || fail "setup"
create table if not exists pp_prep_fail (v int);
SQL
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --discard 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection (above)"
ok "Describe in a failed transaction after another client's DISCARD ALL answered as PostgreSQL answers"
