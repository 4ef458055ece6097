/*
 * check_prepare.c -- unit tests for prepare.c: what goes to the server for
 * each client Parse/Bind/Describe/Close/Execute/Sync/Query, which replies
 * are forwarded, swallowed or translated, statements shared between
 * clients, LRU eviction, error recovery up to Sync, DEALLOCATE, and that
 * every statement is freed with the last connection that used it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prepare.h"

static struct proto_buf msg,
			out;

static void
setup(void)
{
	proto_buf_init(&msg);
	proto_buf_init(&out);
	ps_learn_descriptions = false;	/* test_learned_description turns it on */
}

static void
teardown(void)
{
	proto_buf_free(&msg);
	proto_buf_free(&out);
	ck_assert_uint_eq(ps_stats.stmts, 0);	/* nothing leaked */
	ps_global_cleanup();
	memset(&ps_stats, 0, sizeof(ps_stats));
}

/* ---- building client messages ---- */

static void
put_parse_body(struct proto_buf *b, const char *name, const char *sql, int ntypes)
{
	proto_put_string(b, name);
	proto_put_string(b, sql);
	proto_put_int16(b, (uint16_t) ntypes);
	for (int i = 0; i < ntypes; i++)
		proto_put_int32(b, 23);
}

static void
mk_parse(const char *name, const char *sql, int ntypes)
{
	proto_buf_reset(&msg);
	proto_begin(&msg, PQMSG_Parse);
	put_parse_body(&msg, name, sql, ntypes);
	proto_end(&msg);
}

static void
mk_bind(const char *portal, const char *stmt)
{
	proto_buf_reset(&msg);
	proto_begin(&msg, PQMSG_Bind);
	proto_put_string(&msg, portal);
	proto_put_string(&msg, stmt);
	proto_put_int16(&msg, 0);	/* parameter formats */
	proto_put_int16(&msg, 1);	/* one parameter */
	proto_put_int32(&msg, 2);
	proto_put_bytes(&msg, "42", 2);
	proto_put_int16(&msg, 0);	/* result formats */
	proto_end(&msg);
}

static void
mk_describe_close(uint8_t type, char kind, const char *name)
{
	proto_buf_reset(&msg);
	proto_begin(&msg, type);
	proto_put_byte(&msg, (uint8_t) kind);
	proto_put_string(&msg, name);
	proto_end(&msg);
}

static void
mk_simple(uint8_t type)
{
	proto_buf_reset(&msg);
	proto_begin(&msg, type);
	if (type == PQMSG_Execute)
	{
		proto_put_string(&msg, "");
		proto_put_int32(&msg, 0);
	}
	proto_end(&msg);
}

static enum ps_result
send_msg(struct ps_client *cl, struct ps_server *sv, int max)
{
	return ps_client_message(cl, sv, msg.data, (uint32_t) msg.len, max, &out);
}

/* ---- reading what the pooler sends ---- */

struct wire_msg
{
	uint8_t		type;
	const uint8_t *body;
	uint32_t	len;
};

/* Split `out` into messages; returns how many. */
static int
split(const struct proto_buf *b, struct wire_msg *m, int max)
{
	size_t		pos = 0;
	int			n = 0;

	while (pos < b->len)
	{
		uint32_t	len;

		ck_assert_int_lt(n, max);
		ck_assert_uint_ge(b->len - pos, 5);
		len = proto_get_u32(b->data + pos + 1);
		ck_assert_uint_le(pos + 1 + len, b->len);
		m[n].type = b->data[pos];
		m[n].body = b->data + pos + 5;
		m[n].len = len - 4;
		n++;
		pos += 1 + len;
	}
	return n;
}

/* The i-th NUL-terminated string of a body. */
static const char *
str_at(const struct wire_msg *m, int i)
{
	const char *s = (const char *) m->body;

	while (i-- > 0)
		s += strlen(s) + 1;
	return s;
}

START_TEST(test_named_parse_and_share)
{
	struct ps_client *a = ps_client_new(0),
			   *b = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	char		name[32];

	/* first client: the Parse is renamed */
	mk_parse("S_1", "select $1", 1);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[0], 1), "select $1");
	ck_assert(strncmp(str_at(&m[0], 0), PS_NAME_PREFIX, strlen(PS_NAME_PREFIX)) == 0);
	snprintf(name, sizeof(name), "%s", str_at(&m[0], 0));
	/* the body after the name is the client's, parameter types included */
	ck_assert_uint_eq(m[0].len - (strlen(name) + 1), msg.len - 5 - 4);
	ck_assert(memcmp(m[0].body + strlen(name) + 1, msg.data + 5 + 4, msg.len - 9) == 0);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 2);
	ck_assert(!ps_reply_is_special(sv, PQMSG_ParseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ck_assert_uint_eq(ps_server_cached(sv), 1);

	/* second client, same text, another name: the server has it */
	mk_parse("other", "select $1", 1);
	ck_assert_int_eq(send_msg(b, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(m[0].body[0], 'P');
	ck_assert_str_eq(str_at(&m[0], 0) + 1, PS_NOP_PORTAL);
	ck_assert(ps_reply_is_special(sv, PQMSG_CloseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_AS_PARSE_COMPLETE);
	ck_assert_uint_eq(ps_stats.parses_skipped, 1);
	ck_assert_uint_eq(ps_stats.stmts, 1);

	/* its Bind uses the shared server-side name */
	mk_bind("", "other");
	ck_assert_int_eq(send_msg(b, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Bind);
	ck_assert_str_eq(str_at(&m[0], 0), "");
	ck_assert_str_eq(str_at(&m[0], 1), name);
	/* parameters unchanged: 2+2+4+2+2 bytes after the two names */
	ck_assert_uint_eq(m[0].len, 1 + strlen(name) + 1 + 12);
	ck_assert(memcmp(m[0].body + 1 + strlen(name) + 1, msg.data + 5 + 1 + 6, 12) == 0);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);

	ps_client_free(a);
	ps_client_free(b);
	ck_assert_uint_eq(ps_stats.stmts, 1);	/* the server still has it */
	ps_server_free(sv);
}

END_TEST

START_TEST(test_bind_on_other_server_prepares_first)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *s1 = ps_server_new(),
			   *s2 = ps_server_new();
	struct wire_msg m[8];

	mk_parse("P_0", "update t set a = $1", 1);
	ck_assert_int_eq(send_msg(cl, s1, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(s1, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	/* a later transaction gets server 2: Parse injected before the Bind */
	mk_bind("", "P_0");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[0], 1), "update t set a = $1");
	ck_assert_int_eq(m[1].type, PQMSG_Bind);
	ck_assert_str_eq(str_at(&m[1], 1), str_at(&m[0], 0));
	ck_assert_uint_eq(ps_stats.parses_injected, 1);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_PASS);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_PASS);

	/* a second Bind in the same pipeline does not parse again */
	mk_bind("", "P_0");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Bind);

	ck_assert(ps_reply_is_special(s2, PQMSG_ParseComplete));
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert(!ps_reply_is_special(s2, PQMSG_BindComplete));
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_DataRow), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_CommandComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(s2), 0);
	ck_assert_uint_eq(ps_server_cached(s2), 1);

	ps_client_free(cl);
	ps_server_free(s1);
	ps_server_free(s2);
}

