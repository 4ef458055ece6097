/*
 * check_proto.c -- unit tests for the pooler's client-side protocol
 * handling (client.c) without PostgreSQL: a client connection is one end of
 * a socketpair handed to client_accept(); the test speaks the v3 protocol
 * on the other end and runs the event loop until the pooler answers.
 * Covered: SSLRequest refusal, admin-console login and welcome, protocol
 * version checks, NegotiateProtocolVersion, unknown database, missing user,
 * unsupported parameters, oversized and malformed packets, CancelRequest.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "client.h"
#include "objects.h"

static struct event_base *base;
static char ini_path[64];

static void
setup(void)
{
	FILE	   *f;
	char		err[CFG_ERRBUF_SIZE];

	snprintf(ini_path, sizeof(ini_path), "/tmp/check_proto.%d.ini", (int) getpid());
	f = fopen(ini_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[databases]\nappdb = host=127.0.0.1 port=1 dbname=app\n"
		  "[pgbouncer]\nlisten_addr = 127.0.0.1\nunix_socket_dir =\nauth_type = trust\n"
		  "admin_users = admin\nmax_packet_size = 10000\n", f);
	fclose(f);
	ck_assert_int_eq(cfg_load(ini_path, &cfg, err, sizeof(err)), 0);
	unlink(ini_path);			/* loaded: nothing is left behind even if a
								 * check fails */
	base = event_base_new();
	objects_init(base);
	sbuf_global_init(base, 0, false);
}

static void
teardown(void)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &login_client_list)
		disconnect_client(list_entry(n, struct client, node), NULL, "test done");
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct list_node *m,
				   *u;

		list_for_each_safe(m, u, &p->active_client_list)
			disconnect_client(list_entry(m, struct client, node), NULL, "test done");
	}
	objects_cleanup();
	sbuf_global_cleanup();
	event_base_free(base);
	cfg_free(cfg);
	cfg = NULL;
	unlink(ini_path);
}

/* A new client connection; returns the test's end. */
static int
connect_client(void)
{
	int			sp[2];
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	client_accept(sp[1], (struct sockaddr *) &un, sizeof(un), true);
	return sp[0];
}

/* Send bytes, run the loop, collect the reply (until EOF or quiet). */
static size_t
exchange(int fd, const void *data, size_t len, uint8_t *out, size_t cap, bool *eof)
{
	size_t		got = 0;

	if (len)
		ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
	*eof = false;
	for (int i = 0; i < 200; i++)
	{
		ssize_t		n;

		event_base_loop(base, EVLOOP_NONBLOCK);
		objects_free_closed();
		while ((n = read(fd, out + got, cap - got)) > 0)
			got += (size_t) n;
		if (n == 0)
		{
			*eof = true;
			break;
		}
		if (got > 0 && i > 20)
			break;
	}
	return got;
}

static size_t
startup_pkt(uint8_t *buf, uint32_t version, const char *const *kv, int npairs)
{
	struct proto_buf b;
	size_t		n;

	proto_buf_init(&b);
	proto_begin_startup(&b);
	proto_put_int32(&b, version);
	for (int i = 0; i < 2 * npairs; i++)
		proto_put_string(&b, kv[i]);
	proto_put_byte(&b, 0);
	proto_end(&b);
	memcpy(buf, b.data, b.len);
	n = b.len;
	proto_buf_free(&b);
	return n;
}

static void
types_of(const uint8_t *buf, size_t len, char *types, size_t cap)
{
	size_t		off = 0,
				nt = 0;

	while (off + 5 <= len && nt + 1 < cap)
	{
		types[nt++] = (char) buf[off];
		off += 1 + proto_get_u32(buf + off + 1);
	}
	types[nt] = '\0';
}

static const char *
sqlstate_of(const uint8_t *buf, size_t len)
{
	size_t		off = 0;

	while (off + 5 <= len)
	{
		uint32_t	l = proto_get_u32(buf + off + 1);

		if (buf[off] == 'E')
			return proto_error_field(buf + off + 5, l - 4, 'C');
		off += 1 + l;
	}
	return "none";
}

