/*-------------------------------------------------------------------------
 *
 * statements.c
 *		The statements collector: per-statement timing behind the
 *		pgplumb.statements view.
 *
 * One entry per (userid, dbid, queryid, toplevel), where queryid is
 * PostgreSQL's own query id, so it matches pg_stat_statements.  An entry
 * holds the pg_stat_statements 1.10 counters, a log-linear histogram of
 * execution times (common/histogram.h) from which p50/p95/p99/p99.9 are
 * read, counts of errors (per SQLSTATE), cancels and statement timeouts,
 * first/last seen times, and the normalized query text (constants replaced
 * by $n, cut at track_activity_query_size bytes).
 *
 * Storage: a shared hash table (dynahash) of fixed-size entries, with the
 * text and the histogram inside the entry, so shared memory is sized once at
 * start (pgplumb.max entries) and no text file is needed.  Beside it, an
 * array of slots (one per possible entry) drives eviction and a stack of
 * free slot numbers.
 *
 * Eviction is a clock sweep, not a sort.  Each slot has a usage count (1
 * when its entry is created, +1 per execution, at most PP_USAGE_MAX), kept
 * in a compact array beside the slots so that a sweep reads 4 bytes per
 * slot.  When an entry must be created and no slot is free, the clock hand
 * walks the slots: a non-zero count u loses u/16 + 1 and the entry is passed
 * over, an entry at zero is evicted, until a batch of PP_EVICT_BATCH entries
 * is freed.  A statement run once or twice is evicted after two or three
 * turns of the hand; one run thousands of times needs 70 to 140 turns without
 * a single execution before it can go (with halving it was 16, which a
 * backend kept off the CPU for a moment on a loaded machine while another
 * created thousands of distinct statements could miss: its whole history
 * went), and one that runs at least once per turn never goes.  Every step
 * is O(1), and a sweep is bounded: after PP_SWEEP_GENTLE_TURNS turns that
 * have not freed a batch (every entry is in use), counts are halved once a
 * whole turn has brought none to zero, so a sweep never goes round more
 * than PP_SWEEP_GENTLE_TURNS + PP_USAGE_BITS + 2 times.
 *
 * Locking rules:
 * - pp_stmt->lock (one LWLock) protects the hash table, the slots, the free
 *   stack and the clock hand.
 * - Each slot has a spinlock and an incarnation number of its own
 *   (PPStmtSlotLock, in an array that is never freed or moved).  The slot's
 *   spinlock protects the counters of the entry in that slot, its usage
 *   count and the incarnation.  An entry gets a new, never reused
 *   incarnation when it is created; removing it sets the incarnation to 0
 *   under the slot's spinlock before the hash table entry goes.
 * - Hot path: each backend keeps a small cache from key to (slot,
 *   incarnation).  Under the slot's spinlock, an unchanged incarnation
 *   proves that the entry cached is still the one in the slot (and cannot
 *   go away while the spinlock is held), so the counters are updated with
 *   that one spinlock and no LWLock and no hash lookup.  Any other
 *   incarnation means the entry was removed: the backend falls back to the
 *   lookup below and caches the answer again.
 * - Otherwise, looking up an entry and updating its counters needs the lock
 *   in SHARED mode plus the slot's spinlock around the update.
 * - Creating, evicting or removing entries needs the lock in EXCLUSIVE mode.
 *   Normalizing a query text is done before the exclusive lock is taken.
 *   Eviction tests and clears the usage count and the incarnation under the
 *   slot's spinlock in one step, so an execution counted through the cache
 *   either lands before (and keeps the entry) or finds it gone.
 * - Readers (the view and the other SQL functions) hold the lock SHARED and
 *   copy each entry under its slot's spinlock.
 * - pp_stmt->mutex (spinlock) protects the global statistics (evictions,
 *   stats_reset); it may be taken with or without the LWLock.
 * - Nothing that can throw an error runs while the LWLock or a spinlock is
 *   held, and the error callback does nothing if this backend already holds
 *   the LWLock.
 * - pp_stmt->generation (an atomic) changes whenever an entry is removed
 *   (eviction, reset), under the exclusive lock.  Each backend remembers a
 *   few keys it has seen in the table (pp_stmt_seen), valid while the
 *   generation is unchanged, so that parse analysis of a statement already
 *   in the table takes no lock at all.  A stale answer only means an entry
 *   evicted just now is re-created at execution with its text as sent
 *   rather than normalized.
 *
 * Shards (pgplumb.shard_counters, off by default): with it on, the hot path
 * above does not write the shared entry.  Each backend has
 * PP_SHARDS_PER_BACKEND shards in shared memory (PPStmtShard, each on cache
 * lines of its own, indexed by backend id), and counts an execution into
 * the shard it has taken for the cached entry, with no lock: only it writes
 * its shards.  The entry is still checked first: its incarnation is read
 * without the spinlock, and a removed entry sends the call to the locked
 * path, which looks the key up again.  Planning, errors and calls counted
 * through the lookup take the locked path as before.
 * - A shard is folded into its entry (under the entry's slot spinlock; its
 *   calls are added to the usage count) every PP_SHARD_FOLD_CALLS calls,
 *   when a call comes PP_SHARD_FOLD_USEC after its first unfolded one,
 *   when the backend takes the shard for another entry (least recently
 *   used first) and at backend exit.  A shard of an entry that is gone
 *   (evicted, reset) is emptied, not folded.
 * - The owner bumps the shard's changecount before and after each change
 *   (odd meanwhile).  Readers (the view, statement_histogram) hold the
 *   entry's slot spinlock, so no shard is folded meanwhile, and add the
 *   copy of each shard of the same slot and incarnation, taken between two
 *   equal even changecounts.  Calls are thus in the entry or in one shard,
 *   never in both and never in neither: calls and rows stay exact.  Which
 *   shards serve which slot is read once per call of the reader (a hint;
 *   a shard taken for an entry after that holds only calls made since).
 * - Merging uses the pairwise mean and variance of Chan et al. for
 *   mean/stddev, min of mins and max of maxes, sums for the rest, the
 *   shard's bucket range for the histogram.
 * - Eviction keeps entries a shard holds calls of from the last
 *   2 * PP_SHARD_FOLD_USEC (usage counts of a running statement grow only
 *   when its shard is folded).  A shard that starts counting into an entry
 *   at the moment it is evicted may lose those first calls.
 * - The postmaster saves at shutdown after every backend has exited, i.e.
 *   after each folded its shards.
 *
 * Persistence: with pgplumb.save on, the postmaster writes every entry to
 * pg_stat/pgplumb_statements.stat at a clean shutdown and reads the file
 * back (then removes it) when shared memory is created again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "jit/jit.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "histogram.h"
#include "statements.h"

/*---- Constants ----*/

/* File the statistics are saved to at shutdown */
#define PP_STMT_DUMP_FILE	PGSTAT_STAT_PERMANENT_DIRECTORY "/pgplumb_statements.stat"

/* Magic number and layout version of that file */
#define PP_STMT_FILE_HEADER	0x70707374	/* "ppst" */
#define PP_STMT_FILE_VERSION	4

/* Clock sweep: largest usage count (2^PP_USAGE_BITS - 1), entries freed
 * per sweep */
#define PP_USAGE_BITS		16
#define PP_USAGE_MAX		((1U << PP_USAGE_BITS) - 1)
#define PP_EVICT_BATCH(max)	Max(1, (max) / 64)

/* Keys of entries known to exist remembered per backend (a power of 2) */
#define PP_SEEN_SIZE		64

/* Entries cached per backend for the hot path (a power of 2) */
#define PP_STMT_CACHE_SIZE	256

/* Distinct SQLSTATEs counted per entry; others are counted together */
#define PP_ERRCODE_SLOTS	8

/* Untranslated message of a statement timeout (see ProcessInterrupts) */
#define PP_STATEMENT_TIMEOUT_MSG "canceling statement due to statement timeout"

/*
 * Per-backend shards (pgplumb.shard_counters): shards per backend, and when
 * a shard is folded into its entry: after this many calls, or when a call
 * comes this long (microseconds) after the first call not folded yet.
 */
#define PP_SHARDS_PER_BACKEND	8
#define PP_SHARD_FOLD_CALLS		256
#define PP_SHARD_FOLD_USEC		1000000

/* This backend's index among MaxBackends (out of range: not a backend) */
#if PG_VERSION_NUM >= 170000
#define PP_MY_BACKEND_INDEX		((int) MyProcNumber)
#else
#define PP_MY_BACKEND_INDEX		(MyBackendId - 1)
#endif

/* Number of output columns of pgplumb._statements() */
#define PP_STATEMENTS_COLS	52

/*---- Types ----*/

/* What a call of pp_stmt_store counts */
typedef enum PPStmtKind
{
	PP_KIND_PLAN = 0,			/* a planner call */
	PP_KIND_EXEC = 1,			/* an execution (or a utility statement) */
	PP_KIND_NONE = 2			/* only make sure the entry exists, or an
								 * error */
} PPStmtKind;

/* Hash key; HASH_BLOBS hashes the padding too, so always zero it first */
typedef struct PPStmtKey
{
	Oid			userid;
	Oid			dbid;
	uint64		queryid;
	bool		toplevel;
} PPStmtKey;

/* Count of errors of one SQLSTATE */
typedef struct PPErrCount
{
	int			sqlerrcode;		/* 0 = unused slot */
	int64		count;
} PPErrCount;

/*
 * The counters of an entry.  Arrays of two are indexed by PP_KIND_PLAN and
 * PP_KIND_EXEC.  Times are in milliseconds.
 */
typedef struct PPStmtTimes
{
	int64		calls;
	double		total_time;
	double		min_time;
	double		max_time;
	double		mean_time;
	double		sum_var_time;	/* for Welford's variance */
} PPStmtTimes;

/*
 * The counters of an entry.  Every backend that runs the statement writes
 * them, so each cache line written moves between CPUs when two backends run
 * the same statement: what an execution always changes comes first and
 * together (t[PP_KIND_EXEC], rows, shared_blks_hit, last_seen: 72 bytes);
 * the other counters are written only when what they add is not zero.
 */