END_TEST

START_TEST(test_describe_statement)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *s1 = ps_server_new(),
			   *s2 = ps_server_new();
	struct wire_msg m[8];

	mk_parse("q", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, s1, 200), PS_REPLACED);
	mk_describe_close(PQMSG_Describe, 'S', "q");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_int_eq(m[1].type, PQMSG_Describe);
	ck_assert_int_eq(m[1].body[0], 'S');
	ck_assert_str_eq((const char *) m[1].body + 1, str_at(&m[0], 0));
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_ParameterDescription), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(s2), 1);
	ck_assert_int_eq(ps_server_reply(s2, PQMSG_RowDescription), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(s2), 0);

	/* a portal Describe, an unknown statement: forwarded as they are */
	mk_describe_close(PQMSG_Describe, 'P', "");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_PASS);
	mk_describe_close(PQMSG_Describe, 'S', "nope");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_PASS);
	mk_bind("", "nope");
	ck_assert_int_eq(send_msg(cl, s2, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(s2), 3);

	ps_client_free(cl);
	ps_server_free(s1);
	ps_server_free(s2);
}

END_TEST

START_TEST(test_close_keeps_server_statement)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];

	mk_parse("S_1", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_client_count(cl), 1);

	mk_describe_close(PQMSG_Close, 'S', "S_1");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(m[0].body[0], 'P');
	ck_assert_str_eq((const char *) m[0].body + 1, PS_NOP_PORTAL);
	/* the client gets the CloseComplete as it is */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_client_count(cl), 0);
	ck_assert_uint_eq(ps_server_cached(sv), 1);

	/* the name is gone for the client: its Bind goes as it is (26000) */
	mk_bind("", "S_1");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	/* a portal Close is the client's own business */
	mk_describe_close(PQMSG_Close, 'P', "c1");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);

	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_unnamed_reuse)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];

	for (int round = 0; round < 3; round++)
	{
		mk_parse("", "select * from t where id = $1", 1);
		ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
		ck_assert_int_eq(split(&out, m, 8), 1);
		/* parsed once; later rounds only stand in for it */
		ck_assert_int_eq(m[0].type, round == 0 ? PQMSG_Parse : PQMSG_Close);
		mk_bind("", "");
		ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
		ck_assert_int_eq(split(&out, m, 8), 1);
		ck_assert_int_eq(m[0].type, PQMSG_Bind);
		ck_assert(strncmp(str_at(&m[0], 1), PS_NAME_PREFIX, strlen(PS_NAME_PREFIX)) == 0);
		mk_simple(PQMSG_Execute);
		ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
		mk_simple(PQMSG_Sync);
		ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
		ck_assert_int_eq(ps_server_reply(sv, round == 0 ? PQMSG_ParseComplete : PQMSG_CloseComplete),
						 round == 0 ? PS_REPLY_FORWARD : PS_REPLY_AS_PARSE_COMPLETE);
		ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
		ck_assert_int_eq(ps_server_reply(sv, PQMSG_CommandComplete), PS_REPLY_FORWARD);
		ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	}
	ck_assert_uint_eq(ps_stats.server_parses, 1);
	ck_assert_uint_eq(ps_stats.parses_skipped, 2);
	ck_assert_uint_eq(ps_client_count(cl), 0);	/* unnamed is not counted */

	/* another text replaces the unnamed statement */
	mk_parse("", "select 3", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_uint_eq(ps_stats.stmts, 2);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/*
 * A Parse of the current `msg` that server `sv` answers with ParseComplete
 * (by a client of its own): its text is then known to parse, while sv keeps
 * it cached.
 */
static void
validate_msg(struct ps_server *sv)
{
	struct ps_client *cl = ps_client_new(0);

	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ps_client_free(cl);
}

/* The unnamed statement re-parsed while no server is linked: the same body
 * keeps it; the same text with other parameter types is another statement,
 * and the next Bind names that one. */
START_TEST(test_unnamed_reparse_unlinked)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct ps_client *keep = ps_client_new(0);
	struct ps_server *vsv = ps_server_new();
	struct wire_msg m[8];
	char		first[32];

	/* texts a server has parsed (kept alive by another client's names) */
	mk_parse("k1", "select $1", 1);
	ck_assert_int_eq(ps_client_unlinked(keep, msg.data, (uint32_t) msg.len), PS_REPLACED);
	validate_msg(vsv);
	ck_assert_int_eq(ps_client_unlinked(keep, msg.data, (uint32_t) msg.len), PS_PASS);
	mk_parse("k2", "select $1", 0);
	validate_msg(vsv);
	ck_assert_int_eq(ps_client_unlinked(keep, msg.data, (uint32_t) msg.len), PS_PASS);

	mk_parse("", "select $1", 1);
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_PASS);
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_PASS);
	ck_assert_uint_eq(ps_stats.stmts, 2);	/* k1's, k2's */
	mk_bind("", "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2); /* Parse injected, then the Bind */
	ck_assert_int_eq(m[1].type, PQMSG_Bind);
	snprintf(first, sizeof(first), "%s", str_at(&m[1], 1));

	mk_parse("", "select $1", 0);	/* same text, no types */
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_PASS);
	ck_assert_uint_eq(ps_stats.stmts, 2);
	mk_bind("", "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[1].type, PQMSG_Bind);
	ck_assert_str_ne(str_at(&m[1], 1), first);
	ps_client_free(cl);
	ps_client_free(keep);
	ps_server_free(sv);
	ps_server_free(vsv);
}

END_TEST

