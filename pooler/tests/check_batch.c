/*
 * check_batch.c -- unit tests for pooler/batch.c: which client messages are
 * held or relayed, what is sent to the server for a held segment, and the
 * replies synthesized for the client from canned server replies (success,
 * RETURNING, errors and row-count mismatches with replay, explicit
 * transactions with a savepoint, simple-protocol strings, cap splitting,
 * queued client messages).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* memmem */
#endif
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"

/* ---- building client and server messages ---- */

static struct proto_buf mb;		/* scratch for one message */

static const uint8_t *
m_parse(const char *name, const char *sql, int ntypes, const uint32_t *types)
{
	proto_buf_reset(&mb);
	proto_begin(&mb, PQMSG_Parse);
	proto_put_string(&mb, name);
	proto_put_string(&mb, sql);
	proto_put_int16(&mb, (uint16_t) ntypes);
	for (int i = 0; i < ntypes; i++)
		proto_put_int32(&mb, types[i]);
	proto_end(&mb);
	return mb.data;
}

/* Bind of text parameters (NULL value = SQL NULL); nfmt codes all `fmt`. */
static const uint8_t *
m_bind_f(const char *stmt, int n, const char *const *vals, int nfmt, int fmt)
{
	proto_buf_reset(&mb);
	proto_begin(&mb, PQMSG_Bind);
	proto_put_string(&mb, "");
	proto_put_string(&mb, stmt);
	proto_put_int16(&mb, (uint16_t) nfmt);
	for (int i = 0; i < nfmt; i++)
		proto_put_int16(&mb, (uint16_t) fmt);
	proto_put_int16(&mb, (uint16_t) n);
	for (int i = 0; i < n; i++)
	{
		if (!vals[i])
			proto_put_int32(&mb, 0xffffffffu);
		else
		{
			proto_put_int32(&mb, (uint32_t) strlen(vals[i]));
			proto_put_bytes(&mb, vals[i], strlen(vals[i]));
		}
	}
	proto_put_int16(&mb, 0);
	proto_end(&mb);
	return mb.data;
}

static const uint8_t *
m_bind(const char *stmt, int n, const char *const *vals)
{
	return m_bind_f(stmt, n, vals, 0, 0);
}

static const uint8_t *
m_describe_portal(void)
{
	proto_buf_reset(&mb);
	proto_begin(&mb, PQMSG_Describe);
	proto_put_byte(&mb, 'P');
	proto_put_string(&mb, "");
	proto_end(&mb);
	return mb.data;
}

static const uint8_t *
m_execute(void)
{
	proto_buf_reset(&mb);
	proto_begin(&mb, PQMSG_Execute);
	proto_put_string(&mb, "");
	proto_put_int32(&mb, 0);
	proto_end(&mb);
	return mb.data;
}

static const uint8_t *
m_simple(uint8_t type)
{
	proto_buf_reset(&mb);
	proto_begin(&mb, type);
	proto_end(&mb);
	return mb.data;
}

static const uint8_t *
m_query(const char *sql)
{
	proto_buf_reset(&mb);
	proto_build_query(&mb, sql);
	return mb.data;
}

static const uint8_t *
m_ready(char status)
{
	proto_buf_reset(&mb);
	proto_build_ready(&mb, status);
	return mb.data;
}

static const uint8_t *
m_complete(const char *tag)
{
	proto_buf_reset(&mb);
	proto_build_command_complete(&mb, tag);
	return mb.data;
}

static const uint8_t *
m_error(const char *sqlstate, const char *text)
{
	proto_buf_reset(&mb);
	proto_build_error(&mb, PQMSG_ErrorResponse, "ERROR", sqlstate, text, NULL, NULL);
	return mb.data;
}

static const uint8_t *
m_datarow(const char *v)
{
	proto_buf_reset(&mb);
	proto_build_data_row(&mb, 1, &v);
	return mb.data;
}

/* Third answer of the table check: may its rows raise NOTICEs (row triggers...). */
static bool catalog_noisy;

/* The table check's answer: has statement triggers/rules, may skip rows. */
static const uint8_t *
m_catalog(bool bad, bool may_skip)
{
	const char *v[3] = {bad ? "t" : "f", may_skip ? "t" : "f", catalog_noisy ? "t" : "f"};

	proto_buf_reset(&mb);
	proto_build_data_row(&mb, 3, v);
	return mb.data;
}

static const uint8_t *
m_rowdesc(const char *col)
{
	proto_buf_reset(&mb);
	proto_build_row_description(&mb, 1, &col, NULL);
	return mb.data;
}

static size_t
mlen(const uint8_t *m)
{
	return 1 + proto_get_u32(m + 1);
}

static void
append_msg(struct proto_buf *to, const uint8_t *m)
{
	proto_put_bytes(to, m, mlen(m));
}

/* ---- driving the batch ---- */

static struct batch *b;
static struct proto_buf sent;	/* everything sent to the server so far */
static struct proto_buf got;	/* everything the client received so far */

static void
drain(void)
{
	struct proto_buf *s = batch_to_server(b),
			   *c = batch_to_client(b);

	proto_put_bytes(&sent, s->data, s->len);
	proto_put_bytes(&got, c->data, c->len);
	proto_buf_reset(s);
	proto_buf_reset(c);
}

/* Client message; returns the action; relays it when forwarded. */
static enum batch_action
cli(const uint8_t *m)
{
	size_t		n = mlen(m);
	uint8_t    *copy = malloc(n);
	enum batch_action a;

	memcpy(copy, m, n);
	a = batch_client_message(b, copy, n);
	if (a == BATCH_FORWARD)
	{
		ck_assert_uint_eq(batch_to_server(b)->len, 0);
		proto_put_bytes(&sent, copy, n);
	}
	drain();
	free(copy);
	return a;
}

static bool
wants(const uint8_t *m)
{
	return batch_wants(b, m, mlen(m));
}

static enum batch_action
srv(const uint8_t *m)
{
	size_t		n = mlen(m);
	uint8_t    *copy = malloc(n);
	enum batch_action a;

	memcpy(copy, m, n);
	a = batch_server_message(b, copy, n);
	drain();
	if (a == BATCH_FORWARD)
		proto_put_bytes(&got, copy, n);
	free(copy);
	return a;
}

/* The i-th message of buf, or NULL. */
static const uint8_t *
nth(const struct proto_buf *buf, int i)
{
	size_t		off = 0;

	while (off < buf->len)
	{
		if (i-- == 0)
			return buf->data + off;
		off += mlen(buf->data + off);
	}
	return NULL;
}

static int
count_msgs(const struct proto_buf *buf)
{
	int			n = 0;

	while (nth(buf, n))
		n++;
	return n;
}

/* Message types of buf as a string, e.g. "P1B2". */
static const char *
types_of(const struct proto_buf *buf)
{
	static char s[4096];
	int			n = 0;

	for (const uint8_t *m; (m = nth(buf, n)) != NULL && n < 4095; n++)
		s[n] = (char) m[0];
	s[n] = '\0';
	return s;
}

static __attribute__((noinline))
const char *
body_str(const uint8_t *m, int skip_strings)
{
	const char *p;

	ck_assert_ptr_nonnull(m);
	p = (const char *) m + 5;

	while (skip_strings-- > 0)
		p += strlen(p) + 1;
	return p;
}

static void
setup(void)
{
	struct batch_settings s = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16};

	proto_buf_init(&mb);
	proto_buf_init(&sent);
	proto_buf_init(&got);
	b = batch_new(&s);
	ck_assert_ptr_nonnull(b);
}

