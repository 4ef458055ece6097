/*
 * check_nplusone.c -- Check unit tests of the N+1 detector core on
 * synthetic statement traces: true loops (5, 6, 50, 1000 iterations,
 * nested, interleaved, write loops, slow loops) and look-alikes (one batch,
 * pagination, polling, pipelined batches, independent requests on one
 * connection, several clients).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nplusone.h"

#define MAXF 1024

/* What the report callback collected */
typedef struct sink
{
	int			skip_none;		/* do not collect N1_CLASS_NONE */
	int			n;
	n1_finding	f[MAXF];
} sink;

static void
collect(const n1_finding *f, void *arg)
{
	sink	   *k = arg;

	if (k->skip_none && f->cls == N1_CLASS_NONE)
		return;
	if (k->n < MAXF)
		k->f[k->n] = *f;
	k->n++;
}

/* A trace under construction: a clock and one scope */
typedef struct trace
{
	n1_detector *det;
	sink		out;
	int64_t		now;
	uint64_t	scope;
	uint64_t	unit;
	int			pipelined;
	int			no_quick;		/* never try n1_feed_settled */
	uint64_t	quick;			/* statements n1_feed_settled took */
} trace;

static trace *
trace_new(const n1_config *cfg, int nscopes)
{
	trace	   *t = calloc(1, sizeof(trace));
	n1_config	def;

	if (cfg == NULL)
	{
		n1_config_default(&def);
		cfg = &def;
	}
	t->det = n1_detector_init(malloc(n1_detector_size(nscopes)), nscopes,
							  cfg, collect, &t->out);
	t->now = 1000000;
	t->scope = 1;
	return t;
}

static void
trace_free(trace *t)
{
	free(t->det);
	free(t);
}

/* Run one statement: wait gap_us, execute for exec_us */
static void
stmt(trace *t, int64_t gap_us, uint64_t fp, uint64_t params, uint64_t rows,
	 n1_kind kind, int64_t exec_us)
{
	n1_event	ev;

	t->now += gap_us;
	ev.scope_id = t->scope;
	ev.unit_id = t->unit;
	ev.fingerprint = fp;
	ev.params_hash = params;
	ev.start_us = t->now;
	t->now += exec_us;
	ev.end_us = t->now;
	ev.rows = rows;
	ev.kind = kind;
	ev.pipelined = t->pipelined;
	/* as the extension does: the quick path first, for single-row calls */
	if (rows < 2 && !t->no_quick &&
		n1_feed_settled(t->det, ev.scope_id, ev.unit_id, fp, ev.start_us,
						ev.end_us, rows) != 0)
	{
		t->quick++;
		return;
	}
	n1_feed(t->det, &ev);
}

#define READ(t, gap, fp, par, rows) stmt(t, gap, fp, par, rows, N1_KIND_READ, 50)
#define WRITE(t, gap, fp, par, rows) stmt(t, gap, fp, par, rows, N1_KIND_WRITE, 80)

enum
{
	FP_POSTS = 101, FP_AUTHOR = 102, FP_COMMENTS = 103, FP_CATEGORY = 104,
	FP_INSERT = 105, FP_PAGE1 = 106, FP_PAGEN = 107, FP_BATCH = 108,
	FP_POLL = 109, FP_OTHER = 110, FP_USER = 111, FP_ACCOUNTS = 112,
	FP_TELLERS = 113, FP_BRANCHES = 114, FP_HISTORY = 115
};

/* Count findings of a class (and child fp, if not 0) */
static int
count_class(const trace *t, n1_class cls, uint64_t child)
{
	int			c = 0;

	for (int i = 0; i < t->out.n && i < MAXF; i++)
		if (t->out.f[i].cls == cls && (child == 0 || t->out.f[i].child_fp == child))
			c++;
	return c;
}

static const n1_finding *
find(const trace *t, n1_class cls, uint64_t child)
{
	for (int i = 0; i < t->out.n && i < MAXF; i++)
		if (t->out.f[i].cls == cls && t->out.f[i].child_fp == child)
			return &t->out.f[i];
	return NULL;
}

/* The finding of class cls for child: there must be one, of that many repeats */
static const n1_finding *
expect_loop(const trace *t, n1_class cls, uint64_t child, uint32_t repeats)
{
	const n1_finding *f = find(t, cls, child);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->repeats, repeats);
	return f;
}

/* deterministic pseudo-random numbers */
static uint64_t
rnd(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

/* posts query returning n rows, then one author lookup per post */
static void
classic_loop(trace *t, int n, int64_t gap)
{
	READ(t, 300, FP_POSTS, 1, n);
	for (int i = 0; i < n; i++)
		READ(t, gap, FP_AUTHOR, 1000 + i, 1);
}

START_TEST(test_classic_n_plus_one)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	classic_loop(t, 10, 200);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	f = find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->repeats, 10);
	ck_assert_uint_eq(f->parent_fp, FP_POSTS);
	ck_assert_uint_eq(f->parent_rows, 10);
	ck_assert_uint_eq(f->rows, 10);
	ck_assert_int_eq(f->exec_us, 10 * 50);
	ck_assert_int_eq(f->gap_us, 9 * 200);
	ck_assert_int_eq(f->min_gap_us, 200);
	ck_assert_int_eq(f->saved_us, 9 * 50 + 9 * 200);
	ck_assert_int_eq(f->kind, N1_KIND_READ);
	trace_free(t);
}

END_TEST

