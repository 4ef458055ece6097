/*
 * check_batch_sql.c -- unit tests for pooler/batch_sql.c: the cheap INSERT
 * check, shapes accepted and refused by the parser-based analysis, parameter
 * renumbering, the parameter cap, multi-statement strings and the unnest form.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "batch_sql.h"

static bool
maybe(const char *s)
{
	return batch_sql_maybe_insert(s, strlen(s));
}

START_TEST(test_maybe_insert)
{
	ck_assert(maybe("INSERT INTO t VALUES (1)"));
	ck_assert(maybe("insert into t values (1)"));
	ck_assert(maybe("  \n\tInSeRt INTO t VALUES (1)"));
	ck_assert(maybe("-- a comment\nINSERT INTO t VALUES (1)"));
	ck_assert(maybe("/* c /* nested */ still */INSERT INTO t VALUES (1)"));
	ck_assert(maybe("INSERT"));
	ck_assert(maybe("insert("));
	ck_assert(!maybe("SELECT 1"));
	ck_assert(!maybe("INSERTX INTO t VALUES (1)"));
	ck_assert(!maybe("insert_log"));
	ck_assert(!maybe("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"));
	ck_assert(!maybe("/* unterminated INSERT"));
	ck_assert(!maybe("-- INSERT\nSELECT 1"));
	ck_assert(!maybe(""));
	ck_assert(!maybe("INSER"));
	/* the length bounds the look, not a NUL */
	ck_assert(!batch_sql_maybe_insert("INSERT INTO", 5));
}

END_TEST

static void
expect_refused(const char *sql, const char *why_part)
{
	struct batch_insert ins;
	const char *why = NULL;

	ck_assert_msg(batch_sql_analyze(sql, &ins, &why) == BATCH_SQL_REFUSED,
				  "accepted: %s", sql);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, why_part) != NULL, "%s: reason '%s' lacks '%s'", sql, why,
				  why_part);
	ck_assert_ptr_null(ins.prefix);
}

START_TEST(test_refused_shapes)
{
	expect_refused("SELECT 1", "not an INSERT");
	expect_refused("INSERT INTO t SELECT 1", "INSERT ... SELECT");
	expect_refused("INSERT INTO t (a) SELECT $1", "INSERT ... SELECT");
	expect_refused("INSERT INTO t DEFAULT VALUES", "DEFAULT VALUES");
	expect_refused("INSERT INTO t (a, b) VALUES ($1, DEFAULT)", "DEFAULT in VALUES");
	expect_refused("INSERT INTO t (a) VALUES (now())", "expression");
	expect_refused("INSERT INTO t (a) VALUES ($1 + 1)", "expression");
	expect_refused("INSERT INTO t (a) VALUES ($1::int)", "expression");
	expect_refused("INSERT INTO t (a) VALUES ((SELECT 1))", "expression");
	expect_refused("INSERT INTO t (a) VALUES (1), (2)", "multi-row");
	expect_refused("WITH x AS (SELECT 1) INSERT INTO t (a) VALUES ($1)", "WITH");
	expect_refused("INSERT INTO t (a) VALUES ($1); INSERT INTO t (a) VALUES ($2)",
				   "more than one");
	expect_refused("INSERT INTO t (a) VALUES ($1) RETURNING a + 1", "RETURNING");
	expect_refused("INSERT INTO t (a) VALUES ($1) RETURNING (SELECT count(*) FROM t)",
				   "RETURNING");
	expect_refused("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET b = $2",
				   "parameter outside");
	expect_refused("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET "
				   "b = (SELECT max(b) FROM t)", "subquery");
	expect_refused("INSERT INTO t (a) VALUES ($1", "parser rejects");
	expect_refused("INSERT INTO t (a) VALUES ($1) oops", "parser rejects");
	expect_refused("", "no statement");
}

END_TEST

