/*
 * cfg.c -- the pooler's settings table, ini loading (inih), [databases] and
 * [users] entries, reload and SHOW CONFIG.
 *
 * Every main-section setting is one row of cfg_settings[] below (kept in
 * alphabetical order; a unit test checks it).  Loading starts from a struct
 * whose fields are set by parsing each row's default text with the same
 * parser as the file, so the defaults shown by SHOW CONFIG and the docs are
 * exactly what the code uses.  Parsing stops at the first invalid value and
 * reports file:line; unknown settings and sections are warnings.
 *
 * inih is fed through our own line reader, which (1) counts lines and knows
 * the current file, so messages can name file:line, (2) implements
 * "%include FILE", (3) strips leading blanks so that an indented line is an
 * ordinary line as in PgBouncer (inih would otherwise take it for a
 * continuation of the previous value), and (4) refuses lines longer than
 * inih's buffer instead of letting them be cut silently.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------
 * Types of settings and the table
 * ------------------------------------------------------------------------ */

enum cfg_type
{
	CFG_T_STR,
	CFG_T_INT,
	CFG_T_OCTAL,				/* int written in octal (unix_socket_mode) */
	CFG_T_BOOL,
	CFG_T_TIME,					/* int64 usec */
	CFG_T_POOL_MODE,			/* int, enum cfg_pool_mode */
	CFG_T_AUTH_TYPE,			/* int, enum cfg_auth_type */
	CFG_T_BATCH_FORM,			/* int, enum cfg_batch_form ([databases] keys:
								 * -1 when not given) */
	CFG_T_DB_BOOL,				/* int, 0 or 1 ([databases] keys: -1 when not
								 * given) */
};

#define CFG_F_RELOAD 0x01		/* RELOAD applies a new value */

struct cfg_setting
{
	const char *name;
	enum cfg_type type;
	size_t		offset;
	unsigned	flags;
	const char *def;			/* default, in file syntax */
	long long	min,
				max;			/* for integers */
	const char *doc;
};

#define IMAX INT_MAX

#define CFG_ROW(name, type, flags, def, min, max, doc) \
	{#name, CFG_T_##type, offsetof(struct cfg, name), (flags) ? CFG_F_RELOAD : 0, def, min, max, doc},

/* Built from CFG_SETTINGS in cfg.h. */
static const struct cfg_setting cfg_settings[] = {
	CFG_SETTINGS(CFG_ROW)
};

#define N_SETTINGS (sizeof(cfg_settings) / sizeof(cfg_settings[0]))

/* Keys of a [databases] entry. */
#define DOFF(f) offsetof(struct cfg_database, f)
struct cfg_key
{
	const char *name;
	enum cfg_type type;
	size_t		offset;
	long long	min,
				max;
};
static const struct cfg_key cfg_db_keys[] = {
	{"application_name", CFG_T_STR, DOFF(application_name), 0, 0},
	{"auth_user", CFG_T_STR, DOFF(auth_user), 0, 0},
	{"client_encoding", CFG_T_STR, DOFF(client_encoding), 0, 0},
	{"connect_query", CFG_T_STR, DOFF(connect_query), 0, 0},
	{"datestyle", CFG_T_STR, DOFF(datestyle), 0, 0},
	{"dbname", CFG_T_STR, DOFF(dbname), 0, 0},
	{"host", CFG_T_STR, DOFF(host), 0, 0},
	{"insert_batch_catalog_ttl", CFG_T_TIME, DOFF(insert_batch_catalog_ttl), 0, 0},
	{"insert_batch_form", CFG_T_BATCH_FORM, DOFF(insert_batch_form), 0, 0},
	{"insert_batch_max_bytes", CFG_T_INT, DOFF(insert_batch_max_bytes), 1024, IMAX},
	{"insert_batch_max_rows", CFG_T_INT, DOFF(insert_batch_max_rows), 1, 65535},
	{"insert_batch_stream_rows", CFG_T_INT, DOFF(insert_batch_stream_rows), 0, 65535},
	{"insert_batching", CFG_T_DB_BOOL, DOFF(insert_batching), 0, 0},
	{"insert_coalesce_delay", CFG_T_TIME, DOFF(insert_coalesce_delay), 0, 0},
	{"insert_coalescing", CFG_T_DB_BOOL, DOFF(insert_coalescing), 0, 0},
	{"max_db_connections", CFG_T_INT, DOFF(max_db_connections), 0, IMAX},
	{"min_pool_size", CFG_T_INT, DOFF(min_pool_size), 0, IMAX},
	{"password", CFG_T_STR, DOFF(password), 0, 0},
	{"pool_mode", CFG_T_POOL_MODE, DOFF(pool_mode), 0, 0},
	{"pool_size", CFG_T_INT, DOFF(pool_size), 0, IMAX},
	{"port", CFG_T_INT, DOFF(port), 1, 65535},
	{"reserve_pool", CFG_T_INT, DOFF(reserve_pool), 0, IMAX},
	{"reserve_pool_size", CFG_T_INT, DOFF(reserve_pool), 0, IMAX},
	{"server_lifetime", CFG_T_TIME, DOFF(server_lifetime), 0, 0},
	{"timezone", CFG_T_STR, DOFF(timezone), 0, 0},
	{"user", CFG_T_STR, DOFF(user), 0, 0},
};

/* Keys of a [users] entry. */
#define UOFF(f) offsetof(struct cfg_user, f)
static const struct cfg_key cfg_user_keys[] = {
	{"max_user_connections", CFG_T_INT, UOFF(max_user_connections), 0, IMAX},
	{"pool_mode", CFG_T_POOL_MODE, UOFF(pool_mode), 0, 0},
	{"pool_size", CFG_T_INT, UOFF(pool_size), 0, IMAX},
	{"reserve_pool_size", CFG_T_INT, UOFF(reserve_pool_size), 0, IMAX},
};

/*
 * PgBouncer settings that are not implemented and would weaken security or
 * change behaviour silently if ignored: accepted only with the values listed
 * (comma-separated; "" = empty), anything else is an error at start.
 */
static const struct
{
	const char *name;
	const char *allowed;
	const char *why;
}			cfg_refused[] = {
	{"auth_hba_file", "", "auth_type hba is not supported"},
	{"client_tls_sslmode", "disable", "TLS towards clients is not supported yet"},
	{"server_tls_sslmode", "disable,allow,prefer", "TLS towards servers is not supported yet"},
};

static const char *const pool_mode_names[] = {"session", "transaction", "statement"};
static const char *const auth_type_names[] = {"any", "trust", "plain", "md5", "scram-sha-256"};
static const char *const batch_form_names[] = {"values", "unnest", "auto"};

/* ------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------ */

static void
cfg_default_log(void *arg, const char *msg)
{
	(void) arg;
	fprintf(stderr, "WARNING %s\n", msg);
}

static cfg_log_fn cfg_log_hook = cfg_default_log;
static void *cfg_log_arg;

void
cfg_set_log_hook(cfg_log_fn fn, void *arg)
{
	cfg_log_hook = fn ? fn : cfg_default_log;
	cfg_log_arg = fn ? arg : NULL;
}

static void cfg_warn(const char *fmt,...) __attribute__((format(printf, 1, 2)));
static void
cfg_warn(const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cfg_log_hook(cfg_log_arg, msg);
}

/* ------------------------------------------------------------------------
 * Value parsers (shared by the file, defaults and per-entry keys)
 * ------------------------------------------------------------------------ */

static PP_WUR int
parse_int(const char *s, int base, long long min, long long max, int *out)
{
	char	   *end;
	long long	v;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || end == s)
		return -1;
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = (int) v;
	return 0;
}