typedef struct PPStmtCounters
{
	PPStmtTimes t[2];			/* by PPStmtKind: planning, execution */
	int64		rows;
	int64		shared_blks_hit;
	TimestampTz last_seen;
	/* the rest is written only when it changes */
	int64		shared_blks_read;
	int64		shared_blks_dirtied;
	int64		shared_blks_written;
	int64		wal_records;
	int64		wal_fpi;
	uint64		wal_bytes;
	int64		local_blks_hit;
	int64		local_blks_read;
	int64		local_blks_dirtied;
	int64		local_blks_written;
	int64		temp_blks_read;
	int64		temp_blks_written;
	double		blk_read_time;
	double		blk_write_time;
	double		temp_blk_read_time;
	double		temp_blk_write_time;
	int64		jit_functions;
	double		jit_generation_time;
	int64		jit_inlining_count;
	double		jit_inlining_time;
	int64		jit_optimization_count;
	double		jit_optimization_time;
	int64		jit_emission_count;
	double		jit_emission_time;
	int64		errors;			/* all errors, cancels and timeouts included */
	int64		cancels;		/* query_canceled other than statement_timeout */
	int64		timeouts;		/* statement_timeout */
	PPErrCount	errcodes[PP_ERRCODE_SLOTS];
	int64		other_errcodes; /* errors whose SQLSTATE found no slot */
	TimestampTz first_seen;
} PPStmtCounters;

/*
 * A hash table entry.  The key must come first.  counters and hist are
 * protected by the slot's spinlock (pp_stmt_locks[slot].mutex); key, slot,
 * encoding and query are fixed while the entry exists.  The entry size is offsetof(PPStmtEntry, query) plus the
 * text size, decided at start.
 */
typedef struct PPStmtEntry
{
	PPStmtKey	key;
	int			slot;			/* index in pp_stmt_slots */
	int			encoding;		/* encoding of query */
	int			query_len;		/* bytes in query, without the NUL */
	PPStmtCounters counters;
	uint32		hist[PP_HIST_NBUCKETS]; /* execution times */
	char		query[FLEXIBLE_ARRAY_MEMBER];	/* NUL-terminated */
} PPStmtEntry;

/*
 * Per slot: the spinlock protecting the counters of the entry in the slot,
 * and the incarnation of that entry (0: no entry).  Padded to a cache line,
 * so that backends updating different statements do not share one.
 */
typedef union PPStmtSlotLock
{
	struct
	{
		slock_t		mutex;
		uint64		incarnation;
	}			s;
	char		pad[64];
} PPStmtSlotLock;

/* One backend-local cache line: a key and where its entry was */
typedef struct PPStmtCached
{
	PPStmtKey	key;
	int			slot;
	int			shard;			/* 1 + this backend's shard counting into the
								 * entry, 0: none */
	uint64		incarnation;	/* 0: unused */
} PPStmtCached;

/*
 * A per-backend shard (see "Shards" in the locking rules): executions of
 * one entry counted by one backend and not folded into the entry yet.  Only
 * the owning backend writes it; changecount is odd while it does, so that a
 * reader can take a consistent copy.  Each shard starts on a cache line of
 * its own (PP_SHARD_STRIDE).
 */
typedef struct PPStmtShard
{
	uint32		changecount;
	int			slot;			/* the entry's slot */
	uint64		incarnation;	/* the entry's incarnation; 0: unused */
	int			hist_lo;		/* buckets hist_lo..hist_hi may be non-zero */
	int			hist_hi;
	TimestampTz since;			/* start of the first call not folded */
	PPStmtCounters counters;	/* executions only: no errors, no planning */
	uint32		hist[PP_HIST_NBUCKETS];
} PPStmtShard;

#define PP_SHARD_STRIDE		CACHELINEALIGN(sizeof(PPStmtShard))

/* Global shared state */
typedef struct PPStmtShared
{
	LWLock	   *lock;			/* see locking rules */
	slock_t		mutex;			/* protects the statistics below */
	int64		evictions;		/* entries evicted */
	int64		eviction_runs;	/* clock sweeps run */
	TimestampTz stats_reset;	/* last full reset */
	pg_atomic_uint64 generation;	/* +1 whenever entries are removed */
	uint64		incarnations;	/* last incarnation handed out; under the lock
								 * exclusive */
	int			hand;			/* clock hand, a slot number */
	int			nfree;			/* free slot numbers in free_slots */
	int			free_slots[FLEXIBLE_ARRAY_MEMBER];
} PPStmtShared;

/* Header of the dump file */
typedef struct PPStmtFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		pg_version;
	uint32		entry_size;
	uint32		nbuckets;
	int32		nentries;
	int64		evictions;
	int64		eviction_runs;
	TimestampTz stats_reset;
} PPStmtFileHeader;

/*---- Local variables ----*/

static PPStmtShared *pp_stmt = NULL;
static PPStmtEntry **pp_stmt_slots = NULL;	/* entry in each slot, or NULL */
static uint32 *pp_stmt_usage = NULL;	/* usage count of each slot; under the
										 * slot's spinlock */
static PPStmtSlotLock *pp_stmt_locks = NULL;	/* one per slot */
static HTAB *pp_stmt_hash = NULL;

/* This backend's cache of entries (see the locking rules) */
static PPStmtCached pp_stmt_cache[PP_STMT_CACHE_SIZE];

/*
 * Shards: every backend's, in shared memory (NULL when pgplumb.shard_counters
 * is off); the index of this backend's first (-1 until first used, or when
 * it has none); for each of its own, 1 + the cache line that counts into it (0: none) and
 * when it was last used, to reuse the least recently used.  pp_stmt_pinned:
 * the eviction's scratch array (one flag per slot, in shared memory after
 * the shards; used under the lock exclusive).
 */
static char *pp_stmt_shards = NULL;
static int	pp_stmt_nshards = 0;
static int	pp_my_shard_base = -1;	/* first shard of this backend's */
static bool pp_my_shards_tried = false;
static int	pp_my_shard_cache[PP_SHARDS_PER_BACKEND];
static uint64 pp_my_shard_used[PP_SHARDS_PER_BACKEND];
static uint64 pp_my_shard_tick = 0;
static bool *pp_stmt_pinned = NULL;

static inline PPStmtShard *
pp_stmt_shard(int i)
{
	return (PPStmtShard *) (pp_stmt_shards + (Size) i * PP_SHARD_STRIDE);
}

static inline PPStmtShard *
pp_my_shard(int k)
{
	return pp_stmt_shard(pp_my_shard_base + k);
}

/* A cheap hash of a key, for the backend-local tables */
static inline uint32
pp_stmt_hash_of(uint64 queryid, Oid userid, bool toplevel)
{
	return (uint32) (queryid ^ (queryid >> 32) ^ userid ^ toplevel);
}

static inline uint32
pp_stmt_key_hash(const PPStmtKey *key)
{
	return pp_stmt_hash_of(key->queryid, key->userid, key->toplevel);
}

/* Keys this backend found in the table, valid for pp_stmt_seen_generation */
static PPStmtKey pp_stmt_seen[PP_SEEN_SIZE];
static uint64 pp_stmt_seen_generation = 0;

/*---- GUC variables ----*/

static int	pp_stmt_max = 5000;
static bool pp_stmt_track_utility = true;
static bool pp_stmt_track_planning = false;
static bool pp_stmt_save = true;
static bool pp_stmt_shard_counters = false;

/*---- Function declarations ----*/

PG_FUNCTION_INFO_V1(pgplumb_statements);
PG_FUNCTION_INFO_V1(pgplumb_statement_text);
PG_FUNCTION_INFO_V1(pgplumb_statement_histogram);
PG_FUNCTION_INFO_V1(pgplumb_statement_errors);
PG_FUNCTION_INFO_V1(pgplumb_reset);
PG_FUNCTION_INFO_V1(pgplumb_statements_info);

static void pp_stmt_define_settings(void);
static Size pp_stmt_shmem_size(void);
static void pp_stmt_shmem_request(void);
static void pp_stmt_shmem_startup(void);
static void pp_stmt_post_parse_analyze(ParseState *pstate, Query *query,
									   JumbleState *jstate);
static void pp_stmt_executor_end(QueryDesc *queryDesc);
static bool pp_stmt_planner_wanted(Query *parse);
static void pp_stmt_planner_done(Query *parse, const char *query_string,
								 const PPUsage *usage);
static bool pp_stmt_utility_wanted(PlannedStmt *pstmt, uint64 queryid);
static void pp_stmt_utility_done(PlannedStmt *pstmt, const char *query_string,
								 uint64 queryid, const PPUsage *usage);
static void pp_stmt_statement_error(PPErrorSite site,
									const PPStatementRef *stmt,
									const ErrorData *edata);

static Size pp_stmt_entry_size(void);
static Size pp_stmt_shards_size(void);
static void pp_stmt_store(uint64 queryid, bool toplevel,
						  const char *query_string, int stmt_location,
						  int stmt_len, PPStmtKind kind, double time_ms,
						  uint64 rows, const BufferUsage *bufusage,
						  const WalUsage *walusage,
						  const JitInstrumentation *jitusage,
						  JumbleState *jstate, const ErrorData *edata);
static void pp_stmt_count(PPStmtEntry *entry, PPStmtKind kind, double time_ms,
						  uint64 rows, const BufferUsage *bufusage,
						  const WalUsage *walusage,
						  const JitInstrumentation *jitusage,
						  const ErrorData *edata, PPStmtCached *cached);
static inline bool pp_stmt_count_cached(uint64 queryid, bool toplevel,
										PPStmtKind kind, double time_ms,
										uint64 rows,
										const BufferUsage *bufusage,
										const WalUsage *walusage,
										const JitInstrumentation *jitusage,
										const ErrorData *edata);
static pg_attribute_always_inline void
			pp_stmt_count_locked(PPStmtEntry *entry, PPStmtKind kind,
								 double time_ms, uint64 rows,
								 const BufferUsage *bufusage,
								 const WalUsage *walusage,
								 const JitInstrumentation *jitusage,
								 const ErrorData *edata);
static pg_attribute_always_inline void
			pp_stmt_add(PPStmtCounters *c, uint32 *hist, int *range,
						PPStmtKind kind, double time_ms, uint64 rows,
						const BufferUsage *bufusage,
						const WalUsage *walusage,
						const JitInstrumentation *jitusage,
						const ErrorData *edata);
static bool pp_stmt_count_shard(PPStmtCached *cached, double time_ms,
								uint64 rows, const BufferUsage *bufusage,
								const WalUsage *walusage,
								const JitInstrumentation *jitusage);
static void pp_stmt_shard_fold(PPStmtShard *sh);
static void pp_stmt_shards_exit(int code, Datum arg);
static void pp_stmt_merge(PPStmtCounters *dst, uint32 *dhist,
						  const PPStmtCounters *src, const uint32 *shist,
						  int lo, int hi);
