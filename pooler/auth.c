/*
 * auth.c -- the pooler's authentication exchanges as state machines over
 * message payloads: auth_server checks a client against an auth_file secret
 * (trust, any, plain, md5, scram-sha-256); auth_client answers a
 * PostgreSQL server's requests (cleartext, md5, SCRAM-SHA-256).
 *
 * Payload layouts (PostgreSQL protocol v3):
 *   'R' Authentication*:   int32 code, then per code: md5 -> 4-byte salt;
 *                          SASL -> mechanism names, each NUL-terminated,
 *                          then an empty one; SASLContinue/Final -> data.
 *   'p' PasswordMessage:   password or md5 response, NUL-terminated.
 *   'p' SASLInitialResponse: mechanism NUL, int32 length (-1 = none), data.
 *   'p' SASLResponse:      data.
 *
 * Failure is uniform towards clients: an unknown user, a wrong password and
 * a secret that cannot serve the method all end in AUTH_FAIL after the same
 * exchange, so the client cannot tell which users exist.  Secrets are wiped
 * when freed; nothing here logs.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cfg.h"
#include "scram.h"
#include "userlist.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * md5 helpers
 * ------------------------------------------------------------------------ */

/*
 * MD5 (RFC 1321), for the two digests of every md5 login.  Written out here
 * because OpenSSL 3's EVP interface costs several times the digest itself
 * per call (fetching, context set-up), which showed in the cost of each
 * connection.  Not for anything that needs a secure hash.
 */
struct md5
{
	uint32_t	h[4];
	uint64_t	len;			/* bytes hashed so far */
	unsigned char blk[64];
};

static void
md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->len = 0;
}

/* The four round functions, and one step: a = b + ((a + f(b,c,d) + x + t) <<< s).
 * The constants t are floor(2^32 * |sin(i + 1)|) for step i. */
#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MD5_STEP(f, a, b, c, d, x, t, s) \
	do { \
		(a) += MD5_##f((b), (c), (d)) + (x) + (uint32_t) (t); \
		(a) = ((a) << (s) | (a) >> (32 - (s))) + (b); \
	} while (0)

