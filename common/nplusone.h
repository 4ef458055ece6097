/*
 * nplusone.h -- the N+1 query detector core, shared by the extension and
 * the pooler; no dependency on either.
 *
 * The caller feeds one n1_event per finished statement.  Events are grouped
 * by scope (one client: a backend session, or a pooler client connection)
 * and, inside a scope, by unit of work (an explicit transaction, or a burst
 * of statements separated from the next by idle time).  Inside a unit the
 * detector keeps one "run" per statement fingerprint: how often it ran, how
 * many distinct parameter values, rows per call, the gaps between
 * iterations, and the multi-row statement that preceded the run (its
 * parent).  A run ends when its own rhythm breaks (an iteration gap far
 * larger than the previous ones, or larger than an absolute cap), when the
 * unit of work ends, or when its slot is needed; it is then classified and,
 * when it is a loop worth fixing, handed to the caller's report callback.
 *
 * Memory: fixed at n1_detector_init; nothing is allocated per event.  Each
 * event costs a lookup in a small table of scopes and a scan of at most
 * N1_MAX_RUNS run slots of the scope.  A run that can no longer be reported
 * settles; the caller may first offer a statement to n1_feed_settled, which
 * extends such a run with a few compares and stores, and build the full
 * event for n1_feed only when it declines.
 *
 * Naming: public names start with n1_ / N1_; internal ones in nplusone.c
 * with n1__.
 */
#ifndef PGPLUMB_NPLUSONE_H
#define PGPLUMB_NPLUSONE_H

#include <stddef.h>
#include <stdint.h>

/* Run slots per scope, distinct parameter hashes kept per run, parent
 * candidates remembered per scope. */
#define N1_MAX_RUNS 16
#define N1_MAX_DISTINCT 8
#define N1_MAX_PARENTS 4
/* Slots of the per-scope index from a fingerprint to its run's slot */
#define N1_RUN_HINTS 64
/* Gap histogram per run: quarter-octave buckets from 1 us to about 2^28 us */
#define N1_GAP_BUCKETS 112

typedef enum n1_kind
{
	N1_KIND_READ = 0,			/* SELECT */
	N1_KIND_WRITE,				/* INSERT, UPDATE, DELETE, MERGE */
	N1_KIND_OTHER,				/* anything else: only advances the clock */
	N1_KIND_FETCH				/* rows fetched from a cursor: may feed the
								 * loop that follows, never a loop itself */
} n1_kind;

typedef enum n1_class
{
	N1_CLASS_NONE = 0,			/* not a loop worth reporting */
	N1_CLASS_N_PLUS_ONE,		/* read loop with distinct parameters */
	N1_CLASS_REDUNDANT,			/* same statement, same parameters, again */
	N1_CLASS_WRITE_LOOP			/* single-row writes with distinct values */
} n1_class;

/* Why a run was not reported (for tests, the evaluation and debugging) */
typedef enum n1_reject
{
	N1_REJECT_NONE = 0,
	N1_REJECT_FEW_REPEATS,		/* fewer than min_repeats iterations */
	N1_REJECT_PIPELINED,		/* iterations sent without waiting: a batch */
	N1_REJECT_MANY_ROWS,		/* many rows per call: pagination, chunks */
	N1_REJECT_FEW_DISTINCT,		/* 2 <= D < min_distinct */
	N1_REJECT_INDEPENDENT,		/* iterations far apart, at irregular
								 * intervals: independent requests that reuse
								 * one connection */
	N1_REJECT_NO_PARENT			/* outside of a transaction and with no
								 * parent: a read loop, or a write loop
								 * interleaved with other repeating
								 * statements, is independent requests
								 * (pgbench -S, a web app's requests on a
								 * pooled connection) */
} n1_reject;

