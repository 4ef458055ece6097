/*
 * check_varcache.c -- unit tests for varcache.c: tracked names and
 * track_extra_parameters, the sync query (nothing when nothing differs,
 * set_config for reported values, SET/RESET for the others, quoting), SET
 * and RESET statements read from client SQL with their transaction
 * semantics, RESET ALL bringing back startup values.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "varcache.h"

static struct proto_buf out;
static struct varclient cl;
static struct varcache sv;

static void
setup(void)
{
	proto_buf_init(&out);
	varclient_init(&cl);
	varcache_init(&sv);
	ck_assert_int_eq(varcache_configure("IntervalStyle, myext.opt, myext.caf\xc3\xa9"), 0);
	/* what a PostgreSQL 15 login reports */
	varcache_mark_reported(VAR_CLIENT_ENCODING);
	varcache_mark_reported(VAR_DATESTYLE);
	varcache_mark_reported(VAR_TIMEZONE);
	varcache_mark_reported(VAR_STANDARD_CONFORMING_STRINGS);
	varcache_mark_reported(VAR_APPLICATION_NAME);
	varcache_mark_reported(varcache_slot("IntervalStyle"));
}

static void
teardown(void)
{
	proto_buf_free(&out);
	varclient_free(&cl);
	varcache_free(&sv);
	ck_assert_uint_eq(varcache_interned(), 0);	/* every value released */
	ck_assert_uint_eq(varcache_sets(), 0);
}

/* The Query text of `out` (one message). */
static const char *
query_text(void)
{
	ck_assert_uint_ge(out.len, 6);
	ck_assert_int_eq(out.data[0], PQMSG_Query);
	ck_assert_uint_eq(proto_get_u32(out.data + 1) + 1, out.len);
	ck_assert_int_eq(out.data[out.len - 1], '\0');
	return (const char *) out.data + 5;
}

static int
sync_now(void)
{
	proto_buf_reset(&out);
	return varcache_build_sync(&cl.cur, &sv, &out);
}

static void
note(const char *sql)
{
	ck_assert(varclient_note_sql(&cl, sql, strlen(sql)));
}

START_TEST(test_names)
{
	ck_assert_int_eq(varcache_slot("datestyle"), VAR_DATESTYLE);
	ck_assert_int_eq(varcache_slot("TIMEZONE"), VAR_TIMEZONE);
	ck_assert_int_eq(varcache_slot("search_path"), VAR_SEARCH_PATH);
	ck_assert_int_ge(varcache_slot("intervalstyle"), VAR_BUILTIN_COUNT);
	ck_assert_int_ge(varcache_slot("MyExt.Opt"), VAR_BUILTIN_COUNT);
	ck_assert_int_eq(varcache_slot("work_mem"), -1);
	ck_assert_str_eq(varcache_name(VAR_APPLICATION_NAME), "application_name");
	/* a reload that drops a name stops tracking it; slots keep meaning */
	int			slot = varcache_slot("myext.opt");

	ck_assert_int_eq(varcache_configure("IntervalStyle"), 0);
	ck_assert_int_eq(varcache_slot("myext.opt"), -1);
	ck_assert_int_eq(varcache_configure("IntervalStyle,myext.opt"), 0);
	ck_assert_int_eq(varcache_slot("myext.opt"), slot);
	/* built-in names stay whatever the list says */
	ck_assert_int_eq(varcache_configure(""), 0);
	ck_assert_int_eq(varcache_slot("application_name"), VAR_APPLICATION_NAME);
	ck_assert_int_eq(varcache_configure("IntervalStyle, myext.opt, myext.caf\xc3\xa9"), 0);
}

END_TEST

START_TEST(test_sync_nothing_when_equal)
{
	ck_assert_int_eq(varcache_set(&cl.cur, VAR_APPLICATION_NAME, "app", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_APPLICATION_NAME, "app", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_APPLICATION_NAME, "app", false), 0);
	/* one shared copy; SET text of the same characters is another value */
	ck_assert_uint_eq(varcache_interned(), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_DATESTYLE, "app", true), 1);
	ck_assert_uint_eq(varcache_interned(), 2);
	ck_assert(!varcache_equal_slot(&sv, &cl.cur, VAR_DATESTYLE));
	ck_assert_int_eq(varcache_set(&sv, VAR_DATESTYLE, NULL, false), 1);
	ck_assert_uint_eq(varcache_interned(), 1);
	ck_assert_int_eq(sync_now(), 0);
	ck_assert_uint_eq(out.len, 0);
}

