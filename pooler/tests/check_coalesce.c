/*
 * check_coalesce.c -- insert_coalescing without sockets: which client
 * messages are held, which held INSERTs share a group, and the messages
 * built for the merged statement, a replay and a client's replies.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"

/* ---- building client messages ---- */

static void
put_str(struct proto_buf *b, const char *s)
{
	proto_put_string(b, s);
}

static void
msg_parse(struct proto_buf *b, const char *name, const char *sql, int ntypes, const uint32_t *types)
{
	proto_begin(b, PQMSG_Parse);
	put_str(b, name);
	put_str(b, sql);
	proto_put_int16(b, (uint16_t) ntypes);
	for (int i = 0; i < ntypes; i++)
		proto_put_int32(b, types[i]);
	proto_end(b);
}

/* Bind with text parameters (NULL = SQL NULL); nfmt format codes given. */
static void
msg_bind(struct proto_buf *b, const char *portal, const char *stmt, int nfmt, const uint16_t *fmts,
		 int n, const char *const *vals)
{
	proto_begin(b, PQMSG_Bind);
	put_str(b, portal);
	put_str(b, stmt);
	proto_put_int16(b, (uint16_t) nfmt);
	for (int i = 0; i < nfmt; i++)
		proto_put_int16(b, fmts[i]);
	proto_put_int16(b, (uint16_t) n);
	for (int i = 0; i < n; i++)
	{
		if (vals[i] == NULL)
			proto_put_int32(b, 0xFFFFFFFFu);
		else
		{
			proto_put_int32(b, (uint32_t) strlen(vals[i]));
			proto_put_bytes(b, vals[i], strlen(vals[i]));
		}
	}
	proto_put_int16(b, 0);
	proto_end(b);
}

static void
msg_simple(struct proto_buf *b, uint8_t type, const char *body, size_t len)
{
	proto_begin(b, type);
	proto_put_bytes(b, body, len);
	proto_end(b);
}

static void
msg_describe_portal(struct proto_buf *b)
{
	msg_simple(b, PQMSG_Describe, "P", 2);
}

static void
msg_execute(struct proto_buf *b)
{
	msg_simple(b, PQMSG_Execute, "\0\0\0\0", 5);
}

static void
msg_sync(struct proto_buf *b)
{
	msg_simple(b, PQMSG_Sync, "", 0);
}

/* [Parse ""] Bind Describe Execute Sync of `sql` with text values. */
static void
ext_insert(struct proto_buf *b, const char *sql, bool parse, const char *stmt, int n,
		   const char *const *vals)
{
	if (parse)
		msg_parse(b, "", sql, 0, NULL);
	msg_bind(b, "", stmt, 0, NULL, n, vals);
	msg_describe_portal(b);
	msg_execute(b);
	msg_sync(b);
}

static int
parse_buf(const struct proto_buf *b, struct coal_req *r)
{
	return coal_request_parse(b->data, b->len, NULL, NULL, r);
}

static int
parse_query(const char *sql, struct coal_req *r)
{
	struct proto_buf b;
	int			rc;

	proto_buf_init(&b);
	proto_build_query(&b, sql);
	rc = parse_buf(&b, r);
	proto_buf_free(&b);
	return rc;
}

/* Statement lookup for a Bind without Parse: one statement "s1". */
static const uint8_t *
lookup_s1(void *arg, const char *name, uint32_t *len)
{
	struct proto_buf *body = arg;

	if (strcmp(name, "s1") != 0)
		return NULL;
	*len = (uint32_t) body->len;
	return body->data;
}

/* The types and texts of the messages in b, e.g. "P B D E S". */
static void
types_of(const struct proto_buf *b, char *out, size_t outlen)
{
	size_t		o = 0;

	for (size_t off = 0; off + 5 <= b->len && o + 2 < outlen;
		 off += 1 + proto_get_u32(b->data + off + 1))
	{
		if (o)
			out[o++] = ' ';
		out[o++] = (char) b->data[off];
	}
	out[o] = '\0';
}

/* ---- tests ---- */

