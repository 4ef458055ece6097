/*-------------------------------------------------------------------------
 *
 * index_usage.c
 *		The index usage collector: which indexes each statement's plans
 *		scanned, and which tables they scanned sequentially.
 *
 * Design
 *
 * In ExecutorEnd (before standard_ExecutorEnd frees the plan state tree) we
 * walk the executed PlanState tree of every tracked statement and record,
 * per (database, queryid, relation, scan kind):
 *
 *	- for Index Scan, Index Only Scan and Bitmap Index Scan nodes: the index;
 *	- for Seq Scan nodes: the table, the columns its filter compares with a
 *	  constant or parameter (equality, range, or other), and the columns of
 *	  a Sort sitting directly on top of it (through at most one Gather).
 *
 * planstate_tree_walker takes care of Append/MergeAppend children, init
 * plans and sub plans (CTE scans run their CTE's plan as an init plan),
 * subquery scans, custom scans and BitmapAnd/BitmapOr children.
 *
 * The set of scans comes from the plan and is counted for every execution
 * ("executions").  Row counts need per-node Instrumentation: in
 * ExecutorStart we ask for INSTRUMENT_ROWS only (never timing), for the
 * fraction pgplumb.sample_rate of statements, plus a statement's first
 * execution in a backend (see pp_iu_executor_start).  An execution whose
 * nodes carry Instrumentation is "sampled"; the SQL views scale the sampled
 * sums by executions / sampled_executions and flag such figures as
 * estimates.  For a Seq Scan, rows examined = rows returned + rows removed
 * by the filter (Instrumentation's nfiltered1).
 *
 * Scans of system catalogs are not recorded.
 *
 * Filter columns are found by looking at the node's qual once, when its
 * entry is created (that needs the catalogs to classify operators), never
 * on every execution.
 *
 * A second table records the set of (database, index) that some tracked
 * statement used since the last reset, and since when: that is what
 * pgplumb.unused_indexes reads, so an index stays "used" even after the
 * per-statement entries naming it have been evicted.  An index joins the
 * set when a statement entry naming it is created (entries are created
 * and the set is cleared only together, under the exclusive lock), so the
 * set costs nothing per execution.
 *
 * Shared memory and locking
 *
 * Both hash tables live in shared memory, bounded by
 * pgplumb.max_index_entries, and are protected by one LWLock of our own
 * tranche ("pgplumb_index_usage"):
 *
 *	- LW_SHARED to look entries up and to read them;
 *	- LW_EXCLUSIVE to create or remove entries (including eviction and
 *	  reset).
 *
 * The counters of a statement entry are changed or read under one of
 * PP_IU_STRIPES spinlocks, chosen by a hash of the entry's key (the locks
 * live in PPIUShared and are never re-initialised, unlike the memory of a
 * hash table entry, which is recycled for other keys).  Each entry has an
 * incarnation number, unique for the life of the shared memory, set when
 * the entry is created and cleared under its stripe's spinlock before the
 * entry is removed.
 *
 * Each backend caches pointers to the statement entries it updated, with
 * their incarnation.  Under the stripe's spinlock, an unchanged
 * incarnation proves the entry is still the one cached (and it cannot be
 * removed while the spinlock is held), so a hot statement's update costs
 * that one spinlock: no LWLock and no hash lookup.  A changed incarnation
 * sends the backend back to the lookup under the shared lock.
 *
 * No catalog access happens while the lock is held.  A statement's scans
 * are first collected into backend-local memory, then applied under one
 * shared lock acquisition; only scans without an entry yet need the
 * exclusive lock.
 *
 * With pgplumb.save on (the statements collector's setting), the
 * postmaster writes both tables to pg_stat/pgplumb_index_usage.stat at a
 * clean shutdown and loads them at start, so "unused since" survives
 * restarts.
 *
 * When the statement table is full, one pass counts entries per usage
 * bucket (half powers of two of a decaying execution count) and a second
 * pass removes the least used ~5%: no sort, older cold entries first, and
 * a statement executed constantly is never the one evicted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/stratnum.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "pgplumb.h"
#include "index_usage.h"

/*---- Constants ----*/

#define PP_IU_TRANCHE		"pgplumb_index_usage"
#define PP_IU_MAX_COLS		16	/* filter columns kept per seq scan */
#define PP_IU_MAX_SORT		8	/* sort columns kept per seq scan */
#define PP_IU_LOCAL_SCANS	32	/* scans collected before palloc */
#define PP_IU_EVICT_FRACTION 0.05	/* share of entries evicted per pass */
#define PP_IU_USAGE_DECAY	0.75	/* usage kept by survivors of a pass */
#define PP_IU_USAGE_BUCKETS 64
#define PP_IU_STRIPES		64	/* spinlocks for the entries' counters */

/* Saved across clean restarts when pgplumb.save is on */
#define PP_IU_DUMP_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pgplumb_index_usage.stat"
#define PP_IU_FILE_MAGIC	0x70706975	/* "ppiu" */
#define PP_IU_FILE_VERSION	3

/* Column kinds in a seq scan's filter, best first */
#define PP_IU_COL_EQ		'e' /* column = constant/parameter */
#define PP_IU_COL_RANGE		'r' /* column <, <=, >, >= constant */
#define PP_IU_COL_OTHER		'o' /* any other use in the filter */

/*---- Types ----*/

/* Kinds of scan, as stored in shared memory and named by scan_kind_name */
typedef enum PPIUScanKind
{
	PP_IU_INDEX_SCAN,
	PP_IU_INDEX_ONLY_SCAN,
	PP_IU_BITMAP_SCAN,
	PP_IU_SEQ_SCAN
} PPIUScanKind;

static const char *const pp_iu_kind_names[] = {
	"index", "index_only", "bitmap", "seq"
};

/* Hash key of a statement entry; padding is zeroed so HASH_BLOBS works */
typedef struct PPIUKey
{
	Oid			dbid;
	Oid			relid;			/* index, or table for seq scans */
	uint64		queryid;
	int32		kind;			/* PPIUScanKind */
	int32		pad;
} PPIUKey;

typedef struct PPIUCol
{
	AttrNumber	attnum;
	char		kind;			/* PP_IU_COL_* */
} PPIUCol;

/*
 * Counters of a statement entry, protected by its stripe's spinlock.  What
 * every execution writes comes first and together (fewer cache lines move
 * between backends running the same statement); the sampled ones follow.
 */
typedef struct PPIUCounters
{
	int64		executions;		/* executions whose plan had this scan */
	double		usage;			/* decaying execution count, for eviction */
	TimestampTz last_seen;
	int64		sampled;		/* of those, executions with row counts */
	int64		scanned;		/* sampled executions where the node ran */
	double		loops;			/* sampled: times the node was (re)started */
	double		rows;			/* sampled: rows the node returned */
	double		removed;		/* sampled: rows removed by its filters */
	TimestampTz first_seen;
} PPIUCounters;

/* One (database, statement, relation, scan kind) */
typedef struct PPIUEntry
{
	PPIUKey		key;			/* must be first */
	Oid			heaprelid;		/* the table scanned */
	pg_atomic_uint64 incarnation;	/* 0 once removed; see the notes */
	PPIUCounters c;
	/* seq scans only, set when the entry is created, then read-only */
	bool		cols_known;		/* were the filter columns analysed? */
	int16		ncols;
	int16		nsort;
	PPIUCol		cols[PP_IU_MAX_COLS];
	AttrNumber	sortcols[PP_IU_MAX_SORT];
} PPIUEntry;

