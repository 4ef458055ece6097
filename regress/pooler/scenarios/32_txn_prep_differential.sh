# Randomized differential test of prepared statements in transaction
# pooling (issue 5, prep_diff.py): seeded random extended-protocol sequences
# from two interleaved clients sharing the pooler's only server connection,
# sent straight to PostgreSQL and through the pooler, replies compared byte
# for byte, one segment at a time and two at a time.  PREP_DIFF_SEEDS /
# PREP_DIFF_SEGMENTS override the defaults.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" \
	${PREP_DIFF_SEEDS:-11 12 13} --segments "${PREP_DIFF_SEGMENTS:-300}" 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "replies differ from a direct connection (seed and first difference above)"
ok "random extended-protocol sequences answered as PostgreSQL answers them"

# two Sync segments sent before their replies are read
out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" \
	${PREP_DIFF_SEEDS:-21 22 23} --segments "${PREP_DIFF_SEGMENTS:-150}" --pipeline 2 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "pipelined: replies differ from a direct connection (seed and first difference above)"
ok "random pipelined extended-protocol sequences answered as PostgreSQL answers them"
