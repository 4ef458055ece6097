/*-------------------------------------------------------------------------
 *
 * pgplumb.c
 *		Entry point of the pgplumb extension: settings, hooks, and the
 *		dispatch of hook events to the collectors.
 *
 * pgplumb must be loaded with shared_preload_libraries.  _PG_init defines
 * the settings, asks for query ids (EnableQueryId) and installs the hooks.
 * Each hook saves the previous hook, calls it (or the standard_ function)
 * and tells every collector in pp_collectors[] what happened; collectors
 * never install hooks of their own.  Nesting of executor and utility calls
 * is tracked here so that a collector can tell top level statements from
 * nested ones (pp_nesting_level, and pp_plan_nesting_level for planner
 * calls).
 *
 * Timing around the planner and utility statements is done here, once, for
 * every collector that asks for it (planner_wanted, utility_wanted).  An
 * ERROR raised by a tracked statement in the planner, the executor or a
 * utility command is copied, handed to the collectors' statement_error
 * callbacks and left to propagate unchanged.
 *
 * Errors and the nesting level, without an error handler per call: a
 * statement at the top (pp_nesting_level and pp_plan_nesting_level 0) runs
 * its planner, ExecutorStart, ExecutorRun, ExecutorFinish or ProcessUtility
 * call without PG_TRY.  The call is noted in pp_top (the "top frame") instead:
 * the statement, and the transaction nesting level it started at.  An
 * ERROR that leaves a top frame leaves the frame marked active; whatever
 * catches it must then abort the transaction or subtransaction the frame
 * ran in (PostgresMain does, with the error still on the error stack), and
 * pgplumb's xact/subxact callbacks see the active frame: they hand the error
 * to the collectors and reset both nesting levels to 0.  A subtransaction
 * that started inside the frame and aborts (an exception block in a
 * function) does not end the frame.  Nested calls, a top level call while a
 * frame is active (a statement run from inside ExecutorStart) and the
 * utility statements other than transaction statements, SET and SHOW (see
 * pp_utility_frame_ok) keep PG_TRY/PG_CATCH, which restores the level and
 * reports the error on the spot.  If the error stack was emptied before the abort (a caller
 * that copies and flushes the error first), the error is not counted.
 *
 * EXECUTE, PREPARE and DEALLOCATE do not count as a nesting level, so the
 * execution of a prepared statement is charged to that statement at the
 * level where EXECUTE ran (as pg_stat_statements does).
 *
 * Utility query ids: pg_stat_statements' ProcessUtility hook sets
 * pstmt->queryId to 0 before calling the next hook.  When it is loaded after
 * pgplumb its hook runs first, so this file remembers, per backend, the
 * query id each utility statement had at parse analysis, keyed by a hash of
 * the statement's text (pp_utility_queryid).
 *
 * Execution measures: for each tracked execution, this file keeps a small
 * record (PPExecRecord) of the time spent in ExecutorRun and
 * ExecutorFinish and of the buffer and WAL usage meanwhile, and hands it
 * to the collectors at ExecutorEnd (pp_exec_usage).  That replaces a full
 * Instrumentation per query (queryDesc->totaltime): no allocation, and
 * ExecutorFinish is measured only when it can run something (AFTER
 * triggers, data-modifying CTEs; see pp_finish_runs).  The records are
 * a stack of at most PP_EXEC_MAX, found by QueryDesc pointer (cursors and
 * nested statements may be open at once).  A record whose execution was
 * abandoned by an error stays until the transaction aborts (top level);
 * when the stack is full, a new execution gets executor instrumentation
 * (queryDesc->totaltime) instead, and collectors read that.  A new execution with the QueryDesc pointer
 * of an abandoned record first invalidates that record.
 *
 * Locking: this file takes no lock of its own.  Each collector documents
 * the locks on its shared memory at the top of its file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/guc.h"

#include "pgplumb.h"

PG_MODULE_MAGIC;

/* The collectors, in the order their callbacks run */
static const PPCollector *const pp_collectors[] = {
	&pp_statements_collector,
	&pp_index_usage_collector,
	&pp_nplusone_collector,
};

/* Call one callback of every collector that has it, in order */
#define PP_CALL_COLLECTORS(callback, ...) \
	do { \
		for (int pp_i_ = 0; pp_i_ < lengthof(pp_collectors); pp_i_++) \
			if (pp_collectors[pp_i_]->callback) \
				pp_collectors[pp_i_]->callback(__VA_ARGS__); \
	} while (0)

/*
 * The executor callbacks run for every execution: _PG_init lists, for each,
 * the collectors that have it, so the hooks do not test every collector.
 */
typedef void (*PPExecutorStartCb) (QueryDesc *queryDesc, int eflags);
typedef void (*PPQueryDescCb) (QueryDesc *queryDesc);

static PPExecutorStartCb pp_executor_start_cbs[lengthof(pp_collectors)];
static int	pp_n_executor_start_cbs = 0;
static PPQueryDescCb pp_executor_started_cbs[lengthof(pp_collectors)];
static int	pp_n_executor_started_cbs = 0;
static PPQueryDescCb pp_executor_end_cbs[lengthof(pp_collectors)];
static int	pp_n_executor_end_cbs = 0;

/* ... and the collectors that have utility_wanted */
static const PPCollector *pp_utility_collectors[lengthof(pp_collectors)];
static int	pp_n_utility_collectors = 0;

/* Is any collector interested in errors? */
#define PP_WANTS_ERRORS() (pp_error_callbacks > 0)

/* Largest number of remembered utility statement texts per backend */
#define PP_UTILITY_IDS_MAX 1024