START_TEST(test_accepted_params)
{
	struct batch_insert ins;
	const char *why = NULL;

	ck_assert_int_eq(batch_sql_analyze("  insert into public.t (a, b, c) values ($2, 'x', $1)",
									   &ins, &why), BATCH_SQL_OK);
	ck_assert_str_eq(ins.prefix, "insert into public.t (a, b, c) ");
	ck_assert_str_eq(ins.tuple, "($2, 'x', $1)");
	ck_assert_str_eq(ins.tail, "");
	ck_assert_str_eq(ins.schemaname, "public");
	ck_assert_str_eq(ins.relname, "t");
	ck_assert_int_eq(ins.width, 3);
	ck_assert_int_eq(ins.nparams, 2);
	ck_assert_int_eq(ins.max_param, 2);
	ck_assert_int_eq(ins.params[0].number, 2);
	ck_assert_int_eq(ins.params[0].off, 1);
	ck_assert_int_eq(ins.params[0].len, 2);
	ck_assert_int_eq(ins.params[1].number, 1);
	ck_assert(!ins.returning);
	ck_assert_int_eq(ins.conflict, BATCH_CONFLICT_NONE);
	batch_insert_free(&ins);
	ck_assert_ptr_null(ins.prefix);
}

END_TEST

START_TEST(test_accepted_clauses)
{
	struct batch_insert ins;
	const char *why = NULL;

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t AS x (id, v) VALUES ($1, $2) "
									   "ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v "
									   "RETURNING id, x.v;  ", &ins, &why), BATCH_SQL_OK);
	ck_assert_str_eq(ins.tail, " ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v RETURNING id, x.v");
	ck_assert(ins.returning);
	ck_assert_int_eq(ins.conflict, BATCH_CONFLICT_UPDATE);
	ck_assert_ptr_null(ins.schemaname);
	batch_insert_free(&ins);

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t VALUES (-1, NULL, true, 'it''s', 1.5e3, "
									   "B'101', E'\\n') ON CONFLICT DO NOTHING RETURNING *",
									   &ins, &why), BATCH_SQL_OK);
	ck_assert_int_eq(ins.width, 7);
	ck_assert_int_eq(ins.nparams, 0);
	ck_assert_int_eq(ins.conflict, BATCH_CONFLICT_NOTHING);
	ck_assert(ins.returning);
	batch_insert_free(&ins);

	/* comments, odd spacing and OVERRIDING stay in the client's text */
	ck_assert_int_eq(batch_sql_analyze("/* app */ INSERT INTO \"T\"(id)OVERRIDING SYSTEM VALUE "
									   "-- x\nVALUES($1 /* one */)", &ins, &why), BATCH_SQL_OK);
	ck_assert_str_eq(ins.prefix, "/* app */ INSERT INTO \"T\"(id)OVERRIDING SYSTEM VALUE -- x\n");
	ck_assert_str_eq(ins.tuple, "($1 /* one */)");
	ck_assert_str_eq(ins.relname, "T");
	batch_insert_free(&ins);
}

END_TEST

START_TEST(test_build_values_renumbers)
{
	struct batch_insert ins;
	struct batch_text t;
	const char *why = NULL;

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a, b, c) VALUES ($2, 'x$1', $1) RETURNING a",
									   &ins, &why), BATCH_SQL_OK);
	batch_text_init(&t);
	ck_assert(batch_sql_build_values(&ins, 3, 2, &t));
	ck_assert_str_eq(t.data, "INSERT INTO t (a, b, c) VALUES ($2, 'x$1', $1),($4, 'x$1', $3),"
					 "($6, 'x$1', $5) RETURNING a");

	/* each row binds 3 although the text uses only $1 and $2 */
	batch_text_reset(&t);
	ck_assert(batch_sql_build_values(&ins, 2, 3, &t));
	ck_assert_str_eq(t.data, "INSERT INTO t (a, b, c) VALUES ($2, 'x$1', $1),($5, 'x$1', $4)"
					 " RETURNING a");

	/* bad arguments */
	batch_text_reset(&t);
	ck_assert(!batch_sql_build_values(&ins, 0, 2, &t));
	ck_assert(!batch_sql_build_values(&ins, 2, 1, &t));
	ck_assert(!batch_sql_build_values(&ins, 32768, 2, &t));
	ck_assert(batch_sql_build_values(&ins, 32767, 2, &t));
	ck_assert(strstr(t.data, "($65534, 'x$1', $65533) RETURNING a") != NULL);
	batch_text_free(&t);
	batch_insert_free(&ins);
}