START_TEST(test_simple_held)
{
	struct coal_req r;

	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (1, 'x')", &r), 1);
	ck_assert_int_eq(r.kind, COAL_SIMPLE);
	ck_assert_int_eq(r.nmsgs, 1);
	ck_assert_str_eq(r.ins->prefix, "INSERT INTO t (a, b) ");
	ck_assert_str_eq(r.ins->tuple, "(1, 'x')");
	coal_req_free(&r);
}

END_TEST

START_TEST(test_simple_refused)
{
	static const char *const refused[] = {
		"SELECT 1",
		"INSERT INTO t (a) VALUES (1) RETURNING a",
		"INSERT INTO t (a) SELECT 1",
		"INSERT INTO t (a) VALUES (now())",
		"INSERT INTO t (a) VALUES (DEFAULT)",
		"INSERT INTO t (a) VALUES (1), (2)",
		"INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2)",
		"INSERT INTO t (a) VALUES ($1)",
		"BEGIN",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		struct coal_req r;

		ck_assert_msg(parse_query(refused[i], &r) == 0, "held: %s", refused[i]);
	}
}

END_TEST

START_TEST(test_extended_held)
{
	static const char *const vals[] = {"1", NULL};
	struct proto_buf b;
	struct coal_req r;

	proto_buf_init(&b);
	ext_insert(&b, "insert into t (a, b) values ($1, $2)", true, "", 2, vals);
	/* a following message does not matter: it is presented later */
	proto_build_query(&b, "select 1");
	ck_assert_int_eq(parse_buf(&b, &r), 1);
	ck_assert_int_eq(r.kind, COAL_EXTENDED);
	ck_assert_int_eq(r.nmsgs, 5);
	ck_assert(r.has_parse);
	ck_assert(r.has_describe);
	ck_assert_int_eq(r.nparams, 2);
	ck_assert_str_eq(r.sql, "insert into t (a, b) values ($1, $2)");
	coal_req_free(&r);
	proto_buf_free(&b);
}

END_TEST

START_TEST(test_extended_refused)
{
	static const char *const one[] = {"1"};
	static const char *const two[] = {"1", "2"};
	struct proto_buf b;
	struct coal_req r;

	proto_buf_init(&b);
	/* the sequence is not all here yet (no Sync) */
	msg_parse(&b, "", "insert into t (a) values ($1)", 0, NULL);
	msg_bind(&b, "", "", 0, NULL, 1, one);
	msg_execute(&b);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	/* a named Parse is the client's own statement: not held */
	proto_buf_reset(&b);
	msg_parse(&b, "s9", "insert into t (a) values ($1)", 0, NULL);
	msg_bind(&b, "", "s9", 0, NULL, 1, one);
	msg_execute(&b);
	msg_sync(&b);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	/* parameter count differs from the statement's */
	proto_buf_reset(&b);
	ext_insert(&b, "insert into t (a) values ($1)", true, "", 2, two);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	/* Describe of the statement */
	proto_buf_reset(&b);
	msg_parse(&b, "", "insert into t (a) values ($1)", 0, NULL);
	msg_bind(&b, "", "", 0, NULL, 1, one);
	msg_simple(&b, PQMSG_Describe, "S", 2);
	msg_execute(&b);
	msg_sync(&b);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	/* a SELECT */
	proto_buf_reset(&b);
	ext_insert(&b, "select $1", true, "", 1, one);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	/* a Bind to a statement nobody knows */
	proto_buf_reset(&b);
	ext_insert(&b, NULL, false, "nope", 1, one);
	ck_assert_int_eq(parse_buf(&b, &r), 0);
	proto_buf_free(&b);
}

END_TEST

START_TEST(test_bind_named_statement)
{
	static const char *const vals[] = {"7"};
	static const uint32_t types[] = {23};
	struct proto_buf body,
				b;
	struct coal_req r;

	/* the statement as txn keeps it: query\0 int16 n int32 types */
	proto_buf_init(&body);
	proto_put_string(&body, "insert into t (a) values ($1)");
	proto_put_int16(&body, 1);
	proto_put_int32(&body, types[0]);
	proto_buf_init(&b);
	ext_insert(&b, NULL, false, "s1", 1, vals);
	ck_assert_int_eq(coal_request_parse(b.data, b.len, lookup_s1, &body, &r), 1);
	ck_assert(!r.has_parse);
	ck_assert_int_eq(r.nparams, 1);
	ck_assert_uint_eq(r.parse_len, body.len);
	coal_req_free(&r);
	proto_buf_free(&b);
	proto_buf_free(&body);
}

