# insert_coalescing honours insert_batch_max_bytes: a merged INSERT carries at
# most that many bytes of values (here 1024, rows of ~310 bytes: at most 3
# rows per statement), every client is still answered and every row lands.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 2
insert_coalescing = 1
insert_coalesce_delay = 200ms
insert_batch_max_bytes = 1024"
ddb() { psql "host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=postgres" -XAtq "$@"; }
ddb -c "drop table if exists cb_t; create table cb_t (id int primary key, v text)" >/dev/null || fail "setup"

out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import sys
from pgwire import Conn
port = int(sys.argv[1])
ok = 0
for rnd in range(3):
    cs = []
    for i in range(12):
        c = Conn(port); c.startup(); c.read_until(); cs.append(c)
    for i, c in enumerate(cs):
        c.query("insert into cb_t (id, v) values (%d, '%s')" % (rnd * 100 + i, "x" * 300))
    for c in cs:
        if any(t == b"C" and p == b"INSERT 0 1\0" for t, p in c.read_until()):
            ok += 1
        c.close()
print("answered", ok)
PY
) || fail "python client: $out"
assert_eq "$out" "answered 36" "every client got INSERT 0 1"
assert_eq "$(ddb -c "select count(*) from cb_t where length(v) = 300")" 36 "every row committed"
stats=$(padmin -F' ' -c "show coalescing")
echo "$stats" >"$SCEN_DIR/stats.out"
read -r rows stmts _ <<<"$stats"
assert_ge "${rows:-0}" 4 "rows were merged (SHOW COALESCING: $stats)"
assert_ge "$((3 * ${stmts:-0}))" "${rows:-0}" "no merged statement carried more than 3 rows of ~310 bytes (SHOW COALESCING: $stats)"
# SHOW COALESCING_SIZES: the merged statements by rows add up to the
# counters above, and none is over the cap
sizes=$(padmin -F' ' -c "show coalescing_sizes")
echo "$sizes" >"$SCEN_DIR/sizes.out"
assert_eq "$(awk '{s += $1 * $2} END {print s + 0}' <<<"$sizes")" "$rows" "SHOW COALESCING_SIZES adds up to coalesced_rows ($sizes)"
assert_eq "$(awk '{s += $2} END {print s + 0}' <<<"$sizes")" "$stmts" "SHOW COALESCING_SIZES adds up to merged_statements ($sizes)"
assert_eq "$(awk '$1 > 3 || $1 < 2' <<<"$sizes")" "" "no merged statement of more than 3 rows or fewer than 2 ($sizes)"
assert_eq "$(wc -w <<<"$stats")" 6 "SHOW COALESCING has 6 columns ($stats)"
