/*-------------------------------------------------------------------------
 *
 * nplusone.c
 *		The N+1 collector: feeds every finished top-level statement to the
 *		detector core (common/nplusone.c) and keeps what it finds in shared
 *		memory for the view pgplumb.n_plus_one.
 *
 * Design.  Each backend owns a small n1_detector (a few scopes, allocated
 * once in TopMemoryContext).  The scope of a statement is the client: the
 * backend itself, or the value of pgplumb.client_id when a pooler sets it
 * for the client it is serving, so that clients sharing one server
 * connection are not mixed up.  Inside a scope the unit of work is the
 * explicit transaction block (its start time), or, outside of one, a burst
 * of statements that the core splits at idle gaps.  An event carries the
 * queryid as fingerprint, the rows from es_processed, a hash of the bound
 * parameter values (extended protocol) and of the statement's constants
 * (simple protocol, from the JumbleState's constant locations), and the
 * statement's start and end times.
 *
 * post_parse_analyze also remembers, per queryid, in a small direct-mapped
 * backend-local cache, the statement text and the shape the suggestion
 * needs: the single table, the key column compared with = to a parameter
 * or constant, or the INSERT's columns.  The cache is filled only when the
 * queryid is not in it yet, so a statement parsed again and again costs a
 * lookup.
 *
 * Locking.  The hot path (executor_end) takes no lock.  When the core
 * reports a loop, the finding is turned into text (outside of any lock) and
 * recorded under n1->lock, held exclusively; the view reads under the lock
 * held shared.  The findings table has a fixed size
 * (pgplumb.n_plus_one_max); when it is full, new findings are counted as
 * dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "storage/ipc.h"
#include "storage/backendid.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "pgplumb.h"
#include "nplusone.h"

/*---- constants ----*/

#define N1_TEXT_LEN 512			/* stored query texts (bytes, with NUL) */
#define N1_SUGG_LEN 1536		/* stored suggestion */
#define N1_SRC_LEN 1024			/* statement text kept in the local cache */
#define N1_MAX_CONSTS 32		/* constant locations kept per statement */
#define N1_CACHE_SETS 32		/* local shape cache: sets (power of 2) ... */
#define N1_CACHE_WAYS 2			/* ... of this many entries, LRU */
#define N1_MAX_COLS 16			/* INSERT/UPDATE columns kept */
#define N1_NAME_LEN (2 * NAMEDATALEN + 2)
#define N1_SCOPES 8				/* scopes per backend */
#define N1_LOG_INTERVAL_MS 1000 /* at most one LOG line per second */

/*---- types ----*/

/* Shape of a statement, as far as the suggestion needs it */
typedef struct N1Shape
{
	uint64		queryid;
	uint64		last_used;		/* cache tick of the last use */
	CmdType		cmd;
	Oid			relid;			/* the single table, or InvalidOid */
	AttrNumber	keyattno;		/* key column compared with =, or 0 */
	int			keyloc;			/* location of the compared value, or -1 */
	bool		keyparam;		/* the value is a $n parameter */
	bool		has_limit;		/* LIMIT or ORDER BY: per-parent rows */
	char		relname[N1_NAME_LEN];	/* schema-qualified, quoted */
	char		keycol[NAMEDATALEN + 2];
	char		keytype[NAMEDATALEN];
	int			ncols;			/* INSERT/UPDATE target columns */
	char		cols[N1_MAX_COLS][NAMEDATALEN + 2];
	char		coltypes[N1_MAX_COLS][NAMEDATALEN];
	int			highest_param;
	int			nconsts;
	int			consts[N1_MAX_CONSTS];	/* locations in src, sorted */
	char		src[N1_SRC_LEN];	/* the statement's text */
} N1Shape;

/* One finding in shared memory: one (user, db, parent, child, class) */
typedef struct N1Entry
{
	Oid			userid;
	Oid			dbid;
	uint64		parent_qid;
	uint64		child_qid;
	int32		cls;
	int64		loops;
	int64		total_repeats;
	int64		max_repeats;
	int64		total_rows;
	int64		parent_rows;	/* of the latest loop */
	double		exec_ms;
	double		saved_ms;
	TimestampTz first_seen;
	TimestampTz last_seen;
	/* for the JOIN form of the suggestion, completed when read */
	Oid			parent_relid;
	Oid			child_relid;
	AttrNumber	child_keyattno;
	bool		child_has_limit;
	char		child_relname[N1_NAME_LEN];
	char		child_keycol[NAMEDATALEN + 2];
	char		child_keyed[N1_TEXT_LEN];	/* child text, key value as \x01 */
	char		parent_text[N1_TEXT_LEN];
	char		child_text[N1_TEXT_LEN];
	char		suggestion[N1_SUGG_LEN];
} N1Entry;

/*
 * The latest multi-row read of one backend, for loops whose parent ran on
 * another connection of the application's pool.  Written only by its own
 * backend, without a lock: seq is odd while the slot is being written, and
 * a reader that sees it change retries or gives up.
 */
typedef struct N1Recent
{
	volatile uint32 seq;
	Oid			dbid;
	Oid			userid;
	uint64		queryid;
	uint64		rows;
	int64		end_us;
} N1Recent;

/*
 * A backend's N1Recent on a cache line of its own: a backend publishing its
 * reads must not make its neighbours' lines move between CPUs.
 */
typedef union N1RecentSlot
{
	N1Recent	r;
	char		pad[PG_CACHE_LINE_SIZE];
} N1RecentSlot;

typedef struct N1Shared
{
	LWLock	   *lock;
	int			nrecent;		/* slots in recent[] (MaxBackends) */
	N1RecentSlot *recent;		/* cache-line aligned */
	int			max;
	int			nentries;
	int64		dropped;
	TimestampTz stats_reset;
	TimestampTz last_log;
	int64		log_suppressed;
	N1Entry		entries[FLEXIBLE_ARRAY_MEMBER];
} N1Shared;

/*---- local variables ----*/

static N1Shared *n1 = NULL;
static n1_detector *n1_det = NULL;

/*
 * The detector's memory (n1_detector_size(N1_SCOPES), about 60 kB), taken
 * when the library is loaded: in the postmaster with shared_preload_libraries,
 * so that every backend inherits it.  Taken at a backend's first statement
 * instead, it landed on top of that statement's executor memory; freeing that
 * memory then left a hole below it in the heap, and every later statement's
 * executor allocations went through malloc's slow paths (about 350
 * instructions per pgbench -S transaction).
 */
static void *n1_det_mem = NULL;
static N1Shape *n1_cache = NULL;
static uint64 n1_cache_tick = 0;

/* The last statement parsed at top level, and the hash of its constants */
static uint64 n1_last_parse_qid = 0;
static uint64 n1_last_parse_hash = 0;

