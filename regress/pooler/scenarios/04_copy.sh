# COPY in both directions through the pooler, in transaction mode.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1"

pq -c "create table if not exists copytest (a int, b text)" -c "truncate copytest"
seq 1 20000 | awk '{print $1 "\tline" $1}' >"$SCEN_DIR/in.tsv"
pq -c "\\copy copytest from '$SCEN_DIR/in.tsv'" || fail "COPY FROM STDIN"
out=$(pq -c "select count(*), sum(a) from copytest")
assert_eq "$out" "20000|200010000" "COPY FROM STDIN loaded every row"
pq -c "\\copy copytest to '$SCEN_DIR/out.tsv'" || fail "COPY TO STDOUT"
cmp -s <(sort "$SCEN_DIR/in.tsv") <(sort "$SCEN_DIR/out.tsv") || fail "COPY TO output differs"
ok "COPY TO STDOUT returns the same rows"
# a failing COPY leaves the connection usable
err=$(printf 'notanint\tx\n' | pq -c "\\copy copytest from stdin" 2>&1)
assert_contains "$err" "invalid input syntax for type integer" "COPY error relayed"
out=$(pq -c "select count(*) from copytest")
assert_eq "$out" 20000 "failed COPY changed nothing, server still usable"
pq -c "drop table copytest"
