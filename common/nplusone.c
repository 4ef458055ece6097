/*
 * nplusone.c -- the N+1 query detector core: runs of one statement shape
 * inside a client's unit of work, and their classification.
 *
 * See nplusone.h for the model.  The rules, in the order n1_classify
 * applies them to a finished run of N iterations, D distinct parameter
 * values and R rows:
 *
 *   N < min_repeats                        -> nothing
 *   most iterations pipelined (flagged by
 *   the caller, or gap < pipeline_gap_us)  -> nothing (a pipelined batch
 *                                             already saves the round trips)
 *   median gap > burst_min_gap_us,
 *   q90/q10 of gaps > independent_spread,
 *   and no parent with >= N rows           -> nothing (independent requests
 *                                             that reuse one connection)
 *   D == 1                                 -> redundant (cache it)
 *   D < min_distinct                       -> nothing
 *   outside of a transaction, no parent,
 *   and a read or a write interleaved with
 *   another statement repeated as often    -> nothing (independent requests:
 *                                             pgbench -S, a web app's requests
 *                                             reusing a pooled connection)
 *   R/N <= max_rows_per_call               -> n_plus_one, or write_loop
 *   a read with a parent of more rows,
 *   R/N <= has_many_max_rows, and not
 *   page-shaped                            -> n_plus_one (has-many loop)
 *   otherwise                              -> nothing (pagination, chunks)
 *
 * A unit of work ends when the caller says so (unit_id changes, e.g. at
 * the end of a transaction block) or after idle_us without statements.
 * After idle time every run ends; at a unit change only the runs that
 * repeated inside the unit do: one that ran once in it may go on in the
 * next units, a loop that commits every iteration (see n1__unit_end).
 * Independent requests that reuse one connection are told from loops by
 * their rhythm: their gaps are the client's idle time between requests,
 * long and irregular, while a loop's gaps are short (an odd long one when
 * the client was descheduled does not matter, as the median is used) or,
 * for a slow loop, regular.
 *
 * A run continues while the gap between two iterations (start of one minus
 * end of the previous one) stays below min(max_gap_us, max(min_gap_slack_us,
 * gap_factor * mean gap so far)): a loop keeps its rhythm, a statement that
 * comes back after the application did something else does not.  Once a
 * run has 4 * min_repeats iterations only a gap of 4 * max_gap_us ends it
 * (a client descheduled for a moment does not cut a long loop in two).
 *
 * The parent of a run is chosen among the multi-row reads that preceded its
 * first iteration in the same unit of work (newest first): one whose rows
 * equal the run's iterations, else one with at least as many rows, else the
 * newest.  For a nested loop the parent is the enclosing loop's statement,
 * whose rows are counted over that whole loop while it is still open.
 */
#include "nplusone.h"

#include <math.h>
#include <string.h>

/*---- hashing ----*/

/* N1__M1, n1__mix and n1_hash_combine are in nplusone.h (inline) */

uint64_t
n1_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t	h = seed ^ (len * N1__M1);

	while (len >= 8)
	{
		uint64_t	k;

		memcpy(&k, p, 8);
		h = n1__mix(h ^ k) + N1__M1;
		p += 8;
		len -= 8;
	}
	if (len > 0)
	{
		uint64_t	k = 0;

		memcpy(&k, p, len);
		h = n1__mix(h ^ k ^ ((uint64_t) len << 56)) + N1__M1;
	}
	return n1__mix(h);
}

/*---- configuration ----*/

void
n1_config_default(n1_config *cfg)
{
	cfg->min_repeats = 5;
	cfg->min_distinct = 2;
	cfg->max_rows_per_call = 2.0;
	cfg->has_many_max_rows = 10.0;
	cfg->max_gap_us = 100 * 1000;
	cfg->gap_factor = 8.0;
	cfg->min_gap_slack_us = 50 * 1000;
	cfg->idle_us = 1000 * 1000;
	cfg->burst_min_gap_us = 10 * 1000;
	cfg->pipeline_gap_us = 10;
	cfg->independent_spread = 1.35;
	cfg->parent_min_rows = 2;
	cfg->span_units = 1;
	cfg->report_rejected = 0;
}