static PP_WUR int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "on", "yes", "true"};
	static const char *const no[] = {"0", "off", "no", "false"};

	for (size_t i = 0; i < 4; i++)
	{
		if (strcasecmp(s, yes[i]) == 0)
		{
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0)
		{
			*out = false;
			return 0;
		}
	}
	return -1;
}

static PP_WUR int
parse_enum(const char *s, const char *const *names, size_t n, int *out)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(s, names[i]) == 0)
		{
			*out = (int) i;
			return 0;
		}
	return -1;
}

int
cfg_parse_time(const char *s, int64_t *usec)
{
	static const struct
	{
		const char *unit;
		double		mult;
	}			units[] = {
		{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"sec", 1e6}, {"min", 60e6},
		{"h", 3600e6}, {"d", 86400e6},
	};
	char	   *end;
	double		v,
				mult = 1e6;		/* plain number: seconds */

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0')
	{
		size_t		ulen = strlen(end);
		bool		found = false;

		while (ulen > 0 && isspace((unsigned char) end[ulen - 1]))
			ulen--;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (strlen(units[i].unit) == ulen && strncasecmp(end, units[i].unit, ulen) == 0)
			{
				mult = units[i].mult;
				found = true;
				break;
			}
		if (!found)
			return -1;
	}
	v *= mult;
	if (v > 9.2e18)
		return -1;
	*usec = (int64_t) llround(v);
	return 0;
}

/* Seconds, as PgBouncer shows them ("600", "1.5", "0.00025"): plain numbers,
 * so that monitoring tools parsing SHOW CONFIG as numbers keep working, and
 * exact (microsecond) when read back by cfg_parse_time(). */
static void
format_time(int64_t usec, char *buf, size_t len)
{
	size_t		n;

	if (usec % 1000000 == 0)
	{
		snprintf(buf, len, "%lld", (long long) (usec / 1000000));
		return;
	}
	snprintf(buf, len, "%lld.%06lld", (long long) (usec / 1000000), (long long) (usec % 1000000));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
}

/*
 * Store text `val` of type `t` at `field`.  For strings the old value is
 * freed.  Returns 0, -1 for an invalid value, -2 out of memory.
 */