/* transaction (local id) of the previous statement, to spot pipelines */
static LocalTransactionId n1_last_lxid = InvalidLocalTransactionId;
static TimestampTz n1_last_stmt_start = 0;

/* the detector's configuration matches the settings (cleared by their
 * assign hooks) */
static bool n1_config_valid = false;

/* ... and this backend feeds the detector (set with n1_config_valid) */
static bool n1_active = false;

/* scope key of this backend, recomputed when client_id changes */
static uint64 n1_scope_key = 0;
static bool n1_scope_key_valid = false;

/*---- GUC variables ----*/

static bool n1_enabled = true;
static int	n1_max = 500;
static int	n1_min_repeats = 5;
static int	n1_min_distinct = 2;
static double n1_max_rows_per_call = 2.0;
static int	n1_max_gap_ms = 100;
static int	n1_idle_gap_ms = 10;
static int	n1_pipeline_gap_us = 10;
static bool n1_span_xacts = true;
static bool n1_log = false;
static char *n1_client_id = NULL;

/*---- function declarations ----*/

PG_FUNCTION_INFO_V1(pgplumb_n_plus_one);
PG_FUNCTION_INFO_V1(pgplumb_reset_n_plus_one);

static void n1_define_settings(void);
static Size n1_shmem_size(void);
static void n1_shmem_request(void);
static void n1_shmem_startup(void);
static void n1_post_parse_analyze(ParseState *pstate, Query *query,
								  JumbleState *jstate);
static void n1_executor_end(QueryDesc *queryDesc);
static bool n1_utility_wanted(PlannedStmt *pstmt, uint64 queryid);
static void n1_utility_done(PlannedStmt *pstmt, const char *query_string,
							uint64 queryid, const PPUsage *usage);
static void n1_report(const n1_finding *f, void *arg);
static void n1_exit(int code, Datum arg);
static void n1_client_id_assign(const char *newval, void *extra);
static void n1_settings_int_assign(int newval, void *extra);
static void n1_settings_real_assign(double newval, void *extra);
static void n1_settings_bool_assign(bool newval, void *extra);

const PPCollector pp_nplusone_collector = {
	.name = "nplusone",
	.define_settings = n1_define_settings,
	.shmem_size = n1_shmem_size,
	.shmem_request = n1_shmem_request,
	.shmem_startup = n1_shmem_startup,
	.post_parse_analyze = n1_post_parse_analyze,
	.executor_end = n1_executor_end,
	.utility_wanted = n1_utility_wanted,
	.utility_done = n1_utility_done,
};

/*---- settings ----*/