const char *
n1_class_name(n1_class cls)
{
	switch (cls)
	{
		case N1_CLASS_N_PLUS_ONE:
			return "n_plus_one";
		case N1_CLASS_REDUNDANT:
			return "redundant";
		case N1_CLASS_WRITE_LOOP:
			return "write_loop";
		case N1_CLASS_NONE:
			break;
	}
	return "none";
}

const char *
n1_reject_name(n1_reject r)
{
	switch (r)
	{
		case N1_REJECT_NONE:
			return "none";
		case N1_REJECT_FEW_REPEATS:
			return "few_repeats";
		case N1_REJECT_PIPELINED:
			return "pipelined";
		case N1_REJECT_MANY_ROWS:
			return "many_rows";
		case N1_REJECT_FEW_DISTINCT:
			return "few_distinct";
		case N1_REJECT_INDEPENDENT:
			return "independent";
		case N1_REJECT_NO_PARENT:
			return "no_parent";
	}
	return "?";
}

/*---- gap histogram ----*/

/* Bucket of a gap: 4 buckets per octave */
static inline int
n1__gap_bucket(int64_t gap)
{
	int			msb,
				b;

	if (gap < 1)
		return 0;
	msb = 63 - __builtin_clzll((unsigned long long) gap);
	b = msb * 4 + (msb >= 2 ? (int) ((gap >> (msb - 2)) & 3) : 0);
	return b < N1_GAP_BUCKETS ? b : N1_GAP_BUCKETS - 1;
}

/* Smallest gap of a bucket */
static inline double
n1__bucket_low(int b)
{
	return pow(2.0, b / 4) * (1.0 + (b % 4) / 4.0);
}

/* Buckets holding the quantiles q[0..n-1] (ascending) of the run's gaps */
static void
n1__gap_quantiles(const n1_run *run, const double *q, int *out, int n)
{
	uint64_t	total = 0,
				acc = 0;
	int			k = 0;

	for (int b = 0; b < N1_GAP_BUCKETS; b++)
		total += run->gap_hist[b];
	for (int j = 0; j < n; j++)
		out[j] = 0;
	for (int b = 0; b < N1_GAP_BUCKETS && k < n && total > 0; b++)
	{
		acc += run->gap_hist[b];
		while (k < n && (double) acc >= q[k] * (double) total)
			out[k++] = b;
	}
}

/*---- classification ----*/

n1_class
n1_classify(const n1_config *cfg, const n1_run *run, uint64_t parent_rows,
			uint64_t parent_once_rows, n1_reject *reject)
{
	uint32_t	n = run->count;
	double		avg_rows;

	*reject = N1_REJECT_NONE;
	if (n < (uint32_t) cfg->min_repeats || n == 0)
	{
		*reject = N1_REJECT_FEW_REPEATS;
		return N1_CLASS_NONE;
	}
	if (n > 1 && (uint64_t) run->npipelined * 2 > (uint64_t) (n - 1))
	{
		*reject = N1_REJECT_PIPELINED;
		return N1_CLASS_NONE;
	}
	if (n > 2)
	{
		static const double qs[3] = {0.10, 0.50, 0.90};
		int			qb[3];

		/*
		 * Slow and irregular, unless a parent with at least as many rows
		 * explains the iterations (a loop with slow, uneven work per row).
		 */
		n1__gap_quantiles(run, qs, qb, 3);
		if (n1__bucket_low(qb[1]) > cfg->burst_min_gap_us &&
			pow(2.0, (qb[2] - qb[0]) / 4.0) > cfg->independent_spread &&
			parent_once_rows < n)
		{
			*reject = N1_REJECT_INDEPENDENT;
			return N1_CLASS_NONE;
		}
	}
	if (run->ndistinct <= 1)
		return N1_CLASS_REDUNDANT;
	if (run->ndistinct < (uint32_t) cfg->min_distinct)
	{
		*reject = N1_REJECT_FEW_DISTINCT;
		return N1_CLASS_NONE;
	}

	/*
	 * A loop feeds on something: the rows of a parent, or work inside one
	 * transaction.  Statements that repeat in autocommit with no parent are
	 * independent requests on one connection: point lookups one after the
	 * other, or requests whose statements all repeat together.
	 */
	if (!run->in_xact && parent_rows == 0 &&
		(run->kind == N1_KIND_READ || run->interleaved))
	{
		*reject = N1_REJECT_NO_PARENT;
		return N1_CLASS_NONE;
	}

	avg_rows = (double) run->rows / n;
	if (avg_rows <= cfg->max_rows_per_call)
		return run->kind == N1_KIND_WRITE ? N1_CLASS_WRITE_LOOP : N1_CLASS_N_PLUS_ONE;

	/*
	 * A has-many loop (the comments of each post) returns a few rows per
	 * call.  Accept it when a parent with more rows than any call fed it,
	 * unless every call but the last returned the same number of rows as the
	 * parent: that is the shape of pages fetched one after another.
	 */
	if (run->kind == N1_KIND_READ && parent_rows > 0 &&
		avg_rows <= cfg->has_many_max_rows)
	{
		int			page_shaped = run->same_rows + 1 >= n &&
		run->first_rows == parent_rows;

		if (!page_shaped)
			return N1_CLASS_N_PLUS_ONE;
	}
	*reject = N1_REJECT_MANY_ROWS;
	return N1_CLASS_NONE;
}

