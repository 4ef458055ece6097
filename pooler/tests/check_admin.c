/*
 * check_admin.c -- unit tests for the admin console (admin.c) without a
 * network: a client object whose socket is one end of a socketpair runs
 * admin commands; the test reads the reply messages from the other end.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "cfg.h"
#include "objects.h"

static struct event_base *base;
static struct client *cl;
static int	peer;
static char ini_path[64];

static void
setup(void)
{
	FILE	   *f;
	int			sp[2];
	char		err[CFG_ERRBUF_SIZE];

	snprintf(ini_path, sizeof(ini_path), "/tmp/check_admin.%d.ini", (int) getpid());
	f = fopen(ini_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[databases]\nappdb = host=127.0.0.1 port=1 dbname=app pool_size=7\n"
		  "[pgbouncer]\nlisten_addr = 127.0.0.1\nunix_socket_dir =\nauth_type = trust\n"
		  "admin_users = admin\nstats_users = watcher\ndefault_pool_size = 3\n", f);
	fclose(f);
	ck_assert_int_eq(cfg_load(ini_path, &cfg, err, sizeof(err)), 0);
	unlink(ini_path);			/* loaded: nothing is left behind even if a
								 * check fails */
	base = event_base_new();
	objects_init(base);
	sbuf_global_init(base, 0, false);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	peer = sp[0];
	fcntl(peer, F_SETFL, O_NONBLOCK);
	cl = client_new();
	ck_assert_ptr_nonnull(cl);
	cl->addr_family = AF_UNIX;
	cl->is_admin = true;
	cl->admin_full = true;
	cl->pool = pool_get("pgbouncer", "admin", true);
	ck_assert_int_eq(sbuf_accept(&cl->sb, sp[1], true), 0);
	change_client_state(cl, CL_ACTIVE);
	/* a regular pool, so SHOW POOLS has something to list */
	ck_assert_ptr_nonnull(pool_get("appdb", "alice", false));
}

static void
teardown(void)
{
	disconnect_client(cl, NULL, "test done");
	objects_cleanup();
	sbuf_global_cleanup();
	event_base_free(base);
	close(peer);
	cfg_free(cfg);
	cfg = NULL;
	unlink(ini_path);
}

/* Run one command; return the reply bytes (type letters in *types). */
static size_t
run(const char *sql, uint8_t *out, size_t outcap, char *types, size_t tcap)
{
	size_t		len = strlen(sql) + 1,
				got = 0,
				off = 0,
				nt = 0;
	enum sbuf_ret r = admin_handle_query(cl, (const uint8_t *) sql, (uint32_t) len);
	ssize_t		n;

	ck_assert_int_eq(r, SBUF_SKIP);
	while ((n = read(peer, out + got, outcap - got)) > 0)
		got += (size_t) n;
	while (off + 5 <= got && nt + 1 < tcap)
	{
		types[nt++] = (char) out[off];
		off += 1 + proto_get_u32(out + off + 1);
	}
	types[nt] = '\0';
	ck_assert_uint_eq(off, got);	/* whole messages only */
	return got;
}

/* Text of the first DataRow column `col` whose first column equals key. */
static bool
find_value(const uint8_t *buf, size_t len, const char *key, int col, char *val, size_t vlen)
{
	size_t		off = 0;

	while (off + 5 <= len)
	{
		uint32_t	mlen = proto_get_u32(buf + off + 1);

		if (buf[off] == 'D')
		{
			const uint8_t *p = buf + off + 7;
			char		first[128] = "";

			for (int i = 0; i <= col; i++)
			{
				uint32_t	fl = proto_get_u32(p);
				char		tmp[256] = "";

				p += 4;
				if (fl != 0xffffffffu)
				{
					memcpy(tmp, p, fl < 255 ? fl : 255);
					p += fl;
				}
				if (i == 0)
					snprintf(first, sizeof(first), "%s", tmp);
				if (i == col && strcmp(first, key) == 0)
				{
					snprintf(val, vlen, "%s", tmp);
					return true;
				}
			}
		}
		off += 1 + mlen;
	}
	return false;
}

START_TEST(test_show_commands)
{
	uint8_t		buf[65536];
	char		types[256],
				val[64];
	size_t		n;

	setup();
	n = run("SHOW LISTS", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "TDDDDDDDDDDDDCZ");
	ck_assert(find_value(buf, n, "pools", 1, val, sizeof(val)));
	ck_assert_str_eq(val, "2");
	ck_assert(find_value(buf, n, "databases", 1, val, sizeof(val)));
	ck_assert_str_eq(val, "1");

	n = run("show pools;", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "TDDCZ");
	ck_assert(find_value(buf, n, "appdb", 15, val, sizeof(val)));
	ck_assert_str_eq(val, "session");

	n = run("SHOW DATABASES", buf, sizeof(buf), types, sizeof(types));
	ck_assert(find_value(buf, n, "appdb", 5, val, sizeof(val)));
	ck_assert_str_eq(val, "7"); /* per-database pool_size */

	n = run("SHOW CONFIG", buf, sizeof(buf), types, sizeof(types));
	ck_assert(find_value(buf, n, "default_pool_size", 1, val, sizeof(val)));
	ck_assert_str_eq(val, "3");
	ck_assert(find_value(buf, n, "admin_users", 1, val, sizeof(val)));
	ck_assert_str_eq(val, "admin");
	teardown();
}

END_TEST

START_TEST(test_errors_and_rights)
{
	uint8_t		buf[8192];
	char		types[64];
	size_t		n;

	setup();
	n = run("SHOW NOTHING", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "EZ");
	ck_assert_str_eq(proto_error_field(buf + 5, n - 5 - 6, 'C'), "42601");

	n = run("show pools extra words", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "EZ");

	n = run("", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "IZ");	/* empty query */

	n = run("KILL", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "EZ");	/* needs a database */
	n = run("KILL nosuchdb", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(proto_error_field(buf + 5, n - 5 - 6, 'C'), "3D000");

	/* a stats user may look but not control */
	cl->admin_full = false;
	n = run("PAUSE", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "EZ");
	ck_assert_str_eq(proto_error_field(buf + 5, n - 5 - 6, 'C'), "42501");
	n = run("SHOW VERSION", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "TDCZ");
	ck_assert(!pooler_paused);
	teardown();
}

END_TEST

START_TEST(test_pause_resume)
{
	uint8_t		buf[8192];
	char		types[64];

	setup();
	/* no servers anywhere: PAUSE is answered at once */
	run("PAUSE", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "CZ");
	ck_assert(pooler_paused);
	ck_assert(!cl->admin_wait);
	run("RESUME", buf, sizeof(buf), types, sizeof(types));
	ck_assert_str_eq(types, "CZ");
	ck_assert(!pooler_paused);
	teardown();
}

END_TEST

static Suite *
admin_suite(void)
{
	Suite	   *s = suite_create("admin");
	TCase	   *tc = tcase_create("console");

	tcase_add_test(tc, test_show_commands);
	tcase_add_test(tc, test_errors_and_rights);
	tcase_add_test(tc, test_pause_resume);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(admin_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