static void
teardown(void)
{
	batch_free(b);
	proto_buf_free(&mb);
	proto_buf_free(&sent);
	proto_buf_free(&got);
}

static void
reset_io(void)
{
	proto_buf_reset(&sent);
	proto_buf_reset(&got);
}

static const char *const row_vals[][2] = {{"1", "a"}, {"2", NULL}, {"3", "c"}, {"4", "d"}, {"5", "e"}};

static enum batch_action srv(const uint8_t *m);

/* What the server answers to a guarded multi-row INSERT whose rows all went in. */
static void
guard_ok(void)
{
	ck_assert_int_eq(srv(m_datarow("0")), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_complete("SELECT 1")), BATCH_TAKEN);
}

/* Client sends Parse(name, sql) + n x (Bind [Describe] Execute) + Sync. */
static void
send_batch(const char *name, const char *sql, int n, bool describe)
{
	ck_assert_int_eq(cli(m_parse(name, sql, 0, NULL)), BATCH_TAKEN);
	for (int i = 0; i < n; i++)
	{
		ck_assert_int_eq(cli(m_bind(name, 2, row_vals[i])), BATCH_TAKEN);
		if (describe)
			ck_assert_int_eq(cli(m_describe_portal()), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
}

/* ---- tests ---- */

START_TEST(test_select_passes_through)
{
	const char *const v[] = {"1"};

	ck_assert(!wants(m_parse("", "SELECT $1::int", 0, NULL)));
	ck_assert(wants(m_parse("", "insert into t values ($1)", 0, NULL)));
	ck_assert(wants(m_query("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")));
	ck_assert(!wants(m_query("SELECT 1")));
	ck_assert_int_eq(cli(m_parse("", "SELECT $1::int", 0, NULL)), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_bind("", 1, v)), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_execute()), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&sent), "PBES");
	ck_assert(!batch_busy(b));
	ck_assert_int_eq(srv(m_complete("SELECT 1")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_query("SELECT 1; SELECT 2")), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_query("INSERT INTO t SELECT 1")), BATCH_FORWARD);
}

END_TEST

/* Two rows bound to "s" whose multi-row statement is already prepared (_2). */
static void
reuse_prepared_segment(int r1, int r2)
{
	reset_io();
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[r1])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[r2])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "BES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 1), BATCH_STMT_NAME "_2");
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "2C2CZ");
}

START_TEST(test_batch_success)
{
	const uint8_t *m;

	send_batch("s", "INSERT INTO t (a, b) VALUES ($1, $2)", 3, true);
	ck_assert(batch_busy(b));
	/* while busy every client message is taken (queued) */
	ck_assert(wants(m_query("SELECT 1")));

	/*
	 * The client's Parse, then Parse/Bind/Execute of the guarded rewrite and,
	 * in an implicit transaction, the Sync at once (no Describe: NoData is
	 * ours).
	 */
	ck_assert_str_eq(types_of(&sent), "PPBES");
	m = nth(&sent, 1);
	ck_assert_str_eq(body_str(m, 0), BATCH_STMT_NAME "_1");
	ck_assert_str_eq(body_str(m, 1), "WITH pgplumb_ins AS (INSERT INTO t (a, b) VALUES ($1, $2),"
					 "($3, $4),($5, $6) RETURNING 1) SELECT CASE WHEN count(*) = 3 THEN 0 "
					 "ELSE 1 / (count(*) - count(*))::int END FROM pgplumb_ins");
	/* Bind: portal "", statement, 0 formats, 6 params: 1 a 2 NULL 3 c */
	m = nth(&sent, 2);
	{
		const uint8_t *p = (const uint8_t *) body_str(m, 2);

		ck_assert_uint_eq(proto_get_u16(p), 0);
		ck_assert_uint_eq(proto_get_u16(p + 2), 6);
		ck_assert_uint_eq(proto_get_u32(p + 4), 1);
		ck_assert_int_eq(p[8], '1');
		ck_assert_uint_eq(proto_get_u32(p + 9), 1);
		ck_assert_int_eq(p[13], 'a');
		ck_assert_uint_eq(proto_get_u32(p + 19), 0xffffffffu);
	}
	reset_io();
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_TAKEN);
	guard_ok();
	ck_assert_uint_eq(sent.len, 0);
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12nC2nC2nCZ");
	ck_assert_str_eq(body_str(nth(&got, 3), 0), "INSERT 0 1");
	ck_assert_str_eq(body_str(nth(&got, 9), 0), "INSERT 0 1");
	ck_assert(!batch_busy(b));
	ck_assert_uint_eq(batch_stats(b)->rows, 3);
	ck_assert_uint_eq(batch_stats(b)->segments, 1);
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 0);

	/*
	 * The statement is remembered: a later segment of Binds alone is
	 * rewritten.
	 */
	reset_io();
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[3])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[4])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), BATCH_STMT_NAME "_2");
	ck_assert(strstr(body_str(nth(&sent, 0), 1), "VALUES ($1, $2),($3, $4) RETURNING 1)") != NULL);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_ready('I'));

	/*
	 * A third segment of the same shape reuses the prepared multi-row
	 * statement.
	 */
	reuse_prepared_segment(0, 1);

	/*
	 * Other work gives back the working buffers (batch_trim); what is known
	 * about statements stays: the next segment still reuses the prepared one.
	 */
	reset_io();
	ck_assert_int_eq(cli(m_query("SELECT 1")), BATCH_FORWARD);
	srv(m_complete("SELECT 1"));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	reuse_prepared_segment(2, 3);
	ck_assert_uint_eq(batch_stats(b)->segments, 4);
}

END_TEST

/*
 * insert_batch_form = unnest: the first run asks for the column types (and
 * goes as VALUES); the next goes as INSERT ... SELECT * FROM unnest(...) with
 * one text array literal per parameter.
 */
START_TEST(test_unnest_form)
{
	struct batch_settings s = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.form = BATCH_FORM_UNNEST};
	const char *const ty_a[2] = {"23", "int4"};
	const char *const ty_b[2] = {"25", "text"};
	const uint8_t *m;

	batch_free(b);
	b = batch_new(&s);
	send_batch("s", "INSERT INTO t (a, b) VALUES ($1, $2)", 3, false);

	/*
	 * the client's Parse, the types query (Parse Bind Execute Close), the
	 * VALUES chunk
	 */
	ck_assert_str_eq(types_of(&sent), "PPBECPBES");
	ck_assert_str_eq(body_str(nth(&sent, 1), 1), BATCH_TYPES_SQL);
	ck_assert(strstr(body_str(nth(&sent, 5), 1), "VALUES ($1, $2),($3, $4),($5, $6)") != NULL);
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	proto_buf_reset(&mb);
	proto_build_data_row(&mb, 2, ty_a);
	ck_assert_int_eq(srv(mb.data), BATCH_TAKEN);
	proto_buf_reset(&mb);
	proto_build_data_row(&mb, 2, ty_b);
	ck_assert_int_eq(srv(mb.data), BATCH_TAKEN);
	srv(m_complete("SELECT 2"));
	srv(m_simple(PQMSG_CloseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2C2CZ");

	/* the next run: unnest, two array parameters, NULL unquoted */
	reset_io();
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[3])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("s", 2, row_vals[1])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 1),
					 "WITH pgplumb_ins AS (INSERT INTO t (a, b) SELECT * FROM unnest($1::int4[], "
					 "$2::text[]) RETURNING 1) SELECT CASE WHEN count(*) = 2 THEN 0 ELSE 1 / "
					 "(count(*) - count(*))::int END FROM pgplumb_ins");
	m = nth(&sent, 1);
	{
		const uint8_t *p = (const uint8_t *) body_str(m, 2);

		ck_assert_uint_eq(proto_get_u16(p), 0);
		ck_assert_uint_eq(proto_get_u16(p + 2), 2);
		ck_assert_uint_eq(proto_get_u32(p + 4), 9);
		ck_assert(memcmp(p + 8, "{\"4\",\"2\"}", 9) == 0);
		ck_assert_uint_eq(proto_get_u32(p + 17), 10);
		ck_assert(memcmp(p + 21, "{\"d\",NULL}", 10) == 0);
	}
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "2C2CZ");
	ck_assert_uint_eq(batch_stats(b)->segments, 2);
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 0);

	/* a binary parameter: that run goes as VALUES */
	reset_io();
	for (int i = 0; i < 2; i++)
	{
		ck_assert_int_eq(cli(m_bind_f("s", 2, row_vals[i], 1, 1)), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert(strstr(body_str(nth(&sent, 0), 1), "VALUES ($1, $2),($3, $4)") != NULL);
}

END_TEST

START_TEST(test_returning_rows_split)
{
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2) RETURNING a", 2, true);
	ck_assert_str_eq(types_of(&sent), "PPBDEH");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_rowdesc("a"));
	srv(m_datarow("10"));
	srv(m_datarow("20"));
	srv(m_complete("INSERT 0 2"));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12TDC2TDCZ");
	/* row order kept: 10 for the first execution, 20 for the second */
	ck_assert_int_eq(memcmp(nth(&got, 3) + 11, "10", 2), 0);
	ck_assert_int_eq(memcmp(nth(&got, 7) + 11, "20", 2), 0);
}