/* Loop lengths around and far above the threshold */
START_TEST(test_loop_lengths)
{
	static const int lens[] = {4, 5, 6, 50, 1000};

	for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
	{
		trace	   *t = trace_new(NULL, 4);

		classic_loop(t, lens[k], 150);
		n1_flush_all(t->det);
		if (lens[k] < 5)
			ck_assert_int_eq(t->out.n, 0);
		else
		{
			ck_assert_int_eq(t->out.n, 1);
			ck_assert_int_eq(t->out.f[0].cls, N1_CLASS_N_PLUS_ONE);
			ck_assert_uint_eq(t->out.f[0].repeats, (uint32_t) lens[k]);
		}
		trace_free(t);
	}
}

END_TEST

/* The threshold is a setting */
START_TEST(test_min_repeats_setting)
{
	n1_config	cfg;
	trace	   *t;

	n1_config_default(&cfg);
	cfg.min_repeats = 3;
	t = trace_new(&cfg, 4);
	classic_loop(t, 4, 150);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	trace_free(t);
}

END_TEST

START_TEST(test_redundant)
{
	trace	   *t = trace_new(NULL, 4);

	for (int i = 0; i < 8; i++)
		READ(t, 200, FP_USER, 42, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	ck_assert_int_eq(t->out.f[0].cls, N1_CLASS_REDUNDANT);
	ck_assert_uint_eq(t->out.f[0].distinct, 1);
	trace_free(t);
}

END_TEST

START_TEST(test_write_loop)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	READ(t, 100, FP_POSTS, 1, 20);
	for (int i = 0; i < 20; i++)
		WRITE(t, 120, FP_INSERT, 5000 + i, 1);
	n1_flush_all(t->det);
	f = find(t, N1_CLASS_WRITE_LOOP, FP_INSERT);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->repeats, 20);
	ck_assert_int_eq(f->kind, N1_KIND_WRITE);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	trace_free(t);
}

END_TEST

/* one = ANY($1) batch after the parent: a single call, many rows */
START_TEST(test_any_batch_not_reported)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 50);
	READ(t, 100, FP_BATCH, 2, 50);
	READ(t, 100, FP_OTHER, 3, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST

/* chunked preload: = ANY with 100 ids per call, 10 calls */
START_TEST(test_chunked_batches_not_reported)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 1000);
	for (int i = 0; i < 10; i++)
		READ(t, 150, FP_BATCH, 77 + i, 100);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST

/* keyset pagination: pages of 100, then of 5 with a 5-row first page */
START_TEST(test_pagination_not_reported)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_PAGE1, 1, 100);
	for (int i = 0; i < 20; i++)
		READ(t, 300, FP_PAGEN, 100 + i, i == 19 ? 37 : 100);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);

	t->unit++;
	READ(t, 100, FP_PAGE1, 1, 5);
	for (int i = 0; i < 12; i++)
		READ(t, 300, FP_PAGEN, 200 + i, i == 11 ? 2 : 5);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST

/* has-many: the comments of each post, 0..6 rows per call */
START_TEST(test_has_many_loop)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	READ(t, 100, FP_POSTS, 1, 10);
	for (int i = 0; i < 10; i++)
		READ(t, 200, FP_COMMENTS, 300 + i, (uint64_t) (i * 7) % 7 == 0 ? 6 : (uint64_t) i % 5);
	n1_flush_all(t->det);
	f = find(t, N1_CLASS_N_PLUS_ONE, FP_COMMENTS);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->parent_fp, FP_POSTS);
	trace_free(t);
}

END_TEST

/* without a parent, several rows per call is not an N+1 */
START_TEST(test_many_rows_without_parent)
{
	trace	   *t = trace_new(NULL, 4);

	for (int i = 0; i < 10; i++)
		READ(t, 200, FP_COMMENTS, 300 + i, 4);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST

/* polling: same parameters; at most redundant, never n_plus_one */
START_TEST(test_polling)
{
	trace	   *t = trace_new(NULL, 4);

	for (int i = 0; i < 30; i++)
		READ(t, 50000, FP_POLL, 9, 0);
	for (int i = 0; i < 30; i++)
		READ(t, 250000, FP_POLL, 9, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, 0), 0);
	trace_free(t);
}

END_TEST

