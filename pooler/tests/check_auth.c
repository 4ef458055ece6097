/*
 * check_auth.c -- unit tests of auth.c and userlist.c: md5 helpers against
 * known values, every auth_type against every kind of stored secret (the
 * pooler's server side driven by its own client side, message payload by
 * message payload), unknown users, SCRAM pass-through, malformed messages,
 * client-side failures, and the auth_file format.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../auth.h"
#include "../cfg.h"
#include "../scram.h"
#include "../userlist.h"

START_TEST(test_md5_helpers)
{
	char		s[36],
				r[36];
	static const unsigned char salt[4] = {1, 2, 3, 4};

	ck_assert_int_eq(auth_md5_secret("postgres", "secret", s), 0);
	ck_assert_str_eq(s, "md553f48b7c4b76a86ce72276c5755f217d");
	ck_assert_int_eq(auth_md5_response(s, salt, r), 0);
	ck_assert_str_eq(r, "md5bb41a296aab6baccb36ff243a562abff");
	ck_assert_int_eq(auth_md5_response("notmd5", salt, r), -1);
}

END_TEST

/* The pooler's own MD5 agrees with OpenSSL's for every length around the
 * block and padding boundaries (md5(password || user) is what
 * auth_md5_secret computes). */
START_TEST(test_md5_against_openssl)
{
	char		pw[300],
				user[8] = "u",
				s[36],
				want[33];
	unsigned char d[16];
	unsigned int dlen;

	for (int n = 0; n < 260; n++)
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		for (int i = 0; i < n; i++)
			pw[i] = (char) ('a' + (i * 7 + n) % 26);
		pw[n] = '\0';
		ck_assert_int_eq(auth_md5_secret(user, pw, s), 0);
		ck_assert(EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1);
		ck_assert(EVP_DigestUpdate(ctx, pw, (size_t) n) == 1);
		ck_assert(EVP_DigestUpdate(ctx, user, strlen(user)) == 1);
		ck_assert(EVP_DigestFinal_ex(ctx, d, &dlen) == 1);
		EVP_MD_CTX_free(ctx);
		for (int i = 0; i < 16; i++)
			snprintf(want + 2 * i, 3, "%02x", d[i]);
		ck_assert_msg(strcmp(s + 3, want) == 0, "length %d: %s vs %s", n, s + 3, want);
	}
}

END_TEST

/* Outcome of one login: what the server side said, and whether the client
 * side reached AuthenticationOk. */
struct outcome
{
	enum auth_status server;
	enum auth_status client;
	int			round_trips;
};

static struct outcome
login(struct auth_server *s, struct auth_client *c)
{
	struct auth_out so,
				co;
	struct outcome o = {AUTH_PROTOCOL_ERROR, AUTH_CONTINUE, 0};
	enum auth_status ss = auth_server_start(s, &so),
				cs;
	static const unsigned char ok[4] = {0, 0, 0, 0};

	while (ss == AUTH_CONTINUE && o.round_trips < 10)
	{
		o.round_trips++;
		cs = auth_client_step(c, so.data, so.len, &co);
		if (cs != AUTH_CONTINUE)
		{
			o.client = cs;
			o.server = AUTH_CONTINUE;
			return o;
		}
		ck_assert_uint_gt(co.len, 0);
		ss = auth_server_step(s, co.data, co.len, &so);
	}
	o.server = ss;
	if (ss != AUTH_OK)
		return o;
	if (so.len > 0)
	{
		cs = auth_client_step(c, so.data, so.len, &co);
		if (cs != AUTH_CONTINUE)
		{
			o.client = cs;
			return o;
		}
		ck_assert_uint_eq(co.len, 0);
	}
	o.client = auth_client_step(c, ok, sizeof ok, &co);
	return o;
}

static struct outcome
try_login_as(const char *user, int auth_type, const char *stored,
			 const char *client_pw)
{
	struct auth_server *s = auth_server_new(auth_type, user, stored, 4096);
	struct auth_client *c = auth_client_new(user, client_pw, NULL, NULL);
	struct outcome o;

	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(c);
	o = login(s, c);
	auth_server_free(s);
	auth_client_free(c);
	return o;
}