static int *pp_stmt_shard_map(void);
static void pp_stmt_shard_collect(const int *map, const PPStmtEntry *entry,
								  PPStmtCounters *c, uint32 *hist,
								  PPStmtShard *copy);
static PPStmtEntry *pp_stmt_entry_alloc(const PPStmtKey *key,
										const char *query, int query_len,
										int encoding);
static void pp_stmt_entry_remove(PPStmtEntry *entry);
static void pp_stmt_evict(void);
static void pp_stmt_entry_reset(Oid userid, Oid dbid, uint64 queryid);
static PPStmtEntry *pp_stmt_find_for_text(uint64 queryid);
static bool pp_stmt_seen_lookup(const PPStmtKey *key);
static void pp_stmt_seen_remember(const PPStmtKey *key);
static void pp_stmt_shmem_shutdown(int code, Datum arg);
static void pp_stmt_load(void);

/* The collector table read by pgplumb.c */
const PPCollector pp_statements_collector = {
	.name = "statements",
	.define_settings = pp_stmt_define_settings,
	.shmem_size = pp_stmt_shmem_size,
	.shmem_request = pp_stmt_shmem_request,
	.shmem_startup = pp_stmt_shmem_startup,
	.post_parse_analyze = pp_stmt_post_parse_analyze,
	.executor_end = pp_stmt_executor_end,
	.planner_wanted = pp_stmt_planner_wanted,
	.planner_done = pp_stmt_planner_done,
	.utility_wanted = pp_stmt_utility_wanted,
	.utility_done = pp_stmt_utility_done,
	.statement_error = pp_stmt_statement_error,
};

/*---- Collector callbacks ----*/

