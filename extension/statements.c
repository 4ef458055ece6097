/*-------------------------------------------------------------------------
 *
 * statements.c
 *		(placeholder) The statements collector; no callbacks yet.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgplumb.h"

const PPCollector pp_statements_collector = {
	.name = "statements",
};
