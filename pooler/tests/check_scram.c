/*
 * check_scram.c -- unit tests of scram.c: the RFC 7677 test vector, secret
 * parsing and formatting, client<->server round trips, wrong passwords,
 * unknown users, SCRAM pass-through from a recovered ClientKey, and
 * malformed messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../scram.h"

#define S(x) (x), strlen(x)

/* RFC 7677 section 3: user "user", password "pencil". */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void
rfc_secret(struct scram_secret *sec)
{
	char text[	256];
	struct scram_secret parsed;

	/* the salt of the vector, base64 W22ZaJ0SNY7soEsUEjb6gQ== */
	static const unsigned char salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
	0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};

	ck_assert_int_eq(scram_make_secret("pencil", salt, sizeof salt, 4096, sec), 0);
	ck_assert_int_eq(scram_format_secret(sec, text, sizeof text), 0);
	ck_assert_msg(strncmp(text, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 44) == 0, "%s", text);
	ck_assert_int_eq(scram_parse_secret(text, &parsed), 0);
	ck_assert_int_eq(parsed.iterations, 4096);
	ck_assert_uint_eq(parsed.salt_len, 16);
	ck_assert_mem_eq(parsed.stored_key, sec->stored_key, SCRAM_KEY_LEN);
	ck_assert_mem_eq(parsed.server_key, sec->server_key, SCRAM_KEY_LEN);
}

START_TEST(test_rfc7677_vector_server)
{
	struct scram_secret sec;
	struct scram_server s;
	char		out[SCRAM_MSG_MAX];
	size_t		outlen = 0;

	rfc_secret(&sec);
	scram_test_set_nonce(RFC_SERVER_NONCE);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S(RFC_CLIENT_FIRST), out, sizeof out, &outlen), 0);
	scram_test_set_nonce(NULL);
	ck_assert_str_eq(out, RFC_SERVER_FIRST);
	ck_assert_uint_eq(outlen, strlen(RFC_SERVER_FIRST));
	ck_assert_int_eq(scram_server_final(&s, S(RFC_CLIENT_FINAL), out, sizeof out, &outlen), 1);
	ck_assert_str_eq(out, RFC_SERVER_FINAL);
	ck_assert_ptr_nonnull(scram_server_client_key(&s));
	scram_server_clear(&s);
}

END_TEST

/* The same vector with one bit of the proof flipped must fail (0, not -1). */
START_TEST(test_rfc7677_tampered_proof)
{
	struct scram_secret sec;
	struct scram_server s;
	char		out[SCRAM_MSG_MAX],
				bad[] = RFC_CLIENT_FINAL;
	size_t		outlen;

	rfc_secret(&sec);
	bad[strlen(bad) - 3] ^= 0x01;	/* 'V' -> 'W' */
	scram_test_set_nonce(RFC_SERVER_NONCE);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S(RFC_CLIENT_FIRST), out, sizeof out, &outlen), 0);
	scram_test_set_nonce(NULL);
	ck_assert_int_eq(scram_server_final(&s, S(bad), out, sizeof out, &outlen), 0);
	ck_assert_ptr_null(scram_server_client_key(&s));
}

END_TEST

/* client and server from this module, password vs derived secret */
static int
round_trip(const char *client_pw, const struct scram_secret *sec, unsigned char *ck_out)
{
	struct scram_client c;
	struct scram_server s;
	char		m1[SCRAM_MSG_MAX],
				m2[SCRAM_MSG_MAX],
				m3[SCRAM_MSG_MAX],
				m4[SCRAM_MSG_MAX];
	size_t		l1,
				l2,
				l3,
				l4 = 0;
	int			r;

	ck_assert_int_eq(scram_client_init_password(&c, client_pw), 0);
	scram_server_init(&s, sec);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	ck_assert(strncmp(m1, "n,,n=,r=", 8) == 0);
	ck_assert_int_eq(scram_server_first(&s, m1, l1, m2, sizeof m2, &l2), 0);
	ck_assert_int_eq(scram_client_final(&c, m2, l2, m3, sizeof m3, &l3), 0);
	r = scram_server_final(&s, m3, l3, m4, sizeof m4, &l4);
	if (r == 1)
	{
		ck_assert_int_eq(scram_client_verify(&c, m4, l4), 1);
		if (ck_out)
			memcpy(ck_out, scram_server_client_key(&s), SCRAM_KEY_LEN);
	}
	scram_client_clear(&c);
	scram_server_clear(&s);
	return r;
}