/* pipelined batch: the next iteration was already waiting */
START_TEST(test_pipelined_not_reported)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 50);
	for (int i = 0; i < 50; i++)
		READ(t, 3, FP_AUTHOR, 1000 + i, 1);
	for (int i = 0; i < 50; i++)
		WRITE(t, 2, FP_INSERT, 2000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);

	/* flagged by the caller: not a loop whatever the gaps */
	t->pipelined = 1;
	READ(t, 100, FP_POSTS, 1, 50);
	for (int i = 0; i < 50; i++)
		READ(t, 40, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST


/*
 * Independent requests on one connection: each request looks one user up
 * and then does some other work; requests arrive with idle time between
 * them (exponential-ish, mean 150 ms).
 */
START_TEST(test_independent_requests)
{
	trace	   *t = trace_new(NULL, 4);
	uint64_t	st = 12345;

	for (int i = 0; i < 200; i++)
	{
		int64_t		idle = 2000 + (int64_t) (rnd(&st) % 300000);

		READ(t, idle, FP_USER, 7000 + rnd(&st) % 50, 1);
		READ(t, 150, FP_OTHER, rnd(&st), 3);
		if (i % 3 == 0)
			WRITE(t, 150, FP_INSERT, rnd(&st), 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, 0), 0);
	trace_free(t);
}

END_TEST

/* Two clients' loops of the same statement, interleaved */
START_TEST(test_several_clients)
{
	trace	   *t = trace_new(NULL, 8);
	n1_event	ev;

	memset(&ev, 0, sizeof(ev));
	for (int c = 1; c <= 2; c++)
	{
		ev.scope_id = (uint64_t) c;
		ev.fingerprint = FP_POSTS;
		ev.rows = 12;
		ev.start_us = t->now;
		ev.end_us = t->now + 40;
		n1_feed(t->det, &ev);
		t->now += 50;
	}
	for (int i = 0; i < 12; i++)
		for (int c = 1; c <= 2; c++)
		{
			t->now += 60;
			ev.scope_id = (uint64_t) c;
			ev.fingerprint = FP_AUTHOR;
			ev.params_hash = (uint64_t) (c * 100 + i);
			ev.rows = 1;
			ev.start_us = t->now;
			ev.end_us = t->now + 30;
			t->now += 30;
			n1_feed(t->det, &ev);
		}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	for (int i = 0; i < 2; i++)
	{
		ck_assert_uint_eq(t->out.f[i].repeats, 12);
		ck_assert_uint_eq(t->out.f[i].parent_fp, FP_POSTS);
	}
	ck_assert_uint_ne(t->out.f[0].scope_id, t->out.f[1].scope_id);
	trace_free(t);
}

END_TEST

/* The same loop twice, a second apart: two loops, not one */
START_TEST(test_idle_splits_loops)
{
	trace	   *t = trace_new(NULL, 4);

	classic_loop(t, 8, 200);
	t->now += 1500000;
	classic_loop(t, 8, 200);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	ck_assert_uint_eq(t->out.f[0].repeats, 8);
	ck_assert_uint_eq(t->out.f[1].repeats, 8);
	trace_free(t);
}

END_TEST

/* A pause far longer than the loop's rhythm ends the loop */
START_TEST(test_rhythm_break)
{
	trace	   *t = trace_new(NULL, 4);

	classic_loop(t, 7, 100);
	t->now += 70000;			/* 70 ms: < max_gap, >> 8 x 100 us */
	classic_loop(t, 6, 100);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	ck_assert_uint_eq(t->out.f[0].repeats, 7);
	ck_assert_uint_eq(t->out.f[1].repeats, 6);
	trace_free(t);
}

END_TEST

/*
 * A fast loop stalled for 200 ms before it went through its parent's rows,
 * with no other multi-row read in between, is still one loop; the same
 * stall after a loop that used up its parent's rows ends it.
 */
START_TEST(test_stall_inside_loop)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 20);
	for (int i = 0; i < 20; i++)
		READ(t, i == 8 ? 200000 : 150, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	ck_assert_uint_eq(t->out.f[0].repeats, 20);
	trace_free(t);

	t = trace_new(NULL, 4);
	READ(t, 100, FP_POSTS, 1, 8);
	for (int i = 0; i < 16; i++)
		READ(t, i == 8 ? 200000 : 150, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	trace_free(t);

	/* lookups 20-60 ms apart are no fast loop: a stall still cuts them */
	t = trace_new(NULL, 4);
	READ(t, 100, FP_POSTS, 1, 100);
	for (int i = 0; i < 12; i++)
		READ(t, i == 6 ? 300000 : 20000 + (i % 3) * 20000, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	trace_free(t);
}

END_TEST

/* Descheduling spikes (15 ms) inside a long fast loop do not cut it */
START_TEST(test_spikes_do_not_cut)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 1000);
	for (int i = 0; i < 1000; i++)
		READ(t, i % 97 == 50 ? 15000 : 120, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	ck_assert_uint_eq(t->out.f[0].repeats, 1000);
	trace_free(t);
}

END_TEST

/*
 * Independent requests whose every statement returns one row: neither the
 * first statement of each request nor the second is a loop.
 */
START_TEST(test_independent_requests_single_rows)
{
	trace	   *t = trace_new(NULL, 4);
	uint64_t	st = 99;

	for (int i = 0; i < 100; i++)
	{
		READ(t, 15000 + (int64_t) (rnd(&st) % 135000), FP_USER, rnd(&st), 1);
		READ(t, 200, FP_OTHER, rnd(&st), 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	trace_free(t);
}

END_TEST

/* A slow loop after fast statements: regular, so still a loop */
START_TEST(test_slow_loop_after_fast_statements)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_OTHER, 1, 1);
	READ(t, 150, FP_OTHER + 1, 1, 1);
	READ(t, 150, FP_POSTS, 1, 10);
	for (int i = 0; i < 10; i++)
		READ(t, 15000 + (i % 2) * 500, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	trace_free(t);
}

END_TEST

/* A slow loop (20 ms of application work per item) is still one loop */
START_TEST(test_slow_regular_loop)
{
	trace	   *t = trace_new(NULL, 4);

	READ(t, 100, FP_POSTS, 1, 15);
	for (int i = 0; i < 15; i++)
		READ(t, 20000 + (i % 3) * 1000, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	ck_assert_uint_eq(t->out.f[0].repeats, 15);
	trace_free(t);
}

END_TEST

/* A transaction end (unit change) ends the loop */
START_TEST(test_unit_change)
{
	trace	   *t = trace_new(NULL, 4);

	classic_loop(t, 6, 100);
	t->unit = 2;
	classic_loop(t, 6, 100);
	/* the first loop is reported as soon as the unit changes */
	ck_assert_int_eq(t->out.n, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 2);
	trace_free(t);
}

END_TEST

/*
 * A loop whose iterations each run in their own transaction (peewee
 * commits every statement; a save() or a handler per item in a
 * transaction): one loop across the units, with the parent read before.
 */
START_TEST(test_loop_across_transactions)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	t->unit = 100;
	READ(t, 300, FP_POSTS, 1, 12);
	for (int i = 0; i < 12; i++)
	{
		t->unit = 200 + i;
		READ(t, 150, FP_AUTHOR, 1000 + i, 1);
		t->unit = 300 + i;
		WRITE(t, 150, FP_INSERT, 2000 + i, 1);
	}
	n1_flush_all(t->det);
	f = expect_loop(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR, 12);
	ck_assert_uint_eq(f->parent_fp, FP_POSTS);
	expect_loop(t, N1_CLASS_WRITE_LOOP, FP_INSERT, 12);
	ck_assert_int_eq(t->out.n, 2);
	trace_free(t);

	/* Pony: read each item in autocommit, write it in a transaction */
	t = trace_new(NULL, 4);
	READ(t, 300, FP_POSTS, 1, 10);
	for (int i = 0; i < 10; i++)
	{
		t->unit = 0;
		READ(t, 150, FP_AUTHOR, 1000 + i, 1);
		t->unit = 400 + i;
		WRITE(t, 150, FP_INSERT, 2000 + i, 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, FP_INSERT), 1);
	trace_free(t);

	/* with span_units off, every transaction ends the runs: nothing */
	{
		n1_config	cfg;

		n1_config_default(&cfg);
		cfg.span_units = 0;
		t = trace_new(&cfg, 4);
		t->unit = 100;
		READ(t, 300, FP_POSTS, 1, 12);
		for (int i = 0; i < 12; i++)
		{
			t->unit = 200 + i;
			READ(t, 150, FP_AUTHOR, 1000 + i, 1);
		}
		n1_flush_all(t->det);
		ck_assert_int_eq(t->out.n, 0);
		trace_free(t);
	}
}

END_TEST

/*
 * Spanning transactions does not make independent requests a loop: one
 * lookup per transaction with no parent (pgbench -S in BEGIN/END), and
 * pgbench's TPC-B transactions one after the other.  A loop inside one
 * transaction is still reported when that transaction ends, even though
 * the next transaction runs the same statement.
 */
START_TEST(test_transactions_not_a_loop)
{
	trace	   *t = trace_new(NULL, 4);
	uint64_t	st = 3;

	for (int i = 0; i < 200; i++)
	{
		t->unit = 10 + i;
		READ(t, 40 + (int64_t) (rnd(&st) % 30), FP_USER, rnd(&st), 1);
	}
	for (int i = 0; i < 200; i++)
	{
		uint64_t	aid = rnd(&st);

		t->unit = 1000 + i;
		WRITE(t, 40, FP_INSERT, aid, 1);
		READ(t, 30, FP_USER, aid, 1);
		WRITE(t, 30, FP_OTHER, rnd(&st) % 10, 1);
		WRITE(t, 30, FP_BATCH, rnd(&st), 1);
		WRITE(t, 30, FP_POLL, rnd(&st), 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);

	t->unit = 5000;
	for (int i = 0; i < 7; i++)
		READ(t, 120, FP_AUTHOR, 3000 + i, 1);
	t->unit = 5001;
	READ(t, 120, FP_AUTHOR, 4000, 1);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	ck_assert_uint_eq(find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR)->repeats, 7);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	trace_free(t);
}

END_TEST

/* pgbench's TPC-B transaction: 4 writes and a read, each once */
static void
tpcb_txn(trace *t, uint64_t unit, uint64_t *st)
{
	uint64_t	aid = rnd(st);

	t->unit = unit;
	WRITE(t, 40, FP_ACCOUNTS, aid, 1);
	READ(t, 30, FP_USER, aid, 1);
	WRITE(t, 30, FP_TELLERS, rnd(st) % 10, 1);
	WRITE(t, 30, FP_BRANCHES, rnd(st), 1);
	WRITE(t, 30, FP_HISTORY, rnd(st), 1);
}

/*
 * pgbench -S and TPC-B settle: after a few iterations their runs take the
 * quick path (n1_feed_settled), and a true loop that comes next on the
 * same connection is still found, with its parent.
 */
START_TEST(test_settled_runs)
{
	trace	   *t = trace_new(NULL, 4);
	uint64_t	st = 11;
	const n1_finding *f;

	for (int i = 0; i < 1000; i++)
		READ(t, 30 + (int64_t) (rnd(&st) % 20), FP_USER, rnd(&st), 1);
	ck_assert_uint_ge(t->quick, 1000 - 4 * 5);
	ck_assert_int_eq(t->out.n, 0);
	t->quick = 0;
	for (int i = 0; i < 500; i++)
		tpcb_txn(t, 100 + i, &st);
	ck_assert_uint_ge(t->quick, 5 * 500 - 5 * 4 * 5 - 5);
	ck_assert_int_eq(t->out.n, 0);

	/* a loop after a pause that ends the runs of FP_USER and FP_INSERT */
	t->unit = 0;
	READ(t, 500000, FP_POSTS, 1, 8);
	for (int i = 0; i < 8; i++)
		READ(t, 60, FP_USER, 5000 + i, 1);
	t->unit = 900;
	for (int i = 0; i < 6; i++)
		WRITE(t, 60, FP_INSERT, 6000 + i, 1);
	t->unit = 0;
	n1_flush_all(t->det);
	f = expect_loop(t, N1_CLASS_N_PLUS_ONE, FP_USER, 8);
	ck_assert_uint_eq(f->parent_fp, FP_POSTS);
	expect_loop(t, N1_CLASS_WRITE_LOOP, FP_INSERT, 6);
	ck_assert_int_eq(t->out.n, 2);
	trace_free(t);

	/*
	 * TPC-B, then a loop of its INSERT with no pause: the loop goes on the
	 * settled run of the INSERT and is not reported (before runs settled, the
	 * whole run, transactions included, was reported when the loop was longer
	 * than the transactions before it); after a pause it is
	 */
	t = trace_new(NULL, 4);
	for (int i = 0; i < 100; i++)
		tpcb_txn(t, 100 + i, &st);
	t->unit = 500;
	for (int i = 0; i < 10; i++)
		WRITE(t, 60, FP_HISTORY, 7000 + i, 1);
	t->unit = 501;
	tpcb_txn(t, 501, &st);
	ck_assert_int_eq(t->out.n, 0);
	t->unit = 502;
	for (int i = 0; i < 10; i++)
		WRITE(t, i == 0 ? 500000 : 60, FP_HISTORY, 8000 + i, 1);
	t->unit = 503;
	tpcb_txn(t, 503, &st);
	expect_loop(t, N1_CLASS_WRITE_LOOP, FP_HISTORY, 10);
	ck_assert_int_eq(t->out.n, 1);
	trace_free(t);
}

END_TEST

/* Order of findings by the start of their loop, then child, then class */
static int
cmp_finding(const void *x, const void *y)
{
	const n1_finding *a = x,
			   *b = y;

	if (a->first_start_us != b->first_start_us)
		return a->first_start_us < b->first_start_us ? -1 : 1;
	if (a->child_fp != b->child_fp)
		return a->child_fp < b->child_fp ? -1 : 1;
	return (int) a->cls - (int) b->cls;
}

/* One random stretch of statements on trace t (see test_settled_same_findings) */
static void
random_stretch(trace *t, uint64_t *st, uint64_t *unit)
{
	int			n = 1 + (int) (rnd(st) % 60);
	int64_t		gap = 20 + (int64_t) (rnd(st) % 300);

	switch (rnd(st) % 9)
	{
		case 0:					/* a parent and its loop */
			t->unit = rnd(st) % 2 ? 0 : ++*unit;
			READ(t, 300, FP_POSTS, rnd(st), (uint64_t) n);
			for (int i = 0; i < n; i++)
				READ(t, gap, FP_AUTHOR, rnd(st), 1);
			break;
		case 1:					/* pgbench -S */
			t->unit = 0;
			for (int i = 0; i < 5 * n; i++)
				READ(t, gap, FP_USER, rnd(st), 1);
			break;
		case 2:					/* TPC-B */
			for (int i = 0; i < n; i++)
				tpcb_txn(t, ++*unit, st);
			break;
		case 3:					/* a write loop, in a transaction or not */
			t->unit = rnd(st) % 2 ? 0 : ++*unit;
			for (int i = 0; i < n; i++)
				WRITE(t, gap, FP_INSERT, rnd(st), 1);
			break;
		case 4:					/* polling */
			t->unit = 0;
			for (int i = 0; i < n; i++)
				READ(t, 2000 + gap, FP_POLL, 7, 1);
			break;
		case 5:					/* idle, or a pause that breaks rhythms */
			t->now += rnd(st) % 2 ? 2000000 : 20000 + (int64_t) (rnd(st) % 300000);
			break;
		case 6:					/* lookups that commit one by one */
			for (int i = 0; i < n; i++)
			{
				t->unit = ++*unit;
				READ(t, gap, FP_USER, rnd(st), 1);
				t->unit = ++*unit;
				WRITE(t, gap, FP_HISTORY, rnd(st), 1);
			}
			break;
		case 7:					/* another client */
			t->scope = 1 + rnd(st) % 3;
			break;
		default:				/* pipelined writes */
			t->pipelined = 1;
			for (int i = 0; i < n; i++)
				WRITE(t, 3, FP_BATCH, rnd(st), 1);
			t->pipelined = 0;
			break;
	}
}

/*
 * Settled runs change no finding: random mixes of loops, -S, TPC-B,
 * writes, polling, pauses and clients give the same loops with runs
 * allowed to settle (and the quick path) as with settling off
 * (report_rejected turns it off; its extra "not a loop" reports are left
 * out of the comparison).  The one difference is left out of the mix: a
 * loop of one of TPC-B's writes right after the transactions (see
 * test_settled_runs).
 */
START_TEST(test_settled_same_findings)
{
	for (uint64_t seed = 1; seed <= 40; seed++)
	{
		n1_config	cfg;
		trace	   *a,
				   *b;
		uint64_t	sa = seed,
					sb = seed,
					ua = 0,
					ub = 0;

		n1_config_default(&cfg);
		a = trace_new(&cfg, 4);
		cfg.report_rejected = 1;
		b = trace_new(&cfg, 4);
		b->no_quick = 1;
		b->out.skip_none = 1;
		for (int k = 0; k < 200; k++)
		{
			random_stretch(a, &sa, &ua);
			random_stretch(b, &sb, &ub);
		}
		n1_flush_all(a->det);
		n1_flush_all(b->det);
		ck_assert_uint_gt(a->quick, 0);
		ck_assert_int_gt(a->out.n, 0);
		ck_assert_int_le(a->out.n, MAXF);
		/* runs that settled may be closed sooner: compare as sets */
		qsort(a->out.f, a->out.n, sizeof(n1_finding), cmp_finding);
		qsort(b->out.f, b->out.n, sizeof(n1_finding), cmp_finding);
		ck_assert_int_eq(a->out.n, b->out.n);
		for (int i = 0, j = 0; i < a->out.n; i++, j++)
		{
			ck_assert_int_eq(a->out.f[i].cls, b->out.f[j].cls);
			ck_assert_uint_eq(a->out.f[i].child_fp, b->out.f[j].child_fp);
			ck_assert_uint_eq(a->out.f[i].parent_fp, b->out.f[j].parent_fp);
			ck_assert_uint_eq(a->out.f[i].repeats, b->out.f[j].repeats);
			ck_assert_uint_eq(a->out.f[i].rows, b->out.f[j].rows);
			ck_assert_int_eq(a->out.f[i].first_start_us, b->out.f[j].first_start_us);
		}
		trace_free(a);
		trace_free(b);
	}
}

END_TEST

/* posts -> comments of each post -> author of each comment */
START_TEST(test_nested_loops)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *fc,
			   *fa;
	int			k = 0;

	READ(t, 100, FP_POSTS, 1, 6);
	for (int p = 0; p < 6; p++)
	{
		READ(t, 150, FP_COMMENTS, 100 + p, 3);
		for (int c = 0; c < 3; c++)
			READ(t, 150, FP_AUTHOR, 500 + k++, 1);
	}
	n1_flush_all(t->det);
	fc = find(t, N1_CLASS_N_PLUS_ONE, FP_COMMENTS);
	fa = find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR);
	ck_assert_ptr_nonnull(fc);
	ck_assert_ptr_nonnull(fa);
	ck_assert_uint_eq(fc->repeats, 6);
	ck_assert_uint_eq(fc->parent_fp, FP_POSTS);
	ck_assert_uint_eq(fa->repeats, 18);
	ck_assert_uint_eq(fa->parent_fp, FP_COMMENTS);
	trace_free(t);
}