static struct outcome
try_login(int auth_type, const char *stored, const char *client_pw)
{
	return try_login_as("alice", auth_type, stored, client_pw);
}

static void
secrets_for(const char *pw, char md5[36], char scram[200])
{
	struct scram_secret sec;

	ck_assert_int_eq(auth_md5_secret("alice", pw, md5), 0);
	ck_assert_int_eq(scram_make_secret_random(pw, 4096, &sec), 0);
	ck_assert_int_eq(scram_format_secret(&sec, scram, 200), 0);
}

START_TEST(test_matrix)
{
	char		md5[36],
				scram[200];
	struct outcome o;
	const char *stored[3];

	secrets_for("pw1", md5, scram);
	stored[0] = "pw1";
	stored[1] = md5;
	stored[2] = scram;

	/* plain: every kind of secret works */
	for (int i = 0; i < 3; i++)
	{
		o = try_login(CFG_AUTH_PLAIN, stored[i], "pw1");
		ck_assert_msg(o.server == AUTH_OK && o.client == AUTH_OK, "plain secret %d", i);
		o = try_login(CFG_AUTH_PLAIN, stored[i], "pw2");
		ck_assert_int_eq(o.server, AUTH_FAIL);
	}
	/* md5: plain and md5 secrets; SCRAM secret upgrades to SCRAM */
	for (int i = 0; i < 3; i++)
	{
		o = try_login(CFG_AUTH_MD5, stored[i], "pw1");
		ck_assert_msg(o.server == AUTH_OK && o.client == AUTH_OK, "md5 secret %d", i);
		ck_assert_int_eq(o.round_trips, i == 2 ? 2 : 1);
		o = try_login(CFG_AUTH_MD5, stored[i], "wrong");
		ck_assert_int_eq(o.server, AUTH_FAIL);
	}
	/* scram: plain and SCRAM secrets; an md5 secret cannot serve SCRAM */
	o = try_login(CFG_AUTH_SCRAM, stored[0], "pw1");
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	o = try_login(CFG_AUTH_SCRAM, stored[2], "pw1");
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	o = try_login(CFG_AUTH_SCRAM, stored[1], "pw1");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	o = try_login(CFG_AUTH_SCRAM, stored[0], "pw2");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	o = try_login(CFG_AUTH_SCRAM, stored[2], "pw2");
	ck_assert_int_eq(o.server, AUTH_FAIL);

	/* unknown users: same exchange, then failure */
	o = try_login(CFG_AUTH_SCRAM, NULL, "pw1");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	ck_assert_int_eq(o.round_trips, 2);
	o = try_login(CFG_AUTH_MD5, NULL, "pw1");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	ck_assert_int_eq(o.round_trips, 1);
	o = try_login(CFG_AUTH_PLAIN, NULL, "pw1");
	ck_assert_int_eq(o.server, AUTH_FAIL);
}

END_TEST

/* md5 against plain auth_file passwords (the md5 secret derived from the
 * password is cached per user): a changed password takes effect at once, the
 * old one fails; many users sharing cache slots each get their own; a
 * password too long to be cached works too. */
START_TEST(test_md5_plain_cache)
{
	char		user[32],
				pw[32],
				longpw[400];
	struct outcome o;

	o = try_login_as("dave", CFG_AUTH_MD5, "old", "old");
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	o = try_login_as("dave", CFG_AUTH_MD5, "new", "old");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	o = try_login_as("dave", CFG_AUTH_MD5, "new", "new");
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	o = try_login_as("dave", CFG_AUTH_MD5, "old", "new");
	ck_assert_int_eq(o.server, AUTH_FAIL);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 200; i++)
		{
			snprintf(user, sizeof user, "user%d", i);
			snprintf(pw, sizeof pw, "pw%d", i);
			o = try_login_as(user, CFG_AUTH_MD5, pw, pw);
			ck_assert_msg(o.server == AUTH_OK && o.client == AUTH_OK, "user %d", i);
			/* the cached secret of this user's old password must not serve */
			o = try_login_as(user, CFG_AUTH_MD5, "other", pw);
			ck_assert_int_eq(o.server, AUTH_FAIL);
		}
	memset(longpw, 'x', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = '\0';
	for (int i = 0; i < 2; i++)
	{
		o = try_login_as("erin", CFG_AUTH_MD5, longpw, longpw);
		ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
		o = try_login_as("erin", CFG_AUTH_MD5, longpw, "x");
		ck_assert_int_eq(o.server, AUTH_FAIL);
	}
}

