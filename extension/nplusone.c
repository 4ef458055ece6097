/*-------------------------------------------------------------------------
 *
 * nplusone.c
 *		(placeholder) The nplusone collector; no callbacks yet.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgplumb.h"

const PPCollector pp_nplusone_collector = {
	.name = "nplusone",
};