END_TEST

/* posts -> author and category of each post (interleaved children) */
START_TEST(test_interleaved_children)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *fa,
			   *fc;

	READ(t, 100, FP_POSTS, 1, 8);
	for (int p = 0; p < 8; p++)
	{
		READ(t, 150, FP_COMMENTS, 100 + p, 4);
		READ(t, 150, FP_AUTHOR, 200 + p, 1);
		READ(t, 150, FP_CATEGORY, 300 + p % 3, 1);
	}
	n1_flush_all(t->det);
	fa = find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR);
	fc = find(t, N1_CLASS_N_PLUS_ONE, FP_CATEGORY);
	ck_assert_ptr_nonnull(fa);
	ck_assert_ptr_nonnull(fc);
	ck_assert_uint_eq(fa->parent_fp, FP_POSTS);
	ck_assert_uint_eq(fc->parent_fp, FP_POSTS);
	ck_assert_uint_eq(fc->distinct, 3);
	ck_assert_ptr_nonnull(find(t, N1_CLASS_N_PLUS_ONE, FP_COMMENTS));
	trace_free(t);
}

END_TEST

/*
 * A loop with no multi-row statement before it has no parent; inside a
 * transaction it is still an N+1, in autocommit it is independent lookups
 */
START_TEST(test_no_parent)
{
	trace	   *t = trace_new(NULL, 4);

	t->unit = 7;
	for (int i = 0; i < 7; i++)
		READ(t, 120, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	ck_assert_int_eq(t->out.f[0].cls, N1_CLASS_N_PLUS_ONE);
	ck_assert_uint_eq(t->out.f[0].parent_fp, 0);
	ck_assert_uint_eq(t->out.f[0].parent_rows, 0);

	t->unit = 0;
	t->out.n = 0;
	for (int i = 0; i < 7; i++)
		READ(t, 120, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	trace_free(t);
}

END_TEST

/*
 * pgbench -S: one point lookup after the other in autocommit, a different
 * key each time, thousands of them, no parent: not a loop
 */
START_TEST(test_pgbench_select_only)
{
	n1_config	cfg;
	trace	   *t;
	uint64_t	st = 5;

	n1_config_default(&cfg);
	cfg.report_rejected = 1;
	t = trace_new(&cfg, 4);
	for (int i = 0; i < 20000; i++)
		READ(t, 30 + (int64_t) (rnd(&st) % 20), FP_USER, rnd(&st), 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	ck_assert_int_eq(t->out.f[0].cls, N1_CLASS_NONE);
	ck_assert_int_eq(t->out.f[0].reject, N1_REJECT_NO_PARENT);
	ck_assert_str_eq(n1_reject_name(t->out.f[0].reject), "no_parent");
	trace_free(t);
}

END_TEST

/*
 * A web app's requests back to back on one pooled connection, in
 * autocommit: look up a user, list the user's orders (several rows), log
 * the view.  Every statement repeats once per request: no loop, even though
 * the orders query returns several rows before the next lookup.
 */
START_TEST(test_requests_back_to_back)
{
	trace	   *t = trace_new(NULL, 4);
	uint64_t	st = 9;

	for (int i = 0; i < 40; i++)
	{
		uint64_t	u = rnd(&st);

		READ(t, 200 + (int64_t) (rnd(&st) % 300), FP_USER, u, 1);
		READ(t, 60, FP_COMMENTS, u, 2 + rnd(&st) % 4);
		WRITE(t, 60, FP_INSERT, rnd(&st), 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, 0), 0);

	/* the same requests each with a real loop: the loops are found */
	t->out.n = 0;
	for (int i = 0; i < 3; i++)
	{
		READ(t, 2000000, FP_USER, rnd(&st), 1);
		classic_loop(t, 8, 100);
		WRITE(t, 60, FP_INSERT, rnd(&st), 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 3);
	trace_free(t);
}

END_TEST

/*
 * The same requests on a loaded client: stalls of 40-90 ms between any two
 * statements may cut one statement's run and not another's.  The list read
 * that runs again in every request is still no parent of the INSERT.
 */
START_TEST(test_requests_with_stalls)
{
	for (uint64_t seed = 1; seed <= 40; seed++)
	{
		trace	   *t = trace_new(NULL, 4);
		uint64_t	st = seed;

#define STALL(st) (rnd(st) % 5 == 0 ? 40000 + (int64_t) (rnd(st) % 50000) : 60)
		for (int i = 0; i < 80; i++)
		{
			uint64_t	u = rnd(&st);

			READ(t, STALL(&st), FP_USER, u, 1);
			READ(t, STALL(&st), FP_COMMENTS, u, 2 + rnd(&st) % 4);
			WRITE(t, STALL(&st), FP_INSERT, rnd(&st), 1);
		}
#undef STALL
		n1_flush_all(t->det);
		ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
		ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, 0), 0);
		trace_free(t);
	}
}

END_TEST

/* Statements of kind OTHER and fingerprint 0 are never loops */
START_TEST(test_other_ignored)
{
	trace	   *t = trace_new(NULL, 4);

	for (int i = 0; i < 20; i++)
		stmt(t, 100, FP_OTHER, (uint64_t) i, 1, N1_KIND_OTHER, 10);
	for (int i = 0; i < 20; i++)
		READ(t, 100, 0, (uint64_t) i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 0);
	trace_free(t);
}

END_TEST

/* Memory stays bounded: many shapes, many scopes */
START_TEST(test_bounded)
{
	trace	   *t = trace_new(NULL, 4);

	for (int i = 0; i < 5000; i++)
	{
		t->scope = (uint64_t) (i % 11) + 1;
		READ(t, 10, 1000 + (uint64_t) (i % 97), (uint64_t) i, 1);
	}
	for (int i = 0; i < t->det->nscopes; i++)
	{
		ck_assert_int_le(t->det->scopes[i].nruns, N1_MAX_RUNS);
		ck_assert_int_ge(t->det->scopes[i].nruns, 0);
	}
	ck_assert_uint_gt(t->det->stats.scopes_evicted, 0);
	ck_assert_uint_eq(t->det->stats.events, 5000);
	n1_flush_all(t->det);
	trace_free(t);
}

END_TEST

/* A finished loop is reported before the scope ends (round-robin sweep) */
START_TEST(test_reported_without_flush)
{
	trace	   *t = trace_new(NULL, 4);

	classic_loop(t, 10, 100);
	for (int i = 0; i < 3 * N1_MAX_RUNS; i++)
		READ(t, 5000, FP_OTHER + 100 + (uint64_t) i, 1, 1);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR), 1);
	trace_free(t);
}

