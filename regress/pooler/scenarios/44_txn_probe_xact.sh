# The pooler's rows probe PGPLUMB_000 (Close and Parse of `SELECT`) goes to a
# server connection ahead of a client's request, also after a client's
# DISCARD ALL.  It must not leave that request inside a transaction the probe
# started: a simple query then ran in it, so now() (the transaction's start)
# was earlier than statement_timestamp(), while on a direct connection an
# autocommit statement has both equal.  node-postgres' driver test saw it
# (`idle: false` after COMMIT) now and then.  Each DISCARD ALL brings the
# probe back ahead of the next request.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

sql=
for i in $(seq 1 40); do
	sql="${sql}DISCARD ALL;
SELECT now() = statement_timestamp();
"
done
# one statement per Query message (psql sends each line alone)
count_true() {
	local out
	out=$(printf '%s' "$sql" | psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres ppdb 2>&1) ||
		fail "psql on port $1: $out"
	echo "$out" | grep -c '^t$'
}
direct=$(count_true "$PG_SERVER_PORT")
[ "$direct" -eq 40 ] || fail "direct: now() = statement_timestamp() in $direct of 40 (expected 40)"
pooled=$(count_true "$POOLER_PORT")
[ "$pooled" -eq 40 ] ||
	fail "now() = statement_timestamp() after DISCARD ALL through the pooler: $pooled of 40 true (direct: 40)"
ok "an autocommit statement after the rows probe runs in its own transaction (40 of 40)"