/*---- scopes and runs ----*/

size_t
n1_detector_size(int nscopes)
{
	return sizeof(n1_detector) + (size_t) nscopes * sizeof(n1_scope);
}

/* Set the configuration and what n1_feed_settled derives from it */
static void
n1__set_config(n1_detector *det, const n1_config *cfg)
{
	det->cfg = *cfg;

	/*
	 * From 4 * min_repeats iterations on, a run without a parent candidate
	 * ends only after a gap of 4 * max_gap_us (n1__allowed_gap); a gap ends
	 * no run below min(max_gap_us, min_gap_slack_us).
	 */
	det->settle_at = cfg->min_repeats > 0 ? 4 * (uint32_t) cfg->min_repeats : 4;
	det->settled_gap_us = 4 * cfg->max_gap_us;
	det->min_allowed_gap_us = cfg->max_gap_us < cfg->min_gap_slack_us ?
		cfg->max_gap_us : cfg->min_gap_slack_us;
	det->quick_gap_us = cfg->idle_us < det->settled_gap_us ?
		cfg->idle_us : det->settled_gap_us;
}

n1_detector *
n1_detector_init(void *mem, int nscopes, const n1_config *cfg,
				 n1_report_fn report, void *report_arg)
{
	n1_detector *det = mem;

	memset(det, 0, n1_detector_size(nscopes));
	n1__set_config(det, cfg);
	det->report = report;
	det->report_arg = report_arg;
	det->nscopes = nscopes;
	det->last_scope = NULL;
	return det;
}

void
n1_detector_configure(n1_detector *det, const n1_config *cfg)
{
	n1__set_config(det, cfg);
}

void
n1_detector_set_parent_lookup(n1_detector *det, n1_parent_fn fn, void *arg)
{
	det->find_parent = fn;
	det->find_parent_arg = arg;
}

/* Rows the statement fp produced in this scope: over its open run if it is
 * repeating, else the rows remembered for it.  *count: how often it ran in
 * that open run (1 without one). */
static uint64_t
n1__effective_rows(const n1_scope *s, uint64_t fp, uint64_t remembered,
				   uint32_t *count)
{
	*count = 1;
	for (int i = 0; i < N1_MAX_RUNS; i++)
	{
		if (s->run_fp[i] == fp && s->runs[i].count >= 2)
		{
			*count = s->runs[i].count;
			return s->runs[i].rows;
		}
	}
	return remembered;
}

/*
 * Pick the parent of run r; returns its index in r->parent_fp or -1.  A
 * candidate that ran about as often as r itself is no parent: it repeats
 * along with r (a sibling in the same loop, or another statement of the
 * same repeated request).  That is its open run's count, or, when its run
 * was cut meanwhile, how often it ran again since r began: at least once
 * every other iteration of r.
 */