END_TEST

START_TEST(test_classify_reasons)
{
	n1_config	cfg;
	n1_run		r;
	n1_reject	why;

	n1_config_default(&cfg);
	memset(&r, 0, sizeof(r));
	r.count = 4;
	r.ndistinct = 4;
	r.rows = 4;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_FEW_REPEATS);
	r.in_xact = 1;
	r.count = 10;
	r.rows = 10;
	r.ndistinct = 10;
	r.gap_sum = 9 * 100;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_N_PLUS_ONE);
	r.npipelined = 9;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_PIPELINED);
	ck_assert_str_eq(n1_reject_name(why), "pipelined");
	r.npipelined = 0;
	r.rows = 300;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_MANY_ROWS);
	r.rows = 10;
	/* slow and irregular: gaps from 20 to 80 ms */
	for (int i = 0; i < 9; i++)
		r.gap_hist[4 * 14 + 2 + (i % 3) * 4]++;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_INDEPENDENT);
	ck_assert_str_eq(n1_reject_name(why), "independent");
	/* ... unless a parent with as many rows explains the iterations */
	ck_assert_int_eq(n1_classify(&cfg, &r, 10, 10, &why), N1_CLASS_N_PLUS_ONE);
	/* slow and regular: a loop */
	memset(r.gap_hist, 0, sizeof(r.gap_hist));
	r.gap_hist[4 * 14 + 2] = 9;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_N_PLUS_ONE);
	memset(r.gap_hist, 0, sizeof(r.gap_hist));
	/* in autocommit, only with a parent */
	r.in_xact = 0;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_NO_PARENT);
	ck_assert_int_eq(n1_classify(&cfg, &r, 10, 10, &why), N1_CLASS_N_PLUS_ONE);
	r.kind = N1_KIND_WRITE;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_WRITE_LOOP);
	r.interleaved = 1;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_NO_PARENT);
	r.kind = N1_KIND_READ;
	r.interleaved = 0;
	r.in_xact = 1;
	cfg.min_distinct = 20;
	ck_assert_int_eq(n1_classify(&cfg, &r, 0, 0, &why), N1_CLASS_NONE);
	ck_assert_int_eq(why, N1_REJECT_FEW_DISTINCT);
	ck_assert_str_eq(n1_class_name(N1_CLASS_WRITE_LOOP), "write_loop");
}

