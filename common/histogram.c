/*
 * histogram.c
 *		Log-linear latency histogram: bucket arithmetic and quantiles.
 *
 * See histogram.h for the bucket layout.  Counting a duration
 * (pp_hist_bucket, pp_hist_add) is inline in histogram.h: it runs for
 * every statement.
 */
#include "histogram.h"

#include <math.h>

double
pp_hist_lower(int bucket)
{
	int			octave;
	int			sub;

	if (bucket <= 0)
		return 0.0;
	if (bucket >= PP_HIST_OVERFLOW)
		return ldexp(1.0, PP_HIST_MAX_EXP);
	octave = (bucket - 1) / PP_HIST_SUB;
	sub = (bucket - 1) % PP_HIST_SUB;
	return ldexp(1.0, PP_HIST_MIN_EXP + octave) +
		sub * ldexp(1.0, PP_HIST_MIN_EXP + octave - PP_HIST_SUB_BITS);
}

double
pp_hist_upper(int bucket)
{
	if (bucket <= 0)
		return ldexp(1.0, PP_HIST_MIN_EXP);
	if (bucket >= PP_HIST_OVERFLOW)
		return ldexp(1.0, PP_HIST_MAX_EXP + 1);
	return pp_hist_lower(bucket) +
		ldexp(1.0, PP_HIST_MIN_EXP + (bucket - 1) / PP_HIST_SUB - PP_HIST_SUB_BITS);
}

uint64_t
pp_hist_total(const uint32_t *counts)
{
	uint64_t	total = 0;

	for (int i = 0; i < PP_HIST_NBUCKETS; i++)
		total += counts[i];
	return total;
}

double
pp_hist_quantile(const uint32_t *counts, double q, double min_ns, double max_ns)
{
	uint64_t	total = pp_hist_total(counts);
	double		rank;
	double		below = 0.0;
	double		value = -1.0;

	if (total == 0)
		return -1.0;
	if (q < 0.0)
		q = 0.0;
	if (q > 1.0)
		q = 1.0;
	rank = q * (double) total;

	for (int b = 0; b < PP_HIST_NBUCKETS; b++)
	{
		double		lo,
					hi;

		if (counts[b] == 0)
			continue;
		if (below + counts[b] < rank)
		{
			below += counts[b];
			continue;
		}
		lo = pp_hist_lower(b);
		hi = pp_hist_upper(b);
		/* the open-ended last bucket ends at the largest value seen */
		if (b == PP_HIST_OVERFLOW && max_ns > lo)
			hi = max_ns;
		value = lo + (hi - lo) * ((rank - below) / counts[b]);
		break;
	}

	if (value < min_ns)
		value = min_ns;
	if (max_ns >= 0.0 && value > max_ns)
		value = max_ns;
	return value;
}
