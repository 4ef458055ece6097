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
#include "executor/instrument.h"
#include "nodes/params.h"
#include "parser/analyze.h"
#include "tcop/utility.h"

#include "compat.h"

/* Values of pgplumb.track */
typedef enum PPTrackLevel
{
	PP_TRACK_NONE,				/* track no statements */
	PP_TRACK_TOP,				/* only top level statements */
	PP_TRACK_ALL				/* all statements, including nested ones */
} PPTrackLevel;

/*
 * What pgplumb.c measured around a planner call or a utility statement:
 * elapsed time and the buffer and WAL usage of that call alone.
 */
typedef struct PPUsage
{
	double		elapsed_ms;
	uint64		rows;			/* rows reported by a utility statement */
	BufferUsage bufusage;
	WalUsage	walusage;
} PPUsage;

/*
 * Where an error raised by a tracked statement was caught.  Errors during
 * parse analysis are not seen: a statement has no query id until its
 * analysis succeeds.
 */
typedef enum PPErrorSite
{
	PP_ERROR_IN_PLANNER,
	PP_ERROR_IN_EXECUTOR,
	PP_ERROR_IN_UTILITY
} PPErrorSite;

/*
 * The statement an error belongs to, as seen by the hook that caught it.
 */
typedef struct PPStatementRef
{
	uint64		queryid;
	bool		toplevel;
	const char *query_string;	/* whole source string, may hold several */
	int			stmt_location;	/* this statement's part of it */
	int			stmt_len;
} PPStatementRef;

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
	 * ExecutorEnd, before standard_ExecutorEnd, while the plan state tree and
	 * its instrumentation still exist.  Called only for tracked statements.
	 */
	void		(*executor_end) (QueryDesc *queryDesc);

	/*
	 * ExecutorStart, after standard_ExecutorStart: the executor state exists
	 * (e.g. to allocate queryDesc->totaltime in its memory context).  Called
	 * only for tracked statements.
	 */
	void		(*executor_started) (QueryDesc *queryDesc);

	/*
	 * Planner: if any collector's planner_wanted returns true for a tracked
	 * statement, pgplumb.c measures the planner call and gives the result to
	 * planner_done.
	 */
	bool		(*planner_wanted) (Query *parse);
	void		(*planner_done) (Query *parse, const char *query_string,
								 const PPUsage *usage);

	/*
	 * Utility statements (not EXECUTE, PREPARE or DEALLOCATE, whose cost is
	 * charged to the prepared statement): if any collector's utility_wanted
	 * returns true, pgplumb.c measures the statement and calls utility_done
	 * of each collector whose utility_wanted returned true (and only those).
	 * queryid is the statement's own query id (see pp_utility_queryid).
	 */
	bool		(*utility_wanted) (PlannedStmt *pstmt, uint64 queryid);
	void		(*utility_done) (PlannedStmt *pstmt, const char *query_string,
								 uint64 queryid, const PPUsage *usage);

	/*
	 * A tracked statement raised an ERROR (including cancels and timeouts);
	 * called while the error propagates, before it is re-thrown, with a copy
	 * of the error.  Must not throw.  A statement nested in another (with
	 * pgplumb.track = all) and the statement around it both see the error.
	 */
	void		(*statement_error) (PPErrorSite site, const PPStatementRef *stmt,
									const ErrorData *edata);
} PPCollector;

/*
 * What pgplumb.c measured of one tracked execution: the time spent in
 * ExecutorRun and ExecutorFinish and the buffer and WAL usage meanwhile
 * (nested statements included), as pg_stat_statements counts them.  One
 * clock read at each end of each call, shared by every collector.
 */
typedef struct PPExecUsage
{
	instr_time	elapsed;
	BufferUsage bufusage;
	WalUsage	walusage;
} PPExecUsage;

/*
 * During executor_end callbacks: the measures of the execution that is
 * ending, or NULL when pgplumb.c could not keep them (more than
 * PP_EXEC_MAX executions open at once); queryDesc->totaltime (executor
 * instrumentation, which pgplumb.c then asked for) holds them instead.
 */
extern const PPExecUsage *pp_exec_usage;

/* Collectors, defined in their own files */
extern const PPCollector pp_statements_collector;
extern const PPCollector pp_index_usage_collector;
extern const PPCollector pp_nplusone_collector;

/* Settings owned by pgplumb.c */
extern int	pp_track;			/* PPTrackLevel */

/* Current nesting depth of executor calls, maintained by pgplumb.c */
extern int	pp_nesting_level;

/* Current nesting depth of planner calls, maintained by pgplumb.c */
extern int	pp_plan_nesting_level;

/*
 * The query id of a utility statement.  Another module's ProcessUtility
 * hook that runs before ours (pg_stat_statements does this) may have set
 * pstmt->queryId to 0; pgplumb.c then finds the id it saw at parse analysis
 * for the same statement text.  Returns 0 if unknown.
 */
extern uint64 pp_utility_queryid(PlannedStmt *pstmt, const char *query_string);

/*
 * Deepest nesting level tracked, kept by pgplumb.track's assign hook: -1
 * (none), 0 (top) or INT_MAX (all)
 */
extern int	pp_track_max_level;

/* Is a statement at the current nesting level tracked? */
#define pp_enabled(level) \
	((level) <= pp_track_max_level && !IsParallelWorker())

/* Raise an error unless pgplumb's shared memory is there */
extern void pp_require_shmem(bool attached);

#endif							/* PGPLUMB_H */