static void
pp_stmt_define_settings(void)
{
	DefineCustomIntVariable("pgplumb.max",
							"Sets the maximum number of statements tracked by pgplumb.",
							"When full, the least used entries are evicted.",
							&pp_stmt_max,
							5000,
							100,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgplumb.track_utility",
							 "Selects whether utility commands are tracked by pgplumb.",
							 NULL,
							 &pp_stmt_track_utility,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgplumb.track_planning",
							 "Selects whether planning duration is tracked by pgplumb.",
							 NULL,
							 &pp_stmt_track_planning,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgplumb.shard_counters",
							 "Counts executions into per-backend shards folded into the shared entries now and then.",
							 "Experimental: spares the shared entries' cache lines on every execution.",
							 &pp_stmt_shard_counters,
							 false,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("pgplumb.save",
							 "Save pgplumb statement statistics across server shutdowns.",
							 NULL,
							 &pp_stmt_save,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

/* Bytes of the shards (PP_SHARDS_PER_BACKEND per backend, aligned) and of
 * pp_stmt_pinned */
static Size
pp_stmt_shards_size(void)
{
	return add_size(add_size(PG_CACHE_LINE_SIZE,
							 mul_size(mul_size(MaxBackends, PP_SHARDS_PER_BACKEND),
									  PP_SHARD_STRIDE)),
					mul_size(pp_stmt_max, sizeof(bool)));
}

/* Bytes of one hash table entry, text included */
static Size
pp_stmt_entry_size(void)
{
	return MAXALIGN(offsetof(PPStmtEntry, query) +
					pgstat_track_activity_query_size);
}

static Size
pp_stmt_shmem_size(void)
{
	Size		size;

	size = MAXALIGN(add_size(offsetof(PPStmtShared, free_slots),
							 mul_size(pp_stmt_max, sizeof(int))));
	size = add_size(size, MAXALIGN(mul_size(pp_stmt_max, sizeof(PPStmtEntry *))));
	size = add_size(size, MAXALIGN(mul_size(pp_stmt_max, sizeof(uint32))));
	size = add_size(size, mul_size(pp_stmt_max + 1, sizeof(PPStmtSlotLock)));
	size = add_size(size, hash_estimate_size(pp_stmt_max, pp_stmt_entry_size()));
	if (pp_stmt_shard_counters)
		size = add_size(size, pp_stmt_shards_size());
	return size;
}

static void
pp_stmt_shmem_request(void)
{
	RequestNamedLWLockTranche("pgplumb_statements", 1);
}

/*
 * Create or attach to the shared state (AddinShmemInitLock is held).  In
 * the postmaster, also arrange to save the statistics at shutdown and load
 * the saved ones.
 */
static void
pp_stmt_shmem_startup(void)
{
	bool		found;
	bool		found_slots;
	HASHCTL		info;

	pp_stmt = ShmemInitStruct("pgplumb statements",
							  offsetof(PPStmtShared, free_slots) +
							  pp_stmt_max * sizeof(int),
							  &found);
	pp_stmt_slots = ShmemInitStruct("pgplumb statement slots",
									pp_stmt_max * sizeof(PPStmtEntry *),
									&found_slots);
	pp_stmt_usage = ShmemInitStruct("pgplumb statement usage",
									pp_stmt_max * sizeof(uint32),
									&found_slots);
	/* one spare element, to align the array on a cache line */
	pp_stmt_locks = ShmemInitStruct("pgplumb statement slot locks",
									(pp_stmt_max + 1) * sizeof(PPStmtSlotLock),
									&found_slots);
	pp_stmt_locks = (PPStmtSlotLock *) TYPEALIGN(sizeof(PPStmtSlotLock),
												 pp_stmt_locks);
	if (!found)
	{
		pp_stmt->lock = &(GetNamedLWLockTranche("pgplumb_statements"))->lock;
		SpinLockInit(&pp_stmt->mutex);
		pp_stmt->evictions = 0;
		pp_stmt->eviction_runs = 0;
		pp_stmt->stats_reset = GetCurrentTimestamp();
		/* backends start with generation 0: their empty memory is stale */
		pg_atomic_init_u64(&pp_stmt->generation, 1);
		pp_stmt->hand = 0;
		/* slot numbers are handed out from the top of the stack: 0 first */
		pp_stmt->nfree = pp_stmt_max;
		for (int i = 0; i < pp_stmt_max; i++)
			pp_stmt->free_slots[i] = pp_stmt_max - 1 - i;
		memset(pp_stmt_slots, 0, pp_stmt_max * sizeof(PPStmtEntry *));
		memset(pp_stmt_usage, 0, pp_stmt_max * sizeof(uint32));
		pp_stmt->incarnations = 0;
		for (int i = 0; i < pp_stmt_max; i++)
		{
			SpinLockInit(&pp_stmt_locks[i].s.mutex);
			pp_stmt_locks[i].s.incarnation = 0;
		}
	}

	if (pp_stmt_shard_counters)
	{
		char	   *raw;

		raw = ShmemInitStruct("pgplumb statement shards",
							  pp_stmt_shards_size(), &found_slots);
		pp_stmt_nshards = MaxBackends * PP_SHARDS_PER_BACKEND;
		pp_stmt_shards = (char *) TYPEALIGN(PG_CACHE_LINE_SIZE, raw);
		pp_stmt_pinned = (bool *) (pp_stmt_shards +
								   (Size) pp_stmt_nshards * PP_SHARD_STRIDE);
		if (!found_slots)
			memset(raw, 0, pp_stmt_shards_size());	/* every shard unused */
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PPStmtKey);
	info.entrysize = pp_stmt_entry_size();
	pp_stmt_hash = ShmemInitHash("pgplumb statements hash",
								 pp_stmt_max, pp_stmt_max,
								 &info, HASH_ELEM | HASH_BLOBS);

	if (found)
		return;

	if (!IsUnderPostmaster)
		on_shmem_exit(pp_stmt_shmem_shutdown, (Datum) 0);

	pp_stmt_load();
}

/*
 * After parse analysis: create the entry now if the statement has
 * constants, while the jumble that says where they are is at hand, so the
 * stored text is normalized.  Utility statements have no constants to hide.
 */
static void
pp_stmt_post_parse_analyze(ParseState *pstate, Query *query,
						   JumbleState *jstate)
{
	if (!pp_stmt || query->utilityStmt || !jstate ||
		jstate->clocations_count == 0 || !pstate->p_sourcetext)
		return;

	pp_stmt_store(query->queryId, pp_nesting_level == 0,
				  pstate->p_sourcetext, query->stmt_location, query->stmt_len,
				  PP_KIND_NONE, 0, 0, NULL, NULL, NULL, jstate, NULL);
}

static void
pp_stmt_executor_end(QueryDesc *queryDesc)
{
	EState	   *estate = queryDesc->estate;
	double		time_ms;
	const BufferUsage *bufusage;
	const WalUsage *walusage;

	if (!pp_stmt)
		return;
	if (pp_exec_usage)
	{
		time_ms = INSTR_TIME_GET_MILLISEC(pp_exec_usage->elapsed);
		bufusage = &pp_exec_usage->bufusage;
		walusage = &pp_exec_usage->walusage;
	}
	else if (queryDesc->totaltime)
	{
		/* finish the totals; doing it twice (other hooks) is harmless */
		InstrEndLoop(queryDesc->totaltime);
		time_ms = queryDesc->totaltime->total * 1000.0;
		bufusage = &queryDesc->totaltime->bufusage;
		walusage = &queryDesc->totaltime->walusage;
	}
	else
		return;

	if (pp_stmt_count_cached(queryDesc->plannedstmt->queryId,
							 pp_nesting_level == 0, PP_KIND_EXEC, time_ms,
							 PP_ES_ROWS(estate), bufusage, walusage,
							 estate->es_jit ? &estate->es_jit->instr : NULL,
							 NULL))
		return;
	pp_stmt_store(queryDesc->plannedstmt->queryId, pp_nesting_level == 0,
				  queryDesc->sourceText,
				  queryDesc->plannedstmt->stmt_location,
				  queryDesc->plannedstmt->stmt_len,
				  PP_KIND_EXEC, time_ms, PP_ES_ROWS(estate),
				  bufusage, walusage,
				  estate->es_jit ? &estate->es_jit->instr : NULL,
				  NULL, NULL);
}

static bool
pp_stmt_planner_wanted(Query *parse)
{
	return pp_stmt != NULL && pp_stmt_track_planning;
}

static void
pp_stmt_planner_done(Query *parse, const char *query_string,
					 const PPUsage *usage)
{
	if (!pp_stmt_track_planning)
		return;
	pp_stmt_store(parse->queryId, pp_nesting_level == 0, query_string,
				  parse->stmt_location, parse->stmt_len, PP_KIND_PLAN,
				  usage->elapsed_ms, 0, &usage->bufusage, &usage->walusage,
				  NULL, NULL, NULL);
}

static bool
pp_stmt_utility_wanted(PlannedStmt *pstmt, uint64 queryid)
{
	return pp_stmt != NULL && pp_stmt_track_utility;
}

static void
pp_stmt_utility_done(PlannedStmt *pstmt, const char *query_string,
					 uint64 queryid, const PPUsage *usage)
{
	if (!pp_stmt_track_utility)
		return;
	if (pp_stmt_count_cached(queryid, pp_nesting_level == 0, PP_KIND_EXEC,
							 usage->elapsed_ms, usage->rows, &usage->bufusage,
							 &usage->walusage, NULL, NULL))
		return;
	pp_stmt_store(queryid, pp_nesting_level == 0, query_string,
				  pstmt->stmt_location, pstmt->stmt_len, PP_KIND_EXEC,
				  usage->elapsed_ms, usage->rows, &usage->bufusage,
				  &usage->walusage, NULL, NULL, NULL);
}

/*
 * A tracked statement raised an error: count it for that statement.
 */
static void
pp_stmt_statement_error(PPErrorSite site, const PPStatementRef *stmt,
						const ErrorData *edata)
{
	if (!pp_stmt || LWLockHeldByMe(pp_stmt->lock))
		return;
	if (site == PP_ERROR_IN_UTILITY && !pp_stmt_track_utility)
		return;

	pp_stmt_store(stmt->queryid, stmt->toplevel,
				  stmt->query_string ? stmt->query_string : "",
				  stmt->query_string ? stmt->stmt_location : 0,
				  stmt->query_string ? stmt->stmt_len : 0,
				  PP_KIND_NONE, 0, 0, NULL, NULL, NULL, NULL, edata);
}

/*
 * The hot path (see the locking rules): count an event (an execution, a
 * planning, an error) into the entry this backend has cached for the key,
 * if that entry is still there.  Returns false, having counted nothing,
 * otherwise (and forgets a cached entry that was removed since);
 * pp_stmt_store then looks the entry up.
 */
static inline bool
pp_stmt_count_cached(uint64 queryid, bool toplevel, PPStmtKind kind,
					 double time_ms, uint64 rows,
					 const BufferUsage *bufusage,
					 const WalUsage *walusage,
					 const JitInstrumentation *jitusage,
					 const ErrorData *edata)
{
	Oid			userid = GetUserId();
	PPStmtCached *cached;
	PPStmtSlotLock *sl;
	bool		counted = false;

	/*
	 * The key's fields compared one by one, not a key built on the stack and
	 * memcmp'd: no stack canary to set and check in this function, which runs
	 * for every statement.
	 */
	cached = &pp_stmt_cache[pp_stmt_hash_of(queryid, userid, toplevel) &
							(PP_STMT_CACHE_SIZE - 1)];
	if (cached->incarnation == 0 || queryid == UINT64CONST(0) ||
		cached->key.queryid != queryid || cached->key.userid != userid ||
		cached->key.dbid != MyDatabaseId || cached->key.toplevel != toplevel)
		return false;

	if (pp_stmt_shards != NULL && kind == PP_KIND_EXEC && edata == NULL &&
		pp_stmt_count_shard(cached, time_ms, rows, bufusage, walusage,
							jitusage))
		return true;

	sl = &pp_stmt_locks[cached->slot];
	SpinLockAcquire(&sl->s.mutex);
	if (sl->s.incarnation == cached->incarnation)
	{
		pp_stmt_count_locked(pp_stmt_slots[cached->slot], kind, time_ms,
							 rows, bufusage, walusage, jitusage, edata);
		counted = true;
	}
	SpinLockRelease(&sl->s.mutex);
	if (!counted)
	{
		cached->incarnation = 0;	/* removed since: look it up again */
		cached->shard = 0;
	}
	return counted;
}

/*---- SQL functions ----*/

/*
 * pgplumb._statements(showtext boolean): the rows of pgplumb.statements.
 */
Datum
pgplumb_statements(PG_FUNCTION_ARGS)
{
	bool		showtext = PG_GETARG_BOOL(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			userid = GetUserId();
	bool		is_allowed_role;
	HASH_SEQ_STATUS hash_seq;
	PPStmtEntry *entry;
	PPStmtCounters *c;
	uint32	   *hist;
	int		   *map;
	PPStmtShard *copy;

	pp_require_shmem(pp_stmt != NULL);
	InitMaterializedSRF(fcinfo, 0);

	is_allowed_role = has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);
	c = palloc(sizeof(PPStmtCounters));
	hist = palloc(sizeof(uint32) * PP_HIST_NBUCKETS);
	copy = palloc(sizeof(PPStmtShard));
	map = pp_stmt_shard_map();

	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		Datum		values[PP_STATEMENTS_COLS];
		bool		nulls[PP_STATEMENTS_COLS];
		int			i = 0;
		char		buf[64];
		static const double quantiles[] = {0.50, 0.95, 0.99, 0.999};

		memset(values, 0, sizeof(values));
		memset(nulls, 0, sizeof(nulls));

		SpinLockAcquire(&pp_stmt_locks[entry->slot].s.mutex);
		memcpy(c, &entry->counters, sizeof(PPStmtCounters));
		memcpy(hist, entry->hist, sizeof(uint32) * PP_HIST_NBUCKETS);
		pp_stmt_shard_collect(map, entry, c, hist, copy);
		SpinLockRelease(&pp_stmt_locks[entry->slot].s.mutex);

		values[i++] = ObjectIdGetDatum(entry->key.userid);
		values[i++] = ObjectIdGetDatum(entry->key.dbid);
		values[i++] = BoolGetDatum(entry->key.toplevel);
		if (is_allowed_role || entry->key.userid == userid)
		{
			values[i++] = Int64GetDatumFast((int64) entry->key.queryid);
			if (showtext)
			{
				char	   *text = pg_any_to_server(entry->query,
													entry->query_len,
													entry->encoding);

				values[i++] = CStringGetTextDatum(text);
				if (text !=entry->query)
					pfree(text);
			}
			else
				nulls[i++] = true;
		}
		else
		{
			nulls[i++] = true;
			if (showtext)
				values[i++] = CStringGetTextDatum("<insufficient privilege>");
			else
				nulls[i++] = true;
		}

		/* plans, plan times, calls, execution times */
		for (int kind = PP_KIND_PLAN; kind <= PP_KIND_EXEC; kind++)
		{
			values[i++] = Int64GetDatumFast(c->t[kind].calls);
			values[i++] = Float8GetDatumFast(c->t[kind].total_time);
			values[i++] = Float8GetDatumFast(c->t[kind].min_time);
			values[i++] = Float8GetDatumFast(c->t[kind].max_time);
			values[i++] = Float8GetDatumFast(c->t[kind].mean_time);
			values[i++] = Float8GetDatumFast(c->t[kind].calls > 1 ?
											 sqrt(c->t[kind].sum_var_time / c->t[kind].calls) : 0.0);
		}
		values[i++] = Int64GetDatumFast(c->rows);
		values[i++] = Int64GetDatumFast(c->shared_blks_hit);
		values[i++] = Int64GetDatumFast(c->shared_blks_read);
		values[i++] = Int64GetDatumFast(c->shared_blks_dirtied);
		values[i++] = Int64GetDatumFast(c->shared_blks_written);
		values[i++] = Int64GetDatumFast(c->local_blks_hit);
		values[i++] = Int64GetDatumFast(c->local_blks_read);
		values[i++] = Int64GetDatumFast(c->local_blks_dirtied);
		values[i++] = Int64GetDatumFast(c->local_blks_written);
		values[i++] = Int64GetDatumFast(c->temp_blks_read);
		values[i++] = Int64GetDatumFast(c->temp_blks_written);
		values[i++] = Float8GetDatumFast(c->blk_read_time);
		values[i++] = Float8GetDatumFast(c->blk_write_time);
		values[i++] = Float8GetDatumFast(c->temp_blk_read_time);
		values[i++] = Float8GetDatumFast(c->temp_blk_write_time);
		values[i++] = Int64GetDatumFast(c->wal_records);
		values[i++] = Int64GetDatumFast(c->wal_fpi);
		snprintf(buf, sizeof(buf), UINT64_FORMAT, c->wal_bytes);
		values[i++] = DirectFunctionCall3(numeric_in,
										  CStringGetDatum(buf),
										  ObjectIdGetDatum(InvalidOid),
										  Int32GetDatum(-1));
		values[i++] = Int64GetDatumFast(c->jit_functions);
		values[i++] = Float8GetDatumFast(c->jit_generation_time);
		values[i++] = Int64GetDatumFast(c->jit_inlining_count);
		values[i++] = Float8GetDatumFast(c->jit_inlining_time);
		values[i++] = Int64GetDatumFast(c->jit_optimization_count);
		values[i++] = Float8GetDatumFast(c->jit_optimization_time);
		values[i++] = Int64GetDatumFast(c->jit_emission_count);
		values[i++] = Float8GetDatumFast(c->jit_emission_time);

		/* percentiles of execution time, in milliseconds */
		for (int q = 0; q < lengthof(quantiles); q++)
		{
			double		ns = pp_hist_quantile(hist, quantiles[q],
											  c->t[PP_KIND_EXEC].min_time * 1e6,
											  c->t[PP_KIND_EXEC].max_time * 1e6);

			double		ms = ns / 1e6;

			if (ns < 0 || c->t[PP_KIND_EXEC].calls == 0)
			{
				nulls[i++] = true;
				continue;
			}
			/* clamp again in ms: ms -> ns -> ms may round */
			ms = Max(ms, c->t[PP_KIND_EXEC].min_time);
			ms = Min(ms, c->t[PP_KIND_EXEC].max_time);
			values[i++] = Float8GetDatumFast(ms);
		}

		values[i++] = Int64GetDatumFast(c->errors);
		values[i++] = Int64GetDatumFast(c->cancels);
		values[i++] = Int64GetDatumFast(c->timeouts);
		values[i++] = TimestampTzGetDatum(c->first_seen);
		values[i++] = TimestampTzGetDatum(c->last_seen);

		Assert(i == PP_STATEMENTS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(pp_stmt->lock);

	return (Datum) 0;
}

/*
 * pgplumb.statement_text(queryid bigint): the normalized text of a query id
 * in the current database, NULL if unknown.  The current user's own entry
 * is preferred; another user's text is shown only to roles with the
 * privileges of pg_read_all_stats.
 */
Datum
pgplumb_statement_text(PG_FUNCTION_ARGS)
{
	uint64		queryid = (uint64) PG_GETARG_INT64(0);
	PPStmtEntry *entry;
	char	   *text = NULL;
	bool		hidden = false;
	bool		is_allowed_role;

	pp_require_shmem(pp_stmt != NULL);
	/* catalog lookups before taking the lock */
	is_allowed_role = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	entry = pp_stmt_find_for_text(queryid);
	if (entry)
	{
		if (entry->key.userid != GetUserId() && !is_allowed_role)
			hidden = true;
		else
			text = pnstrdup(entry->query, entry->query_len);
	}
	LWLockRelease(pp_stmt->lock);

	if (hidden)
		PG_RETURN_TEXT_P(cstring_to_text("<insufficient privilege>"));
	if (text == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(text));
}

/*
 * pgplumb.statement_histogram(queryid, userid, dbid): the non-empty
 * execution time buckets of a statement, summed over its entries (0 for
 * userid or dbid means any).
 */
Datum
pgplumb_statement_histogram(PG_FUNCTION_ARGS)
{
	uint64		queryid = (uint64) PG_GETARG_INT64(0);
	Oid			userid = PG_GETARG_OID(1);
	Oid			dbid = PG_GETARG_OID(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64	   *sum;
	uint32	   *hist;
	PPStmtCounters *c;
	int		   *map;
	PPStmtShard *copy;
	HASH_SEQ_STATUS hash_seq;
	PPStmtEntry *entry;

	pp_require_shmem(pp_stmt != NULL);
	InitMaterializedSRF(fcinfo, 0);

	sum = palloc0(sizeof(uint64) * PP_HIST_NBUCKETS);
	hist = palloc(sizeof(uint32) * PP_HIST_NBUCKETS);
	c = palloc0(sizeof(PPStmtCounters));
	copy = palloc(sizeof(PPStmtShard));
	map = pp_stmt_shard_map();
	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (entry->key.queryid != queryid ||
			(userid != InvalidOid && entry->key.userid != userid) ||
			(dbid != InvalidOid && entry->key.dbid != dbid))
			continue;
		SpinLockAcquire(&pp_stmt_locks[entry->slot].s.mutex);
		memcpy(hist, entry->hist, sizeof(uint32) * PP_HIST_NBUCKETS);
		pp_stmt_shard_collect(map, entry, c, hist, copy);
		SpinLockRelease(&pp_stmt_locks[entry->slot].s.mutex);
		for (int b = 0; b < PP_HIST_NBUCKETS; b++)
			sum[b] += hist[b];
	}
	LWLockRelease(pp_stmt->lock);

	for (int b = 0; b < PP_HIST_NBUCKETS; b++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (sum[b] == 0)
			continue;
		values[0] = Int32GetDatum(b);
		values[1] = Float8GetDatum(pp_hist_lower(b) / 1e6);
		values[2] = Float8GetDatum(pp_hist_upper(b) / 1e6);
		values[3] = Int64GetDatum((int64) sum[b]);
		if (b == PP_HIST_OVERFLOW)
			nulls[2] = true;	/* open-ended */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pgplumb.statement_errors(queryid): errors per SQLSTATE of every entry
 * (or of one query id).  sqlstate is NULL for the errors whose SQLSTATE
 * found no free slot in the entry.
 */
Datum
pgplumb_statement_errors(PG_FUNCTION_ARGS)
{
	uint64		queryid = (uint64) PG_GETARG_INT64(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			userid = GetUserId();
	bool		is_allowed_role;
	HASH_SEQ_STATUS hash_seq;
	PPStmtEntry *entry;

	pp_require_shmem(pp_stmt != NULL);
	InitMaterializedSRF(fcinfo, 0);
	is_allowed_role = has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);

	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		PPErrCount	codes[PP_ERRCODE_SLOTS + 1];

		if (queryid != 0 && entry->key.queryid != queryid)
			continue;
		SpinLockAcquire(&pp_stmt_locks[entry->slot].s.mutex);
		memcpy(codes, entry->counters.errcodes, sizeof(entry->counters.errcodes));
		codes[PP_ERRCODE_SLOTS].sqlerrcode = -1;
		codes[PP_ERRCODE_SLOTS].count = entry->counters.other_errcodes;
		SpinLockRelease(&pp_stmt_locks[entry->slot].s.mutex);

		for (int s = 0; s <= PP_ERRCODE_SLOTS; s++)
		{
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			if (codes[s].sqlerrcode == 0 || codes[s].count == 0)
				continue;
			values[0] = ObjectIdGetDatum(entry->key.userid);
			values[1] = ObjectIdGetDatum(entry->key.dbid);
			values[2] = BoolGetDatum(entry->key.toplevel);
			if (is_allowed_role || entry->key.userid == userid)
				values[3] = Int64GetDatum((int64) entry->key.queryid);
			else
				nulls[3] = true;
			if (codes[s].sqlerrcode == -1)
				nulls[4] = true;
			else
				values[4] = CStringGetTextDatum(unpack_sql_state(codes[s].sqlerrcode));
			values[5] = Int64GetDatum(codes[s].count);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	LWLockRelease(pp_stmt->lock);

	return (Datum) 0;
}

/*
 * pgplumb.reset(userid, dbid, queryid): remove the matching entries (0
 * matches anything); all zero resets everything, including pgplumb.info.
 * Returns the time of the reset.  EXECUTE is revoked from PUBLIC in SQL.
 */
Datum
pgplumb_reset(PG_FUNCTION_ARGS)
{
	Oid			userid = PG_GETARG_OID(0);
	Oid			dbid = PG_GETARG_OID(1);
	uint64		queryid = (uint64) PG_GETARG_INT64(2);
	TimestampTz now = GetCurrentTimestamp();

	pp_require_shmem(pp_stmt != NULL);
	pp_stmt_entry_reset(userid, dbid, queryid);

	if (userid == InvalidOid && dbid == InvalidOid && queryid == 0)
	{
		SpinLockAcquire(&pp_stmt->mutex);
		pp_stmt->evictions = 0;
		pp_stmt->eviction_runs = 0;
		pp_stmt->stats_reset = now;
		SpinLockRelease(&pp_stmt->mutex);
	}
	PG_RETURN_TIMESTAMPTZ(now);
}

/*
 * pgplumb._statements_info(): the row of pgplumb.info.
 */
Datum
pgplumb_statements_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int64		entries;

	pp_require_shmem(pp_stmt != NULL);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	entries = hash_get_num_entries(pp_stmt_hash);
	LWLockRelease(pp_stmt->lock);

	values[0] = Int64GetDatum(entries);
	values[1] = Int32GetDatum(pp_stmt_max);
	SpinLockAcquire(&pp_stmt->mutex);
	values[2] = Int64GetDatum(pp_stmt->evictions);
	values[3] = Int64GetDatum(pp_stmt->eviction_runs);
	values[4] = TimestampTzGetDatum(pp_stmt->stats_reset);
	SpinLockRelease(&pp_stmt->mutex);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*---- Internals ----*/

/*
 * Count one event of a statement.  kind PLAN or EXEC adds a call with its
 * time and usage; kind NONE with edata counts an error; kind NONE with
 * jstate only makes sure the entry exists, with a normalized text.
 */
static void
pp_stmt_store(uint64 queryid, bool toplevel, const char *query_string,
			  int stmt_location, int stmt_len, PPStmtKind kind,
			  double time_ms, uint64 rows, const BufferUsage *bufusage,
			  const WalUsage *walusage, const JitInstrumentation *jitusage,
			  JumbleState *jstate, const ErrorData *edata)
{
	PPStmtKey	key;
	PPStmtEntry *entry;
	PPStmtCached *cached;
	const char *query;
	char	   *norm_query = NULL;
	int			query_len;

	if (!pp_stmt || queryid == UINT64CONST(0) || query_string == NULL)
		return;

	memset(&key, 0, sizeof(key));
	key.userid = GetUserId();
	key.dbid = MyDatabaseId;
	key.queryid = queryid;
	key.toplevel = toplevel;

	/* Parse analysis of a statement this backend knows is there: no lock */
	if (kind == PP_KIND_NONE && !edata && pp_stmt_seen_lookup(&key))
		return;

	/* Hot path: an entry this backend has cached, if it is still there */
	if ((kind != PP_KIND_NONE || edata) &&
		pp_stmt_count_cached(queryid, toplevel, kind, time_ms, rows, bufusage,
							 walusage, jitusage, edata))
		return;
	cached = &pp_stmt_cache[pp_stmt_key_hash(&key) & (PP_STMT_CACHE_SIZE - 1)];

	/* The entry exists */
	LWLockAcquire(pp_stmt->lock, LW_SHARED);
	entry = hash_search(pp_stmt_hash, &key, HASH_FIND, NULL);
	if (entry)
	{
		if (kind != PP_KIND_NONE || edata)
			pp_stmt_count(entry, kind, time_ms, rows, bufusage, walusage,
						  jitusage, edata, cached);
		LWLockRelease(pp_stmt->lock);
		pp_stmt_seen_remember(&key);
		return;
	}
	LWLockRelease(pp_stmt->lock);

	/* A new entry: prepare its text without holding the lock */
	query_len = stmt_len;
	query = CleanQuerytext(query_string, &stmt_location, &query_len);
	if (jstate && jstate->clocations_count > 0)
	{
		norm_query = pp_stmt_normalize(jstate, query, stmt_location, &query_len);
		query = norm_query;
	}
	if (query_len >= pgstat_track_activity_query_size)
		query_len = pg_mbcliplen(query, query_len,
								 pgstat_track_activity_query_size - 1);

	LWLockAcquire(pp_stmt->lock, LW_EXCLUSIVE);
	entry = hash_search(pp_stmt_hash, &key, HASH_FIND, NULL);
	if (!entry)
		entry = pp_stmt_entry_alloc(&key, query, query_len,
									GetDatabaseEncoding());
	if (entry && (kind != PP_KIND_NONE || edata))
		pp_stmt_count(entry, kind, time_ms, rows, bufusage, walusage,
					  jitusage, edata, cached);
	LWLockRelease(pp_stmt->lock);
	if (entry)
		pp_stmt_seen_remember(&key);

	if (norm_query)
		pfree(norm_query);
}

/*
 * Add one event to an entry's counters, and remember the entry in the
 * backend's cache line "cached" (the key's line).  Caller holds the lock
 * (shared or exclusive); the slot's spinlock is taken here.
 */
static void
pp_stmt_count(PPStmtEntry *entry, PPStmtKind kind, double time_ms,
			  uint64 rows, const BufferUsage *bufusage,
			  const WalUsage *walusage, const JitInstrumentation *jitusage,
			  const ErrorData *edata, PPStmtCached *cached)
{
	PPStmtSlotLock *sl = &pp_stmt_locks[entry->slot];
	uint64		incarnation;

	SpinLockAcquire(&sl->s.mutex);
	pp_stmt_count_locked(entry, kind, time_ms, rows, bufusage, walusage,
						 jitusage, edata);
	incarnation = sl->s.incarnation;
	SpinLockRelease(&sl->s.mutex);

	cached->key = entry->key;
	cached->slot = entry->slot;
	cached->shard = 0;
	cached->incarnation = incarnation;
}

/*
 * Add one event to an entry's counters.  Caller holds the slot's spinlock
 * and knows the entry is the one in the slot.
 * Inline: it runs for every statement.
 */
static pg_attribute_always_inline void
pp_stmt_count_locked(PPStmtEntry *entry, PPStmtKind kind, double time_ms,
					 uint64 rows, const BufferUsage *bufusage,
					 const WalUsage *walusage,
					 const JitInstrumentation *jitusage,
					 const ErrorData *edata)
{
	PPStmtCounters *c = &entry->counters;
	TimestampTz now = GetCurrentStatementStartTimestamp();

	pp_stmt_add(c, entry->hist, NULL, kind, time_ms, rows, bufusage, walusage,
				jitusage, edata);
	if (c->first_seen == 0)
		c->first_seen = now;
	c->last_seen = now;
	if (pp_stmt_usage[entry->slot] < PP_USAGE_MAX)
		pp_stmt_usage[entry->slot]++;
}

/*
 * Add one event to counters c and histogram hist (an entry's or a shard's).
 * range, if not NULL, is the range of buckets that may be non-zero, widened
 * here to the bucket counted.
 */
static pg_attribute_always_inline void
pp_stmt_add(PPStmtCounters *c, uint32 *hist, int *range, PPStmtKind kind,
			double time_ms, uint64 rows, const BufferUsage *bufusage,
			const WalUsage *walusage, const JitInstrumentation *jitusage,
			const ErrorData *edata)
{
	if (kind == PP_KIND_PLAN || kind == PP_KIND_EXEC)
	{
		int64		n = ++c->t[kind].calls;

		c->t[kind].total_time += time_ms;
		if (n == 1)
		{
			c->t[kind].min_time = time_ms;
			c->t[kind].max_time = time_ms;
			c->t[kind].mean_time = time_ms;
		}
		else
		{
			/* Welford's online mean and variance */
			double		delta = time_ms - c->t[kind].mean_time;

			c->t[kind].mean_time += delta / n;
			c->t[kind].sum_var_time += delta * (time_ms - c->t[kind].mean_time);
			if (time_ms < c->t[kind].min_time)
				c->t[kind].min_time = time_ms;
			if (time_ms > c->t[kind].max_time)
				c->t[kind].max_time = time_ms;
		}

		if (kind == PP_KIND_EXEC)
		{
			int			b = pp_hist_add(hist, (uint64) (time_ms * 1e6));

			c->rows += rows;
			if (range)
			{
				range[0] = Min(range[0], b);
				range[1] = Max(range[1], b);
			}
		}

		c->shared_blks_hit += bufusage->shared_blks_hit;
		/* the rest only when not zero (see PPStmtCounters), a group at once */
		if ((bufusage->shared_blks_read | bufusage->shared_blks_dirtied |
			 bufusage->shared_blks_written) != 0)
		{
			c->shared_blks_read += bufusage->shared_blks_read;
			c->shared_blks_dirtied += bufusage->shared_blks_dirtied;
			c->shared_blks_written += bufusage->shared_blks_written;
		}
		if ((bufusage->local_blks_hit | bufusage->local_blks_read |
			 bufusage->local_blks_dirtied | bufusage->local_blks_written |
			 bufusage->temp_blks_read | bufusage->temp_blks_written) != 0)
		{
			c->local_blks_hit += bufusage->local_blks_hit;
			c->local_blks_read += bufusage->local_blks_read;
			c->local_blks_dirtied += bufusage->local_blks_dirtied;
			c->local_blks_written += bufusage->local_blks_written;
			c->temp_blks_read += bufusage->temp_blks_read;
			c->temp_blks_written += bufusage->temp_blks_written;
		}
		/* I/O times are zero unless track_io_timing is on */
		if (!INSTR_TIME_IS_ZERO(PP_BUF_READ_TIME(bufusage)) ||
			!INSTR_TIME_IS_ZERO(PP_BUF_WRITE_TIME(bufusage)) ||
			!INSTR_TIME_IS_ZERO(bufusage->temp_blk_read_time) ||
			!INSTR_TIME_IS_ZERO(bufusage->temp_blk_write_time))
		{
			c->blk_read_time += INSTR_TIME_GET_MILLISEC(PP_BUF_READ_TIME(bufusage));
			c->blk_write_time += INSTR_TIME_GET_MILLISEC(PP_BUF_WRITE_TIME(bufusage));
			c->temp_blk_read_time += INSTR_TIME_GET_MILLISEC(bufusage->temp_blk_read_time);
			c->temp_blk_write_time += INSTR_TIME_GET_MILLISEC(bufusage->temp_blk_write_time);
		}
		if (walusage->wal_records != 0 || walusage->wal_bytes != 0)
		{
			c->wal_records += walusage->wal_records;
			c->wal_fpi += walusage->wal_fpi;
			c->wal_bytes += walusage->wal_bytes;
		}
		if (jitusage)
		{
			double		inl = INSTR_TIME_GET_MILLISEC(jitusage->inlining_counter);
			double		opt = INSTR_TIME_GET_MILLISEC(jitusage->optimization_counter);
			double		emi = INSTR_TIME_GET_MILLISEC(jitusage->emission_counter);

			c->jit_functions += jitusage->created_functions;
			c->jit_generation_time += INSTR_TIME_GET_MILLISEC(jitusage->generation_counter);
			if (inl > 0)
				c->jit_inlining_count++;
			c->jit_inlining_time += inl;
			if (opt > 0)
				c->jit_optimization_count++;
			c->jit_optimization_time += opt;
			if (emi > 0)
				c->jit_emission_count++;
			c->jit_emission_time += emi;
		}
	}

	if (edata)
	{
		int			s;

		c->errors++;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		{
			if (edata->message_id &&
				strcmp(edata->message_id, PP_STATEMENT_TIMEOUT_MSG) == 0)
				c->timeouts++;
			else
				c->cancels++;
		}
		for (s = 0; s < PP_ERRCODE_SLOTS; s++)
		{
			if (c->errcodes[s].sqlerrcode == edata->sqlerrcode ||
				c->errcodes[s].sqlerrcode == 0)
			{
				c->errcodes[s].sqlerrcode = edata->sqlerrcode;
				c->errcodes[s].count++;
				break;
			}
		}
		if (s == PP_ERRCODE_SLOTS)
			c->other_errcodes++;
	}
}

/*---- Shards ----*/

/* Start (begin = true) or end a change of a shard, for readers' copies */
static inline void
pp_stmt_shard_change(PPStmtShard *sh, bool begin)
{
	if (!begin)
		pg_write_barrier();
	sh->changecount++;
	if (begin)
		pg_write_barrier();
}

/*
 * Attach this backend's shards on first use; false if it has none (not a
 * regular backend).  Shards left by an earlier backend with the same id are
 * folded first.
 */
static bool
pp_stmt_my_shards(void)
{
	if (pp_my_shard_base < 0 && !pp_my_shards_tried)
	{
		pp_my_shards_tried = true;
		if (PP_MY_BACKEND_INDEX < 0 || PP_MY_BACKEND_INDEX >= MaxBackends)
			return false;
		pp_my_shard_base = PP_MY_BACKEND_INDEX * PP_SHARDS_PER_BACKEND;
		for (int k = 0; k < PP_SHARDS_PER_BACKEND; k++)
			pp_stmt_shard_fold(pp_my_shard(k));
		before_shmem_exit(pp_stmt_shards_exit, (Datum) 0);
	}
	return pp_my_shard_base >= 0;
}

/*
 * The hot path with shards: count an execution into this backend's shard
 * for the cached entry, with no lock and no write to a line that other
 * backends write.  Returns false, having counted nothing, if the entry is
 * gone or this backend has no shards: the caller takes the locked path.
 */
static bool
pp_stmt_count_shard(PPStmtCached *cached, double time_ms, uint64 rows,
					const BufferUsage *bufusage, const WalUsage *walusage,
					const JitInstrumentation *jitusage)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	PPStmtShard *sh;
	int			k;

	/* still there? (read without the spinlock; see "Shards") */
	if (((volatile PPStmtSlotLock *) &pp_stmt_locks[cached->slot])->s.incarnation !=
		cached->incarnation)
		return false;

	if (cached->shard == 0)
	{
		int			old;

		if (!pp_stmt_my_shards())
			return false;
		/* reuse the least recently used shard */
		k = 0;
		for (int j = 1; j < PP_SHARDS_PER_BACKEND; j++)
			if (pp_my_shard_used[j] < pp_my_shard_used[k])
				k = j;
		sh = pp_my_shard(k);
		pp_stmt_shard_fold(sh);
		old = pp_my_shard_cache[k] - 1;
		if (old >= 0 && pp_stmt_cache[old].shard == k + 1)
			pp_stmt_cache[old].shard = 0;
		pp_stmt_shard_change(sh, true);
		sh->slot = cached->slot;
		sh->incarnation = cached->incarnation;
		pp_stmt_shard_change(sh, false);
		pp_my_shard_cache[k] = (int) (cached - pp_stmt_cache) + 1;
		cached->shard = k + 1;
	}
	k = cached->shard - 1;
	sh = pp_my_shard(k);
	pp_my_shard_used[k] = ++pp_my_shard_tick;

	pp_stmt_shard_change(sh, true);
	pp_stmt_add(&sh->counters, sh->hist, &sh->hist_lo, PP_KIND_EXEC, time_ms,
				rows, bufusage, walusage, jitusage, NULL);
	if (sh->since == 0)
		sh->since = now;
	sh->counters.last_seen = now;
	pp_stmt_shard_change(sh, false);

	if (sh->counters.t[PP_KIND_EXEC].calls >= PP_SHARD_FOLD_CALLS ||
		now - sh->since >= PP_SHARD_FOLD_USEC)
		pp_stmt_shard_fold(sh);
	return true;
}

/*
 * Fold one of this backend's shards into its entry, if the entry is still
 * there (else its counts go with the entry), and empty it.  The entry's
 * usage count grows by the calls folded.
 */
static void
pp_stmt_shard_fold(PPStmtShard *sh)
{
	PPStmtSlotLock *sl;

	if (sh->incarnation == 0)
		return;
	sl = &pp_stmt_locks[sh->slot];
	SpinLockAcquire(&sl->s.mutex);
	if (sl->s.incarnation == sh->incarnation &&
		sh->counters.t[PP_KIND_EXEC].calls > 0)
	{
		PPStmtEntry *entry = pp_stmt_slots[sh->slot];
		uint32	   *usage = &pp_stmt_usage[sh->slot];

		pp_stmt_merge(&entry->counters, entry->hist, &sh->counters, sh->hist,
					  sh->hist_lo, sh->hist_hi);
		*usage = (uint32) Min((int64) *usage + sh->counters.t[PP_KIND_EXEC].calls,
							  (int64) PP_USAGE_MAX);
	}
	pp_stmt_shard_change(sh, true);
	memset(&sh->counters, 0, sizeof(sh->counters));
	if (sh->hist_lo <= sh->hist_hi)
		memset(&sh->hist[sh->hist_lo], 0,
			   (sh->hist_hi - sh->hist_lo + 1) * sizeof(uint32));
	sh->hist_lo = PP_HIST_NBUCKETS;
	sh->hist_hi = -1;
	sh->since = 0;
	pp_stmt_shard_change(sh, false);
	SpinLockRelease(&sl->s.mutex);
}

/*
 * Backend exit: fold this backend's shards, so no count stays behind, and
 * mark them unused
 */
static void
pp_stmt_shards_exit(int code, Datum arg)
{
	for (int k = 0; k < PP_SHARDS_PER_BACKEND; k++)
	{
		PPStmtShard *sh = pp_my_shard(k);

		pp_stmt_shard_fold(sh);
		pp_stmt_shard_change(sh, true);
		sh->incarnation = 0;
		pp_stmt_shard_change(sh, false);
	}
}

/* Add the times of src to dst (Chan et al.'s pairwise mean and variance) */
static void
pp_stmt_times_merge(PPStmtTimes *dst, const PPStmtTimes *src)
{
	double		n1 = (double) dst->calls;
	double		n2 = (double) src->calls;
	double		delta;

	if (src->calls == 0)
		return;
	if (dst->calls == 0)
	{
		*dst = *src;
		return;
	}
	delta = src->mean_time - dst->mean_time;
	dst->mean_time += delta * n2 / (n1 + n2);
	dst->sum_var_time += src->sum_var_time + delta * delta * n1 * n2 / (n1 + n2);
	dst->calls += src->calls;
	dst->total_time += src->total_time;
	dst->min_time = Min(dst->min_time, src->min_time);
	dst->max_time = Max(dst->max_time, src->max_time);
}

/*
 * Add a shard's counters and histogram buckets lo..hi to an entry's (or to
 * a reader's copy of them).  Shards count executions only: no planning, no
 * errors, no first_seen.
 */
static void
pp_stmt_merge(PPStmtCounters *dst, uint32 *dhist, const PPStmtCounters *src,
			  const uint32 *shist, int lo, int hi)
{
	pp_stmt_times_merge(&dst->t[PP_KIND_EXEC], &src->t[PP_KIND_EXEC]);
	dst->rows += src->rows;
	dst->shared_blks_hit += src->shared_blks_hit;
	dst->last_seen = Max(dst->last_seen, src->last_seen);
	dst->shared_blks_read += src->shared_blks_read;
	dst->shared_blks_dirtied += src->shared_blks_dirtied;
	dst->shared_blks_written += src->shared_blks_written;
	dst->wal_records += src->wal_records;
	dst->wal_fpi += src->wal_fpi;
	dst->wal_bytes += src->wal_bytes;
	dst->local_blks_hit += src->local_blks_hit;
	dst->local_blks_read += src->local_blks_read;
	dst->local_blks_dirtied += src->local_blks_dirtied;
	dst->local_blks_written += src->local_blks_written;
	dst->temp_blks_read += src->temp_blks_read;
	dst->temp_blks_written += src->temp_blks_written;
	dst->blk_read_time += src->blk_read_time;
	dst->blk_write_time += src->blk_write_time;
	dst->temp_blk_read_time += src->temp_blk_read_time;
	dst->temp_blk_write_time += src->temp_blk_write_time;
	dst->jit_functions += src->jit_functions;
	dst->jit_generation_time += src->jit_generation_time;
	dst->jit_inlining_count += src->jit_inlining_count;
	dst->jit_inlining_time += src->jit_inlining_time;
	dst->jit_optimization_count += src->jit_optimization_count;
	dst->jit_optimization_time += src->jit_optimization_time;
	dst->jit_emission_count += src->jit_emission_count;
	dst->jit_emission_time += src->jit_emission_time;
	for (int b = lo; b <= hi; b++)
		dhist[b] = (uint32) Min((uint64) dhist[b] + shist[b], (uint64) PG_UINT32_MAX);
}

/*
 * For readers: which shards count into which slot, as a palloc'd array of
 * pp_stmt_max heads followed by one link per shard (-1 ends a list).  Read
 * without locks, so only a hint: pp_stmt_shard_collect checks each shard.
 * A shard that starts counting into an entry after this holds only calls
 * made while the reader runs.
 */
static int *
pp_stmt_shard_map(void)
{
	int		   *map;

	if (pp_stmt_shards == NULL)
		return NULL;
	map = palloc(sizeof(int) * (pp_stmt_max + pp_stmt_nshards));
	for (int i = 0; i < pp_stmt_max; i++)
		map[i] = -1;
	for (int i = 0; i < pp_stmt_nshards; i++)
	{
		volatile PPStmtShard *sh = pp_stmt_shard(i);
		int			slot = sh->slot;

		map[pp_stmt_max + i] = -1;
		if (sh->incarnation != 0 && slot >= 0 && slot < pp_stmt_max)
		{
			map[pp_stmt_max + i] = map[slot];
			map[slot] = i;
		}
	}
	return map;
}

/*
 * Add to c and hist the counts that backends' shards hold for an entry.
 * Caller holds the entry's slot spinlock (no shard is folded meanwhile) and
 * got map from pp_stmt_shard_map; copy is scratch space for one shard.
 */
static void
pp_stmt_shard_collect(const int *map, const PPStmtEntry *entry,
					  PPStmtCounters *c, uint32 *hist, PPStmtShard *copy)
{
	uint64		incarnation = pp_stmt_locks[entry->slot].s.incarnation;

	if (map == NULL)
		return;
	for (int i = map[entry->slot]; i >= 0; i = map[pp_stmt_max + i])
	{
		volatile PPStmtShard *sh = pp_stmt_shard(i);

		/* a consistent copy: no change began or ended meanwhile */
		for (;;)
		{
			uint32		before = sh->changecount;

			pg_read_barrier();
			memcpy(copy, (PPStmtShard *) sh, sizeof(PPStmtShard));
			pg_read_barrier();
			if (before % 2 == 0 && before == sh->changecount)
				break;
			SPIN_DELAY();
		}
		if (copy->incarnation == incarnation && copy->slot == entry->slot)
			pp_stmt_merge(c, hist, &copy->counters, copy->hist,
						  copy->hist_lo, copy->hist_hi);
	}
}

/*
 * Create an entry.  Caller holds the lock exclusive and has checked that the
 * key is not there.  Evicts if no slot is free.  Returns NULL only if the
 * hash table refuses the entry, which the slot accounting should prevent.
 */
static PPStmtEntry *
pp_stmt_entry_alloc(const PPStmtKey *key, const char *query, int query_len,
					int encoding)
{
	PPStmtEntry *entry;
	bool		found;
	int			slot;

	if (pp_stmt->nfree == 0)
		pp_stmt_evict();
	if (pp_stmt->nfree == 0)
		return NULL;

	entry = hash_search(pp_stmt_hash, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		return NULL;
	Assert(!found);

	slot = pp_stmt->free_slots[--pp_stmt->nfree];
	pp_stmt_slots[slot] = entry;
	entry->slot = slot;
	entry->encoding = encoding;
	entry->query_len = query_len;
	memcpy(entry->query, query, query_len);
	entry->query[query_len] = '\0';
	memset(&entry->counters, 0, sizeof(entry->counters));
	memset(entry->hist, 0, sizeof(entry->hist));
	entry->counters.first_seen = GetCurrentStatementStartTimestamp();
	entry->counters.last_seen = entry->counters.first_seen;

	/* from now on, backends may count into it without the lock */
	SpinLockAcquire(&pp_stmt_locks[slot].s.mutex);
	pp_stmt_usage[slot] = 1;
	pp_stmt_locks[slot].s.incarnation = ++pp_stmt->incarnations;
	SpinLockRelease(&pp_stmt_locks[slot].s.mutex);
	return entry;
}

/*
 * Remove an entry and free its slot.  Caller holds the lock exclusive.
 * Clearing the incarnation first makes every backend's cached pointer to
 * the entry stale.
 */
static void
pp_stmt_entry_remove(PPStmtEntry *entry)
{
	int			slot = entry->slot;

	SpinLockAcquire(&pp_stmt_locks[slot].s.mutex);
	pp_stmt_locks[slot].s.incarnation = 0;
	SpinLockRelease(&pp_stmt_locks[slot].s.mutex);
	pp_stmt_slots[slot] = NULL;
	pp_stmt->free_slots[pp_stmt->nfree++] = slot;
	pg_atomic_fetch_add_u64(&pp_stmt->generation, 1);
	hash_search(pp_stmt_hash, &entry->key, HASH_REMOVE, NULL);
}

/* Turns of the clock hand with the gentle decay before a sweep halves */
#define PP_SWEEP_GENTLE_TURNS	2

/*
 * Clock sweep (see the file header): free a batch of slots.  Caller holds
 * the lock exclusive.  Executions counted through backends' caches may
 * raise usage counts meanwhile, so the number of steps is bounded too.  A
 * usage count is tested and the entry's incarnation cleared under the
 * slot's spinlock in one step: an execution counted into the entry before
 * keeps it, one after finds it gone.
 */
static void
pp_stmt_evict(void)
{
	int			want = PP_EVICT_BATCH(pp_stmt_max);
	int			freed = 0;
	int			steps = 0;
	int			gentle = PP_SWEEP_GENTLE_TURNS * pp_stmt_max;
	int			limit = gentle + (PP_USAGE_BITS + 3) * pp_stmt_max;
	int			zeroed = -pp_stmt_max;	/* last step that brought a count to
										 * zero */
	bool	   *pinned = NULL;

	/*
	 * Entries a backend's shard holds recent calls of are not evicted: the
	 * shard's counts would be lost (a hot statement's shard holds calls that
	 * have not raised the usage count yet; it is folded at least every
	 * PP_SHARD_FOLD_USEC while the statement runs).  Calls older than twice
	 * that, in the shard of a backend that has been idle since, do not keep
	 * an entry: idle backends must not keep entries forever.  Read without
	 * locks: a shard that starts counting into an entry just now, after this,
	 * can still lose the calls it counts before it sees the entry gone.
	 */
	if (pp_stmt_shards != NULL)
	{
		TimestampTz recent = GetCurrentTimestamp() - 2 * PP_SHARD_FOLD_USEC;

		pinned = pp_stmt_pinned;
		memset(pinned, 0, sizeof(bool) * pp_stmt_max);
		for (int i = 0; i < pp_stmt_nshards; i++)
		{
			volatile PPStmtShard *sh = pp_stmt_shard(i);
			int			slot = sh->slot;

			if (sh->incarnation != 0 && slot >= 0 && slot < pp_stmt_max &&
				sh->counters.t[PP_KIND_EXEC].calls > 0 && sh->since >= recent)
				pinned[slot] = true;
		}
	}

	while (freed < want && steps++ < limit)
	{
		PPStmtEntry *entry = pp_stmt_slots[pp_stmt->hand];

		if (entry != NULL)
		{
			PPStmtSlotLock *sl = &pp_stmt_locks[pp_stmt->hand];
			uint32	   *usage = &pp_stmt_usage[pp_stmt->hand];
			bool		remove = false;

			SpinLockAcquire(&sl->s.mutex);

			/*
			 * Gentle for the first turns, and for one turn after a count
			 * reached zero: that entry goes when the hand comes back to it.
			 * Otherwise the slot the sweep started from, the first one
			 * visited a third time, was halved just before the entries zeroed
			 * behind it were freed (a cohort of statements run once halved
			 * the same entry once per cohort).
			 */
			if (*usage > 0 && (steps <= gentle || steps - zeroed <= pp_stmt_max))
			{
				*usage -= (*usage >> 4) + 1;
				if (*usage == 0)
					zeroed = steps;
			}
			else if (*usage > 0)
				*usage >>= 1;
			else if (pinned && pinned[pp_stmt->hand])
				 /* keep (see above) */ ;
			else
			{
				sl->s.incarnation = 0;
				remove = true;
			}
			SpinLockRelease(&sl->s.mutex);
			if (remove)
			{
				pp_stmt_entry_remove(entry);
				freed++;
			}
		}
		if (++pp_stmt->hand >= pp_stmt_max)
			pp_stmt->hand = 0;
	}

	SpinLockAcquire(&pp_stmt->mutex);
	pp_stmt->evictions += freed;
	pp_stmt->eviction_runs++;
	SpinLockRelease(&pp_stmt->mutex);
}

/* Remove the entries matching a reset's arguments (0 = any) */
static void
pp_stmt_entry_reset(Oid userid, Oid dbid, uint64 queryid)
{
	HASH_SEQ_STATUS hash_seq;
	PPStmtEntry *entry;

	LWLockAcquire(pp_stmt->lock, LW_EXCLUSIVE);
	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if ((userid == InvalidOid || entry->key.userid == userid) &&
			(dbid == InvalidOid || entry->key.dbid == dbid) &&
			(queryid == 0 || entry->key.queryid == queryid))
			pp_stmt_entry_remove(entry);
	}
	LWLockRelease(pp_stmt->lock);
}

/*
 * The entry whose text statement_text shows: the current user's (top level
 * first), else any user's in the current database.  Caller holds the lock.
 */
static PPStmtEntry *
pp_stmt_find_for_text(uint64 queryid)
{
	PPStmtKey	key;
	PPStmtEntry *entry;
	HASH_SEQ_STATUS hash_seq;

	memset(&key, 0, sizeof(key));
	key.userid = GetUserId();
	key.dbid = MyDatabaseId;
	key.queryid = queryid;
	key.toplevel = true;
	entry = hash_search(pp_stmt_hash, &key, HASH_FIND, NULL);
	if (entry)
		return entry;
	key.toplevel = false;
	entry = hash_search(pp_stmt_hash, &key, HASH_FIND, NULL);
	if (entry)
		return entry;

	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (entry->key.queryid == queryid && entry->key.dbid == MyDatabaseId)
		{
			hash_seq_term(&hash_seq);
			return entry;
		}
	}
	return NULL;
}

/* Slot of pp_stmt_seen for a key */
static inline int
pp_stmt_seen_slot(const PPStmtKey *key)
{
	return (int) (pp_stmt_key_hash(key) & (PP_SEEN_SIZE - 1));
}

/*
 * Is the key one this backend found in the table since the last removal of
 * any entry?  Forgets everything when the generation has moved on.
 */
static bool
pp_stmt_seen_lookup(const PPStmtKey *key)
{
	uint64		generation = pg_atomic_read_u64(&pp_stmt->generation);

	if (generation != pp_stmt_seen_generation)
	{
		memset(pp_stmt_seen, 0, sizeof(pp_stmt_seen));
		pp_stmt_seen_generation = generation;
		return false;
	}
	return memcmp(&pp_stmt_seen[pp_stmt_seen_slot(key)], key,
				  sizeof(PPStmtKey)) == 0;
}

/* Remember that the key is in the table (see pp_stmt_seen_lookup) */
static void
pp_stmt_seen_remember(const PPStmtKey *key)
{
	/* only while our memory belongs to the current generation */
	if (pg_atomic_read_u64(&pp_stmt->generation) == pp_stmt_seen_generation)
		pp_stmt_seen[pp_stmt_seen_slot(key)] = *key;
}

/*
 * Postmaster exit: write every entry to the dump file, if pgplumb.save is
 * on and the shutdown is clean.  Written to a temporary file first and
 * renamed, so a crash never leaves half a file.
 */
static void
pp_stmt_shmem_shutdown(int code, Datum arg)
{
	FILE	   *file;
	PPStmtFileHeader hdr;
	HASH_SEQ_STATUS hash_seq;
	PPStmtEntry *entry;
	Size		entry_size = pp_stmt_entry_size();

	if (code != 0 || !pp_stmt || !pp_stmt_hash)
		return;
	if (!pp_stmt_save)
	{
		unlink(PP_STMT_DUMP_FILE);
		return;
	}

	file = AllocateFile(PP_STMT_DUMP_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = PP_STMT_FILE_HEADER;
	hdr.version = PP_STMT_FILE_VERSION;
	hdr.pg_version = PG_VERSION_NUM;
	hdr.entry_size = (uint32) entry_size;
	hdr.nbuckets = PP_HIST_NBUCKETS;
	hdr.nentries = (int32) hash_get_num_entries(pp_stmt_hash);
	hdr.evictions = pp_stmt->evictions;
	hdr.eviction_runs = pp_stmt->eviction_runs;
	hdr.stats_reset = pp_stmt->stats_reset;
	if (fwrite(&hdr, sizeof(hdr), 1, file) != 1)
		goto error;

	hash_seq_init(&hash_seq, pp_stmt_hash);
	while ((entry = hash_seq_search(&hash_seq)) != NULL)
	{
		if (fwrite(entry, entry_size, 1, file) != 1)
		{
			hash_seq_term(&hash_seq);
			goto error;
		}
	}

	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(PP_STMT_DUMP_FILE ".tmp", PP_STMT_DUMP_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m",
					PP_STMT_DUMP_FILE ".tmp")));
	if (file)
		FreeFile(file);
	unlink(PP_STMT_DUMP_FILE ".tmp");
}

/*
 * Postmaster start: read the dump file back, if any and if pgplumb.save is
 * on, then remove it (a crash restart must not load stale statistics).  A
 * file written by another build or with another entry size is ignored.
 */
static void
pp_stmt_load(void)
{
	FILE	   *file;
	PPStmtFileHeader hdr;
	Size		entry_size = pp_stmt_entry_size();
	PPStmtEntry *buf = NULL;

	if (!pp_stmt_save)
	{
		unlink(PP_STMT_DUMP_FILE);
		return;
	}

	file = AllocateFile(PP_STMT_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m",
							PP_STMT_DUMP_FILE)));
		return;
	}

	if (fread(&hdr, sizeof(hdr), 1, file) != 1 ||
		hdr.magic != PP_STMT_FILE_HEADER ||
		hdr.version != PP_STMT_FILE_VERSION ||
		hdr.pg_version != PG_VERSION_NUM ||
		hdr.entry_size != entry_size ||
		hdr.nbuckets != PP_HIST_NBUCKETS)
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring pgplumb statistics file \"%s\": written by another build or with other settings",
						PP_STMT_DUMP_FILE)));
		goto done;
	}

	buf = palloc(entry_size);
	for (int i = 0; i < hdr.nentries && i < pp_stmt_max; i++)
	{
		PPStmtEntry *entry;

		if (fread(buf, entry_size, 1, file) != 1)
		{
			ereport(LOG,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("pgplumb statistics file \"%s\" is truncated",
							PP_STMT_DUMP_FILE)));
			break;
		}
		if (buf->query_len < 0 ||
			buf->query_len >= pgstat_track_activity_query_size)
			break;
		entry = pp_stmt_entry_alloc(&buf->key, buf->query, buf->query_len,
									buf->encoding);
		if (entry == NULL)
			break;
		/* a loaded entry starts as if run min(calls, max) times */
		pp_stmt_usage[entry->slot] =
			(uint32) Min(buf->counters.t[PP_KIND_EXEC].calls + 1, (int64) PP_USAGE_MAX);
		memcpy(&entry->counters, &buf->counters, sizeof(entry->counters));
		memcpy(entry->hist, buf->hist, sizeof(entry->hist));
	}
	pp_stmt->evictions = hdr.evictions;
	pp_stmt->eviction_runs = hdr.eviction_runs;
	pp_stmt->stats_reset = hdr.stats_reset;

done:
	if (buf)
		pfree(buf);
	FreeFile(file);
	unlink(PP_STMT_DUMP_FILE);
}