END_TEST

/* The rewritten text must itself be the multi-row INSERT the parser sees. */
START_TEST(test_build_values_reparses)
{
	struct batch_insert ins;
	struct batch_text t;
	const char *why = NULL;
	int			rows = _i + 1;
	PgQueryParseResult pr;
	char		want[64];

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING",
									   &ins, &why), BATCH_SQL_OK);
	batch_text_init(&t);
	ck_assert(batch_sql_build_values(&ins, rows, 2, &t));
	pr = pg_query_parse(t.data);
	ck_assert_ptr_null(pr.error);
	/* one ParamRef per value, numbered up to 2 * rows */
	snprintf(want, sizeof(want), "\"number\":%d", 2 * rows);
	ck_assert_ptr_nonnull(strstr(pr.parse_tree, want));
	snprintf(want, sizeof(want), "\"number\":%d", 2 * rows + 1);
	ck_assert_ptr_null(strstr(pr.parse_tree, want));
	ck_assert_ptr_nonnull(strstr(pr.parse_tree, "onConflictClause"));
	pg_query_free_parse_result(pr);
	batch_text_free(&t);
	batch_insert_free(&ins);
}

END_TEST

START_TEST(test_rows_cap)
{
	ck_assert_int_eq(batch_sql_rows_cap(2, 1000), 1000);
	ck_assert_int_eq(batch_sql_rows_cap(100, 1000), 655);
	ck_assert_int_eq(batch_sql_rows_cap(65535, 1000), 1);
	ck_assert_int_eq(batch_sql_rows_cap(0, 1000), 1000);
	ck_assert_int_eq(batch_sql_rows_cap(3, 0), 1);
	ck_assert_int_eq(batch_sql_rows_cap(1, 100000), 65535);
}

END_TEST

START_TEST(test_multi_statement)
{
	struct batch_insert ins;
	struct batch_text tuples,
				t;
	const char *why = NULL;
	int			n = 0;

	batch_text_init(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (1, 'a;b');\n"
											 "INSERT INTO t (a, b) VALUES (2, NULL);"
											 "INSERT INTO t (a, b) VALUES (-3, 'c')",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(tuples.data, "(1, 'a;b'),(2, NULL),(-3, 'c')");
	ck_assert_str_eq(ins.prefix, "INSERT INTO t (a, b) ");
	/* the same table via the row builder with no parameters */
	batch_text_init(&t);
	ck_assert(batch_sql_build_values(&ins, 2, 0, &t));
	ck_assert_str_eq(t.data, "INSERT INTO t (a, b) VALUES (1, 'a;b'),(1, 'a;b')");
	batch_text_free(&t);
	batch_insert_free(&ins);

	/*
	 * the same shape again with other values (the first statement is not
	 * parsed again): the same analysis, the new tuples
	 */
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (7, 'x'); "
											 "INSERT INTO t (a, b) VALUES (8, 'y')",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(tuples.data, "(7, 'x'),(8, 'y')");
	ck_assert_str_eq(ins.prefix, "INSERT INTO t (a, b) ");
	ck_assert_str_eq(ins.tuple, "(7, 'x')");
	ck_assert_str_eq(ins.relname, "t");
	ck_assert_int_eq(ins.width, 2);
	batch_insert_free(&ins);
	/* same prefix, but an expression or another tail: not that shape */
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (7, now()); "
											 "INSERT INTO t (a, b) VALUES (8, 'y')",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (7, 'x') RETURNING a; "
											 "INSERT INTO t (a, b) VALUES (8, 'y') RETURNING a",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert(ins.returning);
	batch_insert_free(&ins);

	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO u (a) VALUES (2)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "differ"));
	ck_assert_int_eq(n, 0);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (b) VALUES (2)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); SELECT 1",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "differ"));
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("SELECT 1; INSERT INTO t (a) VALUES (1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "not an INSERT"));
	/* only lone literals may differ, in the tuple only */
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (1 + 1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES ('x'); INSERT INTO t (a) VALUES ('x' || 'y')",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (int '1')",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); insert into t (a) VALUES (2)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (1, 2); INSERT INTO t (a, b) VALUES (1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1);; INSERT INTO t (a) VALUES (2)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "empty"));
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1) RETURNING a; INSERT INTO t (a) VALUES (2)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2) RETURNING a",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);

	/*
	 * the byte-comparing fast path: numbers of every form, quotes, keyword
	 * case
	 */
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (1, 'it''s');"
											 "INSERT INTO t (a, b) values(1.5e3 , NULL);\n"
											 "  INSERT INTO t (a, b) VALUES (-.5,'x;y') ;",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(tuples.data, "(1, 'it''s'),(1.5e3 , NULL),(-.5,'x;y')");
	batch_insert_free(&ins);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2)::int",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (1e5x)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2) ; SELECT 1",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (E'\\'')",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert_str_eq(tuples.data, "(1),(E'\\'')");
	batch_insert_free(&ins);
	/* literals of every kind, comments and spacing inside tuples are fine */
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a, b) VALUES (1, 'x') ON CONFLICT DO NOTHING;"
											 "INSERT INTO t (a, b) VALUES (-2.5e1, /* c */ NULL) ON CONFLICT DO NOTHING;\n"
											 "INSERT INTO t (a, b) VALUES (TRUE,E'\\n')ON CONFLICT DO NOTHING",
											 &ins, &tuples, &n, &why), BATCH_SQL_OK);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(tuples.data, "(1, 'x'),(-2.5e1, /* c */ NULL),(TRUE,E'\\n')");
	ck_assert_int_eq(ins.conflict, BATCH_CONFLICT_NOTHING);
	batch_insert_free(&ins);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (now())",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES ($1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "VALUES tuple"));
	batch_text_reset(&tuples);
	ck_assert_int_eq(batch_sql_analyze_multi("INSERT INTO t (a) VALUES ($1); INSERT INTO t (a) VALUES (1)",
											 &ins, &tuples, &n, &why), BATCH_SQL_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "parameters"));
	batch_text_free(&tuples);
}