static void
n1_define_settings(void)
{
	DefineCustomBoolVariable("pgplumb.n_plus_one",
							 "Detects N+1 query loops.",
							 NULL,
							 &n1_enabled, true, PGC_SUSET, 0,
							 NULL, n1_settings_bool_assign, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_max",
							"Maximum number of N+1 findings kept.",
							NULL,
							&n1_max, 500, 10, 100000, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_min_repeats",
							"Iterations for a repeated statement to be a loop.",
							NULL,
							&n1_min_repeats, 5, 2, INT_MAX, PGC_SUSET, 0,
							NULL, n1_settings_int_assign, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_min_distinct",
							"Distinct parameter values for a read loop to be an N+1.",
							NULL,
							&n1_min_distinct, 2, 2, N1_MAX_DISTINCT, PGC_SUSET, 0,
							NULL, n1_settings_int_assign, NULL);
	DefineCustomRealVariable("pgplumb.n_plus_one_max_rows_per_call",
							 "Average rows per iteration above which a loop is not an N+1.",
							 "Loops fed by a parent that returned more rows may return up to "
							 "10 rows per iteration (has-many loops).",
							 &n1_max_rows_per_call, 2.0, 0.0, 1e9, PGC_SUSET, 0,
							 NULL, n1_settings_real_assign, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_max_gap",
							"Longest pause between two iterations of a loop.",
							"A loop also ends at a pause longer than half of this that "
							"is much longer than its previous pauses.",
							&n1_max_gap_ms, 100, 1, 3600 * 1000, PGC_SUSET,
							GUC_UNIT_MS, NULL, n1_settings_int_assign, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_idle_gap",
							"Loops whose iterations are further apart than this (median) "
							"must be regular.",
							"Statements that repeat at longer, irregular intervals are "
							"independent requests that reuse one connection.",
							&n1_idle_gap_ms, 10, 0, 3600 * 1000, PGC_SUSET,
							GUC_UNIT_MS, NULL, n1_settings_int_assign, NULL);
	DefineCustomIntVariable("pgplumb.n_plus_one_pipeline_gap",
							"Iterations closer than this many microseconds were "
							"pipelined (a batch, not a loop).",
							NULL,
							&n1_pipeline_gap_us, 10, 0, 1000000, PGC_SUSET, 0,
							NULL, n1_settings_int_assign, NULL);
	DefineCustomBoolVariable("pgplumb.n_plus_one_span_transactions",
							 "Finds loops whose iterations each run in their own transaction.",
							 "A statement that runs once per transaction, transaction after "
							 "transaction, is one loop; off: every transaction end ends all loops.",
							 &n1_span_xacts, true, PGC_SUSET, 0,
							 NULL, n1_settings_bool_assign, NULL);
	DefineCustomBoolVariable("pgplumb.n_plus_one_log",
							 "Logs a line when a new N+1 pattern is found (at most one per second).",
							 NULL,
							 &n1_log, false, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("pgplumb.client_id",
							   "Identity of the client a pooler is serving on this connection.",
							   "When set, loops are tracked per client id instead of per "
							   "server connection.",
							   &n1_client_id, "", PGC_USERSET, 0,
							   NULL, n1_client_id_assign, NULL);
	if (n1_det_mem == NULL)
		n1_det_mem = MemoryContextAlloc(TopMemoryContext,
										n1_detector_size(N1_SCOPES));
}

static void
n1_client_id_assign(const char *newval, void *extra)
{
	n1_scope_key_valid = false;
	n1_config_valid = false;
}

/* A detector setting changed: rebuild the configuration before next use */
static void
n1_settings_int_assign(int newval, void *extra)
{
	n1_config_valid = false;
}

static void
n1_settings_real_assign(double newval, void *extra)
{
	n1_config_valid = false;
}

static void
n1_settings_bool_assign(bool newval, void *extra)
{
	n1_config_valid = false;
}

/* The detector configuration from the settings */
static void
n1_make_config(n1_config *cfg)
{
	n1_config_default(cfg);
	cfg->min_repeats = n1_min_repeats;
	cfg->min_distinct = n1_min_distinct;
	cfg->max_rows_per_call = n1_max_rows_per_call;
	if (cfg->has_many_max_rows < n1_max_rows_per_call)
		cfg->has_many_max_rows = n1_max_rows_per_call;
	cfg->max_gap_us = (int64) n1_max_gap_ms * 1000;
	/* a pause up to half of max_gap never cuts a loop, whatever its rhythm */
	cfg->min_gap_slack_us = cfg->max_gap_us / 2;
	cfg->burst_min_gap_us = (int64) n1_idle_gap_ms * 1000;
	cfg->pipeline_gap_us = n1_pipeline_gap_us;
	cfg->span_units = n1_span_xacts ? 1 : 0;

	/*
	 * Runs that are not loops go to n1_report, for a DEBUG1 line, only when
	 * DEBUG1 is logged: reporting them keeps runs from settling (the quick
	 * path of n1_feed_settled).  n1_feed_statement follows changes of the log
	 * levels.
	 */
	cfg->report_rejected = message_level_is_interesting(DEBUG1) ? 1 : 0;
}

/*---- shared memory ----*/

static Size
n1_shmem_size(void)
{
	return add_size(add_size(offsetof(N1Shared, entries),
							 mul_size(n1_max, sizeof(N1Entry))),
					add_size(PG_CACHE_LINE_SIZE,
							 mul_size(MaxBackends, sizeof(N1RecentSlot))));
}

static void
n1_shmem_request(void)
{
	RequestNamedLWLockTranche("pgplumb_n_plus_one", 1);
}

static void
n1_shmem_startup(void)
{
	bool		found;

	n1 = ShmemInitStruct("pgplumb n_plus_one", n1_shmem_size(), &found);
	if (!found)
	{
		n1->lock = &(GetNamedLWLockTranche("pgplumb_n_plus_one"))->lock;
		n1->max = n1_max;
		n1->nentries = 0;
		n1->dropped = 0;
		n1->stats_reset = GetCurrentTimestamp();
		n1->last_log = 0;
		n1->log_suppressed = 0;
		n1->nrecent = MaxBackends;
		n1->recent = (N1RecentSlot *)
			TYPEALIGN(PG_CACHE_LINE_SIZE, (uintptr_t) &n1->entries[n1_max]);
		memset(n1->recent, 0, MaxBackends * sizeof(N1RecentSlot));
	}
}

/* This backend's slot in n1->recent, or NULL */
static N1Recent *
n1_my_recent(void)
{
	if (MyBackendId == InvalidBackendId || MyBackendId > n1->nrecent)
		return NULL;
	return &n1->recent[MyBackendId - 1].r;
}

/* Publish a multi-row read of this backend (no lock: only we write it) */
static void
n1_publish_read(uint64 queryid, uint64 rows, int64 end_us)
{
	N1Recent   *r = n1_my_recent();

	if (r == NULL)
		return;
	r->seq++;
	pg_write_barrier();
	r->dbid = MyDatabaseId;
	r->userid = GetUserId();
	r->queryid = queryid;
	r->rows = rows;
	r->end_us = end_us;
	pg_write_barrier();
	r->seq++;
}

/*
 * Detector callback: the parent of a loop that has none in its own scope,
 * among the multi-row reads other backends of the same database and user
 * finished at most pgplumb.n_plus_one_max_gap before the loop started
 * (the latest of them).  Runs when a loop is judged, not per statement.
 */
static int
n1_find_parent(uint64_t scope_id, int64_t before_us, uint64_t *fp, uint64_t *rows,
			   void *arg)
{
	N1Recent   *mine = n1_my_recent();
	Oid			userid = GetUserId();
	int64		window = (int64) n1_max_gap_ms * 1000;
	int64		best = PG_INT64_MIN;

	for (int i = 0; i < n1->nrecent; i++)
	{
		N1Recent   *r = &n1->recent[i].r;
		N1Recent	copy;
		uint32		seq = r->seq;

		if (r == mine || (seq & 1) || r->end_us == 0)
			continue;
		pg_read_barrier();
		copy = *r;
		pg_read_barrier();
		if (r->seq != seq)
			continue;
		if (copy.dbid != MyDatabaseId || copy.userid != userid ||
			copy.end_us > before_us || before_us - copy.end_us > window ||
			copy.end_us <= best)
			continue;
		best = copy.end_us;
		*fp = copy.queryid;
		*rows = copy.rows;
	}
	return best != PG_INT64_MIN;
}

/*---- hashing of constants and parameters ----*/

/* strnstr over a length-bounded haystack (needle may contain no NUL) */
static const char *
strnstr_len(const char *hay, int haylen, const char *needle, int nlen)
{
	for (int i = 0; i + nlen <= haylen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/*
 * Length of the literal that starts at s[loc]: a number (maybe negative), a
 * quoted string (maybe prefixed: E'', B'', X'', U&''), a dollar-quoted
 * string, or a typed literal such as  date '2024-01-01'  or a keyword
 * constant (true, null).
 */
static int
n1_literal_len(const char *s, int loc, int len)
{
	int			i = loc;

	if (i >= len)
		return 0;
	if (s[i] == '-' || s[i] == '+')
	{
		i++;
		while (i < len && isspace((unsigned char) s[i]))
			i++;
	}
	if (i < len && s[i] == '$')
	{
		/* $n or a dollar-quoted string $tag$...$tag$ */
		int			t = i + 1;

		while (t < len && (isalnum((unsigned char) s[t]) || s[t] == '_'))
			t++;
		if (t < len && s[t] == '$' && !isdigit((unsigned char) s[i + 1]))
		{
			int			taglen = t - i + 1;
			const char *end;

			end = strnstr_len(s + t + 1, len - t - 1, s + i, taglen);
			return end ? (int) (end - s) + taglen - loc : len - loc;
		}
		return t - loc;
	}
	if (i < len && (isalpha((unsigned char) s[i]) || s[i] == '_'))
	{
		int			w = i;

		while (w < len && (isalnum((unsigned char) s[w]) || s[w] == '_' || s[w] == '&'))
			w++;
		i = w;
		while (i < len && isspace((unsigned char) s[i]))
			i++;
		if (i >= len || s[i] != '\'')
			return w - loc;
	}
	if (i < len && s[i] == '\'')
	{
		i++;
		while (i < len)
		{
			if (s[i] == '\\' && i + 1 < len)
				i += 2;
			else if (s[i] == '\'' && i + 1 < len && s[i + 1] == '\'')
				i += 2;
			else if (s[i] == '\'')
				return i + 1 - loc;
			else
				i++;
		}
		return len - loc;
	}
	while (i < len && (isalnum((unsigned char) s[i]) || s[i] == '.' ||
					   s[i] == '_' ||
					   ((s[i] == '+' || s[i] == '-') && i > loc &&
						(s[i - 1] == 'e' || s[i - 1] == 'E'))))
		i++;
	return i > loc ? i - loc : 1;
}

/* Hash of one bound parameter value */
static uint64
n1_hash_param(ParamExternData *p, uint64 h)
{
	int16		typlen;
	bool		typbyval;

	if (p->isnull)
		return n1_hash_combine(h, UINT64CONST(0x6e756c6c));
	switch (p->ptype)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case BOOLOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return n1_hash_combine(h, (uint64) p->value);
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BYTEAOID:
		case JSONOID:
		case JSONBOID:
		case NUMERICOID:
			typlen = -1;
			typbyval = false;
			break;
		default:
			if (!OidIsValid(p->ptype))
				return n1_hash_combine(h, (uint64) p->value);
			get_typlenbyval(p->ptype, &typlen, &typbyval);
			break;
	}
	if (typbyval)
		return n1_hash_combine(h, (uint64) p->value);
	if (typlen > 0)
		return n1_hash_bytes(DatumGetPointer(p->value), typlen, h);
	if (typlen == -1)
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(p->value);

		if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
			return n1_hash_combine(h, VARSIZE_ANY(v));
		return n1_hash_bytes(VARDATA_ANY(v), Min(VARSIZE_ANY_EXHDR(v), 256), h);
	}
	/* cstring */
	return n1_hash_bytes(DatumGetPointer(p->value),
						 Min(strlen(DatumGetCString(p->value)), 256), h);
}

/*---- statement shapes (local cache) ----*/

/* The set of entries where queryid may be cached */
static N1Shape *
n1_cache_set(uint64 queryid)
{
	if (n1_cache == NULL)
		n1_cache = MemoryContextAllocZero(TopMemoryContext,
										  N1_CACHE_SETS * N1_CACHE_WAYS * sizeof(N1Shape));
	return &n1_cache[((queryid ^ (queryid >> 29)) & (N1_CACHE_SETS - 1)) * N1_CACHE_WAYS];
}

/* The entry of queryid, or NULL; a hit makes it the most recently used */
static N1Shape *
n1_cache_lookup(uint64 queryid)
{
	N1Shape    *set;

	if (n1_cache == NULL || queryid == 0)
		return NULL;
	set = n1_cache_set(queryid);
	for (int w = 0; w < N1_CACHE_WAYS; w++)
		if (set[w].queryid == queryid)
		{
			set[w].last_used = ++n1_cache_tick;
			return &set[w];
		}
	return NULL;
}

/* The entry to fill for queryid: the least recently used of its set */
static N1Shape *
n1_cache_victim(uint64 queryid)
{
	N1Shape    *set = n1_cache_set(queryid);
	N1Shape    *v = &set[0];

	for (int w = 1; w < N1_CACHE_WAYS; w++)
		if (set[w].last_used < v->last_used)
			v = &set[w];
	return v;
}

static void
n1_quote_into(char *dst, size_t size, const char *name)
{
	strlcpy(dst, quote_identifier(name), size);
}

/* Strip implicit casts */
static Node *
n1_strip(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

/*
 * Find a  col = $n  or  col = const  conjunct on range table entry rti in
 * quals; fill the key fields of sh.
 */
static void
n1_find_key(N1Shape *sh, Node *quals, Index rti, RangeTblEntry *rte)
{
	List	   *conj;
	ListCell   *lc;

	if (quals == NULL)
		return;
	if (IsA(quals, BoolExpr) && ((BoolExpr *) quals)->boolop == AND_EXPR)
		conj = ((BoolExpr *) quals)->args;
	else if (IsA(quals, List))
		conj = (List *) quals;
	else
		conj = list_make1(quals);

	foreach(lc, conj)
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *l,
				   *r;
		Var		   *var;
		char	   *opname;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		l = n1_strip(linitial(op->args));
		r = n1_strip(lsecond(op->args));
		if (!IsA(l, Var))
		{
			Node	   *t = l;

			l = r;
			r = t;
		}
		if (!IsA(l, Var) || !(IsA(r, Param) || IsA(r, Const)))
			continue;
		var = (Var *) l;
		if (var->varno != rti || var->varlevelsup != 0 || var->varattno <= 0)
			continue;
		if (IsA(r, Param) && ((Param *) r)->paramkind != PARAM_EXTERN)
			continue;
		opname = get_opname(op->opno);
		if (opname == NULL || strcmp(opname, "=") != 0)
			continue;
		sh->keyattno = var->varattno;
		sh->keyparam = IsA(r, Param);
		sh->keyloc = IsA(r, Param) ? ((Param *) r)->location : ((Const *) r)->location;
		if (var->varattno <= list_length(rte->eref->colnames))
			n1_quote_into(sh->keycol, sizeof(sh->keycol),
						  strVal(list_nth(rte->eref->colnames, var->varattno - 1)));
		strlcpy(sh->keytype, format_type_be(var->vartype), sizeof(sh->keytype));
		return;
	}
}

static void
n1_set_rel(N1Shape *sh, RangeTblEntry *rte)
{
	char	   *nsp = get_namespace_name(get_rel_namespace(rte->relid));
	char	   *rel = get_rel_name(rte->relid);

	sh->relid = rte->relid;
	if (rel == NULL)
		return;
	snprintf(sh->relname, sizeof(sh->relname), "%s",
			 quote_qualified_identifier(nsp && strcmp(nsp, "public") != 0 ? nsp : NULL, rel));
}

/* Fill sh from the analyzed query */
static void
n1_analyze_shape(N1Shape *sh, Query *query)
{
	sh->cmd = query->commandType;
	sh->keyloc = -1;
	sh->has_limit = query->limitCount != NULL || query->sortClause != NIL;

	if (query->commandType == CMD_SELECT)
	{
		RangeTblRef *rtr;
		RangeTblEntry *rte;

		if (query->jointree == NULL || list_length(query->jointree->fromlist) != 1 ||
			query->setOperations != NULL || query->groupClause != NIL)
			return;
		rtr = linitial(query->jointree->fromlist);
		if (!IsA(rtr, RangeTblRef))
			return;
		rte = rt_fetch(rtr->rtindex, query->rtable);
		if (rte->rtekind != RTE_RELATION)
			return;
		n1_set_rel(sh, rte);
		n1_find_key(sh, query->jointree->quals, rtr->rtindex, rte);
	}
	else if (query->commandType == CMD_INSERT || query->commandType == CMD_UPDATE ||
			 query->commandType == CMD_DELETE)
	{
		RangeTblEntry *rte;
		ListCell   *lc;

		if (query->resultRelation <= 0)
			return;
		rte = rt_fetch(query->resultRelation, query->rtable);
		n1_set_rel(sh, rte);
		foreach(lc, query->targetList)
		{
			TargetEntry *te = lfirst(lc);

			if (te->resjunk || te->resname == NULL || sh->ncols >= N1_MAX_COLS)
				continue;
			n1_quote_into(sh->cols[sh->ncols], sizeof(sh->cols[0]), te->resname);
			strlcpy(sh->coltypes[sh->ncols], format_type_be(exprType((Node *) te->expr)),
					sizeof(sh->coltypes[0]));
			sh->ncols++;
		}
		if (query->commandType != CMD_INSERT && query->jointree)
			n1_find_key(sh, query->jointree->quals, query->resultRelation, rte);
	}
}

static int
n1_cmp_int(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

/*---- collector callbacks ----*/

static void
n1_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	const char *src = pstate->p_sourcetext;
	int			loc,
				len;
	uint64		h = 0;
	N1Shape    *sh;

	if (!n1_enabled || pp_nesting_level > 0 || src == NULL || IsParallelWorker())
		return;

	loc = query->stmt_location > 0 ? query->stmt_location : 0;
	len = query->stmt_len > 0 ? loc + query->stmt_len : (int) strlen(src);

	/* the constants' values, for statements without bound parameters */
	if (jstate)
	{
		for (int i = 0; i < jstate->clocations_count; i++)
		{
			int			cl = jstate->clocations[i].location;

			if (cl < loc || cl >= len)
				continue;
			h = n1_hash_bytes(src + cl, n1_literal_len(src, cl, len), h);
		}
	}
	n1_last_parse_qid = query->queryId;
	n1_last_parse_hash = h;

	/* the shape, once per queryid */
	if (n1_cache_lookup(query->queryId) != NULL)
		return;
	sh = n1_cache_victim(query->queryId);
	memset(sh, 0, offsetof(N1Shape, src));
	n1_analyze_shape(sh, query);
	len = Min(len - loc, N1_SRC_LEN - 1);
	memcpy(sh->src, src + loc, len);
	sh->src[len] = '\0';
	if (jstate)
	{
		sh->highest_param = jstate->highest_extern_param_id;
		for (int i = 0; i < jstate->clocations_count && sh->nconsts < N1_MAX_CONSTS; i++)
		{
			int			cl = jstate->clocations[i].location - loc;

			if (cl >= 0 && cl < len)
				sh->consts[sh->nconsts++] = cl;
		}
		qsort(sh->consts, sh->nconsts, sizeof(int), n1_cmp_int);
	}
	if (sh->keyloc >= 0)
		sh->keyloc -= loc;
	if (sh->keyloc < 0 || sh->keyloc >= len)
		sh->keyloc = -1;
	sh->queryid = query->queryId;
	sh->last_used = ++n1_cache_tick;
}

static uint64
n1_current_scope(void)
{
	if (!n1_scope_key_valid)
	{
		if (n1_client_id && n1_client_id[0] != '\0')
			n1_scope_key = n1_hash_bytes(n1_client_id, strlen(n1_client_id),
										 UINT64CONST(0x636c69656e74));
		else
			n1_scope_key = (uint64) MyProcPid;
		n1_scope_key_valid = true;
	}
	return n1_scope_key;
}

/* Make the backend's detector, or configure it again after a settings change;
 * recompute the scope key (pgplumb.client_id) */
static void
n1_setup_detector(void)
{
	n1_config	cfg;

	n1_config_valid = true;
	n1_active = n1_enabled && n1 != NULL && n1_det_mem != NULL && !IsParallelWorker();
	if (!n1_active)
		return;
	n1_make_config(&cfg);
	if (n1_det == NULL)
	{
		n1_det = n1_detector_init(n1_det_mem, N1_SCOPES, &cfg, n1_report, NULL);
		n1_detector_set_parent_lookup(n1_det, n1_find_parent, NULL);
		before_shmem_exit(n1_exit, (Datum) 0);
	}
	else
		n1_detector_configure(n1_det, &cfg);
	(void) n1_current_scope();
}

/* FETCH from a cursor (not MOVE): its rows may feed a loop */
static bool
n1_utility_wanted(PlannedStmt *pstmt, uint64 queryid)
{
	return pstmt->utilityStmt != NULL && IsA(pstmt->utilityStmt, FetchStmt) &&
		!((FetchStmt *) pstmt->utilityStmt)->ismove &&
		n1_enabled && n1 != NULL && pp_nesting_level == 0;
}

static void
n1_utility_done(PlannedStmt *pstmt, const char *query_string, uint64 queryid,
				const PPUsage *usage)
{
	n1_event	ev;
	bool		in_block;

	if (!n1_utility_wanted(pstmt, queryid) || queryid == 0)
		return;
	if (unlikely(!n1_config_valid))
		n1_setup_detector();
	if (!n1_active)
		return;
	in_block = IsTransactionBlock();
	memset(&ev, 0, sizeof(ev));
	ev.scope_id = n1_scope_key;
	ev.unit_id = in_block ? (uint64) MyProc->lxid : 0;
	ev.fingerprint = queryid;
	ev.kind = N1_KIND_FETCH;
	ev.rows = usage->rows;
	/* as for executor_end: the statement's start plus its elapsed time */
	ev.start_us = (int64) GetCurrentStatementStartTimestamp();
	ev.end_us = ev.start_us + (int64) (usage->elapsed_ms * 1000.0);
	n1_feed(n1_det, &ev);
}

/*
 * Does a SELECT read anything?  One with no FROM (SELECT 1, a pool's
 * health check or reset such as SELECT pg_advisory_unlock_all()) has only
 * the planner's RTE_RESULT: it is no loop, nothing to batch or cache.
 */
static inline bool
n1_reads_table(List *rtable)
{
	ListCell   *lc;

	foreach(lc, rtable)
	{
		if (((RangeTblEntry *) lfirst(lc))->rtekind != RTE_RESULT)
			return true;
	}
	return false;
}

/*
 * The full event of a statement that n1_feed_settled did not take: its
 * kind and the hash of its parameters; keep its shape in the cache, and
 * publish a multi-row read for the other backends.
 */
static pg_noinline void
n1_feed_statement(QueryDesc *queryDesc, uint64 unit_id, int64 start_us,
				  int64 end_us, uint64 rows, bool pipelined)
{
	ParamListInfo params = queryDesc->params;
	PlannedStmt *ps = queryDesc->plannedstmt;
	n1_event	ev;

	if (unlikely(n1_det->cfg.report_rejected != (message_level_is_interesting(DEBUG1) ? 1 : 0)))
		n1_setup_detector();

	ev.scope_id = n1_scope_key;
	ev.unit_id = unit_id;
	ev.fingerprint = ps->queryId;
	ev.start_us = start_us;
	ev.end_us = end_us;
	ev.rows = rows;
	ev.pipelined = pipelined;
	switch (queryDesc->operation)
	{
		case CMD_SELECT:
			ev.kind = n1_reads_table(ps->rtable) ? N1_KIND_READ : N1_KIND_OTHER;
			break;
		case CMD_INSERT:
		case CMD_UPDATE:
		case CMD_DELETE:
#if PG_VERSION_NUM >= 150000
		case CMD_MERGE:
#endif
			ev.kind = N1_KIND_WRITE;
			break;
		default:
			ev.kind = N1_KIND_OTHER;
			break;
	}
	ev.params_hash = n1_last_parse_qid == ps->queryId ? n1_last_parse_hash : 0;
	if (params && params->numParams > 0 && params->paramFetch == NULL)
	{
		for (int i = 0; i < params->numParams; i++)
			ev.params_hash = n1_hash_param(&params->params[i], ev.params_hash);
	}

	/* keep the shape of a repeating statement in the cache */
	(void) n1_cache_lookup(ev.fingerprint);

	/* a read that may feed a loop on another connection */
	if (ev.kind == N1_KIND_READ && ev.rows >= 2 && unit_id == 0)
		n1_publish_read(ev.fingerprint, ev.rows, ev.end_us);

	n1_feed(n1_det, &ev);
}

static void
n1_executor_end(QueryDesc *queryDesc)
{
	bool		in_block;
	LocalTransactionId lxid,
				prev_lxid;
	TimestampTz prev_start;
	uint64		unit_id,
				rows,
				queryid;
	int64		start_us,
				end_us;
	uint32		n;

	/* after a change of the settings or of pgplumb.client_id */
	if (unlikely(!n1_config_valid))
		n1_setup_detector();
	if (!n1_active || pp_nesting_level > 0)
		return;

	/* the unit of work: the transaction block (its local id), or none */
	in_block = IsTransactionBlock();
	start_us = (int64) GetCurrentStatementStartTimestamp();
	lxid = MyProc->lxid;
	unit_id = in_block ? (uint64) lxid : 0;
	queryid = queryDesc->plannedstmt->queryId;
	rows = queryDesc->estate ? queryDesc->estate->es_processed : 0;

	/*
	 * The end: the statement's start plus the executor time pgplumb.c
	 * measured (no clock read of our own).  That leaves out the parse, plan
	 * and bind time, so gaps between statements come out a little longer,
	 * never shorter.
	 */
	if (likely(pp_exec_usage != NULL))
		end_us = start_us + (int64) INSTR_TIME_GET_MICROSEC(pp_exec_usage->elapsed);
	else
	{
		end_us = (int64) GetCurrentTimestamp();
		if (start_us > end_us)
			start_us = end_us;
	}
	prev_lxid = n1_last_lxid;
	prev_start = n1_last_stmt_start;
	n1_last_lxid = lxid;
	n1_last_stmt_start = (TimestampTz) start_us;

	/*
	 * Most statements of a busy connection only extend a run that can no
	 * longer be a loop (pgbench, independent requests): the detector takes
	 * them without their kind or parameters.  A read of several rows is never
	 * one of them (it may be a parent, here or on another connection).  The
	 * shape of such a statement is kept in the cache every 16 iterations.
	 */
	if (rows < 2 &&
		(n = n1_feed_settled(n1_det, n1_scope_key, unit_id, queryid,
							 start_us, end_us, rows)) != 0)
	{
		if ((n & 15) == 0)
			(void) n1_cache_lookup(queryid);
		return;
	}

	/*
	 * A statement that started with the same statement timestamp as the
	 * previous one came in the same message (a multi-statement string); one
	 * that runs, outside of a transaction block, in the same transaction as
	 * the previous one was sent with it (an extended-protocol pipeline with
	 * no Sync in between).
	 */
	n1_feed_statement(queryDesc, unit_id, start_us, end_us, rows,
					  (TimestampTz) start_us == prev_start ||
					  (!in_block && lxid == prev_lxid));
}

/* Report the loops still open in this backend when it exits */
static void
n1_exit(int code, Datum arg)
{
	if (n1_det && n1 && code == 0)
		n1_flush_all(n1_det);
}

/*---- turning a finding into text ----*/

/*
 * The normalized text of a statement: constants replaced by $n as
 * pg_stat_statements shows them.  When wrap_key, the key value (a constant
 * or a $n) is written as ANY($n); when key_expr is not NULL, it is replaced
 * by key_expr instead.
 */
static void
n1_normalize(StringInfo buf, const N1Shape *sh, bool wrap_key, const char *key_expr)
{
	const char *s = sh->src;
	int			len = strlen(s);
	int			pos = 0;
	int			next_param = sh->highest_param + 1;
	int			ci = 0;
	bool		key_done = false;

	while (pos < len)
	{
		int			at = len;
		bool		is_key = false;
		int			tl;

		while (ci < sh->nconsts && sh->consts[ci] < pos)
			ci++;
		if (ci < sh->nconsts)
			at = sh->consts[ci];
		if (sh->keyloc >= pos && sh->keyloc <= at && !key_done &&
			(wrap_key || key_expr))
		{
			at = sh->keyloc;
			is_key = true;
		}
		appendBinaryStringInfo(buf, s + pos, at - pos);
		if (at >= len)
			break;
		tl = n1_literal_len(s, at, len);
		if (is_key && key_expr)
		{
			/* keep the numbering of the other parameters */
			if (!sh->keyparam)
				next_param++;
			appendStringInfoString(buf, key_expr);
		}
		else
		{
			char		tok[32];

			if (sh->keyparam && is_key)
				snprintf(tok, sizeof(tok), "%.*s", Min(tl, 30), s + at);
			else
				snprintf(tok, sizeof(tok), "$%d", next_param++);
			if (is_key)
				appendStringInfo(buf, "ANY(%s)", tok);
			else
				appendStringInfoString(buf, tok);
		}
		if (is_key)
		{
			key_done = true;
			if (!sh->keyparam)
				ci++;
		}
		else
			ci++;
		pos = at + tl;
	}
	/* drop a trailing semicolon and blanks */
	while (buf->len > 0 && (buf->data[buf->len - 1] == ';' ||
							isspace((unsigned char) buf->data[buf->len - 1])))
		buf->data[--buf->len] = '\0';
}

/*
 * The parent's column that holds the child's key, through a foreign key
 * between the two tables (either direction).  Needs a transaction, in the
 * tables' database.
 */
static bool
n1_link_column(Oid parent_relid, Oid child_relid, AttrNumber keyattno,
			   char *out, size_t outlen)
{
	bool		found = false;
	Oid			rels[2] = {parent_relid, child_relid};

	if (!IsTransactionState() || !OidIsValid(parent_relid) ||
		!OidIsValid(child_relid) || keyattno <= 0)
		return false;
	for (int k = 0; k < 2 && !found; k++)
	{
		Relation	rel = try_relation_open(rels[k], AccessShareLock);
		ListCell   *lc;

		if (rel == NULL)
			continue;
		foreach(lc, RelationGetFKeyList(rel))
		{
			ForeignKeyCacheInfo *fk = lfirst(lc);
			char	   *name = NULL;

			if (fk->nkeys != 1)
				continue;
			/* belongs-to: parent.fkcol references child.key */
			if (k == 0 && fk->confrelid == child_relid && fk->confkey[0] == keyattno)
				name = get_attname(parent_relid, fk->conkey[0], true);
			/* has-many: child.key references parent.col */
			if (k == 1 && fk->confrelid == parent_relid && fk->conkey[0] == keyattno)
				name = get_attname(parent_relid, fk->confkey[0], true);
			if (name)
			{
				strlcpy(out, quote_identifier(name), outlen);
				found = true;
				break;
			}
		}
		relation_close(rel, AccessShareLock);
	}
	return found;
}

/*
 * The JOIN (or LATERAL, when the child has its own LIMIT/ORDER BY) form of
 * an N+1's fix, when a foreign key links parent and child.
 */
static void
n1_join_form(StringInfo buf, const N1Entry *e)
{
	char		pcol[NAMEDATALEN + 2];
	const char *k;

	if (e->cls != N1_CLASS_N_PLUS_ONE || e->parent_text[0] == '\0' ||
		e->dbid != MyDatabaseId ||
		!n1_link_column(e->parent_relid, e->child_relid, e->child_keyattno,
						pcol, sizeof(pcol)))
		return;
	appendStringInfo(buf, "\n-- or, in one query with its parent:\nSELECT p.*, c.* FROM (%s) AS p",
					 e->parent_text);
	k = strchr(e->child_keyed, '\x01');
	if (e->child_has_limit && k)
		appendStringInfo(buf, " CROSS JOIN LATERAL (%.*sp.%s%s) AS c",
						 (int) (k - e->child_keyed), e->child_keyed, pcol, k + 1);
	else
		appendStringInfo(buf, " JOIN %s AS c ON c.%s = p.%s",
						 e->child_relname, e->child_keycol, pcol);
}

/* The $n a constant key gets in the normalized text */
static int
n1_key_param_number(const N1Shape *sh)
{
	int			n = sh->highest_param + 1;

	for (int i = 0; i < sh->nconsts && sh->consts[i] < sh->keyloc; i++)
		n++;
	return n;
}

static void
n1_suggest(StringInfo buf, const n1_finding *f, const N1Shape *child)
{
	if (f->cls == N1_CLASS_REDUNDANT)
	{
		appendStringInfo(buf, "-- the same statement ran %u times in a row with the same "
						 "parameters: run it once and reuse the result", f->repeats);
		return;
	}
	if (child == NULL)
		return;

	if (f->cls == N1_CLASS_N_PLUS_ONE)
	{
		if (child->keyloc < 0)
			return;
		if (child->has_limit)
		{
			/* a LIMIT or ORDER BY per key: keep it per key */
			appendStringInfo(buf, "SELECT k.key, c.* FROM unnest($%d::%s[]) AS k(key) "
							 "CROSS JOIN LATERAL (",
							 child->keyparam ? atoi(child->src + child->keyloc + 1) :
							 n1_key_param_number(child), child->keytype);
			n1_normalize(buf, child, false, "k.key");
			appendStringInfoString(buf, ") AS c");
		}
		else
			n1_normalize(buf, child, true, NULL);
		return;
	}

	/* write loop */
	if (child->cmd == CMD_INSERT && child->ncols > 0 && child->relname[0])
	{
		appendStringInfo(buf, "INSERT INTO %s (", child->relname);
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, "%s%s", i ? ", " : "", child->cols[i]);
		appendStringInfoString(buf, ") SELECT * FROM unnest(");
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, "%s$%d::%s[]", i ? ", " : "", i + 1, child->coltypes[i]);
		appendStringInfo(buf, ")\n-- or a multi-row VALUES list, or COPY %s (", child->relname);
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, "%s%s", i ? ", " : "", child->cols[i]);
		appendStringInfoString(buf, ") FROM STDIN");
	}
	else if (child->cmd == CMD_DELETE && child->keyloc >= 0)
		n1_normalize(buf, child, true, NULL);
	else if (child->cmd == CMD_UPDATE && child->keyloc >= 0 && child->ncols > 0)
	{
		appendStringInfo(buf, "UPDATE %s AS t SET ", child->relname);
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, "%s%s = v.%s", i ? ", " : "", child->cols[i], child->cols[i]);
		appendStringInfo(buf, " FROM unnest($1::%s[]", child->keytype);
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, ", $%d::%s[]", i + 2, child->coltypes[i]);
		appendStringInfo(buf, ") AS v(%s", child->keycol);
		for (int i = 0; i < child->ncols; i++)
			appendStringInfo(buf, ", %s", child->cols[i]);
		appendStringInfo(buf, ") WHERE t.%s = v.%s", child->keycol, child->keycol);
	}
}