static PP_WUR int
set_value(enum cfg_type t, void *field, const char *val, long long min, long long max)
{
	switch (t)
	{
		case CFG_T_STR:
			{
				char	   *copy = strdup(val);

				if (!copy)
					return -2;
				free(*(char **) field);
				*(char **) field = copy;
				return 0;
			}
		case CFG_T_INT:
			return parse_int(val, 10, min, max, (int *) field);
		case CFG_T_OCTAL:
			return parse_int(val, 8, min, max, (int *) field);
		case CFG_T_BOOL:
			return parse_bool(val, (bool *) field);
		case CFG_T_TIME:
			return cfg_parse_time(val, (int64_t *) field);
		case CFG_T_POOL_MODE:
			return parse_enum(val, pool_mode_names, 3, (int *) field);
		case CFG_T_AUTH_TYPE:
			return parse_enum(val, auth_type_names, 5, (int *) field);
		case CFG_T_BATCH_FORM:
			return parse_enum(val, batch_form_names, 3, (int *) field);
		case CFG_T_DB_BOOL:
			{
				bool		b;

				if (parse_bool(val, &b) != 0)
					return -1;
				*(int *) field = b ? 1 : 0;
				return 0;
			}
	}
	return -1;
}

static const char *
type_hint(enum cfg_type t)
{
	switch (t)
	{
		case CFG_T_STR:
			return "text";
		case CFG_T_INT:
			return "an integer";
		case CFG_T_OCTAL:
			return "an octal integer";
		case CFG_T_BOOL:
		case CFG_T_DB_BOOL:
			return "a boolean (0/1, on/off, yes/no, true/false)";
		case CFG_T_TIME:
			return "a time (seconds, or a number with unit us, ms, s, min, h, d)";
		case CFG_T_POOL_MODE:
			return "one of session, transaction, statement";
		case CFG_T_AUTH_TYPE:
			return "one of trust, any, plain, md5, scram-sha-256";
		case CFG_T_BATCH_FORM:
			return "one of values, unnest, auto";
	}
	return "?";
}

static void
format_value(enum cfg_type t, const void *field, char *buf, size_t len)
{
	switch (t)
	{
		case CFG_T_STR:
			{
				const char *s = *(char *const *) field;

				snprintf(buf, len, "%s", s ? s : "");
				break;
			}
		case CFG_T_INT:
			snprintf(buf, len, "%d", *(const int *) field);
			break;
		case CFG_T_OCTAL:
			snprintf(buf, len, "0%o", (unsigned) *(const int *) field);
			break;
		case CFG_T_BOOL:
			snprintf(buf, len, "%d", *(const bool *) field ? 1 : 0);
			break;
		case CFG_T_DB_BOOL:
			snprintf(buf, len, "%d", *(const int *) field);
			break;
		case CFG_T_TIME:
			format_time(*(const int64_t *) field, buf, len);
			break;
		case CFG_T_POOL_MODE:
			snprintf(buf, len, "%s", cfg_pool_mode_name(*(const int *) field));
			break;
		case CFG_T_AUTH_TYPE:
			snprintf(buf, len, "%s", cfg_auth_type_name(*(const int *) field));
			break;
		case CFG_T_BATCH_FORM:
			snprintf(buf, len, "%s", cfg_batch_form_name(*(const int *) field));
			break;
	}
}

/* ------------------------------------------------------------------------
 * Line reader for inih: file stack for %include, line numbers
 * ------------------------------------------------------------------------ */

#define MAX_INCLUDE_DEPTH 8

struct src_file
{
	FILE	   *f;
	char	   *name;
	int			line;
};

struct load_ctx
{
	struct cfg *cfg;
	struct src_file stack[MAX_INCLUDE_DEPTH];
	int			depth;			/* number of open files */
	char	   *linebuf;
	size_t		linecap;
	int			section;		/* SEC_* */
	bool		failed;
	char	   *err;
	size_t		errlen;
};

enum
{
	SEC_NONE, SEC_MAIN, SEC_DATABASES, SEC_USERS, SEC_OTHER
};

static void ctx_error(struct load_ctx *ctx, const char *fmt,...) __attribute__((format(printf, 2, 3)));
static void
ctx_error(struct load_ctx *ctx, const char *fmt,...)
{
	va_list		ap;
	size_t		n = 0;

	if (ctx->failed)
		return;
	ctx->failed = true;
	if (ctx->depth > 0)
	{
		int			r = snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->stack[ctx->depth - 1].name,
								 ctx->stack[ctx->depth - 1].line);

		n = r < 0 ? 0 : (size_t) r;
		if (n >= ctx->errlen)
			return;
	}
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
	va_end(ap);
}

static const char *
ctx_file(const struct load_ctx *ctx)
{
	return ctx->depth > 0 ? ctx->stack[ctx->depth - 1].name : "?";
}