/* Short utility texts whose query id was found last (see pp_utility_queryid) */
#define PP_UTILITY_LAST 8
#define PP_UTILITY_LAST_TEXT 64

/* Executions measured at once (see file header) */
#define PP_EXEC_MAX 16

/* Statements that do not count as a nesting level (see file header) */
#define PP_TRANSPARENT_UTILITY(n) \
	(IsA((n), ExecuteStmt) || IsA((n), PrepareStmt) || IsA((n), DeallocateStmt))

/* One remembered utility statement: hash of its text -> query id */
typedef struct PPUtilityId
{
	uint64		text_hash;		/* hash key */
	uint64		queryid;
} PPUtilityId;

/* The measures of one execution (see file header) */
typedef struct PPExecRecord
{
	QueryDesc  *queryDesc;		/* NULL: free or invalidated */
	PPExecUsage usage;
} PPExecRecord;

/* The top frame (see file header) */
typedef struct PPTopFrame
{
	bool		active;			/* a top level call is running */
	PPErrorSite site;
	int			subxact_depth;	/* pp_subxact_depth when it started */
	uint64		queryid;		/* 0: no error to report */
	const char *query_string;
	int			stmt_location;
	int			stmt_len;
} PPTopFrame;

/* Can the next top level call use the top frame? */
#define PP_TOP_FRAME_FREE() \
	(pp_nesting_level == 0 && pp_plan_nesting_level == 0 && !pp_top.active)

/* A short utility statement text and its query id */
typedef struct PPUtilityLast
{
	int			len;			/* bytes of text; 0: unused */
	uint64		queryid;
	char text[	PP_UTILITY_LAST_TEXT];
} PPUtilityLast;

/*---- GUC variables ----*/

static const struct config_enum_entry pp_track_options[] = {
	{"none", PP_TRACK_NONE, false},
	{"top", PP_TRACK_TOP, false},
	{"all", PP_TRACK_ALL, false},
	{NULL, 0, false}
};

int			pp_track = PP_TRACK_TOP;
int			pp_track_max_level = 0;

/*---- Local variables ----*/

int			pp_nesting_level = 0;
int			pp_plan_nesting_level = 0;

/* The top level call running without PG_TRY, if any (see file header) */
static PPTopFrame pp_top;

/* Subtransactions open in the current transaction (xact callbacks) */
static int	pp_subxact_depth = 0;

/* Number of collectors with a statement_error callback */
static int	pp_error_callbacks = 0;

/* Measures of the open executions, and the one handed to collectors */
static PPExecRecord pp_execs[PP_EXEC_MAX];
static int	pp_nexecs = 0;
const PPExecUsage *pp_exec_usage = NULL;

/*
 * The measures of a utility statement without buffer or WAL usage
 * (pp_utility_uses_no_buffers): those stay zero.
 */
static PPUsage pp_no_usage;

/* Backend-local map of utility statement texts to query ids */
static HTAB *pp_utility_ids = NULL;
static PPUtilityLast pp_utility_last[PP_UTILITY_LAST];

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*---- Function declarations ----*/

void		_PG_init(void);

static void pp_track_assign(int newval, void *extra);
static void pp_shmem_request(void);
static void pp_shmem_startup(void);
static void pp_post_parse_analyze(ParseState *pstate, Query *query,
								  JumbleState *jstate);
static PlannedStmt *pp_planner(Query *parse, const char *query_string,
							   int cursorOptions, ParamListInfo boundParams);
static void pp_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void pp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction,
						   uint64 count, bool execute_once);
static void pp_ExecutorFinish(QueryDesc *queryDesc);
static void pp_ExecutorFinish_runs(QueryDesc *queryDesc);
static void pp_ExecutorEnd(QueryDesc *queryDesc);
static void pp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree,
							  ProcessUtilityContext context, ParamListInfo params,
							  QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc);
static void pp_report_error(PPErrorSite site, uint64 queryid, bool toplevel,
							const char *query_string, int stmt_location,
							int stmt_len, MemoryContext cxt);
static void pp_error_to_collectors(PPErrorSite site, uint64 queryid,
								   bool toplevel, const char *query_string,
								   int stmt_location, int stmt_len,
								   const ErrorData *edata);
static uint64 pp_text_hash(const char *query_string, int stmt_location,
						   int stmt_len);
static void pp_remember_utility_queryid(Query *query, const char *query_string);
static inline void pp_bufusage_accum(BufferUsage *dst, const BufferUsage *now,
									 const BufferUsage *start);
static inline void pp_walusage_accum(WalUsage *dst, const WalUsage *now,
									 const WalUsage *start);
static inline void pp_bufusage_diff(BufferUsage *dst, const BufferUsage *now,
									const BufferUsage *start);
static inline void pp_walusage_diff(WalUsage *dst, const WalUsage *now,
									const WalUsage *start);
static pg_attribute_always_inline void pp_exec_start(PPExecUsage *start);
static pg_attribute_always_inline void pp_exec_stop(PPExecRecord *rec,
													const PPExecUsage *start);
static inline bool pp_finish_runs(QueryDesc *queryDesc);
static inline PPExecRecord *pp_exec_find(QueryDesc *queryDesc);
static void pp_exec_push(QueryDesc *queryDesc);
static inline void pp_exec_pop(PPExecRecord *rec);
static inline bool pp_utility_uses_no_buffers(Node *stmt);
static inline bool pp_utility_frame_ok(Node *stmt);
static void pp_xact_callback(XactEvent event, void *arg);
static void pp_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);
static inline void pp_top_enter(PPErrorSite site, uint64 queryid,
								const char *query_string, int stmt_location,
								int stmt_len);