END_TEST

/* Caches with the same values share one set; a change copies on write. */
START_TEST(test_sets_shared)
{
	struct varcache many[100];
	uint32_t	gen;

	for (int i = 0; i < 100; i++)
	{
		varcache_init(&many[i]);
		ck_assert_int_eq(varcache_set(&many[i], VAR_CLIENT_ENCODING, "UTF8", false), 1);
		ck_assert_int_eq(varcache_set(&many[i], VAR_APPLICATION_NAME, "app", false), 1);
	}
	/* the intermediate one-value set went away; one set, two strings */
	ck_assert_uint_eq(varcache_sets(), 1);
	ck_assert_uint_eq(varcache_interned(), 2);
	gen = many[7].gen;
	ck_assert_int_eq(varcache_set(&many[7], VAR_APPLICATION_NAME, "other", false), 1);
	ck_assert_uint_ne(many[7].gen, gen);
	ck_assert_uint_eq(varcache_sets(), 2);
	ck_assert_str_eq(varcache_get(&many[7], VAR_APPLICATION_NAME), "other");
	ck_assert_str_eq(varcache_get(&many[8], VAR_APPLICATION_NAME), "app");
	ck_assert_str_eq(varcache_get(&many[7], VAR_CLIENT_ENCODING), "UTF8");
	ck_assert(varcache_equal_slot(&many[7], &many[8], VAR_CLIENT_ENCODING));
	ck_assert(!varcache_equal_slot(&many[7], &many[8], VAR_APPLICATION_NAME));
	/* back to the shared values: back to the shared set */
	ck_assert_int_eq(varcache_set(&many[7], VAR_APPLICATION_NAME, "app", false), 1);
	ck_assert_uint_eq(varcache_sets(), 1);
	/* a copy shares; all defaults is no set at all */
	ck_assert_int_eq(varcache_copy(&sv, &many[0]), 0);
	ck_assert_uint_eq(varcache_sets(), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_CLIENT_ENCODING, NULL, false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_APPLICATION_NAME, NULL, false), 1);
	ck_assert_ptr_null(varcache_get(&sv, VAR_CLIENT_ENCODING));
	for (int i = 0; i < 100; i++)
		varcache_free(&many[i]);
	ck_assert_uint_eq(varcache_sets(), 0);
}

END_TEST

START_TEST(test_sync_reported_values)
{
	uint32_t	gen;

	ck_assert_int_eq(varcache_set(&cl.cur, VAR_APPLICATION_NAME, "it's \\ mine", false), 1);
	ck_assert_int_eq(varcache_set(&cl.cur, VAR_TIMEZONE, "Europe/Paris", false), 1);
	ck_assert_int_eq(varcache_set(&cl.cur, VAR_DATESTYLE, "ISO, MDY", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_APPLICATION_NAME, "", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_TIMEZONE, "UTC", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_DATESTYLE, "ISO, MDY", false), 1);
	gen = sv.gen;
	ck_assert_int_eq(sync_now(), 2);
	ck_assert_str_eq(query_text(),
					 "SELECT pg_catalog.set_config(E'TimeZone', E'Europe/Paris', false), "
					 "pg_catalog.set_config(E'application_name', E'it''s \\\\ mine', false);");
	/* the server now has the client's values */
	ck_assert(varcache_equal_slot(&cl.cur, &sv, VAR_TIMEZONE));
	ck_assert(varcache_equal_slot(&cl.cur, &sv, VAR_APPLICATION_NAME));
	ck_assert_uint_ne(sv.gen, gen);
	ck_assert_int_eq(sync_now(), 0);
}

END_TEST