static int
ctx_line(const struct load_ctx *ctx)
{
	return ctx->depth > 0 ? ctx->stack[ctx->depth - 1].line : 0;
}

static PP_WUR int
push_file(struct load_ctx *ctx, const char *path)
{
	FILE	   *f;
	char	   *name;

	if (ctx->depth >= MAX_INCLUDE_DEPTH)
	{
		ctx_error(ctx, "%%include nested too deeply (at most %d files)", MAX_INCLUDE_DEPTH);
		return -1;
	}
	f = fopen(path, "r");
	if (!f)
	{
		if (ctx->depth == 0)
			snprintf(ctx->err, ctx->errlen, "could not open config file \"%s\": %s", path,
					 strerror(errno));
		else
			ctx_error(ctx, "could not open included file \"%s\": %s", path, strerror(errno));
		ctx->failed = true;
		return -1;
	}
	name = strdup(path);
	if (!name)
	{
		fclose(f);
		ctx_error(ctx, "out of memory");
		return -1;
	}
	ctx->stack[ctx->depth].f = f;
	ctx->stack[ctx->depth].name = name;
	ctx->stack[ctx->depth].line = 0;
	ctx->depth++;
	return 0;
}

static void
pop_file(struct load_ctx *ctx)
{
	struct src_file *sf = &ctx->stack[--ctx->depth];

	fclose(sf->f);
	free(sf->name);
	sf->f = NULL;
	sf->name = NULL;
}

/* Resolve an included path relative to the directory of the including file. */
static char *
include_path(const char *parent, const char *inc)
{
	const char *slash;
	char	   *p;
	size_t		dlen;

	if (inc[0] == '/' || (slash = strrchr(parent, '/')) == NULL)
		return strdup(inc);
	dlen = (size_t) (slash - parent) + 1;
	p = malloc(dlen + strlen(inc) + 1);
	if (!p)
		return NULL;
	memcpy(p, parent, dlen);
	strcpy(p + dlen, inc);
	return p;
}

