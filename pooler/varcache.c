/*
 * varcache.c -- tracked session parameters of clients and server
 * connections, SET/RESET statements read from the client's SQL, and the
 * query that brings a server connection in line with its client (design in
 * varcache.h).
 */
#include "varcache.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const builtin_names[VAR_BUILTIN_COUNT] = {
	"client_encoding", "DateStyle", "TimeZone", "standard_conforming_strings",
	"application_name", "search_path"
};

static char *slot_names[VAR_MAX];
static size_t slot_len[VAR_MAX];	/* strlen(slot_names[i]) */
static bool slot_tracked[VAR_MAX];
static bool slot_reported[VAR_MAX];
static int	slot_count;

static void
init_builtins(void)
{
	if (slot_count > 0)
		return;
	for (int i = 0; i < VAR_BUILTIN_COUNT; i++)
	{
		slot_names[i] = (char *) builtin_names[i];
		slot_len[i] = strlen(builtin_names[i]);
		slot_tracked[i] = true;
	}
	slot_count = VAR_BUILTIN_COUNT;
}

static int
find_slot(const char *name, size_t len)
{
	init_builtins();
	for (int i = 0; i < slot_count; i++)
		if (slot_len[i] == len && strncasecmp(slot_names[i], name, len) == 0)
			return i;
	return -1;
}

int
varcache_configure(const char *extra)
{
	const char *p = extra ? extra : "";
	int			missed = 0;

	init_builtins();
	for (int i = VAR_BUILTIN_COUNT; i < slot_count; i++)
		slot_tracked[i] = false;
	while (*p)
	{
		const char *start,
				   *end;
		int			slot;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && isspace((unsigned char) end[-1]))
			end--;
		if (end == start)
			continue;
		slot = find_slot(start, (size_t) (end - start));
		if (slot >= 0)
		{
			slot_tracked[slot] = true;
			continue;
		}
		if (slot_count >= VAR_MAX)
		{
			missed++;
			continue;
		}
		slot_names[slot_count] = strndup(start, (size_t) (end - start));
		if (slot_names[slot_count] == NULL)
		{
			missed++;
			continue;
		}
		slot_len[slot_count] = (size_t) (end - start);
		slot_tracked[slot_count++] = true;
	}
	return missed;
}

int
varcache_slot(const char *name)
{
	int			slot = find_slot(name, strlen(name));

	return slot >= 0 && slot_tracked[slot] ? slot : -1;
}

bool
varcache_tracked(int slot)
{
	init_builtins();
	return slot >= 0 && slot < slot_count && slot_tracked[slot];
}

const char *
varcache_name(int slot)
{
	init_builtins();
	return slot >= 0 && slot < slot_count ? slot_names[slot] : NULL;
}

int
varcache_count(void)
{
	init_builtins();
	return slot_count;
}

void
varcache_mark_reported(int slot)
{
	if (slot >= 0 && slot < VAR_MAX)
		slot_reported[slot] = true;
}

bool
varcache_is_reported(int slot)
{
	return slot >= 0 && slot < VAR_MAX && slot_reported[slot];
}

/* ---- interned values ---- */

struct var_str
{
	struct var_str *next;		/* chain of the intern table */
	uint32_t	refs;
	uint32_t	hash;
	bool		sql;
	char		s[];
};

#define INTERN_SIZE 256			/* chains; distinct values are few */
static struct var_str *intern_tab[INTERN_SIZE];
static uint32_t intern_count;

static uint32_t
hash_str(const char *s, bool sql)
{
	uint32_t	h = sql ? 2166136261u ^ 1u : 2166136261u;

	for (; *s; s++)
	{
		h ^= (uint8_t) *s;
		h *= 16777619u;
	}
	return h;
}

/* A reference to the interned copy of (s, sql), or NULL on out of memory. */
static const struct var_str *
intern(const char *s, bool sql)
{
	uint32_t	h = hash_str(s, sql);
	struct var_str *v;
	size_t		n;

	for (v = intern_tab[h % INTERN_SIZE]; v; v = v->next)
		if (v->hash == h && v->sql == sql && strcmp(v->s, s) == 0)
		{
			v->refs++;
			return v;
		}
	n = strlen(s);
	v = malloc(sizeof(*v) + n + 1);
	if (v == NULL)
		return NULL;
	memcpy(v->s, s, n + 1);
	v->refs = 1;
	v->hash = h;
	v->sql = sql;
	v->next = intern_tab[h % INTERN_SIZE];
	intern_tab[h % INTERN_SIZE] = v;
	intern_count++;
	return v;
}