END_TEST

START_TEST(test_hash)
{
	const char *a = "hello world, this is longer than eight";
	const char *b = "hello world, this is longer than eighT";

	ck_assert_uint_eq(n1_hash_bytes(a, strlen(a), 0), n1_hash_bytes(a, strlen(a), 0));
	ck_assert_uint_ne(n1_hash_bytes(a, strlen(a), 0), n1_hash_bytes(b, strlen(b), 0));
	ck_assert_uint_ne(n1_hash_bytes(a, 3, 0), n1_hash_bytes(a, 4, 0));
	ck_assert_uint_ne(n1_hash_bytes(a, 3, 0), n1_hash_bytes(a, 3, 1));
	ck_assert_uint_ne(n1_hash_combine(1, 2), n1_hash_combine(2, 1));
}

END_TEST

/* A parent lookup standing for the other connections of a pool */
static int	remote_calls;

static int
remote_parent(uint64_t scope_id, int64_t before_us, uint64_t *fp, uint64_t *rows,
			  void *arg)
{
	(void) scope_id;
	(void) before_us;
	(void) arg;
	remote_calls++;
	*fp = FP_POSTS;
	*rows = 10;
	return 1;
}

/*
 * A loop whose parent ran on another connection of the application's pool:
 * found through the caller's parent lookup; pgbench -S-like streams
 * interleaved with other statements never ask for one
 */