END_TEST

/* SCRAM against a plain auth_file password: the second login of the same
 * user reuses the cached PBKDF2 result (same salt) instead of paying it again. */
START_TEST(test_scram_plain_cached)
{
	struct auth_out o1,
				o2;
	struct auth_server *s1,
			   *s2;
	uint64_t	h0,
				m0,
				h1,
				m1;
	struct outcome o;

	scram_cache_clear();
	s1 = auth_server_new(CFG_AUTH_SCRAM, "carol", "pw9", 4096);
	s2 = auth_server_new(CFG_AUTH_SCRAM, "carol", "pw9", 4096);
	ck_assert_int_eq(auth_server_start(s1, &o1), AUTH_CONTINUE);
	scram_cache_stats(&h0, &m0);
	ck_assert_int_eq(auth_server_start(s2, &o2), AUTH_CONTINUE);
	scram_cache_stats(&h1, &m1);
	ck_assert(m1 == m0 && h1 == h0 + 1);
	auth_server_free(s1);
	auth_server_free(s2);
	/* and the login still works, and still refuses a wrong password */
	o = try_login(CFG_AUTH_SCRAM, "pw9", "pw9");
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	o = try_login(CFG_AUTH_SCRAM, "pw9", "pw8");
	ck_assert_int_eq(o.server, AUTH_FAIL);
}

END_TEST

START_TEST(test_trust_and_method_names)
{
	struct auth_out out;
	struct auth_server *s = auth_server_new(CFG_AUTH_TRUST, "bob", NULL, 4096);
	char		md5[36],
				scram[200];

	ck_assert_int_eq(auth_server_start(s, &out), AUTH_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_str_eq(auth_server_method(s), "trust");
	auth_server_free(s);
	s = auth_server_new(CFG_AUTH_ANY, "bob", "x", 4096);
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_OK);
	auth_server_free(s);

	secrets_for("pw", md5, scram);
	s = auth_server_new(CFG_AUTH_MD5, "alice", scram, 4096);
	ck_assert_str_eq(auth_server_method(s), "SCRAM-SHA-256");
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	/* AuthenticationSASL: code 10, "SCRAM-SHA-256\0\0" */
	ck_assert_uint_eq(out.len, 4 + 15);
	ck_assert_int_eq(out.data[3], 10);
	ck_assert_mem_eq(out.data + 4, "SCRAM-SHA-256\0\0", 15);
	auth_server_free(s);
	s = auth_server_new(CFG_AUTH_MD5, "alice", md5, 4096);
	ck_assert_str_eq(auth_server_method(s), "md5");
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	ck_assert_uint_eq(out.len, 8);
	ck_assert_int_eq(out.data[3], 5);
	auth_server_free(s);
}

END_TEST

/* The pooler logs in to a server with the ClientKey of the client's own
 * SCRAM login when only a SCRAM secret is known. */
START_TEST(test_scram_passthrough)
{
	char		md5[36],
				scram[200];
	struct auth_server *s,
			   *pg;
	struct auth_client *c,
			   *pc;
	unsigned char ck[32];
	struct outcome o;

	secrets_for("pw1", md5, scram);
	s = auth_server_new(CFG_AUTH_SCRAM, "alice", scram, 4096);
	c = auth_client_new("alice", "pw1", NULL, NULL);
	o = login(s, c);
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	ck_assert(auth_server_client_key(s, ck));

	/* "PostgreSQL" holding the same secret; the pooler knows only the secret */
	pg = auth_server_new(CFG_AUTH_SCRAM, "alice", scram, 4096);
	pc = auth_client_new("alice", scram, ck, NULL);
	o = login(pg, pc);
	ck_assert(o.server == AUTH_OK && o.client == AUTH_OK);
	auth_server_free(pg);
	auth_client_free(pc);

	/* without the key, a SCRAM secret alone cannot log in */
	pg = auth_server_new(CFG_AUTH_SCRAM, "alice", scram, 4096);
	pc = auth_client_new("alice", scram, NULL, NULL);
	o = login(pg, pc);
	ck_assert_int_eq(o.client, AUTH_FAIL);
	ck_assert_ptr_nonnull(strstr(auth_client_error(pc), "pass-through"));
	auth_server_free(pg);
	auth_client_free(pc);

	/* a key from a plain-secret login is not a pass-through key */
	auth_server_free(s);
	auth_client_free(c);
	s = auth_server_new(CFG_AUTH_SCRAM, "alice", "pw1", 4096);
	c = auth_client_new("alice", "pw1", NULL, NULL);
	o = login(s, c);
	ck_assert(o.server == AUTH_OK);
	ck_assert(!auth_server_client_key(s, ck));
	auth_server_free(s);
	auth_client_free(c);
}