END_TEST

START_TEST(test_error_replays_original)
{
	struct proto_buf original;

	proto_buf_init(&original);
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 3, false);
	/* keep the client's bytes: they must be replayed exactly */
	append_msg(&original, m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL));
	for (int i = 0; i < 3; i++)
	{
		append_msg(&original, m_bind("", 2, row_vals[i]));
		append_msg(&original, m_execute());
	}
	proto_put_bytes(&original, m_simple(PQMSG_Sync), 5);
	ck_assert_str_eq(types_of(&sent), "PPBES");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(m_error("23505", "duplicate key value violates unique constraint")),
					 BATCH_TAKEN);

	/*
	 * The Sync already sent ends the failed implicit transaction; then Close
	 * of our one-off statement + Sync, then the client's messages exactly.
	 */
	ck_assert_uint_eq(sent.len, (size_t) mlen(nth(&sent, 0)) + 5 + original.len);
	ck_assert_str_eq(types_of(&sent), "CSPBEBEBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0) + 1, BATCH_STMT_NAME);
	ck_assert_int_eq(memcmp(sent.data + sent.len - original.len, original.data, original.len), 0);
	ck_assert_uint_eq(got.len, 0);

	/*
	 * the failed attempt's ReadyForQuery and the Close's replies are
	 * swallowed
	 */
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_CloseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_uint_eq(got.len, 0);
	/* the replay's replies go to the client unchanged */
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_complete("INSERT 0 1")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_error("23505", "duplicate key value violates unique constraint")),
					 BATCH_FORWARD);
	ck_assert(batch_busy(b));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2EZ");
	ck_assert(!batch_busy(b));
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 1);
	proto_buf_free(&original);
}

END_TEST

START_TEST(test_guard_failure_replays)
{
	/* ON CONFLICT DO NOTHING skipped a row: the guard divides by zero */
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING", 3, false);
	ck_assert_str_eq(types_of(&sent), "PPBES");
	ck_assert(strstr(body_str(nth(&sent, 1), 1), "ON CONFLICT DO NOTHING RETURNING 1)") != NULL);
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(m_error("22012", "division by zero")), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "CSPBEBEBES");
	reset_io();
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_CloseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_FORWARD);
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 1);
}

END_TEST

START_TEST(test_count_mismatch_forces_rollback)
{
	/* with RETURNING there is no guard: the count is checked before the Sync */
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING a",
			   3, false);
	ck_assert_str_eq(types_of(&sent), "PPBEH");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_datarow("1"));
	srv(m_datarow("3"));
	ck_assert_uint_eq(sent.len, 0);
	srv(m_complete("INSERT 0 2"));
	/* an Execute of a portal that does not exist makes the Sync roll back */
	ck_assert_str_eq(types_of(&sent), "ESCSPBEBEBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), BATCH_FAIL_PORTAL);
	reset_io();
	ck_assert_int_eq(srv(m_error("34000", "portal does not exist")), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_CloseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_FORWARD);
}

END_TEST

START_TEST(test_explicit_transaction_savepoint)
{
	ck_assert_int_eq(cli(m_query("BEGIN")), BATCH_FORWARD);
	/* the batch arrives before BEGIN's ReadyForQuery: it waits for it */
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "Q");
	reset_io();
	ck_assert_int_eq(srv(m_complete("BEGIN")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('T')), BATCH_FORWARD);
	/* guarded: Sync and RELEASE go with the segment */
	ck_assert_str_eq(types_of(&sent), "QPPBESQ");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), "SAVEPOINT " BATCH_SAVEPOINT_NAME);
	ck_assert_str_eq(body_str(nth(&sent, 6), 0), "RELEASE SAVEPOINT " BATCH_SAVEPOINT_NAME);
	reset_io();
	srv(m_complete("SAVEPOINT"));
	srv(m_ready('T'));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(m_error("23502", "null value in column")), BATCH_TAKEN);
	/* roll back to the savepoint, replay (the Sync is on its way) */
	ck_assert_str_eq(types_of(&sent), "QCSPBEBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), "ROLLBACK TO SAVEPOINT " BATCH_SAVEPOINT_NAME
					 "; RELEASE SAVEPOINT " BATCH_SAVEPOINT_NAME);
	reset_io();
	srv(m_ready('E'));
	/* the RELEASE behind the Sync fails in the failed transaction */
	ck_assert_int_eq(srv(m_error("25P02", "current transaction is aborted")), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('E')), BATCH_TAKEN);
	srv(m_complete("ROLLBACK"));
	srv(m_complete("RELEASE"));
	ck_assert_int_eq(srv(m_ready('T')), BATCH_TAKEN);
	srv(m_simple(PQMSG_CloseComplete));
	ck_assert_int_eq(srv(m_ready('T')), BATCH_TAKEN);
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_error("23502", "null value in column")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('E')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12EZ");
	ck_assert(!batch_busy(b));
	/* in a failed transaction nothing is rewritten */
	reset_io();
	ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[0])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[1])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBEBES");
}

END_TEST

START_TEST(test_explicit_transaction_success_releases)
{
	cli(m_query("BEGIN"));
	srv(m_complete("BEGIN"));
	srv(m_ready('T'));
	reset_io();
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2) RETURNING a", 2, false);

	/*
	 * RETURNING into a table that may skip rows: the Sync waits for the
	 * replies
	 */
	ck_assert_str_eq(types_of(&sent), "QPPBEH");
	reset_io();
	srv(m_complete("SAVEPOINT"));
	srv(m_ready('T'));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_datarow("1"));
	ck_assert_uint_eq(sent.len, 0);
	srv(m_datarow("2"));
	srv(m_complete("INSERT 0 2"));
	/* then Sync and the RELEASE behind it */
	ck_assert_str_eq(types_of(&sent), "SQ");
	ck_assert_str_eq(body_str(nth(&sent, 1), 0), "RELEASE SAVEPOINT " BATCH_SAVEPOINT_NAME);
	reset_io();
	/* meanwhile the client sends COMMIT: queued */
	ck_assert_int_eq(cli(m_query("COMMIT")), BATCH_TAKEN);
	ck_assert_uint_eq(sent.len, 0);
	ck_assert_int_eq(srv(m_ready('T')), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&got), "12DC2DCZ");
	ck_assert_int_eq(nth(&got, 7)[5], 'T');
	ck_assert_uint_eq(sent.len, 0);
	reset_io();
	srv(m_complete("RELEASE"));
	ck_assert_int_eq(srv(m_ready('T')), BATCH_TAKEN);
	/* now the queued COMMIT goes out */
	ck_assert_str_eq(types_of(&sent), "Q");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), "COMMIT");
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_complete("COMMIT")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
}