START_TEST(test_parent_elsewhere)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	for (int i = 0; i < 8; i++)
		READ(t, 300, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);

	n1_detector_set_parent_lookup(t->det, remote_parent, NULL);
	remote_calls = 0;
	for (int i = 0; i < 8; i++)
		READ(t, 300, FP_AUTHOR, 1000 + i, 1);
	n1_flush_all(t->det);
	f = find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->parent_fp, FP_POSTS);
	ck_assert_uint_eq(f->parent_rows, 10);
	ck_assert_int_eq(remote_calls, 1);

	/* requests whose statements all repeat together: no lookup, no loop */
	t->out.n = 0;
	remote_calls = 0;
	for (int i = 0; i < 10; i++)
	{
		READ(t, 300, FP_USER, 5000 + (uint64_t) i, 1);
		WRITE(t, 100, FP_INSERT, 7000 + (uint64_t) i, 1);
	}
	n1_flush_all(t->det);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	ck_assert_int_eq(count_class(t, N1_CLASS_WRITE_LOOP, 0), 0);
	ck_assert_int_eq(remote_calls, 0);

	/*
	 * a stream longer than the other connection's read has rows (pgbench -S
	 * right after some other client's 10-row read): that read cannot have fed
	 * it
	 */
	t->out.n = 0;
	remote_calls = 0;
	for (int i = 0; i < 40; i++)
		READ(t, 300, FP_AUTHOR, 2000 + (uint64_t) i, 1);
	n1_flush_all(t->det);
	ck_assert_int_eq(remote_calls, 1);
	ck_assert_int_eq(count_class(t, N1_CLASS_N_PLUS_ONE, 0), 0);
	trace_free(t);
}