static int
n1__pick_parent(const n1_scope *s, const n1_run *r, uint64_t *rows_out)
{
	uint64_t	eff[N1_MAX_PARENTS];
	int			ok[N1_MAX_PARENTS];
	int			n = 0;

	for (; n < N1_MAX_PARENTS && r->parent_fp[n] != 0; n++)
	{
		uint32_t	c;

		eff[n] = n1__effective_rows(s, r->parent_fp[n], r->parent_rows[n], &c);
		ok[n] = (c < 2 || c + 1 < r->count) &&
			(uint64_t) r->parent_reruns[n] * 2 < r->count;
	}
	for (int i = 0; i < n; i++)
		if (ok[i] && eff[i] == r->count)
			return *rows_out = eff[i], i;
	for (int i = 0; i < n; i++)
		if (ok[i] && eff[i] >= r->count)
			return *rows_out = eff[i], i;
	for (int i = 0; i < n; i++)
		if (ok[i])
			return *rows_out = eff[i], i;
	*rows_out = 0;
	return -1;
}

/*
 * Does another statement repeat as often as run r, interleaved with it?
 * Either one whose open run overlaps r with half as many iterations or
 * more, or one that came right before most of r's iterations (its own run
 * may have been cut meanwhile).
 */
static int
n1__interleaved(const n1_scope *s, const n1_run *r)
{
	if ((uint64_t) r->same_prev * 2 >= r->count)
		return 1;
	for (int i = 0; i < N1_MAX_RUNS; i++)
	{
		const n1_run *o = &s->runs[i];

		if (s->run_fp[i] == 0 || o == r || o->count < 2)
			continue;
		if ((uint64_t) o->count * 2 >= r->count &&
			o->first_start < r->last_end && o->last_end > r->first_start)
			return 1;
	}
	return 0;
}

/* Classify the run in slot i and report it if it is a loop */
static void
n1__judge_run(n1_detector *det, n1_scope *s, int i)
{
	n1_run	   *r = &s->runs[i];
	uint64_t	parent_rows = 0;
	uint64_t	parent_fp;
	int			p;
	n1_reject	why;
	n1_class	cls;

	/*
	 * The common cases: a statement that did not repeat, or a run that
	 * settled (its verdict is known, its statistics are no longer kept)
	 */
	if (r->settled ||
		(r->count < (uint32_t) det->cfg.min_repeats &&
		 (!det->cfg.report_rejected || r->count < 3)))
	{
		det->stats.runs_closed++;
		det->stats.findings[N1_CLASS_NONE]++;
		return;
	}
	p = n1__pick_parent(s, r, &parent_rows);
	parent_fp = p >= 0 ? r->parent_fp[p] : 0;
	if (p < 0 && !r->in_xact)
	{
		r->interleaved = (uint8_t) n1__interleaved(s, r);

		/*
		 * A loop whose statements alone ran in this scope may have its parent
		 * in another one: an application's connection pool sends a request's
		 * statements to whichever connection is free.  Only the caller knows
		 * the other scopes.
		 */
		if (!r->interleaved && det->find_parent &&
			r->count >= (uint32_t) det->cfg.min_repeats && r->ndistinct >= 2 &&
			det->find_parent(s->scope_id, r->first_start, &parent_fp, &parent_rows,
							 det->find_parent_arg) &&
			(parent_rows < det->cfg.parent_min_rows || parent_rows < r->count))
			parent_fp = parent_rows = 0;	/* too few rows to have fed this
											 * loop */
	}

	/*
	 * A parent elsewhere with as many rows as the loop's iterations explains
	 * a loop slowed down by its neighbours on the pool as well as one here.
	 */
	cls = n1_classify(&det->cfg, r, parent_rows,
					  p >= 0 ? r->parent_rows[p] : parent_rows, &why);

	det->stats.runs_closed++;
	det->stats.findings[cls]++;
	if (cls != N1_CLASS_NONE || (det->cfg.report_rejected && r->count >= 3))
	{
		if (det->report)
		{
			n1_finding	f;

			memset(&f, 0, sizeof(f));
			f.cls = cls;
			f.reject = why;
			f.scope_id = s->scope_id;
			f.child_fp = r->fp;
			f.parent_fp = parent_fp;
			f.parent_rows = parent_rows;
			f.kind = r->kind;
			f.repeats = r->count;
			f.distinct = r->ndistinct;
			f.rows = r->rows;
			f.exec_us = r->exec_sum;
			f.max_exec_us = r->exec_max;
			f.gap_us = r->gap_sum;
			f.min_gap_us = r->count > 1 ? r->gap_min : 0;
			f.first_start_us = r->first_start;
			f.last_end_us = r->last_end;

			/*
			 * One batched statement still does the work of one call and the
			 * per-row work, but not the per-statement overhead and round trip
			 * of the other calls.  Take the longest call as the cost of the
			 * batch and the shortest gap as the pure round trip (the other
			 * gaps also hold application work, which stays).
			 */
			f.saved_us = (r->exec_sum - r->exec_max) +
				(int64_t) (r->count - 1) * f.min_gap_us;
			det->report(&f, det->report_arg);
		}
	}
}

