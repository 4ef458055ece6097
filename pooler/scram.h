/*
 * scram.h -- SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding,
 * both sides, on OpenSSL.  PostgreSQL's flavour: the user name in the
 * client-first message is ignored (sent empty by libpq), gs2 header "n,,"
 * (or "y,," from a client that could bind but thinks we cannot).
 *
 * This module only builds and checks SASL *data* (the strings inside
 * SASLInitialResponse / AuthenticationSASLContinue / ...); auth.c wraps
 * them into PostgreSQL message payloads.  No allocation: the state structs
 * have fixed sizes and live wherever the caller puts them.  Nothing here
 * logs.  Passwords are used as given (no SASLprep: for ASCII passwords that
 * is what PostgreSQL does too).  Secrets and proofs are compared in
 * constant time and wiped (OPENSSL_cleanse) by scram_*_clear().
 */
#ifndef PGPLUMB_POOLER_SCRAM_H
#define PGPLUMB_POOLER_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

#define SCRAM_KEY_LEN 32		/* SHA-256 output */
#define SCRAM_SALT_MAX 64		/* bytes of raw salt we accept */
#define SCRAM_NONCE_MAX 128		/* chars of a combined nonce we accept */
#define SCRAM_MSG_MAX 512		/* longest SCRAM message we build or keep */
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MECHANISM "SCRAM-SHA-256"

/* A parsed SCRAM secret (as in pg_authid.rolpassword). */
struct scram_secret
{
	int			iterations;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t		salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Parse "SCRAM-SHA-256$iter:salt$stored:server".  0 or -1 if malformed. */
int			scram_parse_secret(const char *text, struct scram_secret *out) PP_WUR;

/* Derive a secret from a password with the given salt and iterations. 0/-1. */
int			scram_make_secret(const char *password, const unsigned char *salt, size_t salt_len,
							  int iterations, struct scram_secret *out) PP_WUR;

/* Same with a random 16-byte salt. 0/-1. */
int			scram_make_secret_random(const char *password, int iterations,
									 struct scram_secret *out) PP_WUR;

/* Format a secret as text into buf.  0, or -1 if buflen is too small. */
int			scram_format_secret(const struct scram_secret *s, char *buf, size_t buflen) PP_WUR;

/* ---- server side (we verify a client) ------------------------------- */

struct scram_server
{
	struct scram_secret secret;
	bool		mock;			/* unknown user: run the exchange, always fail */
	int			state;			/* internal */
	char		client_first_bare[SCRAM_MSG_MAX];
	char		server_first[SCRAM_MSG_MAX];
	char		nonce[SCRAM_NONCE_MAX + 1]; /* combined nonce */
	char		gs2_header[8];
	unsigned char client_key[SCRAM_KEY_LEN];	/* recovered on success */
};

/* Start with a stored secret (NULL secret = unknown user: a mock exchange
 * that looks normal and always fails at the proof). */
void		scram_server_init(struct scram_server *s, const struct scram_secret *secret);

/*
 * Take the client-first-message (data of SASLInitialResponse) and write the
 * server-first-message into out (NUL-terminated; *outlen = its length).
 * Returns 0, or -1 if the message is malformed or asks for channel binding
 * ("p=..."), in which case authentication must fail.
 */
int			scram_server_first(struct scram_server *s, const char *msg, size_t len,
							   char *out, size_t outsz, size_t *outlen) PP_WUR;

/*
 * Take the client-final-message (data of SASLResponse), verify nonce and
 * proof, and on success write the server-final-message ("v=...") into out.
 * Returns 1 = proof valid, 0 = proof wrong (or mock), -1 = malformed.
 */
int			scram_server_final(struct scram_server *s, const char *msg, size_t len,
							   char *out, size_t outsz, size_t *outlen) PP_WUR;

/* After scram_server_final() returned 1: the client's ClientKey, which
 * lets the pooler log in to a server holding the same secret. */
const unsigned char *scram_server_client_key(const struct scram_server *s);

void		scram_server_clear(struct scram_server *s);

/* ---- client side (we log in to PostgreSQL) ------------------------- */

struct scram_client
{
	int			state;			/* internal */
	bool		have_password;
	char		password[256];
	unsigned char client_key[SCRAM_KEY_LEN];	/* when started from keys */
	unsigned char server_key[SCRAM_KEY_LEN];
	bool		have_server_key;
	char		client_nonce[64];
	char		client_first_bare[SCRAM_MSG_MAX];
	char		server_first[SCRAM_MSG_MAX];
	unsigned char expected_server_sig[SCRAM_KEY_LEN];
};

/* Start from a plain password.  0, or -1 if the password is too long. */
int			scram_client_init_password(struct scram_client *c, const char *password) PP_WUR;

/* Start from a ClientKey (from scram_server_client_key()) and, if known,
 * the ServerKey of the same secret (NULL: the server's signature cannot be
 * checked and is accepted).  The server must use the same salt and
 * iteration count as the secret the keys came from. */
void		scram_client_init_keys(struct scram_client *c, const unsigned char client_key[SCRAM_KEY_LEN],
								   const unsigned char *server_key);

/* Build client-first-message into out. 0/-1. */
int			scram_client_first(struct scram_client *c, char *out, size_t outsz, size_t *outlen) PP_WUR;

/* Take server-first-message, build client-final-message. 0/-1 (malformed,
 * nonce mismatch, iteration count out of range). */
int			scram_client_final(struct scram_client *c, const char *msg, size_t len,
							   char *out, size_t outsz, size_t *outlen) PP_WUR;

/* Check server-final-message.  1 = server proved it knows the secret,
 * 0 = wrong signature or "e=" error, -1 = malformed. */
int			scram_client_verify(struct scram_client *c, const char *msg, size_t len) PP_WUR;

void		scram_client_clear(struct scram_client *c);

/* A salt that is the same for (user, password) during this process's life and
 * unpredictable outside it (HMAC under a random per-process key).  Used for SCRAM
 * against plain auth_file passwords so that the PBKDF2 cache below can serve
 * repeated logins.  0/-1. */
int			scram_stable_salt(const char *user, const char *password, unsigned char out[16]) PP_WUR;

/* SaltedPassword values are cached (64 entries, LRU) because PBKDF2 costs
 * milliseconds of CPU.  For tests and RELOAD: drop the cache; read counters. */
void		scram_cache_clear(void);
void		scram_cache_stats(uint64_t *hits, uint64_t *misses);

/* For tests: set the nonce the next scram_*_first() uses instead of a
 * random one (NULL = back to random).  Not for production use. */
void		scram_test_set_nonce(const char *nonce);

/* Constant-time comparison; true if equal. */
bool		scram_ct_equal(const void *a, const void *b, size_t len);

#endif							/* PGPLUMB_POOLER_SCRAM_H */