typedef struct n1_config
{
	int			min_repeats;	/* iterations for a loop (5) */
	int			min_distinct;	/* distinct parameter values for N+1 (2) */
	double		max_rows_per_call;	/* average rows per call (2.0) */
	double		has_many_max_rows;	/* average rows per call allowed when a
									 * parent with more rows is known (10) */
	int64_t		max_gap_us;		/* absolute cap on an iteration gap (100 ms) */
	double		gap_factor;		/* a gap may grow to this many times the
								 * loop's mean gap so far (8) */
	int64_t		min_gap_slack_us;	/* a gap below this never breaks a loop,
									 * whatever its rhythm (50 ms) */
	int64_t		idle_us;		/* idle time between two statements that
								 * always ends the unit of work (1 s) */
	int64_t		burst_min_gap_us;	/* loops whose median gap is longer than
									 * this must be regular (10 ms) */
	int64_t		pipeline_gap_us;	/* gaps below this are pipelined (10 us) */
	double		independent_spread; /* a run whose median gap exceeds
									 * burst_min_gap_us and whose gaps' ratio
									 * q90 / q10 exceeds this is independent
									 * requests (1.35) */
	uint64_t	parent_min_rows;	/* rows for a statement to be a parent (2) */
	int			span_units;		/* a statement that runs once per unit of
								 * work, unit after unit, keeps its run going
								 * (a loop whose iterations each commit); 0:
								 * every unit change ends all runs */
	int			report_rejected;	/* also report runs of at least 3
									 * iterations that are not loops, with cls
									 * N1_CLASS_NONE (for debugging) */
} n1_config;

typedef struct n1_event
{
	uint64_t	scope_id;		/* client identity: backend, client_id, ... */
	uint64_t	unit_id;		/* unit of work inside the scope; a change
								 * ends every loop of the scope; 0 for
								 * statements outside of a transaction block
								 * (autocommit) */
	uint64_t	fingerprint;	/* statement shape (queryid); 0 = untracked */
	uint64_t	params_hash;	/* hash of the parameter values */
	int64_t		start_us;		/* when the statement started */
	int64_t		end_us;			/* when it finished */
	uint64_t	rows;			/* rows returned or affected */
	n1_kind		kind;
	int			pipelined;		/* the client sent this statement before the
								 * previous one's reply (pipeline, batch,
								 * multi-statement string), when known */
} n1_event;

/* One detected loop, passed to the report callback */
typedef struct n1_finding
{
	n1_class	cls;
	n1_reject	reject;			/* why cls is N1_CLASS_NONE */
	uint64_t	scope_id;
	uint64_t	child_fp;
	uint64_t	parent_fp;		/* 0 when no parent was found */
	uint64_t	parent_rows;	/* rows of the parent (0 without one) */
	n1_kind		kind;
	uint32_t	repeats;		/* iterations of the loop */
	uint32_t	distinct;		/* distinct parameter values, capped at
								 * N1_MAX_DISTINCT + 1 */
	uint64_t	rows;			/* rows of all iterations */
	int64_t		exec_us;		/* time inside the child statements */
	int64_t		max_exec_us;	/* longest single iteration */
	int64_t		gap_us;			/* time between iterations (round trips and
								 * application work) */
	int64_t		min_gap_us;		/* shortest gap between two iterations */
	int64_t		first_start_us;
	int64_t		last_end_us;
	int64_t		saved_us;		/* estimated time one batched query saves */
} n1_finding;

typedef void (*n1_report_fn) (const n1_finding *finding, void *arg);

/*
 * Find the parent of a loop among the caller's other scopes: the latest
 * multi-row read that another scope of the same client application
 * finished shortly before before_us.  Returns 1 and fills *fp and *rows
 * when there is one.  Asked only for a run outside of a transaction that
 * has no parent in its own scope and is not interleaved with other
 * repeating statements.
 */
typedef int (*n1_parent_fn) (uint64_t scope_id, int64_t before_us,
							 uint64_t *fp, uint64_t *rows, void *arg);

/* Per-run state; opaque to callers but sized here for static allocation */
typedef struct n1_run
{
	/* first, together: what n1_feed_settled reads and writes */
	uint64_t	fp;
	uint64_t	rows;
	int64_t		last_end;
	uint32_t	count;
	uint32_t	unit_count;		/* iterations in its latest unit */
	uint32_t	unit_seq;		/* its latest unit (n1_scope.unit_seq) */
	n1_kind		kind;
	uint8_t		in_xact;		/* ran inside one transaction block */
	uint8_t		interleaved;	/* another statement repeated as often,
								 * interleaved with it (set at close) */
	uint8_t		settled;		/* can no longer be reported: from now on
								 * n1_feed_settled keeps only what the other
								 * runs and the closing rules read (see
								 * n1__settles) */
	uint64_t	max_rows;
	uint64_t	first_rows;
	uint32_t	same_rows;		/* calls that returned first_rows rows */
	uint32_t	ndistinct;
	uint32_t	npipelined;		/* gaps below pipeline_gap_us */
	uint32_t	nunits;			/* units of work it spans */
	uint32_t	cand_seq;		/* n1_scope.cand_seq when it began */
	uint32_t	same_prev;		/* iterations that came right after the same
								 * other statement as the iteration before */
	uint64_t	prev_fp;		/* statement right before its latest iteration */
	int64_t		first_start;
	int64_t		exec_sum;
	int64_t		exec_max;
	int64_t		gap_sum;
	int64_t		gap_min;
	uint16_t	gap_hist[N1_GAP_BUCKETS];	/* saturating counts */
	uint64_t	distinct[N1_MAX_DISTINCT];
	uint64_t	parent_fp[N1_MAX_PARENTS];	/* newest first; 0 = none */
	uint64_t	parent_rows[N1_MAX_PARENTS];
	uint32_t	parent_reruns[N1_MAX_PARENTS];	/* times each ran again while
												 * this run went on */
} n1_run;

