/*-------------------------------------------------------------------------
 *
 * index_usage.c
 *		(placeholder) The index_usage collector; no callbacks yet.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgplumb.h"

const PPCollector pp_index_usage_collector = {
	.name = "index_usage",
};