END_TEST

START_TEST(test_unnest)
{
	struct batch_insert ins;
	struct batch_text t;
	const char *why = NULL;
	const char *types[] = {"int4", "text"};

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a, b) VALUES ($1, $2) RETURNING a",
									   &ins, &why), BATCH_SQL_OK);
	batch_text_init(&t);
	ck_assert(batch_sql_build_unnest(&ins, types, &t));
	ck_assert_str_eq(t.data, "INSERT INTO t (a, b) SELECT * FROM unnest($1::int4[], $2::text[])"
					 " RETURNING a");
	batch_text_free(&t);
	batch_insert_free(&ins);

	/* parameters in another order; literals stay in the select list */
	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a, b) VALUES ($2, $1)", &ins, &why),
					 BATCH_SQL_OK);
	batch_text_init(&t);
	ck_assert(batch_sql_build_unnest(&ins, types, &t));
	ck_assert_str_eq(t.data, "INSERT INTO t (a, b) SELECT pgplumb_u.c2, pgplumb_u.c1 FROM "
					 "unnest($1::text[], $2::int4[]) AS pgplumb_u(c1, c2)");
	batch_text_free(&t);
	batch_insert_free(&ins);

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a, b, c, d) VALUES ($1, 'x, (y)', -17, $2) "
									   "ON CONFLICT DO NOTHING", &ins, &why), BATCH_SQL_OK);
	batch_text_init(&t);
	{
		const char *types4[] = {"int4", NULL, NULL, "text"};

		ck_assert(batch_sql_build_unnest(&ins, types4, &t));
		ck_assert_str_eq(t.data, "INSERT INTO t (a, b, c, d) SELECT pgplumb_u.c1, 'x, (y)', -17, "
						 "pgplumb_u.c2 FROM unnest($1::int4[], $2::text[]) AS pgplumb_u(c1, c2)"
						 " ON CONFLICT DO NOTHING");
		/* no type for a parameter's column */
		types4[3] = NULL;
		batch_text_reset(&t);
		ck_assert(!batch_sql_build_unnest(&ins, types4, &t));
	}
	batch_text_free(&t);
	batch_insert_free(&ins);

	/* refused: a parameter twice, one missing, one in parentheses */
	{
		static const char *const refused[] = {
			"INSERT INTO t (a, b) VALUES ($1, $1)",
			"INSERT INTO t (a, b) VALUES ($1, $3)",
			"INSERT INTO t (a, b) VALUES (($1), $2)",
		};

		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		{
			ck_assert_int_eq(batch_sql_analyze(refused[i], &ins, &why), BATCH_SQL_OK);
			ck_assert_msg(!ins.unnest_ok, "%s", refused[i]);
			batch_text_init(&t);
			ck_assert(!batch_sql_build_unnest(&ins, types, &t));
			batch_text_free(&t);
			batch_insert_free(&ins);
		}
	}
}