static void pp_top_abandoned(void);

/*
 * Module load callback
 */
void
_PG_init(void)
{
	/*
	 * Shared memory can only be set up when loaded from
	 * shared_preload_libraries.  Otherwise do nothing: the SQL functions then
	 * report that the library must be preloaded.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	/* Use PostgreSQL's own query ids, as pg_stat_statements does */
	EnableQueryId();

	DefineCustomEnumVariable("pgplumb.track",
							 "Selects which statements pgplumb tracks.",
							 "top: top level statements; all: nested statements "
							 "too; none: nothing.",
							 &pp_track,
							 PP_TRACK_TOP,
							 pp_track_options,
							 PGC_SUSET,
							 0,
							 NULL, pp_track_assign, NULL);

	PP_CALL_COLLECTORS(define_settings);

	for (int i = 0; i < lengthof(pp_collectors); i++)
	{
		if (pp_collectors[i]->statement_error)
			pp_error_callbacks++;
		if (pp_collectors[i]->executor_start)
			pp_executor_start_cbs[pp_n_executor_start_cbs++] =
				pp_collectors[i]->executor_start;
		if (pp_collectors[i]->executor_started)
			pp_executor_started_cbs[pp_n_executor_started_cbs++] =
				pp_collectors[i]->executor_started;
		if (pp_collectors[i]->executor_end)
			pp_executor_end_cbs[pp_n_executor_end_cbs++] =
				pp_collectors[i]->executor_end;
		if (pp_collectors[i]->utility_wanted)
			pp_utility_collectors[pp_n_utility_collectors++] = pp_collectors[i];
	}

	MarkGUCPrefixReserved("pgplumb");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pp_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pp_shmem_startup;
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = pp_post_parse_analyze;
	prev_planner_hook = planner_hook;
	planner_hook = pp_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pp_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = pp_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = pp_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = pp_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pp_ProcessUtility;

	RegisterXactCallback(pp_xact_callback, NULL);
	RegisterSubXactCallback(pp_subxact_callback, NULL);
}

/* pgplumb.track changed: the deepest level it tracks (see pp_enabled) */
static void
pp_track_assign(int newval, void *extra)
{
	pp_track_max_level = newval == PP_TRACK_ALL ? INT_MAX :
		newval == PP_TRACK_TOP ? 0 : -1;
}

/*
 * Error out unless shared memory was set up, i.e. unless the library was
 * loaded through shared_preload_libraries.
 */
void
pp_require_shmem(bool attached)
{
	if (!attached)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgplumb must be loaded via \"shared_preload_libraries\"")));
}

/*
 * shmem_request hook: ask for every collector's shared memory and locks.
 */
static void
pp_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	for (int i = 0; i < lengthof(pp_collectors); i++)
	{
		if (pp_collectors[i]->shmem_size)
			RequestAddinShmemSpace(pp_collectors[i]->shmem_size());
	}
	PP_CALL_COLLECTORS(shmem_request);
}

/*
 * shmem_startup hook: let every collector attach to (or create) its shared
 * state.
 */
static void
pp_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	PP_CALL_COLLECTORS(shmem_startup);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Post-parse-analysis hook
 */
static void
pp_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	if (query->queryId == UINT64CONST(0) || !pp_enabled(pp_nesting_level))
		return;

	if (query->utilityStmt && pstate->p_sourcetext)
		pp_remember_utility_queryid(query, pstate->p_sourcetext);

	PP_CALL_COLLECTORS(post_parse_analyze, pstate, query, jstate);
}