static void
n1_copy_text(char *dst, const N1Shape *sh, const char *key_expr)
{
	StringInfoData buf;

	dst[0] = '\0';
	if (sh == NULL)
		return;
	initStringInfo(&buf);
	n1_normalize(&buf, sh, false, key_expr);
	if (buf.len >= N1_TEXT_LEN)
		buf.len = pg_mbcliplen(buf.data, buf.len, N1_TEXT_LEN - 1);
	memcpy(dst, buf.data, buf.len);
	dst[buf.len] = '\0';
	pfree(buf.data);
}

/* Detector callback: record one finding in shared memory */
static void
n1_report(const n1_finding *f, void *arg)
{
	N1Shape    *child;
	N1Shape    *parent;
	char		child_text[N1_TEXT_LEN];
	char		parent_text[N1_TEXT_LEN];
	char		child_keyed[N1_TEXT_LEN];
	char		sugg[N1_SUGG_LEN];
	StringInfoData buf;
	Oid			userid;
	N1Entry    *e = NULL;
	bool		is_new = false;
	TimestampTz now;
	bool		do_log = false;

	if (n1 == NULL)
		return;
	if (f->cls == N1_CLASS_NONE)
	{
		/* runs that are not loops: only for debugging */
		ereport(DEBUG1,
				(errmsg_internal("pgplumb: statement %lld repeated %u times (%u distinct, %llu rows, %lld us between) is not a loop: %s",
								 (long long) f->child_fp, f->repeats, f->distinct,
								 (unsigned long long) f->rows, (long long) f->gap_us,
								 n1_reject_name(f->reject))));
		return;
	}

	child = n1_cache_lookup(f->child_fp);
	parent = n1_cache_lookup(f->parent_fp);
	userid = GetUserId();
	now = GetCurrentTimestamp();

	/* text work first, outside of the lock */
	n1_copy_text(child_text, child, NULL);
	n1_copy_text(parent_text, parent, NULL);
	child_keyed[0] = '\0';
	if (child && child->keyloc >= 0)
		n1_copy_text(child_keyed, child, "\x01");
	initStringInfo(&buf);
	n1_suggest(&buf, f, child);
	strlcpy(sugg, buf.data, sizeof(sugg));
	pfree(buf.data);

	LWLockAcquire(n1->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n1->nentries; i++)
	{
		N1Entry    *x = &n1->entries[i];

		if (x->child_qid == f->child_fp && x->parent_qid == f->parent_fp &&
			x->cls == (int32) f->cls && x->dbid == MyDatabaseId && x->userid == userid)
		{
			e = x;
			break;
		}
	}
	if (e == NULL && n1->nentries < n1->max)
	{
		e = &n1->entries[n1->nentries++];
		memset(e, 0, sizeof(*e));
		e->userid = userid;
		e->dbid = MyDatabaseId;
		e->child_qid = f->child_fp;
		e->parent_qid = f->parent_fp;
		e->cls = f->cls;
		e->first_seen = now;
		is_new = true;
	}
	if (e == NULL)
		n1->dropped++;
	else
	{
		e->loops++;
		e->total_repeats += f->repeats;
		e->max_repeats = Max(e->max_repeats, (int64) f->repeats);
		e->total_rows += f->rows;
		e->parent_rows = f->parent_rows;
		e->exec_ms += f->exec_us / 1000.0;
		e->saved_ms += f->saved_us / 1000.0;
		e->last_seen = now;
		if (child_text[0])
			strlcpy(e->child_text, child_text, N1_TEXT_LEN);
		if (parent_text[0])
			strlcpy(e->parent_text, parent_text, N1_TEXT_LEN);
		if (child)
		{
			e->child_relid = child->relid;
			e->child_keyattno = child->keyattno;
			e->child_has_limit = child->has_limit;
			strlcpy(e->child_relname, child->relname, sizeof(e->child_relname));
			strlcpy(e->child_keycol, child->keycol, sizeof(e->child_keycol));
			strlcpy(e->child_keyed, child_keyed, sizeof(e->child_keyed));
		}
		if (parent)
			e->parent_relid = parent->relid;
		if (sugg[0] && (is_new || e->suggestion[0] == '\0' || strlen(sugg) >= strlen(e->suggestion)))
			strlcpy(e->suggestion, sugg, N1_SUGG_LEN);
		if (is_new && n1_log)
		{
			if (TimestampDifferenceExceeds(n1->last_log, now, N1_LOG_INTERVAL_MS))
			{
				n1->last_log = now;
				do_log = true;
			}
			else
				n1->log_suppressed++;
		}
	}
	LWLockRelease(n1->lock);

	if (do_log)
		ereport(LOG,
				(errmsg("pgplumb: %s loop: statement %lld ran %u times%s%s",
						n1_class_name(f->cls), (long long) f->child_fp, f->repeats,
						f->parent_fp ? " after statement " : "",
						f->parent_fp ? psprintf("%lld", (long long) f->parent_fp) : ""),
				 child_text[0] ? errdetail("Statement: %s", child_text) : 0,
				 sugg[0] ? errhint("Rewrite: %s", sugg) : 0));
}

