# A RELOAD that changes a database entry (issue 5, prep_diff.py --reload):
# as in PgBouncer, clients connected before stay and go on with the changed
# entry (its server connections are replaced).  Their statements must be
# those of the new entry: a client that prepared a text before the reload
# (ppdb, pp_reload.v int) prepares it again after the entry was pointed at
# ppdb2 (v text) and describes it, in a failed transaction too; the replies
# must be those of a direct connection to ppdb2 (before, the description
# learned under the old entry answered the Describe in the failed
# transaction).  The second text switches the entry back.
. "$(dirname "$0")/../lib.sh"
for db in ppdb ppdb2; do
	[ $db = ppdb ] && type=int || type=text
	psql -Xq -h 127.0.0.1 -p "$PG_SERVER_PORT" -U postgres -d $db >/dev/null <<SQL || fail "setup $db"
set client_min_messages = warning;
drop table if exists pp_reload;
create table pp_reload (v $type);
SQL
done
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --reload "$POOLER_INI" 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection to the new database (above)"
ok "statements prepared after a RELOAD that changed the database entry are the new entry's"