/* Classify and report the run in slot i, then free the slot */
static void
n1__close_run(n1_detector *det, n1_scope *s, int i)
{
	n1__judge_run(det, s, i);
	s->run_fp[i] = 0;
	s->nruns--;
}

static void
n1__flush(n1_detector *det, n1_scope *s)
{
	/* judge every run while the others are still open (parents, siblings) */
	for (int i = 0; i < N1_MAX_RUNS && s->nruns > 0; i++)
		if (s->run_fp[i] != 0)
			n1__judge_run(det, s, i);
	memset(s->run_fp, 0, sizeof(s->run_fp));
	s->nruns = 0;
	memset(s->cand_fp, 0, sizeof(s->cand_fp));
	memset(s->cand_rows, 0, sizeof(s->cand_rows));
	s->nevents = 0;
}

/*
 * The scope's unit of work ended (a transaction block ended and another
 * statement came).  A run that repeated inside that unit is judged now, as
 * that unit's loop; a run that ran once in it stays open, to go on in the
 * next unit: the loop of an application that commits every iteration
 * (peewee, a save() or a handler per item, each in its own transaction).
 * Such a run spans units, so it is judged as one outside of a transaction:
 * it needs a parent, or, for a write loop, no other statement repeating
 * along with it (requests in transactions one after the other on a pooled
 * connection, pgbench's TPC-B).  Parent candidates are kept.
 */
static void
n1__unit_end(n1_detector *det, n1_scope *s)
{
	/* no run repeated in this unit (most transactions): nothing to judge */
	if (!s->unit_repeats)
		return;
	for (int i = 0; i < N1_MAX_RUNS && s->nruns > 0; i++)
		if (s->run_fp[i] != 0 && s->runs[i].unit_seq == s->unit_seq &&
			s->runs[i].unit_count >= 2)
			n1__close_run(det, s, i);
}

/* Largest gap that keeps run r of scope s going */
static inline int64_t
n1__allowed_gap(const n1_config *cfg, const n1_scope *s, const n1_run *r)
{
	int64_t		allowed = cfg->max_gap_us;

	/*
	 * A fast loop that has not yet gone through its parent's rows, with no
	 * other multi-row read since it began, is the same loop after a stall (a
	 * client paused by the machine or its own runtime): only a pause of
	 * several max_gap_us ends it.
	 */
	if (r->count >= (uint32_t) cfg->min_repeats && r->parent_fp[0] != 0 &&
		r->parent_rows[0] > r->count && r->cand_seq == s->cand_seq &&
		r->gap_sum <= (int64_t) (r->count - 1) * cfg->burst_min_gap_us)
		return 4 * cfg->max_gap_us;

	/*
	 * A long run is a loop: only a pause of several max_gap_us ends it (the
	 * client may have been descheduled on a loaded machine).
	 */
	if (r->count >= 4 * (uint32_t) cfg->min_repeats)
		return 4 * cfg->max_gap_us;
	if (r->count >= 2)
	{
		double		mean = (double) r->gap_sum / (r->count - 1);
		double		rel = cfg->gap_factor * mean;
		int64_t		rel_us = rel > (double) cfg->min_gap_slack_us ?
		(int64_t) rel : cfg->min_gap_slack_us;

		if (rel_us < allowed)
			allowed = rel_us;
	}
	return allowed;
}