START_TEST(test_lru_eviction)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	char		first[32];

	mk_parse("a", "select 'a'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 2), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	snprintf(first, sizeof(first), "%s", str_at(&m[0], 0));
	mk_parse("b", "select 'b'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 2), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 2);

	/* use "a": "b" becomes the least recently used */
	mk_bind("", "a");
	ck_assert_int_eq(send_msg(cl, sv, 2), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);

	mk_parse("c", "select 'c'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 2), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(m[0].body[0], 'S');
	ck_assert_str_ne((const char *) m[0].body + 1, first);	/* "b" went, not "a" */
	ck_assert_int_eq(m[1].type, PQMSG_Parse);
	ck_assert_uint_eq(ps_stats.evictions, 1);
	ck_assert_uint_eq(ps_server_cached(sv), 2);
	ck_assert(ps_reply_is_special(sv, PQMSG_CloseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	/* "b" is needed again: parsed again after evicting the LRU ("a") */
	mk_bind("", "b");
	ck_assert_int_eq(send_msg(cl, sv, 2), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_str_eq((const char *) m[0].body + 1, first);
	ck_assert_int_eq(m[1].type, PQMSG_Parse);
	ck_assert_int_eq(m[2].type, PQMSG_Bind);
	ck_assert_str_eq(str_at(&m[2], 1), str_at(&m[1], 0));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 2);

	/* the client still has three statements; only the server evicts */
	ck_assert_uint_eq(ps_client_count(cl), 3);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_error_skips_to_sync)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	uint32_t	len;

	/* a Parse that fails, and a Bind the server then ignores */
	mk_parse("bad", "selec 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_bind("", "bad");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 4);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);	/* the Sync */
	ck_assert_uint_eq(ps_server_cached(sv), 0); /* never prepared */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);

	/* an error the pooler learns of before the Sync is sent */
	mk_parse("ok", "select 5", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_bind("", "ok");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);	/* 22012 */
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);

	/*
	 * ignored by the server until Sync: not queued, nothing cached, and the
	 * name is not taken (the Bind is of an unknown name)
	 */
	mk_parse("late", "select 6", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_bind("", "late");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* after the Sync "late" still does not exist, as in PostgreSQL */
	ck_assert_ptr_null(ps_client_stmt_body(cl, "late", &len));
	mk_bind("", "late");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);
	ck_assert_uint_eq(ps_server_cached(sv), 1);

	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/* Parse and Close pipelined behind a request that fails: the client's
 * names go back to what they were once the error arrives. */
START_TEST(test_error_undoes_names)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct ps_client *gone = ps_client_new(0);
	uint32_t	len;

	mk_parse("", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_parse("n", "select 10", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* Bind (fails), then the unnamed statement twice, n closed, Sync */
	mk_bind("", "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_parse("", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_parse("", "select 3", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_describe_close(PQMSG_Close, 'S', "n");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_ptr_null(ps_client_stmt_body(cl, "n", &len));
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "", &len), "select 3");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "", &len), "select 1");
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "n", &len), "select 10");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* a failed Parse of the unnamed statement leaves none */
	mk_parse("", "selec 4", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_ptr_null(ps_client_stmt_body(cl, "", &len));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* a client freed while its changes are queued: nothing is undone on it */
	mk_parse("g", "select 7", 0);
	ck_assert_int_eq(send_msg(gone, sv, 200), PS_REPLACED);
	ps_client_free(gone);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);

	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/* A client whose queued changes were all answered is no longer tied to
 * that server: the server can be freed (connection closed) and the client
 * go on with another one (a use after free before; run under valgrind or
 * ASan to see it). */
START_TEST(test_server_freed_after_answers)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *a = ps_server_new();
	struct ps_server *b = ps_server_new();
	uint32_t	len;

	mk_parse("s", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, a, 200), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, a, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(a, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(a, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(a), 0);
	/* a queued Parse still unanswered when its server goes away */
	mk_parse("t", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, a, 200), PS_REPLACED);
	ps_server_free(a);

	mk_parse("u", "select 3", 0);
	ck_assert_int_eq(send_msg(cl, b, 200), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, b, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(b, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(b, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "u", &len), "select 3");
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "s", &len), "select 1");
	ps_server_free(b);
	ps_client_free(cl);
}

END_TEST

START_TEST(test_ignored_eviction_keeps_statement)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();

	mk_parse("a", "select 'a'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	/*
	 * Bind "x" fails; the eviction Close of "a" and Parse of "b" after it are
	 * ignored by the server
	 */
	mk_bind("", "x");
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	mk_parse("b", "select 'b'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_uint_eq(ps_server_outstanding(sv), 3);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	/* "a" is still prepared on the server, "b" is not */
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	mk_bind("", "a");
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);	/* just the Bind */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_evicted_in_flight_stays_evicted)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];

	mk_parse("a", "select 'a'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	mk_parse("b", "select 'b'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Close);	/* "a", still unanswered */
	/* a's ParseComplete comes after its eviction was sent: it stays out */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	/* using "a" prepares it again (and evicts "b") */
	mk_bind("", "a");
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(m[1].type, PQMSG_Parse);
	ck_assert_int_eq(m[2].type, PQMSG_Bind);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_simple_query_then_pipeline)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();

	/* a simple query with nothing queued is only counted ... */
	mk_simple(PQMSG_Query);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);

	/*
	 * ... and an extended batch pipelined after it is matched after its
	 * replies, which pass untouched (RowDescription is not a Parse's)
	 */
	mk_parse("s", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_bind("", "s");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Query);		/* queued now: something is before it */
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_uint_eq(ps_server_outstanding(sv), 4);
	ck_assert(!ps_reply_is_special(sv, PQMSG_RowDescription));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_RowDescription), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CommandComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 3);
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CommandComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_simple_and_injected_queries)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();

	ck_assert(ps_push_injected_query(sv));
	mk_simple(PQMSG_Query);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	/* everything of the injected query is swallowed, its errors too */
	ck_assert(ps_reply_is_special(sv, PQMSG_CommandComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CommandComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_SWALLOW);
	/* asynchronous messages are never matched */
	ck_assert(!ps_reply_is_special(sv, PQMSG_ParameterStatus));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParameterStatus), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_SWALLOW);
	/* the client's query: an error does not end it, ReadyForQuery does */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_RowDescription), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	/* replies nobody asked for pass through */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_deallocate_parsing)
{
	char		name[64];

	ck_assert(ps_query_is_deallocate("DEALLOCATE _pg3_0", 17, name, sizeof(name)));
	ck_assert_str_eq(name, "_pg3_0");
	ck_assert(ps_query_is_deallocate("  deallocate prepare S_1 ;\n", 27, name, sizeof(name)));
	ck_assert_str_eq(name, "s_1");	/* unquoted names fold */
	ck_assert(ps_query_is_deallocate("DEALLOCATE \"S_1\"", 16, name, sizeof(name)));
	ck_assert_str_eq(name, "S_1");
	ck_assert(ps_query_is_deallocate("DEALLOCATE \"a\"\"b\"", 17, name, sizeof(name)));
	ck_assert_str_eq(name, "a\"b");
	ck_assert(ps_query_is_deallocate("DEALLOCATE ALL", 14, name, sizeof(name)));
	ck_assert_str_eq(name, "");
	ck_assert(ps_query_is_deallocate("deallocate prepare all", 22, name, sizeof(name)));
	ck_assert_str_eq(name, "");
	ck_assert(ps_query_is_deallocate("DEALLOCATE prepare", 18, name, sizeof(name)));
	ck_assert_str_eq(name, "prepare");
	ck_assert(!ps_query_is_deallocate("DEALLOCATE", 10, name, sizeof(name)));
	ck_assert(!ps_query_is_deallocate("DEALLOCATE a; select 1", 22, name, sizeof(name)));
	ck_assert(!ps_query_is_deallocate("deallocated", 11, name, sizeof(name)));
	ck_assert(!ps_query_is_deallocate("select 'DEALLOCATE x'", 21, name, sizeof(name)));
}

END_TEST

