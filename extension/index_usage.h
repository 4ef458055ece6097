/*-------------------------------------------------------------------------
 *
 * index_usage.h
 *		SQL-callable functions of the index usage collector (index_usage.c).
 *
 * The collector itself is pp_index_usage_collector, declared in pgplumb.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGPLUMB_INDEX_USAGE_H
#define PGPLUMB_INDEX_USAGE_H

#include "fmgr.h"

extern Datum pgplumb_index_usage_entries(PG_FUNCTION_ARGS);
extern Datum pgplumb_index_usage_indexes(PG_FUNCTION_ARGS);
extern Datum pgplumb_index_usage_info(PG_FUNCTION_ARGS);
extern Datum pgplumb_reset_index_usage(PG_FUNCTION_ARGS);

#endif							/* PGPLUMB_INDEX_USAGE_H */
