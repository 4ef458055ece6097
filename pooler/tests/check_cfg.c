/*
 * check_cfg.c -- unit tests of cfg.c: value syntax, sections, [databases]
 * and [users] entries, warnings and errors with file:line, reload, SHOW
 * CONFIG rows, %include, and the README settings reference.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cfg.h"

static char tmpdir[] = "/tmp/check_cfg.XXXXXX";
static char warnings[8192];

static void
capture_warning(void *arg, const char *msg)
{
	(void) arg;
	strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
	strcat(warnings, "\n");
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	warnings[0] = '\0';
	cfg_set_log_hook(capture_warning, NULL);
}

static void
teardown(void)
{
	char		cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/check_cfg.XXXXXX");
	cfg_set_log_hook(NULL, NULL);
}

/* Write `text` to tmpdir/name; return the path (static buffer per call slot). */
static const char *
write_file(const char *name, const char *text)
{
	static char paths[4][512];
	static int	slot;
	char	   *p = paths[slot++ % 4];
	FILE	   *f;

	snprintf(p, 512, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static struct cfg *
load_ok(const char *text)
{
	struct cfg *c = NULL;
	char		err[CFG_ERRBUF_SIZE];
	const char *path = write_file("p.ini", text);
	int			rc = cfg_load(path, &c, err, sizeof err);

	ck_assert_msg(rc == 0, "cfg_load failed: %s", err);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void
load_fail(const char *text, const char *expect1, const char *expect2)
{
	struct cfg *c = NULL;
	char		err[CFG_ERRBUF_SIZE];
	const char *path = write_file("bad.ini", text);

	ck_assert_int_eq(cfg_load(path, &c, err, sizeof err), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, expect1) != NULL, "error \"%s\" lacks \"%s\"", err, expect1);
	if (expect2)
		ck_assert_msg(strstr(err, expect2) != NULL, "error \"%s\" lacks \"%s\"", err, expect2);
}

START_TEST(test_defaults)
{
	struct cfg *c = load_ok("[pgbouncer]\nlisten_port = 7000\n");

	ck_assert_int_eq(c->listen_port, 7000);
	ck_assert_int_eq(c->default_pool_size, 20);
	ck_assert_int_eq(c->max_client_conn, 100);
	ck_assert_int_eq(c->pool_mode, CFG_POOL_SESSION);
	ck_assert_int_eq(c->auth_type, CFG_AUTH_MD5);
	ck_assert_str_eq(c->server_reset_query, "DISCARD ALL");
	ck_assert_str_eq(c->unix_socket_dir, "/tmp");
	ck_assert_str_eq(c->listen_addr, "");
	ck_assert(c->query_wait_timeout == 120 * 1000000LL);
	ck_assert(c->server_idle_timeout == 600 * 1000000LL);
	ck_assert(c->server_lifetime == 3600 * 1000000LL);
	ck_assert(c->reserve_pool_timeout == 5 * 1000000LL);
	ck_assert(c->query_timeout == 0);
	ck_assert(c->log_connections);
	ck_assert_int_eq(c->unix_socket_mode, 0777);
	ck_assert_uint_eq(c->n_databases, 0);
	ck_assert_ptr_null(c->fallback_db);
	ck_assert_ptr_null(cfg_find_database(c, "x"));
	/* md5 without auth_file: allowed, but warned about */
	ck_assert_ptr_nonnull(strstr(warnings, "without auth_file"));
	cfg_free(c);
}

END_TEST

START_TEST(test_time_syntax)
{
	int64_t		v;

	ck_assert_int_eq(cfg_parse_time("15", &v), 0);
	ck_assert(v == 15000000);
	ck_assert_int_eq(cfg_parse_time("0.5", &v), 0);
	ck_assert(v == 500000);
	ck_assert_int_eq(cfg_parse_time("250ms", &v), 0);
	ck_assert(v == 250000);
	ck_assert_int_eq(cfg_parse_time("250 ms", &v), 0);
	ck_assert(v == 250000);
	ck_assert_int_eq(cfg_parse_time("2min", &v), 0);
	ck_assert(v == 120000000);
	ck_assert_int_eq(cfg_parse_time("1h", &v), 0);
	ck_assert(v == 3600000000LL);
	ck_assert_int_eq(cfg_parse_time("3s", &v), 0);
	ck_assert(v == 3000000);
	ck_assert_int_eq(cfg_parse_time("100us", &v), 0);
	ck_assert(v == 100);
	ck_assert_int_eq(cfg_parse_time("0", &v), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(cfg_parse_time("abc", &v), -1);
	ck_assert_int_eq(cfg_parse_time("-1", &v), -1);
	ck_assert_int_eq(cfg_parse_time("5 parsecs", &v), -1);
	ck_assert_int_eq(cfg_parse_time("", &v), -1);
	ck_assert_int_eq(cfg_parse_time("1e30", &v), -1);
}

END_TEST

START_TEST(test_values_and_sections)
{
	struct cfg *c = load_ok(
							"; a PgBouncer-style file\n"
							"[pgplumb]\n"
							"LISTEN_ADDR = 127.0.0.1\n"
							"pool_mode = Transaction\n"
							"auth_type = scram-sha-256\n"
							"auth_file = /etc/userlist.txt\n"
							"server_reset_query_always = yes\n"
							"log_connections = off\n"
							"query_timeout = 1.5\n"
							"client_idle_timeout = 300ms\n"
							"unix_socket_mode = 0700\n"
							"admin_users = admin, root\n"
							"  default_pool_size = 7\n" /* indented: an ordinary
														 * line */
							"default_pool_size = 8 ; inline comment\n"
							"# comment\n");

	ck_assert_str_eq(c->listen_addr, "127.0.0.1");
	ck_assert_int_eq(c->pool_mode, CFG_POOL_TRANSACTION);
	ck_assert_int_eq(c->auth_type, CFG_AUTH_SCRAM);
	ck_assert_str_eq(c->auth_file, "/etc/userlist.txt");
	ck_assert(c->server_reset_query_always);
	ck_assert(!c->log_connections);
	ck_assert(c->query_timeout == 1500000);
	ck_assert(c->client_idle_timeout == 300000);
	ck_assert_int_eq(c->unix_socket_mode, 0700);
	ck_assert_int_eq(c->default_pool_size, 8);
	ck_assert(cfg_list_contains(c->admin_users, "root"));
	ck_assert(cfg_list_contains(c->admin_users, "admin"));
	ck_assert(!cfg_list_contains(c->admin_users, "adm"));
	ck_assert_str_eq(warnings, "");
	cfg_free(c);
}

END_TEST

START_TEST(test_databases_and_users)
{
	struct cfg *c = load_ok(
							"[databases]\n"
							"app = host=127.0.0.1 port=5433 dbname=appdb user=appuser password='s3 cr\\'et' pool_size=5 pool_mode=statement\n"
							"sock = host=/var/run/postgresql min_pool_size=2 reserve_pool=3 max_db_connections=9 client_encoding=UTF8 application_name=x\n"
							"alias=dbname=real reserve_pool_size=4 server_lifetime=10min\n"
							"* = host=localhost\n"
							"[users]\n"
							"bob = pool_mode=transaction max_user_connections=3\n"
							"[pgbouncer]\n"
							"default_pool_size = 11\n"
							"min_pool_size = 1\n"
							"reserve_pool_size = 2\n"
							"auth_type = trust\n");
	const struct cfg_database *d;
	const struct cfg_user *u;

	ck_assert_uint_eq(c->n_databases, 3);
	d = cfg_find_database(c, "app");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->host, "127.0.0.1");
	ck_assert_int_eq(d->port, 5433);
	ck_assert_str_eq(d->dbname, "appdb");
	ck_assert_str_eq(d->user, "appuser");
	ck_assert_str_eq(d->password, "s3 cr'et");
	ck_assert_int_eq(d->line, 2);
	ck_assert_int_eq(cfg_pool_size_for(c, d, NULL), 5);
	ck_assert_int_eq(cfg_pool_mode_for(c, d, NULL), CFG_POOL_STATEMENT);
	ck_assert_int_eq(cfg_min_pool_size_for(c, d), 1);
	ck_assert_int_eq(cfg_reserve_pool_for(c, d, NULL), 2);

	d = cfg_find_database(c, "sock");
	ck_assert_str_eq(d->host, "/var/run/postgresql");
	ck_assert_int_eq(d->port, 5432);
	ck_assert_ptr_null(d->dbname);
	ck_assert_ptr_null(d->password);
	ck_assert_int_eq(cfg_pool_size_for(c, d, NULL), 11);
	ck_assert_int_eq(cfg_min_pool_size_for(c, d), 2);
	ck_assert_int_eq(cfg_reserve_pool_for(c, d, NULL), 3);
	ck_assert_int_eq(cfg_max_db_connections_for(c, d), 9);
	ck_assert_str_eq(d->client_encoding, "UTF8");
	ck_assert_str_eq(d->application_name, "x");

	d = cfg_find_database(c, "alias");
	ck_assert_str_eq(d->dbname, "real");
	ck_assert_int_eq(d->reserve_pool, 4);
	ck_assert(cfg_server_lifetime_for(c, d) == 600000000LL);

	/* "*" fallback */
	d = cfg_find_database(c, "whatever");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_eq(d, c->fallback_db);
	ck_assert_str_eq(d->name, "*");
	ck_assert_str_eq(d->host, "localhost");
	ck_assert_ptr_null(d->dbname);
	ck_assert(cfg_server_lifetime_for(c, d) == 3600000000LL);

	u = cfg_find_user(c, "bob");
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(cfg_pool_mode_for(c, cfg_find_database(c, "app"), u), CFG_POOL_TRANSACTION);
	ck_assert_int_eq(cfg_max_user_connections_for(c, u), 3);
	ck_assert_ptr_null(cfg_find_user(c, "alice"));
	ck_assert_int_eq(cfg_pool_mode_for(c, NULL, NULL), CFG_POOL_SESSION);
	cfg_free(c);
}

END_TEST

/* insert_batching and insert_batch_max_rows per [databases] entry. */
START_TEST(test_database_batching_overrides)
{
	struct cfg *c = load_ok(
							"[databases]\n"
							"off = host=127.0.0.1 insert_batching=off\n"
							"on = host=127.0.0.1 insert_batching=on insert_batch_max_rows=50 insert_batch_max_bytes=4096 insert_batch_stream_rows=0\n"
							"plain = host=127.0.0.1\n"
							"[pgbouncer]\n"
							"insert_batching = on\n"
							"insert_batch_max_rows = 200\n"
							"insert_batch_max_bytes = 65536\n"
							"insert_batch_stream_rows = 25\n"
							"auth_type = trust\n");

	ck_assert(!cfg_insert_batching_for(c, cfg_find_database(c, "off")));
	ck_assert_int_eq(cfg_insert_batch_max_rows_for(c, cfg_find_database(c, "off")), 200);
	ck_assert(cfg_insert_batching_for(c, cfg_find_database(c, "on")));
	ck_assert_int_eq(cfg_insert_batch_max_rows_for(c, cfg_find_database(c, "on")), 50);
	ck_assert(cfg_insert_batching_for(c, cfg_find_database(c, "plain")));
	ck_assert_int_eq(cfg_insert_batch_max_rows_for(c, cfg_find_database(c, "plain")), 200);
	ck_assert_int_eq(cfg_insert_batch_max_bytes_for(c, cfg_find_database(c, "on")), 4096);
	ck_assert_int_eq(cfg_insert_batch_max_bytes_for(c, cfg_find_database(c, "off")), 65536);
	ck_assert_int_eq(cfg_insert_batch_max_bytes_for(c, NULL), 65536);
	/* 0 in [databases] turns streaming off for that entry */
	ck_assert_int_eq(cfg_insert_batch_stream_rows_for(c, cfg_find_database(c, "on")), 0);
	ck_assert_int_eq(cfg_insert_batch_stream_rows_for(c, cfg_find_database(c, "off")), 25);
	ck_assert(cfg_insert_batching_for(c, NULL));
	cfg_free(c);

	c = load_ok("[databases]\non = host=127.0.0.1 insert_batching=yes\n"
				"[pgbouncer]\nauth_type = trust\n");
	ck_assert(cfg_insert_batching_for(c, cfg_find_database(c, "on")));
	ck_assert(!cfg_insert_batching_for(c, NULL));
	cfg_free(c);

	/* insert_coalescing and insert_coalesce_delay per entry */
	c = load_ok("[databases]\n"
				"co = host=127.0.0.1 insert_coalescing=on insert_coalesce_delay=5ms\n"
				"noco = host=127.0.0.1 insert_coalescing=0\n"
				"plain = host=127.0.0.1\n"
				"[pgbouncer]\nauth_type = trust\ninsert_coalesce_delay = 0.002\n");
	ck_assert(cfg_insert_coalescing_for(c, cfg_find_database(c, "co")));
	ck_assert(!cfg_insert_coalescing_for(c, cfg_find_database(c, "noco")));
	ck_assert(!cfg_insert_coalescing_for(c, cfg_find_database(c, "plain")));
	ck_assert(!cfg_insert_coalescing_for(c, NULL));
	ck_assert_int_eq(cfg_insert_coalesce_delay_for(c, cfg_find_database(c, "co")), 5000);
	ck_assert_int_eq(cfg_insert_coalesce_delay_for(c, cfg_find_database(c, "plain")), 2000);
	cfg_free(c);
	c = load_ok("[databases]\nnoco = host=127.0.0.1 insert_coalescing=off\n"
				"[pgbouncer]\nauth_type = trust\ninsert_coalescing = 1\n");
	ck_assert(!cfg_insert_coalescing_for(c, cfg_find_database(c, "noco")));
	ck_assert(cfg_insert_coalescing_for(c, cfg_find_database(c, "other")));
	cfg_free(c);
	load_fail("[databases]\nco = host=127.0.0.1 insert_coalescing=maybe\n"
			  "[pgbouncer]\nauth_type = trust\n", "insert_coalescing", NULL);
	load_fail("[databases]\nco = host=127.0.0.1 insert_coalesce_delay=soon\n"
			  "[pgbouncer]\nauth_type = trust\n", "insert_coalesce_delay", NULL);

	/* the same lower bound as the main setting */
	load_fail("[databases]\nsmall = host=127.0.0.1 insert_batch_max_bytes=1000\n"
			  "[pgbouncer]\nauth_type = trust\n", "insert_batch_max_bytes", NULL);
}

END_TEST

/* A pgbouncer.ini using every setting issue 5 names loads unchanged, with no
 * warning at all. */
START_TEST(test_pgbouncer_ini_unchanged)
{
	struct cfg *c = load_ok(
							";; pgbouncer.ini as PgBouncer users write it\n"
							"[databases]\n"
							"appdb = host=10.0.0.5 port=5432 dbname=app user=app password=secret pool_size=30 pool_mode=transaction\n"
							"reporting = host=/var/run/postgresql dbname=app reserve_pool=2 max_db_connections=40\n"
							"* = host=10.0.0.5\n"
							"\n"
							"[users]\n"
							"etl = pool_mode=session max_user_connections=4\n"
							"\n"
							"[pgbouncer]\n"
							"logfile = /var/log/postgresql/pgbouncer.log\n"
							"pidfile = /var/run/postgresql/pgbouncer.pid\n"
							"listen_addr = *\n"
							"listen_port = 6432\n"
							"unix_socket_dir = /var/run/postgresql\n"
							"auth_type = md5\n"
							"auth_file = /etc/pgbouncer/userlist.txt\n"
							"admin_users = postgres\n"
							"stats_users = stats, monitor\n"
							"pool_mode = transaction\n"
							"server_reset_query = DISCARD ALL\n"
							"ignore_startup_parameters = extra_float_digits, options\n"
							"max_client_conn = 1000\n"
							"default_pool_size = 25\n"
							"min_pool_size = 5\n"
							"reserve_pool_size = 5\n"
							"reserve_pool_timeout = 3\n"
							"max_db_connections = 50\n"
							"max_user_connections = 50\n"
							"server_idle_timeout = 600\n"
							"server_lifetime = 3600\n"
							"server_connect_timeout = 15\n"
							"server_login_retry = 15\n"
							"query_timeout = 0\n"
							"query_wait_timeout = 120\n"
							"client_idle_timeout = 0\n"
							"client_login_timeout = 60\n"
							"idle_transaction_timeout = 0\n"
							"max_packet_size = 2147483647\n"
							"pkt_buf = 4096\n"
							"listen_backlog = 128\n"
							"log_connections = 1\n"
							"log_disconnections = 1\n"
							"log_pooler_errors = 1\n"
							"stats_period = 60\n"
							"verbose = 0\n");

	ck_assert_msg(warnings[0] == '\0', "unexpected warnings: %s", warnings);
	ck_assert_str_eq(c->listen_addr, "*");
	ck_assert_int_eq(c->max_client_conn, 1000);
	ck_assert(cfg_list_contains(c->stats_users, "monitor"));
	ck_assert(cfg_list_contains(c->ignore_startup_parameters, "extra_float_digits"));
	ck_assert(c->reserve_pool_timeout == 3000000);
	ck_assert_int_eq(cfg_pool_size_for(c, cfg_find_database(c, "appdb"), NULL), 30);
	ck_assert_int_eq(cfg_pool_mode_for(c, cfg_find_database(c, "appdb"), cfg_find_user(c, "etl")),
					 CFG_POOL_SESSION);
	ck_assert_str_eq(cfg_find_database(c, "anything")->host, "10.0.0.5");
	cfg_free(c);
}

END_TEST

START_TEST(test_unknown_setting_warns)
{
	struct cfg *c = load_ok("[pgbouncer]\nlisten_port = 6000\nno_such_setting = 1\n"
							"[databases]\nd = host=x frobnicate=2\n[weird]\na = b\n");
	char		expect[600];

	snprintf(expect, sizeof expect, "%s/p.ini:3: unknown setting \"no_such_setting\"", tmpdir);
	ck_assert_msg(strstr(warnings, expect) != NULL, "warnings: %s", warnings);
	snprintf(expect, sizeof expect, "%s/p.ini:5: database \"d\": unknown parameter \"frobnicate\"", tmpdir);
	ck_assert_msg(strstr(warnings, expect) != NULL, "warnings: %s", warnings);
	ck_assert_ptr_nonnull(strstr(warnings, "unknown section [weird]"));
	ck_assert_int_eq(c->listen_port, 6000);
	ck_assert_str_eq(cfg_find_database(c, "d")->host, "x");
	cfg_free(c);
}

END_TEST

START_TEST(test_invalid_values)
{
	char		expect[600];

	snprintf(expect, sizeof expect, "%s/bad.ini:3:", tmpdir);
	load_fail("[pgbouncer]\nlisten_port = 6000\npool_mode = sometimes\n", expect,
			  "invalid value \"sometimes\" for setting \"pool_mode\"");
	load_fail("[pgbouncer]\nlisten_port = 70000\n", "bad.ini:2:", "from 1 to 65535");
	load_fail("[pgbouncer]\ndefault_pool_size = ten\n", "default_pool_size", "integer");
	load_fail("[pgbouncer]\nquery_timeout = 5 parsecs\n", "query_timeout", "time");
	load_fail("[pgbouncer]\nlog_connections = maybe\n", "log_connections", "boolean");
	load_fail("[pgbouncer]\nauth_type = hba\n", "auth_type", "scram-sha-256");
	load_fail("[databases]\nd = host=x pool_size=lots\n", "bad.ini:2:", "database \"d\"");
	load_fail("[databases]\nd = host='x\n", "unterminated", NULL);
	load_fail("[users]\nu = pool_mode=none\n", "user \"u\"", "pool_mode");
	load_fail("[pgbouncer]\nthis line has no equals sign\n", "bad.ini:2:", "syntax error");
	load_fail("listen_port = 1\n", "outside of any section", NULL);
	load_fail("[pgbouncer]\nlisten_addr =\nunix_socket_dir =\n", "would not listen", NULL);
	/* settings that would silently weaken security if ignored */
	load_fail("[pgbouncer]\nclient_tls_sslmode = require\n", "bad.ini:2:",
			  "\"client_tls_sslmode = require\" is not supported");
	load_fail("[pgbouncer]\nserver_tls_sslmode = verify-full\n", "server_tls_sslmode", "TLS");
	load_fail("[pgbouncer]\nauth_hba_file = /etc/hba\n", "auth_hba_file", "hba");
}

END_TEST

START_TEST(test_refused_settings_at_safe_values)
{
	struct cfg *c = load_ok("[pgbouncer]\nclient_tls_sslmode = disable\nauth_hba_file =\n"
							"server_tls_sslmode = prefer\nauth_type = trust\n");

	ck_assert_ptr_null(strstr(warnings, "client_tls_sslmode"));
	ck_assert_ptr_nonnull(strstr(warnings, "\"server_tls_sslmode = prefer\" runs without TLS"));
	cfg_free(c);
}

END_TEST

START_TEST(test_auth_any_wants_forced_users)
{
	struct cfg *c = load_ok("[pgbouncer]\nauth_type = any\n[databases]\nforced = host=h user=app\n"
							"open = host=h\n");

	ck_assert_ptr_nonnull(strstr(warnings, "p.ini:5: auth_type = any, but database \"open\" has no user="));
	ck_assert_ptr_null(strstr(warnings, "\"forced\""));
	cfg_free(c);
}

END_TEST

START_TEST(test_password_never_in_errors)
{
	struct cfg *c = NULL;
	char		err[CFG_ERRBUF_SIZE];
	const char *path = write_file("pw.ini", "[databases]\nd = password='topsecret\n");

	ck_assert_int_eq(cfg_load(path, &c, err, sizeof err), -1);
	ck_assert_ptr_null(strstr(err, "topsecret"));
	path = write_file("pw2.ini", "[databases]\nd = password=topsecret port=x\n");
	ck_assert_int_eq(cfg_load(path, &c, err, sizeof err), -1);
	ck_assert_ptr_null(strstr(err, "topsecret"));
	ck_assert_ptr_null(strstr(warnings, "topsecret"));
}

END_TEST

START_TEST(test_missing_file_and_long_line)
{
	struct cfg *c = NULL;
	char		err[CFG_ERRBUF_SIZE];
	char		big[1200];

	ck_assert_int_eq(cfg_load("/nonexistent/x.ini", &c, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "could not open config file \"/nonexistent/x.ini\""));

	strcpy(big, "[pgbouncer]\nserver_check_query = select ");
	memset(big + strlen(big), 'x', sizeof big - 2 - strlen(big));
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	load_fail(big, "bad.ini:2:", "line too long");
}

END_TEST

START_TEST(test_include)
{
	struct cfg *c;

	write_file("inc.ini", "default_pool_size = 33\n[databases]\nincdb = host=h\n");
	c = load_ok("[pgbouncer]\nlisten_port = 6100\n%include inc.ini\n[pgbouncer]\nmax_client_conn = 500\n");
	ck_assert_int_eq(c->default_pool_size, 33);
	ck_assert_int_eq(c->max_client_conn, 500);
	ck_assert_ptr_nonnull(cfg_find_database(c, "incdb"));
	cfg_free(c);

	/* errors inside an included file name that file and its line */
	write_file("inc2.ini", "\npool_mode = nope\n");
	{
		char		expect[600];

		snprintf(expect, sizeof expect, "%s/inc2.ini:2:", tmpdir);
		load_fail("[pgbouncer]\n%include inc2.ini\n", expect, "pool_mode");
	}
	load_fail("[pgbouncer]\n%include missing.ini\n", "could not open included file", NULL);
	/* a file including itself stops at the depth limit */
	write_file("loop.ini", "%include loop.ini\n");
	load_fail("[pgbouncer]\n%include loop.ini\n", "nested too deeply", NULL);
}

END_TEST

START_TEST(test_reload)
{
	struct cfg *old,
			   *n = NULL;
	char		err[CFG_ERRBUF_SIZE];
	const char *path;

	old = load_ok("[pgbouncer]\nlisten_port = 6200\ndefault_pool_size = 5\n[databases]\na = host=x\n");
	path = write_file("p.ini", "[pgbouncer]\nlisten_port = 6300\ndefault_pool_size = 9\n"
					  "[databases]\na = host=y\nb = host=z\n");
	warnings[0] = '\0';
	ck_assert_int_eq(cfg_reload(old, path, &n, err, sizeof err), 0);
	ck_assert_int_eq(n->default_pool_size, 9);	/* reloadable: new value */
	ck_assert_int_eq(n->listen_port, 6200); /* not reloadable: old value kept */
	ck_assert_ptr_nonnull(strstr(warnings, "\"listen_port\" cannot be changed by a reload"));
	ck_assert_str_eq(cfg_find_database(n, "a")->host, "y");
	ck_assert_ptr_nonnull(cfg_find_database(n, "b"));
	/* the old struct is untouched */
	ck_assert_int_eq(old->default_pool_size, 5);
	ck_assert_str_eq(cfg_find_database(old, "a")->host, "x");

	/* an invalid file: error, *out untouched, old stays */
	path = write_file("p.ini", "[pgbouncer]\ndefault_pool_size = -3\n");
	{
		struct cfg *keep = n;

		ck_assert_int_eq(cfg_reload(n, path, &n, err, sizeof err), -1);
		ck_assert_ptr_eq(n, keep);
		ck_assert_ptr_nonnull(strstr(err, "default_pool_size"));
		ck_assert_int_eq(n->default_pool_size, 9);
	}
	cfg_free(old);
	cfg_free(n);
}

END_TEST

START_TEST(test_show_rows)
{
	struct cfg *c = load_ok("[pgbouncer]\ndefault_pool_size = 42\nquery_wait_timeout = 1.5\n"
							"pool_mode = transaction\n");
	struct cfg_show_row row;
	size_t		n = cfg_show_count();
	bool		saw_pool = false,
				saw_port = false,
				saw_qwt = false,
				saw_mode = false;
	char		prev[128] = "";

	ck_assert_uint_gt(n, 40);
	for (size_t i = 0; i < n; i++)
	{
		ck_assert(cfg_show_row(c, i, &row));
		/* the table is alphabetical, without duplicates */
		ck_assert_msg(strcmp(prev, row.key) < 0, "%s not after %s", row.key, prev);
		snprintf(prev, sizeof prev, "%s", row.key);
		if (strcmp(row.key, "default_pool_size") == 0)
		{
			saw_pool = true;
			ck_assert_str_eq(row.value, "42");
			ck_assert_str_eq(row.default_value, "20");
			ck_assert(row.changeable);
		}
		if (strcmp(row.key, "listen_port") == 0)
		{
			saw_port = true;
			ck_assert_str_eq(row.value, "6432");
			ck_assert(!row.changeable);
		}
		if (strcmp(row.key, "query_wait_timeout") == 0)
		{
			saw_qwt = true;
			ck_assert_str_eq(row.value, "1.5");
			ck_assert_str_eq(row.default_value, "120");
		}
		if (strcmp(row.key, "pool_mode") == 0)
		{
			saw_mode = true;
			ck_assert_str_eq(row.value, "transaction");
			ck_assert_str_eq(row.default_value, "session");
		}
	}
	ck_assert(!cfg_show_row(c, n, &row));
	ck_assert(saw_pool && saw_port && saw_qwt && saw_mode);
	cfg_free(c);
}

END_TEST

/* SHOW CONFIG values read back through the parser give the same config. */
START_TEST(test_show_roundtrip)
{
	struct cfg *c = load_ok("[pgbouncer]\nclient_idle_timeout = 2.25\nserver_lifetime = 90min\nquery_timeout = 250us\n"
							"unix_socket_mode = 0755\nauth_type = plain\nauth_file = /x\n");
	struct cfg *c2;
	struct cfg_show_row row;
	char text[	16384] = "[pgbouncer]\n";

	for (size_t i = 0; cfg_show_row(c, i, &row); i++)
	{
		char		line[600];

		snprintf(line, sizeof line, "%s = %s\n", row.key, row.value);
		strcat(text, line);
	}
	c2 = load_ok(text);
	ck_assert(c2->client_idle_timeout == 2250000);
	ck_assert(c2->query_timeout == 250);
	ck_assert(c2->server_lifetime == 5400LL * 1000000);
	ck_assert_int_eq(c2->unix_socket_mode, 0755);
	ck_assert_int_eq(c2->auth_type, CFG_AUTH_PLAIN);
	ck_assert_str_eq(c2->server_reset_query, "DISCARD ALL");
	cfg_free(c);
	cfg_free(c2);
}

END_TEST

/* Random files made of ini-ish characters: cfg_load either succeeds or
 * fails with a message, never crashes (fixed seed, bounded). */
START_TEST(test_random_files)
{
	static const char alphabet[] = "abcdefgpoolmode_sizetimeout= \t\n\n[]*;#%'\\0123456789.";
	unsigned int seed = 777;
	char text[	600];

	for (int round = 0; round < 300; round++)
	{
		struct cfg *c = NULL;
		char		err[CFG_ERRBUF_SIZE];
		size_t		len = (size_t) (rand_r(&seed) % (sizeof text -40));
		const char *path;
		int			rc;
		size_t		head;

		strcpy(text, round % 2 ? "[pgbouncer]\n" : "[databases]\n");
		head = strlen(text);
		for (size_t i = head; i < len; i++)
			text[		i] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];

		/* terminated before anything reads it (strlen past len read junk) */
		text[		len > head ? len : head] = '\0';

		path = write_file("rand.ini", text);
		err[0] = '\0';
		rc = cfg_load(path, &c, err, sizeof err);
		if (rc == 0)
		{
			ck_assert_ptr_nonnull(c);
			cfg_free(c);
		}
		else
		{
			ck_assert_int_eq(rc, -1);
			ck_assert_ptr_null(c);
			ck_assert_msg(err[0] != '\0', "no error message for a failed load");
		}
	}
}

END_TEST

/* README's settings reference must be exactly what cfg_describe_markdown()
 * prints (regenerate with `pgplumb-pooler --describe-config`). */
START_TEST(test_readme_reference)
{
	const char *cands[] = {"../README.md", "README.md", "../../README.md"};
	FILE	   *f = NULL;
	static char readme[1 << 20];
	size_t		n;
	char	   *b,
			   *e,
			   *gen = NULL;
	size_t		genlen = 0;
	FILE	   *mf;

	for (size_t i = 0; i < 3 && !f; i++)
		f = fopen(cands[i], "r");
	ck_assert_msg(f != NULL, "README.md not found from the test's directory");
	n = fread(readme, 1, sizeof readme - 1, f);
	fclose(f);
	readme[n] = '\0';
	b = strstr(readme, "<!-- settings-table:begin -->\n");
	e = strstr(readme, "<!-- settings-table:end -->");
	ck_assert_msg(b && e && e > b, "README lacks the settings-table markers");
	b += strlen("<!-- settings-table:begin -->\n");
	*e = '\0';
	mf = open_memstream(&gen, &genlen);
	cfg_describe_markdown(mf);
	fclose(mf);
	ck_assert_msg(strcmp(b, gen) == 0,
				  "README settings reference differs from the settings table; "
				  "regenerate it with pgplumb-pooler --describe-config");
	free(gen);
}

END_TEST

static Suite * cfg_suite(void)
{
	Suite	   *s = suite_create("cfg");
	TCase	   *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_time_syntax);
	tcase_add_test(tc, test_values_and_sections);
	tcase_add_test(tc, test_databases_and_users);
	tcase_add_test(tc, test_database_batching_overrides);
	tcase_add_test(tc, test_pgbouncer_ini_unchanged);
	tcase_add_test(tc, test_unknown_setting_warns);
	tcase_add_test(tc, test_invalid_values);
	tcase_add_test(tc, test_refused_settings_at_safe_values);
	tcase_add_test(tc, test_auth_any_wants_forced_users);
	tcase_add_test(tc, test_password_never_in_errors);
	tcase_add_test(tc, test_missing_file_and_long_line);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_show_rows);
	tcase_add_test(tc, test_show_roundtrip);
	tcase_add_test(tc, test_random_files);
	tcase_add_test(tc, test_readme_reference);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(cfg_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
