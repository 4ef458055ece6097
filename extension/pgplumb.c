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
 * is tracked here with PG_TRY/PG_FINALLY so that a collector can tell top
 * level statements from nested ones (pp_nesting_level).
 *
 * Locking: this file takes no lock of its own.  Each collector documents
 * the locks on its shared memory at the top of its file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "executor/executor.h"
#include "miscadmin.h"
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

/*---- GUC variables ----*/

static const struct config_enum_entry pp_track_options[] = {
	{"none", PP_TRACK_NONE, false},
	{"top", PP_TRACK_TOP, false},
	{"all", PP_TRACK_ALL, false},
	{NULL, 0, false}
};

int			pp_track = PP_TRACK_TOP;

/*---- Local variables ----*/

int			pp_nesting_level = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*---- Function declarations ----*/

void		_PG_init(void);

static void pp_shmem_request(void);
static void pp_shmem_startup(void);
static void pp_post_parse_analyze(ParseState *pstate, Query *query,
								  JumbleState *jstate);
static void pp_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void pp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction,
						   uint64 count, bool execute_once);
static void pp_ExecutorFinish(QueryDesc *queryDesc);
static void pp_ExecutorEnd(QueryDesc *queryDesc);
static void pp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree,
							  ProcessUtilityContext context, ParamListInfo params,
							  QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc);

/*
 * Module load callback
 */
void
_PG_init(void)
{
	/*
	 * Shared memory can only be set up when loaded from
	 * shared_preload_libraries.  Otherwise do nothing: the SQL functions
	 * then report that the library must be preloaded.
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
							 NULL, NULL, NULL);

	PP_CALL_COLLECTORS(define_settings);

	MarkGUCPrefixReserved("pgplumb");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pp_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pp_shmem_startup;
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = pp_post_parse_analyze;
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

	PP_CALL_COLLECTORS(post_parse_analyze, pstate, query, jstate);
}

/*
 * ExecutorStart hook: collectors may ask for instrumentation before the
 * plan state tree is built.
 */
static void
pp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	bool		tracked = queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		pp_enabled(pp_nesting_level);

	if (tracked)
		PP_CALL_COLLECTORS(executor_start, queryDesc, eflags);

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * ExecutorRun hook: all we need to do is track nesting depth
 */
static void
pp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	pp_nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		pp_nesting_level--;
	}
	PG_END_TRY();
}

/*
 * ExecutorFinish hook: all we need to do is track nesting depth
 */
static void
pp_ExecutorFinish(QueryDesc *queryDesc)
{
	pp_nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		pp_nesting_level--;
	}
	PG_END_TRY();
}

/*
 * ExecutorEnd hook: collectors read the finished plan state tree
 */
static void
pp_ExecutorEnd(QueryDesc *queryDesc)
{
	if (queryDesc->plannedstmt->queryId != UINT64CONST(0) &&
		pp_enabled(pp_nesting_level))
	{
		PP_CALL_COLLECTORS(executor_end, queryDesc);
	}

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * ProcessUtility hook: track nesting depth
 */
static void
pp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree,
				  ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	pp_nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree,
								context, params, queryEnv,
								dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv,
									dest, qc);
	}
	PG_FINALLY();
	{
		pp_nesting_level--;
	}
	PG_END_TRY();
}