START_TEST(test_sync_sql_and_reset)
{
	int			extra = varcache_slot("myext.opt");

	ck_assert_int_eq(varcache_set(&cl.cur, VAR_SEARCH_PATH, "drv, public", true), 1);
	ck_assert_int_eq(varcache_set(&sv, extra, "'on'", true), 1);
	ck_assert_int_eq(sync_now(), 2);
	ck_assert_str_eq(query_text(), "SET \"search_path\" TO drv, public;RESET \"myext\".\"opt\";");
	ck_assert_ptr_null(varcache_get(&sv, extra));
	ck_assert_str_eq(varcache_get(&sv, VAR_SEARCH_PATH), "drv, public");
}

END_TEST

START_TEST(test_set_autocommit)
{
	note("SET search_path = drv, public");
	ck_assert_int_eq(varclient_npending(&cl), 1);
	/* nothing counts before the ReadyForQuery */
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "drv, public");
	ck_assert(varcache_get_sql(&cl.cur, VAR_SEARCH_PATH));
	/* the server ran it: nothing to sync on the same server */
	ck_assert_int_eq(sync_now(), 0);
	/* a fresh server gets it */
	varcache_free(&sv);
	varcache_init(&sv);
	ck_assert_int_eq(sync_now(), 1);
	ck_assert_str_eq(query_text(), "SET \"search_path\" TO drv, public;");

	/* other spellings */
	note("  /* orm */ set SESSION \"search_path\" TO 'a b', \"C\" ;");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "'a b', \"C\"");
	note("SET SCHEMA 'only'");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "'only'");
	note("SET search_path TO DEFAULT");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
	note("set myext.opt = 5");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, varcache_slot("myext.opt")), "5");
	note("RESET myext.opt");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_ptr_null(varcache_get(&cl.cur, varcache_slot("myext.opt")));
	/* identifier bytes >= 0x80 are letters, as in PostgreSQL's scanner */
	note("SET myext.caf\xc3\xa9 = 7");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, varcache_slot("myext.caf\xc3\xa9")), "7");
}

END_TEST

START_TEST(test_set_ignored)
{
	/*
	 * SET LOCAL, reported parameters (ParameterStatus tells), untracked
	 * names, other SET forms, non-SET statements
	 */
	note("SET LOCAL search_path = x");
	note("SET application_name = 'x'");
	note("SET TimeZone TO 'UTC'");
	note("SET work_mem = '64MB'");
	note("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
	note("SET SESSION AUTHORIZATION DEFAULT");
	note("SET ROLE bob");
	note("SELECT 'SET search_path = x'");
	note("settings");
	note("RESET application_name");
	note("DISCARD PLANS");
	ck_assert_int_eq(varclient_npending(&cl), 0);
	ck_assert(!varcache_sql_maybe_set("SELECT 1", 8));
	ck_assert(!varcache_sql_maybe_set("setx", 4));
	ck_assert(varcache_sql_maybe_set(" -- c\n SET x=1", 14));
	ck_assert(varcache_sql_maybe_set("reset all", 9));
	ck_assert(varcache_sql_maybe_set("DISCARD ALL", 11));
}

END_TEST

START_TEST(test_set_error_and_multi)
{
	/* two statements; an error later in the query undoes both */
	note("SET search_path = a; SET myext.opt = 'x;y'; SELECT 1/0");
	ck_assert_int_eq(varclient_npending(&cl), 2);
	ck_assert_str_eq(varclient_pending_sql(&cl, 1), "'x;y'");
	varclient_note_error(&cl);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
	ck_assert_int_eq(varclient_npending(&cl), 0);
	/* without the error both count */
	note("SET search_path = a; SET myext.opt = 'x;y'");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "a");
	ck_assert_str_eq(varcache_get(&cl.cur, varcache_slot("myext.opt")), "'x;y'");
}

END_TEST

START_TEST(test_set_in_transaction)
{
	/* BEGIN; SET ...; COMMIT */
	note("BEGIN");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	note("SET search_path = inside");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
	ck_assert_int_eq(varclient_ntxn(&cl), 1);
	note("COMMIT");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', true), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "inside");
	ck_assert_str_eq(varcache_get(&sv, VAR_SEARCH_PATH), "inside");

	/* rolled back: forgotten */
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	note("SET search_path = rolled");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "inside");

	/* failed in the block, then COMMIT (which rolls back) */
	note("SET search_path = failed");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'E', false), 0);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "inside");
}

