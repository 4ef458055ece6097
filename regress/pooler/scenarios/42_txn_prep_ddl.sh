# Statements and their learned descriptions after DDL and for a client's
# own search_path, within one pool (issue 5, prep_diff.py --ddl): an ALTER
# TABLE through the pooler makes a later Parse of the same text a new
# statement (parsed and described again: the new parameter type, no
# "cached plan must not change result type"), while a statement prepared
# before keeps its description, as on a direct connection; a client's
# SET search_path that finds another table gets that table's types; after
# DDL the pooler does not see, the Bind fails with 0A000 as on a direct
# connection, and preparing the text again works.  Replies compared byte for
# byte with direct ones; one server connection, max_prepared_statements = 3.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --ddl 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection (above)"
ok "statements after DDL and under another search_path described as PostgreSQL describes them"