/*---- SQL functions ----*/

Datum
pgplumb_n_plus_one(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			userid = GetUserId();
	bool		all_stats = has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);
	N1Entry    *copy;
	int			nentries;

	pp_require_shmem(n1 != NULL);

	/* loops this backend has not closed yet are part of what it reads */
	if (n1_det)
		n1_flush_all(n1_det);

	InitMaterializedSRF(fcinfo, 0);

	/* copy the entries, then build rows (catalog lookups) without the lock */
	LWLockAcquire(n1->lock, LW_SHARED);
	nentries = n1->nentries;
	copy = palloc(Max(nentries, 1) * sizeof(N1Entry));
	memcpy(copy, n1->entries, nentries * sizeof(N1Entry));
	LWLockRelease(n1->lock);

	for (int i = 0; i < nentries; i++)
	{
		N1Entry    *e = &copy[i];
		Datum		values[17];
		bool		nulls[17];
		int			j = 0;
		bool		visible = all_stats || e->userid == userid;

		memset(nulls, 0, sizeof(nulls));
		values[j++] = ObjectIdGetDatum(e->userid);
		values[j++] = ObjectIdGetDatum(e->dbid);
		values[j++] = CStringGetTextDatum(n1_class_name(e->cls));
		if (e->parent_qid)
			values[j++] = Int64GetDatum((int64) e->parent_qid);
		else
			nulls[j++] = true;
		if (!visible)
			values[j++] = CStringGetTextDatum("<insufficient privilege>");
		else if (e->parent_text[0])
			values[j++] = CStringGetTextDatum(e->parent_text);
		else
			nulls[j++] = true;
		values[j++] = Int64GetDatum((int64) e->child_qid);
		if (!visible)
			values[j++] = CStringGetTextDatum("<insufficient privilege>");
		else if (e->child_text[0])
			values[j++] = CStringGetTextDatum(e->child_text);
		else
			nulls[j++] = true;
		values[j++] = Int64GetDatum(e->loops);
		values[j++] = Int64GetDatum(e->total_repeats);
		values[j++] = Int64GetDatum(e->max_repeats);
		values[j++] = Int64GetDatum(e->total_rows);
		values[j++] = Int64GetDatum(e->parent_rows);
		values[j++] = Float8GetDatum(e->exec_ms);
		values[j++] = Float8GetDatum(e->saved_ms);
		values[j++] = TimestampTzGetDatum(e->first_seen);
		values[j++] = TimestampTzGetDatum(e->last_seen);
		if (visible && e->suggestion[0])
		{
			StringInfoData buf;

			initStringInfo(&buf);
			appendStringInfoString(&buf, e->suggestion);
			n1_join_form(&buf, e);
			values[j++] = CStringGetTextDatum(buf.data);
		}
		else
			nulls[j++] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
pgplumb_reset_n_plus_one(PG_FUNCTION_ARGS)
{
	pp_require_shmem(n1 != NULL);
	if (n1_det)
	{
		/* n1_detector_init clears the detector, configuration included */
		n1_config	cfg = n1_det->cfg;

		n1_detector_init(n1_det, N1_SCOPES, &cfg, n1_report, NULL);
		n1_detector_set_parent_lookup(n1_det, n1_find_parent, NULL);
	}
	LWLockAcquire(n1->lock, LW_EXCLUSIVE);
	n1->nentries = 0;
	n1->dropped = 0;
	n1->log_suppressed = 0;
	n1->stats_reset = GetCurrentTimestamp();
	LWLockRelease(n1->lock);
	PG_RETURN_TIMESTAMPTZ(n1->stats_reset);
}