START_TEST(test_deallocate_simple_query)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	const char *sql = "DEALLOCATE s1";
	struct wire_msg m[4];

	mk_parse("s1", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_parse("s2", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_client_deallocate_query(cl, sv, sql, strlen(sql), &out), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 4), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Query);
	ck_assert_str_eq((const char *) m[0].body, "");
	ck_assert_uint_eq(ps_client_count(cl), 1);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert(ps_reply_is_special(sv, PQMSG_EmptyQueryResponse));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_EmptyQueryResponse), PS_REPLY_AS_DEALLOCATE);
	ck_assert_str_eq(ps_dealloc_tag(sv), "DEALLOCATE");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	sql = "deallocate all";
	ck_assert_int_eq(ps_client_deallocate_query(cl, sv, sql, strlen(sql), &out), PS_REPLACED);
	ck_assert_uint_eq(ps_client_count(cl), 0);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_EmptyQueryResponse), PS_REPLY_AS_DEALLOCATE);
	ck_assert_str_eq(ps_dealloc_tag(sv), "DEALLOCATE ALL");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	/* the server's statements stay for other clients */
	ck_assert_uint_eq(ps_server_cached(sv), 2);
	ps_server_forget_all(sv);
	ck_assert_uint_eq(ps_server_cached(sv), 0);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_deallocate_extended)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[4];

	mk_parse("_pg3_0", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_client_count(cl), 1);

	/* psycopg sends DEALLOCATE through the extended protocol */
	mk_parse("", "DEALLOCATE _pg3_0", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 4), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[0], 1), ""); /* the server runs an empty query */
	mk_bind("", "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_uint_eq(ps_client_count(cl), 0);
	mk_describe_close(PQMSG_Describe, 'P', "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_NoData), PS_REPLY_FORWARD);
	ck_assert(ps_reply_is_special(sv, PQMSG_EmptyQueryResponse));
	ck_assert_ptr_nonnull(ps_server_current_stmt(sv));
	ck_assert_str_eq(ps_stmt_text(ps_server_current_stmt(sv)), "DEALLOCATE _pg3_0");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_EmptyQueryResponse), PS_REPLY_AS_DEALLOCATE);
	ck_assert_str_eq(ps_dealloc_tag(sv), "DEALLOCATE");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* an ordinary empty query is not translated */
	mk_parse("", "", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_bind("", "");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert(!ps_reply_is_special(sv, PQMSG_EmptyQueryResponse));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_EmptyQueryResponse), PS_REPLY_FORWARD);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_malformed)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();

	/* parameter count says 2 types, none follow */
	proto_buf_reset(&msg);
	proto_begin(&msg, PQMSG_Parse);
	proto_put_string(&msg, "x");
	proto_put_string(&msg, "select $1");
	proto_put_int16(&msg, 2);
	proto_end(&msg);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_BAD);
	/* unterminated names */
	proto_buf_reset(&msg);
	proto_begin(&msg, PQMSG_Bind);
	proto_put_bytes(&msg, "abc", 3);
	proto_end(&msg);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_BAD);
	proto_buf_reset(&msg);
	proto_begin(&msg, PQMSG_Close);
	proto_put_byte(&msg, 'S');
	proto_end(&msg);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_BAD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ck_assert_uint_eq(ps_stats.stmts, 0);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

START_TEST(test_many_statements_and_pipeline)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	char		name[32],
				sql[64];

	/* more statements and queued requests than the initial table sizes */
	for (int i = 0; i < 1000; i++)
	{
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "select %d", i);
		mk_parse(name, sql, 0);
		ck_assert_int_eq(send_msg(cl, sv, 300), PS_REPLACED);
	}
	ck_assert_uint_eq(ps_client_count(cl), 1000);
	ck_assert_uint_eq(ps_stats.stmts, 1000);

	/*
	 * one pipeline over the limit: the cache never holds more than 300, even
	 * before any reply (statements in flight are evicted too)
	 */
	ck_assert_uint_eq(ps_server_cached(sv), 300);
	ck_assert_uint_eq(ps_stats.evictions, 700);
	ck_assert_uint_eq(ps_server_outstanding(sv), 1700);
	{
		int			parse_completes = 0,
					swallowed = 0;

		while (ps_server_outstanding(sv) > 0)
		{
			if (ps_reply_is_special(sv, PQMSG_CloseComplete))
			{
				ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
				swallowed++;
			}
			else
			{
				ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
				parse_completes++;
			}
		}
		/* the client sees every ParseComplete and none of the Closes */
		ck_assert_int_eq(parse_completes, 1000);
		ck_assert_int_eq(swallowed, 700);
	}
	ck_assert_uint_eq(ps_server_cached(sv), 300);
	/* the next new statement evicts one */
	mk_parse("new", "select 'new'", 0);
	ck_assert_int_eq(send_msg(cl, sv, 300), PS_REPLACED);
	ck_assert_uint_eq(ps_server_cached(sv), 300);
	ck_assert_uint_eq(ps_stats.evictions, 701);
	ps_server_free(sv);
	ck_assert_uint_eq(ps_stats.stmts, 1001);	/* the client still names them */
	ps_client_free(cl);
}

END_TEST

/* An ErrorResponse/NoticeResponse with the given M and D fields. */
static void
mk_error(uint8_t type, const char *m, const char *d)
{
	proto_buf_reset(&msg);
	proto_begin(&msg, type);
	proto_put_byte(&msg, 'C');
	proto_put_string(&msg, "08P01");
	proto_put_byte(&msg, 'M');
	proto_put_string(&msg, m);
	if (d)
	{
		proto_put_byte(&msg, 'D');
		proto_put_string(&msg, d);
	}
	proto_put_byte(&msg, 0);
	proto_end(&msg);
}

/* Field `code` of the message in out, or NULL. */
static const char *
out_field(char code)
{
	struct wire_msg m[2];
	uint32_t	pos = 0;

	ck_assert_int_eq(split(&out, m, 2), 1);
	while (pos < m[0].len && m[0].body[pos] != 0)
	{
		const char *v = (const char *) m[0].body + pos + 1;

		if (m[0].body[pos] == (uint8_t) code)
			return v;
		pos += 1 + (uint32_t) strlen(v) + 1;
	}
	return NULL;
}

/* The M field of the reply in msg as ps_reply_rename() gives it to the
 * client (it must change). */
static const char *
renamed_message(const struct ps_server *sv)
{
	struct proto_buf e;			/* a copy, as the relay's buffer would be */
	bool		ok;

	proto_buf_init(&e);
	proto_put_bytes(&e, msg.data, msg.len);
	ok = ps_reply_rename(sv, e.data, (uint32_t) e.len, &out);
	proto_buf_free(&e);
	ck_assert(ok);
	return out_field('M');
}