START_TEST(test_round_trip)
{
	struct scram_secret sec;

	ck_assert_int_eq(scram_make_secret_random("correct horse", SCRAM_DEFAULT_ITERATIONS, &sec), 0);
	ck_assert_int_eq(round_trip("correct horse", &sec, NULL), 1);
	ck_assert_int_eq(round_trip("correct horsf", &sec, NULL), 0);
	ck_assert_int_eq(round_trip("", &sec, NULL), 0);
}

END_TEST

START_TEST(test_unknown_user_mock)
{
	struct scram_server s;
	struct scram_client c;
	char		m1[SCRAM_MSG_MAX],
				m2[SCRAM_MSG_MAX],
				m3[SCRAM_MSG_MAX],
				m4[SCRAM_MSG_MAX];
	size_t		l1,
				l2,
				l3,
				l4;

	scram_server_init(&s, NULL);
	ck_assert_int_eq(scram_client_init_password(&c, "whatever"), 0);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	/* the mock server-first looks like a real one */
	ck_assert_int_eq(scram_server_first(&s, m1, l1, m2, sizeof m2, &l2), 0);
	ck_assert_ptr_nonnull(strstr(m2, ",s="));
	ck_assert_ptr_nonnull(strstr(m2, ",i=4096"));
	ck_assert_int_eq(scram_client_final(&c, m2, l2, m3, sizeof m3, &l3), 0);
	ck_assert_int_eq(scram_server_final(&s, m3, l3, m4, sizeof m4, &l4), 0);
}

END_TEST

/* A ClientKey recovered by one server logs in to another server holding
 * the same secret (what the pooler does towards PostgreSQL). */
START_TEST(test_passthrough_client_key)
{
	struct scram_secret sec;
	unsigned char ck[SCRAM_KEY_LEN];
	struct scram_client c;
	struct scram_server s;
	char		m1[SCRAM_MSG_MAX],
				m2[SCRAM_MSG_MAX],
				m3[SCRAM_MSG_MAX],
				m4[SCRAM_MSG_MAX];
	size_t		l1,
				l2,
				l3,
				l4;

	ck_assert_int_eq(scram_make_secret_random("pw", 4096, &sec), 0);
	ck_assert_int_eq(round_trip("pw", &sec, ck), 1);

	scram_client_init_keys(&c, ck, sec.server_key);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	ck_assert_int_eq(scram_server_first(&s, m1, l1, m2, sizeof m2, &l2), 0);
	ck_assert_int_eq(scram_client_final(&c, m2, l2, m3, sizeof m3, &l3), 0);
	ck_assert_int_eq(scram_server_final(&s, m3, l3, m4, sizeof m4, &l4), 1);
	ck_assert_int_eq(scram_client_verify(&c, m4, l4), 1);

	/* a server signature made with another key is refused */
	scram_client_init_keys(&c, ck, sec.server_key);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	ck_assert_int_eq(scram_server_first(&s, m1, l1, m2, sizeof m2, &l2), 0);
	ck_assert_int_eq(scram_client_final(&c, m2, l2, m3, sizeof m3, &l3), 0);
	ck_assert_int_eq(scram_server_final(&s, m3, l3, m4, sizeof m4, &l4), 1);
	m4[5] = m4[5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(scram_client_verify(&c, m4, l4), 0);
}

END_TEST

START_TEST(test_malformed_server_side)
{
	struct scram_secret sec;
	struct scram_server s;
	char		out[SCRAM_MSG_MAX];
	size_t		ol;

	rfc_secret(&sec);
	/* channel binding requested: refused */
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("p=tls-server-end-point,,n=,r=abc"), out, sizeof out, &ol), -1);
	/* garbage, missing nonce, empty, mandatory extension */
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("hello"), out, sizeof out, &ol), -1);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("n,,n=,"), out, sizeof out, &ol), -1);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, "", 0, out, sizeof out, &ol), -1);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("n,,m=x,n=,r=abc"), out, sizeof out, &ol), -1);
	/* an authorization identity is refused, as PostgreSQL does */
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("n,a=bob,n=,r=abc"), out, sizeof out, &ol), -1);
	/* "y" flag is fine (client supports binding, we did not offer it) */
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S("y,,n=,r=abc"), out, sizeof out, &ol), 0);
	/* ...but then c= must be base64("y,,") and not "biws" */
	ck_assert_int_eq(scram_server_final(&s, S("c=biws,r=abc,p=AAAA"), out, sizeof out, &ol), -1);

	/* wrong nonce in the final message */
	scram_test_set_nonce(RFC_SERVER_NONCE);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S(RFC_CLIENT_FIRST), out, sizeof out, &ol), 0);
	scram_test_set_nonce(NULL);
	ck_assert_int_eq(scram_server_final(&s, S("c=biws,r=rOprNGfwEbeRWgbNEkqOXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
										out, sizeof out, &ol), -1);
	/* the final message cannot come twice or before the first one */
	ck_assert_int_eq(scram_server_final(&s, S(RFC_CLIENT_FINAL), out, sizeof out, &ol), -1);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_final(&s, S(RFC_CLIENT_FINAL), out, sizeof out, &ol), -1);
	/* proof not base64 / too short */
	scram_test_set_nonce(RFC_SERVER_NONCE);
	scram_server_init(&s, &sec);
	ck_assert_int_eq(scram_server_first(&s, S(RFC_CLIENT_FIRST), out, sizeof out, &ol), 0);
	scram_test_set_nonce(NULL);
	ck_assert_int_eq(scram_server_final(&s, S("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!"),
										out, sizeof out, &ol), -1);
}