/* Hash key and entry of the per-index table */
typedef struct PPIURelKey
{
	Oid			dbid;
	Oid			relid;
} PPIURelKey;

typedef struct PPIURelEntry
{
	PPIURelKey	key;			/* must be first */
	TimestampTz first_used;		/* set at creation, then read-only */
} PPIURelEntry;

/* Global state in shared memory */
typedef struct PPIUShared
{
	LWLock	   *lock;			/* see the locking notes at the top */
	slock_t		mutex;			/* protects the fields below */
	int64		evictions;		/* statement entries evicted */
	int64		rels_dropped;	/* index uses not recorded: table full */
	TimestampTz stats_reset;

	uint64		incarnations;	/* last one handed out; lock exclusive */
	/* spinlocks of the entries' counters, one cache line each */
	union
	{
		slock_t		lock;
		char		pad[64];
	}			stripes[PP_IU_STRIPES];
} PPIUShared;

/* Header of the dump file; entries and index entries follow, raw */
typedef struct PPIUFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		pg_version;
	uint32		entry_size;
	uint32		rel_size;
	int32		nentries;
	int32		nrels;
	int64		evictions;
	TimestampTz stats_reset;
} PPIUFileHeader;

/* A scan found in the plan state tree, before it reaches shared memory */
typedef struct PPIUScan
{
	PPIUKey		key;
	Oid			heaprelid;
	PlanState  *ps;
	bool		sampled;
	bool		done;
	double		loops;
	double		rows;
	double		removed;
	int16		nsort;
	AttrNumber	sortcols[PP_IU_MAX_SORT];
	/* filled for new seq scan entries only */
	bool		cols_known;
	int16		ncols;
	PPIUCol		cols[PP_IU_MAX_COLS];
} PPIUScan;

/* State of one walk of a plan state tree */
typedef struct PPIUWalk
{
	EState	   *estate;
	uint64		queryid;
	PPIUScan   *scans;
	int			nscans;
	int			maxscans;
	bool		uncacheable;	/* the scans may differ between executions */
	/* a Sort found directly above this seq scan node, and its columns */
	PlanState  *sort_scan;
	int16		nsort;
	AttrNumber	sortcols[PP_IU_MAX_SORT];
} PPIUWalk;

/*
 * A backend-local cache of pointers to shared statement entries, so that
 * a statement executed again finds its entries without a hash lookup.
 * Direct mapped; a slot is valid while the entry keeps the incarnation it
 * had when the slot was filled (entries never move while they exist).
 */
#define PP_IU_CACHE_SLOTS	256

typedef struct PPIUCacheSlot
{
	PPIUKey		key;
	PPIUEntry  *entry;
	uint64		incarnation;
} PPIUCacheSlot;

/*
 * Statements this backend executed, for sampling: a statement's first
 * execution in a session always counts rows.  Direct mapped by queryid; a
 * collision only makes the next execution count rows.
 */
#define PP_IU_QUERY_SLOTS	256

/*
 * A backend-local cache of the scans of cached plans (prepared statements,
 * PL/pgSQL), so that an execution without row counts needs neither the
 * walk of its plan state tree nor a lookup per scan: the set of scans
 * depends on the plan only (plans with run-time partition pruning are not
 * cached), and a plan in the cache is one whose memory is still there.
 * When a plan's memory context (a "CachedPlan" context) is reset or
 * deleted, a callback registered in that context empties the plan's slot.
 * Two-way set associative by PlannedStmt pointer; a slot is only ever
 * given to a plan while it is free, so each plan registers at most one
 * callback.
 * Each scan keeps the shared entry it counts into and that entry's
 * incarnation: any other incarnation (eviction, reset) sends the
 * execution back to the walk.
 */
#define PP_IU_PLANS			128 /* slots, a power of 2 */
#define PP_IU_PLAN_SCANS	4	/* plans with more scans are not cached */

typedef struct PPIUPlanScan
{
	PPIUEntry  *entry;
	uint64		incarnation;
	slock_t    *stripe;
	PPIUKey		key;
} PPIUPlanScan;

typedef struct PPIUPlan
{
	const PlannedStmt *pstmt;	/* NULL: free slot */
	int			nscans;
	PPIUPlanScan scans[PP_IU_PLAN_SCANS];
} PPIUPlan;

/*---- Local variables ----*/

static PPIUCacheSlot pp_iu_cache[PP_IU_CACHE_SLOTS];

/* Executions left before the next sampled one, drawn at pp_iu_skip_rate */
static int64 pp_iu_skip = -1;
static double pp_iu_skip_rate = -1.0;
static PPIUPlan pp_iu_plans[PP_IU_PLANS];
static uint64 pp_iu_queries[PP_IU_QUERY_SLOTS];

static PPIUShared *pp_iu = NULL;
static HTAB *pp_iu_hash = NULL;
static HTAB *pp_iu_rels = NULL;

/*---- GUC variables ----*/

static bool pp_iu_track = true;
static int	pp_iu_max = 5000;
static double pp_iu_sample_rate = 0.01;
static int	pp_iu_advice_min_rows = 10000;
static double pp_iu_advice_min_ratio = 20.0;

/*---- Function declarations ----*/

PG_FUNCTION_INFO_V1(pgplumb_index_usage_entries);
PG_FUNCTION_INFO_V1(pgplumb_index_usage_indexes);
PG_FUNCTION_INFO_V1(pgplumb_index_usage_info);
PG_FUNCTION_INFO_V1(pgplumb_reset_index_usage);

static void pp_iu_define_settings(void);
static Size pp_iu_shmem_size(void);
static void pp_iu_shmem_request(void);
static void pp_iu_shmem_startup(void);
static void pp_iu_executor_start(QueryDesc *queryDesc, int eflags);
static void pp_iu_executor_end(QueryDesc *queryDesc);
static void pp_iu_executor_end_walk(QueryDesc *queryDesc, const PPIUPlan *plan,
									int ncounted);

static bool pp_iu_sample_next(void);
static inline PPIUCacheSlot *pp_iu_cache_slot(const PPIUKey *key);
static inline slock_t *pp_iu_stripe(const PPIUKey *key);
static inline PPIUPlan *pp_iu_plan_find(const PlannedStmt *pstmt);
static int	pp_iu_plan_count(const PPIUPlan *plan);
static void pp_iu_plan_remember(QueryDesc *queryDesc, const PPIUWalk *w);
static void pp_iu_plan_forget(void *arg);
static bool pp_iu_walker(PlanState *ps, void *context);
static void pp_iu_note_scan(PPIUWalk *w, PlanState *ps, Oid relid,
							PPIUScanKind kind);
static void pp_iu_note_sort(PPIUWalk *w, PlanState *sortps);
static void pp_iu_analyse_quals(PPIUScan *scan);
static void pp_iu_add_col(PPIUScan *scan, AttrNumber attnum, char kind);
static char pp_iu_operator_kind(Oid opno);
static void pp_iu_store(PPIUWalk *w);
static void pp_iu_count(PPIUEntry *entry, const PPIUScan *scan,
						TimestampTz now);
static void pp_iu_count_locked(PPIUEntry *entry, const PPIUScan *scan,
							   TimestampTz now);