END_TEST

START_TEST(test_server_malformed)
{
	struct auth_out out;
	struct auth_server *s;
	static const unsigned char nonul[] = {'a', 'b'};
	static const unsigned char twonul[] = {'a', 0, 'b', 0};
	unsigned char sasl[64];
	size_t		n;

	s = auth_server_new(CFG_AUTH_PLAIN, "alice", "pw", 4096);
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	ck_assert_int_eq(auth_server_step(s, nonul, sizeof nonul, &out), AUTH_PROTOCOL_ERROR);
	auth_server_free(s);
	s = auth_server_new(CFG_AUTH_PLAIN, "alice", "pw", 4096);
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	ck_assert_int_eq(auth_server_step(s, twonul, sizeof twonul, &out), AUTH_PROTOCOL_ERROR);
	auth_server_free(s);
	/* a step before start, or after the end */
	s = auth_server_new(CFG_AUTH_PLAIN, "alice", "pw", 4096);
	ck_assert_int_eq(auth_server_step(s, (const unsigned char *) "pw", 3, &out), AUTH_PROTOCOL_ERROR);
	auth_server_free(s);

	/* SASLInitialResponse naming another mechanism, and a bad length */
	s = auth_server_new(CFG_AUTH_SCRAM, "alice", "pw", 4096);
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	n = 0;
	memcpy(sasl, "SCRAM-SHA-256-PLUS", 19);
	n = 19;
	memcpy(sasl + n, "\0\0\0\3abc", 7);
	n += 7;
	ck_assert_int_eq(auth_server_step(s, sasl, n, &out), AUTH_PROTOCOL_ERROR);
	auth_server_free(s);
	s = auth_server_new(CFG_AUTH_SCRAM, "alice", "pw", 4096);
	ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
	memcpy(sasl, "SCRAM-SHA-256", 14);
	memcpy(sasl + 14, "\0\0\0\x50n,,n=,r=abc", 15);
	ck_assert_int_eq(auth_server_step(s, sasl, 29, &out), AUTH_PROTOCOL_ERROR);
	auth_server_free(s);
}

END_TEST