START_TEST(test_rename_in_reply)
{
	/* message and detail, twice in one field, lengths changing both ways */
	mk_error(PQMSG_ErrorResponse,
			 "bind message supplies 1 parameters, but prepared statement \"PGPLUMB_7\" requires 0",
			 "statement \"PGPLUMB_7\" and statement \"PGPLUMB_7\"");
	ck_assert(ps_rename_in_reply(msg.data, (uint32_t) msg.len, "PGPLUMB_7", "", &out));
	ck_assert_int_eq(out.data[0], PQMSG_ErrorResponse);
	ck_assert_str_eq(out_field('C'), "08P01");
	ck_assert_str_eq(out_field('M'),
					 "bind message supplies 1 parameters, but prepared statement \"\" requires 0");
	ck_assert_str_eq(out_field('D'), "statement \"\" and statement \"\"");
	ck_assert(ps_rename_in_reply(msg.data, (uint32_t) msg.len, "PGPLUMB_7",
								 "a_much_longer_client_name", &out));
	ck_assert_str_eq(out_field('D'),
					 "statement \"a_much_longer_client_name\" and statement \"a_much_longer_client_name\"");
	/* a notice too */
	mk_error(PQMSG_NoticeResponse, "prepared statement \"PGPLUMB_7\" does not exist", NULL);
	ck_assert(ps_rename_in_reply(msg.data, (uint32_t) msg.len, "PGPLUMB_7", "s1", &out));
	ck_assert_int_eq(out.data[0], PQMSG_NoticeResponse);
	ck_assert_str_eq(out_field('M'), "prepared statement \"s1\" does not exist");
	ck_assert_ptr_null(out_field('D'));
	/* not the name: a longer one, another prefix, no closing quote, a value */
	mk_error(PQMSG_ErrorResponse, "prepared statement \"PGPLUMB_77\" x \"PGPLUMB_7",
			 "invalid input syntax for type integer: \"PGPLUMB_7\"");
	ck_assert(!ps_rename_in_reply(msg.data, (uint32_t) msg.len, "PGPLUMB_7", "s1", &out));
	/* malformed: no terminator */
	mk_error(PQMSG_ErrorResponse, "prepared statement \"PGPLUMB_7\"", NULL);
	ck_assert(!ps_rename_in_reply(msg.data, (uint32_t) msg.len - 1, "PGPLUMB_7", "s1", &out));
}

END_TEST

/* Replies to which request get the client's name. */
START_TEST(test_reply_rename_follows_requests)
{
	struct ps_client *a = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	char		sname[32],
				err[128];

	/* Parse: an error names the client's statement */
	mk_parse("mine", "select 1", 0);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	snprintf(sname, sizeof(sname), "%s", str_at(&m[0], 0));
	ck_assert(ps_reply_renames(sv));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	/* Bind, then Execute: the Bind's reply is mapped, Execute's is not */
	mk_bind("", "mine");
	ck_assert_int_eq(send_msg(a, sv, 200), PS_REPLACED);
	mk_simple(PQMSG_Execute);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	ck_assert(ps_reply_renames(sv));
	snprintf(err, sizeof(err), "bind message supplies 1 parameters, but prepared statement \"%s\" requires 0", sname);
	mk_error(PQMSG_ErrorResponse, err, NULL);
	ck_assert_str_eq(renamed_message(sv),
					 "bind message supplies 1 parameters, but prepared statement \"mine\" requires 0");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	/* the Execute was skipped: only the Sync is left, and it maps nothing */
	ck_assert_uint_eq(ps_server_outstanding(sv), 1);
	ck_assert(!ps_reply_renames(sv));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* an unknown name in the pooler's namespace is sent as PGPLUMB_<it> */
	mk_bind("", sname);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	snprintf(err, sizeof(err), "%s%s", PS_NAME_PREFIX, sname);
	ck_assert_str_eq(str_at(&m[0], 1), err);
	ck_assert_uint_eq(m[0].len, 1 + strlen(err) + 1 + 12);
	snprintf(err, sizeof(err), "prepared statement \"%s%s\" does not exist", PS_NAME_PREFIX, sname);
	mk_error(PQMSG_ErrorResponse, err, NULL);
	snprintf(err, sizeof(err), "prepared statement \"%s\" does not exist", sname);
	ck_assert_str_eq(renamed_message(sv), err);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	/* Describe of one too; other unknown names pass as they are */
	mk_describe_close(PQMSG_Describe, 'S', "PGPLUMB_12");
	ck_assert_int_eq(send_msg(a, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].body[0], 'S');
	ck_assert_str_eq(str_at(&m[0], 0) + 1, PS_NAME_PREFIX "PGPLUMB_12");
	mk_describe_close(PQMSG_Describe, 'S', "PGPLUMB_x");
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	mk_bind("", "nosuch");
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(a, sv, 200), PS_PASS);
	ps_client_free(a);
	ps_server_free(sv);
}

END_TEST


/*
 * A Parse of a name the client has (issue 5): the probe statement is made
 * sure of, the client's text goes to the server under the probe's name (so
 * that the server parses it and then says 42P05), the error names the
 * client's statement, and the client keeps its old statement.
 */
START_TEST(test_duplicate_name)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	struct proto_buf err,
				got;
	char		old[32];
	uint32_t	len;

	proto_buf_init(&err);
	proto_buf_init(&got);
	mk_parse("a", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	snprintf(old, sizeof(old), "%s", (const char *) out.data + 5);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	mk_parse("a", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);	/* the probe, empty */
	ck_assert_str_eq(str_at(&m[0], 0), PS_NAME_PREFIX "0");
	ck_assert_str_eq(str_at(&m[0], 1), "");
	ck_assert_int_eq(m[1].type, PQMSG_Parse);	/* the client's text */
	ck_assert_str_eq(str_at(&m[1], 0), PS_NAME_PREFIX "0");
	ck_assert_str_eq(str_at(&m[1], 1), "select 2");
	/* the old statement is still the client's */
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "a", &len), "select 1");

	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert(ps_reply_renames(sv));
	proto_begin(&err, PQMSG_ErrorResponse);
	proto_put_string(&err, "C42P05");
	proto_put_string(&err, "Mprepared statement \"" PS_NAME_PREFIX "0\" already exists");
	proto_put_byte(&err, 0);
	proto_end(&err);
	ck_assert(ps_reply_rename(sv, err.data, (uint32_t) err.len, &got));
	ck_assert(memmem(got.data, got.len, "statement \"a\" already", 21) != NULL);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "a", &len), "select 1");

	/*
	 * the probe stays cached: the next duplicate sends the client's Parse
	 * only
	 */
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	mk_parse("a", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_str_eq(str_at(&m[0], 0), PS_NAME_PREFIX "0");

	/* without a server, a duplicate (or a text no server parsed) goes to one */
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_REPLACED);
	mk_parse("b", "select 3", 0);
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_REPLACED);
	/* the unnamed statement is replaced, not a duplicate */
	mk_parse("", "select 1", 0);
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_PASS);
	ck_assert_int_eq(ps_client_unlinked(cl, msg.data, (uint32_t) msg.len), PS_PASS);
	ps_client_free(cl);
	ps_server_free(sv);
	proto_buf_free(&err);
	proto_buf_free(&got);
}

END_TEST

/*
 * A Parse of a text the server has, where the transaction may have failed:
 * PostgreSQL says 25P02 unless the text ends the transaction, so a Parse of
 * a trivial unnamed statement (closed after) stands for it, not a portal
 * Close, which works in a failed transaction.
 */