START_TEST(test_ssl_then_admin_login)
{
	uint8_t		pkt[512],
				out[8192];
	char		types[64];
	bool		eof;
	size_t		n;
	const char *kv[] = {"user", "admin", "database", "pgbouncer", "application_name", "t"};
	int			fd;

	setup();
	fd = connect_client();
	proto_put_u32(pkt, 8);
	proto_put_u32(pkt + 4, PROTO_SSL_CODE);
	n = exchange(fd, pkt, 8, out, sizeof(out), &eof);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(out[0], 'N');
	n = exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3, kv, 3), out, sizeof(out), &eof);
	ck_assert(!eof);
	types_of(out, n, types, sizeof(types));
	/* AuthenticationOk, 8 ParameterStatus, BackendKeyData, ReadyForQuery */
	ck_assert_str_eq(types, "RSSSSSSSSKZ");
	ck_assert_uint_eq(proto_get_u32(out + 5), 0);	/* AuthenticationOk */
	ck_assert_int_eq(out[n - 1], 'I');
	close(fd);
	teardown();
}

END_TEST

START_TEST(test_refusals)
{
	uint8_t		pkt[512],
				out[4096];
	bool		eof;
	size_t		n;
	int			fd;
	const char *nodb[] = {"user", "alice", "database", "nope"};
	const char *nouser[] = {"database", "appdb"};
	const char *badparam[] = {"user", "alice", "database", "appdb", "work_mem", "x"};
	const char *ok[] = {"user", "admin", "database", "pgbouncer"};

	setup();
	/* protocol 2.0 */
	fd = connect_client();
	n = exchange(fd, pkt, startup_pkt(pkt, 2u << 16, ok, 2), out, sizeof(out), &eof);
	ck_assert(eof);
	ck_assert_str_eq(sqlstate_of(out, n), "0A000");
	close(fd);
	/* unknown database */
	fd = connect_client();
	n = exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3, nodb, 2), out, sizeof(out), &eof);
	ck_assert(eof);
	ck_assert_str_eq(sqlstate_of(out, n), "3D000");
	close(fd);
	/* no user */
	fd = connect_client();
	n = exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3, nouser, 1), out, sizeof(out), &eof);
	ck_assert_str_eq(sqlstate_of(out, n), "28000");
	close(fd);
	/* unsupported startup parameter */
	fd = connect_client();
	n = exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3, badparam, 3), out, sizeof(out), &eof);
	ck_assert_str_eq(sqlstate_of(out, n), "08P01");
	close(fd);
	/* protocol 3.2: NegotiateProtocolVersion first, then a normal login */
	fd = connect_client();
	n = exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3 | 2, ok, 2), out, sizeof(out), &eof);
	ck_assert(!eof);
	ck_assert_int_eq(out[0], 'v');
	ck_assert_uint_eq(proto_get_u32(out + 5), 0);	/* newest minor we support */
	close(fd);
	teardown();
}

END_TEST

START_TEST(test_bad_packets_and_cancel)
{
	uint8_t		pkt[64],
				out[4096];
	bool		eof;
	size_t		n;
	int			fd;
	const char *ok[] = {"user", "admin", "database", "pgbouncer"};

	setup();
	/* startup length beyond 10000 */
	fd = connect_client();
	proto_put_u32(pkt, 20000);
	proto_put_u32(pkt + 4, PROTO_VERSION_3);
	n = exchange(fd, pkt, 8, out, sizeof(out), &eof);
	ck_assert(eof);
	ck_assert_str_eq(sqlstate_of(out, n), "08P01");
	close(fd);
	/* after login: a message over max_packet_size, then an impossible length */
	for (int round = 0; round < 2; round++)
	{
		fd = connect_client();
		(void) exchange(fd, pkt, startup_pkt(pkt, PROTO_VERSION_3, ok, 2), out, sizeof(out), &eof);
		pkt[0] = 'Q';
		proto_put_u32(pkt + 1, round == 0 ? 50000 : 3);
		n = exchange(fd, pkt, 5, out, sizeof(out), &eof);
		ck_assert(eof);
		ck_assert_str_eq(sqlstate_of(out, n), "08P01");
		close(fd);
	}
	/* CancelRequest with an unknown key: connection closed without a reply */
	fd = connect_client();
	proto_put_u32(pkt, 16);
	proto_put_u32(pkt + 4, PROTO_CANCEL_CODE);
	proto_put_u32(pkt + 8, 1);
	proto_put_u32(pkt + 12, 2);
	n = exchange(fd, pkt, 16, out, sizeof(out), &eof);
	ck_assert(eof);
	ck_assert_uint_eq(n, 0);
	close(fd);
	ck_assert_int_eq(login_client_list.count, 0);
	teardown();
}

END_TEST

static Suite *
proto_suite(void)
{
	Suite	   *s = suite_create("client_proto");
	TCase	   *tc = tcase_create("login");

	tcase_add_test(tc, test_ssl_then_admin_login);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_bad_packets_and_cancel);
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