END_TEST

/*
 * Rows fetched from a server-side cursor (FETCH 10 at a time, as Django's
 * iterator() does) feed the loop that follows; the FETCHes themselves,
 * always the same statement, are never a redundant loop
 */
START_TEST(test_cursor_fetch_parent)
{
	trace	   *t = trace_new(NULL, 4);
	const n1_finding *f;

	for (int k = 0; k < 6; k++)
	{
		stmt(t, 100, FP_PAGEN, 1, 10, N1_KIND_FETCH, 40);
		for (int i = 0; i < 10; i++)
			READ(t, 100, FP_AUTHOR, 1000 + 10 * (uint64_t) k + (uint64_t) i, 1);
	}
	stmt(t, 100, FP_PAGEN, 1, 0, N1_KIND_FETCH, 40);
	n1_flush_all(t->det);
	ck_assert_int_eq(t->out.n, 1);
	f = find(t, N1_CLASS_N_PLUS_ONE, FP_AUTHOR);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->parent_fp, FP_PAGEN);
	ck_assert_int_eq(f->repeats, 60);
	trace_free(t);
}

END_TEST

static Suite *
nplusone_suite(void)
{
	Suite	   *s = suite_create("nplusone");
	TCase	   *tc = tcase_create("core");

	tcase_add_test(tc, test_classic_n_plus_one);
	tcase_add_test(tc, test_loop_lengths);
	tcase_add_test(tc, test_min_repeats_setting);
	tcase_add_test(tc, test_redundant);
	tcase_add_test(tc, test_write_loop);
	tcase_add_test(tc, test_any_batch_not_reported);
	tcase_add_test(tc, test_chunked_batches_not_reported);
	tcase_add_test(tc, test_pagination_not_reported);
	tcase_add_test(tc, test_has_many_loop);
	tcase_add_test(tc, test_many_rows_without_parent);
	tcase_add_test(tc, test_polling);
	tcase_add_test(tc, test_pipelined_not_reported);
	tcase_add_test(tc, test_independent_requests);
	tcase_add_test(tc, test_several_clients);
	tcase_add_test(tc, test_idle_splits_loops);
	tcase_add_test(tc, test_rhythm_break);
	tcase_add_test(tc, test_slow_regular_loop);
	tcase_add_test(tc, test_spikes_do_not_cut);
	tcase_add_test(tc, test_independent_requests_single_rows);
	tcase_add_test(tc, test_slow_loop_after_fast_statements);
	tcase_add_test(tc, test_unit_change);
	tcase_add_test(tc, test_loop_across_transactions);
	tcase_add_test(tc, test_stall_inside_loop);
	tcase_add_test(tc, test_requests_with_stalls);
	tcase_add_test(tc, test_transactions_not_a_loop);
	tcase_add_test(tc, test_settled_runs);
	tcase_add_test(tc, test_settled_same_findings);
	tcase_add_test(tc, test_nested_loops);
	tcase_add_test(tc, test_interleaved_children);
	tcase_add_test(tc, test_no_parent);
	tcase_add_test(tc, test_other_ignored);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_reported_without_flush);
	tcase_add_test(tc, test_classify_reasons);
	tcase_add_test(tc, test_hash);
	tcase_add_test(tc, test_pgbench_select_only);
	tcase_add_test(tc, test_requests_back_to_back);
	tcase_add_test(tc, test_parent_elsewhere);
	tcase_add_test(tc, test_cursor_fetch_parent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(nplusone_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
