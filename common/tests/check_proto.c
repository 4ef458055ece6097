/*
 * check_proto.c -- unit tests for common/proto.c: framing, body reading and
 * message building, including truncated and oversized input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

START_TEST(test_peek_header)
{
	uint8_t		msg[] = {'Q', 0, 0, 0, 9, 's', 'e', 'l', 0};
	uint8_t		type = 0;
	uint32_t	len = 0;

	ck_assert_int_eq(proto_peek_header(msg, 4, 0, &type, &len), PROTO_FRAME_SHORT);
	ck_assert_int_eq(proto_peek_header(msg, sizeof(msg), 0, &type, &len), PROTO_FRAME_OK);
	ck_assert_int_eq(type, 'Q');
	ck_assert_uint_eq(len, 9);
	/* over the caller's limit */
	ck_assert_int_eq(proto_peek_header(msg, sizeof(msg), 8, &type, &len), PROTO_FRAME_BAD);
	/* a length below 4 is impossible */
	msg[4] = 3;
	ck_assert_int_eq(proto_peek_header(msg, sizeof(msg), 0, &type, &len), PROTO_FRAME_BAD);
	/* over 2^30 */
	msg[1] = 0x50;
	msg[4] = 9;
	ck_assert_int_eq(proto_peek_header(msg, sizeof(msg), 0, &type, &len), PROTO_FRAME_BAD);
}

END_TEST

START_TEST(test_peek_startup)
{
	struct proto_buf b;
	uint32_t	len = 0,
				code = 0;
	const char *pairs[] = {"user", "alice", "database", "db1"};

	proto_buf_init(&b);
	proto_build_startup(&b, pairs, 2);
	ck_assert(proto_buf_ok(&b));
	ck_assert_int_eq(proto_peek_startup(b.data, 3, &len, &code), PROTO_FRAME_SHORT);
	ck_assert_int_eq(proto_peek_startup(b.data, 6, &len, &code), PROTO_FRAME_SHORT);
	ck_assert_int_eq(proto_peek_startup(b.data, b.len, &len, &code), PROTO_FRAME_OK);
	ck_assert_uint_eq(len, b.len);
	ck_assert_uint_eq(code, PROTO_VERSION_3);
	/* 4+4 + "user\0alice\0database\0db1\0" + final NUL */
	ck_assert_uint_eq(b.len, 8 + 5 + 6 + 9 + 4 + 1);

	proto_buf_reset(&b);
	proto_build_cancel_request(&b, 1234, 0xdeadbeef);
	ck_assert_uint_eq(b.len, 16);
	ck_assert_int_eq(proto_peek_startup(b.data, b.len, &len, &code), PROTO_FRAME_OK);
	ck_assert_uint_eq(code, PROTO_CANCEL_CODE);
	ck_assert_uint_eq(proto_get_u32(b.data + 8), 1234);
	ck_assert_uint_eq(proto_get_u32(b.data + 12), 0xdeadbeef);

	/* too long a startup packet, and too short */
	{
		uint8_t		big[8] = {0, 0, 0x30, 0, 0, 3, 0, 0};
		uint8_t		small[8] = {0, 0, 0, 7, 0, 3, 0, 0};

		ck_assert_int_eq(proto_peek_startup(big, 8, &len, &code), PROTO_FRAME_BAD);
		ck_assert_int_eq(proto_peek_startup(small, 8, &len, &code), PROTO_FRAME_BAD);
	}
	proto_buf_free(&b);
}

END_TEST

struct seen
{
	int			n;
	char		names[4][32];
	char		values[4][32];
};

static int
collect(const char *name, const char *value, void *arg)
{
	struct seen *s = arg;

	if (s->n >= 4)
		return -1;
	strncpy(s->names[s->n], name, 31);
	strncpy(s->values[s->n], value, 31);
	s->n++;
	return 0;
}

START_TEST(test_startup_params)
{
	struct proto_buf b;
	struct seen s;
	const char *pairs[] = {"user", "bob", "application_name", "psql", "database", "x"};

	memset(&s, 0, sizeof(s));
	proto_buf_init(&b);
	proto_build_startup(&b, pairs, 3);
	ck_assert_int_eq(proto_startup_params(b.data + 8, b.len - 8, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.names[1], "application_name");
	ck_assert_str_eq(s.values[1], "psql");
	ck_assert_str_eq(s.values[2], "x");

	/* missing final terminator: malformed */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(proto_startup_params(b.data + 8, b.len - 9, collect, &s), -1);
	/* name without a value */
	{
		const uint8_t bad[] = "user\0";

		ck_assert_int_eq(proto_startup_params(bad, 5, collect, &s), -1);
	}
	proto_buf_free(&b);
}

END_TEST

START_TEST(test_error_build_and_fields)
{
	struct proto_buf b;
	uint8_t		type;
	uint32_t	len;
	const char *f;

	proto_buf_init(&b);
	proto_build_error(&b, PQMSG_ErrorResponse, "FATAL", "3D000",
					  "database \"nope\" does not exist", NULL, "check [databases]");
	ck_assert(proto_buf_ok(&b));
	ck_assert_int_eq(proto_peek_header(b.data, b.len, 0, &type, &len), PROTO_FRAME_OK);
	ck_assert_int_eq(type, 'E');
	ck_assert_uint_eq(len + 1, b.len);
	f = proto_error_field(b.data + 5, len - 4, PROTO_FIELD_SQLSTATE);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f, "3D000");
	f = proto_error_field(b.data + 5, len - 4, PROTO_FIELD_HINT);
	ck_assert_str_eq(f, "check [databases]");
	ck_assert_ptr_null(proto_error_field(b.data + 5, len - 4, PROTO_FIELD_DETAIL));
	/* truncated body: no out-of-bounds read, field not found */
	ck_assert_ptr_null(proto_error_field(b.data + 5, 12, PROTO_FIELD_MESSAGE));
	proto_buf_free(&b);
}