/* Planner: call the next hook or the standard planner */
static pg_attribute_always_inline PlannedStmt *
pp_next_planner(Query *parse, const char *query_string, int cursorOptions,
				ParamListInfo boundParams)
{
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions,
								 boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/*
 * Planning that cannot use the top frame: one planner nesting level deeper
 * while it runs, and its error reported on the spot if tracked.
 */
static pg_noinline PlannedStmt *
pp_planner_guarded(Query *parse, const char *query_string, int cursorOptions,
				   ParamListInfo boundParams, bool tracked)
{
	PlannedStmt *result;
	MemoryContext cxt = CurrentMemoryContext;

	pp_plan_nesting_level++;
	PG_TRY();
	{
		result = pp_next_planner(parse, query_string, cursorOptions,
								 boundParams);
	}
	PG_CATCH();
	{
		pp_plan_nesting_level--;
		if (tracked)
			pp_report_error(PP_ERROR_IN_PLANNER, parse->queryId,
							pp_nesting_level == 0, query_string,
							parse->stmt_location, parse->stmt_len, cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pp_plan_nesting_level--;
	return result;
}

/*
 * Planner hook: track planner nesting, measure planning for the collectors
 * that want it, and report errors raised while planning.
 */
static PlannedStmt *
pp_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *result;
	bool		tracked = parse->queryId != UINT64CONST(0) && query_string &&
	pp_enabled(pp_nesting_level + pp_plan_nesting_level);
	bool		measure = false;
	instr_time	start;
	BufferUsage bufusage_start;
	WalUsage	walusage_start;

	if (tracked)
	{
		for (int i = 0; i < lengthof(pp_collectors); i++)
			if (pp_collectors[i]->planner_wanted &&
				pp_collectors[i]->planner_wanted(parse))
				measure = true;
	}
	if (measure)
	{
		bufusage_start = pgBufferUsage;
		walusage_start = pgWalUsage;
		INSTR_TIME_SET_CURRENT(start);
	}

	if (PP_TOP_FRAME_FREE())
	{
		pp_top_enter(PP_ERROR_IN_PLANNER,
					 tracked ? parse->queryId : UINT64CONST(0), query_string,
					 parse->stmt_location, parse->stmt_len);
		pp_plan_nesting_level = 1;
		result = pp_next_planner(parse, query_string, cursorOptions,
								 boundParams);
		pp_plan_nesting_level = 0;
		pp_top.active = false;
	}
	else
		result = pp_planner_guarded(parse, query_string, cursorOptions,
									boundParams, tracked);

	if (measure)
	{
		PPUsage		usage;
		instr_time	duration;

		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		usage.elapsed_ms = INSTR_TIME_GET_MILLISEC(duration);
		usage.rows = 0;
		pp_bufusage_diff(&usage.bufusage, &pgBufferUsage, &bufusage_start);
		pp_walusage_diff(&usage.walusage, &pgWalUsage, &walusage_start);
		PP_CALL_COLLECTORS(planner_done, parse, query_string, &usage);
	}

	return result;
}

/*
 * ExecutorStart: call the next hook or the standard function
 */
static pg_attribute_always_inline void
pp_next_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * ExecutorStart of a tracked statement that cannot use the top frame:
 * report its error on the spot.
 */
static pg_noinline void
pp_ExecutorStart_guarded(QueryDesc *queryDesc, int eflags)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		pp_next_ExecutorStart(queryDesc, eflags);
	}
	PG_CATCH();
	{
		pp_report_error(PP_ERROR_IN_EXECUTOR,
						queryDesc->plannedstmt->queryId,
						pp_nesting_level == 0, queryDesc->sourceText,
						queryDesc->plannedstmt->stmt_location,
						queryDesc->plannedstmt->stmt_len, cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * ExecutorStart hook: collectors may ask for instrumentation before the
 * plan state tree is built.
 */
static void
pp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *pstmt = queryDesc->plannedstmt;

	if (pstmt->queryId == UINT64CONST(0) || !pp_enabled(pp_nesting_level))
	{
		pp_next_ExecutorStart(queryDesc, eflags);
		return;
	}

	for (int i = 0; i < pp_n_executor_start_cbs; i++)
		pp_executor_start_cbs[i] (queryDesc, eflags);

	if (PP_TOP_FRAME_FREE())
	{
		pp_top_enter(PP_ERROR_IN_EXECUTOR, pstmt->queryId,
					 queryDesc->sourceText, pstmt->stmt_location,
					 pstmt->stmt_len);
		pp_next_ExecutorStart(queryDesc, eflags);
		pp_top.active = false;
	}
	else
		pp_ExecutorStart_guarded(queryDesc, eflags);

	pp_exec_push(queryDesc);
	for (int i = 0; i < pp_n_executor_started_cbs; i++)
		pp_executor_started_cbs[i] (queryDesc);
}

/* ExecutorRun (run) or ExecutorFinish: call the next hook or the standard one */
static pg_attribute_always_inline void
pp_next_executor(QueryDesc *queryDesc, bool run, ScanDirection direction,
				 uint64 count, bool execute_once)
{
	if (!run)
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	else if (prev_ExecutorRun)
		prev_ExecutorRun(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

/*
 * ExecutorRun or ExecutorFinish of any statement that cannot use the top
 * frame: one nesting level deeper while it runs, and its error reported on
 * the spot.
 */
static pg_noinline void
pp_executor_guarded(QueryDesc *queryDesc, bool run, ScanDirection direction,
					uint64 count, bool execute_once)
{
	int			level = pp_nesting_level;
	MemoryContext cxt = CurrentMemoryContext;

	pp_nesting_level++;
	PG_TRY();
	{
		pp_next_executor(queryDesc, run, direction, count, execute_once);
	}
	PG_CATCH();
	{
		pp_nesting_level = level;
		if (queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
			pp_enabled(level))
			pp_report_error(PP_ERROR_IN_EXECUTOR,
							queryDesc->plannedstmt->queryId, level == 0,
							queryDesc->sourceText,
							queryDesc->plannedstmt->stmt_location,
							queryDesc->plannedstmt->stmt_len, cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pp_nesting_level = level;
}

/*
 * ExecutorRun or ExecutorFinish, measured: one nesting level deeper while
 * it runs, in the top frame if it is free
 */
static pg_attribute_always_inline void
pp_executor_measured(QueryDesc *queryDesc, bool run, ScanDirection direction,
					 uint64 count, bool execute_once)
{
	PPExecRecord *rec = pp_exec_find(queryDesc);
	PPExecUsage start;

	if (rec)
		pp_exec_start(&start);

	if (PP_TOP_FRAME_FREE())
	{
		PlannedStmt *pstmt = queryDesc->plannedstmt;

		pp_top_enter(PP_ERROR_IN_EXECUTOR, pstmt->queryId,
					 queryDesc->sourceText, pstmt->stmt_location,
					 pstmt->stmt_len);
		pp_nesting_level = 1;
		pp_next_executor(queryDesc, run, direction, count, execute_once);
		pp_nesting_level = 0;
		pp_top.active = false;
	}
	else
		pp_executor_guarded(queryDesc, run, direction, count, execute_once);

	if (rec)
		pp_exec_stop(rec, &start);
}

/*
 * ExecutorRun hook: track nesting depth and measure
 */
static void
pp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	pp_executor_measured(queryDesc, true, direction, count, execute_once);
}

/*
 * ExecutorFinish hook: track nesting depth (AFTER triggers and
 * data-modifying CTEs run statements of their own here), measure, and
 * report errors.
 */
static void
pp_ExecutorFinish(QueryDesc *queryDesc)
{
	/*
	 * Nothing to run (see pp_finish_runs): no statement can be nested in this
	 * call and no error can come out of it, so neither the nesting level nor
	 * an error handler is needed, nor two clock reads.
	 */
	if (!pp_finish_runs(queryDesc))
		pp_next_executor(queryDesc, false, NoMovementScanDirection, 0, false);
	else
		pp_ExecutorFinish_runs(queryDesc);
}

/* ExecutorFinish that can run something (out of line: the rarer case) */
static pg_noinline void
pp_ExecutorFinish_runs(QueryDesc *queryDesc)
{
	pp_executor_measured(queryDesc, false, NoMovementScanDirection, 0, false);
}

/*
 * ExecutorEnd hook: collectors read the finished plan state tree
 */
static void
pp_ExecutorEnd(QueryDesc *queryDesc)
{
	PPExecRecord *rec = pp_exec_find(queryDesc);

	/* a record is only ever pushed for a tracked execution */
	if (rec != NULL ||
		(queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		 pp_enabled(pp_nesting_level)))
	{
		pp_exec_usage = rec ? &rec->usage : NULL;
		for (int i = 0; i < pp_n_executor_end_cbs; i++)
			pp_executor_end_cbs[i] (queryDesc);
		pp_exec_usage = NULL;
	}
	if (rec)
		pp_exec_pop(rec);

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* ProcessUtility: call the next hook or the standard function */
static pg_attribute_always_inline void
pp_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree,
							context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree,
								context, params, queryEnv, dest, qc);
}

/*
 * ProcessUtility hook: track nesting depth, measure utility statements for
 * the collectors that want them, and report their errors.
 */
static void
pp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree,
				  ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	int			level = pp_nesting_level;
	uint64		queryid = 0;
	uint64		saved_queryid = pstmt->queryId;
	bool		measure = false;
	bool		no_usage = false;	/* no buffer or WAL usage to measure */
	uint32		wanted = 0;		/* bit i: pp_utility_collectors[i] wants it */
	MemoryContext cxt = CurrentMemoryContext;
	instr_time	start;
	BufferUsage bufusage_start;
	WalUsage	walusage_start;

	StaticAssertStmt(lengthof(pp_collectors) <= 32, "one bit per collector");

	/* EXECUTE and friends: no nesting level, no measurement of their own */
	if (PP_TRANSPARENT_UTILITY(pstmt->utilityStmt))
	{
		pp_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
		return;
	}

	if (pp_enabled(level))
	{
		queryid = saved_queryid != UINT64CONST(0) ? saved_queryid :
			pp_utility_queryid(pstmt, queryString);
		if (queryid != UINT64CONST(0))
		{
			for (int i = 0; i < pp_n_utility_collectors; i++)
				if (pp_utility_collectors[i]->utility_wanted(pstmt, queryid))
					wanted |= UINT32_C(1) << i;
			measure = wanted != 0;
		}
	}

	if (measure)
	{
		/*
		 * The statement is measured here as a whole: an optimizable statement
		 * inside it (EXPLAIN ANALYZE, CREATE TABLE AS, ...) must not also be
		 * counted by the executor hooks.  (A transaction statement has none:
		 * its query id stays.)
		 */
		no_usage = pp_utility_uses_no_buffers(pstmt->utilityStmt);
		if (!no_usage)
		{
			pstmt->queryId = UINT64CONST(0);
			bufusage_start = pgBufferUsage;
			walusage_start = pgWalUsage;
		}
		INSTR_TIME_SET_CURRENT(start);
	}

	/*
	 * The top frame (see file header) for the statements that are run often
	 * and are known to abort the transaction they fail in (see
	 * pp_utility_frame_ok), unless the statement's query id, zeroed above,
	 * has to be given back on error.
	 */
	if (PP_TOP_FRAME_FREE() && pstmt->queryId == saved_queryid &&
		pp_utility_frame_ok(pstmt->utilityStmt))
	{
		pp_top_enter(PP_ERROR_IN_UTILITY, measure ? queryid : 0, queryString,
					 pstmt->stmt_location, pstmt->stmt_len);
		pp_nesting_level = 1;
		pp_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
		pp_nesting_level = 0;
		pp_top.active = false;
	}
	else
	{
		pp_nesting_level++;
		PG_TRY();
		{
			pp_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								   params, queryEnv, dest, qc);
		}
		PG_CATCH();
		{
			pp_nesting_level = level;
			pstmt->queryId = saved_queryid;
			if (measure)
				pp_report_error(PP_ERROR_IN_UTILITY, queryid, level == 0,
								queryString, pstmt->stmt_location,
								pstmt->stmt_len, cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
		pp_nesting_level = level;
	}

	/*
	 * Give the statement its query id back: the PlannedStmt of a prepared
	 * utility statement is kept and executed again, and must not stay
	 * changed.  (PostgreSQL 15 leaves a utility PlannedStmt's query id at 0
	 * anyway: pp_utility_queryid then finds it by text.)
	 */
	pstmt->queryId = saved_queryid;

	if (measure)
	{
		PPUsage		local_usage;
		PPUsage    *usage = no_usage ? &pp_no_usage : &local_usage;
		instr_time	duration;

		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		usage->elapsed_ms = INSTR_TIME_GET_MILLISEC(duration);

		/* Rows only for the commands that report a meaningful count */
		usage->rows = 0;
		if (qc && (qc->commandTag == CMDTAG_COPY ||
				   qc->commandTag == CMDTAG_FETCH ||
				   qc->commandTag == CMDTAG_SELECT ||
				   qc->commandTag == CMDTAG_REFRESH_MATERIALIZED_VIEW))
			usage->rows = qc->nprocessed;
		if (!no_usage)
		{
			pp_bufusage_diff(&usage->bufusage, &pgBufferUsage, &bufusage_start);
			pp_walusage_diff(&usage->walusage, &pgWalUsage, &walusage_start);
		}
		/* only the collectors that wanted it (BEGIN/COMMIT: not N+1's) */
		for (int i = 0; i < pp_n_utility_collectors; i++)
			if ((wanted & (UINT32_C(1) << i)) &&
				pp_utility_collectors[i]->utility_done)
				pp_utility_collectors[i]->utility_done(pstmt, queryString,
													   queryid, usage);
	}
}

/*
 * Can this utility statement run in the top frame, i.e. does an error that
 * leaves it always abort a transaction or subtransaction it started in?
 * Transaction statements (not in a transaction block that failed already:
 * ROLLBACK TO a savepoint that does not exist, in such a block, raises an
 * error and aborts nothing), SET and SHOW.  Not the others: some commit
 * and start transactions of their own (VACUUM, CREATE INDEX CONCURRENTLY,
 * ...), an error between the two aborts nothing; CALL and DO may roll back
 * without an error.
 */
static inline bool
pp_utility_frame_ok(Node *stmt)
{
	if (IsA(stmt, TransactionStmt))
		return !IsAbortedTransactionBlockState();
	return IsA(stmt, VariableSetStmt) || IsA(stmt, VariableShowStmt);
}

/*
 * Does this utility statement never touch a buffer or write WAL inside
 * ProcessUtility?  BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO
 * and PREPARE TRANSACTION only change the transaction block's state there;
 * the commit or abort itself happens after ProcessUtility returns.  (COMMIT
 * PREPARED and ROLLBACK PREPARED finish a transaction inside it.)
 */
static inline bool
pp_utility_uses_no_buffers(Node *stmt)
{
	return IsA(stmt, TransactionStmt) &&
		((TransactionStmt *) stmt)->kind != TRANS_STMT_COMMIT_PREPARED &&
		((TransactionStmt *) stmt)->kind != TRANS_STMT_ROLLBACK_PREPARED;
}

/*---- Execution measures (see file header) ----*/

/*
 * dst += now - start, as BufferUsageAccumDiff does.  The block I/O times
 * only move while track_io_timing is on: when it is off, only the block
 * counters are added, without a call and without the normalization of four
 * time differences.  (A statement that turns track_io_timing on while it
 * runs misses the I/O times of that run.)
 */
static inline void
pp_bufusage_accum(BufferUsage *dst, const BufferUsage *now,
				  const BufferUsage *start)
{
	if (track_io_timing)
	{
		BufferUsageAccumDiff(dst, now, start);
		return;
	}
	dst->shared_blks_hit += now->shared_blks_hit - start->shared_blks_hit;
	dst->shared_blks_read += now->shared_blks_read - start->shared_blks_read;
	dst->shared_blks_dirtied += now->shared_blks_dirtied - start->shared_blks_dirtied;
	dst->shared_blks_written += now->shared_blks_written - start->shared_blks_written;
	dst->local_blks_hit += now->local_blks_hit - start->local_blks_hit;
	dst->local_blks_read += now->local_blks_read - start->local_blks_read;
	dst->local_blks_dirtied += now->local_blks_dirtied - start->local_blks_dirtied;
	dst->local_blks_written += now->local_blks_written - start->local_blks_written;
	dst->temp_blks_read += now->temp_blks_read - start->temp_blks_read;
	dst->temp_blks_written += now->temp_blks_written - start->temp_blks_written;
}

/*
 * dst = now - start, for a measure of its own (planner, utility statement);
 * see pp_bufusage_accum.  The block I/O times follow temp_blks_written in
 * every supported version's BufferUsage.
 */
static inline void
pp_bufusage_diff(BufferUsage *dst, const BufferUsage *now,
				 const BufferUsage *start)
{
	if (track_io_timing)
	{
		memset(dst, 0, sizeof(BufferUsage));
		BufferUsageAccumDiff(dst, now, start);
		return;
	}
	dst->shared_blks_hit = now->shared_blks_hit - start->shared_blks_hit;
	dst->shared_blks_read = now->shared_blks_read - start->shared_blks_read;
	dst->shared_blks_dirtied = now->shared_blks_dirtied - start->shared_blks_dirtied;
	dst->shared_blks_written = now->shared_blks_written - start->shared_blks_written;
	dst->local_blks_hit = now->local_blks_hit - start->local_blks_hit;
	dst->local_blks_read = now->local_blks_read - start->local_blks_read;
	dst->local_blks_dirtied = now->local_blks_dirtied - start->local_blks_dirtied;
	dst->local_blks_written = now->local_blks_written - start->local_blks_written;
	dst->temp_blks_read = now->temp_blks_read - start->temp_blks_read;
	dst->temp_blks_written = now->temp_blks_written - start->temp_blks_written;
	memset(&dst->temp_blks_written + 1, 0,
		   sizeof(BufferUsage) - offsetof(BufferUsage, temp_blks_written) -
		   sizeof(dst->temp_blks_written));
}

/* dst = now - start, for WAL usage */
static inline void
pp_walusage_diff(WalUsage *dst, const WalUsage *now, const WalUsage *start)
{
	dst->wal_records = now->wal_records - start->wal_records;
	dst->wal_fpi = now->wal_fpi - start->wal_fpi;
	dst->wal_bytes = now->wal_bytes - start->wal_bytes;
}

/* dst += now - start, as WalUsageAccumDiff does, inline */
static inline void
pp_walusage_accum(WalUsage *dst, const WalUsage *now, const WalUsage *start)
{
	dst->wal_records += now->wal_records - start->wal_records;
	dst->wal_fpi += now->wal_fpi - start->wal_fpi;
	dst->wal_bytes += now->wal_bytes - start->wal_bytes;
}

/* Start of one ExecutorRun or ExecutorFinish call */
static pg_attribute_always_inline void
pp_exec_start(PPExecUsage *start)
{
	start->bufusage = pgBufferUsage;
	start->walusage = pgWalUsage;
	INSTR_TIME_SET_CURRENT(start->elapsed);
}

/* End of that call: add what it took to the execution's record */
static pg_attribute_always_inline void
pp_exec_stop(PPExecRecord *rec, const PPExecUsage *start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_ACCUM_DIFF(rec->usage.elapsed, now, start->elapsed);
	pp_bufusage_accum(&rec->usage.bufusage, &pgBufferUsage, &start->bufusage);
	pp_walusage_accum(&rec->usage.walusage, &pgWalUsage, &start->walusage);
}

/*
 * Can ExecutorFinish run anything for this execution?  Only data-modifying
 * CTEs (es_auxmodifytables) and AFTER triggers (foreign keys included)
 * queued during the run; triggers are queued only for relations that have
 * some (ri_TrigDesc).  A SELECT without modifying CTEs never has either
 * (standard_ExecutorStart forces EXEC_FLAG_SKIP_TRIGGERS for it).
 */
static inline bool
pp_finish_runs(QueryDesc *queryDesc)
{
	EState	   *estate = queryDesc->estate;
	ListCell   *lc;

	if (queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE)
		return false;
	if (estate->es_auxmodifytables != NIL ||
		estate->es_trig_target_relations != NIL)
		return true;
	foreach(lc, estate->es_opened_result_relations)
		if (((ResultRelInfo *) lfirst(lc))->ri_TrigDesc != NULL)
		return true;
	foreach(lc, estate->es_tuple_routing_result_relations)
		if (((ResultRelInfo *) lfirst(lc))->ri_TrigDesc != NULL)
		return true;
	return false;
}

/* The record of an open execution, newest first */
static pg_noinline PPExecRecord *
pp_exec_find_older(QueryDesc *queryDesc)
{
	for (int i = pp_nexecs - 2; i >= 0; i--)
		if (pp_execs[i].queryDesc == queryDesc)
			return &pp_execs[i];
	return NULL;
}

/* ... the newest, as usual, without a loop */
static inline PPExecRecord *
pp_exec_find(QueryDesc *queryDesc)
{
	if (pp_nexecs == 0)
		return NULL;
	if (pp_execs[pp_nexecs - 1].queryDesc == queryDesc)
		return &pp_execs[pp_nexecs - 1];
	return pp_exec_find_older(queryDesc);
}

/*
 * ExecutorStart of a tracked execution succeeded: give it a record, if
 * there is room.  An abandoned record with the same QueryDesc pointer goes
 * first.
 */
static void
pp_exec_push(QueryDesc *queryDesc)
{
	PPExecRecord *rec;

	while (pp_nexecs > 0 && (rec = pp_exec_find(queryDesc)) != NULL)
		pp_exec_pop(rec);
	if (pp_nexecs == PP_EXEC_MAX)
	{
		/* no room: executor instrumentation, shared with other modules */
		if (queryDesc->totaltime == NULL)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);

			queryDesc->totaltime = InstrAlloc(1, INSTRUMENT_ALL, false);
			MemoryContextSwitchTo(oldcxt);
		}
		return;
	}

	rec = &pp_execs[pp_nexecs++];
	rec->queryDesc = queryDesc;
	INSTR_TIME_SET_ZERO(rec->usage.elapsed);
	memset(&rec->usage.bufusage, 0, sizeof(BufferUsage));
	memset(&rec->usage.walusage, 0, sizeof(WalUsage));
}

/* Drop a record; free the top of the stack of dropped records */
static inline void
pp_exec_pop(PPExecRecord *rec)
{
	rec->queryDesc = NULL;
	if (rec == &pp_execs[pp_nexecs - 1])
	{
		/* the newest, as usual */
		pp_nexecs--;
		while (pp_nexecs > 0 && pp_execs[pp_nexecs - 1].queryDesc == NULL)
			pp_nexecs--;
	}
}

/*
 * A transaction aborted: every execution still open was abandoned, and so
 * was the top frame if it is active (see file header).
 */
static void
pp_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		if (pp_top.active)
			pp_top_abandoned();
		pp_nexecs = 0;
	}
	pp_subxact_depth = 0;
}