END_TEST

START_TEST(test_grouping)
{
	static const char *const v1[] = {"1", "a"};
	static const char *const v2[] = {"2", "b"};
	struct coal_req q1,
				q2,
				q3,
				q4,
				e1,
				e2,
				e3;
	struct proto_buf b;

	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (1, 'x')", &q1), 1);
	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (2, NULL)", &q2), 1);
	ck_assert_int_eq(parse_query("INSERT INTO t (b, a) VALUES ('y', 3)", &q3), 1);
	ck_assert_int_eq(parse_query("INSERT INTO u (a, b) VALUES (1, 'x')", &q4), 1);
	proto_buf_init(&b);
	ext_insert(&b, "INSERT INTO t (a, b) VALUES ($1, $2)", true, "", 2, v1);
	ck_assert_int_eq(parse_buf(&b, &e1), 1);
	proto_buf_reset(&b);
	ext_insert(&b, "INSERT INTO t (a, b) VALUES ($1, $2)", true, "", 2, v2);
	ck_assert_int_eq(parse_buf(&b, &e2), 1);
	proto_buf_reset(&b);
	ext_insert(&b, "INSERT INTO t (a, b) VALUES ($2, $1)", true, "", 2, v2);
	ck_assert_int_eq(parse_buf(&b, &e3), 1);

	/* same table and columns, other literals: one group */
	ck_assert(coal_req_same_group(&q1, &q2));
	/* another column order or another table: not */
	ck_assert(!coal_req_same_group(&q1, &q3));
	ck_assert(!coal_req_same_group(&q1, &q4));
	/* the same prepared INSERT with other values: one group */
	ck_assert(coal_req_same_group(&e1, &e2));
	/* parameters in another order: another statement */
	ck_assert(!coal_req_same_group(&e1, &e3));
	/* simple and extended protocol are never mixed */
	ck_assert(!coal_req_same_group(&q1, &e1));

	/* how many rows one statement takes: insert_batch_max_rows, 65535 params */
	ck_assert_int_eq(batch_sql_rows_cap(e1.nparams, 1000), 1000);
	ck_assert_int_eq(batch_sql_rows_cap(300, 1000), 65535 / 300);

	coal_req_free(&q1);
	coal_req_free(&q2);
	coal_req_free(&q3);
	coal_req_free(&q4);
	coal_req_free(&e1);
	coal_req_free(&e2);
	coal_req_free(&e3);
	proto_buf_free(&b);
}

END_TEST

START_TEST(test_build_merged_simple)
{
	struct coal_req q1,
				q2;
	const struct coal_req *reqs[2] = {&q1, &q2};
	struct proto_buf out;

	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (1, 'x') ON CONFLICT DO NOTHING", &q1), 1);
	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (2, 'it''s') ON CONFLICT DO NOTHING", &q2), 1);
	ck_assert(coal_req_same_group(&q1, &q2));
	proto_buf_init(&out);
	ck_assert(coal_build_merged(reqs, 2, &out));
	ck_assert_int_eq(out.data[0], PQMSG_Query);
	ck_assert_str_eq((const char *) out.data + 5,
					 "INSERT INTO t (a, b) VALUES (1, 'x'),(2, 'it''s') ON CONFLICT DO NOTHING");
	proto_buf_reset(&out);
	coal_build_success(&q1, &out);
	ck_assert_int_eq(out.data[0], PQMSG_CommandComplete);
	ck_assert_str_eq((const char *) out.data + 5, "INSERT 0 1");
	proto_buf_free(&out);
	coal_req_free(&q1);
	coal_req_free(&q2);
}

END_TEST