static void pp_iu_set_incarnation(PPIUEntry *entry);
static void pp_iu_entry_remove(PPIUEntry *entry);
static void pp_iu_note_index_used(const PPIUKey *key, TimestampTz now);
static void pp_iu_evict(void);
static void pp_iu_shmem_shutdown(int code, Datum arg);
static void pp_iu_load(void);
static bool pp_iu_save_enabled(void);

const PPCollector pp_index_usage_collector = {
	.name = "index_usage",
	.define_settings = pp_iu_define_settings,
	.shmem_size = pp_iu_shmem_size,
	.shmem_request = pp_iu_shmem_request,
	.shmem_startup = pp_iu_shmem_startup,
	.executor_start = pp_iu_executor_start,
	.executor_end = pp_iu_executor_end,
};

/*
 * Define the collector's settings (called from _PG_init).
 */
static void
pp_iu_define_settings(void)
{
	DefineCustomBoolVariable("pgplumb.track_indexes",
							 "Records which indexes and sequential scans each tracked statement uses.",
							 NULL,
							 &pp_iu_track,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgplumb.max_index_entries",
							"Maximum number of (statement, index or table) entries kept by pgplumb.index_usage.",
							"The same number bounds the table of indexes used, read by pgplumb.unused_indexes.",
							&pp_iu_max,
							5000,
							100,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("pgplumb.sample_rate",
							 "Fraction of tracked statements whose plan nodes count rows for pgplumb.index_usage and pgplumb.table_scans.",
							 "A statement's first execution in a session always counts rows. Other executions are counted but carry no row counts; the views scale the sampled row counts and mark them as estimates.",
							 &pp_iu_sample_rate,
							 0.01,
							 0.0,
							 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgplumb.advice_min_table_rows",
							"Tables with fewer estimated rows than this get no index advice.",
							NULL,
							&pp_iu_advice_min_rows,
							10000,
							0,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("pgplumb.advice_min_examined_ratio",
							 "Sequential scans examining fewer rows than this per row returned get no index advice.",
							 NULL,
							 &pp_iu_advice_min_ratio,
							 20.0,
							 1.0,
							 1e12,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * Shared memory: the global state and the two hash tables.
 */
static Size
pp_iu_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(PPIUShared));

	size = add_size(size, hash_estimate_size(pp_iu_max, sizeof(PPIUEntry)));
	size = add_size(size, hash_estimate_size(pp_iu_max, sizeof(PPIURelEntry)));
	return size;
}

static void
pp_iu_shmem_request(void)
{
	RequestNamedLWLockTranche(PP_IU_TRANCHE, 1);
}

/*
 * Create or attach to the shared state; AddinShmemInitLock is held.
 */
static void
pp_iu_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	pp_iu = ShmemInitStruct("pgplumb index_usage", sizeof(PPIUShared), &found);
	if (!found)
	{
		pp_iu->lock = &(GetNamedLWLockTranche(PP_IU_TRANCHE))->lock;
		SpinLockInit(&pp_iu->mutex);
		pp_iu->evictions = 0;
		pp_iu->rels_dropped = 0;
		pp_iu->stats_reset = GetCurrentTimestamp();
		pp_iu->incarnations = 0;
		for (int i = 0; i < PP_IU_STRIPES; i++)
			SpinLockInit(&pp_iu->stripes[i].lock);
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPIUKey);
	info.entrysize = sizeof(PPIUEntry);
	pp_iu_hash = ShmemInitHash("pgplumb index_usage statements",
							   pp_iu_max, pp_iu_max,
							   &info, HASH_ELEM | HASH_BLOBS);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPIURelKey);
	info.entrysize = sizeof(PPIURelEntry);
	pp_iu_rels = ShmemInitHash("pgplumb index_usage indexes",
							   pp_iu_max, pp_iu_max,
							   &info, HASH_ELEM | HASH_BLOBS);

	/* the postmaster saves at shutdown and loads what was saved */
	if (!found && !IsUnderPostmaster)
	{
		on_shmem_exit(pp_iu_shmem_shutdown, (Datum) 0);
		pp_iu_load();
	}
}

/* A statement's slot in pp_iu_queries */
static inline uint64 *
pp_iu_query_slot(uint64 queryid)
{
	return &pp_iu_queries[(queryid ^ (queryid >> 32)) % PP_IU_QUERY_SLOTS];
}

/*
 * ExecutorStart: ask for per-node row counts (INSTRUMENT_ROWS only) when
 * the statement is sampled: the fraction pgplumb.sample_rate of executions,
 * and a statement's first execution in this backend, so that even a rare
 * statement has row counts.  With pgplumb.sample_rate = 0 nothing counts
 * rows.
 */