/*
 * A subtransaction aborted: the top frame was abandoned if it started in
 * this subtransaction, not if it started in a parent (the subtransaction
 * then ran inside it, e.g. an exception block of a function).
 */
static void
pp_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			pp_subxact_depth++;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			if (pp_top.active && pp_top.subxact_depth >= pp_subxact_depth)
				pp_top_abandoned();
			/* FALLTHROUGH */
		case SUBXACT_EVENT_COMMIT_SUB:
			if (pp_subxact_depth > 0)
				pp_subxact_depth--;
			break;
		default:
			break;
	}
}

/* Note a top level call in the top frame (see file header) */
static inline void
pp_top_enter(PPErrorSite site, uint64 queryid, const char *query_string,
			 int stmt_location, int stmt_len)
{
	pp_top.active = true;
	pp_top.site = site;
	pp_top.subxact_depth = pp_subxact_depth;
	pp_top.queryid = queryid;
	pp_top.query_string = query_string;
	pp_top.stmt_location = stmt_location;
	pp_top.stmt_len = stmt_len;
}

/*
 * The call in the top frame was left by an error, and the (sub)transaction
 * it ran in is aborting: back to the top level, and the error, if still on
 * the error stack, to the collectors.  No error while exiting (FATAL).
 */
static void
pp_top_abandoned(void)
{
	PPTopFrame	top = pp_top;
	MemoryContext cxt = CurrentMemoryContext;
	uint32		holdoff = InterruptHoldoffCount;
	uint32		cancel_holdoff = QueryCancelHoldoffCount;
	ErrorData  *volatile edata = NULL;

	pp_top.active = false;
	pp_nesting_level = 0;
	pp_plan_nesting_level = 0;
	if (top.queryid == UINT64CONST(0) || !pp_enabled(0) ||
		proc_exit_inprogress || !PP_WANTS_ERRORS())
		return;

	/*
	 * CopyErrorData raises an error of its own when the stack is empty (a
	 * caller copied and flushed the error before aborting): then there is
	 * nothing to count, and that error is dropped here.
	 */
	PG_TRY();
	{
		edata = CopyErrorData();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		InterruptHoldoffCount = holdoff;
		QueryCancelHoldoffCount = cancel_holdoff;
		edata = NULL;
	}
	PG_END_TRY();
	if (edata == NULL)
		return;

	pp_error_to_collectors(top.site, top.queryid, true, top.query_string,
						   top.stmt_location, top.stmt_len, edata);
	FreeErrorData(edata);
}