typedef struct n1_scope
{
	uint64_t	scope_id;
	uint64_t	unit_id;
	uint32_t	unit_seq;		/* bumped at every change of unit_id */
	int			unit_repeats;	/* 0: no run has 2 iterations in this unit */
	uint64_t	last_used;		/* detector tick, for LRU replacement */
	int64_t		last_end;		/* end of the scope's latest statement */
	uint32_t	nevents;
	int			in_use;
	int			nruns;
	int			last_slot;		/* run slot of the latest event */
	uint64_t	prev_fp;		/* the latest statement fed */
	uint64_t	run_fp[N1_MAX_RUNS];	/* 0 = free slot */
	uint8_t		run_hint[N1_RUN_HINTS]; /* fp % N1_RUN_HINTS -> a slot that
										 * held fp lately (check run_fp) */
	n1_run		runs[N1_MAX_RUNS];
	uint32_t	cand_seq;		/* bumped at every multi-row read */
	/* recent multi-row reads, newest first */
	uint64_t	cand_fp[N1_MAX_PARENTS];
	uint64_t	cand_rows[N1_MAX_PARENTS];
} n1_scope;

typedef struct n1_stats
{
	uint64_t	events;
	uint64_t	runs_closed;
	uint64_t	findings[4];	/* by n1_class */
	uint64_t	scopes_evicted;
} n1_stats;

typedef struct n1_detector
{
	n1_config	cfg;
	n1_report_fn report;
	void	   *report_arg;
	n1_parent_fn find_parent;	/* NULL: parents only from the own scope */
	void	   *find_parent_arg;
	/* derived from cfg by n1_detector_init and n1_detector_configure */
	uint32_t	settle_at;		/* iterations before a run may settle */
	int64_t		settled_gap_us; /* gap that ends a run of settle_at iterations
								 * or more */
	int64_t		min_allowed_gap_us; /* no gap below this ends a run */
	int64_t		quick_gap_us;	/* min(idle_us, settled_gap_us) */
	uint64_t	tick;
	int			nscopes;
	n1_scope   *last_scope;		/* the latest scope used (in_use), or NULL */
	n1_stats	stats;
	n1_scope	scopes[];		/* nscopes of them */
} n1_detector;

/* Fill *cfg with the defaults */
extern void n1_config_default(n1_config *cfg);

/* Bytes n1_detector_init needs for a detector of nscopes scopes */
extern size_t n1_detector_size(int nscopes);

/*
 * Initialize a detector in caller-owned memory of n1_detector_size(nscopes)
 * bytes.  The configuration is copied.  report may be NULL.  Returns the
 * detector (== mem).
 */
extern n1_detector *n1_detector_init(void *mem, int nscopes,
									 const n1_config *cfg,
									 n1_report_fn report, void *report_arg);

/* Replace the configuration (e.g. after a settings change) */
extern void n1_detector_configure(n1_detector *det, const n1_config *cfg);

/* Let the detector look for parents in the caller's other scopes */
extern void n1_detector_set_parent_lookup(n1_detector *det, n1_parent_fn fn,
										  void *arg);

/* Feed one finished statement */
extern void n1_feed(n1_detector *det, const n1_event *ev);

/*
 * End the current unit of work of one scope (or of every scope): every
 * open run is classified and reported.
 */
extern void n1_flush_scope(n1_detector *det, uint64_t scope_id);
extern void n1_flush_all(n1_detector *det);

/*
 * Classify a finished run; *reject says why it is N1_CLASS_NONE.
 * parent_rows: rows of the parent (over its whole run when the parent is
 * itself repeating); parent_once_rows: rows of the parent's execution that
 * preceded the run.  Exposed for tests.
 */