START_TEST(test_skipped_parse_in_failed_transaction)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	uint32_t	len;

	mk_parse("a", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	mk_parse("e", "rollback", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	ps_server_set_status(sv, 'E');
	mk_parse("", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[0], 0), "");
	ck_assert_int_eq(m[1].type, PQMSG_Close);
	ck_assert_int_eq(m[1].body[0], 'S');
	ck_assert_str_eq((const char *) m[1].body + 1, "");
	/* refused: no unnamed statement afterwards, as in PostgreSQL */
	ck_assert(!ps_reply_is_special(sv, PQMSG_ErrorResponse));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert(ps_client_stmt_body(cl, "", &len) == NULL);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* a text that ends the transaction parses: the portal Close will do */
	mk_parse("", "rollback", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(m[0].body[0], 'P');
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_AS_PARSE_COMPLETE);

	/* accepted: ParseComplete forwarded, the Close's reply swallowed */
	ps_server_set_status(sv, 'T');
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);	/* outstanding: unknown */
	mk_parse("", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert(ps_reply_is_special(sv, PQMSG_CloseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_str_eq((const char *) ps_client_stmt_body(cl, "", &len), "select 1");
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/*
 * A statement evicted while its Parse is unanswered, then that Parse and
 * the eviction Close both lost to an error: the statement is not on the
 * server, so the cache must not get it back.
 */
START_TEST(test_evicted_pending_parse_lost)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];

	mk_parse("a", "selec 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	mk_parse("b", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 2);
	ck_assert_int_eq(m[0].type, PQMSG_Close);	/* "selec 1" evicted */
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	/* the first Parse fails: Close and the second Parse are skipped */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 0);

	/* the same with the first Parse answered: the skipped Close keeps it */
	mk_parse("c", "select 3", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	mk_parse("d", "select 4", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/* A simple query drops the client's unnamed statement, as PostgreSQL does. */
START_TEST(test_query_drops_unnamed)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	uint32_t	len;

	mk_parse("", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert(ps_client_stmt_body(cl, "", &len) != NULL);
	proto_buf_reset(&msg);
	proto_build_query(&msg, "select 2");
	ck_assert_int_eq(send_msg(cl, sv, 200), PS_PASS);
	ck_assert(ps_client_stmt_body(cl, "", &len) == NULL);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST


/*
 * Pipelined Sync segments (issue 5): a Parse the pooler sends for a
 * statement whose eviction Close is still unanswered goes after a Close of
 * it (the eviction Close may be skipped after an error, and the Parse alone
 * would then fail with 42P05); and a message starting a segment after one
 * that may still fail is told to wait (ps_server_unsettled).
 */
START_TEST(test_pipelined_segments)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	char		aname[32];

	mk_parse("a", "select 1", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	snprintf(aname, sizeof(aname), "%s", (const char *) out.data + 5);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	ck_assert(ps_server_unsettled(sv)); /* the Parse may fail: wait */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);

	/* segment 1: a failing Bind, then a Parse that evicts "select 1" */
	mk_bind("", "nosuch");
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	mk_parse("b", "select 2", 0);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);
	ck_assert(ps_server_unsettled(sv));

	/*
	 * segment 2 (sent anyway): a Bind of "a" needs it parsed again; segment 1
	 * may leave the transaction failed, so the server is first asked what a
	 * Bind of a 0-parameter statement is told (bind_probe)
	 */
	mk_bind("", "a");
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 8);
	ck_assert_int_eq(m[0].type, PQMSG_Close);	/* of the probe's statement */
	ck_assert_int_eq(m[1].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[1], 1), "");
	ck_assert_int_eq(m[2].type, PQMSG_Bind);
	ck_assert_str_eq(str_at(&m[2], 0), PS_NOP_PORTAL);
	ck_assert_int_eq(m[3].type, PQMSG_Close);	/* the probe's portal */
	ck_assert_int_eq(m[4].type, PQMSG_Close);	/* "select 2" evicted */
	ck_assert_int_eq(m[5].type, PQMSG_Close);	/* "select 1", may be there */
	ck_assert_str_eq((const char *) m[5].body + 1, aname);
	ck_assert_int_eq(m[6].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[6], 0), aname);
	ck_assert_int_eq(m[7].type, PQMSG_Bind);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(cl, sv, 1), PS_PASS);

	/* the Bind fails: the eviction Close and "b"'s Parse are skipped */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert(ps_server_unsettled(sv)); /* segment 2 has a Parse too */
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_BindComplete), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_cached(sv), 1);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);
	ck_assert(!ps_server_unsettled(sv));
	ps_client_free(cl);
	ps_server_free(sv);
}

END_TEST

/*
 * A failed transaction (issue 5): a Bind of a statement the server lacks is
 * first tried on an empty statement with the statement's parameter count,
 * counted from the text ($n outside literals and comments, at least the
 * declared ones), its errors naming the client's statement; a Describe of
 * one an earlier Describe found to return no rows is asked of an empty
 * statement with the parameter types learned then.
 */
