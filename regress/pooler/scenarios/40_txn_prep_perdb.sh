# The same statement text in two pools whose tables differ (issue 5): two
# databases with pp_perdb(v int) and pp_perdb(v text), and a user whose
# search_path finds a third pp_perdb(v date).  Each client prepares
# "insert into pp_perdb values ($1)" and describes it, loses it from its
# server connection (max_prepared_statements = 3), fails a transaction and
# describes it again: PostgreSQL gives the parameter type of its own table,
# and so must the pooler (which answers that Describe from what it learned).
# A pool of one per database, so each client's server connection is the
# same one throughout; replies compared byte for byte with direct ones.
. "$(dirname "$0")/../lib.sh"
psql -Xq -h 127.0.0.1 -p "$PG_SERVER_PORT" -U postgres -d ppdb >/dev/null <<'SQL' || fail "setup ppdb"
set client_min_messages = warning;
drop table if exists pp_perdb;
create table pp_perdb (v int);
drop schema if exists pp_perdb_s cascade;
create schema pp_perdb_s;
create table pp_perdb_s.pp_perdb (v date);
grant usage on schema pp_perdb_s to public;
grant all on pp_perdb, pp_perdb_s.pp_perdb to public;
drop role if exists pp_perdb_u;
create role pp_perdb_u login;
alter role pp_perdb_u set search_path = pp_perdb_s, public;
SQL
psql -Xq -h 127.0.0.1 -p "$PG_SERVER_PORT" -U postgres -d ppdb2 >/dev/null <<'SQL' || fail "setup ppdb2"
set client_min_messages = warning;
drop table if exists pp_perdb;
create table pp_perdb (v text);
SQL
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3" "ppdb2 = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb2"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" --perdb 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection (above)"
ok "the same text in two databases and for two users described with its own types"