START_TEST(test_build_merged_extended)
{
	static const char *const v1[] = {"1", "a"};
	static const char *const v2[] = {"2", NULL};
	static const uint32_t types[] = {23};
	static const uint16_t fmts[] = {0, 0};
	struct proto_buf b,
				out;
	struct coal_req e1,
				e2;
	const struct coal_req *reqs[2] = {&e1, &e2};
	char		t[64];
	const uint8_t *p;
	size_t		off,
				at;

	proto_buf_init(&b);
	proto_buf_init(&out);
	msg_parse(&b, "", "INSERT INTO t (a, b) VALUES ($1, $2)", 1, types);
	msg_bind(&b, "", "", 2, fmts, 2, v1);
	msg_execute(&b);
	msg_sync(&b);
	ck_assert_int_eq(parse_buf(&b, &e1), 1);
	ck_assert(!e1.has_describe);
	proto_buf_reset(&b);
	msg_parse(&b, "", "INSERT INTO t (a, b) VALUES ($1, $2)", 1, types);
	msg_bind(&b, "", "", 2, fmts, 2, v2);
	msg_execute(&b);
	msg_sync(&b);
	ck_assert_int_eq(parse_buf(&b, &e2), 1);
	ck_assert(coal_req_same_group(&e1, &e2));

	ck_assert(coal_build_merged(reqs, 2, &out));
	types_of(&out, t, sizeof(t));
	ck_assert_str_eq(t, "C P B E C S"); /* Close first: see put_close_stmt */

	/*
	 * Parse: our name, the renumbered text, 4 types: int4, unknown, int4,
	 * unknown
	 */
	at = 1 + proto_get_u32(out.data + 1);	/* after the Close */
	p = out.data + at + 5;
	ck_assert_str_eq((const char *) p, COAL_STMT_NAME);
	p += strlen(COAL_STMT_NAME) + 1;
	ck_assert_str_eq((const char *) p, "INSERT INTO t (a, b) VALUES ($1, $2),($3, $4)");
	p += strlen((const char *) p) + 1;
	ck_assert_uint_eq(proto_get_u16(p), 4);
	ck_assert_uint_eq(proto_get_u32(p + 2), 23);
	ck_assert_uint_eq(proto_get_u32(p + 6), 0);
	ck_assert_uint_eq(proto_get_u32(p + 10), 23);
	ck_assert_uint_eq(proto_get_u32(p + 14), 0);
	/* Bind: 4 formats, 4 values in row order, the NULL kept */
	off = at + 1 + proto_get_u32(out.data + at + 1);
	p = out.data + off + 5;
	p += 1 + strlen(COAL_STMT_NAME) + 1;	/* portal "" and statement */
	ck_assert_uint_eq(proto_get_u16(p), 4);
	p += 2 + 8;
	ck_assert_uint_eq(proto_get_u16(p), 4);
	p += 2;
	ck_assert_uint_eq(proto_get_u32(p), 1);
	ck_assert_int_eq(p[4], '1');
	p += 5;
	ck_assert_uint_eq(proto_get_u32(p), 1);
	ck_assert_int_eq(p[4], 'a');
	p += 5;
	ck_assert_uint_eq(proto_get_u32(p), 1);
	ck_assert_int_eq(p[4], '2');
	p += 5;
	ck_assert_uint_eq(proto_get_u32(p), 0xFFFFFFFFu);

	/* a replay: the client's own text, types and Bind, closed after */
	proto_buf_reset(&out);
	ck_assert(coal_build_single(&e2, &out));
	types_of(&out, t, sizeof(t));
	ck_assert_str_eq(t, "C P B E C S"); /* Close first: see put_close_stmt */
	/* what the client is owed after a commit: it sent no Describe */
	proto_buf_reset(&out);
	coal_build_success(&e2, &out);
	types_of(&out, t, sizeof(t));
	ck_assert_str_eq(t, "1 2 C");

	coal_req_free(&e1);
	coal_req_free(&e2);
	proto_buf_free(&b);
	proto_buf_free(&out);
}

END_TEST