END_TEST

START_TEST(test_malformed_client_side)
{
	struct scram_client c;
	char		m1[SCRAM_MSG_MAX],
				m3[SCRAM_MSG_MAX];
	size_t		l1,
				l3;

	scram_test_set_nonce("clientnonce");
	ck_assert_int_eq(scram_client_init_password(&c, "pencil"), 0);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	scram_test_set_nonce(NULL);
	ck_assert_str_eq(m1, "n,,n=,r=clientnonce");
	/* server nonce not extending ours */
	ck_assert_int_eq(scram_client_final(&c, S("r=othernonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
										m3, sizeof m3, &l3), -1);

	/*
	 * iteration count out of range (a hostile server asking for years of
	 * work)
	 */
	scram_test_set_nonce("clientnonce");
	ck_assert_int_eq(scram_client_init_password(&c, "pencil"), 0);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	scram_test_set_nonce(NULL);
	ck_assert_int_eq(scram_client_final(&c, S("r=clientnonceXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2000000000"),
										m3, sizeof m3, &l3), -1);

	/* a good server-first, then an error from the server */
	scram_test_set_nonce("clientnonce");
	ck_assert_int_eq(scram_client_init_password(&c, "pencil"), 0);
	ck_assert_int_eq(scram_client_first(&c, m1, sizeof m1, &l1), 0);
	scram_test_set_nonce(NULL);
	ck_assert_int_eq(scram_client_final(&c, S("r=clientnonceXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
										m3, sizeof m3, &l3), 0);
	ck_assert(strncmp(m3, "c=biws,r=clientnonceXYZ,p=", 26) == 0);
	ck_assert_int_eq(scram_client_verify(&c, S("e=invalid-proof")), 0);

	ck_assert_int_ne(scram_client_init_password(&c, "x"), -1);
	{
		char		longpw[400];

		memset(longpw, 'a', sizeof longpw - 1);
		longpw[sizeof longpw - 1] = '\0';
		ck_assert_int_eq(scram_client_init_password(&c, longpw), -1);
	}
}

END_TEST

START_TEST(test_secret_parse_errors)
{
	struct scram_secret s;

	ck_assert_int_eq(scram_parse_secret("md5abc", &s), -1);
	ck_assert_int_eq(scram_parse_secret("SCRAM-SHA-256$x:abc$def:ghi", &s), -1);
	ck_assert_int_eq(scram_parse_secret("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$short:short", &s), -1);
	ck_assert_int_eq(scram_parse_secret("SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$a:b", &s), -1);
	/* a well-formed secret in pg_authid syntax */
	ck_assert_int_eq(scram_parse_secret(
										"SCRAM-SHA-256$4096:2LGiRLSLFzc7rYQ7OyinaA==$gVPDGQ5b2ZlXhx6ODsiTRWWe1bqYiz/4nrHLh7KEaIM=:yfdp52n00zH4/2dWPWmZnHzKvbgcNJVchHAohDGIOEQ=",
										&s), 0);
	ck_assert_int_eq(s.iterations, 4096);
	ck_assert_uint_eq(s.salt_len, 16);
}

END_TEST

/* The PBKDF2 cache returns exactly what PBKDF2 computes, keyed on password,
 * salt and iteration count, and evicts the least recently used entry. */
START_TEST(test_pbkdf2_cache)
{
	struct scram_secret a,
				b,
				c;
	static const unsigned char salt[4] = {1, 2, 3, 4};
	uint64_t	hits,
				misses;
	unsigned char s1[16],
				s2[16],
				s3[16];

	scram_cache_clear();
	ck_assert_int_eq(scram_make_secret("pw", salt, 4, 4096, &a), 0);
	scram_cache_stats(&hits, &misses);
	ck_assert(hits == 0 && misses == 1);
	ck_assert_int_eq(scram_make_secret("pw", salt, 4, 4096, &b), 0);
	scram_cache_stats(&hits, &misses);
	ck_assert(hits == 1 && misses == 1);
	ck_assert_mem_eq(a.stored_key, b.stored_key, SCRAM_KEY_LEN);
	ck_assert_mem_eq(a.server_key, b.server_key, SCRAM_KEY_LEN);
	/* other password, salt or iteration count: a miss and a different result */
	ck_assert_int_eq(scram_make_secret("pX", salt, 4, 4096, &c), 0);
	ck_assert(memcmp(a.stored_key, c.stored_key, SCRAM_KEY_LEN) != 0);
	ck_assert_int_eq(scram_make_secret("pw", salt, 3, 4096, &c), 0);
	ck_assert(memcmp(a.stored_key, c.stored_key, SCRAM_KEY_LEN) != 0);
	ck_assert_int_eq(scram_make_secret("pw", salt, 4, 4097, &c), 0);
	ck_assert(memcmp(a.stored_key, c.stored_key, SCRAM_KEY_LEN) != 0);
	scram_cache_stats(&hits, &misses);
	ck_assert(hits == 1 && misses == 4);
	/* the same result as an uncached computation */
	scram_cache_clear();
	ck_assert_int_eq(scram_make_secret("pw", salt, 4, 4096, &c), 0);
	ck_assert_mem_eq(a.stored_key, c.stored_key, SCRAM_KEY_LEN);
	/* 64 entries: the 65th distinct password evicts the oldest one */
	scram_cache_clear();
	for (int i = 0; i < 65; i++)
	{
		char		pw[16];

		snprintf(pw, sizeof pw, "p%d", i);
		ck_assert_int_eq(scram_make_secret(pw, salt, 4, 1, &c), 0);
	}
	ck_assert_int_eq(scram_make_secret("p64", salt, 4, 1, &c), 0);	/* newest: hit */
	ck_assert_int_eq(scram_make_secret("p0", salt, 4, 1, &c), 0);	/* evicted: miss */
	scram_cache_stats(&hits, &misses);
	ck_assert(hits == 1 && misses == 66);

	/*
	 * stable salts: per (user, password), unpredictable but fixed in a
	 * process
	 */
	ck_assert_int_eq(scram_stable_salt("alice", "pw", s1), 0);
	ck_assert_int_eq(scram_stable_salt("alice", "pw", s2), 0);
	ck_assert_mem_eq(s1, s2, 16);
	ck_assert_int_eq(scram_stable_salt("alice", "pw2", s3), 0);
	ck_assert(memcmp(s1, s3, 16) != 0);
	ck_assert_int_eq(scram_stable_salt("bob", "pw", s3), 0);
	ck_assert(memcmp(s1, s3, 16) != 0);
}

END_TEST

START_TEST(test_ct_equal)
{
	ck_assert(scram_ct_equal("abcd", "abcd", 4));
	ck_assert(!scram_ct_equal("abcd", "abce", 4));
	ck_assert(scram_ct_equal("x", "y", 0));
}

END_TEST

static Suite * scram_suite(void)
{
	Suite	   *s = suite_create("scram");
	TCase	   *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rfc7677_vector_server);
	tcase_add_test(tc, test_rfc7677_tampered_proof);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_unknown_user_mock);
	tcase_add_test(tc, test_passthrough_client_key);
	tcase_add_test(tc, test_malformed_server_side);
	tcase_add_test(tc, test_malformed_client_side);
	tcase_add_test(tc, test_secret_parse_errors);
	tcase_add_test(tc, test_pbkdf2_cache);
	tcase_add_test(tc, test_ct_equal);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(scram_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