START_TEST(test_client_failures)
{
	struct auth_out out;
	struct auth_client *c;
	char		md5[36],
				scram[200];
	static const unsigned char req_clear[4] = {0, 0, 0, 3};
	static const unsigned char req_md5[8] = {0, 0, 0, 5, 9, 9, 9, 9};
	static const unsigned char req_gss[4] = {0, 0, 0, 7};
	static const unsigned char req_sasl_plus[] = {0, 0, 0, 10, 'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A',
	'-', '2', '5', '6', '-', 'P', 'L', 'U', 'S', 0, 0};
	static const unsigned char sasl_fin_early[] = {0, 0, 0, 12, 'v', '=', 'x'};

	secrets_for("topsecret", md5, scram);
	/* an md5 secret cannot answer a cleartext request */
	c = auth_client_new("alice", md5, NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_clear, sizeof req_clear, &out), AUTH_FAIL);
	ck_assert_ptr_nonnull(strstr(auth_client_error(c), "cleartext"));
	auth_client_free(c);
	/* ...but can answer md5 */
	c = auth_client_new("alice", md5, NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_md5, sizeof req_md5, &out), AUTH_CONTINUE);
	ck_assert_uint_eq(out.len, 36);
	ck_assert_int_eq(out.data[35], 0);
	ck_assert(strncmp((char *) out.data, "md5", 3) == 0);
	auth_client_free(c);
	/* a plain password answers cleartext with password NUL */
	c = auth_client_new("alice", "topsecret", NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_clear, sizeof req_clear, &out), AUTH_CONTINUE);
	ck_assert_uint_eq(out.len, 10);
	ck_assert_mem_eq(out.data, "topsecret", 10);
	auth_client_free(c);
	/* no password at all */
	c = auth_client_new("alice", NULL, NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_md5, sizeof req_md5, &out), AUTH_FAIL);
	auth_client_free(c);
	/* unsupported methods */
	c = auth_client_new("alice", "topsecret", NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_gss, sizeof req_gss, &out), AUTH_FAIL);
	ck_assert_ptr_null(strstr(auth_client_error(c), "topsecret"));
	auth_client_free(c);
	c = auth_client_new("alice", "topsecret", NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_sasl_plus, sizeof req_sasl_plus, &out), AUTH_FAIL);
	auth_client_free(c);
	/* out-of-order and short messages */
	c = auth_client_new("alice", "topsecret", NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, sasl_fin_early, sizeof sasl_fin_early, &out), AUTH_PROTOCOL_ERROR);
	auth_client_free(c);
	c = auth_client_new("alice", "topsecret", NULL, NULL);
	ck_assert_int_eq(auth_client_step(c, req_clear, 2, &out), AUTH_PROTOCOL_ERROR);
	auth_client_free(c);
	/* trust on the server side: AuthenticationOk straight away */
	c = auth_client_new("alice", NULL, NULL, NULL);
	{
		static const unsigned char ok[4] = {0, 0, 0, 0};

		ck_assert_int_eq(auth_client_step(c, ok, 4, &out), AUTH_OK);
		ck_assert_int_eq(auth_client_step(c, ok, 4, &out), AUTH_PROTOCOL_ERROR);
	}
	auth_client_free(c);
}

END_TEST

/* Random bytes at every step of every exchange, both sides: never a crash,
 * never AUTH_OK (fixed seed, bounded). */
START_TEST(test_random_input)
{
	static const int types[] = {CFG_AUTH_PLAIN, CFG_AUTH_MD5, CFG_AUTH_SCRAM};
	unsigned int seed = 12345;
	unsigned char buf[700];

	for (int round = 0; round < 3000; round++)
	{
		int			type = types[round % 3];
		struct auth_server *s = auth_server_new(type, "alice", round % 2 ? "pw" : NULL, 1);
		struct auth_client *c = auth_client_new("alice", "pw", NULL, NULL);
		struct auth_out out;
		size_t		len = (size_t) (rand_r(&seed) % sizeof buf);
		enum auth_status st;

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char) rand_r(&seed);
		if (round % 5 == 0 && len > 20)
			memcpy(buf, "SCRAM-SHA-256\0\0\0\0\x05n,,n=", 20);	/* plausible prefix */
		ck_assert_int_eq(auth_server_start(s, &out), AUTH_CONTINUE);
		st = auth_server_step(s, buf, len, &out);
		ck_assert_int_ne(st, AUTH_OK);
		if (st == AUTH_CONTINUE)
			ck_assert_int_ne(auth_server_step(s, buf, len, &out), AUTH_OK);

		/*
		 * the client side: a random 'R' payload, with a valid code half of
		 * the time
		 */
		if (round % 2 && len >= 4)
		{
			static const unsigned char codes[] = {3, 5, 10, 11, 12};

			memset(buf, 0, 3);
			buf[3] = codes[rand_r(&seed) % 5];
		}
		st = auth_client_step(c, buf, len, &out);
		if (st == AUTH_CONTINUE)
			ck_assert_uint_le(out.len, sizeof out.data);
		auth_server_free(s);
		auth_client_free(c);
	}
}

END_TEST

