/*
 * userlist.c -- reads the auth_file (PgBouncer's userlist.txt format) into a
 * sorted array of (user, secret) pairs looked up by binary search.
 *
 * Format: `"user" "secret"` per line; inside quotes "" stands for one ".
 * Blank lines and lines starting with ';' or '#' are skipped; anything after
 * the second quoted field is ignored.  A line that starts otherwise, or has
 * an unterminated quote, is an error naming file and line (never the secret).
 */
#include "userlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"

struct userlist_entry
{
	char	   *user;
	char	   *secret;
	size_t		order;			/* line order, so that the last duplicate wins */
};

struct userlist
{
	struct userlist_entry *e;
	size_t		n;
};

static void
wipe_free(char *s)
{
	if (s)
	{
		volatile char *p = s;

		while (*p)
			*p++ = '\0';
		free(s);
	}
}

void
userlist_free(struct userlist *ul)
{
	if (!ul)
		return;
	for (size_t i = 0; i < ul->n; i++)
	{
		free(ul->e[i].user);
		wipe_free(ul->e[i].secret);
	}
	free(ul->e);
	free(ul);
}

/* Read one quoted field at *pp; returns a malloc'd string or NULL
 * (*bad set when the syntax is wrong, not set when out of memory). */
static char *
quoted_field(const char **pp, bool *bad)
{
	const char *p = *pp;
	char	   *out,
			   *o;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"')
	{
		*bad = true;
		return NULL;
	}
	p++;
	out = malloc(strlen(p) + 1);
	if (!out)
		return NULL;
	o = out;
	for (;;)
	{
		if (*p == '\0' || *p == '\n')
		{
			free(out);
			*bad = true;
			return NULL;
		}
		if (*p == '"')
		{
			if (p[1] == '"')
			{
				*o++ = '"';
				p += 2;
				continue;
			}
			p++;
			break;
		}
		*o++ = *p++;
	}
	*o = '\0';
	*pp = p;
	return out;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct userlist_entry *x = a,
			   *y = b;
	int			c = strcmp(x->user, y->user);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

int
userlist_load_string(const char *text, const char *name, struct userlist **out,
					 char *errbuf, size_t errlen)
{
	struct userlist *ul = calloc(1, sizeof *ul);
	size_t		cap = 0,
				lineno = 0;
	const char *line = text;

	if (errlen)
		errbuf[0] = '\0';
	if (!ul)
		goto oom;
	while (line && *line)
	{
		const char *p = line,
				   *next = strchr(line, '\n');
		bool		bad = false;
		char	   *user,
				   *secret;

		lineno++;
		line = next ? next + 1 : NULL;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\n' || *p == '\0' || *p == ';' || *p == '#')
			continue;
		user = quoted_field(&p, &bad);
		if (!user && !bad)
			goto oom;
		secret = user ? quoted_field(&p, &bad) : NULL;
		if (!secret)
		{
			free(user);
			if (!bad)
				goto oom;
			snprintf(errbuf, errlen, "%s:%zu: expected \"user\" \"secret\" in double quotes",
					 name, lineno);
			userlist_free(ul);
			return -1;
		}
		if (user[0] == '\0')
		{
			free(user);
			wipe_free(secret);
			snprintf(errbuf, errlen, "%s:%zu: empty user name", name, lineno);
			userlist_free(ul);
			return -1;
		}
		if (ul->n == cap)
		{
			size_t		ncap = cap ? cap * 2 : 16;
			struct userlist_entry *ne = realloc(ul->e, ncap * sizeof *ne);

			if (!ne)
			{
				free(user);
				wipe_free(secret);
				goto oom;
			}
			ul->e = ne;
			cap = ncap;
		}
		ul->e[ul->n].user = user;
		ul->e[ul->n].secret = secret;
		ul->e[ul->n].order = ul->n;
		ul->n++;
	}
	/* sort by (user, order); keep only the last line of each user */
	if (ul->n > 1)
	{
		size_t		w = 0;

		qsort(ul->e, ul->n, sizeof *ul->e, cmp_entry);
		for (size_t i = 0; i < ul->n; i++)
		{
			if (i + 1 < ul->n && strcmp(ul->e[i].user, ul->e[i + 1].user) == 0)
			{
				free(ul->e[i].user);
				wipe_free(ul->e[i].secret);
				continue;
			}
			ul->e[w++] = ul->e[i];
		}
		ul->n = w;
	}
	*out = ul;
	return 0;
oom:
	snprintf(errbuf, errlen, "%s: out of memory", name);
	userlist_free(ul);
	return -1;
}

int
userlist_load(const char *path, struct userlist **out, char *errbuf, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char	   *text = NULL;
	size_t		len = 0;
	int			rc;

	if (!f)
	{
		snprintf(errbuf, errlen, "could not open auth_file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	{
		FILE	   *m = open_memstream(&text, &len);
		char		buf[4096];
		size_t		n;

		if (!m)
		{
			fclose(f);
			snprintf(errbuf, errlen, "%s: out of memory", path);
			return -1;
		}
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
		memset(buf, 0, sizeof buf);
	}
	if (ferror(f))
	{
		fclose(f);
		free(text);
		snprintf(errbuf, errlen, "could not read auth_file \"%s\"", path);
		return -1;
	}
	fclose(f);
	rc = userlist_load_string(text ? text : "", path, out, errbuf, errlen);
	if (text)
	{
		memset(text, 0, len);
		free(text);
	}
	return rc;
}

const char *
userlist_find(const struct userlist *ul, const char *user)
{
	size_t		lo = 0,
				hi;

	if (!ul)
		return NULL;
	hi = ul->n;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = strcmp(user, ul->e[mid].user);

		if (c == 0)
			return ul->e[mid].secret;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
userlist_count(const struct userlist *ul)
{
	return ul ? ul->n : 0;
}

enum userlist_secret_kind
userlist_secret_kind(const char *secret)
{
	struct scram_secret s;

	if (strlen(secret) == 35 && strncmp(secret, "md5", 3) == 0)
	{
		bool		hex = true;

		for (int i = 3; i < 35; i++)
			if (!isxdigit((unsigned char) secret[i]) || isupper((unsigned char) secret[i]))
				hex = false;
		if (hex)
			return USERLIST_SECRET_MD5;
	}
	if (strncmp(secret, "SCRAM-SHA-256$", 14) == 0 && scram_parse_secret(secret, &s) == 0)
		return USERLIST_SECRET_SCRAM;
	return USERLIST_SECRET_PLAIN;
}