/* inih's reader callback: fgets-like. */
static char *
cfg_reader(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;

	while (ctx->depth > 0 && !ctx->failed)
	{
		struct src_file *sf = &ctx->stack[ctx->depth - 1];
		ssize_t		n = getline(&ctx->linebuf, &ctx->linecap, sf->f);
		char	   *s;
		size_t		len;

		if (n < 0)
		{
			if (ctx->depth == 1)
				return NULL;	/* end of the main file: keep it open for
								 * messages */
			pop_file(ctx);
			continue;
		}
		sf->line++;
		s = ctx->linebuf;
		while (*s == ' ' || *s == '\t')
			s++;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			s[--len] = '\0';

		if (strncmp(s, "%include", 8) == 0 && (s[8] == ' ' || s[8] == '\t'))
		{
			char	   *inc = s + 8,
					   *path;

			while (*inc == ' ' || *inc == '\t')
				inc++;
			while (len > 0 && isspace((unsigned char) s[len - 1]))
				s[--len] = '\0';
			if (*inc == '\0')
			{
				ctx_error(ctx, "%%include needs a file name");
				return NULL;
			}
			path = include_path(sf->name, inc);
			if (!path)
			{
				ctx_error(ctx, "out of memory");
				return NULL;
			}
			if (push_file(ctx, path) != 0)
			{
				free(path);
				return NULL;
			}
			free(path);
			continue;
		}
		if (len > 0 && s[0] != ';' && s[0] != '#' && s[0] != '[' && !strchr(s, '='))
		{
			ctx_error(ctx, "syntax error: expected \"name = value\", \"[section]\" or \"%%include file\"");
			return NULL;
		}
		if (len + 2 > (size_t) num)
		{
			ctx_error(ctx, "line too long (at most %d characters)", num - 2);
			return NULL;
		}
		memcpy(str, s, len);
		str[len] = '\n';
		str[len + 1] = '\0';
		return str;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * [databases] connection strings and [users] entries
 * ------------------------------------------------------------------------ */

static const struct cfg_key *
find_key(const struct cfg_key *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Parse libpq-style "key=value key='quoted value'" pairs and store each
 * through `keys` into `obj`.  Quoted values may contain \' and \\.  Unknown
 * keys are warnings.  Returns 0 or -1 (ctx error set).  Values are never
 * echoed in messages (they may be passwords).
 */
static PP_WUR int
parse_pairs(struct load_ctx *ctx, const char *what, const char *entry, const char *text,
			const struct cfg_key *keys, size_t nkeys, void *obj)
{
	const char *p = text;
	char	   *buf = malloc(strlen(text) + 1);

	if (!buf)
	{
		ctx_error(ctx, "out of memory");
		return -1;
	}
	for (;;)
	{
		char		key[64];
		size_t		klen = 0,
					vlen = 0;
		const struct cfg_key *k;
		int			rc;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		while (*p && *p != '=' && !isspace((unsigned char) *p))
		{
			if (klen + 1 >= sizeof key)
			{
				ctx_error(ctx, "%s \"%s\": parameter name too long", what, entry);
				goto fail;
			}
			key[klen++] = *p++;
		}
		key[klen] = '\0';
		while (isspace((unsigned char) *p))
			p++;
		if (*p != '=' || klen == 0)
		{
			ctx_error(ctx, "%s \"%s\": expected key=value near \"%s\"", what, entry, key);
			goto fail;
		}
		p++;
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\'')
		{
			p++;
			while (*p && *p != '\'')
			{
				if (*p == '\\' && (p[1] == '\'' || p[1] == '\\'))
					p++;
				buf[vlen++] = *p++;
			}
			if (*p != '\'')
			{
				ctx_error(ctx, "%s \"%s\": unterminated quoted value of \"%s\"", what,
						  entry, key);
				goto fail;
			}
			p++;
		}
		else
		{
			while (*p && !isspace((unsigned char) *p))
				buf[vlen++] = *p++;
		}
		buf[vlen] = '\0';

		k = find_key(keys, nkeys, key);
		if (!k)
		{
			cfg_warn("%s:%d: %s \"%s\": unknown parameter \"%s\" ignored", ctx_file(ctx),
					 ctx_line(ctx), what, entry, key);
			continue;
		}
		rc = set_value(k->type, (char *) obj + k->offset, buf, k->min, k->max);
		if (rc == -2)
		{
			ctx_error(ctx, "out of memory");
			goto fail;
		}
		if (rc != 0)
		{
			if (strcmp(k->name, "password") == 0)
				ctx_error(ctx, "%s \"%s\": invalid value for \"%s\"", what, entry, key);
			else if (k->min != k->max)
				ctx_error(ctx, "%s \"%s\": invalid value \"%s\" for \"%s\": expected %s from %lld to %lld",
						  what, entry, buf, key, type_hint(k->type), k->min, k->max);
			else
				ctx_error(ctx, "%s \"%s\": invalid value \"%s\" for \"%s\": expected %s",
						  what, entry, buf, key, type_hint(k->type));
			goto fail;
		}
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static void
free_database(struct cfg_database *d)
{
	for (size_t i = 0; i < sizeof cfg_db_keys / sizeof cfg_db_keys[0]; i++)
		if (cfg_db_keys[i].type == CFG_T_STR)
		{
			char	  **f = (char **) ((char *) d + cfg_db_keys[i].offset);

			if (strcmp(cfg_db_keys[i].name, "password") == 0 && *f)
				memset(*f, 0, strlen(*f));
			free(*f);
			*f = NULL;
		}
	free(d->name);
	d->name = NULL;
}

static void
init_database(struct cfg_database *d)
{
	memset(d, 0, sizeof *d);
	d->port = 5432;
	d->pool_size = -1;
	d->min_pool_size = -1;
	d->reserve_pool = -1;
	d->max_db_connections = -1;
	d->pool_mode = -1;
	d->server_lifetime = -1;
	d->insert_batching = -1;
	d->insert_batch_max_rows = -1;
	d->insert_batch_max_bytes = -1;
	d->insert_batch_stream_rows = -1;
	d->insert_batch_catalog_ttl = -1;
	d->insert_batch_form = -1;
	d->insert_coalescing = -1;
	d->insert_coalesce_delay = -1;
}

static PP_WUR int
add_database(struct load_ctx *ctx, const char *name, const char *connstr)
{
	struct cfg *c = ctx->cfg;
	struct cfg_database d;

	init_database(&d);
	d.line = ctx_line(ctx);
	d.name = strdup(name);
	if (!d.name)
	{
		ctx_error(ctx, "out of memory");
		return -1;
	}
	if (parse_pairs(ctx, "database", name, connstr, cfg_db_keys,
					sizeof cfg_db_keys / sizeof cfg_db_keys[0], &d) != 0)
	{
		free_database(&d);
		return -1;
	}
	if (strcmp(name, "*") == 0)
	{
		if (c->fallback_db)
		{
			free_database(c->fallback_db);
		}
		else
		{
			c->fallback_db = malloc(sizeof *c->fallback_db);
			if (!c->fallback_db)
			{
				free_database(&d);
				ctx_error(ctx, "out of memory");
				return -1;
			}
		}
		*c->fallback_db = d;
		return 0;
	}
	for (size_t i = 0; i < c->n_databases; i++)
		if (strcmp(c->databases[i].name, name) == 0)
		{
			cfg_warn("%s:%d: database \"%s\" defined again; the later definition wins",
					 ctx_file(ctx), ctx_line(ctx), name);
			free_database(&c->databases[i]);
			c->databases[i] = d;
			return 0;
		}
	{
		struct cfg_database *nd = realloc(c->databases, (c->n_databases + 1) * sizeof *nd);

		if (!nd)
		{
			free_database(&d);
			ctx_error(ctx, "out of memory");
			return -1;
		}
		c->databases = nd;
		c->databases[c->n_databases++] = d;
	}
	return 0;
}

static PP_WUR int
add_user(struct load_ctx *ctx, const char *name, const char *text)
{
	struct cfg *c = ctx->cfg;
	struct cfg_user u = {.pool_mode = -1,.pool_size = -1,.reserve_pool_size = -1,
	.max_user_connections = -1};
	struct cfg_user *nu;

	if (parse_pairs(ctx, "user", name, text, cfg_user_keys,
					sizeof cfg_user_keys / sizeof cfg_user_keys[0], &u) != 0)
		return -1;
	u.name = strdup(name);
	if (!u.name)
	{
		ctx_error(ctx, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->n_users; i++)
		if (strcmp(c->users[i].name, name) == 0)
		{
			free(c->users[i].name);
			c->users[i] = u;
			return 0;
		}
	nu = realloc(c->users, (c->n_users + 1) * sizeof *nu);
	if (!nu)
	{
		free(u.name);
		ctx_error(ctx, "out of memory");
		return -1;
	}
	c->users = nu;
	c->users[c->n_users++] = u;
	return 0;
}

/* ------------------------------------------------------------------------
 * The ini handler and load/reload
 * ------------------------------------------------------------------------ */

static const struct cfg_setting *
find_setting(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcasecmp(cfg_settings[i].name, name) == 0)
			return &cfg_settings[i];
	return NULL;
}

static int
cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	int			sec;

	if (ctx->failed)
		return 1;
	if (strcasecmp(section, "pgplumb") == 0 || strcasecmp(section, "pgbouncer") == 0)
		sec = SEC_MAIN;
	else if (strcasecmp(section, "databases") == 0)
		sec = SEC_DATABASES;
	else if (strcasecmp(section, "users") == 0)
		sec = SEC_USERS;
	else if (section[0] == '\0')
		sec = SEC_NONE;
	else
		sec = SEC_OTHER;

	switch (sec)
	{
		case SEC_NONE:
			ctx_error(ctx, "setting \"%s\" outside of any section", name);
			return 1;
		case SEC_OTHER:
			cfg_warn("%s:%d: unknown section [%s]; \"%s\" ignored", ctx_file(ctx), ctx_line(ctx),
					 section, name);
			return 1;
		case SEC_DATABASES:
			/* a failure is recorded in ctx; 0 tells inih this line was bad */
			return add_database(ctx, name, value) == 0;
		case SEC_USERS:
			return add_user(ctx, name, value) == 0;
		default:
			break;
	}

	{
		const struct cfg_setting *s = find_setting(name);
		int			rc;

		if (!s)
		{
			for (size_t i = 0; i < sizeof cfg_refused / sizeof cfg_refused[0]; i++)
			{
				if (strcasecmp(cfg_refused[i].name, name) != 0)
					continue;
				if (value[0] == '\0' ? cfg_refused[i].allowed[0] == '\0'
					: cfg_list_contains(cfg_refused[i].allowed, value))
				{
					if (value[0] != '\0' && strcasecmp(value, "disable") != 0)
						cfg_warn("%s:%d: %s; \"%s = %s\" runs without TLS",
								 ctx_file(ctx), ctx_line(ctx), cfg_refused[i].why, name, value);
					return 1;
				}
				ctx_error(ctx, "setting \"%s = %s\" is not supported: %s", name, value,
						  cfg_refused[i].why);
				return 1;
			}
			cfg_warn("%s:%d: unknown setting \"%s\" ignored", ctx_file(ctx), ctx_line(ctx), name);
			return 1;
		}
		rc = set_value(s->type, (char *) ctx->cfg + s->offset, value, s->min, s->max);
		if (rc == -2)
			ctx_error(ctx, "out of memory");
		else if (rc != 0 && (s->type == CFG_T_INT || s->type == CFG_T_OCTAL))
			ctx_error(ctx, "invalid value \"%s\" for setting \"%s\": expected %s from %lld to %lld",
					  value, s->name, type_hint(s->type), s->min, s->max);
		else if (rc != 0)
			ctx_error(ctx, "invalid value \"%s\" for setting \"%s\": expected %s", value,
					  s->name, type_hint(s->type));
	}
	return 1;
}

/* Fill every main-section field with its default. */
static PP_WUR int
set_defaults(struct cfg *c)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
	{
		const struct cfg_setting *s = &cfg_settings[i];

		if (set_value(s->type, (char *) c + s->offset, s->def, s->min, s->max) != 0)
			return -1;
	}
	return 0;
}

/* Checks across settings, after the whole file is read. */
static PP_WUR int
validate(struct cfg *c, char *err, size_t errlen)
{
	if (c->unix_socket_dir[0] == '\0' && c->listen_addr[0] == '\0')
	{
		snprintf(err, errlen,
				 "%s: neither listen_addr nor unix_socket_dir is set; the pooler would not listen anywhere",
				 c->config_file);
		return -1;
	}
	if (c->auth_type != CFG_AUTH_ANY && c->auth_type != CFG_AUTH_TRUST && c->auth_file[0] == '\0')
		cfg_warn("%s: auth_type = %s without auth_file: no client will be able to log in",
				 c->config_file, cfg_auth_type_name(c->auth_type));
	if (c->auth_type == CFG_AUTH_ANY)
	{
		/* "any" ignores the client's user name: entries should force one */
		for (size_t i = 0; i <= c->n_databases; i++)
		{
			const struct cfg_database *d = i < c->n_databases ? &c->databases[i] : c->fallback_db;

			if (d && !d->user)
				cfg_warn("%s:%d: auth_type = any, but database \"%s\" has no user=; clients "
						 "will log in to it under the name they give, unchecked",
						 c->config_file, d->line, d->name);
		}
	}
	return 0;
}

int
cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen)
{
	struct load_ctx ctx;
	struct cfg *c;
	int			rc;

	if (errlen > 0)
		errbuf[0] = '\0';
	memset(&ctx, 0, sizeof ctx);
	ctx.err = errbuf;
	ctx.errlen = errlen;

	c = calloc(1, sizeof *c);
	if (!c || set_defaults(c) != 0 || !(c->config_file = strdup(path)))
	{
		snprintf(errbuf, errlen, "out of memory");
		cfg_free(c);
		return -1;
	}
	ctx.cfg = c;
	if (push_file(&ctx, path) != 0)
	{
		cfg_free(c);
		return -1;
	}
	rc = ini_parse_stream(cfg_reader, &ctx, cfg_handler, &ctx);
	if (!ctx.failed && rc != 0)
	{
		/* inih found a syntax error (e.g. a line without '=') on line rc */
		snprintf(errbuf, errlen, "%s: syntax error on line %d (expected \"name = value\" or \"[section]\")",
				 path, rc > 0 ? rc : 0);
		ctx.failed = true;
	}
	while (ctx.depth > 0)
		pop_file(&ctx);
	free(ctx.linebuf);
	if (ctx.failed || validate(c, errbuf, errlen) != 0)
	{
		cfg_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
cfg_reload(const struct cfg *old, const char *path, struct cfg **out, char *errbuf, size_t errlen)
{
	struct cfg *n;

	if (cfg_load(path, &n, errbuf, errlen) != 0)
		return -1;
	for (size_t i = 0; i < N_SETTINGS; i++)
	{
		const struct cfg_setting *s = &cfg_settings[i];
		char		a[CFG_SHOW_VALUE_MAX],
					b[CFG_SHOW_VALUE_MAX];

		if (s->flags & CFG_F_RELOAD)
			continue;
		format_value(s->type, (const char *) old + s->offset, a, sizeof a);
		format_value(s->type, (const char *) n + s->offset, b, sizeof b);
		if (strcmp(a, b) == 0)
			continue;
		cfg_warn("%s: setting \"%s\" cannot be changed by a reload; keeping \"%s\" (restart to use \"%s\")",
				 path, s->name, a, b);
		if (set_value(s->type, (char *) n + s->offset, a, s->min, s->max) != 0)
		{
			snprintf(errbuf, errlen, "out of memory");
			cfg_free(n);
			return -1;
		}
	}
	*out = n;
	return 0;
}

void
cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (cfg_settings[i].type == CFG_T_STR)
			free(*(char **) ((char *) c + cfg_settings[i].offset));
	for (size_t i = 0; i < c->n_databases; i++)
		free_database(&c->databases[i]);
	free(c->databases);
	if (c->fallback_db)
	{
		free_database(c->fallback_db);
		free(c->fallback_db);
	}
	for (size_t i = 0; i < c->n_users; i++)
		free(c->users[i].name);
	free(c->users);
	free(c->config_file);
	free(c);
}

/* ------------------------------------------------------------------------
 * Lookups and effective values
 * ------------------------------------------------------------------------ */

const struct cfg_database *
cfg_find_database(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_databases; i++)
		if (strcmp(c->databases[i].name, name) == 0)
			return &c->databases[i];
	return c->fallback_db;
}

const struct cfg_user *
cfg_find_user(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_users; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

int
cfg_pool_mode_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u)
{
	if (u && u->pool_mode >= 0)
		return u->pool_mode;
	if (db && db->pool_mode >= 0)
		return db->pool_mode;
	return c->pool_mode;
}

bool
cfg_insert_batching_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batching >= 0 ? db->insert_batching != 0 : c->insert_batching;
}