START_TEST(test_userlist_format)
{
	struct userlist *ul = NULL;
	char		err[256];
	const char *text =
	"; comment\n"
	"# another\n"
	"\n"
	"\"alice\" \"md553f48b7c4b76a86ce72276c5755f217d\"\n"
	"  \"bob\"  \"pa\"\"ss word\" trailing stuff\n"
	"\"carol\" \"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$gVPDGQ5b2ZlXhx6ODsiTRWWe1bqYiz/4nrHLh7KEaIM=:yfdp52n00zH4/2dWPWmZnHzKvbgcNJVchHAohDGIOEQ=\"\n"
	"\"bob\" \"second\"\n"
	"\"we\"\"ird\" \"\"\r\n";

	ck_assert_int_eq(userlist_load_string(text, "ul.txt", &ul, err, sizeof err), 0);
	ck_assert_uint_eq(userlist_count(ul), 4);
	ck_assert_str_eq(userlist_find(ul, "alice"), "md553f48b7c4b76a86ce72276c5755f217d");
	ck_assert_str_eq(userlist_find(ul, "bob"), "second");	/* last line wins */
	ck_assert_str_eq(userlist_find(ul, "we\"ird"), "");
	ck_assert_ptr_null(userlist_find(ul, "dave"));
	ck_assert_int_eq(userlist_secret_kind(userlist_find(ul, "alice")), USERLIST_SECRET_MD5);
	ck_assert_int_eq(userlist_secret_kind(userlist_find(ul, "carol")), USERLIST_SECRET_SCRAM);
	ck_assert_int_eq(userlist_secret_kind("pa\"ss word"), USERLIST_SECRET_PLAIN);
	ck_assert_int_eq(userlist_secret_kind("md5notreallyhex"), USERLIST_SECRET_PLAIN);
	ck_assert_int_eq(userlist_secret_kind("SCRAM-SHA-256$broken"), USERLIST_SECRET_PLAIN);
	userlist_free(ul);

	ul = NULL;
	ck_assert_int_eq(userlist_load_string("\"a\" \"b\"\n\"c\" \"unterminated\n", "ul.txt", &ul, err, sizeof err), -1);
	ck_assert_ptr_null(ul);
	ck_assert_str_eq(err, "ul.txt:2: expected \"user\" \"secret\" in double quotes");
	ck_assert_ptr_null(strstr(err, "unterminated"));
	ck_assert_int_eq(userlist_load_string("alice secret\n", "ul.txt", &ul, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "ul.txt:1:"));
	ck_assert_int_eq(userlist_load_string("\"\" \"x\"\n", "ul.txt", &ul, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty user name"));
	ck_assert_int_eq(userlist_load_string("", "ul.txt", &ul, err, sizeof err), 0);
	ck_assert_uint_eq(userlist_count(ul), 0);
	ck_assert_ptr_null(userlist_find(ul, "x"));
	userlist_free(ul);
}

END_TEST

START_TEST(test_userlist_file)
{
	char		path[] = "/tmp/check_auth_ul.XXXXXX";
	int			fd = mkstemp(path);
	struct userlist *ul = NULL;
	char		err[256];
	FILE	   *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 1000; i++)
		fprintf(f, "\"user%d\" \"pw%d\"\n", i, i);
	fclose(f);
	ck_assert_int_eq(userlist_load(path, &ul, err, sizeof err), 0);
	ck_assert_uint_eq(userlist_count(ul), 1000);
	ck_assert_str_eq(userlist_find(ul, "user0"), "pw0");
	ck_assert_str_eq(userlist_find(ul, "user999"), "pw999");
	ck_assert_str_eq(userlist_find(ul, "user500"), "pw500");
	ck_assert_ptr_null(userlist_find(ul, "user1000"));
	userlist_free(ul);
	unlink(path);
	ck_assert_int_eq(userlist_load(path, &ul, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "could not open auth_file"));
}

END_TEST

static Suite * auth_suite(void)
{
	Suite	   *s = suite_create("auth");
	TCase	   *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_md5_helpers);
	tcase_add_test(tc, test_md5_against_openssl);
	tcase_add_test(tc, test_matrix);
	tcase_add_test(tc, test_md5_plain_cache);
	tcase_add_test(tc, test_scram_plain_cached);
	tcase_add_test(tc, test_trust_and_method_names);
	tcase_add_test(tc, test_scram_passthrough);
	tcase_add_test(tc, test_server_malformed);
	tcase_add_test(tc, test_client_failures);
	tcase_add_test(tc, test_random_input);
	tcase_add_test(tc, test_userlist_format);
	tcase_add_test(tc, test_userlist_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(auth_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