END_TEST

START_TEST(test_simple_query_string)
{
	ck_assert_int_eq(cli(m_query("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2);"
								 "INSERT INTO t (a) VALUES (3) RETURNING a")), BATCH_FORWARD);
	/* different tails: not combined */
	srv(m_ready('I'));
	reset_io();
	ck_assert_int_eq(cli(m_query("INSERT INTO t (a) VALUES (1) RETURNING a;"
								 "INSERT INTO t (a) VALUES (2) RETURNING a")), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBDECH");
	ck_assert_str_eq(body_str(nth(&sent, 0), 1),
					 "INSERT INTO t (a) VALUES (1),(2) RETURNING a");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_rowdesc("a"));
	srv(m_datarow("1"));
	srv(m_datarow("2"));
	srv(m_complete("INSERT 0 2"));
	srv(m_simple(PQMSG_CloseComplete));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	/* what a simple Query of two INSERT ... RETURNING gives */
	ck_assert_str_eq(types_of(&got), "TDCTDCZ");
}

END_TEST

/* literal_params: the literals go as parameters of a statement kept prepared */
START_TEST(test_simple_query_literal_params)
{
	struct batch_settings set = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.literal_params = true};
	const uint8_t *m;

	batch_free(b);
	b = batch_new(&set);
	ck_assert_ptr_nonnull(b);
	for (int round = 0; round < 2; round++)
	{
		reset_io();
		ck_assert_int_eq(cli(m_query("INSERT INTO t (a, b) VALUES (1, 'x') RETURNING a;"
									 "INSERT INTO t (a, b) VALUES (-2, NULL) RETURNING a")), BATCH_TAKEN);
		/* parsed once, then only bound: no Close, the statement stays */
		ck_assert_str_eq(types_of(&sent), round == 0 ? "PBDEH" : "BDEH");
		m = nth(&sent, round == 0 ? 1 : 0);
		ck_assert_str_eq(body_str(m, 0), "");
		ck_assert_str_eq(body_str(m, 1), "pgplumb_batch_1");
		if (round == 0)
		{
			const uint8_t *t;

			ck_assert_str_eq(body_str(nth(&sent, 0), 0), "pgplumb_batch_1");
			ck_assert_str_eq(body_str(nth(&sent, 0), 1),
							 "INSERT INTO t (a, b) VALUES ($1, $2),($3, $4) RETURNING a");

			/*
			 * int4 for the numbers, unknown (typed by the column) for the
			 * strings
			 */
			t = (const uint8_t *) body_str(nth(&sent, 0), 2);
			ck_assert_uint_eq(proto_get_u16(t), 4);
			ck_assert_uint_eq(proto_get_u32(t + 2), 23);
			ck_assert_uint_eq(proto_get_u32(t + 6), 0);
			ck_assert_uint_eq(proto_get_u32(t + 10), 23);
			ck_assert_uint_eq(proto_get_u32(t + 14), 0);
		}
		/* Bind: no formats, 4 values 1, x, -2, NULL, no result formats */
		{
			const uint8_t *v = (const uint8_t *) body_str(m, 2);
			static const uint8_t want[] = {0, 0, 0, 4, 0, 0, 0, 1, '1', 0, 0, 0, 1, 'x',
			0, 0, 0, 2, '-', '2', 0xff, 0xff, 0xff, 0xff, 0, 0};

			ck_assert_uint_eq(proto_get_u32(m + 1) + 1, (size_t) (v - m) + sizeof(want));
			ck_assert_int_eq(memcmp(v, want, sizeof(want)), 0);
		}
		reset_io();
		if (round == 0)
			srv(m_simple(PQMSG_ParseComplete));
		srv(m_simple(PQMSG_BindComplete));
		srv(m_rowdesc("a"));
		srv(m_datarow("1"));
		srv(m_datarow("-2"));
		srv(m_complete("INSERT 0 2"));
		ck_assert_str_eq(types_of(&sent), "S");
		ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
		ck_assert_str_eq(types_of(&got), "TDCTDCZ");
	}
	/* a backslash in a string: sent with its literals, as before */
	reset_io();
	ck_assert_int_eq(cli(m_query("INSERT INTO t (a, b) VALUES (1, 'x\\y');"
								 "INSERT INTO t (a, b) VALUES (2, 'z')")), BATCH_TAKEN);
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), "pgplumb_batch");
	ck_assert_ptr_nonnull(strstr(body_str(nth(&sent, 0), 1), "VALUES (1, 'x\\y'),(2, 'z')"));
}

END_TEST

START_TEST(test_cap_splits_chunks)
{
	struct batch_settings s = {.max_rows = 2,.max_bytes = 1 << 20,.max_statements = 16};

	batch_free(b);
	b = batch_new(&s);
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 5, false);
	/* chunks of 2, 2 and 1 rows: the second reuses the first's statement */
	ck_assert_str_eq(types_of(&sent), "PPBEBEPBES");
	ck_assert(strstr(body_str(nth(&sent, 1), 1), "VALUES ($1, $2),($3, $4) RETURNING 1)") != NULL);
	ck_assert_str_eq(body_str(nth(&sent, 4), 1), body_str(nth(&sent, 1), 0));
	ck_assert(strstr(body_str(nth(&sent, 6), 1), "VALUES ($1, $2) RETURNING 1)") != NULL);
	ck_assert(strstr(body_str(nth(&sent, 6), 1), "count(*) = 1 ") != NULL);
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	for (int c = 0; c < 3; c++)
	{
		if (c != 1)
			srv(m_simple(PQMSG_ParseComplete));
		srv(m_simple(PQMSG_BindComplete));
		guard_ok();
	}
	ck_assert_uint_eq(sent.len, 0);
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12C2C2C2C2CZ");
	ck_assert_uint_eq(batch_stats(b)->batches, 3);
}

END_TEST

/* insert_batch_max_bytes: a statement carries at most that many bytes of values */
START_TEST(test_byte_cap_splits_chunks)
{
	struct batch_settings s = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.max_stmt_bytes = 20};

	batch_free(b);
	b = batch_new(&s);

	/*
	 * values of rows 1..4: 10, 9, 10, 10 bytes (4-byte lengths, NULL has
	 * none)
	 */
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 4, false);
	ck_assert_str_eq(types_of(&sent), "PPBEBES");
	ck_assert(strstr(body_str(nth(&sent, 1), 1), "VALUES ($1, $2),($3, $4) RETURNING 1)") != NULL);
	ck_assert_str_eq(body_str(nth(&sent, 4), 1), body_str(nth(&sent, 1), 0));
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	for (int c = 0; c < 2; c++)
	{
		srv(m_simple(PQMSG_BindComplete));
		guard_ok();
	}
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12C2C2C2CZ");
	ck_assert_uint_eq(batch_stats(b)->batches, 2);
	/* a multi-statement string over the cap is one statement: passed through */
	reset_io();
	ck_assert_int_eq(cli(m_query("INSERT INTO t VALUES (1, 'aaaaaaaaaa'); INSERT INTO t VALUES (2, 'bbbbbbbbbb')")),
					 BATCH_FORWARD);
}