END_TEST

/* The column list as a text[] literal for BATCH_TYPES_SQL. */
START_TEST(test_unnest_columns)
{
	struct batch_insert ins;
	const char *why = NULL;

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO s.t AS x (a, \"B c\", \"q\"\"\") VALUES ($1, $2, $3)",
									   &ins, &why), BATCH_SQL_OK);
	ck_assert(ins.columns_known);
	ck_assert_str_eq(ins.columns, "{\"a\",\"B c\",\"q\\\"\"}");
	batch_insert_free(&ins);

	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t VALUES ($1, $2)", &ins, &why), BATCH_SQL_OK);
	ck_assert(ins.columns_known);
	ck_assert_ptr_null(ins.columns);
	batch_insert_free(&ins);

	/* a subscript or a field: no unnest form */
	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (a[1], b) VALUES ($1, $2)", &ins, &why),
					 BATCH_SQL_OK);
	ck_assert(!ins.columns_known);
	batch_insert_free(&ins);
	ck_assert_int_eq(batch_sql_analyze("INSERT INTO t (c.f, b) VALUES ($1, $2)", &ins, &why),
					 BATCH_SQL_OK);
	ck_assert(!ins.columns_known);
	batch_insert_free(&ins);
}

END_TEST

/* Array literal elements: quoting, NULL, and the values refused. */
START_TEST(test_array_elem)
{
	struct batch_text t;

	batch_text_init(&t);
	batch_text_append(&t, "{", 1);
	ck_assert(batch_sql_array_elem(&t, "a\"b\\c", 5, true));
	ck_assert(batch_sql_array_elem(&t, NULL, -1, false));
	ck_assert(batch_sql_array_elem(&t, "NULL", 4, false));
	ck_assert(batch_sql_array_elem(&t, "", 0, false));
	ck_assert(batch_sql_array_elem(&t, " {x,y} ", 7, false));
	ck_assert(batch_sql_array_elem(&t, "\xc3\xa9", 2, false));
	ck_assert(batch_sql_array_elem(&t, "\"", 1, false));
	/* the edges of the printable range, control bytes and DEL as they are */
	ck_assert(batch_sql_array_elem(&t, "!#[]~\t\n\x7f\x01", 9, false));
	batch_text_append(&t, "}", 1);
	ck_assert_str_eq(t.data, "{\"a\\\"b\\\\c\",NULL,\"NULL\",\"\",\" {x,y} \",\"\xc3\xa9\",\"\\\"\","
					 "\"!#[]~\t\n\x7f\x01\"}");

	/*
	 * a NUL byte; a backslash with a non-ASCII byte (0x5C may be half of an
	 * SJIS character)
	 */
	ck_assert(!batch_sql_array_elem(&t, "a\0b", 3, false));
	ck_assert(!batch_sql_array_elem(&t, "\x95\\", 2, false));
	ck_assert(!batch_sql_array_elem(&t, "\\ \xc3\xa9", 4, false));
	batch_text_free(&t);
}

END_TEST

