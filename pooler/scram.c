/*
 * scram.c -- SCRAM-SHA-256 (RFC 5802 / RFC 7677) without channel binding,
 * server and client side, with OpenSSL's PBKDF2, HMAC and SHA-256.
 *
 * Keys (RFC 5802 section 3):
 *   SaltedPassword  = PBKDF2-HMAC-SHA-256(password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 * The server recovers ClientKey = ClientProof XOR ClientSignature and checks
 * H(ClientKey) == StoredKey in constant time.
 *
 * All state lives in caller-provided structs; intermediate keys on the
 * stack are wiped before returning.
 */
#include "scram.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

enum
{
	SRV_INIT = 0, SRV_SENT_FIRST, SRV_DONE, SRV_FAILED,
};
enum
{
	CLI_INIT = 0, CLI_SENT_FIRST, CLI_SENT_FINAL, CLI_DONE, CLI_FAILED,
};

#define MAX_ITERATIONS 10000000

static char test_nonce[SCRAM_NONCE_MAX + 1];
static bool have_test_nonce;

void
scram_test_set_nonce(const char *nonce)
{
	if (nonce && strlen(nonce) <= SCRAM_NONCE_MAX / 2)
	{
		strcpy(test_nonce, nonce);
		have_test_nonce = true;
	}
	else
	{
		have_test_nonce = false;
	}
}

bool
scram_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* ------------------------------------------------------------------------
 * Primitives
 * ------------------------------------------------------------------------ */

/* Base64 encode; returns length written (NUL-terminated) or -1. */
static PP_WUR int
b64_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t		need = 4 * ((len + 2) / 3) + 1;

	if (need > outsz || len > 4096)
		return -1;
	return EVP_EncodeBlock((unsigned char *) out, in, (int) len);
}

/* Base64 decode `len` chars (strict: multiple of 4, valid alphabet).
 * Returns number of bytes written or -1. */
static PP_WUR int
b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
	unsigned char tmp[1024];
	int			n,
				pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof tmp)
		return -1;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char) in[i];

		if (ch == '=')
		{
			if (i < len - 2)
				return -1;
			pad++;
		}
		else if (pad || !(isalnum(ch) || ch == '+' || ch == '/'))
		{
			return -1;
		}
	}
	n = EVP_DecodeBlock(tmp, (const unsigned char *) in, (int) len);
	if (n < 0)
		return -1;
	n -= pad;
	if (n < 0 || (size_t) n > outsz)
	{
		OPENSSL_cleanse(tmp, sizeof tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t) n);
	OPENSSL_cleanse(tmp, sizeof tmp);
	return n;
}