END_TEST

/*
 * insert_batch_stream_rows: statements of 2 rows, a Flush after each but the
 * last, each one's replies to the client as soon as they check out; on an
 * error in the last one the replay's replies the client already has are
 * dropped, and the rest relayed.
 */
static void
stream_restart(void)
{
	struct batch_settings s = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.stream_rows = 2};

	batch_free(b);
	b = batch_new(&s);
	ck_assert_ptr_nonnull(b);
}

static void
stream_batch_until_error(void)
{
	stream_restart();
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 5, false);
	ck_assert_str_eq(types_of(&sent), "PPBEHBEHPBES");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(m_datarow("0")), BATCH_TAKEN);
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_complete("SELECT 1")), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&got), "12C2C");
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_str_eq(types_of(&got), "12C2C2C2C");
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(m_error("23505", "duplicate key value violates unique constraint")),
					 BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_CloseComplete)), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	/* the replay: Parse and rows 1..4 already answered */
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_TAKEN);
	for (int i = 0; i < 3; i++)
	{
		ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_TAKEN);
		ck_assert_int_eq(srv(m_complete("INSERT 0 1")), BATCH_TAKEN);
	}
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_TAKEN);
}

START_TEST(test_stream_replies_per_statement)
{
	stream_batch_until_error();
	ck_assert_int_eq(srv(m_complete("INSERT 0 1")), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_BindComplete)), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_error("23505", "duplicate key value violates unique constraint")),
					 BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2C2C2C2EZ");
	ck_assert(!batch_busy(b));
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 1);
}

END_TEST

/* A replay that contradicts what the client was already told: close both. */
START_TEST(test_stream_replay_differs)
{
	stream_batch_until_error();
	ck_assert_int_eq(srv(m_error("23505", "duplicate key value violates unique constraint")),
					 BATCH_FAILED);
}

END_TEST

/* A NOTICE during the attempt stops streaming: a replay would place it elsewhere. */
START_TEST(test_stream_held_after_notice)
{
	struct proto_buf notice;

	stream_restart();
	proto_buf_init(&notice);
	proto_build_error(&notice, PQMSG_NoticeResponse, "NOTICE", "00000", "row 1", NULL, NULL);
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 4, false);
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(notice.data), BATCH_TAKEN);
	guard_ok();
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_uint_eq(got.len, 0);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "1N2C2C2C2CZ");
	proto_buf_free(&notice);
}

END_TEST

START_TEST(test_flush_releases_held)
{
	ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[0])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_uint_eq(sent.len, 0);
	ck_assert_int_eq(cli(m_simple(PQMSG_Flush)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBEH");
	/* the rest of the segment passes through */
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[1])), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_execute()), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_FORWARD);
	ck_assert(!batch_busy(b));
}

END_TEST

START_TEST(test_repeated_unnamed_parse)
{
	/* what libpq's PQsendQueryParams in a pipeline sends: Parse each time */
	for (int i = 0; i < 3; i++)
	{
		ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)),
						 BATCH_TAKEN);
		ck_assert_int_eq(cli(m_bind("", 2, row_vals[i])), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_describe_portal()), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PPBES");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12nC12nC12nCZ");
}

END_TEST

START_TEST(test_created_statement_closed_on_fallback)
{
	send_batch("ins", "INSERT INTO t (a, b) VALUES ($1, $2)", 2, false);
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_error("22P02", "invalid input syntax for type integer"));

	/*
	 * Sync, Close of "ins" + Sync (a prepared statement outlives a rollback),
	 * replay
	 */
	ck_assert_str_eq(types_of(&sent), "CCSPBEBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0) + 1, BATCH_STMT_NAME);
	ck_assert_str_eq(body_str(nth(&sent, 1), 0) + 1, "ins");
	reset_io();
	srv(m_ready('I'));
	srv(m_simple(PQMSG_CloseComplete));
	srv(m_simple(PQMSG_CloseComplete));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_TAKEN);
	ck_assert_int_eq(srv(m_simple(PQMSG_ParseComplete)), BATCH_FORWARD);
}

END_TEST

START_TEST(test_unconfirmed_statement_closed_and_forgotten)
{
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBES");
	reset_io();
	/* the client's own Parse fails: our Parse never ran */
	srv(m_error("42P01", "relation \"t\" does not exist"));
	ck_assert_str_eq(types_of(&sent), "CCSPBEBES");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0) + 1, BATCH_STMT_NAME);
	ck_assert_str_eq(body_str(nth(&sent, 1), 0) + 1, BATCH_STMT_NAME "_1");
	srv(m_ready('I'));
	srv(m_simple(PQMSG_CloseComplete));
	srv(m_simple(PQMSG_CloseComplete));
	srv(m_ready('I'));
	ck_assert_int_eq(srv(m_error("42P01", "relation \"t\" does not exist")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "EZ");
	/* next time the statement is prepared again, under a new name */
	reset_io();
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBES");
	ck_assert_str_eq(body_str(nth(&sent, 1), 0), BATCH_STMT_NAME "_2");
}

END_TEST

/* pgbench -M prepared: each statement prepared in its own Parse + Sync first. */
START_TEST(test_prepared_in_earlier_segments)
{
	const char *sql = "INSERT INTO bi (a, b, c) VALUES ($1, $2, 'payload');";
	char		name[8];

	for (int i = 0; i < 3; i++)
	{
		snprintf(name, sizeof(name), "P_%d", i);
		ck_assert_int_ne(cli(m_parse(name, sql, 0, NULL)), BATCH_FAILED);
		ck_assert_int_ne(cli(m_simple(PQMSG_Sync)), BATCH_FAILED);
		ck_assert_int_ne(srv(m_simple(PQMSG_ParseComplete)), BATCH_FAILED);
		ck_assert_int_ne(srv(m_ready('I')), BATCH_FAILED);
	}
	ck_assert_str_eq(types_of(&sent), "PSPSPS");
	ck_assert_str_eq(types_of(&got), "1Z1Z1Z");
	reset_io();
	for (int i = 0; i < 3; i++)
	{
		snprintf(name, sizeof(name), "P_%d", i);
		ck_assert_int_eq(cli(m_bind(name, 2, row_vals[i])), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_describe_portal()), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBES");
	ck_assert(strstr(body_str(nth(&sent, 0), 1), "VALUES ($1, $2, 'payload'),($3, $4, 'payload'),"
					 "($5, $6, 'payload') RETURNING 1)") != NULL);
}

END_TEST

/* A statement whose rewrites keep failing is no longer rewritten. */
START_TEST(test_repeated_fallbacks_stop_rewriting)
{
	const char *sql = "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING";

	ck_assert_int_eq(cli(m_parse("s", sql, 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_ready('I'));
	for (int round = 0; round < 3; round++)
	{
		reset_io();
		for (int i = 0; i < 2; i++)
		{
			ck_assert_int_eq(cli(m_bind("s", 2, row_vals[i])), BATCH_TAKEN);
			ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
		}
		ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);

		/*
		 * rewritten (the statement prepared the first time), the guard fails,
		 * replayed
		 */
		ck_assert_str_eq(types_of(&sent), round == 0 ? "PBES" : "BES");
		if (round == 0)
			srv(m_simple(PQMSG_ParseComplete));
		srv(m_simple(PQMSG_BindComplete));
		srv(m_error("22012", "division by zero"));
		srv(m_ready('I'));
		srv(m_simple(PQMSG_CloseComplete));
		srv(m_ready('I'));
		srv(m_simple(PQMSG_BindComplete));
		srv(m_complete("INSERT 0 0"));
		srv(m_simple(PQMSG_BindComplete));
		srv(m_complete("INSERT 0 1"));
		ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
		ck_assert_uint_eq(batch_stats(b)->fallbacks, (uint64_t) round + 1);
	}
	reset_io();
	for (int i = 0; i < 2; i++)
	{
		ck_assert_int_eq(cli(m_bind("s", 2, row_vals[i])), BATCH_FORWARD);
		ck_assert_int_eq(cli(m_execute()), BATCH_FORWARD);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_FORWARD);
	/* the fourth segment goes out as the client sent it */
	ck_assert_str_eq(types_of(&sent), "BEBES");
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 3);
}

END_TEST

/* The server's replies to the client's Parse and to the table check. */
static void
table_check_replies(bool bad, bool may_skip)
{
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_catalog(bad, may_skip));
	srv(m_complete("SELECT 1"));
	srv(m_simple(PQMSG_CloseComplete));
}