int
cfg_insert_batch_max_rows_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batch_max_rows > 0 ? db->insert_batch_max_rows : c->insert_batch_max_rows;
}

int
cfg_insert_batch_max_bytes_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batch_max_bytes > 0 ? db->insert_batch_max_bytes : c->insert_batch_max_bytes;
}

int
cfg_insert_batch_form_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batch_form >= 0 ? db->insert_batch_form : c->insert_batch_form;
}

int64_t
cfg_insert_batch_catalog_ttl_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batch_catalog_ttl >= 0 ? db->insert_batch_catalog_ttl
		: c->insert_batch_catalog_ttl;
}

bool
cfg_insert_coalescing_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_coalescing >= 0 ? db->insert_coalescing != 0 : c->insert_coalescing;
}

int64_t
cfg_insert_coalesce_delay_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_coalesce_delay >= 0 ? db->insert_coalesce_delay
		: c->insert_coalesce_delay;
}

int
cfg_insert_batch_stream_rows_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->insert_batch_stream_rows >= 0 ? db->insert_batch_stream_rows
		: c->insert_batch_stream_rows;
}

int
cfg_pool_size_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u)
{
	if (u && u->pool_size >= 0)
		return u->pool_size;
	if (db && db->pool_size >= 0)
		return db->pool_size;
	return c->default_pool_size;
}