static void
md5_block(struct md5 *m, const unsigned char *p)
{
	uint32_t	w[16],
				a = m->h[0],
				b = m->h[1],
				c = m->h[2],
				d = m->h[3];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t) p[4 * i] | (uint32_t) p[4 * i + 1] << 8 |
			(uint32_t) p[4 * i + 2] << 16 | (uint32_t) p[4 * i + 3] << 24;
	MD5_STEP(F, a, b, c, d, w[0], 0xd76aa478, 7);
	MD5_STEP(F, d, a, b, c, w[1], 0xe8c7b756, 12);
	MD5_STEP(F, c, d, a, b, w[2], 0x242070db, 17);
	MD5_STEP(F, b, c, d, a, w[3], 0xc1bdceee, 22);
	MD5_STEP(F, a, b, c, d, w[4], 0xf57c0faf, 7);
	MD5_STEP(F, d, a, b, c, w[5], 0x4787c62a, 12);
	MD5_STEP(F, c, d, a, b, w[6], 0xa8304613, 17);
	MD5_STEP(F, b, c, d, a, w[7], 0xfd469501, 22);
	MD5_STEP(F, a, b, c, d, w[8], 0x698098d8, 7);
	MD5_STEP(F, d, a, b, c, w[9], 0x8b44f7af, 12);
	MD5_STEP(F, c, d, a, b, w[10], 0xffff5bb1, 17);
	MD5_STEP(F, b, c, d, a, w[11], 0x895cd7be, 22);
	MD5_STEP(F, a, b, c, d, w[12], 0x6b901122, 7);
	MD5_STEP(F, d, a, b, c, w[13], 0xfd987193, 12);
	MD5_STEP(F, c, d, a, b, w[14], 0xa679438e, 17);
	MD5_STEP(F, b, c, d, a, w[15], 0x49b40821, 22);
	MD5_STEP(G, a, b, c, d, w[1], 0xf61e2562, 5);
	MD5_STEP(G, d, a, b, c, w[6], 0xc040b340, 9);
	MD5_STEP(G, c, d, a, b, w[11], 0x265e5a51, 14);
	MD5_STEP(G, b, c, d, a, w[0], 0xe9b6c7aa, 20);
	MD5_STEP(G, a, b, c, d, w[5], 0xd62f105d, 5);
	MD5_STEP(G, d, a, b, c, w[10], 0x02441453, 9);
	MD5_STEP(G, c, d, a, b, w[15], 0xd8a1e681, 14);
	MD5_STEP(G, b, c, d, a, w[4], 0xe7d3fbc8, 20);
	MD5_STEP(G, a, b, c, d, w[9], 0x21e1cde6, 5);
	MD5_STEP(G, d, a, b, c, w[14], 0xc33707d6, 9);
	MD5_STEP(G, c, d, a, b, w[3], 0xf4d50d87, 14);
	MD5_STEP(G, b, c, d, a, w[8], 0x455a14ed, 20);
	MD5_STEP(G, a, b, c, d, w[13], 0xa9e3e905, 5);
	MD5_STEP(G, d, a, b, c, w[2], 0xfcefa3f8, 9);
	MD5_STEP(G, c, d, a, b, w[7], 0x676f02d9, 14);
	MD5_STEP(G, b, c, d, a, w[12], 0x8d2a4c8a, 20);
	MD5_STEP(H, a, b, c, d, w[5], 0xfffa3942, 4);
	MD5_STEP(H, d, a, b, c, w[8], 0x8771f681, 11);
	MD5_STEP(H, c, d, a, b, w[11], 0x6d9d6122, 16);
	MD5_STEP(H, b, c, d, a, w[14], 0xfde5380c, 23);
	MD5_STEP(H, a, b, c, d, w[1], 0xa4beea44, 4);
	MD5_STEP(H, d, a, b, c, w[4], 0x4bdecfa9, 11);
	MD5_STEP(H, c, d, a, b, w[7], 0xf6bb4b60, 16);
	MD5_STEP(H, b, c, d, a, w[10], 0xbebfbc70, 23);
	MD5_STEP(H, a, b, c, d, w[13], 0x289b7ec6, 4);
	MD5_STEP(H, d, a, b, c, w[0], 0xeaa127fa, 11);
	MD5_STEP(H, c, d, a, b, w[3], 0xd4ef3085, 16);
	MD5_STEP(H, b, c, d, a, w[6], 0x04881d05, 23);
	MD5_STEP(H, a, b, c, d, w[9], 0xd9d4d039, 4);
	MD5_STEP(H, d, a, b, c, w[12], 0xe6db99e5, 11);
	MD5_STEP(H, c, d, a, b, w[15], 0x1fa27cf8, 16);
	MD5_STEP(H, b, c, d, a, w[2], 0xc4ac5665, 23);
	MD5_STEP(I, a, b, c, d, w[0], 0xf4292244, 6);
	MD5_STEP(I, d, a, b, c, w[7], 0x432aff97, 10);
	MD5_STEP(I, c, d, a, b, w[14], 0xab9423a7, 15);
	MD5_STEP(I, b, c, d, a, w[5], 0xfc93a039, 21);
	MD5_STEP(I, a, b, c, d, w[12], 0x655b59c3, 6);
	MD5_STEP(I, d, a, b, c, w[3], 0x8f0ccc92, 10);
	MD5_STEP(I, c, d, a, b, w[10], 0xffeff47d, 15);
	MD5_STEP(I, b, c, d, a, w[1], 0x85845dd1, 21);
	MD5_STEP(I, a, b, c, d, w[8], 0x6fa87e4f, 6);
	MD5_STEP(I, d, a, b, c, w[15], 0xfe2ce6e0, 10);
	MD5_STEP(I, c, d, a, b, w[6], 0xa3014314, 15);
	MD5_STEP(I, b, c, d, a, w[13], 0x4e0811a1, 21);
	MD5_STEP(I, a, b, c, d, w[4], 0xf7537e82, 6);
	MD5_STEP(I, d, a, b, c, w[11], 0xbd3af235, 10);
	MD5_STEP(I, c, d, a, b, w[2], 0x2ad7d2bb, 15);
	MD5_STEP(I, b, c, d, a, w[9], 0xeb86d391, 21);
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