/* Find the scope of id, creating it (and evicting another) if needed */
static n1_scope *
n1__scope(n1_detector *det, uint64_t scope_id)
{
	int			nprobe = det->nscopes < 8 ? det->nscopes : 8;
	int			start;
	n1_scope   *victim = NULL;

	/* most events come from the same client as the previous one */
	if (det->last_scope != NULL && det->last_scope->scope_id == scope_id)
		return det->last_scope;

	start = (int) (n1__mix(scope_id) % (uint64_t) det->nscopes);
	for (int k = 0; k < nprobe; k++)
	{
		n1_scope   *s = &det->scopes[(start + k) % det->nscopes];

		if (s->in_use && s->scope_id == scope_id)
		{
			det->last_scope = s;
			return s;
		}
		if (!s->in_use)
		{
			if (victim == NULL || victim->in_use)
				victim = s;
		}
		else if (victim == NULL ||
				 (victim->in_use && s->last_used < victim->last_used))
			victim = s;
	}
	if (victim->in_use)
	{
		n1__flush(det, victim);
		det->stats.scopes_evicted++;
	}
	memset(victim, 0, sizeof(*victim));
	victim->in_use = 1;
	victim->scope_id = scope_id;
	det->last_scope = victim;
	return victim;
}

static int
n1__open_run(n1_detector *det, n1_scope *s, const n1_event *ev)
{
	int			slot = -1;
	n1_run	   *r;

	if (s->nruns >= N1_MAX_RUNS)
	{
		/* full: close the run that has been quiet the longest */
		int64_t		oldest = INT64_MAX;

		for (int i = 0; i < N1_MAX_RUNS; i++)
			if (s->runs[i].last_end < oldest)
			{
				oldest = s->runs[i].last_end;
				slot = i;
			}
		n1__close_run(det, s, slot);
	}
	else
	{
		for (int i = 0; i < N1_MAX_RUNS; i++)
			if (s->run_fp[i] == 0)
			{
				slot = i;
				break;
			}
	}
	r = &s->runs[slot];
	memset(r, 0, sizeof(*r));
	r->fp = ev->fingerprint;
	r->kind = ev->kind;
	r->in_xact = ev->unit_id != 0;
	r->unit_seq = s->unit_seq;
	r->cand_seq = s->cand_seq;
	r->nunits = 1;
	r->first_start = ev->start_us;
	r->first_rows = ev->rows;
	r->gap_min = INT64_MAX;
	for (int i = 0, j = 0; i < N1_MAX_PARENTS; i++)
	{
		if (s->cand_fp[i] == 0 || s->cand_fp[i] == ev->fingerprint)
			continue;
		r->parent_fp[j] = s->cand_fp[i];
		r->parent_rows[j] = s->cand_rows[i];
		j++;
	}
	s->run_fp[slot] = ev->fingerprint;
	s->run_hint[ev->fingerprint % N1_RUN_HINTS] = (uint8_t) slot;
	s->nruns++;
	return slot;
}

