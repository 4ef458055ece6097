/*-------------------------------------------------------------------------
 *
 * pgplumb.h
 *		Declarations shared by the pgplumb extension's collectors.
 *
 * pgplumb.c owns the hooks.  Each collector (statements.c, index_usage.c,
 * nplusone.c) is a PPCollector: a table of callbacks that pgplumb.c calls
 * from its hooks, in the order of pp_collectors[].  A collector keeps its
 * own shared memory and locks; pgplumb.c only tells it when to act.  Any
 * callback may be NULL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGPLUMB_H
#define PGPLUMB_H

#include "postgres.h"

#include "executor/executor.h"
#include "nodes/params.h"
#include "parser/analyze.h"

#include "compat.h"

/* Values of pgplumb.track */
typedef enum PPTrackLevel
{
	PP_TRACK_NONE,				/* track no statements */
	PP_TRACK_TOP,				/* only top level statements */
	PP_TRACK_ALL				/* all statements, including nested ones */
} PPTrackLevel;

typedef struct PPCollector
{
	const char *name;

	/* _PG_init: define this collector's pgplumb.* settings */
	void		(*define_settings) (void);

	/* shmem_request_hook: shared memory size and LWLock tranches */
	Size		(*shmem_size) (void);
	void		(*shmem_request) (void);

	/* shmem_startup_hook, called with AddinShmemInitLock held */
	void		(*shmem_startup) (void);

	/* after parse analysis of a statement that has a query id */
	void		(*post_parse_analyze) (ParseState *pstate, Query *query,
									   JumbleState *jstate);

	/*
	 * ExecutorStart, before standard_ExecutorStart: a collector that needs
	 * executor instrumentation ORs flags into queryDesc->instrument_options.
	 * Called only for tracked statements.
	 */
	void		(*executor_start) (QueryDesc *queryDesc, int eflags);

	/*
	 * ExecutorEnd, before standard_ExecutorEnd, while the plan state tree
	 * and its instrumentation still exist.  Called only for tracked
	 * statements.
	 */
	void		(*executor_end) (QueryDesc *queryDesc);
} PPCollector;

/* Collectors, defined in their own files */
extern const PPCollector pp_statements_collector;
extern const PPCollector pp_index_usage_collector;
extern const PPCollector pp_nplusone_collector;

/* Settings owned by pgplumb.c */
extern int	pp_track;			/* PPTrackLevel */

/* Current nesting depth of executor calls, maintained by pgplumb.c */
extern int	pp_nesting_level;

/* Is a statement at the current nesting level tracked? */
#define pp_enabled(level) \
	(!IsParallelWorker() && \
	 (pp_track == PP_TRACK_ALL || \
	  (pp_track == PP_TRACK_TOP && (level) == 0)))

/* Raise an error unless pgplumb's shared memory is there */
extern void pp_require_shmem(bool attached);

#endif							/* PGPLUMB_H */
