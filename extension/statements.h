/*-------------------------------------------------------------------------
 *
 * statements.h
 *		Declarations shared by the files of the statements collector
 *		(statements.c: shared memory, hooks and SQL functions;
 *		statements_text.c: normalized query text).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGPLUMB_STATEMENTS_H
#define PGPLUMB_STATEMENTS_H

#include "pgplumb.h"

/*
 * Normalized text of one statement: every constant that the jumble recorded
 * is replaced by $n, numbered after the statement's own parameters.  query
 * points at the statement's text (already cut out of its source string, see
 * CleanQuerytext), query_loc is its offset in the source string (the
 * jumble's locations are relative to that) and *query_len_p its length, set
 * to the length of the result.  The result is palloc'd.
 */
extern char *pp_stmt_normalize(JumbleState *jstate, const char *query,
							   int query_loc, int *query_len_p);

#endif							/* PGPLUMB_STATEMENTS_H */