extern n1_class n1_classify(const n1_config *cfg, const n1_run *run,
							uint64_t parent_rows, uint64_t parent_once_rows,
							n1_reject *reject);

extern const char *n1_class_name(n1_class cls);
extern const char *n1_reject_name(n1_reject r);

/*
 * The quick path, for the bulk of the statements of a busy connection
 * (pgbench -S, TPC-B, requests on a pooled connection): a statement whose
 * run in the scope has settled, i.e. can no longer be reported (it has no
 * parent and runs outside of one transaction, see n1__settles), and that
 * changes nothing else the detector watches.  Only the counts that other
 * runs and the closing rules read are kept up to date.
 *
 * Returns the run's iteration count when it took the statement, or 0: then
 * the caller must feed the full event to n1_feed.  Only what the event's
 * other fields (parameters, kind, pipelining) would change is left out, so
 * the caller may compute them only when this returns 0.
 */
static inline uint32_t
n1_feed_settled(n1_detector *det, uint64_t scope_id, uint64_t unit_id,
				uint64_t fp, int64_t start_us, int64_t end_us, uint64_t rows)
{
	n1_scope   *s = det->last_scope;
	n1_run	   *r;
	const n1_run *o;
	unsigned	slot,
				rr;
	uint32_t	nevents,
				unit_seq,
				count;
	int64_t		last_end;

	if (s == NULL || s->scope_id != scope_id)
		return 0;
	slot = s->run_hint[fp % N1_RUN_HINTS];
	if (s->run_fp[slot] != fp || fp == 0)
		return 0;
	r = &s->runs[slot];
	last_end = r->last_end;

	/*
	 * What n1_feed would do beyond extending the run is left to it: end the
	 * run or the unit of work, take a parent candidate, end another run
	 * (round robin).  A settled run's last_end is not after the scope's, so
	 * one gap below quick_gap_us (the smaller of idle_us and the gap that
	 * ends a settled run) is below both.
	 */
	if (!r->settled || start_us - last_end > det->quick_gap_us ||
		(rows >= det->cfg.parent_min_rows && r->kind == N1_KIND_READ))
		return 0;
	nevents = s->nevents;
	rr = nevents % N1_MAX_RUNS;
	o = &s->runs[rr];
	if (rr != slot && s->run_fp[rr] != 0 &&
		end_us - o->last_end > det->min_allowed_gap_us)
		return 0;
	unit_seq = s->unit_seq;
	if (unit_id != s->unit_id)
	{
		if (s->unit_repeats || !det->cfg.span_units)
			return 0;
		s->unit_id = unit_id;
		s->unit_seq = ++unit_seq;
	}

	/*
	 * As n1_feed would, for what the closing rules and the other runs read
	 * (not the run's own statistics, nor which statement came before it)
	 */
	count = r->count + 1;
	if (r->unit_seq != unit_seq)
	{
		r->unit_seq = unit_seq;
		r->unit_count = 1;
	}
	else
	{
		r->unit_count++;
		s->unit_repeats = 1;
	}
	r->count = count;
	r->rows += rows;
	if (end_us > last_end)
		r->last_end = end_us;
	if (end_us > s->last_end)
		s->last_end = end_us;
	s->last_slot = (int) slot;
	s->prev_fp = fp;
	s->nevents = nevents + 1;
	s->last_used = ++det->tick;
	det->stats.events++;
	return count;
}

/* Hashing helpers for parameter values */
extern uint64_t n1_hash_bytes(const void *data, size_t len, uint64_t seed);

#define N1__M1 UINT64_C(0x9e3779b97f4a7c15)
#define N1__M2 UINT64_C(0xbf58476d1ce4e5b9)
#define N1__M3 UINT64_C(0x94d049bb133111eb)

/* A 64-bit finalizer (splitmix64's) */
static inline uint64_t
n1__mix(uint64_t x)
{
	x ^= x >> 30;
	x *= N1__M2;
	x ^= x >> 27;
	x *= N1__M3;
	x ^= x >> 31;
	return x;
}

/*
 * h combined with v.  Inline: the extension calls it for every bound
 * parameter of every statement.
 */
static inline uint64_t
n1_hash_combine(uint64_t h, uint64_t v)
{
	return n1__mix(h ^ (v + N1__M1 + (h << 6) + (h >> 2)));
}

#endif							/* PGPLUMB_NPLUSONE_H */
