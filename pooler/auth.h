/*
 * auth.h -- authentication exchanges of the pooler, as pure state machines
 * over PostgreSQL message *payloads* (bytes after the type byte and length),
 * so that the socket code only frames and relays:
 *
 *   auth_server: we are the server, checking a client ('R' out, 'p' in);
 *   auth_client: we are the client, logging in to PostgreSQL ('R' in, 'p' out).
 *
 * Methods: trust / any / plain / md5 / scram-sha-256 towards clients, against
 * a secret from the auth_file (plain, md5 or SCRAM secret); towards servers
 * whatever the server asks (cleartext, md5, SCRAM-SHA-256, or nothing) with
 * a plain password, an md5 secret (md5 only) or a ClientKey recovered from
 * the client's own SCRAM login (SCRAM pass-through).
 *
 * Ownership: *_new() allocate; *_free() wipe secrets and free.  The state
 * copies what it needs from its arguments (callers may free them after
 * *_new()).  Output goes into a caller-provided struct auth_out (fixed size,
 * no allocation).  Nothing here logs, and no error text contains a
 * password, secret or proof.
 */
#ifndef PGPLUMB_POOLER_AUTH_H
#define PGPLUMB_POOLER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

/* Authentication request codes (first int32 of an 'R' payload). */
#define AUTH_REQ_OK		0
#define AUTH_REQ_PASSWORD	3
#define AUTH_REQ_MD5		5
#define AUTH_REQ_SASL		10
#define AUTH_REQ_SASL_CONT	11
#define AUTH_REQ_SASL_FIN	12

#define AUTH_OUT_MAX 640

/* One message payload to send (without type byte and length). */
struct auth_out
{
	unsigned char data[AUTH_OUT_MAX];
	size_t		len;			/* 0 = nothing to send */
};

enum auth_status
{
	AUTH_CONTINUE = 0,			/* send `out` if len > 0, then wait for the
								 * next message */
	AUTH_OK,					/* done, authenticated (see each function for
								 * `out`) */
	AUTH_FAIL,					/* wrong password / cannot authenticate */
	AUTH_PROTOCOL_ERROR,		/* malformed or unexpected message */
};

/* ---- towards clients ------------------------------------------------- */

struct auth_server;

/*
 * `auth_type` is an enum cfg_auth_type; `user` the startup user; `secret`
 * the auth_file secret for that user or NULL if the user is unknown (for
 * password methods the exchange then runs normally and fails at the end, so
 * it does not reveal which users exist).  `scram_iterations` is used when a
 * SCRAM exchange runs against a plain-password secret.  With auth_type md5
 * and a SCRAM secret, the exchange is upgraded to SCRAM (as PgBouncer).
 * trust/any succeed whatever the secret (the caller decides whether an
 * unknown user is acceptable).  Returns NULL only when out of memory.
 */
struct auth_server *auth_server_new(int auth_type, const char *user, const char *secret,
									int scram_iterations);

/*
 * First step.  AUTH_CONTINUE: send an 'R' message with payload `out`, read
 * the client's next message, which must be 'p', and pass its payload to
 * auth_server_step().  AUTH_OK: nothing to ask; send AuthenticationOk.
 */
enum auth_status auth_server_start(struct auth_server *a, struct auth_out *out) PP_WUR;

/*
 * Feed the payload of a 'p' message.
 * AUTH_CONTINUE: send 'R' with `out`, wait for the next 'p'.
 * AUTH_OK: send 'R' with `out` first if out->len > 0 (SASL final), then
 *   AuthenticationOk (R code 0), then go on with the login.
 * AUTH_FAIL: send ErrorResponse 28P01
 *   `password authentication failed for user "<user>"` and close.
 * AUTH_PROTOCOL_ERROR: send ErrorResponse 08P01 and close.
 */
enum auth_status auth_server_step(struct auth_server *a, const unsigned char *in, size_t len,
								  struct auth_out *out) PP_WUR;

/* The mechanism actually used ("trust", "md5", "SCRAM-SHA-256", ...). */
const char *auth_server_method(const struct auth_server *a);

/* After AUTH_OK of a SCRAM exchange against a stored SCRAM secret: copies
 * the client's ClientKey into key (for SCRAM pass-through to the server)
 * and returns true; false otherwise. */
bool		auth_server_client_key(const struct auth_server *a, unsigned char key[32]);

void		auth_server_free(struct auth_server *a);

/* ---- towards servers ------------------------------------------------- */

struct auth_client;

/*
 * `password`: a plain password, an md5 secret ("md5..."), or NULL.
 * `client_key`: NULL, or 32 bytes from auth_server_client_key() (used for
 * SCRAM when no plain password is known; `server_key` may then be given to
 * verify the server, or NULL).  Returns NULL only when out of memory.
 */
struct auth_client *auth_client_new(const char *user, const char *password,
									const unsigned char *client_key,
									const unsigned char *server_key);

/*
 * Feed the payload of each 'R' message the server sends during login.
 * AUTH_CONTINUE: send a 'p' message with payload `out` (out->len may be
 *   0 only for SASL-final, then nothing is sent); wait for the next 'R'.
 * AUTH_OK: AuthenticationOk received; the login goes on (ParameterStatus,
 *   BackendKeyData, ReadyForQuery).
 * AUTH_FAIL: we cannot answer (no usable password for the requested method,
 *   unsupported method, or the server's SCRAM signature is wrong);
 *   auth_client_error() says why.  Close the connection.
 * AUTH_PROTOCOL_ERROR: malformed message.
 */
enum auth_status auth_client_step(struct auth_client *a, const unsigned char *in, size_t len,
								  struct auth_out *out) PP_WUR;

/* Why the last step failed (static or internal text, never a secret). */
const char *auth_client_error(const struct auth_client *a);

void		auth_client_free(struct auth_client *a);

/* ---- md5 helpers ----------------------------------------------------- */

/* out = "md5" + hex(md5(password || user)), NUL-terminated (36 bytes). 0/-1. */
int			auth_md5_secret(const char *user, const char *password, char out[36]) PP_WUR;

/* out = "md5" + hex(md5(hex-part-of-md5secret || salt)): the PasswordMessage
 * for an md5 request, from an md5 secret. 0/-1. */
int			auth_md5_response(const char *md5_secret, const unsigned char salt[4], char out[36]) PP_WUR;

#endif							/* PGPLUMB_POOLER_AUTH_H */