static void
md5_update(struct md5 *m, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t		used = (size_t) (m->len & 63);

	m->len += n;
	if (used)
	{
		size_t		take = 64 - used < n ? 64 - used : n;

		memcpy(m->blk + used, p, take);
		p += take;
		n -= take;
		if (used + take < 64)
			return;
		md5_block(m, m->blk);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m, p);
	memcpy(m->blk, p, n);
}

static void
md5_final(struct md5 *m, unsigned char out[16])
{
	uint64_t	bits = m->len * 8;
	unsigned char pad[72] = {0x80};
	size_t		used = (size_t) (m->len & 63);
	size_t		padlen = (used < 56 ? 56 : 120) - used;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char) (bits >> (8 * i));
	md5_update(m, pad, padlen + 8);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (unsigned char) (m->h[i] >> (8 * j));
}

static PP_WUR int
md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char d[16];
	struct md5	m;

	md5_init(&m);
	md5_update(&m, a, alen);
	md5_update(&m, b, blen);
	md5_final(&m, d);
	for (int i = 0; i < 16; i++)
	{
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

int
auth_md5_secret(const char *user, const char *password, char out[36])
{
	memcpy(out, "md5", 3);
	return md5_hex(password, strlen(password), user, strlen(user), out + 3);
}

int
auth_md5_response(const char *md5_secret, const unsigned char salt[4], char out[36])
{
	if (strlen(md5_secret) != 35 || strncmp(md5_secret, "md5", 3) != 0)
		return -1;
	memcpy(out, "md5", 3);
	return md5_hex(md5_secret + 3, 32, salt, 4, out + 3);
}

static void
put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* out = int32 code + data */
static PP_WUR int
out_code(struct auth_out *out, uint32_t code, const void *data, size_t len)
{
	if (4 + len > sizeof out->data)
		return -1;
	put32(out->data, code);
	if (len)
		memcpy(out->data + 4, data, len);
	out->len = 4 + len;
	return 0;
}

/* ------------------------------------------------------------------------
 * Towards clients
 * ------------------------------------------------------------------------ */

enum srv_method
{
	M_TRUST, M_PLAIN, M_MD5, M_SCRAM
};
enum srv_state
{
	S_START, S_WAIT_PASSWORD, S_WAIT_SASL_INIT, S_WAIT_SASL_RESP, S_DONE, S_FAILED
};

/*
 * One allocation per logging-in client: the state, then the user name and
 * the secret (copied behind it).  The SCRAM state (about 1.2 kB) is
 * allocated only when a SCRAM exchange starts, so an md5 or plain login
 * costs one small malloc and zeroes only what it uses.
 */
struct auth_server
{
	enum srv_method method;
	enum srv_state state;
	const char *user;			/* in strings[] */
	char	   *secret;			/* in strings[]; NULL: unknown user */
	size_t		secret_len;
	enum userlist_secret_kind kind;
	int			iterations;
	bool		secret_is_scram;	/* SCRAM against a stored SCRAM secret */
	unsigned char salt[4];
	struct scram_server *scram; /* SCRAM exchanges only */
	char		strings[];		/* user NUL [secret NUL] */
};

struct auth_server *
auth_server_new(int auth_type, const char *user, const char *secret,
				int scram_iterations)
{
	size_t		ulen = strlen(user ? user : ""),
				slen = secret ? strlen(secret) : 0;
	struct auth_server *a = malloc(sizeof *a + ulen + 1 + (secret ? slen + 1 : 0));

	if (!a)
		return NULL;
	memset(a, 0, sizeof *a);
	memcpy(a->strings, user ? user : "", ulen + 1);
	a->user = a->strings;
	if (secret)
	{
		a->secret = a->strings + ulen + 1;
		memcpy(a->secret, secret, slen + 1);
		a->secret_len = slen;
	}
	a->kind = secret ? userlist_secret_kind(secret) : USERLIST_SECRET_PLAIN;
	a->iterations = scram_iterations > 0 ? scram_iterations : SCRAM_DEFAULT_ITERATIONS;
	switch (auth_type)
	{
		case CFG_AUTH_ANY:
		case CFG_AUTH_TRUST:
			a->method = M_TRUST;
			break;
		case CFG_AUTH_PLAIN:
			a->method = M_PLAIN;
			break;
		case CFG_AUTH_MD5:
			/* as PgBouncer: a stored SCRAM secret upgrades md5 to SCRAM */
			a->method = (secret && a->kind == USERLIST_SECRET_SCRAM) ? M_SCRAM : M_MD5;
			break;
		case CFG_AUTH_SCRAM:
		default:
			a->method = M_SCRAM;
			break;
	}
	return a;
}

const char *
auth_server_method(const struct auth_server *a)
{
	switch (a->method)
	{
		case M_TRUST:
			return "trust";
		case M_PLAIN:
			return "plain";
		case M_MD5:
			return "md5";
		case M_SCRAM:
			return "SCRAM-SHA-256";
	}
	return "?";
}

enum auth_status
auth_server_start(struct auth_server *a, struct auth_out *out)
{
	out->len = 0;
	if (a->state != S_START)
		return AUTH_PROTOCOL_ERROR;
	switch (a->method)
	{
		case M_TRUST:
			a->state = S_DONE;
			return AUTH_OK;
		case M_PLAIN:
			if (out_code(out, AUTH_REQ_PASSWORD, NULL, 0) != 0)
				return AUTH_PROTOCOL_ERROR;
			a->state = S_WAIT_PASSWORD;
			return AUTH_CONTINUE;
		case M_MD5:
			random_bytes(a->salt, sizeof a->salt);	/* pooled: no DRBG call
													 * per login */
			if (out_code(out, AUTH_REQ_MD5, a->salt, sizeof a->salt) != 0)
				return AUTH_PROTOCOL_ERROR;
			a->state = S_WAIT_PASSWORD;
			return AUTH_CONTINUE;
		case M_SCRAM:
			{
				static const char mechs[] = SCRAM_MECHANISM "\0";	/* name NUL, then empty
																	 * NUL */
				struct scram_secret sec;
				bool		have = false;

				if (a->secret && a->kind == USERLIST_SECRET_SCRAM)
				{
					have = scram_parse_secret(a->secret, &sec) == 0;
					a->secret_is_scram = have;
				}
				else if (a->secret && a->kind == USERLIST_SECRET_PLAIN)
				{
					/*
					 * a stable salt lets the PBKDF2 cache serve repeated
					 * logins
					 */
					unsigned char salt[16];

					have = scram_stable_salt(a->user, a->secret, salt) == 0 &&
						scram_make_secret(a->secret, salt, sizeof salt, a->iterations, &sec) == 0;
				}
				/* unknown user or an md5 secret: a mock exchange that fails */
				if (!a->scram)
					a->scram = malloc(sizeof *a->scram);
				if (a->scram)
					scram_server_init(a->scram, have ? &sec : NULL);
				OPENSSL_cleanse(&sec, sizeof sec);
				if (!a->scram)
					return AUTH_PROTOCOL_ERROR;
				if (out_code(out, AUTH_REQ_SASL, mechs, sizeof mechs) != 0)
					return AUTH_PROTOCOL_ERROR;
				a->state = S_WAIT_SASL_INIT;
				return AUTH_CONTINUE;
			}
	}
	return AUTH_PROTOCOL_ERROR;
}

/* Check a cleartext password against the stored secret. */
static bool
check_plain(const struct auth_server *a, const char *pw)
{
	bool		ok = false;

	if (!a->secret)
		return false;
	switch (a->kind)
	{
		case USERLIST_SECRET_PLAIN:
			{
				size_t		l1 = strlen(pw),
							l2 = strlen(a->secret);

				ok = l1 == l2 && scram_ct_equal(pw, a->secret, l1);
				break;
			}
		case USERLIST_SECRET_MD5:
			{
				char		m[36];

				ok = auth_md5_secret(a->user, pw, m) == 0 && scram_ct_equal(m, a->secret, 35);
				OPENSSL_cleanse(m, sizeof m);
				break;
			}
		case USERLIST_SECRET_SCRAM:
			{
				struct scram_secret stored,
							derived;

				ok = scram_parse_secret(a->secret, &stored) == 0 &&
					scram_make_secret(pw, stored.salt, stored.salt_len, stored.iterations, &derived) == 0 &&
					scram_ct_equal(stored.stored_key, derived.stored_key, SCRAM_KEY_LEN);
				OPENSSL_cleanse(&stored, sizeof stored);
				OPENSSL_cleanse(&derived, sizeof derived);
				break;
			}
	}
	return ok;
}

/*
 * md5 secrets ("md5" + md5(password || user)) derived from plain auth_file
 * passwords, so that an md5 login costs one digest instead of two.
 * Direct-mapped by user name; an entry serves only a login whose user and
 * password both match it, so a changed password (reload) is derived anew.
 */
#define MD5_CACHE_SLOTS 64
#define MD5_CACHE_KEY 192		/* user NUL password: longer ones are not
								 * cached */

struct md5_cache_entry
{
	size_t		klen;			/* 0: empty */
	char		key[MD5_CACHE_KEY];
	char		secret[36];
};

static struct md5_cache_entry md5_cache[MD5_CACHE_SLOTS];

static PP_WUR int
plain_md5_secret(const struct auth_server *a, char out[36])
{
	size_t		ulen = strlen(a->user),
				klen = ulen + 1 + a->secret_len;
	uint32_t	h = 2166136261u;	/* FNV-1a of the user name */
	struct md5_cache_entry *e;

	for (size_t i = 0; i < ulen; i++)
		h = (h ^ (unsigned char) a->user[i]) * 16777619u;
	e = &md5_cache[h % MD5_CACHE_SLOTS];
	if (klen <= MD5_CACHE_KEY && e->klen == klen && memcmp(e->key, a->user, ulen + 1) == 0 &&
		memcmp(e->key + ulen + 1, a->secret, a->secret_len) == 0)
	{
		memcpy(out, e->secret, 36);
		return 0;
	}
	if (auth_md5_secret(a->user, a->secret, out) != 0)
		return -1;
	if (klen <= MD5_CACHE_KEY)
	{
		memcpy(e->key, a->user, ulen + 1);
		memcpy(e->key + ulen + 1, a->secret, a->secret_len);
		e->klen = klen;
		memcpy(e->secret, out, 36);
	}
	return 0;
}

/* Check an md5 response ("md5" + 32 hex) for our salt. */
static bool
check_md5(const struct auth_server *a, const char *resp)
{
	char		secret[36],
				expect[36];
	bool		ok = false;

	if (!a->secret || strlen(resp) != 35)
		return false;
	if (a->kind == USERLIST_SECRET_MD5)
		memcpy(secret, a->secret, 36);
	else if (a->kind == USERLIST_SECRET_PLAIN)
	{
		if (plain_md5_secret(a, secret) != 0)
			return false;
	}
	else
		return false;
	if (auth_md5_response(secret, a->salt, expect) == 0)
		ok = scram_ct_equal(expect, resp, 35);
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(expect, sizeof expect);
	return ok;
}

static enum auth_status
srv_fail(struct auth_server *a, enum auth_status st)
{
	a->state = S_FAILED;
	return st;
}

enum auth_status
auth_server_step(struct auth_server *a, const unsigned char *in, size_t len,
				 struct auth_out *out)
{
	char		msg[SCRAM_MSG_MAX];
	size_t		mlen = 0;

	out->len = 0;
	switch (a->state)
	{
		case S_WAIT_PASSWORD:
			{
				/*
				 * PasswordMessage: one NUL-terminated string filling the
				 * payload
				 */
				bool		ok;

				if (len == 0 || in[len - 1] != '\0' || memchr(in, '\0', len) != in + len - 1)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				ok = a->method == M_PLAIN ? check_plain(a, (const char *) in) : check_md5(a, (const char *) in);
				if (!ok)
					return srv_fail(a, AUTH_FAIL);
				a->state = S_DONE;
				return AUTH_OK;
			}
		case S_WAIT_SASL_INIT:
			{
				const unsigned char *nul = memchr(in, '\0', len);
				int32_t		dlen;
				size_t		off;
				int			rc;

				if (!nul)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				if (strcmp((const char *) in, SCRAM_MECHANISM) != 0)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);	/* e.g. -PLUS, not
																 * offered */
				off = (size_t) (nul - in) + 1;
				if (len - off < 4)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				dlen = (int32_t) get32(in + off);
				off += 4;
				if (dlen < 0 || (size_t) dlen != len - off)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				rc = scram_server_first(a->scram, (const char *) in + off, (size_t) dlen, msg, sizeof msg, &mlen);
				if (rc != 0)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				if (out_code(out, AUTH_REQ_SASL_CONT, msg, mlen) != 0)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				a->state = S_WAIT_SASL_RESP;
				return AUTH_CONTINUE;
			}
		case S_WAIT_SASL_RESP:
			{
				int			rc = scram_server_final(a->scram, (const char *) in, len, msg, sizeof msg, &mlen);

				if (rc < 0)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				if (rc == 0)
					return srv_fail(a, AUTH_FAIL);
				if (out_code(out, AUTH_REQ_SASL_FIN, msg, mlen) != 0)
					return srv_fail(a, AUTH_PROTOCOL_ERROR);
				a->state = S_DONE;
				return AUTH_OK;
			}
		default:
			return srv_fail(a, AUTH_PROTOCOL_ERROR);
	}
}

