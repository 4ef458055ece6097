/*
 * check_histogram.c
 *		Unit tests of the log-linear latency histogram (common/histogram.c).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

#define NS_PER_US	1000.0
#define NS_PER_HOUR	3600.0e9

/* Every value from 1 us to over an hour lands in a bucket that contains it
 * and whose width is at most 5 % of the value. */
START_TEST(test_bucket_bounds_and_error)
{
	for (double v = NS_PER_US; v <= 1.2 * NS_PER_HOUR; v *= 1.0137)
	{
		uint64_t	ns = (uint64_t) v;
		int			b = pp_hist_bucket(ns);
		double		lo = pp_hist_lower(b);
		double		hi = pp_hist_upper(b);

		ck_assert_int_gt(b, 0);
		ck_assert_int_lt(b, PP_HIST_OVERFLOW);
		ck_assert_msg(lo <= (double) ns && (double) ns < hi,
					  "%llu ns not in bucket %d [%f, %f)",
					  (unsigned long long) ns, b, lo, hi);
		ck_assert_msg((hi - lo) / (double) ns <= 0.05,
					  "bucket %d too wide for %llu ns", b,
					  (unsigned long long) ns);
	}
}

END_TEST

/* Buckets tile the axis: each one starts where the previous one ends. */
START_TEST(test_buckets_contiguous)
{
	for (int b = 1; b < PP_HIST_NBUCKETS; b++)
		ck_assert_double_eq(pp_hist_lower(b), pp_hist_upper(b - 1));
	ck_assert_int_eq(pp_hist_bucket(0), 0);
	ck_assert_int_eq(pp_hist_bucket(511), 0);
	ck_assert_int_eq(pp_hist_bucket(512), 1);
	ck_assert_int_eq(pp_hist_bucket(UINT64_MAX), PP_HIST_OVERFLOW);
	/* the exact lower bound of every bucket maps to that bucket */
	for (int b = 1; b < PP_HIST_NBUCKETS; b++)
		ck_assert_int_eq(pp_hist_bucket((uint64_t) pp_hist_lower(b)), b);
}

END_TEST

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Quantiles of a spread-out sample agree with the exact ones within 5 %. */
START_TEST(test_quantiles_vs_exact)
{
	enum
	{
	N = 20000};
	static double vals[N];
	uint32_t   *h = calloc(PP_HIST_NBUCKETS, sizeof(uint32_t));
	double		mn = INFINITY,
				mx = 0;
	const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};

	srand(42);
	for (int i = 0; i < N; i++)
	{
		/* log-uniform from 2 us to 2 s */
		double		v = 2000.0 * pow(10.0, 6.0 * rand() / (double) RAND_MAX);

		vals[i] = floor(v);
		pp_hist_add(h, (uint64_t) vals[i]);
		mn = fmin(mn, vals[i]);
		mx = fmax(mx, vals[i]);
	}
	qsort(vals, N, sizeof(double), cmp_double);
	for (unsigned i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
	{
		double		exact = vals[(int) ceil(qs[i] * N) - 1];
		double		est = pp_hist_quantile(h, qs[i], mn, mx);

		ck_assert_msg(fabs(est - exact) / exact <= 0.05,
					  "q=%g est %f exact %f", qs[i], est, exact);
	}
	free(h);
}

END_TEST

/* A few distinct durations (as pg_sleep would give) come out within 5 %. */
START_TEST(test_quantiles_discrete)
{
	uint32_t   *h = calloc(PP_HIST_NBUCKETS, sizeof(uint32_t));

	for (int i = 0; i < 90; i++)
		pp_hist_add(h, 10000000);	/* 10 ms */
	for (int i = 0; i < 9; i++)
		pp_hist_add(h, 50000000);	/* 50 ms */
	pp_hist_add(h, 200000000);	/* 200 ms */

	ck_assert_double_eq_tol(pp_hist_quantile(h, 0.5, 1e7, 2e8), 1e7, 0.05e7);
	ck_assert_double_eq_tol(pp_hist_quantile(h, 0.95, 1e7, 2e8), 5e7, 0.05 * 5e7);
	ck_assert_double_eq_tol(pp_hist_quantile(h, 0.999, 1e7, 2e8), 2e8, 0.05 * 2e8);
	/* clamping to the seen extremes makes a single value exact */
	ck_assert_double_eq(pp_hist_quantile(h, 0.0, 1e7, 2e8), 1e7);
	ck_assert_double_eq(pp_hist_quantile(h, 1.0, 1e7, 2e8), 2e8);
	free(h);
}

END_TEST

START_TEST(test_empty_and_total)
{
	uint32_t   *h = calloc(PP_HIST_NBUCKETS, sizeof(uint32_t));

	ck_assert(pp_hist_quantile(h, 0.5, 0, -1) < 0);
	ck_assert_uint_eq(pp_hist_total(h), 0);
	pp_hist_add(h, 3 * 3600 * 1000000000ULL);	/* 3 h: overflow bucket */
	pp_hist_add(h, 100);
	ck_assert_uint_eq(pp_hist_total(h), 2);
	ck_assert_uint_eq(h[PP_HIST_OVERFLOW], 1);
	ck_assert_uint_eq(h[0], 1);
	ck_assert_double_eq(pp_hist_quantile(h, 1.0, 100, 3 * 3600e9), 3 * 3600e9);
	free(h);
}

END_TEST

/* A counter about to overflow halves the whole histogram, keeping shape. */
START_TEST(test_overflow_halves)
{
	uint32_t   *h = calloc(PP_HIST_NBUCKETS, sizeof(uint32_t));
	int			b1 = pp_hist_bucket(1000000);
	int			b2 = pp_hist_bucket(2000000);

	h[b1] = UINT32_MAX;
	h[b2] = 1001;
	pp_hist_add(h, 1000000);
	ck_assert_uint_eq(h[b1], (UINT32_MAX / 2 + 1) + 1);
	ck_assert_uint_eq(h[b2], 501);
	free(h);
}

END_TEST

static Suite *
histogram_suite(void)
{
	Suite	   *s = suite_create("histogram");
	TCase	   *tc = tcase_create("core");

	tcase_add_test(tc, test_bucket_bounds_and_error);
	tcase_add_test(tc, test_buckets_contiguous);
	tcase_add_test(tc, test_quantiles_vs_exact);
	tcase_add_test(tc, test_quantiles_discrete);
	tcase_add_test(tc, test_empty_and_total);
	tcase_add_test(tc, test_overflow_halves);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(histogram_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