static void
n1__add(const n1_config *cfg, n1_run *r, const n1_event *ev, uint32_t unit_seq)
{
	int64_t		exec = ev->end_us - ev->start_us;
	uint32_t	nd;

	if (exec < 0)
		exec = 0;
	if (r->unit_seq != unit_seq)
	{
		/* the run goes on in another unit: no longer one transaction's */
		r->unit_seq = unit_seq;
		r->unit_count = 0;
		r->nunits++;
		r->in_xact = 0;
	}
	r->unit_count++;
	if (r->count > 0)
	{
		int64_t		gap = ev->start_us - r->last_end;

		if (gap < 0)
			gap = 0;
		r->gap_sum += gap;
		{
			int			b = n1__gap_bucket(gap);

			if (r->gap_hist[b] < UINT16_MAX)
				r->gap_hist[b]++;
		}
		if (gap < r->gap_min)
			r->gap_min = gap;
		if (gap < cfg->pipeline_gap_us || ev->pipelined)
			r->npipelined++;
	}
	r->count++;
	r->rows += ev->rows;
	if (ev->rows > r->max_rows)
		r->max_rows = ev->rows;
	if (ev->rows == r->first_rows)
		r->same_rows++;
	r->exec_sum += exec;
	if (exec > r->exec_max)
		r->exec_max = exec;
	if (ev->end_us > r->last_end)
		r->last_end = ev->end_us;

	/* distinct parameter values, exact up to N1_MAX_DISTINCT */
	nd = r->ndistinct < N1_MAX_DISTINCT ? r->ndistinct : N1_MAX_DISTINCT;
	if (r->ndistinct <= N1_MAX_DISTINCT)
	{
		uint32_t	i;

		for (i = 0; i < nd; i++)
			if (r->distinct[i] == ev->params_hash)
				break;
		if (i == nd)
		{
			if (nd < N1_MAX_DISTINCT)
				r->distinct[nd] = ev->params_hash;
			r->ndistinct++;
		}
	}
}

/* Remember a multi-row read as the newest parent candidate of the scope */
static void
n1__push_candidate(n1_scope *s, const n1_event *ev)
{
	s->cand_seq++;
	/* the runs this statement may be the parent of: it ran again */
	for (int i = 0; i < N1_MAX_RUNS; i++)
	{
		n1_run	   *r = &s->runs[i];

		if (s->run_fp[i] == 0 || r->fp == ev->fingerprint)
			continue;
		for (int j = 0; j < N1_MAX_PARENTS && r->parent_fp[j] != 0; j++)
			if (r->parent_fp[j] == ev->fingerprint)
				r->parent_reruns[j]++;
	}
	if (s->cand_fp[0] != ev->fingerprint)
	{
		memmove(&s->cand_fp[1], &s->cand_fp[0],
				(N1_MAX_PARENTS - 1) * sizeof(uint64_t));
		memmove(&s->cand_rows[1], &s->cand_rows[0],
				(N1_MAX_PARENTS - 1) * sizeof(uint64_t));
		s->cand_fp[0] = ev->fingerprint;
	}
	s->cand_rows[0] = ev->rows;
}

/*
 * Can run r no longer be reported, whatever comes next?  Its verdict at
 * close (n1__judge_run, n1_classify) is then "not a loop" for good:
 *   - it has no parent in the scope: the candidates are taken when the run
 *     opens, so it never gets one;
 *   - it is outside of one transaction, which it never becomes again;
 *   - it had at least 2 distinct parameter values: never redundant;
 *   - a read: no parent elsewhere (find_parent) has as many rows as it
 *     has iterations; that parent must have finished before the run
 *     began, so it is known by now, and the iterations only grow;
 *   - a write: most iterations came right after the same other statement
 *     (interleaved: the requests of pgbench's TPC-B).  That may change
 *     later: a loop of the same statement that starts right after them
 *     goes on the settled run and is no loop, as a read loop right after
 *     the same read's independent requests already was.  (Before runs
 *     settled, it was reported when it was longer than those requests,
 *     with their iterations counted in.)
 * Asked when the run reaches settle_at iterations, then at every power of
 * 2, so that find_parent is rarely called.  Never with report_rejected,
 * which reports such runs with their statistics, nor without span_units
 * (every unit change ends the runs then).
 */
static int
n1__settles(const n1_detector *det, const n1_scope *s, const n1_run *r)
{
	uint64_t	fp,
				rows;

	if (det->cfg.report_rejected || !det->cfg.span_units || r->in_xact ||
		r->parent_fp[0] != 0 || r->ndistinct < 2)
		return 0;
	if (r->kind == N1_KIND_WRITE)
		return (uint64_t) r->same_prev * 2 >= r->count;
	if (r->kind != N1_KIND_READ)
		return 0;
	if (det->find_parent &&
		det->find_parent(s->scope_id, r->first_start, &fp, &rows,
						 det->find_parent_arg) &&
		rows >= det->cfg.parent_min_rows && rows >= r->count)
		return 0;
	return 1;
}