bool
auth_server_client_key(const struct auth_server *a, unsigned char key[32])
{
	const unsigned char *ck;

	if (a->state != S_DONE || a->method != M_SCRAM || !a->secret_is_scram)
		return false;
	ck = scram_server_client_key(a->scram);
	if (!ck)
		return false;
	memcpy(key, ck, SCRAM_KEY_LEN);
	return true;
}

void
auth_server_free(struct auth_server *a)
{
	if (!a)
		return;
	if (a->scram)
	{
		OPENSSL_cleanse(a->scram, sizeof *a->scram);
		free(a->scram);
	}
	if (a->secret)
		OPENSSL_cleanse(a->secret, a->secret_len);
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

/* ------------------------------------------------------------------------
 * Towards servers
 * ------------------------------------------------------------------------ */

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

enum cli_state
{
	C_START, C_SASL_SENT_FIRST, C_SASL_SENT_FINAL, C_SASL_DONE, C_DONE, C_FAILED
};

struct auth_client
{
	enum cli_state state;
	char	   *user;
	char	   *password;		/* plain password, md5 secret or SCRAM secret;
								 * or NULL */
	enum userlist_secret_kind kind;
	bool		have_client_key;
	unsigned char client_key[SCRAM_KEY_LEN];
	bool		have_server_key;
	unsigned char server_key[SCRAM_KEY_LEN];
	struct scram_client scram;
	const char *error;
};

struct auth_client *
auth_client_new(const char *user, const char *password,
				const unsigned char *client_key, const unsigned char *server_key)
{
	struct auth_client *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->user = strdup(user ? user : "");
	a->password = dup_or_null(password);
	if (!a->user || (password && !a->password))
	{
		auth_client_free(a);
		return NULL;
	}
	a->kind = password ? userlist_secret_kind(password) : USERLIST_SECRET_PLAIN;
	if (client_key)
	{
		memcpy(a->client_key, client_key, SCRAM_KEY_LEN);
		a->have_client_key = true;
	}
	if (server_key)
	{
		memcpy(a->server_key, server_key, SCRAM_KEY_LEN);
		a->have_server_key = true;
	}
	else if (password && a->kind == USERLIST_SECRET_SCRAM)
	{
		/* a stored SCRAM secret tells us the ServerKey: verify the server */
		struct scram_secret s;

		if (scram_parse_secret(password, &s) == 0)
		{
			memcpy(a->server_key, s.server_key, SCRAM_KEY_LEN);
			a->have_server_key = true;
		}
		OPENSSL_cleanse(&s, sizeof s);
	}
	a->error = "";
	return a;
}

const char *
auth_client_error(const struct auth_client *a)
{
	return a->error;
}

static enum auth_status
cli_fail(struct auth_client *a, enum auth_status st, const char *why)
{
	a->state = C_FAILED;
	a->error = why;
	return st;
}

static bool
has_plain(const struct auth_client *a)
{
	return a->password && a->kind == USERLIST_SECRET_PLAIN;
}

enum auth_status
auth_client_step(struct auth_client *a, const unsigned char *in, size_t len,
				 struct auth_out *out)
{
	uint32_t	code;
	char		msg[SCRAM_MSG_MAX];
	size_t		mlen = 0;

	out->len = 0;
	if (a->state == C_FAILED || a->state == C_DONE)
		return cli_fail(a, AUTH_PROTOCOL_ERROR, "authentication message after the end of authentication");
	if (len < 4)
		return cli_fail(a, AUTH_PROTOCOL_ERROR, "authentication message too short");
	code = get32(in);
	in += 4;
	len -= 4;

	switch (code)
	{
		case AUTH_REQ_OK:
			if (len != 0 || (a->state != C_START && a->state != C_SASL_DONE))
				return cli_fail(a, AUTH_PROTOCOL_ERROR, "unexpected AuthenticationOk");
			a->state = C_DONE;
			return AUTH_OK;

		case AUTH_REQ_PASSWORD:
			{
				size_t		pl;

				if (a->state != C_START)
					return cli_fail(a, AUTH_PROTOCOL_ERROR, "unexpected password request");
				if (!has_plain(a))
					return cli_fail(a, AUTH_FAIL,
									"server asked for a cleartext password and no plain password is configured");
				pl = strlen(a->password) + 1;
				if (pl > sizeof out->data)
					return cli_fail(a, AUTH_FAIL, "password too long");
				memcpy(out->data, a->password, pl);
				out->len = pl;
				return AUTH_CONTINUE;
			}

		case AUTH_REQ_MD5:
			{
				char		secret[36],
							resp[36];
				int			rc;

				if (a->state != C_START || len != 4)
					return cli_fail(a, AUTH_PROTOCOL_ERROR, "malformed md5 request");
				if (has_plain(a))
					rc = auth_md5_secret(a->user, a->password, secret);
				else if (a->password && a->kind == USERLIST_SECRET_MD5)
				{
					memcpy(secret, a->password, 36);
					rc = 0;
				}
				else
					return cli_fail(a, AUTH_FAIL,
									"server asked for md5 and neither a plain password nor an md5 secret is configured");
				if (rc == 0)
					rc = auth_md5_response(secret, in, resp);
				OPENSSL_cleanse(secret, sizeof secret);
				if (rc != 0)
					return cli_fail(a, AUTH_FAIL, "md5 computation failed");
				memcpy(out->data, resp, 36);
				out->len = 36;
				OPENSSL_cleanse(resp, sizeof resp);
				return AUTH_CONTINUE;
			}

		case AUTH_REQ_SASL:
			{
				bool		offered = false;
				size_t		off = 0;
				int32_t		dl;

				if (a->state != C_START)
					return cli_fail(a, AUTH_PROTOCOL_ERROR, "unexpected SASL request");
				while (off < len)
				{
					const unsigned char *nul = memchr(in + off, '\0', len - off);

					if (!nul)
						return cli_fail(a, AUTH_PROTOCOL_ERROR, "malformed SASL mechanism list");
					if (nul == in + off)
						break;	/* empty name ends the list */
					if (strcmp((const char *) in + off, SCRAM_MECHANISM) == 0)
						offered = true;
					off = (size_t) (nul - in) + 1;
				}
				if (!offered)
					return cli_fail(a, AUTH_FAIL, "server offers no SASL mechanism we support");
				if (has_plain(a))
				{
					if (scram_client_init_password(&a->scram, a->password) != 0)
						return cli_fail(a, AUTH_FAIL, "password too long");
				}
				else if (a->have_client_key)
				{
					scram_client_init_keys(&a->scram, a->client_key,
										   a->have_server_key ? a->server_key : NULL);
				}
				else
				{
					return cli_fail(a, AUTH_FAIL,
									a->password && a->kind == USERLIST_SECRET_MD5
									? "server asked for SCRAM and only an md5 secret is configured"
									: a->password ? "server asked for SCRAM and only a SCRAM secret is known; "
									"the client must log in with SCRAM for pass-through"
									: "server asked for a password and none is configured");
				}
				if (scram_client_first(&a->scram, msg, sizeof msg, &mlen) != 0)
					return cli_fail(a, AUTH_FAIL, "could not build SCRAM message");
				off = sizeof(SCRAM_MECHANISM);
				if (off + 4 + mlen > sizeof out->data)
					return cli_fail(a, AUTH_FAIL, "SCRAM message too long");
				memcpy(out->data, SCRAM_MECHANISM, off);
				dl = (int32_t) mlen;
				put32(out->data + off, (uint32_t) dl);
				memcpy(out->data + off + 4, msg, mlen);
				out->len = off + 4 + mlen;
				a->state = C_SASL_SENT_FIRST;
				return AUTH_CONTINUE;
			}

		case AUTH_REQ_SASL_CONT:
			if (a->state != C_SASL_SENT_FIRST)
				return cli_fail(a, AUTH_PROTOCOL_ERROR, "unexpected SASLContinue");
			if (scram_client_final(&a->scram, (const char *) in, len, msg, sizeof msg, &mlen) != 0)
				return cli_fail(a, AUTH_PROTOCOL_ERROR, "invalid SCRAM server-first-message");
			if (mlen > sizeof out->data)
				return cli_fail(a, AUTH_FAIL, "SCRAM message too long");
			memcpy(out->data, msg, mlen);
			out->len = mlen;
			a->state = C_SASL_SENT_FINAL;
			return AUTH_CONTINUE;

		case AUTH_REQ_SASL_FIN:
			{
				int			rc;

				if (a->state != C_SASL_SENT_FINAL)
					return cli_fail(a, AUTH_PROTOCOL_ERROR, "unexpected SASLFinal");
				rc = scram_client_verify(&a->scram, (const char *) in, len);
				scram_client_clear(&a->scram);
				if (rc < 0)
					return cli_fail(a, AUTH_PROTOCOL_ERROR, "invalid SCRAM server-final-message");
				if (rc == 0)
					return cli_fail(a, AUTH_FAIL, "server's SCRAM signature is wrong");
				a->state = C_SASL_DONE;
				return AUTH_CONTINUE;	/* out->len == 0: nothing to send */
			}

		default:
			return cli_fail(a, AUTH_FAIL, "server asked for an authentication method the pooler does not support");
	}
}

void
auth_client_free(struct auth_client *a)
{
	if (!a)
		return;
	free(a->user);
	if (a->password)
	{
		OPENSSL_cleanse(a->password, strlen(a->password));
		free(a->password);
	}
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}