/*
 * The server's replies to the undo of an implicit-transaction attempt whose
 * Sync was held: the failing Execute, its Sync, the Close of the one-off
 * statement and its Sync.
 */
static void
undo_replies(void)
{
	srv(m_error("34000", "portal does not exist"));
	srv(m_ready('I'));
	srv(m_simple(PQMSG_CloseComplete));
	srv(m_ready('I'));
}

/* The server's replies to a 2-row segment sent as the client sent it. */
static void
as_sent_replies(void)
{
	srv(m_simple(PQMSG_ParseComplete));
	for (int i = 0; i < 2; i++)
	{
		srv(m_simple(PQMSG_BindComplete));
		srv(m_complete("INSERT 0 1"));
	}
	srv(m_ready('I'));
}

/*
 * The first 2-row batch into "Trig", which has a statement-level trigger:
 * the catalog is asked, the attempt undone and the segment replayed as sent.
 */
static void
bad_table_first_batch(const char *sql)
{
	reset_io();
	send_batch("", sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBECPBEH");
	ck_assert(memmem(nth(&sent, 2), mlen(nth(&sent, 2)), "\"Trig\"", 6) != NULL);
	reset_io();
	table_check_replies(true, true);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_str_eq(types_of(&sent), "ESCSPBEBES");
	undo_replies();
	as_sent_replies();
	ck_assert(!batch_busy(b));
}

/* The first batch into a table asks the catalog; a table with statement-level triggers is left alone. */
START_TEST(test_table_check)
{
	struct batch_settings set = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.check_tables = true};
	const char *ok_sql = "INSERT INTO s1.t (a, b) VALUES ($1, $2)";
	const char *bad_sql = "INSERT INTO \"Trig\" (a, b) VALUES ($1, $2)";
	const char *exact_sql = "INSERT INTO ex (a, b) VALUES ($1, $2)";

	batch_free(b);
	b = batch_new(&set);

	/*
	 * unknown table: check first (Parse, Bind "s1"."t", Execute, Close),
	 * Flush not Sync
	 */
	send_batch("", ok_sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBECPBEH");
	ck_assert_str_eq(body_str(nth(&sent, 1), 1), BATCH_CATALOG_SQL);
	ck_assert(memmem(nth(&sent, 2), mlen(nth(&sent, 2)), "\"s1\".\"t\"", 8) != NULL);
	reset_io();
	table_check_replies(false, true);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_str_eq(types_of(&sent), "S");
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	/* known good now: no check, Sync with the segment */
	reset_io();
	send_batch("", ok_sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PBES");
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_ready('I'));

	/*
	 * a table with a statement-level trigger: the attempt is undone and
	 * replayed
	 */
	bad_table_first_batch(bad_sql);
	/* from now on that table's batches go out as sent */
	reset_io();
	send_batch("", bad_sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PBEBES");
	ck_assert(!batch_busy(b));
	as_sent_replies();

	/* a plain table that cannot skip rows: after the check, no guard */
	reset_io();
	send_batch("", exact_sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBECPBEH");
	reset_io();
	table_check_replies(false, false);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	reset_io();
	send_batch("", exact_sql, 2, false);
	/* the client's Parse, then the unguarded statement (a new shape) */
	ck_assert_str_eq(types_of(&sent), "PPBES");
	ck_assert_str_eq(body_str(nth(&sent, 1), 1), "INSERT INTO ex (a, b) VALUES ($1, $2),($3, $4)");
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_complete("INSERT 0 2"));
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	ck_assert_uint_eq(batch_stats(b)->fallbacks, 1);
	/* ON CONFLICT into it still gets the guard */
	reset_io();
	send_batch("", "INSERT INTO ex (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2, false);
	ck_assert(strstr(body_str(nth(&sent, 1), 1), "WITH pgplumb_ins") != NULL);
}

END_TEST

/*
 * One 2-row batch into sql's (plain) table, answered as the server would;
 * true when the rewriter asked the catalog about the table first.
 */
static bool
round_asks_catalog(const char *sql)
{
	const char *types;
	bool		asked;
	int			nparse = 0,
				ncloses = 0;

	reset_io();
	send_batch("", sql, 2, false);
	types = types_of(&sent);
	/* first the Close of each multi-row statement prepared before forgetting */
	while (types[ncloses] == 'C')
		ncloses++;
	asked = strchr(types + ncloses, 'C') != NULL;
	if (asked)
		ck_assert_str_eq(body_str(nth(&sent, ncloses + 1), 1), BATCH_CATALOG_SQL);
	else
		ck_assert_int_eq(ncloses, 0);
	for (const char *t = types; *t; t++)
		nparse += *t == 'P';
	for (int i = 0; i < ncloses; i++)
		srv(m_simple(PQMSG_CloseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	if (asked)
	{
		srv(m_simple(PQMSG_ParseComplete));
		srv(m_simple(PQMSG_BindComplete));
		srv(m_catalog(false, true));
		srv(m_complete("SELECT 1"));
		srv(m_simple(PQMSG_CloseComplete));
	}
	/* the multi-row statement's Parse, unless prepared before */
	if (nparse == (asked ? 3 : 2))
		srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	ck_assert(!batch_busy(b));
	return asked;
}

/*
 * Cached catalog answers are asked again once the shared epoch moves (DDL
 * through the pooler, RELOAD) or the oldest is ttl_us old; a table found
 * bad is looked at again too.
 */
START_TEST(test_catalog_invalidation)
{
	struct batch_catalog cat = {.epoch = 7,.ttl_us = 0};
	struct batch_settings set = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.check_tables = true,.catalog = &cat};
	const char *sql = "INSERT INTO t (a, b) VALUES ($1, $2)";
	const char *bad_sql = "INSERT INTO \"Trig\" (a, b) VALUES ($1, $2)";
	struct timespec pause = {0, 300 * 1000 * 1000};

	batch_free(b);
	b = batch_new(&set);
	ck_assert(round_asks_catalog(sql));
	ck_assert(!round_asks_catalog(sql));
	ck_assert(!round_asks_catalog(sql));
	/* DDL: the next batch asks again, then the answer holds */
	cat.epoch++;
	ck_assert(round_asks_catalog(sql));
	/* ... having closed the multi-row statement prepared before */
	ck_assert_str_eq(types_of(&sent), "CPPBECPBEHS");
	ck_assert(!round_asks_catalog(sql));

	/* a table found bad: replayed as sent until the epoch moves */
	bad_table_first_batch(bad_sql);
	ck_assert(!batch_busy(b));
	reset_io();
	send_batch("", bad_sql, 2, false);
	ck_assert_str_eq(types_of(&sent), "PBEBES");
	as_sent_replies();
	cat.epoch++;
	/* the trigger was dropped: asked again and rewritten */
	ck_assert(round_asks_catalog(bad_sql));
	ck_assert(!round_asks_catalog(bad_sql));

	/* insert_batch_catalog_ttl: asked again once the answers are that old */
	cat.ttl_us = 200 * 1000;
	ck_assert(round_asks_catalog(sql));
	ck_assert(!round_asks_catalog(sql));
	nanosleep(&pause, NULL);
	ck_assert(round_asks_catalog(sql));
	/* a client's own TTL (a [databases] key) wins; < 0: none */
	set.catalog_ttl_us = -1;
	batch_free(b);
	b = batch_new(&set);
	ck_assert(round_asks_catalog(sql));
	nanosleep(&pause, NULL);
	ck_assert(!round_asks_catalog(sql));
	set.catalog_ttl_us = 200 * 1000;
	cat.ttl_us = 0;
	batch_free(b);
	b = batch_new(&set);
	ck_assert(round_asks_catalog(sql));
	ck_assert(!round_asks_catalog(sql));
	nanosleep(&pause, NULL);
	ck_assert(round_asks_catalog(sql));
	/* no catalog object: never asked again */
	batch_free(b);
	set.catalog = NULL;
	b = batch_new(&set);
	ck_assert(round_asks_catalog(sql));
	nanosleep(&pause, NULL);
	ck_assert(!round_asks_catalog(sql));
}

END_TEST

static bool
ddl(const uint8_t *m, size_t avail)
{
	return batch_peek_ddl(m, avail ? avail : mlen(m));
}

/* CREATE, ALTER and DROP as first word move the epoch; nothing else does. */
START_TEST(test_peek_ddl)
{
	ck_assert(ddl(m_query("CREATE TRIGGER x AFTER INSERT ON t EXECUTE FUNCTION f()"), 0));
	ck_assert(ddl(m_query(" \n-- c\n/* a /* b */ */alter table t add c int"), 0));
	ck_assert(ddl(m_parse("s1", "Drop rule r ON t", 0, NULL), 0));
	ck_assert(ddl(m_query("drop"), 0));
	ck_assert(!ddl(m_query("COMMIT"), 0));
	ck_assert(!ddl(m_query("DELETE FROM t"), 0));
	ck_assert(!ddl(m_query("created"), 0));
	ck_assert(!ddl(m_query("drop_x()"), 0));
	ck_assert(!ddl(m_query("SELECT 'create'"), 0));
	ck_assert(!ddl(m_query("INSERT INTO t VALUES (1)"), 0));
	ck_assert(!ddl(m_parse("create", "SELECT 1", 0, NULL), 0));
	ck_assert(!ddl(m_simple(PQMSG_Sync), 0));
	/* the first word cut off: not seen */
	ck_assert(!ddl(m_query("CREATE TABLE t ()"), PROTO_HDR_LEN + 3));
	ck_assert(!ddl(m_parse("a_long_name", "CREATE TABLE t ()", 0, NULL), PROTO_HDR_LEN + 4));
}

END_TEST

/*
 * A table whose rows may raise NOTICEs (a row trigger): its attempts keep
 * the Sync; a NOTICE from the multi-row statement undoes the attempt, the
 * client's messages are replayed (each row's NOTICE before its reply) and
 * the table is not rewritten again; a silent one commits after the replies.
 */
START_TEST(test_notice_undoes_attempt)
{
	struct batch_settings set = {.max_rows = 1000,.max_bytes = 1 << 20,.max_statements = 16,
	.check_tables = true};
	struct proto_buf notice;

	batch_free(b);
	b = batch_new(&set);
	catalog_noisy = true;
	proto_buf_init(&notice);
	proto_build_error(&notice, PQMSG_NoticeResponse, "NOTICE", "00000", "row", NULL, NULL);

	/* a silent row trigger: Flush, replies checked, then Sync */
	send_batch("", "INSERT INTO audit (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBECPBEH");
	reset_io();
	table_check_replies(false, false);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	ck_assert_str_eq(types_of(&sent), "S");
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	/* known now, still not quiet: no check, but the Sync still waits */
	reset_io();
	send_batch("", "INSERT INTO audit (a, b) VALUES ($1, $2)", 2, false);
	/* the client's Parse, then the unguarded statement (a new shape) */
	ck_assert_str_eq(types_of(&sent), "PPBEH");
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_complete("INSERT 0 2"));
	ck_assert_str_eq(types_of(&sent), "S");
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12C2CZ");
	ck_assert_uint_eq(batch_stats(b)->segments, 2);

	/* a trigger that raises a NOTICE per row */
	reset_io();
	send_batch("", "INSERT INTO noisy (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "PPBECPBEH");
	reset_io();
	table_check_replies(false, false);
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	ck_assert_int_eq(srv(notice.data), BATCH_TAKEN);
	ck_assert_int_eq(srv(notice.data), BATCH_TAKEN);
	guard_ok();
	/* undone: an error ends the implicit transaction, then the replay */
	ck_assert_str_eq(types_of(&sent), "ESCSPBEBES");
	ck_assert_uint_eq(got.len, 0);
	undo_replies();
	srv(m_simple(PQMSG_ParseComplete));
	for (int i = 0; i < 2; i++)
	{
		srv(m_simple(PQMSG_BindComplete));
		srv(notice.data);
		srv(m_complete("INSERT 0 1"));
	}
	ck_assert_int_eq(srv(m_ready('I')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&got), "12NC2NCZ");
	ck_assert_uint_eq(batch_stats(b)->fallback[BATCH_FB_TABLE], 1);
	/* from now on that table's batches go out as sent */
	reset_io();
	send_batch("", "INSERT INTO noisy (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_str_eq(types_of(&sent), "PBEBES");
	ck_assert(!batch_busy(b));
	catalog_noisy = false;
	proto_buf_free(&notice);
}

END_TEST

START_TEST(test_mixed_formats_and_select)
{
	const char *const v[] = {"x"};

	/*
	 * binary and text rows mixed: per-parameter codes; a SELECT after the run
	 * stays
	 */
	ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind_f("", 2, row_vals[0], 1, 1)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind_f("", 2, row_vals[1], 0, 0)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_parse("q", "SELECT $1::text", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("q", 1, v)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PPBEPBES");
	{
		const uint8_t *p = (const uint8_t *) body_str(nth(&sent, 2), 2);

		ck_assert_uint_eq(proto_get_u16(p), 4);
		ck_assert_uint_eq(proto_get_u16(p + 2), 1);
		ck_assert_uint_eq(proto_get_u16(p + 4), 1);
		ck_assert_uint_eq(proto_get_u16(p + 6), 0);
		ck_assert_uint_eq(proto_get_u16(p + 8), 0);
	}
	reset_io();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	guard_ok();
	srv(m_simple(PQMSG_ParseComplete));
	srv(m_simple(PQMSG_BindComplete));
	srv(m_datarow("x"));
	srv(m_complete("SELECT 1"));
	ck_assert_uint_eq(sent.len, 0);
	srv(m_ready('I'));
	ck_assert_str_eq(types_of(&got), "12C2C12DCZ");
	ck_assert_int_eq(count_msgs(&got), 10);
}

END_TEST

START_TEST(test_single_row_then_run)
{
	const uint8_t *p;
	const char *const want[] = {"3", "c", "4", "d"};

	/*
	 * one row into t goes as sent; the run into u after it is planned in the
	 * row slots the single row left, and carries its own values
	 */
	ck_assert_int_eq(cli(m_parse("a", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_parse("c", "INSERT INTO u (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_bind("a", 2, row_vals[0])), BATCH_TAKEN);
	ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	for (int i = 2; i < 4; i++)
	{
		ck_assert_int_eq(cli(m_bind("c", 2, row_vals[i])), BATCH_TAKEN);
		ck_assert_int_eq(cli(m_execute()), BATCH_TAKEN);
	}
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PPBEPBES");
	ck_assert_str_eq(body_str(nth(&sent, 2), 1), "a");
	p = (const uint8_t *) body_str(nth(&sent, 5), 2);
	p += 2 + 2 * proto_get_u16(p);
	ck_assert_uint_eq(proto_get_u16(p), 4);
	p += 2;
	for (int i = 0; i < 4; i++)
	{
		ck_assert_uint_eq(proto_get_u32(p), 1);
		ck_assert_int_eq(p[4], want[i][0]);
		p += 5;
	}
}

END_TEST

START_TEST(test_unsafe_statement_not_rewritten)
{
	ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_TAKEN);
	for (int i = 0; i < 2; i++)
	{
		cli(m_bind("", 2, row_vals[i]));
		cli(m_execute());
	}
	cli(m_parse("c", "COMMIT", 0, NULL));
	cli(m_bind("c", 0, NULL));
	cli(m_execute());
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_TAKEN);
	ck_assert_str_eq(types_of(&sent), "PBEBEPBES");
	ck_assert(!batch_busy(b));
}

END_TEST

/* batch_peek() on the first `avail` bytes of m (0: all of it). */
static enum batch_peek
peek(const uint8_t *m, size_t avail)
{
	return batch_peek(m, avail ? avail : mlen(m), mlen(m));
}

START_TEST(test_peek_first_check)
{
	/* what a client that never sends an INSERT sends: never a rewriter */
	ck_assert_int_eq(peek(m_query("SELECT abalance FROM pgbench_accounts WHERE aid = 1"), 0),
					 BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_parse("P0_1", "SELECT 1", 0, NULL), 0), BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_parse("", "INSERTED", 0, NULL), 0), BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_query("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"), 0),
					 BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_bind("s", 2, row_vals[0]), 0), BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_execute(), 0), BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_simple(PQMSG_Sync), 0), BATCH_PEEK_NO);
	/* INSERT candidates, after whitespace and (nested) comments */
	ck_assert_int_eq(peek(m_parse("s", "INSERT INTO t VALUES ($1)", 0, NULL), 0), BATCH_PEEK_MAYBE);
	ck_assert_int_eq(peek(m_query(" \n-- x\n/* a /* b */ */insert into t values (1)"), 0),
					 BATCH_PEEK_MAYBE);

	/*
	 * a message seen in part: decided when the first word shows, else ask for
	 * more
	 */
	ck_assert_int_eq(peek(m_query("SELECT 1"), PROTO_HDR_LEN + 2), BATCH_PEEK_NO);
	ck_assert_int_eq(peek(m_query("  INSERT INTO t VALUES (1)"), PROTO_HDR_LEN + 4), BATCH_PEEK_MORE);
	ck_assert_int_eq(peek(m_query("/* c */ SELECT 1"), PROTO_HDR_LEN + 4), BATCH_PEEK_MORE);
	ck_assert_int_eq(peek(m_parse("name", "SELECT 1", 0, NULL), PROTO_HDR_LEN + 3), BATCH_PEEK_MORE);
	ck_assert_int_eq(peek(m_query("SELECT 1"), 3), BATCH_PEEK_MORE);
}

END_TEST

/*
 * A rewriter created late, at the first INSERT, after BEGIN was sent and
 * before its reply: it waits for that reply, then protects the batch with a
 * savepoint, as one that saw BEGIN go by would.
 */
START_TEST(test_late_rewriter_joins)
{
	batch_join(b, 1, false, 'I');
	send_batch("", "INSERT INTO t (a, b) VALUES ($1, $2)", 2, false);
	ck_assert_uint_eq(sent.len, 0);
	ck_assert(batch_busy(b));
	ck_assert_int_eq(srv(m_complete("BEGIN")), BATCH_FORWARD);
	ck_assert_int_eq(srv(m_ready('T')), BATCH_FORWARD);
	ck_assert_str_eq(types_of(&sent), "QPPBESQ");
	ck_assert_str_eq(body_str(nth(&sent, 0), 0), "SAVEPOINT " BATCH_SAVEPOINT_NAME);
}

END_TEST

/* Joined inside an extended segment: the rest of it is relayed as it is. */
START_TEST(test_late_rewriter_inside_segment)
{
	batch_join(b, 0, true, 'I');
	ck_assert_int_eq(cli(m_parse("", "INSERT INTO t (a, b) VALUES ($1, $2)", 0, NULL)), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[0])), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_execute()), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_bind("", 2, row_vals[1])), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_execute()), BATCH_FORWARD);
	ck_assert_int_eq(cli(m_simple(PQMSG_Sync)), BATCH_FORWARD);
	ck_assert(!batch_busy(b));
}

