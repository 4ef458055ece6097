/*
 * histogram.h
 *		Log-linear latency histogram shared by the extension and the pooler.
 *
 * Values are durations in nanoseconds.  Bucket 0 holds everything below
 * 2^PP_HIST_MIN_EXP ns (512 ns).  Above that, every power of two
 * [2^e, 2^(e+1)) is split into PP_HIST_SUB equal sub-buckets, so a bucket's
 * width is at most 1/PP_HIST_SUB (3.2 %) of its lower bound.  The octaves
 * run up to 2^PP_HIST_MAX_EXP ns (about 73 minutes); the last bucket holds
 * everything longer.
 *
 * A histogram is a plain array of PP_HIST_NBUCKETS uint32 counters owned by
 * the caller (in the extension: inside a shared-memory entry, updated under
 * that entry's spinlock).  Nothing here allocates memory or takes locks.
 */
#ifndef PGPLUMB_HISTOGRAM_H
#define PGPLUMB_HISTOGRAM_H

#include <stdint.h>

#define PP_HIST_SUB_BITS	5
#define PP_HIST_SUB			(1 << PP_HIST_SUB_BITS) /* sub-buckets per octave */
#define PP_HIST_MIN_EXP		9	/* first octave starts at 2^9 ns = 512 ns */
#define PP_HIST_MAX_EXP		42	/* last octave ends at 2^42 ns = 73.3 min */
#define PP_HIST_OCTAVES		(PP_HIST_MAX_EXP - PP_HIST_MIN_EXP)
#define PP_HIST_NBUCKETS	(1 + PP_HIST_OCTAVES * PP_HIST_SUB + 1)
#define PP_HIST_OVERFLOW	(PP_HIST_NBUCKETS - 1)

/*
 * Index of the bucket that holds a duration of ns nanoseconds: one
 * count-leading-zeros and two shifts, no floating point.  Inline, as
 * pp_hist_add: they run for every statement.
 */
static inline int
pp_hist_bucket(uint64_t ns)
{
	int			e;
	int			sub;

	if (ns < (UINT64_C(1) << PP_HIST_MIN_EXP))
		return 0;
	e = 63 - __builtin_clzll(ns);	/* floor(log2(ns)) */
	if (e >= PP_HIST_MAX_EXP)
		return PP_HIST_OVERFLOW;
	/* the PP_HIST_SUB_BITS bits just below the leading one */
	sub = (int) ((ns >> (e - PP_HIST_SUB_BITS)) & (PP_HIST_SUB - 1));
	return 1 + (e - PP_HIST_MIN_EXP) * PP_HIST_SUB + sub;
}

/* Bounds of a bucket, in nanoseconds: [lower, upper).  The last bucket's
 * upper bound is reported as its lower bound times 2. */
extern double pp_hist_lower(int bucket);
extern double pp_hist_upper(int bucket);

/*
 * Count one duration; returns its bucket.  When a counter would overflow,
 * every counter is halved first (rounding up, so a non-empty bucket stays
 * non-empty): the shape of the distribution, which is all percentiles
 * need, is kept.
 */
static inline int
pp_hist_add(uint32_t *counts, uint64_t ns)
{
	int			b = pp_hist_bucket(ns);

	if (counts[b] == UINT32_MAX)
	{
		for (int i = 0; i < PP_HIST_NBUCKETS; i++)
			counts[i] = counts[i] / 2 + (counts[i] & 1);
	}
	counts[b]++;
	return b;
}

/* Sum of all counters */
extern uint64_t pp_hist_total(const uint32_t *counts);

/*
 * The q-quantile (0 <= q <= 1) in nanoseconds, interpolated linearly inside
 * the bucket where the rank falls and clamped to [min_ns, max_ns], the
 * smallest and largest durations actually seen (pass 0 and a negative
 * max_ns if unknown).  Returns a negative value for an empty histogram.
 */
extern double pp_hist_quantile(const uint32_t *counts, double q,
							   double min_ns, double max_ns);

#endif							/* PGPLUMB_HISTOGRAM_H */