int
cfg_min_pool_size_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->min_pool_size >= 0 ? db->min_pool_size : c->min_pool_size;
}

int
cfg_reserve_pool_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u)
{
	if (u && u->reserve_pool_size >= 0)
		return u->reserve_pool_size;
	if (db && db->reserve_pool >= 0)
		return db->reserve_pool;
	return c->reserve_pool_size;
}

int
cfg_max_db_connections_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->max_db_connections >= 0 ? db->max_db_connections : c->max_db_connections;
}

int
cfg_max_user_connections_for(const struct cfg *c, const struct cfg_user *u)
{
	return u && u->max_user_connections >= 0 ? u->max_user_connections : c->max_user_connections;
}

int64_t
cfg_server_lifetime_for(const struct cfg *c, const struct cfg_database *db)
{
	return db && db->server_lifetime >= 0 ? db->server_lifetime : c->server_lifetime;
}

const char *
cfg_pool_mode_name(int mode)
{
	return mode >= 0 && mode < 3 ? pool_mode_names[mode] : "?";
}

const char *
cfg_batch_form_name(int form)
{
	return form >= 0 && form < 3 ? batch_form_names[form] : "?";
}

const char *
cfg_auth_type_name(int type)
{
	return type >= 0 && type < 5 ? auth_type_names[type] : "?";
}