/*
 * Hand an error that is propagating out of a tracked statement to the
 * collectors.  Called inside PG_CATCH; cxt is the memory context that was
 * current before PG_TRY, where the copy of the error is made.  The current
 * memory context (ErrorContext) is restored before returning, and the error
 * itself is left on the error stack for PG_RE_THROW.
 */
static void
pp_report_error(PPErrorSite site, uint64 queryid, bool toplevel,
				const char *query_string, int stmt_location, int stmt_len,
				MemoryContext cxt)
{
	MemoryContext ecxt;
	ErrorData  *edata;

	if (!PP_WANTS_ERRORS() || queryid == UINT64CONST(0))
		return;

	ecxt = MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	pp_error_to_collectors(site, queryid, toplevel, query_string,
						   stmt_location, stmt_len, edata);
	FreeErrorData(edata);
	MemoryContextSwitchTo(ecxt);
}

/* Hand a copy of an error to the collectors' statement_error callbacks */
static void
pp_error_to_collectors(PPErrorSite site, uint64 queryid, bool toplevel,
					   const char *query_string, int stmt_location,
					   int stmt_len, const ErrorData *edata)
{
	PPStatementRef ref;

	ref.queryid = queryid;
	ref.toplevel = toplevel;
	ref.query_string = query_string;
	ref.stmt_location = stmt_location;
	ref.stmt_len = stmt_len;
	PP_CALL_COLLECTORS(statement_error, site, &ref, edata);
}