static const struct var_str *
intern_ref(const struct var_str *v)
{
	if (v)
		((struct var_str *) v)->refs++;
	return v;
}

static void
intern_unref(const struct var_str *cv)
{
	struct var_str *v = (struct var_str *) cv;
	struct var_str **pp;

	if (v == NULL || --v->refs > 0)
		return;
	for (pp = &intern_tab[v->hash % INTERN_SIZE]; *pp != v; pp = &(*pp)->next)
		;
	*pp = v->next;
	intern_count--;
	free(v);
}

uint32_t
varcache_interned(void)
{
	return intern_count;
}

/* ---- interned sets of values ---- */

/*
 * The values of a cache are themselves interned: one refcounted, immutable
 * set per distinct combination, so a thousand idle clients with the same
 * parameters hold one pointer each.  Trailing defaults are not stored: a
 * set's `n` is its last non-default slot + 1, and all-defaults is NULL.
 */
struct varset
{
	struct varset *next;		/* chain of the set table */
	uint32_t	refs;
	uint32_t	hash;
	int			n;
	const struct var_str *v[];
};

#define SET_TABLE_SIZE 256
static struct varset *set_tab[SET_TABLE_SIZE];
static uint32_t set_count;

/* Values of a cache, one per slot, for editing. */
typedef const struct var_str *var_values[VAR_MAX];

static inline const struct var_str *
slot_value(const struct varcache *vc, int slot)
{
	return vc->set && slot < vc->set->n ? vc->set->v[slot] : NULL;
}

static void
unpack(const struct varcache *vc, var_values out)
{
	int			n = vc->set ? vc->set->n : 0;

	for (int i = 0; i < VAR_MAX; i++)
		out[i] = i < n ? vc->set->v[i] : NULL;
}