static PP_WUR int
hmac256(const unsigned char *key, size_t keylen, const void *data, size_t len,
		unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int olen = 0;

	if (!HMAC(EVP_sha256(), key, (int) keylen, data, len, out, &olen) || olen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

static PP_WUR int
sha256(const unsigned char *data, size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/*
 * PBKDF2 cache.  One PBKDF2 with 4096 iterations costs about 3 ms of CPU, which
 * would stall the single-threaded pooler at every SCRAM login against a plain
 * auth_file password and at every SCRAM login to a server with a plain password.
 * SaltedPassword depends only on (password, salt, iterations), so the last
 * SCRAM_PBKDF2_CACHE results are kept, keyed by an HMAC of the password under a
 * per-process random key (the password itself is not stored here).
 */
#define SCRAM_PBKDF2_CACHE 64

struct pbkdf2_entry
{
	bool		valid;
	unsigned char pwmac[SCRAM_KEY_LEN];
	unsigned char salt[SCRAM_SALT_MAX];
	size_t		salt_len;
	int			iterations;
	unsigned char salted[SCRAM_KEY_LEN];
	uint64_t	used;
};

static struct pbkdf2_entry pbkdf2_cache[SCRAM_PBKDF2_CACHE];
static uint64_t pbkdf2_tick,
			pbkdf2_hits,
			pbkdf2_misses;
static unsigned char proc_key[SCRAM_KEY_LEN];
static bool have_proc_key;

static PP_WUR int hmac256(const unsigned char *key, size_t keylen, const void *data, size_t len,
						  unsigned char out[SCRAM_KEY_LEN]);

static PP_WUR int
get_proc_key(void)
{
	if (!have_proc_key)
	{
		if (RAND_bytes(proc_key, sizeof proc_key) != 1)
			return -1;
		have_proc_key = true;
	}
	return 0;
}

void
scram_cache_clear(void)
{
	OPENSSL_cleanse(pbkdf2_cache, sizeof pbkdf2_cache);
	pbkdf2_hits = pbkdf2_misses = 0;
}

void
scram_cache_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = pbkdf2_hits;
	*misses = pbkdf2_misses;
}

int
scram_stable_salt(const char *user, const char *password, unsigned char out[16])
{
	unsigned char mac[SCRAM_KEY_LEN];
	char		buf[600];
	int			n;

	if (get_proc_key() != 0)
		return -1;
	n = snprintf(buf, sizeof buf, "salt:%s", user);
	if (n < 0 || (size_t) n + 1 + strlen(password) >= sizeof buf)
		return -1;
	memcpy(buf + n + 1, password, strlen(password));
	if (hmac256(proc_key, sizeof proc_key, buf, (size_t) n + 1 + strlen(password), mac) != 0)
		return -1;
	OPENSSL_cleanse(buf, sizeof buf);
	memcpy(out, mac, 16);
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

static PP_WUR int
salted_password(const char *password, const unsigned char *salt, size_t salt_len,
				int iterations, unsigned char out[SCRAM_KEY_LEN])
{
	unsigned char pwmac[SCRAM_KEY_LEN];
	struct pbkdf2_entry *victim = &pbkdf2_cache[0];

	if (salt_len > SCRAM_SALT_MAX || get_proc_key() != 0 ||
		hmac256(proc_key, sizeof proc_key, password, strlen(password), pwmac) != 0)
		return -1;
	for (int i = 0; i < SCRAM_PBKDF2_CACHE; i++)
	{
		struct pbkdf2_entry *e = &pbkdf2_cache[i];

		if (e->valid && e->iterations == iterations && e->salt_len == salt_len &&
			memcmp(e->salt, salt, salt_len) == 0 && scram_ct_equal(e->pwmac, pwmac, SCRAM_KEY_LEN))
		{
			memcpy(out, e->salted, SCRAM_KEY_LEN);
			e->used = ++pbkdf2_tick;
			pbkdf2_hits++;
			return 0;
		}
		if (!e->valid || (victim->valid && e->used < victim->used))
			victim = e;
	}
	if (PKCS5_PBKDF2_HMAC(password, (int) strlen(password), salt, (int) salt_len, iterations,
						  EVP_sha256(), SCRAM_KEY_LEN, out) != 1)
		return -1;
	pbkdf2_misses++;
	victim->valid = true;
	memcpy(victim->pwmac, pwmac, SCRAM_KEY_LEN);
	memcpy(victim->salt, salt, salt_len);
	victim->salt_len = salt_len;
	victim->iterations = iterations;
	memcpy(victim->salted, out, SCRAM_KEY_LEN);
	victim->used = ++pbkdf2_tick;
	return 0;
}

/* ClientKey and ServerKey from a password. */
static PP_WUR int
keys_from_password(const char *password, const unsigned char *salt, size_t salt_len,
				   int iterations, unsigned char client_key[SCRAM_KEY_LEN],
				   unsigned char server_key[SCRAM_KEY_LEN])
{
	unsigned char sp[SCRAM_KEY_LEN];
	int			rc = -1;

	if (salted_password(password, salt, salt_len, iterations, sp) == 0 &&
		hmac256(sp, sizeof sp, "Client Key", 10, client_key) == 0 &&
		hmac256(sp, sizeof sp, "Server Key", 10, server_key) == 0)
		rc = 0;
	OPENSSL_cleanse(sp, sizeof sp);
	return rc;
}

/* A random printable nonce (base64 of 18 random bytes: 24 chars). */
static PP_WUR int
make_nonce(char *out, size_t outsz)
{
	unsigned char raw[18];

	if (have_test_nonce)
	{
		if (strlen(test_nonce) + 1 > outsz)
			return -1;
		strcpy(out, test_nonce);
		return 0;
	}
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	return b64_encode(raw, sizeof raw, out, outsz) < 0 ? -1 : 0;
}

/* Printable ASCII except ',' (RFC 5802 "printable"). */
static bool
nonce_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

/* Find attribute `a` ("r", "s", ...) at the start of `*p` within [p, end):
 * "a=value,"; sets value/len and advances past the comma.  -1 if absent. */
static PP_WUR int
take_attr(const char **p, const char *end, char a, const char **val, size_t *vlen)
{
	const char *s = *p,
			   *comma;

	if (end - s < 2 || s[0] != a || s[1] != '=')
		return -1;
	s += 2;
	comma = memchr(s, ',', (size_t) (end - s));
	*val = s;
	*vlen = (size_t) ((comma ? comma : end) - s);
	*p = comma ? comma + 1 : end;
	return 0;
}

/* ------------------------------------------------------------------------
 * Secrets
 * ------------------------------------------------------------------------ */

int
scram_parse_secret(const char *text, struct scram_secret *out)
{
	const char *p,
			   *colon,
			   *dollar,
			   *colon2;
	char	   *end;
	long		iter;
	int			n;

	if (strncmp(text, "SCRAM-SHA-256$", 14) != 0)
		return -1;
	p = text   +14;

	iter = strtol(p, &end, 10);
	if (end == p || *end != ':' || iter < 1 || iter > MAX_ITERATIONS)
		return -1;
	colon = end;
	dollar = strchr(colon + 1, '$');
	if (!dollar)
		return -1;
	n = b64_decode(colon + 1, (size_t) (dollar - colon - 1), out->salt, sizeof out->salt);
	if (n <= 0)
		return -1;
	out->salt_len = (size_t) n;
	colon2 = strchr(dollar + 1, ':');
	if (!colon2)
		return -1;
	if (b64_decode(dollar + 1, (size_t) (colon2 - dollar - 1), out->stored_key,
				   SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
		return -1;
	if (b64_decode(colon2 + 1, strlen(colon2 + 1), out->server_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
		return -1;
	out->iterations = (int) iter;
	return 0;
}

int
scram_make_secret(const char *password, const unsigned char *salt, size_t salt_len,
				  int iterations, struct scram_secret *out)
{
	unsigned char ck[SCRAM_KEY_LEN];
	int			rc;

	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations < 1 || iterations > MAX_ITERATIONS)
		return -1;
	rc = keys_from_password(password, salt, salt_len, iterations, ck, out->server_key);
	if (rc == 0)
		rc = sha256(ck, sizeof ck, out->stored_key);
	OPENSSL_cleanse(ck, sizeof ck);
	if (rc != 0)
		return -1;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	return 0;
}

int
scram_make_secret_random(const char *password, int iterations, struct scram_secret *out)
{
	unsigned char salt[16];

	if (RAND_bytes(salt, sizeof salt) != 1)
		return -1;
	return scram_make_secret(password, salt, sizeof salt, iterations, out);
}

int
scram_format_secret(const struct scram_secret *s, char *buf, size_t buflen)
{
	char		salt[SCRAM_SALT_MAX * 2],
				sk[64],
				svk[64];
	int			n;

	if (b64_encode(s->salt, s->salt_len, salt, sizeof salt) < 0 ||
		b64_encode(s->stored_key, SCRAM_KEY_LEN, sk, sizeof sk) < 0 ||
		b64_encode(s->server_key, SCRAM_KEY_LEN, svk, sizeof svk) < 0)
		return -1;
	n = snprintf(buf, buflen, "SCRAM-SHA-256$%d:%s$%s:%s", s->iterations, salt, sk, svk);
	return n < 0 || (size_t) n >= buflen ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * Server side
 * ------------------------------------------------------------------------ */

void
scram_server_init(struct scram_server *s, const struct scram_secret *secret)
{
	memset(s, 0, sizeof *s);
	if (secret)
	{
		s->secret = *secret;
	}
	else
	{
		/*
		 * A mock secret that no proof can match: a random salt so the
		 * exchange looks like any other.
		 */
		s->mock = true;
		s->secret.iterations = SCRAM_DEFAULT_ITERATIONS;
		s->secret.salt_len = 16;
		if (RAND_bytes(s->secret.salt, 16) != 1)
			memset(s->secret.salt, 0x5a, 16);
	}
	s->state = SRV_INIT;
}

int
scram_server_first(struct scram_server *s, const char *msg, size_t len, char *out,
				   size_t outsz, size_t *outlen)
{
	const char *p = msg,
			   *end = msg + len,
			   *bare,
			   *val;
	size_t		vlen,
				hlen;
	char		snonce[SCRAM_NONCE_MAX / 2 + 1],
				salt64[SCRAM_SALT_MAX * 2];
	int			n;

	if (s->state != SRV_INIT || len == 0 || len >= SCRAM_MSG_MAX || memchr(msg, '\0', len))
		goto fail;
	/* gs2-header: cbind-flag "," [authzid] "," */
	if (p[0] == 'p')
		goto fail;				/* channel binding: we did not offer -PLUS */
	if ((p[0] != 'n' && p[0] != 'y') || len < 3 || p[1] != ',')
		goto fail;
	p += 2;
	/* an authorization identity ("a=...") is refused, as PostgreSQL does */
	if (p >= end || *p != ',')
		goto fail;
	p++;
	hlen = (size_t) (p - msg);
	if (hlen >= sizeof s->gs2_header)
		goto fail;
	memcpy(s->gs2_header, msg, hlen);
	s->gs2_header[hlen] = '\0';

	bare = p;
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
		goto fail;				/* mandatory extension: unsupported */
	if (take_attr(&p, end, 'n', &val, &vlen) != 0)
		goto fail;				/* user name: ignored, as PostgreSQL does */
	if (take_attr(&p, end, 'r', &val, &vlen) != 0 || !nonce_ok(val, vlen) ||
		vlen > SCRAM_NONCE_MAX / 2)
		goto fail;
	memcpy(s->client_first_bare, bare, (size_t) (end - bare));
	s->client_first_bare[end - bare] = '\0';

	if (make_nonce(snonce, sizeof snonce) != 0)
		goto fail;
	n = snprintf(s->nonce, sizeof s->nonce, "%.*s%s", (int) vlen, val, snonce);
	if (n < 0 || (size_t) n >= sizeof s->nonce)
		goto fail;
	if (b64_encode(s->secret.salt, s->secret.salt_len, salt64, sizeof salt64) < 0)
		goto fail;
	n = snprintf(s->server_first, sizeof s->server_first, "r=%s,s=%s,i=%d", s->nonce, salt64,
				 s->secret.iterations);
	if (n < 0 || (size_t) n >= sizeof s->server_first || (size_t) n >= outsz)
		goto fail;
	memcpy(out, s->server_first, (size_t) n + 1);
	*outlen = (size_t) n;
	s->state = SRV_SENT_FIRST;
	return 0;
fail:
	s->state = SRV_FAILED;
	return -1;
}

int
scram_server_final(struct scram_server *s, const char *msg, size_t len, char *out,
				   size_t outsz, size_t *outlen)
{
	const char *p = msg,
			   *end = msg + len,
			   *val,
			   *proof_attr;
	size_t		vlen;
	char		cbind[16],
				authmsg[3 * SCRAM_MSG_MAX];
	unsigned char proof[SCRAM_KEY_LEN],
				sig[SCRAM_KEY_LEN],
				ck[SCRAM_KEY_LEN],
				h[SCRAM_KEY_LEN];
	unsigned char ssig[SCRAM_KEY_LEN];
	char		ssig64[64];
	int			n,
				result = -1;

	if (s->state != SRV_SENT_FIRST || len == 0 || len >= SCRAM_MSG_MAX || memchr(msg, '\0', len))
		goto done;
	/* c=base64(gs2-header) must match what the client sent first */
	if (take_attr(&p, end, 'c', &val, &vlen) != 0)
		goto done;
	if (b64_encode((const unsigned char *) s->gs2_header, strlen(s->gs2_header), cbind,
				   sizeof cbind) < 0 || vlen != strlen(cbind) || memcmp(val, cbind, vlen) != 0)
		goto done;
	if (take_attr(&p, end, 'r', &val, &vlen) != 0 || vlen != strlen(s->nonce) ||
		memcmp(val, s->nonce, vlen) != 0)
		goto done;
	/* skip extensions up to the proof, which must be last */
	while (p < end && !(end - p >= 2 && p[0] == 'p' && p[1] == '='))
	{
		const char *c = memchr(p, ',', (size_t) (end - p));

		if (!c)
			goto done;
		p = c + 1;
	}
	proof_attr = p;
	if (take_attr(&p, end, 'p', &val, &vlen) != 0 || p != end)
		goto done;
	if (b64_decode(val, vlen, proof, sizeof proof) != SCRAM_KEY_LEN)
		goto done;

	/*
	 * AuthMessage = client-first-bare , server-first ,
	 * client-final-without-proof
	 */
	n = snprintf(authmsg, sizeof authmsg, "%s,%s,%.*s", s->client_first_bare, s->server_first,
				 (int) (proof_attr - 1 - msg), msg);
	if (n < 0 || (size_t) n >= sizeof authmsg || proof_attr == msg)
		goto done;
	if (hmac256(s->secret.stored_key, SCRAM_KEY_LEN, authmsg, (size_t) n, sig) != 0)
		goto done;
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		ck[i] = proof[i] ^ sig[i];
	if (sha256(ck, sizeof ck, h) != 0)
		goto done;
	if (!scram_ct_equal(h, s->secret.stored_key, SCRAM_KEY_LEN) || s->mock)
	{
		result = 0;
		goto done;
	}
	if (hmac256(s->secret.server_key, SCRAM_KEY_LEN, authmsg, (size_t) n, ssig) != 0 ||
		b64_encode(ssig, sizeof ssig, ssig64, sizeof ssig64) < 0)
		goto done;
	n = snprintf(out, outsz, "v=%s", ssig64);
	if (n < 0 || (size_t) n >= outsz)
		goto done;
	*outlen = (size_t) n;
	memcpy(s->client_key, ck, sizeof ck);
	result = 1;
done:
	s->state = result == 1 ? SRV_DONE : SRV_FAILED;
	OPENSSL_cleanse(proof, sizeof proof);
	OPENSSL_cleanse(ck, sizeof ck);
	OPENSSL_cleanse(sig, sizeof sig);
	return result;
}

const unsigned char *
scram_server_client_key(const struct scram_server *s)
{
	return s->state == SRV_DONE ? s->client_key : NULL;
}

void
scram_server_clear(struct scram_server *s)
{
	OPENSSL_cleanse(s, sizeof *s);
}

/* ------------------------------------------------------------------------
 * Client side
 * ------------------------------------------------------------------------ */

int
scram_client_init_password(struct scram_client *c, const char *password)
{
	memset(c, 0, sizeof *c);
	if (strlen(password) >= sizeof c->password)
		return -1;
	strcpy(c->password, password);
	c->have_password = true;
	return 0;
}

void
scram_client_init_keys(struct scram_client *c, const unsigned char client_key[SCRAM_KEY_LEN],
					   const unsigned char *server_key)
{
	memset(c, 0, sizeof *c);
	memcpy(c->client_key, client_key, SCRAM_KEY_LEN);
	if (server_key)
	{
		memcpy(c->server_key, server_key, SCRAM_KEY_LEN);
		c->have_server_key = true;
	}
}

int
scram_client_first(struct scram_client *c, char *out, size_t outsz, size_t *outlen)
{
	int			n;

	if (c->state != CLI_INIT || make_nonce(c->client_nonce, sizeof c->client_nonce) != 0)
		goto fail;
	n = snprintf(c->client_first_bare, sizeof c->client_first_bare, "n=,r=%s", c->client_nonce);
	if (n < 0 || (size_t) n >= sizeof c->client_first_bare)
		goto fail;
	n = snprintf(out, outsz, "n,,%s", c->client_first_bare);
	if (n < 0 || (size_t) n >= outsz)
		goto fail;
	*outlen = (size_t) n;
	c->state = CLI_SENT_FIRST;
	return 0;
fail:
	c->state = CLI_FAILED;
	return -1;
}

int
scram_client_final(struct scram_client *c, const char *msg, size_t len, char *out,
				   size_t outsz, size_t *outlen)
{
	const char *p = msg,
			   *end = msg + len,
			   *nonce,
			   *salt64,
			   *iters;
	size_t		nlen,
				slen,
				ilen;
	unsigned char salt[SCRAM_SALT_MAX],
				ck[SCRAM_KEY_LEN],
				sk[SCRAM_KEY_LEN];
	unsigned char stored[SCRAM_KEY_LEN],
				sig[SCRAM_KEY_LEN],
				proof[SCRAM_KEY_LEN];
	char		authmsg[3 * SCRAM_MSG_MAX],
				wo_proof[SCRAM_MSG_MAX],
				proof64[64],
				ibuf[16];
	char	   *iend;
	long		iter;
	int			saltn,
				n,
				rc = -1;

	if (c->state != CLI_SENT_FIRST || len == 0 || len >= SCRAM_MSG_MAX || memchr(msg, '\0', len))
		goto done;
	if (take_attr(&p, end, 'r', &nonce, &nlen) != 0 || take_attr(&p, end, 's', &salt64, &slen) != 0 ||
		take_attr(&p, end, 'i', &iters, &ilen) != 0)
		goto done;
	/* the combined nonce starts with ours and adds something */
	if (nlen <= strlen(c->client_nonce) || memcmp(nonce, c->client_nonce, strlen(c->client_nonce)) != 0 ||
		!nonce_ok(nonce, nlen))
		goto done;
	saltn = b64_decode(salt64, slen, salt, sizeof salt);
	if (saltn <= 0 || ilen == 0 || ilen >= sizeof ibuf)
		goto done;
	memcpy(ibuf, iters, ilen);
	ibuf[ilen] = '\0';
	iter = strtol(ibuf, &iend, 10);
	if (*iend != '\0' || iter < 1 || iter > MAX_ITERATIONS)
		goto done;
	memcpy(c->server_first, msg, len);
	c->server_first[len] = '\0';

	if (c->have_password)
	{
		if (keys_from_password(c->password, salt, (size_t) saltn, (int) iter, ck, sk) != 0)
			goto done;
		memcpy(c->server_key, sk, sizeof sk);
		c->have_server_key = true;
	}
	else
	{
		memcpy(ck, c->client_key, sizeof ck);
	}
	n = snprintf(wo_proof, sizeof wo_proof, "c=biws,r=%.*s", (int) nlen, nonce);
	if (n < 0 || (size_t) n >= sizeof wo_proof)
		goto done;
	n = snprintf(authmsg, sizeof authmsg, "%s,%s,%s", c->client_first_bare, c->server_first, wo_proof);
	if (n < 0 || (size_t) n >= sizeof authmsg)
		goto done;
	if (sha256(ck, sizeof ck, stored) != 0 || hmac256(stored, sizeof stored, authmsg, (size_t) n, sig) != 0)
		goto done;
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = ck[i] ^ sig[i];
	if (c->have_server_key &&
		hmac256(c->server_key, SCRAM_KEY_LEN, authmsg, (size_t) n, c->expected_server_sig) != 0)
		goto done;
	if (b64_encode(proof, sizeof proof, proof64, sizeof proof64) < 0)
		goto done;
	n = snprintf(out, outsz, "%s,p=%s", wo_proof, proof64);
	if (n < 0 || (size_t) n >= outsz)
		goto done;
	*outlen = (size_t) n;
	rc = 0;
done:
	OPENSSL_cleanse(ck, sizeof ck);
	OPENSSL_cleanse(sk, sizeof sk);
	OPENSSL_cleanse(proof, sizeof proof);
	OPENSSL_cleanse(sig, sizeof sig);
	c->state = rc == 0 ? CLI_SENT_FINAL : CLI_FAILED;
	return rc;
}

int
scram_client_verify(struct scram_client *c, const char *msg, size_t len)
{
	const char *p = msg,
			   *end = msg + len,
			   *val;
	size_t		vlen;
	unsigned char sig[SCRAM_KEY_LEN];
	int			rc = -1;

	if (c->state != CLI_SENT_FINAL || memchr(msg, '\0', len))
		goto done;
	if (len >= 2 && msg[0] == 'e' && msg[1] == '=')
	{
		rc = 0;
		goto done;
	}
	if (take_attr(&p, end, 'v', &val, &vlen) != 0)
		goto done;
	if (b64_decode(val, vlen, sig, sizeof sig) != SCRAM_KEY_LEN)
		goto done;
	if (!c->have_server_key)
		rc = 1;					/* started from a ClientKey alone: cannot
								 * check */
	else
		rc = scram_ct_equal(sig, c->expected_server_sig, SCRAM_KEY_LEN) ? 1 : 0;
done:
	c->state = rc == 1 ? CLI_DONE : CLI_FAILED;
	return rc;
}

void
scram_client_clear(struct scram_client *c)
{
	OPENSSL_cleanse(c, sizeof *c);
}