START_TEST(test_failed_transaction_probes)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct ps_server *lacks = ps_server_new();
	struct ps_server *lacks2 = ps_server_new();
	struct wire_msg m[8];
	struct proto_buf err,
				renamed;
	static const uint8_t pdesc[] = {'t', 0, 0, 0, 14, 0, 2, 0, 0, 0, 23, 0, 0, 0, 25};

	proto_buf_init(&err);
	proto_buf_init(&renamed);
	mk_parse("s", "insert into t values ($2, '$8', E'\\'$9', \"$7\") -- $5\n/* $6 /* */ $4 */", 1);
	ck_assert_int_eq(send_msg(cl, sv, 10), PS_REPLACED);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	mk_describe_close(PQMSG_Describe, 'S', "s");
	ck_assert_int_eq(send_msg(cl, sv, 10), PS_REPLACED);
	ck_assert(ps_reply_is_special(sv, PQMSG_ParameterDescription));
	ps_server_param_desc(sv, pdesc, sizeof(pdesc));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParameterDescription), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_NoData), PS_REPLY_FORWARD);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);

	ps_server_set_status(lacks, 'E');
	mk_bind("", "s");
	ck_assert_int_eq(send_msg(cl, lacks, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 6);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_str_eq((const char *) m[0].body, "S" PS_NAME_PREFIX "00");
	ck_assert_int_eq(m[1].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[1], 0), PS_NAME_PREFIX "00");
	ck_assert_str_eq(str_at(&m[1], 1), "");
	ck_assert_uint_eq(m[1].len, sizeof(PS_NAME_PREFIX "00") + 1 + 2 + 2 * 4);
	ck_assert_uint_eq(proto_get_u16(m[1].body + m[1].len - 10), 2); /* $2 */
	ck_assert_uint_eq(proto_get_u32(m[1].body + m[1].len - 8), 25); /* text */
	ck_assert_int_eq(m[2].type, PQMSG_Bind);
	ck_assert_str_eq(str_at(&m[2], 0), PS_NOP_PORTAL);
	ck_assert_str_eq(str_at(&m[2], 1), PS_NAME_PREFIX "00");
	ck_assert_int_eq(m[3].type, PQMSG_Close);
	ck_assert_int_eq(m[4].type, PQMSG_Parse);
	ck_assert_int_eq(m[5].type, PQMSG_Bind);
	ck_assert_int_eq(ps_server_reply(lacks, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(lacks, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	proto_begin(&err, PQMSG_ErrorResponse);
	proto_put_byte(&err, 'M');
	proto_put_string(&err, "bind message supplies 1 parameters, but prepared statement \""
					 PS_NAME_PREFIX "00\" requires 2");
	proto_put_byte(&err, 0);
	proto_end(&err);
	ck_assert(ps_reply_renames(lacks));
	ck_assert(ps_reply_rename(lacks, err.data, (uint32_t) err.len, &renamed));
	ck_assert(memmem(renamed.data, renamed.len, "statement \"s\" requires", 22) != NULL);

	ps_server_set_status(lacks2, 'E');
	mk_describe_close(PQMSG_Describe, 'S', "s");
	ck_assert_int_eq(send_msg(cl, lacks2, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[0], 1), "");
	ck_assert_uint_eq(m[0].len, sizeof(pdesc) - 5 + 2);
	ck_assert(memcmp(m[0].body + 2, pdesc + 5, sizeof(pdesc) - 5) == 0);
	ck_assert_int_eq(m[1].type, PQMSG_Describe);
	ck_assert_str_eq((const char *) m[1].body, "S");
	ck_assert_int_eq(ps_server_reply(lacks2, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(lacks2, PQMSG_ParameterDescription), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(lacks2, PQMSG_NoData), PS_REPLY_FORWARD);
	ck_assert_int_eq(m[2].type, PQMSG_Close);
	ck_assert_int_eq(ps_server_reply(lacks2, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert_uint_eq(ps_server_cached(lacks2), 0); /* not prepared there */
	proto_buf_free(&err);
	proto_buf_free(&renamed);
	ps_client_free(cl);
	ps_server_free(sv);
	ps_server_free(lacks);
	ps_server_free(lacks2);
}

END_TEST

/* The rows probe's Close and Parse at m[i], m[i + 1] (after a server's
 * first Parse that a failed transaction refuses), and its replies
 * swallowed after the reply to the Parse before it. */
static void
rows_probe_sent(struct ps_server *sv, const struct wire_msg *m, int i)
{
	ck_assert_int_eq(m[i].type, PQMSG_Close);
	ck_assert_str_eq((const char *) m[i].body, "S" PS_NAME_PREFIX "000");
	ck_assert_int_eq(m[i + 1].type, PQMSG_Parse);
	ck_assert_str_eq(str_at(&m[i + 1], 0), PS_NAME_PREFIX "000");
	ck_assert_str_eq(str_at(&m[i + 1], 1), "SELECT");
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);
	ck_assert(ps_reply_is_special(sv, PQMSG_CloseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_SWALLOW);
	ck_assert(ps_reply_is_special(sv, PQMSG_ParseComplete));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_SWALLOW);
}

/*
 * The first Parse of a statement on any server is followed by a Describe of
 * it, whose replies are swallowed and teach the pooler the statement's
 * parameter types and that it returns no rows; a Describe of it in a failed
 * transaction on a server that lacks it is then answered from an empty
 * statement with those types.  A later Parse of the same text does not ask
 * again.
 */
START_TEST(test_learned_description)
{
	struct ps_client *cl = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct ps_server *lacks = ps_server_new();
	struct wire_msg m[8];
	static const uint8_t pdesc[] = {'t', 0, 0, 0, 10, 0, 1, 0, 0, 0, 23};

	ps_learn_descriptions = true;
	mk_parse("s", "insert into t values ($1)", 0);
	ck_assert_int_eq(send_msg(cl, sv, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 4);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_int_eq(m[3].type, PQMSG_Describe);
	ck_assert_str_eq((const char *) m[3].body + 1, str_at(&m[0], 0));
	rows_probe_sent(sv, m, 1);
	ck_assert(ps_reply_is_special(sv, PQMSG_ParameterDescription));
	ps_server_param_desc(sv, pdesc, sizeof(pdesc));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParameterDescription), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_NoData), PS_REPLY_SWALLOW);
	ck_assert_uint_eq(ps_server_outstanding(sv), 0);

	mk_parse("t", "insert into t values ($1)", 0);	/* the same text */
	ck_assert_int_eq(send_msg(cl, lacks, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3); /* not described again */
	rows_probe_sent(lacks, m, 1);

	ps_server_set_status(sv, 'E');
	mk_describe_close(PQMSG_Describe, 'S', "s");
	ck_assert_int_eq(send_msg(cl, sv, 10), PS_REPLACED);	/* it has it */
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParameterDescription), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_NoData), PS_REPLY_FORWARD);

	ps_server_forget_all(lacks);
	ps_server_set_status(lacks, 'E');
	ck_assert_int_eq(send_msg(cl, lacks, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert(memcmp(m[0].body + 2, pdesc + 5, sizeof(pdesc) - 5) == 0);
	ck_assert_int_eq(m[1].type, PQMSG_Describe);
	ck_assert_int_eq(m[2].type, PQMSG_Close);
	ps_client_free(cl);
	ps_server_free(sv);
	ps_server_free(lacks);
}

END_TEST

/*
 * Statements are per pool: the same text from clients of two pools (two
 * databases, or two users whose search_path differ) is two statements,
 * each described once after its first Parse, and a Describe in a failed
 * transaction answers each from its own pool's description.
 */
START_TEST(test_scoped_statements)
{
	struct ps_client *a = ps_client_new(ps_scope("db1", "u", 7, NULL));
	struct ps_client *b = ps_client_new(ps_scope("db2", "u", 7, NULL));
	struct ps_server *sa = ps_server_new();
	struct ps_server *sb = ps_server_new();
	struct ps_server *la = ps_server_new();
	struct ps_server *lb = ps_server_new();
	struct wire_msg m[8];
	char		name_a[32];
	static const uint8_t pd_int[] = {'t', 0, 0, 0, 10, 0, 1, 0, 0, 0, 23};
	static const uint8_t pd_text[] = {'t', 0, 0, 0, 10, 0, 1, 0, 0, 0, 25};

	ck_assert_uint_ne(ps_scope("db1", "u", 7, NULL), ps_scope("db2", "u", 7, NULL));
	ck_assert_uint_ne(ps_scope("db1", "u", 7, NULL), ps_scope("db1", "v", 7, NULL));
	ck_assert_uint_ne(ps_scope("db1", "u", 7, NULL), ps_scope("db1", "u", 8, NULL));
	ck_assert_uint_eq(ps_scope("db1", "u", 7, NULL), ps_scope("db1", "u", 7, NULL));
	/* a client's own search_path is part of it */
	ck_assert_uint_ne(ps_scope("db1", "u", 7, NULL), ps_scope("db1", "u", 7, "s, public"));
	ck_assert_uint_ne(ps_scope("db1", "u", 7, "a"), ps_scope("db1", "u", 7, "b"));
	ck_assert_uint_eq(ps_scope("db1", "u", 7, "a"), ps_scope("db1", "u", 7, "a"));
	ps_learn_descriptions = true;
	mk_parse("s", "insert into t values ($1)", 0);
	ck_assert_int_eq(send_msg(a, sa, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 4); /* Parse, rows probe, Describe */
	snprintf(name_a, sizeof(name_a), "%s", str_at(&m[0], 0));
	rows_probe_sent(sa, m, 1);
	ps_server_param_desc(sa, pd_int, sizeof(pd_int));
	ck_assert_int_eq(ps_server_reply(sa, PQMSG_ParameterDescription), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sa, PQMSG_NoData), PS_REPLY_SWALLOW);
	ck_assert_uint_eq(ps_stats.stmts, 1);

	/* the other pool: a statement of its own, described again */
	ck_assert_int_eq(send_msg(b, sb, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 4);
	ck_assert_str_ne(str_at(&m[0], 0), name_a);
	ck_assert_int_eq(m[3].type, PQMSG_Describe);
	rows_probe_sent(sb, m, 1);
	ps_server_param_desc(sb, pd_text, sizeof(pd_text));
	ck_assert_int_eq(ps_server_reply(sb, PQMSG_ParameterDescription), PS_REPLY_SWALLOW);
	ck_assert_int_eq(ps_server_reply(sb, PQMSG_NoData), PS_REPLY_SWALLOW);
	ck_assert_uint_eq(ps_stats.stmts, 2);

	/* failed transactions on servers that lack them: each its own types */
	ps_server_set_status(la, 'E');
	ps_server_set_status(lb, 'E');
	mk_describe_close(PQMSG_Describe, 'S', "s");
	ck_assert_int_eq(send_msg(a, la, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert(memcmp(m[0].body + 2, pd_int + 5, sizeof(pd_int) - 5) == 0);
	ck_assert_int_eq(send_msg(b, lb, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 3);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert(memcmp(m[0].body + 2, pd_text + 5, sizeof(pd_text) - 5) == 0);

	/* freed with the last connection of each pool */
	ps_client_free(a);
	ps_server_free(sa);
	ps_server_free(la);
	ck_assert_uint_eq(ps_stats.stmts, 1);
	ps_client_free(b);
	ps_server_free(sb);
	ps_server_free(lb);
}

END_TEST

/*
 * A statement made before DDL (ps_schema_changed) or found stale (0A000 from
 * RevalidateCachedQuery) is not found by a later Parse of its text: that
 * one is a new statement, parsed on the server under a new name, while the
 * client that has the old one keeps it.
 */
START_TEST(test_stale_statements)
{
	struct ps_client *a = ps_client_new(0);
	struct ps_client *b = ps_client_new(0);
	struct ps_server *sv = ps_server_new();
	struct wire_msg m[8];
	char		first[32],
				second[32];
	static const uint8_t err[] = {
		'E', 0, 0, 0, 35, 'C', '0', 'A', '0', '0', '0', 0,
		'R', 'R', 'e', 'v', 'a', 'l', 'i', 'd', 'a', 't', 'e', 'C', 'a', 'c', 'h', 'e', 'd',
	'Q', 'u', 'e', 'r', 'y', 0, 0};

	mk_parse("s", "select v from t", 0);
	ck_assert_int_eq(send_msg(a, sv, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	snprintf(first, sizeof(first), "%s", str_at(&m[0], 0));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	/* the same text again: the same statement, nothing parsed */
	ck_assert_int_eq(send_msg(b, sv, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Close);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_CloseComplete), PS_REPLY_AS_PARSE_COMPLETE);

	/* after DDL: a new statement */
	ps_schema_changed();
	mk_parse("s2", "select v from t", 0);
	ck_assert_int_eq(send_msg(b, sv, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	snprintf(second, sizeof(second), "%s", str_at(&m[0], 0));
	ck_assert_str_ne(first, second);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ParseComplete), PS_REPLY_FORWARD);

	/* 0A000 to a Bind of it: stale, the next Parse makes another one */
	mk_bind("", "s2");
	ck_assert_int_eq(send_msg(b, sv, 10), PS_REPLACED);
	mk_simple(PQMSG_Sync);
	ck_assert_int_eq(send_msg(b, sv, 10), PS_PASS);
	ck_assert(err[4] == sizeof(err) - 1);
	ck_assert(ps_reply_renames(sv));
	ps_reply_error(sv, err, sizeof(err));
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ErrorResponse), PS_REPLY_FORWARD);
	ck_assert_int_eq(ps_server_reply(sv, PQMSG_ReadyForQuery), PS_REPLY_FORWARD);
	mk_parse("s3", "select v from t", 0);
	ck_assert_int_eq(send_msg(a, sv, 10), PS_REPLACED);
	ck_assert_int_eq(split(&out, m, 8), 1);
	ck_assert_int_eq(m[0].type, PQMSG_Parse);
	ck_assert_str_ne(str_at(&m[0], 0), first);
	ck_assert_str_ne(str_at(&m[0], 0), second);

	ps_client_free(a);
	ps_client_free(b);
	ps_server_free(sv);
}

END_TEST

static Suite *
prepare_suite(void)
{
	Suite	   *s = suite_create("prepare");
	TCase	   *tc = tcase_create("statements");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_named_parse_and_share);
	tcase_add_test(tc, test_bind_on_other_server_prepares_first);
	tcase_add_test(tc, test_describe_statement);
	tcase_add_test(tc, test_close_keeps_server_statement);
	tcase_add_test(tc, test_unnamed_reuse);
	tcase_add_test(tc, test_unnamed_reparse_unlinked);
	tcase_add_test(tc, test_failed_transaction_probes);
	tcase_add_test(tc, test_learned_description);
	tcase_add_test(tc, test_scoped_statements);
	tcase_add_test(tc, test_stale_statements);
	tcase_add_test(tc, test_lru_eviction);
	tcase_add_test(tc, test_error_skips_to_sync);
	tcase_add_test(tc, test_error_undoes_names);
	tcase_add_test(tc, test_server_freed_after_answers);
	tcase_add_test(tc, test_ignored_eviction_keeps_statement);
	tcase_add_test(tc, test_evicted_in_flight_stays_evicted);
	tcase_add_test(tc, test_simple_query_then_pipeline);
	tcase_add_test(tc, test_simple_and_injected_queries);
	tcase_add_test(tc, test_deallocate_parsing);
	tcase_add_test(tc, test_deallocate_simple_query);
	tcase_add_test(tc, test_deallocate_extended);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_many_statements_and_pipeline);
	tcase_add_test(tc, test_rename_in_reply);
	tcase_add_test(tc, test_reply_rename_follows_requests);
	tcase_add_test(tc, test_duplicate_name);
	tcase_add_test(tc, test_skipped_parse_in_failed_transaction);
	tcase_add_test(tc, test_evicted_pending_parse_lost);
	tcase_add_test(tc, test_query_drops_unnamed);
	tcase_add_test(tc, test_pipelined_segments);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(prepare_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