END_TEST

START_TEST(test_reader_bounds)
{
	const uint8_t body[] = {0, 0, 0, 42, 'a', 'b', 0, 7};
	struct proto_reader r;

	proto_reader_init(&r, body, sizeof(body));
	ck_assert_uint_eq(proto_read_u32(&r), 42);
	ck_assert_str_eq(proto_read_string(&r), "ab");
	ck_assert_uint_eq(proto_read_byte(&r), 7);
	ck_assert(!r.failed);
	ck_assert_uint_eq(proto_read_u16(&r), 0);
	ck_assert(r.failed);

	/* unterminated string */
	proto_reader_init(&r, (const uint8_t *) "abc", 3);
	ck_assert_ptr_null(proto_read_string(&r));
	ck_assert(r.failed);
}

END_TEST

START_TEST(test_rows_and_concat)
{
	struct proto_buf b;
	const char *names[] = {"database", "cl_active"};
	uint32_t	types[] = {25, 20};
	const char *vals[] = {"db1", NULL};
	uint8_t		type;
	uint32_t	len;
	size_t		off = 0;
	char		seq[8] = {0};
	int			n = 0;

	proto_buf_init(&b);
	proto_build_row_description(&b, 2, names, types);
	proto_build_data_row(&b, 2, vals);
	proto_build_command_complete(&b, "SHOW");
	proto_build_ready(&b, 'I');
	ck_assert(proto_buf_ok(&b));
	while (off < b.len && n < 7)
	{
		ck_assert_int_eq(proto_peek_header(b.data + off, b.len - off, 0, &type, &len), PROTO_FRAME_OK);
		seq[n++] = (char) type;
		off += 1 + len;
	}
	ck_assert_uint_eq(off, b.len);
	ck_assert_str_eq(seq, "TDCZ");
	/* DataRow: 2 columns, "db1" then NULL (-1) */
	{
		size_t		d = 1 + proto_get_u32(b.data + 1);

		ck_assert_uint_eq(proto_get_u16(b.data + d + 5), 2);
		ck_assert_uint_eq(proto_get_u32(b.data + d + 7), 3);
		ck_assert_int_eq(memcmp(b.data + d + 11, "db1", 3), 0);
		ck_assert_uint_eq(proto_get_u32(b.data + d + 14), 0xffffffffu);
	}
	/* ReadyForQuery is exactly Z, len 5, status */
	ck_assert_uint_eq(b.data[b.len - 6], 'Z');
	ck_assert_uint_eq(proto_get_u32(b.data + b.len - 5), 5);
	ck_assert_uint_eq(b.data[b.len - 1], 'I');

	/* reset keeps the capacity: no allocation for the next message */
	{
		uint8_t    *before = b.data;

		proto_buf_reset(&b);
		proto_build_query(&b, "select 1");
		ck_assert_ptr_eq(b.data, before);
		ck_assert_uint_eq(b.len, 1 + 4 + 9);
	}

	/* Close: type, length, kind, name and its NUL ("" is one NUL) */
	proto_buf_reset(&b);
	proto_build_close(&b, 'S', "ab");
	proto_build_close(&b, 'P', "");
	ck_assert_uint_eq(b.len, 9 + 7);
	ck_assert(memcmp(b.data, "C\0\0\0\x08Sab\0C\0\0\0\x06P\0", 16) == 0);
	proto_buf_free(&b);
}

END_TEST

static Suite *
proto_suite(void)
{
	Suite	   *s = suite_create("proto");
	TCase	   *tc = tcase_create("core");

	tcase_add_test(tc, test_peek_header);
	tcase_add_test(tc, test_peek_startup);
	tcase_add_test(tc, test_startup_params);
	tcase_add_test(tc, test_error_build_and_fields);
	tcase_add_test(tc, test_reader_bounds);
	tcase_add_test(tc, test_rows_and_concat);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(proto_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