void
n1_feed(n1_detector *det, const n1_event *ev)
{
	const n1_config *cfg = &det->cfg;
	n1_scope   *s;
	int			slot = -1;

	det->stats.events++;
	s = n1__scope(det, ev->scope_id);
	s->last_used = ++det->tick;

	/* a new unit of work, or the client was idle for long: loops are over */
	if (s->nevents > 0)
	{
		int64_t		gap = ev->start_us - s->last_end;

		if (gap < 0)
			gap = 0;
		if (gap > cfg->idle_us || (s->unit_id != ev->unit_id && !cfg->span_units))
			n1__flush(det, s);
		else if (s->unit_id != ev->unit_id)
			n1__unit_end(det, s);
	}
	if (s->unit_id != ev->unit_id)
	{
		s->unit_seq++;
		s->unit_repeats = 0;
	}
	s->unit_id = ev->unit_id;

	if (ev->kind == N1_KIND_OTHER || ev->fingerprint == 0)
		goto done;
	if (ev->kind == N1_KIND_FETCH)
	{
		if (ev->rows >= cfg->parent_min_rows)
			n1__push_candidate(s, ev);
		goto done;
	}

	/* most often the statement repeats the latest one (a loop) */
	if (s->run_fp[s->last_slot] == ev->fingerprint)
		slot = s->last_slot;
	else if (s->run_fp[s->run_hint[ev->fingerprint % N1_RUN_HINTS]] == ev->fingerprint)
		slot = s->run_hint[ev->fingerprint % N1_RUN_HINTS];
	else
		for (int i = 0; i < N1_MAX_RUNS; i++)
			if (s->run_fp[i] == ev->fingerprint)
			{
				slot = i;
				s->run_hint[ev->fingerprint % N1_RUN_HINTS] = (uint8_t) i;
				break;
			}
	if (slot >= 0 &&
		ev->start_us - s->runs[slot].last_end > n1__allowed_gap(cfg, s, &s->runs[slot]))
	{
		n1__close_run(det, s, slot);
		slot = -1;
	}
	if (slot < 0)
		slot = n1__open_run(det, s, ev);
	{
		n1_run	   *r = &s->runs[slot];

		if (s->prev_fp != ev->fingerprint && r->count > 0 && s->prev_fp == r->prev_fp)
			r->same_prev++;
		r->prev_fp = s->prev_fp;
	}
	n1__add(cfg, &s->runs[slot], ev, s->unit_seq);
	if (s->runs[slot].unit_count >= 2)
		s->unit_repeats = 1;
	s->last_slot = slot;
	{
		n1_run	   *r = &s->runs[slot];

		if (!r->settled && r->count >= det->settle_at &&
			(r->count == det->settle_at || (r->count & (r->count - 1)) == 0))
			r->settled = (uint8_t) n1__settles(det, s, r);
	}

	/* a multi-row read may feed a loop that starts next */
	if (ev->kind == N1_KIND_READ && ev->rows >= cfg->parent_min_rows)
		n1__push_candidate(s, ev);

	/*
	 * Close one other run per event, round robin, when its rhythm is broken,
	 * so that a finished loop is reported without waiting for its statement
	 * to come back.
	 */
	{
		int			i = (int) (s->nevents % N1_MAX_RUNS);

		if (i != slot && s->run_fp[i] != 0 &&
			ev->end_us - s->runs[i].last_end > n1__allowed_gap(cfg, s, &s->runs[i]))
			n1__close_run(det, s, i);
	}

	s->prev_fp = ev->fingerprint;

done:
	if (ev->end_us > s->last_end || s->nevents == 0)
		s->last_end = ev->end_us;
	s->nevents++;
}

void
n1_flush_scope(n1_detector *det, uint64_t scope_id)
{
	for (int i = 0; i < det->nscopes; i++)
	{
		n1_scope   *s = &det->scopes[i];

		if (s->in_use && s->scope_id == scope_id)
			n1__flush(det, s);
	}
}

void
n1_flush_all(n1_detector *det)
{
	for (int i = 0; i < det->nscopes; i++)
		if (det->scopes[i].in_use)
			n1__flush(det, &det->scopes[i]);
}
