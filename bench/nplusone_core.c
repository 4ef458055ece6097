/*
 * bench/nplusone_core.c -- cost of the N+1 detector core per statement.
 *
 * Feeds n1_feed a synthetic trace built in memory beforehand (so that only
 * the detector is timed): several clients, each running requests made of a
 * parent query, a loop of point lookups over its rows, a few unrelated
 * statements, a write loop, and idle time.  Prints the nanoseconds per
 * statement (median of the rounds) and what the detector found.
 *
 * Usage: nplusone_core [events] [rounds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nplusone.h"

static uint64_t found;

static void
count_finding(const n1_finding *f, void *arg)
{
	(void) arg;
	if (f->cls != N1_CLASS_NONE)
		found++;
}

static uint64_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/*
 * Feed the trace rounds times; with quick, as the extension does: single-row
 * statements go to n1_feed_settled first, to n1_feed only when it declines.
 */
static void
bench_trace(const char *name, const n1_event *evs, size_t nev, int rounds,
			const n1_config *cfg, void *mem, double *ns, int quick)
{
	uint64_t	nquick = 0;

	for (int r = 0; r < rounds; r++)
	{
		struct timespec t0,
					t1;
		n1_detector *det = n1_detector_init(mem, 8, cfg, count_finding, NULL);

		found = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		nquick = 0;
		for (size_t k = 0; k < nev; k++)
		{
			const n1_event *e = &evs[k];

			if (quick && e->rows < 2 &&
				n1_feed_settled(det, e->scope_id, e->unit_id, e->fingerprint,
								e->start_us, e->end_us, e->rows) != 0)
			{
				nquick++;
				continue;
			}
			n1_feed(det, e);
		}
		n1_flush_all(det);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (double) nev;
	}
	qsort(ns, rounds, sizeof(double), cmp_double);
	printf("%-16s %-38s %zu statements, %d rounds: median %.1f ns per statement "
		   "(min %.1f, max %.1f); %llu loops found per round; %.1f%% quick\n",
		   quick ? "settled+n1_feed," : "n1_feed only,", name, nev, rounds,
		   ns[rounds / 2], ns[0], ns[rounds - 1], (unsigned long long) found,
		   100.0 * (double) nquick / (double) nev);
}

int
main(int argc, char **argv)
{
	size_t		nev = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	int			rounds = argc > 2 ? atoi(argv[2]) : 5;
	n1_event   *evs = malloc(nev * sizeof(n1_event));
	int64_t		now[8] = {0};
	uint64_t	st = 42;
	size_t		i = 0;
	n1_config	cfg;
	double	   *ns = malloc(rounds * sizeof(double));
	void	   *mem;

	/* build the trace: 8 clients, interleaved request by request */
	while (i < nev)
	{
		int			c = (int) (rnd(&st) % 8);
		int			loop = 3 + (int) (rnd(&st) % 40);
		uint64_t	base = 1000 + (rnd(&st) % 50) * 17;

#define EMIT(fp_, par_, rows_, kind_, gap_) \
		do { \
			if (i >= nev) break; \
			now[c] += (gap_); \
			evs[i].scope_id = (uint64_t) c + 1; \
			evs[i].unit_id = 0; \
			evs[i].fingerprint = (fp_); \
			evs[i].params_hash = (par_); \
			evs[i].start_us = now[c]; \
			now[c] += 30; \
			evs[i].end_us = now[c]; \
			evs[i].rows = (rows_); \
			evs[i].kind = (kind_); \
			evs[i].pipelined = 0; \
			i++; \
		} while (0)

		EMIT(base, rnd(&st), (uint64_t) loop, N1_KIND_READ, 20000 + (int64_t) (rnd(&st) % 200000));
		for (int k = 0; k < loop; k++)
			EMIT(base + 1, rnd(&st), 1, N1_KIND_READ, 80 + (int64_t) (rnd(&st) % 60));
		for (int k = 0; k < 3; k++)
			EMIT(base + 2 + k, rnd(&st), rnd(&st) % 4, N1_KIND_READ, 100);
		for (int k = 0; k < loop / 4; k++)
			EMIT(base + 9, rnd(&st), 1, N1_KIND_WRITE, 90);
	}

	n1_config_default(&cfg);
	mem = malloc(n1_detector_size(8));
	bench_trace("mixed: 8 clients, requests with loops", evs, nev, rounds, &cfg, mem, ns, 0);
	bench_trace("mixed: 8 clients, requests with loops", evs, nev, rounds, &cfg, mem, ns, 1);

	/*
	 * pgbench -S: one client, one statement, back to back, a different key
	 * each time (the hot path of the extension overhead benchmark)
	 */
	st = 7;
	for (i = 0; i < nev; i++)
	{
		evs[i].scope_id = 1;
		evs[i].unit_id = 0;
		evs[i].fingerprint = 0x5eed;
		evs[i].params_hash = rnd(&st);
		evs[i].start_us = (int64_t) i * 60;
		evs[i].end_us = (int64_t) i * 60 + 25;
		evs[i].rows = 1;
		evs[i].kind = N1_KIND_READ;
		evs[i].pipelined = 0;
	}
	bench_trace("pgbench -S: 1 client, one statement", evs, nev, rounds, &cfg, mem, ns, 0);
	bench_trace("pgbench -S: 1 client, one statement", evs, nev, rounds, &cfg, mem, ns, 1);

	/*
	 * pgbench TPC-B: one client, transactions of 4 writes and a read, each
	 * statement once per transaction
	 */
	st = 9;
	for (i = 0; i < nev; i++)
	{
		static const uint64_t fps[5] = {0x7b01, 0x7b02, 0x7b03, 0x7b04, 0x7b05};

		evs[i].scope_id = 1;
		evs[i].unit_id = 1 + i / 5;
		evs[i].fingerprint = fps[i % 5];
		evs[i].params_hash = rnd(&st);
		evs[i].start_us = (int64_t) i * 80 + (int64_t) (i / 5) * 60;
		evs[i].end_us = evs[i].start_us + 40;
		evs[i].rows = 1;
		evs[i].kind = i % 5 == 1 ? N1_KIND_READ : N1_KIND_WRITE;
		evs[i].pipelined = 0;
	}
	bench_trace("pgbench TPC-B: 1 client, 5 statements", evs, nev, rounds, &cfg, mem, ns, 0);
	bench_trace("pgbench TPC-B: 1 client, 5 statements", evs, nev, rounds, &cfg, mem, ns, 1);
	free(evs);
	free(ns);
	free(mem);
	return 0;
}