static void
set_unref(const struct varset *cs)
{
	struct varset *s = (struct varset *) cs;
	struct varset **pp;

	if (s == NULL || --s->refs > 0)
		return;
	for (pp = &set_tab[s->hash % SET_TABLE_SIZE]; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	for (int i = 0; i < s->n; i++)
		intern_unref(s->v[i]);
	set_count--;
	free(s);
}

/* A reference to the interned set of `vals`; *ok false on out of memory. */
static const struct varset *
set_intern(const var_values vals, bool *ok)
{
	int			n = VAR_MAX;
	uint32_t	h = 2166136261u;
	struct varset *s;

	*ok = true;
	while (n > 0 && vals[n - 1] == NULL)
		n--;
	if (n == 0)
		return NULL;
	for (int i = 0; i < n; i++)
	{
		h ^= (uint32_t) ((uintptr_t) vals[i] >> 4);
		h *= 16777619u;
	}
	for (s = set_tab[h % SET_TABLE_SIZE]; s; s = s->next)
		if (s->hash == h && s->n == n && memcmp(s->v, vals, (size_t) n * sizeof(vals[0])) == 0)
		{
			s->refs++;
			return s;
		}
	s = malloc(sizeof(*s) + (size_t) n * sizeof(vals[0]));
	if (s == NULL)
	{
		*ok = false;
		return NULL;
	}
	s->refs = 1;
	s->hash = h;
	s->n = n;
	for (int i = 0; i < n; i++)
		s->v[i] = intern_ref(vals[i]);
	s->next = set_tab[h % SET_TABLE_SIZE];
	set_tab[h % SET_TABLE_SIZE] = s;
	set_count++;
	return s;
}

/* vc := vals.  Returns 0, or -1 out of memory (vc unchanged). */
static int
pack(struct varcache *vc, const var_values vals)
{
	bool		ok;
	const struct varset *s = set_intern(vals, &ok);

	if (!ok)
		return -1;
	if (s == vc->set)
	{
		set_unref(s);
		return 0;
	}
	set_unref(vc->set);
	vc->set = s;
	vc->gen++;
	return 0;
}

uint32_t
varcache_sets(void)
{
	return set_count;
}

/* ---- caches ---- */

void
varcache_init(struct varcache *vc)
{
	memset(vc, 0, sizeof(*vc));
}

void
varcache_free(struct varcache *vc)
{
	set_unref(vc->set);
	vc->set = NULL;
}

const char *
varcache_get(const struct varcache *vc, int slot)
{
	const struct var_str *v = slot_value(vc, slot);

	return v ? v->s : NULL;
}

bool
varcache_get_sql(const struct varcache *vc, int slot)
{
	const struct var_str *v = slot_value(vc, slot);

	return v && v->sql;
}

/* Set a slot to an interned value.  0, or -1 out of memory. */
static int
set_interned(struct varcache *vc, int slot, const struct var_str *v)
{
	var_values	vals;

	if (slot_value(vc, slot) == v)
		return 0;
	unpack(vc, vals);
	vals[slot] = v;
	return pack(vc, vals);
}

int
varcache_set(struct varcache *vc, int slot, const char *value, bool sql)
{
	const struct var_str *v = NULL;
	int			rc;

	if (value)
	{
		if ((v = intern(value, sql)) == NULL)
			return -1;
		if (slot_value(vc, slot) == v)
		{
			intern_unref(v);
			return 0;
		}
	}
	else if (slot_value(vc, slot) == NULL)
		return 0;
	rc = set_interned(vc, slot, v);
	intern_unref(v);
	return rc < 0 ? -1 : 1;
}

int
varcache_copy(struct varcache *dst, const struct varcache *src)
{
	if (dst->set == src->set)
		return 0;
	set_unref(dst->set);
	dst->set = src->set;
	if (dst->set)
		((struct varset *) dst->set)->refs++;
	dst->gen++;
	return 0;
}

bool
varcache_same(const struct varcache *a, const struct varcache *b)
{
	return a->set == b->set;
}

bool
varcache_equal_slot(const struct varcache *a, const struct varcache *b, int slot)
{
	return a->set == b->set || slot_value(a, slot) == slot_value(b, slot);
}

void
varcache_put_literal(struct proto_buf *b, const char *s)
{
	proto_put_bytes(b, "E'", 2);
	for (; *s; s++)
	{
		if (*s == '\'' || *s == '\\')
			proto_put_byte(b, (uint8_t) *s);
		proto_put_byte(b, (uint8_t) *s);
	}
	proto_put_byte(b, '\'');
}

static void
put_str(struct proto_buf *b, const char *s)
{
	proto_put_bytes(b, s, strlen(s));
}

/* A name as an SQL identifier (quoted: names may have capitals or dots). */
static void
put_ident(struct proto_buf *b, const char *name)
{
	/* a dotted extension setting stays two identifiers */
	const char *dot = strchr(name, '.');

	if (dot)
	{
		proto_put_byte(b, '"');
		proto_put_bytes(b, name, (size_t) (dot - name));
		put_str(b, "\".");
		name = dot + 1;
	}
	proto_put_byte(b, '"');
	for (; *name; name++)
	{
		if (*name == '"')
			proto_put_byte(b, '"');
		proto_put_byte(b, (uint8_t) *name);
	}
	proto_put_byte(b, '"');
}

int
varcache_build_sync(const struct varcache *client, struct varcache *server, struct proto_buf *out)
{
	int			n = 0,
				nsel = 0;
	bool		started = false;

	init_builtins();
	/* reported values first, as one SELECT of set_config() calls */
	for (int i = 0; i < slot_count; i++)
	{
		const struct var_str *cv = slot_value(client, i);

		if (!slot_tracked[i] || varcache_equal_slot(client, server, i) ||
			cv == NULL || cv->sql)
			continue;
		if (!started)
		{
			proto_begin(out, PQMSG_Query);
			started = true;
		}
		put_str(out, nsel == 0 ? "SELECT " : ", ");
		put_str(out, "pg_catalog.set_config(");
		varcache_put_literal(out, slot_names[i]);
		put_str(out, ", ");
		varcache_put_literal(out, cv->s);
		put_str(out, ", false)");
		nsel++;
	}
	if (nsel)
		proto_put_byte(out, ';');
	/* then SET of the client's own text, RESET to the defaults */
	for (int i = 0; i < slot_count; i++)
	{
		const struct var_str *cv = slot_value(client, i);

		if (!slot_tracked[i] || varcache_equal_slot(client, server, i) ||
			(cv && !cv->sql))
			continue;
		if (!started)
		{
			proto_begin(out, PQMSG_Query);
			started = true;
		}
		if (cv)
		{
			put_str(out, "SET ");
			put_ident(out, slot_names[i]);
			put_str(out, " TO ");
			put_str(out, cv->s);
		}
		else
		{
			put_str(out, "RESET ");
			put_ident(out, slot_names[i]);
		}
		proto_put_byte(out, ';');
		n++;
	}
	if (!started)
		return 0;
	proto_put_byte(out, '\0');
	proto_end(out);
	if (!proto_buf_ok(out))
		return -1;
	{
		var_values	vals;

		unpack(server, vals);
		for (int i = 0; i < slot_count; i++)
			if (slot_tracked[i])
				vals[i] = slot_value(client, i);
		if (pack(server, vals) < 0)
			return -1;
	}
	return n + nsel;
}

/* ---- clients ---- */

void
varclient_init(struct varclient *vc)
{
	memset(vc, 0, sizeof(*vc));
}

static void
drop_changes(struct var_change *ch, int *n)
{
	for (int i = 0; i < *n; i++)
	{
		intern_unref(ch[i].sql);
		ch[i].sql = NULL;
	}
	*n = 0;
}

void
varclient_free(struct varclient *vc)
{
	varcache_free(&vc->cur);
	varcache_free(&vc->reset);
	if (vc->p)
	{
		drop_changes(vc->p->pend, &vc->p->npend);
		drop_changes(vc->p->txn, &vc->p->ntxn);
		free(vc->p);
		vc->p = NULL;
	}
}

int
varclient_npending(const struct varclient *vc)
{
	return vc->p ? vc->p->npend : 0;
}

int
varclient_ntxn(const struct varclient *vc)
{
	return vc->p ? vc->p->ntxn : 0;
}

const char *
varclient_pending_sql(const struct varclient *vc, int i)
{
	return vc->p && i < vc->p->npend && vc->p->pend[i].sql ? vc->p->pend[i].sql->s : NULL;
}

bool
varclient_pending_overflow(const struct varclient *vc)
{
	return vc->p && vc->p->pend_overflow;
}

static bool
add_change(struct varclient *vc, int slot, const char *sql, size_t len)
{
	struct var_pending *p = vc->p;
	struct var_change *ch;

	if (p == NULL && (p = vc->p = calloc(1, sizeof(struct var_pending))) == NULL)
		return false;
	if (p->npend >= VAR_PENDING_MAX)
	{
		p->pend_overflow = true;
		return true;
	}
	ch = &p->pend[p->npend];
	ch->slot = (int8_t) slot;
	ch->sql = NULL;
	if (sql)
	{
		char	   *copy = strndup(sql, len);

		ch->sql = copy ? intern(copy, true) : NULL;
		free(copy);
		if (ch->sql == NULL)
		{
			p->pend_overflow = true;
			return false;
		}
	}
	p->npend++;
	return true;
}

/* ---- reading SET / RESET / DISCARD ---- */

static const char *
skip_blank(const char *p, const char *end)
{
	for (;;)
	{
		while (p < end && isspace((unsigned char) *p))
			p++;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		{
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (end - p >= 2 && p[0] == '/' && p[1] == '*')
		{
			const char *q = p + 2;

			while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
				q++;
			p = end - q >= 2 ? q + 2 : end;
			continue;
		}
		return p;
	}
}

/* Keyword `kw` (lower case) at *pp, case-insensitive, as a whole word. */
static bool
take_word(const char **pp, const char *end, const char *kw)
{
	size_t		n = strlen(kw);
	const char *p = *pp;

	if ((size_t) (end - p) < n || strncasecmp(p, kw, n) != 0 ||
		(p + n < end && sql_ident_char((unsigned char) p[n])))
		return false;
	*pp = skip_blank(p + n, end);
	return true;
}

bool
varcache_sql_maybe_set(const char *sql, size_t len)
{
	const char *end = sql + len,
			   *p = skip_blank(sql, end);

	if (p >= end)
		return false;
	switch (*p)
	{
		case 's':
		case 'S':
			return end - p > 3 && strncasecmp(p, "set", 3) == 0 && !sql_ident_char((unsigned char) p[3]);
		case 'r':
		case 'R':
			return end - p > 5 && strncasecmp(p, "reset", 5) == 0 && !sql_ident_char((unsigned char) p[5]);
		case 'd':
		case 'D':
			return end - p > 7 && strncasecmp(p, "discard", 7) == 0 && !sql_ident_char((unsigned char) p[7]);
		default:
			return false;
	}
}

/*
 * A parameter name at *pp: identifier or "quoted", optionally dotted.
 * Copies it (unquoted, case kept) to name.  Returns false if none.
 */
static bool
take_name(const char **pp, const char *end, char *name, size_t namelen)
{
	const char *p = *pp;
	size_t		n = 0;

	for (;;)
	{
		if (p < end && *p == '"')
		{
			for (p++; p < end && *p != '"'; p++)
			{
				if (n + 1 >= namelen)
					return false;
				name[n++] = *p;
			}
			if (p >= end)
				return false;
			p++;
		}
		else
		{
			const char *s = p;

			while (p < end && sql_ident_char((unsigned char) *p))
			{
				if (n + 1 >= namelen)
					return false;
				name[n++] = *p++;
			}
			if (p == s)
				return false;
		}
		if (p < end && *p == '.')
		{
			if (n + 1 >= namelen)
				return false;
			name[n++] = *p++;
			continue;
		}
		break;
	}
	name[n] = '\0';
	*pp = skip_blank(p, end);
	return true;
}

/* One statement [p, end) (no top-level ';'). */
static bool
note_statement(struct varclient *vc, const char *p, const char *end)
{
	char		name[128];
	int			slot;

	p = skip_blank(p, end);
	while (end > p && isspace((unsigned char) end[-1]))
		end--;
	if (take_word(&p, end, "discard"))
	{
		if (take_word(&p, end, "all") && p == end)
		{
			vc->reset_pending = true;
			return add_change(vc, -1, NULL, 0);
		}
		return true;
	}
	if (take_word(&p, end, "reset"))
	{
		if (take_word(&p, end, "all"))
		{
			if (p != end)
				return true;
			vc->reset_pending = true;
			return add_change(vc, -1, NULL, 0);
		}
		if (!take_name(&p, end, name, sizeof(name)) || p != end)
			return true;
		slot = varcache_slot(name);
		if (slot < 0 || varcache_is_reported(slot))
			return true;
		return add_change(vc, slot, NULL, 0);
	}
	if (!take_word(&p, end, "set"))
		return true;
	if (take_word(&p, end, "local"))
		return true;			/* ends with the transaction */
	(void) take_word(&p, end, "session");
	if (take_word(&p, end, "schema"))
		slot = varcache_slot("search_path");
	else
	{
		const char *save = p;

		/*
		 * SET SESSION AUTHORIZATION, SET SESSION CHARACTERISTICS, SET ROLE,
		 * SET TRANSACTION, SET CONSTRAINTS, SET TIME ZONE: not tracked here
		 */
		if (take_word(&p, end, "authorization") || take_word(&p, end, "characteristics"))
			return true;
		p = save;
		if (!take_name(&p, end, name, sizeof(name)))
			return true;
		if (p < end && *p == '=')
			p = skip_blank(p + 1, end);
		else if (!take_word(&p, end, "to"))
			return true;
		slot = varcache_slot(name);
	}
	if (slot < 0 || varcache_is_reported(slot) || p >= end)
		return true;
	{
		const char *q = p;

		if (take_word(&q, end, "default") && q == end)
			return add_change(vc, slot, NULL, 0);
	}
	return add_change(vc, slot, p, (size_t) (end - p));
}

bool
varclient_note_sql(struct varclient *vc, const char *sql, size_t len)
{
	const char *p = sql,
			   *end = sql + len,
			   *start = sql;
	bool		ok = true;

	while (end > p && end[-1] == '\0')
		end--;
	/* split at top-level semicolons; quotes and comments are skipped */
	while (p < end)
	{
		char		c = *p;

		if (c == '\'' || c == '"')
		{
			for (p++; p < end && *p != c; p++)
				;
			p++;
			continue;
		}
		if (c == '$')
		{
			/* a dollar quote: too rare in SET to be worth reading */
			const char *q = p + 1;

			while (q < end && sql_ident_char((unsigned char) *q) && *q != '$')
				q++;
			if (q < end && *q == '$')
				return true;
		}
		if (c == '-' && p + 1 < end && p[1] == '-')
		{
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (c == '/' && p + 1 < end && p[1] == '*')
		{
			p += 2;
			while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
				p++;
			p += 2;
			continue;
		}
		if (c == ';')
		{
			ok = note_statement(vc, start, p) && ok;
			start = p + 1;
		}
		p++;
	}
	if (start < end)
		ok = note_statement(vc, start, end) && ok;
	return ok;
}

void
varclient_note_error(struct varclient *vc)
{
	if (vc->p && (vc->p->npend > 0 || vc->reset_pending))
		vc->p->pend_error = true;
}

int
varclient_note_status(struct varclient *vc, struct varcache *server, int slot, const char *value)
{
	varcache_mark_reported(slot);
	if (varcache_set(server, slot, value, false) < 0)
		return -1;
	return set_interned(&vc->cur, slot, slot_value(server, slot));
}

/* Apply committed changes to the client and the server.  0, or -1 out of
 * memory. */
static int
apply_changes(struct varclient *vc, struct varcache *server, struct var_change *ch, int n)
{
	var_values	cur,
				sv,
				reset;

	unpack(&vc->cur, cur);
	unpack(server, sv);
	unpack(&vc->reset, reset);
	for (int i = 0; i < n; i++)
	{
		if (ch[i].slot < 0)
		{
			/*
			 * RESET ALL: the client's startup values; the server is back at
			 * its defaults for what it does not report (ParameterStatus told
			 * us the rest)
			 */
			for (int s = 0; s < VAR_MAX; s++)
			{
				cur[s] = reset[s];
				if (!varcache_is_reported(s))
					sv[s] = NULL;
			}
			continue;
		}
		cur[ch[i].slot] = ch[i].sql;
		sv[ch[i].slot] = ch[i].sql;
	}
	return pack(&vc->cur, cur) < 0 || pack(server, sv) < 0 ? -1 : 0;
}

/* More changes than remembered: the server's values of what it does not
 * report are unknown; a value no client has makes the next sync resend
 * the client's. */
static int
unknown_values(struct varclient *vc, struct varcache *server)
{
	for (int s = 0; s < VAR_MAX; s++)
		if (!varcache_is_reported(s) && slot_value(&vc->cur, s) != NULL &&
			varcache_set(server, s, "", true) < 0)
			return -1;
	return 0;
}

int
varclient_note_ready(struct varclient *vc, struct varcache *server, char status, bool commit)
{
	struct var_pending *p = vc->p;
	int			rc = 0;

	vc->reset_pending = false;
	if (p == NULL)
		return 0;
	if (status == 'I' && (p->ntxn > 0 || p->txn_overflow))
	{
		/* the transaction block ended */
		if (commit)
		{
			if (p->txn_overflow)
				rc = unknown_values(vc, server);
			else
				rc = apply_changes(vc, server, p->txn, p->ntxn);
		}
		drop_changes(p->txn, &p->ntxn);
		p->txn_overflow = false;
	}
	if (rc == 0 && !p->pend_error && (p->npend > 0 || p->pend_overflow))
	{
		if (status == 'I')
		{
			if (p->pend_overflow)
				rc = unknown_values(vc, server);
			else
				rc = apply_changes(vc, server, p->pend, p->npend);
		}
		else if (status == 'T')
		{
			/* wait for COMMIT: move them to the block's list */
			for (int i = 0; i < p->npend; i++)
			{
				if (p->ntxn >= VAR_PENDING_MAX)
				{
					p->txn_overflow = true;
					intern_unref(p->pend[i].sql);
				}
				else
					p->txn[p->ntxn++] = p->pend[i];
				p->pend[i].sql = NULL;
			}
			p->npend = 0;
			if (p->pend_overflow)
				p->txn_overflow = true;
		}
	}
	drop_changes(p->pend, &p->npend);
	p->pend_overflow = false;
	p->pend_error = false;
	return rc;
}