END_TEST

static Suite *
batch_suite(void)
{
	Suite	   *s = suite_create("batch");
	TCase	   *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_select_passes_through);
	tcase_add_test(tc, test_peek_first_check);
	tcase_add_test(tc, test_late_rewriter_joins);
	tcase_add_test(tc, test_late_rewriter_inside_segment);
	tcase_add_test(tc, test_batch_success);
	tcase_add_test(tc, test_unnest_form);
	tcase_add_test(tc, test_returning_rows_split);
	tcase_add_test(tc, test_error_replays_original);
	tcase_add_test(tc, test_guard_failure_replays);
	tcase_add_test(tc, test_count_mismatch_forces_rollback);
	tcase_add_test(tc, test_explicit_transaction_savepoint);
	tcase_add_test(tc, test_explicit_transaction_success_releases);
	tcase_add_test(tc, test_simple_query_string);
	tcase_add_test(tc, test_simple_query_literal_params);
	tcase_add_test(tc, test_cap_splits_chunks);
	tcase_add_test(tc, test_byte_cap_splits_chunks);
	tcase_add_test(tc, test_flush_releases_held);
	tcase_add_test(tc, test_repeated_unnamed_parse);
	tcase_add_test(tc, test_created_statement_closed_on_fallback);
	tcase_add_test(tc, test_unconfirmed_statement_closed_and_forgotten);
	tcase_add_test(tc, test_prepared_in_earlier_segments);
	tcase_add_test(tc, test_repeated_fallbacks_stop_rewriting);
	tcase_add_test(tc, test_table_check);
	tcase_add_test(tc, test_catalog_invalidation);
	tcase_add_test(tc, test_peek_ddl);
	tcase_add_test(tc, test_notice_undoes_attempt);
	tcase_add_test(tc, test_mixed_formats_and_select);
	tcase_add_test(tc, test_single_row_then_run);
	tcase_add_test(tc, test_unsafe_statement_not_rewritten);
	tcase_add_test(tc, test_stream_replies_per_statement);
	tcase_add_test(tc, test_stream_replay_differs);
	tcase_add_test(tc, test_stream_held_after_notice);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(batch_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
