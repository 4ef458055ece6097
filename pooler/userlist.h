/*
 * userlist.h -- the auth_file in PgBouncer's userlist.txt format.
 *
 * One user per line: "user" "secret" (double quotes; a doubled "" inside a
 * quoted string is a literal quote; anything after the second field is
 * ignored; lines starting with ';' or '#' and blank lines are skipped).
 * The secret is either a plain password, an md5 secret ("md5" + 32 hex
 * digits of md5(password || user)) or a SCRAM secret
 * ("SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>"),
 * exactly what pg_authid.rolpassword holds.
 *
 * Ownership: userlist_load() allocates one struct userlist that owns every
 * string; userlist_find() returns pointers into it, valid until
 * userlist_free().  Reload = load a new one, swap, free the old.
 */
#ifndef PGPLUMB_POOLER_USERLIST_H
#define PGPLUMB_POOLER_USERLIST_H

#include <stddef.h>

#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

enum userlist_secret_kind
{
	USERLIST_SECRET_PLAIN = 0,
	USERLIST_SECRET_MD5,
	USERLIST_SECRET_SCRAM,
};

struct userlist;				/* opaque */

/* Load `path`.  Returns 0 and *out (free with userlist_free), or -1 with a
 * message naming file and line in errbuf (never containing a secret) and
 * *out untouched.  A missing file is an error.  Duplicate users: the last
 * line wins (as PgBouncer). */
int			userlist_load(const char *path, struct userlist **out, char *errbuf, size_t errlen) PP_WUR;

/* Parse from memory (for tests); same contract, `name` used in messages. */
int			userlist_load_string(const char *text, const char *name, struct userlist **out,
								 char *errbuf, size_t errlen) PP_WUR;

/* The secret stored for `user`, or NULL if the user is not listed. */
const char *userlist_find(const struct userlist *ul, const char *user);

/* Number of users. */
size_t		userlist_count(const struct userlist *ul);

/* Classify a secret string (plain / md5 / SCRAM).  A string that looks
 * like "md5" + 32 lower-case hex digits is md5; one that parses as a SCRAM
 * secret is SCRAM; anything else is plain. */
enum userlist_secret_kind userlist_secret_kind(const char *secret);

void		userlist_free(struct userlist *ul);

#endif							/* PGPLUMB_POOLER_USERLIST_H */