bool
cfg_list_contains(const char *list, const char *name)
{
	const char *p = list;
	size_t		nlen = strlen(name);

	while (p && *p)
	{
		const char *start,
				   *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - start == 1 && *start == '*')
			return true;
		if ((size_t) (end - start) == nlen && nlen > 0 && strncmp(start, name, nlen) == 0)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * SHOW CONFIG and the settings reference
 * ------------------------------------------------------------------------ */

size_t
cfg_show_count(void)
{
	return N_SETTINGS;
}

bool
cfg_show_row(const struct cfg *c, size_t i, struct cfg_show_row *row)
{
	const struct cfg_setting *s;
	struct cfg	tmp;

	if (i >= N_SETTINGS)
		return false;
	s = &cfg_settings[i];
	row->key = s->name;
	row->changeable = (s->flags & CFG_F_RELOAD) != 0;
	format_value(s->type, (const char *) c + s->offset, row->value, sizeof row->value);
	if (s->type == CFG_T_STR)
	{
		snprintf(row->default_value, sizeof row->default_value, "%s", s->def);
	}
	else
	{
		memset(&tmp, 0, sizeof tmp);
		if (set_value(s->type, (char *) &tmp + s->offset, s->def, s->min, s->max) == 0)
			format_value(s->type, (const char *) &tmp + s->offset, row->default_value,
						 sizeof row->default_value);
		else
			snprintf(row->default_value, sizeof row->default_value, "%s", s->def);
	}
	return true;
}

static const char *
doc_type(enum cfg_type t)
{
	switch (t)
	{
		case CFG_T_STR:
			return "text";
		case CFG_T_INT:
			return "integer";
		case CFG_T_OCTAL:
			return "octal";
		case CFG_T_BOOL:
		case CFG_T_DB_BOOL:
			return "bool";
		case CFG_T_TIME:
			return "time";
		case CFG_T_POOL_MODE:
			return "enum";
		case CFG_T_AUTH_TYPE:
		case CFG_T_BATCH_FORM:
			return "enum";
	}
	return "?";
}

void
cfg_describe_markdown(FILE *f)
{
	fprintf(f, "| setting | type | default | reload | description |\n");
	fprintf(f, "|---|---|---|---|---|\n");
	for (size_t i = 0; i < N_SETTINGS; i++)
	{
		const struct cfg_setting *s = &cfg_settings[i];

		fprintf(f, "| `%s` | %s | %s%s%s | %s | %s |\n", s->name, doc_type(s->type),
				s->def[0] ? "`" : "", s->def[0] ? s->def : "(empty)", s->def[0] ? "`" : "",
				(s->flags & CFG_F_RELOAD) ? "yes" : "no", s->doc);
	}
}