static void
pp_iu_executor_start(QueryDesc *queryDesc, int eflags)
{
	uint64	   *slot;

	if (!pp_iu_track || pp_iu == NULL || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;

	slot = pp_iu_query_slot(queryDesc->plannedstmt->queryId);

	/* the usual case: a statement seen before, inside a gap between samples */
	if (*slot == queryDesc->plannedstmt->queryId && pp_iu_skip > 0 &&
		pp_iu_skip_rate == pp_iu_sample_rate)
	{
		pp_iu_skip--;
		return;
	}

	if (pp_iu_sample_rate <= 0.0)
		return;
	if (pp_iu_sample_rate >= 1.0 ||
		*slot != queryDesc->plannedstmt->queryId ||
		pp_iu_sample_next())
	{
		*slot = queryDesc->plannedstmt->queryId;
		queryDesc->instrument_options |= INSTRUMENT_ROWS;
	}
}

/*
 * Is this execution sampled?  Each execution is, independently, with
 * probability pgplumb.sample_rate; rather than a random number per
 * execution, the number of executions until the next sampled one is drawn
 * once per sample (a geometric variable, same distribution).
 */
static bool
pp_iu_sample_next(void)
{
	if (pp_iu_skip_rate != pp_iu_sample_rate)
	{
		pp_iu_skip_rate = pp_iu_sample_rate;
		pp_iu_skip = -1;
	}
	if (pp_iu_skip > 0)
	{
		pp_iu_skip--;
		return false;
	}
	if (pp_iu_skip == 0)
	{
		/* this one is sampled; draw the gap to the next one */
		double		u = pg_prng_double(&pg_global_prng_state);

		pp_iu_skip = (int64) floor(log(1.0 - u) / log(1.0 - pp_iu_sample_rate));
		return true;
	}
	/* first call with this rate: start somewhere in the first gap */
	pp_iu_skip = (int64) floor(log(1.0 - pg_prng_double(&pg_global_prng_state)) /
							   log(1.0 - pp_iu_sample_rate));
	return pp_iu_sample_next();
}

/*
 * ExecutorEnd: walk the plan state tree and record its scans.
 *
 * Skipped outside a valid transaction state (a portal cleaned up during
 * abort): recording new seq scans needs the catalogs.
 */
static void
pp_iu_executor_end(QueryDesc *queryDesc)
{
	PPIUPlan   *plan = NULL;
	int			ncounted = 0;

	if (!pp_iu_track || pp_iu == NULL || queryDesc->planstate == NULL ||
		queryDesc->estate == NULL || !IsTransactionState() ||
		(queryDesc->estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;

	/* a cached plan without row counts: its remembered scans */
	if (queryDesc->instrument_options == 0 &&
		(plan = pp_iu_plan_find(queryDesc->plannedstmt)) != NULL)
	{
		ncounted = pp_iu_plan_count(plan);
		if (ncounted == plan->nscans)
			return;

		/*
		 * An entry was removed (eviction, reset): the scans not counted yet
		 * go the long way, which creates the entry again and refreshes the
		 * plan's slot.
		 */
	}
	pp_iu_executor_end_walk(queryDesc, plan, ncounted);
}

/*
 * The long way of pp_iu_executor_end, out of line so that the cached plan
 * path needs no room for a walk: walk the plan state tree, count the scans
 * not counted yet (the first ncounted of plan's were), remember the plan.
 */
static pg_noinline void
pp_iu_executor_end_walk(QueryDesc *queryDesc, const PPIUPlan *plan,
						int ncounted)
{
	PPIUWalk	w;
	PPIUScan	local[PP_IU_LOCAL_SCANS];

	memset(&w, 0, sizeof(w));
	w.estate = queryDesc->estate;
	w.queryid = queryDesc->plannedstmt->queryId;
	w.scans = local;
	w.maxscans = PP_IU_LOCAL_SCANS;

	pp_iu_walker(queryDesc->planstate, &w);

	for (int j = 0; j < w.nscans; j++)
		for (int k = 0; k < ncounted; k++)
			if (memcmp(&w.scans[j].key, &plan->scans[k].key,
					   sizeof(PPIUKey)) == 0)
				w.scans[j].done = true;

	if (w.nscans > 0)
		pp_iu_store(&w);

	pp_iu_plan_remember(queryDesc, &w);

	if (w.scans != local)
		pfree(w.scans);
}

/* The first of the two slots of pp_iu_plans where a plan may be */
static inline PPIUPlan *
pp_iu_plan_set(const PlannedStmt *pstmt)
{
	uint64		h = (uint64) (uintptr_t) pstmt * UINT64CONST(0x9E3779B97F4A7C15);

	return &pp_iu_plans[(h >> 32) & (PP_IU_PLANS - 2)];
}

/* The slot of a plan in pp_iu_plans, or NULL */
static inline PPIUPlan *
pp_iu_plan_find(const PlannedStmt *pstmt)
{
	PPIUPlan   *set = pp_iu_plan_set(pstmt);

	if (set[0].pstmt == pstmt)
		return &set[0];
	if (set[1].pstmt == pstmt)
		return &set[1];
	return NULL;
}

/*
 * Count an execution of a plan in the plan cache into the entries of its
 * scans, in order, until one of them is gone.  Returns how many were
 * counted: all of them, unless an entry was evicted or reset since.
 */
static int
pp_iu_plan_count(const PPIUPlan *plan)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	PPIUScan	unsampled;
	int			i;

	unsampled.sampled = false;
	for (i = 0; i < plan->nscans; i++)
	{
		const PPIUPlanScan *ps = &plan->scans[i];
		bool		there;

		SpinLockAcquire(ps->stripe);
		there = pg_atomic_read_u64(&ps->entry->incarnation) == ps->incarnation;
		if (there)
			pp_iu_count_locked(ps->entry, &unsampled, now);
		SpinLockRelease(ps->stripe);
		if (!there)
			break;
	}
	return i;
}

/*
 * After a walk: give the plan a slot of the plan cache if it is a cached
 * plan whose scans cannot change, the slot is free, and each scan has an
 * entry in this backend's entry cache (pp_iu_store just counted them); or
 * refresh the entries of a plan that has its slot already.
 */
static void
pp_iu_plan_remember(QueryDesc *queryDesc, const PPIUWalk *w)
{
	const PlannedStmt *pstmt = queryDesc->plannedstmt;
	PPIUPlan   *plan = pp_iu_plan_find(pstmt);
	PPIUPlanScan scans[PP_IU_PLAN_SCANS];
	MemoryContext cxt;

	if (w->uncacheable || w->nscans > PP_IU_PLAN_SCANS)
		return;
	if (plan == NULL)
	{
		/* a free slot of the two, or nothing */
		plan = pp_iu_plan_set(pstmt);
		if (plan->pstmt != NULL && (++plan)->pstmt != NULL)
			return;
	}

	for (int i = 0; i < w->nscans; i++)
	{
		PPIUCacheSlot *slot = pp_iu_cache_slot(&w->scans[i].key);

		if (slot->entry == NULL ||
			memcmp(&slot->key, &w->scans[i].key, sizeof(PPIUKey)) != 0)
			return;
		scans[i].entry = slot->entry;
		scans[i].incarnation = slot->incarnation;
		scans[i].stripe = pp_iu_stripe(&slot->key);
		scans[i].key = slot->key;
	}

	if (plan->pstmt == NULL)
	{
		MemoryContextCallback *cb;

		/* only plans kept by the plan cache live long enough to pay */
		cxt = GetMemoryChunkContext((void *) pstmt);
		if (strcmp(cxt->name, "CachedPlan") != 0)
			return;
		cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
		cb->func = pp_iu_plan_forget;
		cb->arg = (void *) pstmt;
		MemoryContextRegisterResetCallback(cxt, cb);
		plan->pstmt = pstmt;
	}
	plan->nscans = w->nscans;
	memcpy(plan->scans, scans, sizeof(PPIUPlanScan) * w->nscans);
}

/* A cached plan's memory goes: empty its slot */
static void
pp_iu_plan_forget(void *arg)
{
	PPIUPlan   *plan = pp_iu_plan_find((const PlannedStmt *) arg);

	if (plan != NULL)
		plan->pstmt = NULL;
}

/*
 * Plan state tree walker: note every scan we report on, then recurse.
 */
static bool
pp_iu_walker(PlanState *ps, void *context)
{
	PPIUWalk   *w = (PPIUWalk *) context;
	Plan	   *plan = ps->plan;

	switch (nodeTag(plan))
	{
		case T_IndexScan:
			pp_iu_note_scan(w, ps, ((IndexScan *) plan)->indexid,
							PP_IU_INDEX_SCAN);
			break;
		case T_IndexOnlyScan:
			pp_iu_note_scan(w, ps, ((IndexOnlyScan *) plan)->indexid,
							PP_IU_INDEX_ONLY_SCAN);
			break;
		case T_BitmapIndexScan:
			pp_iu_note_scan(w, ps, ((BitmapIndexScan *) plan)->indexid,
							PP_IU_BITMAP_SCAN);
			break;
		case T_SeqScan:
			pp_iu_note_scan(w, ps, InvalidOid, PP_IU_SEQ_SCAN);
			break;
		case T_Sort:
		case T_IncrementalSort:
			pp_iu_note_sort(w, ps);
			break;
		case T_Append:
			/* run-time pruning: the scans depend on the parameters */
			if (((Append *) plan)->part_prune_info != NULL)
				w->uncacheable = true;
			break;
		case T_MergeAppend:
			if (((MergeAppend *) plan)->part_prune_info != NULL)
				w->uncacheable = true;
			break;
		default:
			break;
	}

	/* a scan with nothing below it: spare the generic walker */
	if (ps->lefttree == NULL && ps->righttree == NULL &&
		ps->initPlan == NIL && ps->subPlan == NIL &&
		(IsA(plan, IndexScan) || IsA(plan, IndexOnlyScan) ||
		 IsA(plan, BitmapIndexScan) || IsA(plan, SeqScan)))
		return false;

	return planstate_tree_walker(ps, pp_iu_walker, context);
}

/*
 * Record one scan node.  relid is the index, or InvalidOid for a seq scan
 * (the table is taken from the range table).  Two nodes with the same key
 * in one plan (a self join) make one execution and add up their rows.
 */
static void
pp_iu_note_scan(PPIUWalk *w, PlanState *ps, Oid relid, PPIUScanKind kind)
{
	Scan	   *scan = (Scan *) ps->plan;
	Oid			heaprelid = exec_rt_fetch(scan->scanrelid, w->estate)->relid;
	Instrumentation *instr = ps->instrument;
	PPIUScan   *s = NULL;
	PPIUKey		key;

	/* system catalogs are not recorded (monitoring queries read them) */
	if (heaprelid < FirstNormalObjectId)
		return;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = OidIsValid(relid) ? relid : heaprelid;
	key.queryid = w->queryid;
	key.kind = kind;

	for (int i = 0; i < w->nscans; i++)
	{
		if (memcmp(&w->scans[i].key, &key, sizeof(key)) == 0)
		{
			s = &w->scans[i];
			break;
		}
	}

	if (s == NULL)
	{
		if (w->nscans == w->maxscans)
		{
			PPIUScan   *grown = palloc(sizeof(PPIUScan) * w->maxscans * 2);

			memcpy(grown, w->scans, sizeof(PPIUScan) * w->nscans);
			if (w->maxscans != PP_IU_LOCAL_SCANS)
				pfree(w->scans);
			w->scans = grown;
			w->maxscans *= 2;
		}
		/* the filter columns are filled (and read) for new entries only */
		s = &w->scans[w->nscans++];
		s->key = key;
		s->heaprelid = heaprelid;
		s->ps = ps;
		s->sampled = (instr != NULL);
		s->done = false;
		s->loops = s->rows = s->removed = 0;
		s->nsort = 0;
		s->cols_known = false;
		s->ncols = 0;
	}

	if (instr != NULL)
	{
		/* fold the last loop into the totals; harmless if done already */
		InstrEndLoop(instr);
		s->loops += instr->nloops;
		s->rows += instr->ntuples;
		s->removed += instr->nfiltered1 + instr->nfiltered2;
	}
	else
		s->sampled = false;

	if (kind == PP_IU_SEQ_SCAN && w->sort_scan == ps && s->nsort == 0)
	{
		s->nsort = w->nsort;
		memcpy(s->sortcols, w->sortcols, sizeof(AttrNumber) * w->nsort);
	}
}

/*
 * A Sort (or Incremental Sort) node: if it sorts the output of a seq scan
 * (directly or through one Gather), remember the leading sort keys that are
 * plain columns of the scanned table.
 */
static void
pp_iu_note_sort(PPIUWalk *w, PlanState *sortps)
{
	Sort	   *sort = (Sort *) sortps->plan;
	PlanState  *child = outerPlanState(sortps);
	PlanState  *gather = NULL;
	Index		scanrelid;

	if (child != NULL && IsA(child->plan, Gather))
	{
		gather = child;
		child = outerPlanState(child);
	}
	if (child == NULL || !IsA(child->plan, SeqScan))
		return;

	scanrelid = ((Scan *) child->plan)->scanrelid;
	w->sort_scan = child;
	w->nsort = 0;

	for (int i = 0; i < sort->numCols && w->nsort < PP_IU_MAX_SORT; i++)
	{
		TargetEntry *tle;
		Node	   *expr;

		tle = get_tle_by_resno(outerPlan(sort)->targetlist,
							   sort->sortColIdx[i]);
		if (tle == NULL)
			break;
		expr = strip_implicit_coercions((Node *) tle->expr);

		/* through a Gather, keys refer to the scan's target list */
		if (gather != NULL && IsA(expr, Var) &&
			((Var *) expr)->varno == OUTER_VAR)
		{
			tle = get_tle_by_resno(child->plan->targetlist,
								   ((Var *) expr)->varattno);
			if (tle == NULL)
				break;
			expr = strip_implicit_coercions((Node *) tle->expr);
		}

		if (!IsA(expr, Var) || ((Var *) expr)->varno != scanrelid ||
			((Var *) expr)->varattno <= 0)
			break;
		w->sortcols[w->nsort++] = ((Var *) expr)->varattno;
	}
}

/*
 * Is node a plain column of the scanned table?  Sets *attnum.
 */
static bool
pp_iu_is_column(Node *node, Index scanrelid, AttrNumber *attnum)
{
	node = strip_implicit_coercions(node);
	if (node != NULL && IsA(node, Var) &&
		((Var *) node)->varno == scanrelid &&
		((Var *) node)->varlevelsup == 0 &&
		((Var *) node)->varattno > 0)
	{
		*attnum = ((Var *) node)->varattno;
		return true;
	}
	return false;
}

/* Does node have a value fixed for one scan (constant or parameter)? */
static bool
pp_iu_is_pseudo_constant(Node *node)
{
	return !contain_var_clause(node) && !contain_volatile_functions(node);
}

/*
 * Classify the filter of a new seq scan entry: each top level AND-ed clause
 * "column op value" gives an equality or range column (by the operator's
 * btree strategy); every other column the filter reads is "other".
 */
static void
pp_iu_analyse_quals(PPIUScan *scan)
{
	Plan	   *plan = scan->ps->plan;
	Index		scanrelid = ((Scan *) plan)->scanrelid;
	ListCell   *lc;

	scan->cols_known = true;
	scan->ncols = 0;

	foreach(lc, plan->qual)
	{
		Node	   *clause = (Node *) lfirst(lc);
		AttrNumber	attnum;
		List	   *vars;
		ListCell   *vc;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *l = linitial(op->args);
			Node	   *r = lsecond(op->args);

			if ((pp_iu_is_column(l, scanrelid, &attnum) &&
				 pp_iu_is_pseudo_constant(r)) ||
				(pp_iu_is_column(r, scanrelid, &attnum) &&
				 pp_iu_is_pseudo_constant(l)))
			{
				pp_iu_add_col(scan, attnum, pp_iu_operator_kind(op->opno));
				continue;
			}
		}
		else if (IsA(clause, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

			if (saop->useOr &&
				pp_iu_is_column(linitial(saop->args), scanrelid, &attnum) &&
				pp_iu_is_pseudo_constant(lsecond(saop->args)))
			{
				pp_iu_add_col(scan, attnum, pp_iu_operator_kind(saop->opno));
				continue;
			}
		}
		else if (IsA(clause, NullTest) &&
				 ((NullTest *) clause)->nulltesttype == IS_NULL &&
				 !((NullTest *) clause)->argisrow &&
				 pp_iu_is_column((Node *) ((NullTest *) clause)->arg,
								 scanrelid, &attnum))
		{
			pp_iu_add_col(scan, attnum, PP_IU_COL_EQ);
			continue;
		}
		else if (pp_iu_is_column(clause, scanrelid, &attnum) ||
				 (is_notclause(clause) &&
				  pp_iu_is_column((Node *) get_notclausearg((Expr *) clause),
								  scanrelid, &attnum)))
		{
			/* a boolean column, or its negation */
			pp_iu_add_col(scan, attnum, PP_IU_COL_EQ);
			continue;
		}

		vars = pull_var_clause(clause, PVC_RECURSE_AGGREGATES |
							   PVC_RECURSE_WINDOWFUNCS |
							   PVC_RECURSE_PLACEHOLDERS);
		foreach(vc, vars)
		{
			Var		   *var = (Var *) lfirst(vc);

			if (IsA(var, Var) && var->varno == scanrelid &&
				var->varlevelsup == 0 && var->varattno > 0)
				pp_iu_add_col(scan, var->varattno, PP_IU_COL_OTHER);
		}
		list_free(vars);
	}
}

/* Add a filter column, keeping its best kind (equality > range > other) */
static void
pp_iu_add_col(PPIUScan *scan, AttrNumber attnum, char kind)
{
	for (int i = 0; i < scan->ncols; i++)
	{
		if (scan->cols[i].attnum == attnum)
		{
			if (kind == PP_IU_COL_EQ ||
				(kind == PP_IU_COL_RANGE && scan->cols[i].kind == PP_IU_COL_OTHER))
				scan->cols[i].kind = kind;
			return;
		}
	}
	if (scan->ncols < PP_IU_MAX_COLS)
	{
		scan->cols[scan->ncols].attnum = attnum;
		scan->cols[scan->ncols].kind = kind;
		scan->ncols++;
	}
}

/* Equality or range, by the operator's btree strategy; else other */
static char
pp_iu_operator_kind(Oid opno)
{
	List	   *interps = get_op_btree_interpretation(opno);
	ListCell   *lc;
	char		kind = PP_IU_COL_OTHER;

	foreach(lc, interps)
	{
		OpBtreeInterpretation *interp = (OpBtreeInterpretation *) lfirst(lc);

		if (interp->strategy == BTEqualStrategyNumber)
		{
			kind = PP_IU_COL_EQ;
			break;
		}
		if (interp->strategy >= BTLessStrategyNumber &&
			interp->strategy <= BTGreaterStrategyNumber)
			kind = PP_IU_COL_RANGE;
	}
	list_free_deep(interps);
	return kind;
}

/* A cheap hash of a key, for the cache and the stripes */
static inline uint64
pp_iu_key_hash(const PPIUKey *key)
{
	uint64		h = key->queryid ^ ((uint64) key->relid * UINT64CONST(0x9E3779B97F4A7C15)) ^
	(uint64) key->kind;

	return h ^ (h >> 29);
}

/* The cache slot of a key */
static inline PPIUCacheSlot *
pp_iu_cache_slot(const PPIUKey *key)
{
	return &pp_iu_cache[pp_iu_key_hash(key) % PP_IU_CACHE_SLOTS];
}

/* The spinlock of an entry's counters */
static inline slock_t *
pp_iu_stripe(const PPIUKey *key)
{
	return &pp_iu->stripes[(pp_iu_key_hash(key) >> 8) % PP_IU_STRIPES].lock;
}

/*
 * Apply a statement's scans to shared memory: existing entries under the
 * shared lock (through the backend's pointer cache when it can), then
 * (after analysing new seq scans' filters without any lock) new entries
 * under the exclusive lock.
 */
static void
pp_iu_store(PPIUWalk *w)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	int			missing = 0;

	/* entries this backend has cached: their stripe's spinlock only */
	for (int i = 0; i < w->nscans; i++)
	{
		PPIUScan   *s = &w->scans[i];
		PPIUCacheSlot *slot;

		if (s->done)
			continue;			/* counted already (pp_iu_plan_count) */
		slot = pp_iu_cache_slot(&s->key);

		if (slot->entry != NULL &&
			memcmp(&slot->key, &s->key, sizeof(PPIUKey)) == 0)
		{
			slock_t    *lock = pp_iu_stripe(&s->key);

			SpinLockAcquire(lock);
			if (pg_atomic_read_u64(&slot->entry->incarnation) == slot->incarnation)
			{
				pp_iu_count_locked(slot->entry, s, now);
				s->done = true;
			}
			SpinLockRelease(lock);
			if (s->done)
				continue;
			slot->entry = NULL; /* removed since */
		}
		missing++;
	}
	if (missing == 0)
		return;

	LWLockAcquire(pp_iu->lock, LW_SHARED);
	for (int i = 0; i < w->nscans; i++)
	{
		PPIUScan   *s = &w->scans[i];
		PPIUEntry  *entry;

		if (s->done)
			continue;
		entry = hash_search(pp_iu_hash, &s->key, HASH_FIND, NULL);
		if (entry != NULL)
		{
			pp_iu_count(entry, s, now);
			s->done = true;
			missing--;
		}
	}
	LWLockRelease(pp_iu->lock);

	if (missing == 0)
		return;

	/* catalog work first, with no lock held */
	for (int i = 0; i < w->nscans; i++)
	{
		if (!w->scans[i].done && w->scans[i].key.kind == PP_IU_SEQ_SCAN)
			pp_iu_analyse_quals(&w->scans[i]);
	}

	LWLockAcquire(pp_iu->lock, LW_EXCLUSIVE);
	for (int i = 0; i < w->nscans; i++)
	{
		PPIUScan   *s = &w->scans[i];
		PPIUEntry  *entry;
		bool		found;

		if (s->done)
			continue;

		entry = hash_search(pp_iu_hash, &s->key, HASH_FIND, NULL);
		if (entry == NULL)
		{
			if (hash_get_num_entries(pp_iu_hash) >= pp_iu_max)
				pp_iu_evict();
			entry = hash_search(pp_iu_hash, &s->key, HASH_ENTER, &found);
			Assert(!found);
			entry->heaprelid = s->heaprelid;
			memset(&entry->c, 0, sizeof(entry->c));
			entry->c.first_seen = now;
			entry->cols_known = s->cols_known;
			entry->ncols = s->ncols;
			memcpy(entry->cols, s->cols, sizeof(PPIUCol) * s->ncols);
			entry->nsort = s->nsort;
			memcpy(entry->sortcols, s->sortcols,
				   sizeof(AttrNumber) * s->nsort);
			if (s->key.kind != PP_IU_SEQ_SCAN)
				pp_iu_note_index_used(&s->key, now);
			pp_iu_set_incarnation(entry);
		}
		pp_iu_count(entry, s, now);
	}
	LWLockRelease(pp_iu->lock);
}

/*
 * Add one execution to a statement entry and cache it; the lock is held
 * (any mode).
 */
static void
pp_iu_count(PPIUEntry *entry, const PPIUScan *scan, TimestampTz now)
{
	slock_t    *lock = pp_iu_stripe(&entry->key);
	PPIUCacheSlot *slot = pp_iu_cache_slot(&entry->key);

	SpinLockAcquire(lock);
	pp_iu_count_locked(entry, scan, now);
	SpinLockRelease(lock);

	slot->key = entry->key;
	slot->entry = entry;
	slot->incarnation = pg_atomic_read_u64(&entry->incarnation);
}

/* Add one execution to a statement entry; its stripe's spinlock is held */
static void
pp_iu_count_locked(PPIUEntry *entry, const PPIUScan *scan, TimestampTz now)
{
	entry->c.executions++;
	entry->c.usage += 1.0;
	entry->c.last_seen = now;
	if (scan->sampled)
	{
		entry->c.sampled++;
		if (scan->loops > 0)
			entry->c.scanned++;
		entry->c.loops += scan->loops;
		entry->c.rows += scan->rows;
		entry->c.removed += scan->removed;
	}
}

/*
 * Give a new entry its incarnation; the lock is held exclusively.  From
 * then on backends may count into it through their caches.
 */
static void
pp_iu_set_incarnation(PPIUEntry *entry)
{
	slock_t    *lock = pp_iu_stripe(&entry->key);

	SpinLockAcquire(lock);
	pg_atomic_write_u64(&entry->incarnation, ++pp_iu->incarnations);
	SpinLockRelease(lock);
}

/*
 * Remove a statement entry; the lock is held exclusively.  Its incarnation
 * is cleared first, under its stripe's spinlock, so no backend counts into
 * it through a cached pointer afterwards.
 */
static void
pp_iu_entry_remove(PPIUEntry *entry)
{
	slock_t    *lock = pp_iu_stripe(&entry->key);

	SpinLockAcquire(lock);
	pg_atomic_write_u64(&entry->incarnation, 0);
	SpinLockRelease(lock);
	hash_search(pp_iu_hash, &entry->key, HASH_REMOVE, NULL);
}

/* Add an index to the set of used indexes; the lock is held exclusively */
static void
pp_iu_note_index_used(const PPIUKey *key, TimestampTz now)
{
	PPIURelKey	rkey;
	PPIURelEntry *rel;
	bool		found;

	rkey.dbid = key->dbid;
	rkey.relid = key->relid;
	if (hash_search(pp_iu_rels, &rkey, HASH_FIND, NULL) != NULL)
		return;
	if (hash_get_num_entries(pp_iu_rels) >= pp_iu_max)
	{
		SpinLockAcquire(&pp_iu->mutex);
		pp_iu->rels_dropped++;
		SpinLockRelease(&pp_iu->mutex);
		return;
	}
	rel = hash_search(pp_iu_rels, &rkey, HASH_ENTER, &found);
	rel->first_used = now;
}

/*
 * Usage bucket of an entry: half powers of two, from 2^-16 (bucket 0 and
 * below) to 2^15.5 (bucket 63 and above).  Decay moves a cold entry down
 * about one bucket per eviction pass, so older cold entries go first.
 */
static int
pp_iu_usage_bucket(double usage)
{
	int			b;

	if (usage <= 0.0)
		return 0;
	b = PP_IU_USAGE_BUCKETS / 2 + (int) floor(log2(usage) * 2.0);
	return Max(0, Min(b, PP_IU_USAGE_BUCKETS - 1));
}

/*
 * Remove the least used ~5% of statement entries and decay the usage of
 * the others.  Two linear passes, no sort.  Caller holds the lock
 * exclusively.
 */
static void
pp_iu_evict(void)
{
	int64		counts[PP_IU_USAGE_BUCKETS] = {0};
	long		nentries = hash_get_num_entries(pp_iu_hash);
	long		target = Max(1, (long) (nentries * PP_IU_EVICT_FRACTION));
	long		below = 0;
	long		removed = 0;
	long		at_limit;
	int			limit = 0;
	HASH_SEQ_STATUS hs;
	PPIUEntry  *entry;

	hash_seq_init(&hs, pp_iu_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
		counts[pp_iu_usage_bucket(entry->c.usage)]++;

	/* the lowest bucket that reaches the target, and how many to take */
	for (limit = 0; limit < PP_IU_USAGE_BUCKETS - 1; limit++)
	{
		if (below + counts[limit] >= target)
			break;
		below += counts[limit];
	}
	at_limit = target - below;

	hash_seq_init(&hs, pp_iu_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		int			b = pp_iu_usage_bucket(entry->c.usage);

		if (b < limit || (b == limit && at_limit > 0))
		{
			if (b == limit)
				at_limit--;
			pp_iu_entry_remove(entry);
			removed++;
		}
		else
		{
			slock_t    *lock = pp_iu_stripe(&entry->key);

			SpinLockAcquire(lock);
			entry->c.usage *= PP_IU_USAGE_DECAY;
			SpinLockRelease(lock);
		}
	}

	SpinLockAcquire(&pp_iu->mutex);
	pp_iu->evictions += removed;
	SpinLockRelease(&pp_iu->mutex);
}

/*---- SQL-callable functions ----*/

static void
pp_iu_require_shmem(void)
{
	pp_require_shmem(pp_iu != NULL && pp_iu_hash != NULL);
}

/* Build an int2[] from attribute numbers */
static Datum
pp_iu_int2_array(const AttrNumber *attnums, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int16GetDatum(attnums[i]);
	return PointerGetDatum(construct_array(elems, n, INT2OID, sizeof(int16),
										   true, TYPALIGN_SHORT));
}

/* The filter columns of one kind, as int2[] */
static Datum
pp_iu_cols_of_kind(const PPIUEntry *entry, char kind)
{
	AttrNumber	attnums[PP_IU_MAX_COLS];
	int			n = 0;

	for (int i = 0; i < entry->ncols; i++)
		if (entry->cols[i].kind == kind)
			attnums[n++] = entry->cols[i].attnum;
	return pp_iu_int2_array(attnums, n);
}

#define PP_IU_ENTRY_COLS 18

/*
 * pgplumb.index_usage_entries(): every statement entry of every database,
 * raw (the views filter, name and scale).
 */
Datum
pgplumb_index_usage_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS hs;
	PPIUEntry  *entry;

	pp_iu_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(pp_iu->lock, LW_SHARED);
	hash_seq_init(&hs, pp_iu_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		Datum		values[PP_IU_ENTRY_COLS];
		bool		nulls[PP_IU_ENTRY_COLS];
		PPIUCounters c;
		int			i = 0;
		bool		seq = (entry->key.kind == PP_IU_SEQ_SCAN);

		SpinLockAcquire(pp_iu_stripe(&entry->key));
		c = entry->c;
		SpinLockRelease(pp_iu_stripe(&entry->key));

		memset(nulls, 0, sizeof(nulls));
		values[i++] = ObjectIdGetDatum(entry->key.dbid);
		values[i++] = Int64GetDatum((int64) entry->key.queryid);
		values[i++] = ObjectIdGetDatum(entry->key.relid);
		values[i++] = ObjectIdGetDatum(entry->heaprelid);
		values[i++] = CStringGetTextDatum(pp_iu_kind_names[entry->key.kind]);
		values[i++] = Int64GetDatum(c.executions);
		values[i++] = Int64GetDatum(c.sampled);
		values[i++] = Int64GetDatum(c.scanned);
		values[i++] = Float8GetDatum(c.loops);
		values[i++] = Float8GetDatum(c.rows);
		values[i++] = Float8GetDatum(c.removed);
		if (seq && entry->cols_known)
		{
			values[i++] = pp_iu_cols_of_kind(entry, PP_IU_COL_EQ);
			values[i++] = pp_iu_cols_of_kind(entry, PP_IU_COL_RANGE);
			values[i++] = pp_iu_cols_of_kind(entry, PP_IU_COL_OTHER);
		}
		else
		{
			nulls[i++] = true;
			nulls[i++] = true;
			nulls[i++] = true;
		}
		if (seq)
			values[i++] = pp_iu_int2_array(entry->sortcols, entry->nsort);
		else
			nulls[i++] = true;
		values[i++] = TimestampTzGetDatum(c.first_seen);
		values[i++] = TimestampTzGetDatum(c.last_seen);
		values[i++] = Float8GetDatum(c.usage);
		Assert(i == PP_IU_ENTRY_COLS);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(pp_iu->lock);

	return (Datum) 0;
}

/*
 * pgplumb.index_usage_indexes(): every index some tracked statement used
 * since the last reset, and when it was first used.
 */
Datum
pgplumb_index_usage_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS hs;
	PPIURelEntry *rel;

	pp_iu_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(pp_iu->lock, LW_SHARED);
	hash_seq_init(&hs, pp_iu_rels);
	while ((rel = hash_seq_search(&hs)) != NULL)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = ObjectIdGetDatum(rel->key.dbid);
		values[1] = ObjectIdGetDatum(rel->key.relid);
		values[2] = TimestampTzGetDatum(rel->first_used);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(pp_iu->lock);

	return (Datum) 0;
}

/*
 * pgplumb.index_usage_info(): size and health of the collector.
 */
Datum
pgplumb_index_usage_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	int64		entries;
	int64		indexes;

	pp_iu_require_shmem();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(pp_iu->lock, LW_SHARED);
	entries = hash_get_num_entries(pp_iu_hash);
	indexes = hash_get_num_entries(pp_iu_rels);
	LWLockRelease(pp_iu->lock);

	values[0] = Int64GetDatum(entries);
	values[1] = Int32GetDatum(pp_iu_max);
	values[2] = Int64GetDatum(indexes);
	SpinLockAcquire(&pp_iu->mutex);
	values[3] = Int64GetDatum(pp_iu->evictions);
	values[4] = Int64GetDatum(pp_iu->rels_dropped);
	values[5] = TimestampTzGetDatum(pp_iu->stats_reset);
	SpinLockRelease(&pp_iu->mutex);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * pgplumb.reset_index_usage(): forget everything; returns the reset time.
 */
Datum
pgplumb_reset_index_usage(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS hs;
	PPIUEntry  *entry;
	PPIURelEntry *rel;
	TimestampTz now = GetCurrentTimestamp();

	pp_iu_require_shmem();

	LWLockAcquire(pp_iu->lock, LW_EXCLUSIVE);
	hash_seq_init(&hs, pp_iu_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
		pp_iu_entry_remove(entry);
	hash_seq_init(&hs, pp_iu_rels);
	while ((rel = hash_seq_search(&hs)) != NULL)
		hash_search(pp_iu_rels, &rel->key, HASH_REMOVE, NULL);
	SpinLockAcquire(&pp_iu->mutex);
	pp_iu->evictions = 0;
	pp_iu->rels_dropped = 0;
	pp_iu->stats_reset = now;
	SpinLockRelease(&pp_iu->mutex);
	LWLockRelease(pp_iu->lock);

	PG_RETURN_TIMESTAMPTZ(now);
}

/*---- Saving across restarts ----*/

/* pgplumb.save belongs to the statements collector; read it by name */
static bool
pp_iu_save_enabled(void)
{
	const char *save = GetConfigOption("pgplumb.save", true, false);

	return save == NULL || strcmp(save, "on") == 0;
}

/*
 * Postmaster exit: after a clean shutdown and with pgplumb.save on, write
 * the global state, every statement entry and the used-index set to the
 * dump file (through a temporary file renamed into place, so a crash never
 * leaves half a file).  Failures are logged; nothing else depends on them.
 */
static void
pp_iu_shmem_shutdown(int code, Datum arg)
{
	FILE	   *file;
	PPIUFileHeader hdr;
	HASH_SEQ_STATUS hs;
	PPIUEntry  *entry;
	PPIURelEntry *rel;

	if (code != 0 || pp_iu == NULL || pp_iu_hash == NULL)
		return;
	if (!pp_iu_save_enabled())
	{
		unlink(PP_IU_DUMP_FILE);
		return;
	}

	file = AllocateFile(PP_IU_DUMP_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto fail;

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = PP_IU_FILE_MAGIC;
	hdr.version = PP_IU_FILE_VERSION;
	hdr.pg_version = PG_VERSION_NUM;
	hdr.entry_size = sizeof(PPIUEntry);
	hdr.rel_size = sizeof(PPIURelEntry);
	hdr.nentries = (int32) hash_get_num_entries(pp_iu_hash);
	hdr.nrels = (int32) hash_get_num_entries(pp_iu_rels);
	hdr.evictions = pp_iu->evictions;
	hdr.stats_reset = pp_iu->stats_reset;
	if (fwrite(&hdr, sizeof(hdr), 1, file) != 1)
		goto fail_close;

	hash_seq_init(&hs, pp_iu_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		if (fwrite(entry, sizeof(PPIUEntry), 1, file) != 1)
		{
			hash_seq_term(&hs);
			goto fail_close;
		}
	}
	hash_seq_init(&hs, pp_iu_rels);
	while ((rel = hash_seq_search(&hs)) != NULL)
	{
		if (fwrite(rel, sizeof(PPIURelEntry), 1, file) != 1)
		{
			hash_seq_term(&hs);
			goto fail_close;
		}
	}

	if (FreeFile(file) != 0)
	{
		file = NULL;
		goto fail;
	}
	(void) durable_rename(PP_IU_DUMP_FILE ".tmp", PP_IU_DUMP_FILE, LOG);
	return;

fail_close:
	FreeFile(file);
fail:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", PP_IU_DUMP_FILE ".tmp")));
	unlink(PP_IU_DUMP_FILE ".tmp");
}

/*
 * Postmaster start: load the dump file, if any, then remove it (a crash
 * must not bring back stale figures).  A file from another build or
 * version is ignored with a LOG message.  Entries beyond
 * pgplumb.max_index_entries are dropped.
 */
static void
pp_iu_load(void)
{
	FILE	   *file;
	PPIUFileHeader hdr;

	file = AllocateFile(PP_IU_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", PP_IU_DUMP_FILE)));
		return;
	}

	if (!pp_iu_save_enabled())
		goto done;

	if (fread(&hdr, sizeof(hdr), 1, file) != 1)
		goto fail;
	if (hdr.magic != PP_IU_FILE_MAGIC || hdr.version != PP_IU_FILE_VERSION ||
		hdr.pg_version != PG_VERSION_NUM ||
		hdr.entry_size != sizeof(PPIUEntry) ||
		hdr.rel_size != sizeof(PPIURelEntry))
	{
		ereport(LOG,
				(errmsg("ignoring file \"%s\" written by another version of pgplumb",
						PP_IU_DUMP_FILE)));
		goto done;
	}

	for (int i = 0; i < hdr.nentries; i++)
	{
		PPIUEntry	in;
		PPIUEntry  *entry;
		bool		found;

		if (fread(&in, sizeof(in), 1, file) != 1)
			goto fail;
		if (hash_get_num_entries(pp_iu_hash) >= pp_iu_max)
			continue;
		entry = hash_search(pp_iu_hash, &in.key, HASH_ENTER, &found);
		memcpy(entry, &in, sizeof(in));
		pg_atomic_init_u64(&entry->incarnation, ++pp_iu->incarnations);
	}
	for (int i = 0; i < hdr.nrels; i++)
	{
		PPIURelEntry in;
		PPIURelEntry *rel;
		bool		found;

		if (fread(&in, sizeof(in), 1, file) != 1)
			goto fail;
		if (hash_get_num_entries(pp_iu_rels) >= pp_iu_max)
			continue;
		rel = hash_search(pp_iu_rels, &in.key, HASH_ENTER, &found);
		rel->first_used = in.first_used;
	}
	pp_iu->evictions = hdr.evictions;
	pp_iu->stats_reset = hdr.stats_reset;
	goto done;

fail:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not read file \"%s\": %m", PP_IU_DUMP_FILE)));
done:
	FreeFile(file);
	unlink(PP_IU_DUMP_FILE);
}
