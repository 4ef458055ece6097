# Randomized differential test of prepared statements in transaction
# pooling (issue 5, prep_diff.py): seeded random extended-protocol sequences
# from two interleaved clients sharing the pooler's only server connection,
# sent straight to PostgreSQL and through the pooler, replies compared byte
# for byte, one segment at a time and two at a time; then again with
# insert_batching and with insert_coalescing on (the rewriter sees the
# sequences' INSERTs; a segment pipelined past one that may fail must still
# wait for it); and with --more-sql (DISCARD ALL, DEALLOCATE ALL, SET /
# RESET search_path, DDL: a client's DISCARD ALL or DEALLOCATE that the
# server refuses in a transaction must leave its names).  No difference is
# tolerated (--strict).  PREP_DIFF_SEEDS /
# PREP_DIFF_SEGMENTS override the defaults.
. "$(dirname "$0")/../lib.sh"

# prep_diff MODE-LABEL DEFAULT-SEEDS DEFAULT-SEGMENTS [prep_diff.py options]
prep_diff() {
	local label=$1 seeds=$2 segments=$3 out rc
	shift 3
	out=$(/usr/bin/python3 "$LIB_DIR/prep_diff.py" "$POOLER_PORT" "$PG_SERVER_PORT" \
		${PREP_DIFF_SEEDS:-$seeds} --segments "${PREP_DIFF_SEGMENTS:-$segments}" --strict "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/  /'
	[ $rc -eq 0 ] || fail "$label: replies differ from a direct connection (seed and first difference above)"
	ok "$label: random extended-protocol sequences answered as PostgreSQL answers them"
}

BASE="pool_mode = transaction
default_pool_size = 1
max_prepared_statements = 3"

start_pooler "$BASE"
prep_diff "one segment at a time" "7 8 11 12 13" 300
prep_diff "two Sync segments sent before their replies are read" "21 22 23" 150 --pipeline 2
prep_diff "DISCARD ALL, DEALLOCATE ALL, search_path and DDL among them" "20001 20003 20005" 300 --more-sql
prep_diff "the same, a DEALLOCATE ALL pipelined after a failing segment" "22193 22199" 150 --pipeline 2 --more-sql
stop_pooler

start_pooler "$BASE
insert_batching = on"
prep_diff "insert_batching" "31 32" 200
prep_diff "insert_batching, pipelined" "41 42 43" 150 --pipeline 2
stop_pooler

start_pooler "$BASE
insert_coalescing = on"
prep_diff "insert_coalescing, pipelined" "51 52" 150 --pipeline 2