/* Bind values block of batch_sql_literal_params() as "len:text" items, "-" for NULL. */
static void
values_str(const struct batch_text *v, char *out, size_t cap)
{
	size_t		off = 0,
				w = 0;

	out[0] = '\0';
	while (off + 4 <= v->len)
	{
		const unsigned char *p = (const unsigned char *) v->data + off;
		int32_t		n = (int32_t) (((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
								   ((uint32_t) p[2] << 8) | p[3]);

		off += 4;
		if (n < 0)
			w += (size_t) snprintf(out + w, cap - w, "%s-", w ? " " : "");
		else
		{
			w += (size_t) snprintf(out + w, cap - w, "%s%d:%.*s", w ? " " : "", n, n, v->data + off);
			off += (size_t) n;
		}
	}
	ck_assert_uint_eq(off, v->len);
}

START_TEST(test_literal_params)
{
	struct batch_text v;
	uint32_t	types[8];
	char		s[512];

	batch_text_init(&v);

	/*
	 * the types the parser gives: int4 up to its range, then int8, then
	 * numeric
	 */
	ck_assert_int_eq(batch_sql_literal_params("(1, 'a''b', NULL, true, -2147483648, 2147483648, 1.5),"
											  "(-7, '', NULL, FALSE, 007, -9223372036854775808, 1e3),"
											  "(2, 'x;y', NULL, NULL, NULL, NULL, -.5)",
											  3, 7, types, &v), BATCH_SQL_OK);
	ck_assert_uint_eq(types[0], BATCH_OID_INT4);
	ck_assert_uint_eq(types[1], BATCH_OID_UNKNOWN);
	ck_assert_uint_eq(types[2], BATCH_OID_UNKNOWN);
	ck_assert_uint_eq(types[3], BATCH_OID_BOOL);
	ck_assert_uint_eq(types[4], BATCH_OID_INT4);
	ck_assert_uint_eq(types[5], BATCH_OID_INT8);
	ck_assert_uint_eq(types[6], BATCH_OID_NUMERIC);
	values_str(&v, s, sizeof(s));
	ck_assert_str_eq(s, "1:1 3:a'b - 1:t 11:-2147483648 10:2147483648 3:1.5 "
					 "2:-7 0: - 1:f 3:007 20:-9223372036854775808 3:1e3 "
					 "1:2 3:x;y - - - - 3:-.5");
	/* 9223372036854775808 does not fit int8: numeric */
	ck_assert_int_eq(batch_sql_literal_params("(9223372036854775808)", 1, 1, types, &v), BATCH_SQL_OK);
	ck_assert_uint_eq(types[0], BATCH_OID_NUMERIC);

	/*
	 * kept as literals: a backslash, a column of two types, int4 and int8,
	 * other forms
	 */
	ck_assert_int_eq(batch_sql_literal_params("('a\\b')", 1, 1, types, &v), BATCH_SQL_REFUSED);
	ck_assert_int_eq(batch_sql_literal_params("(1),('1')", 2, 1, types, &v), BATCH_SQL_REFUSED);
	ck_assert_int_eq(batch_sql_literal_params("(1),(3000000000)", 2, 1, types, &v), BATCH_SQL_REFUSED);
	ck_assert_int_eq(batch_sql_literal_params("(E'x')", 1, 1, types, &v), BATCH_SQL_REFUSED);
	ck_assert_int_eq(batch_sql_literal_params("(1, 2)", 1, 1, types, &v), BATCH_SQL_REFUSED);
	ck_assert_int_eq(batch_sql_literal_params("(1),(2)", 1, 1, types, &v), BATCH_SQL_REFUSED);
	batch_text_free(&v);
}

END_TEST

static Suite *
batch_sql_suite(void)
{
	Suite	   *s = suite_create("batch_sql");
	TCase	   *tc = tcase_create("core");

	tcase_add_test(tc, test_maybe_insert);
	tcase_add_test(tc, test_refused_shapes);
	tcase_add_test(tc, test_accepted_params);
	tcase_add_test(tc, test_accepted_clauses);
	tcase_add_test(tc, test_build_values_renumbers);
	tcase_add_loop_test(tc, test_build_values_reparses, 0, 5);
	tcase_add_test(tc, test_rows_cap);
	tcase_add_test(tc, test_multi_statement);
	tcase_add_test(tc, test_unnest);
	tcase_add_test(tc, test_unnest_columns);
	tcase_add_test(tc, test_array_elem);
	tcase_add_test(tc, test_literal_params);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(batch_sql_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