START_TEST(test_replay_with_describe)
{
	static const char *const v[] = {"5"};
	struct proto_buf b,
				out;
	struct coal_req r;
	char		t[64];

	proto_buf_init(&b);
	proto_buf_init(&out);
	ext_insert(&b, "insert into t (a) values ($1)", true, "", 1, v);
	ck_assert_int_eq(parse_buf(&b, &r), 1);
	ck_assert(coal_build_single(&r, &out));
	types_of(&out, t, sizeof(t));
	ck_assert_str_eq(t, "C P B D E C S");
	proto_buf_reset(&out);
	coal_build_success(&r, &out);
	types_of(&out, t, sizeof(t));
	ck_assert_str_eq(t, "1 2 n C");
	coal_req_free(&r);
	proto_buf_free(&b);
	proto_buf_free(&out);
}

END_TEST

START_TEST(test_value_bytes)
{
	static const char *const vals[] = {"123", NULL};
	struct proto_buf b;
	struct coal_req r;

	ck_assert_int_eq(parse_query("INSERT INTO t (a, b) VALUES (1, 'x')", &r), 1);
	ck_assert_uint_eq(coal_req_value_bytes(&r), strlen("(1, 'x')"));
	coal_req_free(&r);
	proto_buf_init(&b);
	ext_insert(&b, "insert into t (a, b) values ($1, $2)", true, "", 2, vals);
	ck_assert_int_eq(parse_buf(&b, &r), 1);
	/* two length words, "123", no bytes for the NULL */
	ck_assert_uint_eq(coal_req_value_bytes(&r), 4 + 3 + 4);
	coal_req_free(&r);
	proto_buf_free(&b);
}

END_TEST

/*
 * The merged text is cut from a cached text of more rows (coalesce.c's
 * merged_text_grow): for any row count, in any order (the cache grows
 * past 16, 32, 64, 128 rows; parameter numbers past 9, 99, 999), it is
 * what batch_sql_build_values builds for that count.
 */
START_TEST(test_build_merged_text_cache)
{
	static const char *const v[] = {"7", "8"};
	static const int counts[] = {3, 40, 1, 16, 17, 120, 33, 2, 500, 64, 499};
	const char *sql = "INSERT INTO t (a, b, c) VALUES ($2, 'x', $1) ON CONFLICT DO NOTHING";
	const struct coal_req *reqs[500];
	struct proto_buf b,
				out;
	struct coal_req r;

	proto_buf_init(&b);
	proto_buf_init(&out);
	ext_insert(&b, sql, true, "", 2, v);
	ck_assert_int_eq(parse_buf(&b, &r), 1);
	for (int i = 0; i < 500; i++)
		reqs[i] = &r;
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
	{
		struct batch_text want;
		const uint8_t *p;
		size_t		at;

		batch_text_init(&want);
		ck_assert(batch_sql_build_values(r.ins, counts[k], 2, &want));
		proto_buf_reset(&out);
		ck_assert(coal_build_merged(reqs, counts[k], &out));
		at = 1 + proto_get_u32(out.data + 1);	/* after the Close */
		ck_assert_int_eq(out.data[at], PQMSG_Parse);
		p = out.data + at + 5 + strlen(COAL_STMT_NAME) + 1;
		ck_assert_str_eq((const char *) p, want.data);
		batch_text_free(&want);
	}
	coal_req_free(&r);
	proto_buf_free(&b);
	proto_buf_free(&out);
}

END_TEST

static Suite *
coalesce_suite(void)
{
	Suite	   *s = suite_create("coalesce");
	TCase	   *tc = tcase_create("core");

	tcase_add_test(tc, test_simple_held);
	tcase_add_test(tc, test_simple_refused);
	tcase_add_test(tc, test_extended_held);
	tcase_add_test(tc, test_extended_refused);
	tcase_add_test(tc, test_bind_named_statement);
	tcase_add_test(tc, test_grouping);
	tcase_add_test(tc, test_build_merged_simple);
	tcase_add_test(tc, test_build_merged_extended);
	tcase_add_test(tc, test_build_merged_text_cache);
	tcase_add_test(tc, test_replay_with_describe);
	tcase_add_test(tc, test_value_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(coalesce_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