END_TEST

START_TEST(test_reset_all_brings_back_startup)
{
	/* startup: application_name from the client, the rest from the server */
	ck_assert_int_eq(varcache_set(&cl.reset, VAR_APPLICATION_NAME, "np_client", false), 1);
	ck_assert_int_eq(varcache_set(&cl.reset, VAR_TIMEZONE, "UTC", false), 1);
	ck_assert_int_eq(varcache_copy(&cl.cur, &cl.reset), 0);
	ck_assert_int_eq(varcache_set(&sv, VAR_APPLICATION_NAME, "", false), 1);
	ck_assert_int_eq(varcache_set(&sv, VAR_TIMEZONE, "UTC", false), 1);
	ck_assert_int_eq(sync_now(), 1);
	ck_assert_str_eq(query_text(), "SELECT pg_catalog.set_config(E'application_name', E'np_client', false);");

	/* session SETs the server reports, and one it does not */
	ck_assert_int_eq(varclient_note_status(&cl, &sv, VAR_APPLICATION_NAME, "np_sess"), 0);
	ck_assert_int_eq(varclient_note_status(&cl, &sv, VAR_TIMEZONE, "Asia/Tokyo"), 0);
	note("SET search_path = drv, public");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_APPLICATION_NAME), "np_sess");

	/* RESET ALL: the server reports its own defaults before ReadyForQuery */
	note("RESET ALL");
	ck_assert(cl.reset_pending);
	ck_assert_int_eq(varclient_note_status(&cl, &sv, VAR_APPLICATION_NAME, ""), 0);
	ck_assert_int_eq(varclient_note_status(&cl, &sv, VAR_TIMEZONE, "UTC"), 0);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert(!cl.reset_pending);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_APPLICATION_NAME), "np_client");
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_TIMEZONE), "UTC");
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
	ck_assert_ptr_null(varcache_get(&sv, VAR_SEARCH_PATH));
	/* the client's startup application_name goes back to the server */
	ck_assert_int_eq(sync_now(), 1);
	ck_assert_str_eq(query_text(), "SELECT pg_catalog.set_config(E'application_name', E'np_client', false);");

	/* DISCARD ALL does the same; a failed one does nothing */
	note("SET search_path = x");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	note("DISCARD ALL");
	varclient_note_error(&cl);
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'T', false), 0);
	ck_assert_str_eq(varcache_get(&cl.cur, VAR_SEARCH_PATH), "x");
	note("DISCARD ALL");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert_ptr_null(varcache_get(&cl.cur, VAR_SEARCH_PATH));
}

END_TEST

START_TEST(test_overflow)
{
	char		sql[2048];
	size_t		n = 0;

	/* more changes than remembered: the client's values are resent */
	note("SET search_path = keep");
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	for (int i = 0; i < VAR_PENDING_MAX + 2; i++)
		n += (size_t) snprintf(sql + n, sizeof(sql) - n, "SET search_path = s%d;", i);
	note(sql);
	ck_assert(varclient_pending_overflow(&cl));
	ck_assert_int_eq(varclient_note_ready(&cl, &sv, 'I', false), 0);
	ck_assert(!varcache_equal_slot(&cl.cur, &sv, VAR_SEARCH_PATH));
	ck_assert_int_eq(sync_now(), 1);
}

END_TEST

static Suite *
varcache_suite(void)
{
	Suite	   *s = suite_create("varcache");
	TCase	   *tc = tcase_create("params");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_sync_nothing_when_equal);
	tcase_add_test(tc, test_sets_shared);
	tcase_add_test(tc, test_sync_reported_values);
	tcase_add_test(tc, test_sync_sql_and_reset);
	tcase_add_test(tc, test_set_autocommit);
	tcase_add_test(tc, test_set_ignored);
	tcase_add_test(tc, test_set_error_and_multi);
	tcase_add_test(tc, test_set_in_transaction);
	tcase_add_test(tc, test_reset_all_brings_back_startup);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(varcache_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