/*
 * Hash of the text of one statement of a source string, as the key of the
 * utility query id map.
 */
static uint64
pp_text_hash(const char *query_string, int stmt_location, int stmt_len)
{
	const char *text = CleanQuerytext(query_string, &stmt_location, &stmt_len);

	return hash_bytes_extended((const unsigned char *) text, stmt_len, 0);
}

/*
 * Remember the query id of a utility statement seen at parse analysis.  The
 * map is small and per backend; when full it is emptied and starts over.
 */
static void
pp_remember_utility_queryid(Query *query, const char *query_string)
{
	uint64		key;
	PPUtilityId *entry;
	bool		found;

	if (pp_utility_ids == NULL ||
		hash_get_num_entries(pp_utility_ids) >= PP_UTILITY_IDS_MAX)
	{
		HASHCTL		ctl;

		if (pp_utility_ids)
			hash_destroy(pp_utility_ids);
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PPUtilityId);
		ctl.hcxt = TopMemoryContext;
		pp_utility_ids = hash_create("pgplumb utility query ids",
									 PP_UTILITY_IDS_MAX, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	key = pp_text_hash(query_string, query->stmt_location, query->stmt_len);
	entry = hash_search(pp_utility_ids, &key, HASH_ENTER, &found);
	entry->queryid = query->queryId;
}

/*
 * The query id of a utility statement (see pgplumb.h).
 */
uint64
pp_utility_queryid(PlannedStmt *pstmt, const char *query_string)
{
	uint64		key;
	PPUtilityId *entry;
	const char *text;
	int			len;
	PPUtilityLast *last;

	if (pstmt->queryId != UINT64CONST(0))
		return pstmt->queryId;
	if (pp_utility_ids == NULL || query_string == NULL)
		return UINT64CONST(0);

	/*
	 * A short statement run again (BEGIN, COMMIT, SET ... in a loop): the
	 * same text has the same query id, no hashing needed.
	 */
	text = query_string + Max(pstmt->stmt_location, 0);

	len = pstmt->stmt_len > 0 ? pstmt->stmt_len : (int) strlen(text);
	last = &pp_utility_last[(len ^ (unsigned char) text[0]) %PP_UTILITY_LAST];
	if (len > 0 && len == last->len && memcmp(text, last->text, len) == 0)
		return last->queryid;

	key = pp_text_hash(query_string, pstmt->stmt_location, pstmt->stmt_len);
	entry = hash_search(pp_utility_ids, &key, HASH_FIND, NULL);
	if (entry == NULL)
		return UINT64CONST(0);
	if (len > 0 && len <= PP_UTILITY_LAST_TEXT)
	{
		last->len = len;
		memcpy(last->text, text, len);
		last->queryid = entry->queryid;
	}
	return entry->queryid;
}
