/*
 * prepare.c -- prepared statements in transaction pooling: shared
 * statements, client name maps, per-server LRU caches and the queue that
 * matches server replies with client requests (design in prepare.h).
 */
#include "prepare.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list.h"
#include "util.h"
#include "varcache.h"

struct ps_stats ps_stats;
bool		ps_learn_descriptions = true;

/* ---- statements (one table, deduplicated per pool: ps_scope) ---- */

struct ps_stmt
{
	struct ps_stmt *hnext;		/* chain of the global table */
	uint64_t	hash;
	uint64_t	scope;			/* the pool's identity (ps_scope): the same
								 * text in another database, or for another
								 * user, is another statement */
	uint64_t	id;
	uint32_t	refcount;
	uint32_t	body_len;		/* query\0 int16 n int32[n] */
	uint32_t	text_len;		/* strlen(query) */
	bool		dealloc;		/* the text is DEALLOCATE name|ALL */
	char		dealloc_name[64];	/* its name ("" = ALL) */
	char		name[32];		/* PGPLUMB_<id> */
	uint32_t	name_len;		/* strlen(name) */
	bool		maybe_set;		/* varcache_sql_maybe_set() of the text */
	bool		validated;		/* a server parsed it once (ParseComplete) */
	bool		abort_ok;		/* parses in a failed transaction: empty, or
								 * COMMIT / ROLLBACK / ABORT / END / PREPARE
								 * TRANSACTION */
	int32_t		nparams;		/* parameters the server sees + 1, from the
								 * text (stmt_nparams); 0 = not yet counted */
	uint8_t		result;			/* from a Describe: 0 not known, 1 no rows
								 * (NoData), 2 rows (RowDescription) */
	uint8_t    *pdesc;			/* its ParameterDescription, or NULL */
	bool		learning;		/* a Describe to learn them was sent */
	bool		stale;			/* the server said its result type changed
								 * (0A000, RevalidateCachedQuery): a new Parse
								 * of the text gets a new statement */
	uint32_t	epoch;			/* stmt_epoch when it was made */
	uint8_t		body[];
};

static struct ps_stmt **stmt_tab;
static uint32_t stmt_tab_size;	/* power of two, 0 before first use */
static uint32_t stmt_count;
static uint64_t stmt_next_id = 1;

/*
 * Advanced by DDL that passed through the pooler (ps_schema_changed): a
 * statement made before is found by no Parse after it, so that texts are
 * parsed (and described) again under the new tables; clients that have it
 * keep it, as a direct connection keeps a statement prepared before the DDL.
 */
static uint32_t stmt_epoch;

/* May a new Parse of pool `scope` use `st` (same body)? */
static inline bool
stmt_current(const struct ps_stmt *st, uint64_t scope)
{
	return st->scope == scope && st->epoch == stmt_epoch && !st->stale;
}

/*
 * The duplicate-name probe: an empty statement named PGPLUMB_0 (ids start
 * at 1), outside the table so that no client statement is ever it, with one
 * reference held here until ps_global_cleanup() (see parse_duplicate).
 */
static struct ps_stmt *probe;

/*
 * The statement bind_probe() makes, PGPLUMB_00 (no statement of the pooler's
 * is called that, and a client's statement of that name goes to the server
 * as PGPLUMB_PGPLUMB_00), made at first use like the probe; only its name
 * is used, to map replies from.
 */
static struct ps_stmt *bind_probe_st;

/*
 * 64-bit hash for the in-memory tables, eight bytes per step (the Parse body
 * of every extended-protocol statement is hashed; byte-wise FNV-1a cost about
 * 300 instructions for a pgbench query).  A final mix makes the low bits, which
 * pick the bucket, depend on every byte.  Matches are always confirmed with
 * memcmp, so the hash only has to spread.
 */
static uint64_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t	h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t) n * 0xff51afd7ed558ccdULL);
	uint64_t	w;

	for (; n >= 8; b += 8, n -= 8)
	{
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, b, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool
stmt_tab_grow(void)
{
	uint32_t	nsize = stmt_tab_size ? stmt_tab_size * 2 : 256;
	struct ps_stmt **nt = calloc(nsize, sizeof(*nt));

	if (nt == NULL)
		return false;
	for (uint32_t i = 0; i < stmt_tab_size; i++)
	{
		struct ps_stmt *st = stmt_tab[i],
				   *next;

		for (; st; st = next)
		{
			next = st->hnext;
			st->hnext = nt[st->hash & (nsize - 1)];
			nt[st->hash & (nsize - 1)] = st;
		}
	}
	free(stmt_tab);
	stmt_tab = nt;
	stmt_tab_size = nsize;
	return true;
}

static void
stmt_ref(struct ps_stmt *st)
{
	st->refcount++;
}

/* A statement and what it learned (its description); NULL is no-op. */
static void
stmt_free(struct ps_stmt *st)
{
	if (st == NULL)
		return;
	free(st->pdesc);
	free(st);
}

static void
stmt_unref(struct ps_stmt *st)
{
	struct ps_stmt **pp;

	if (st == NULL || --st->refcount > 0)
		return;
	pp = &stmt_tab[st->hash & (stmt_tab_size - 1)];
	while (*pp != st)
		pp = &(*pp)->hnext;
	*pp = st->hnext;
	stmt_count--;
	ps_stats.stmts = stmt_count;
	stmt_free(st);
}

/*
 * Would PostgreSQL parse this text in a failed transaction?  Only an empty
 * one and the statements that end the transaction (IsTransactionExitStmt);
 * judged by the first word, so a comment before it makes it "no" (the safe
 * answer: the server is asked).
 */
static bool
text_abort_ok(const char *q, uint32_t len)
{
	static const char *const words[] = {"commit", "rollback", "abort", "end", "prepare"};
	uint32_t	i = 0,
				n;

	while (i < len && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r' || q[i] == ';'))
		i++;
	if (i == len)
		return true;
	for (n = 0; i + n < len && isalpha((unsigned char) q[i + n]); n++)
		;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (strlen(words[k]) == n && strncasecmp(q + i, words[k], n) == 0)
		{
			if (k < 4)
				return true;
			/* PREPARE TRANSACTION, not PREPARE name AS */
			for (i += n; i < len && isspace((unsigned char) q[i]); i++)
				;
			return len - i >= 11 && strncasecmp(q + i, "transaction", 11) == 0;
		}
	return false;
}

/*
 * The statement of pool `scope` for a Parse body after the name (query\0 n
 * types), with one reference for the caller; NULL on a malformed body or out
 * of memory (*bad tells which).
 */
static struct ps_stmt *
stmt_get(uint64_t scope, const uint8_t *body, uint32_t len, bool *bad)
{
	const uint8_t *nul = memchr(body, '\0', len);
	uint32_t	text_len,
				nparams;
	uint64_t	h;
	struct ps_stmt *st;

	*bad = false;
	if (nul == NULL || (uint32_t) (nul - body) + 3 > len)
	{
		*bad = true;
		return NULL;
	}
	text_len = (uint32_t) (nul - body);
	nparams = proto_get_u16(nul + 1);
	if (text_len + 3 + 4 * nparams != len)
	{
		*bad = true;
		return NULL;
	}
	h = hash_bytes(body, len) ^ scope;
	if (stmt_tab_size)
	{
		for (st = stmt_tab[h & (stmt_tab_size - 1)]; st; st = st->hnext)
			if (st->hash == h && stmt_current(st, scope) && st->body_len == len &&
				memcmp(st->body, body, len) == 0)
			{
				stmt_ref(st);
				return st;
			}
	}
	if (stmt_count >= stmt_tab_size && !stmt_tab_grow())
		return NULL;
	st = malloc(sizeof(*st) + len);
	if (st == NULL)
		return NULL;
	memset(st, 0, sizeof(*st));
	memcpy(st->body, body, len);
	st->body_len = len;
	st->text_len = text_len;
	st->hash = h;
	st->scope = scope;
	st->epoch = stmt_epoch;
	st->id = stmt_next_id++;
	st->refcount = 1;
	st->name_len = (uint32_t) snprintf(st->name, sizeof(st->name), PS_NAME_PREFIX "%llu",
									   (unsigned long long) st->id);
	st->maybe_set = varcache_sql_maybe_set((const char *) body, text_len);
	st->abort_ok = text_abort_ok((const char *) body, text_len);
	if (nparams == 0)
		st->dealloc = ps_query_is_deallocate((const char *) body, text_len, st->dealloc_name,
											 sizeof(st->dealloc_name));
	st->hnext = stmt_tab[h & (stmt_tab_size - 1)];
	stmt_tab[h & (stmt_tab_size - 1)] = st;
	stmt_count++;
	ps_stats.stmts = stmt_count;
	return st;
}

/*
 * The end of a dollar quote opened at q[i] ('$'), its tag `$tag$` i.e. tlen
 * bytes; the offset after the closing tag, or 0 if there is none.
 */
static size_t
dollar_end(const char *q, size_t len, size_t i, size_t tlen)
{
	for (size_t j = i + tlen; j + tlen <= len; j++)
		if (q[j] == '$' && memcmp(q + j, q + i, tlen) == 0)
			return j + tlen;
	return 0;
}

/*
 * The highest $n the text refers to, outside literals, quoted identifiers,
 * comments and dollar quotes (standard_conforming_strings on); -1 if the
 * text cannot be read that way (then nothing is concluded from it).
 */
static int32_t
text_max_param(const char *q, size_t len)
{
	int32_t		max = 0;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) q[i];

		if (c == '\'' || c == '"')
		{
			bool		esc = false;

			/* E'...' takes backslash escapes */
			if (c == '\'' && i > 0 && (q[i - 1] == 'e' || q[i - 1] == 'E'))
				esc = i < 2 || !sql_ident_char((unsigned char) q[i - 2]);

			for (i++;; i++)
			{
				if (i >= len)
					return -1;
				if (esc && q[i] == '\\')
					i++;
				else if ((unsigned char) q[i] == c)
				{
					if (i + 1 < len && (unsigned char) q[i + 1] == c)
						i++;
					else
						break;
				}
			}
			i++;
		}
		else if (c == '-' && i + 1 < len && q[i + 1] == '-')
		{
			while (i < len && q[i] != '\n')
				i++;
		}
		else if (c == '/' && i + 1 < len && q[i + 1] == '*')
		{
			int			depth = 1;

			for (i += 2; depth > 0; i++)
			{
				if (i + 1 >= len)
					return -1;
				if (q[i] == '/' && q[i + 1] == '*')
					depth++, i++;
				else if (q[i] == '*' && q[i + 1] == '/')
					depth--, i++;
			}
		}
		else if (c == '$' && (i == 0 || !sql_ident_char((unsigned char) q[i - 1])))
		{
			size_t		j = i + 1;

			if (j < len && isdigit((unsigned char) q[j]))
			{
				int64_t		n = 0;

				for (; j < len && isdigit((unsigned char) q[j]); j++)
					if ((n = n * 10 + (q[j] - '0')) > 65535)
						return -1;
				if (n > max)
					max = (int32_t) n;
				i = j;
				continue;
			}
			while (j < len && q[j] != '$' && (isalnum((unsigned char) q[j]) || q[j] == '_' ||
											  (unsigned char) q[j] >= 0x80))
				j++;
			if (j >= len || q[j] != '$')
				return -1;		/* not a dollar quote: unsure */
			if ((i = dollar_end(q, len, i, j + 1 - i)) == 0)
				return -1;
		}
		else if (sql_ident_char(c))
		{
			while (i < len && sql_ident_char((unsigned char) q[i]))
				i++;
		}
		else
			i++;
	}
	return max;
}

/*
 * The number of parameters the server's statement has: PostgreSQL takes
 * the declared ones and grows the list to the highest $n referred to.  -1
 * when the text cannot tell.
 */
static int32_t
stmt_nparams(struct ps_stmt *st)
{
	if (st->nparams == 0)
	{
		int32_t		declared = proto_get_u16(st->body + st->text_len + 1);
		int32_t		ref = text_max_param((const char *) st->body, st->text_len);

		st->nparams = ref < 0 ? -1 : (ref > declared ? ref : declared) + 1;
	}
	return st->nparams < 0 ? -1 : st->nparams - 1;
}

const char *
ps_stmt_text(const struct ps_stmt *st)
{
	return (const char *) st->body;
}

bool
ps_stmt_maybe_set(const struct ps_stmt *st, uint32_t *text_len)
{
	*text_len = st->text_len;
	return st->maybe_set;
}

const char *
ps_stmt_name(const struct ps_stmt *st)
{
	return st->name;
}

/* The probe statement, made at first use; NULL when out of memory. */
static struct ps_stmt *
probe_stmt(void)
{
	static const uint8_t empty[3] = {0, 0, 0};	/* "", no parameters */

	if (probe)
		return probe;
	probe = calloc(1, sizeof(*probe) + sizeof(empty));
	if (probe == NULL)
		return NULL;
	memcpy(probe->body, empty, sizeof(empty));
	probe->body_len = sizeof(empty);
	probe->refcount = 1;
	probe->validated = true;
	probe->name_len = (uint32_t) snprintf(probe->name, sizeof(probe->name), "%s0",
										  PS_NAME_PREFIX);
	return probe;
}

static struct ps_stmt *
bind_probe_stmt(void)
{
	if (bind_probe_st == NULL && (bind_probe_st = calloc(1, sizeof(*bind_probe_st))) != NULL)
	{
		bind_probe_st->refcount = 1;
		bind_probe_st->name_len = (uint32_t) snprintf(bind_probe_st->name,
													  sizeof(bind_probe_st->name), "%s00",
													  PS_NAME_PREFIX);
	}
	return bind_probe_st;
}

void
ps_global_cleanup(void)
{
	/* the probes learn their (empty) description like any statement */
	stmt_free(probe);
	probe = NULL;
	stmt_free(bind_probe_st);
	bind_probe_st = NULL;
	for (uint32_t i = 0; i < stmt_tab_size; i++)
	{
		struct ps_stmt *st = stmt_tab[i],
				   *next;

		for (; st; st = next)
		{
			next = st->hnext;
			stmt_free(st);
		}
	}
	free(stmt_tab);
	stmt_tab = NULL;
	stmt_tab_size = 0;
	stmt_count = 0;
	ps_stats.stmts = 0;
}

/* ---- client maps: name -> statement ---- */

struct ps_centry
{
	struct ps_centry *next;
	struct ps_stmt *stmt;
	uint64_t	hash;
	uint32_t	name_len;
	char		name[];
};

struct ps_client
{
	struct ps_centry **tab;
	uint32_t	size;			/* power of two or 0 */
	uint32_t	count;
	struct ps_stmt *unnamed;
	uint64_t	scope;			/* of its pool: its statements' (stmt_get) */
	struct ps_server *linked;	/* the server whose queued requests may undo
								 * changes to this map (see undo_map) */
	uint32_t	nrq;			/* queued requests of `linked` that point
								 * here; at 0 the link is dropped, so that
								 * `linked` never outlives its server */
};

static void unlink_client(struct ps_client *cl);

uint64_t
ps_scope(const char *dbname, const char *user, uint64_t conn, const char *search_path)
{
	uint64_t	h = hash_bytes(dbname, strlen(dbname) + 1);

	h = hash_bytes(&h, sizeof(h)) ^ hash_bytes(user, strlen(user) + 1);
	if (search_path)
		h = hash_bytes(&h, sizeof(h)) ^ hash_bytes(search_path, strlen(search_path) + 1);
	return hash_bytes(&h, sizeof(h)) ^ conn;
}

void
ps_client_set_scope(struct ps_client *cl, uint64_t scope)
{
	cl->scope = scope;
}

void
ps_schema_changed(void)
{
	stmt_epoch++;
}

struct ps_client *
ps_client_new(uint64_t scope)
{
	struct ps_client *cl = calloc(1, sizeof(struct ps_client));

	if (cl)
		cl->scope = scope;
	return cl;
}

static void
client_clear(struct ps_client *cl)
{
	for (uint32_t i = 0; i < cl->size; i++)
	{
		struct ps_centry *e = cl->tab[i],
				   *next;

		for (; e; e = next)
		{
			next = e->next;
			stmt_unref(e->stmt);
			free(e);
		}
		cl->tab[i] = NULL;
	}
	cl->count = 0;
	stmt_unref(cl->unnamed);
	cl->unnamed = NULL;
}

void
ps_client_free(struct ps_client *cl)
{
	if (cl == NULL)
		return;
	unlink_client(cl);
	client_clear(cl);
	free(cl->tab);
	free(cl);
}

void
ps_client_forget_all(struct ps_client *cl)
{
	client_clear(cl);
}

uint32_t
ps_client_count(const struct ps_client *cl)
{
	return cl->count;
}

static struct ps_centry **
client_slot(struct ps_client *cl, const char *name, uint32_t len, uint64_t h)
{
	struct ps_centry **pp;

	if (cl->size == 0)
		return NULL;
	for (pp = &cl->tab[h & (cl->size - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->name_len == len && memcmp((*pp)->name, name, len) == 0)
			return pp;
	return NULL;
}

static struct ps_stmt *
client_lookup(struct ps_client *cl, const char *name, uint32_t len)
{
	struct ps_centry **pp;

	if (len == 0)
		return cl->unnamed;
	pp = client_slot(cl, name, len, hash_bytes(name, len));
	return pp ? (*pp)->stmt : NULL;
}

static bool
client_grow(struct ps_client *cl)
{
	uint32_t	nsize = cl->size ? cl->size * 2 : 16;
	struct ps_centry **nt = calloc(nsize, sizeof(*nt));

	if (nt == NULL)
		return false;
	for (uint32_t i = 0; i < cl->size; i++)
	{
		struct ps_centry *e = cl->tab[i],
				   *next;

		for (; e; e = next)
		{
			next = e->next;
			e->next = nt[e->hash & (nsize - 1)];
			nt[e->hash & (nsize - 1)] = e;
		}
	}
	free(cl->tab);
	cl->tab = nt;
	cl->size = nsize;
	return true;
}

/* Bind `name` to `st` (takes over the caller's reference). */
static bool
client_store(struct ps_client *cl, const char *name, uint32_t len, struct ps_stmt *st)
{
	uint64_t	h;
	struct ps_centry **pp,
			   *e;

	if (len == 0)
	{
		stmt_unref(cl->unnamed);
		cl->unnamed = st;
		return true;
	}
	h = hash_bytes(name, len);
	pp = client_slot(cl, name, len, h);
	if (pp)
	{
		/*
		 * undo_map() putting a name back (a client's Parse of a name it has
		 * never gets here: see parse_duplicate)
		 */
		stmt_unref((*pp)->stmt);
		(*pp)->stmt = st;
		return true;
	}
	if (cl->count >= cl->size && !client_grow(cl))
		return false;
	e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return false;
	e->stmt = st;
	e->hash = h;
	e->name_len = len;
	memcpy(e->name, name, len);
	e->next = cl->tab[h & (cl->size - 1)];
	cl->tab[h & (cl->size - 1)] = e;
	cl->count++;
	return true;
}

static void
client_forget(struct ps_client *cl, const char *name, uint32_t len)
{
	struct ps_centry **pp,
			   *e;

	if (len == 0)
	{
		stmt_unref(cl->unnamed);
		cl->unnamed = NULL;
		return;
	}
	pp = client_slot(cl, name, len, hash_bytes(name, len));
	if (pp == NULL)
		return;
	e = *pp;
	*pp = e->next;
	stmt_unref(e->stmt);
	free(e);
	cl->count--;
}

/* ---- server caches ---- */

enum sentry_state
{
	SE_PENDING,					/* Parse sent, ParseComplete not seen yet */
	SE_READY
};

struct ps_sentry
{
	struct ps_sentry *hnext;
	struct list_node lru;		/* head = least recently used */
	struct ps_stmt *stmt;
	enum sentry_state state;
	uint32_t	gen;			/* which Parse made it (see parse_done) */
};

/* Kinds of queued requests. */
enum rq_kind
{
	RQ_EXT,						/* extended request forwarded (Bind, Describe,
								 * Execute, Close of a portal, ...) */
	RQ_PARSE,					/* client's Parse, renamed: '1' makes it READY */
	RQ_PARSE_INJECTED,			/* our Parse before a Bind/Describe: swallow
								 * '1' */
	RQ_PARSE_NOP,				/* portal Close standing for a Parse */
	RQ_PARSE_DUP,				/* client's Parse of a name it has, sent under
								 * the probe's name: fails (42P05) */
	RQ_CLOSE_EVICT,				/* our Close of an evicted statement: swallow
								 * '3' */
	RQ_CLOSE_NOP,				/* our Close of the unnamed statement after a
								 * no-op Parse: swallow '3' */
	RQ_CLOSE_DOUBT,				/* our Close before a Parse of a statement the
								 * server may have (queue_parse): swallow '3' */
	RQ_SYNC,					/* Sync: 'Z' */
	RQ_QUERY,					/* Query / FunctionCall: everything up to 'Z' */
	RQ_QUERY_INJECTED,			/* our Query: swallow everything up to 'Z' */
	RQ_QUERY_DEALLOC,			/* empty Query standing for DEALLOCATE */
	RQ_EXECUTE,					/* Execute, with the portal's statement */
	RQ_PROBE,					/* our Parse/Bind of an empty statement that
								 * asks what a Bind of the client's would be
								 * told (bind_probe): swallow '1' / '2' */
	RQ_DESCRIBE_LEARN,			/* our Describe after the first Parse of a
								 * statement: learn it, swallow 't' 'T'/'n' */
	RQ_DESCRIBE_S,				/* Describe of a client's statement whose
								 * description is not known yet: learn it */
	RQ_PARSE_ROWS,				/* our Parse of the rows probe: swallow '1' */
	RQ_DESCRIBE_GUARD			/* our Describe of a statement that returns
								 * rows, before a client's Describe that may
								 * be in a failed transaction: swallow 't'
								 * 'T'; its 25P02 goes to the client */
};

struct ps_rq
{
	uint8_t		kind;
	bool		dealloc_all;	/* RQ_QUERY_DEALLOC: tag "DEALLOCATE ALL" */
	uint32_t	gen;			/* RQ_PARSE*: the cache entry it made */
	struct ps_stmt *stmt;		/* referenced, or NULL */

	/*
	 * A client's Parse or Close changed its map when it was sent: if the
	 * server ignores or fails the request, the name goes back to undo_prev
	 * (referenced, NULL = no statement).  cl is NULL when there is nothing to
	 * undo or the client is gone.
	 */
	struct ps_client *cl;
	struct ps_stmt *undo_prev;
	char	   *undo_name;		/* malloc'd; NULL for the unnamed statement */
	uint32_t	undo_nlen;

	/*
	 * A request that names a statement on the server under another name than
	 * the client's (see ps_reply_rename): the server-side name is map_stmt's,
	 * or PS_NAME_PREFIX + the client's name when map_stmt is NULL; the
	 * client's name is map_inl (short) or map_heap.
	 */
	bool		mapped;
	struct ps_stmt *map_stmt;	/* referenced, or NULL */
	uint32_t	map_nlen;
	char	   *map_heap;		/* malloc'd when map_nlen >= sizeof(map_inl) */
	char		map_inl[24];
};

struct ps_server
{
	struct ps_sentry **tab;
	uint32_t	size;			/* power of two or 0 */
	uint32_t	count;
	struct list lru;
	uint32_t	next_gen;

	struct ps_rq *q;			/* ring of outstanding requests */
	uint32_t	qcap;			/* power of two or 0 */
	uint32_t	qhead;
	uint32_t	qlen;
	uint32_t	untracked_z;	/* simple queries sent while nothing was
								 * queued: their replies come first and pass
								 * as they are */
	bool		skipping;		/* an error: requests up to the next Sync are
								 * ignored */
	bool		doubt;			/* the cache may lack statements the server
								 * has (see server_may_have) */
	bool		last_dealloc_all;
	char		status;			/* of the last ReadyForQuery; 0: unknown */
	uint8_t		rows_probe;		/* PS_ROWS_PROBE on the server: ROWS_* */
	struct ps_stmt *unnamed_portal; /* statement of the last Bind to portal "" */
};

/*
 * The rows probe: a statement of the pooler's that returns rows ("SELECT",
 * no columns), parsed on each server connection after the first Parse that
 * cannot succeed in a failed transaction, kept out of the LRU cache.  A
 * Describe of it fails with 25P02 exactly when the transaction has failed
 * (describe_probe).  Its name looks like the pooler's, so no client reaches
 * it (pooler_name).
 */
#define PS_ROWS_PROBE PS_NAME_PREFIX "000"
enum
{
	ROWS_NONE = 0, ROWS_PENDING, ROWS_READY
};

struct ps_server *
ps_server_new(void)
{
	struct ps_server *sv = calloc(1, sizeof(struct ps_server));

	if (sv)
		list_init(&sv->lru);
	return sv;
}

void
ps_server_set_status(struct ps_server *sv, char status)
{
	sv->status = status;
}

uint32_t
ps_server_cached(const struct ps_server *sv)
{
	return sv->count;
}

uint32_t
ps_server_outstanding(const struct ps_server *sv)
{
	return sv->qlen + sv->untracked_z;
}

static struct ps_sentry **
server_slot(struct ps_server *sv, const struct ps_stmt *st)
{
	struct ps_sentry **pp;

	if (sv->size == 0)
		return NULL;
	for (pp = &sv->tab[st->id & (sv->size - 1)]; *pp; pp = &(*pp)->hnext)
		if ((*pp)->stmt == st)
			return pp;
	return NULL;
}

static struct ps_sentry *
server_lookup(struct ps_server *sv, const struct ps_stmt *st)
{
	struct ps_sentry **pp = server_slot(sv, st);

	return pp ? *pp : NULL;
}

static bool
server_grow(struct ps_server *sv)
{
	uint32_t	nsize = sv->size ? sv->size * 2 : 32;
	struct ps_sentry **nt = calloc(nsize, sizeof(*nt));

	if (nt == NULL)
		return false;
	for (uint32_t i = 0; i < sv->size; i++)
	{
		struct ps_sentry *e = sv->tab[i],
				   *next;

		for (; e; e = next)
		{
			next = e->hnext;
			e->hnext = nt[e->stmt->id & (nsize - 1)];
			nt[e->stmt->id & (nsize - 1)] = e;
		}
	}
	free(sv->tab);
	sv->tab = nt;
	sv->size = nsize;
	return true;
}

static struct ps_sentry *
server_add(struct ps_server *sv, struct ps_stmt *st, enum sentry_state state)
{
	struct ps_sentry *e;

	if (sv->count >= sv->size && !server_grow(sv))
		return NULL;
	e = malloc(sizeof(*e));
	if (e == NULL)
		return NULL;
	e->stmt = st;
	stmt_ref(st);
	e->state = state;
	e->gen = ++sv->next_gen;
	e->hnext = sv->tab[st->id & (sv->size - 1)];
	sv->tab[st->id & (sv->size - 1)] = e;
	list_append(&sv->lru, &e->lru);
	sv->count++;
	return e;
}

static void
server_remove(struct ps_server *sv, struct ps_sentry *e)
{
	struct ps_sentry **pp = server_slot(sv, e->stmt);

	*pp = e->hnext;
	list_remove(&sv->lru, &e->lru);
	sv->count--;
	stmt_unref(e->stmt);
	free(e);
}

static void
server_touch(struct ps_server *sv, struct ps_sentry *e)
{
	list_remove(&sv->lru, &e->lru);
	list_append(&sv->lru, &e->lru);
}

void
ps_server_forget_all(struct ps_server *sv)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &sv->lru)
		server_remove(sv, list_entry(n, struct ps_sentry, lru));
	sv->doubt = false;
	sv->rows_probe = ROWS_NONE;
}

/* ---- request queue ---- */

/* The i-th queued request, 0 the oldest (i < qlen). */
static struct ps_rq *
queue_at(const struct ps_server *sv, uint32_t i)
{
	return &sv->q[(sv->qhead + i) & (sv->qcap - 1)];
}

static bool
queue_push(struct ps_server *sv, enum rq_kind kind, struct ps_stmt *st)
{
	struct ps_rq *rq;

	if (sv->qlen == sv->qcap)
	{
		uint32_t	ncap = sv->qcap ? sv->qcap * 2 : 64;
		struct ps_rq *nq = malloc(ncap * sizeof(*nq));

		if (nq == NULL)
			return false;
		for (uint32_t i = 0; i < sv->qlen; i++)
			nq[i] = *queue_at(sv, i);
		free(sv->q);
		sv->q = nq;
		sv->qcap = ncap;
		sv->qhead = 0;
	}
	rq = &sv->q[(sv->qhead + sv->qlen) & (sv->qcap - 1)];
	rq->kind = (uint8_t) kind;
	rq->dealloc_all = false;
	rq->gen = 0;
	rq->stmt = st;
	rq->cl = NULL;
	rq->undo_prev = NULL;
	rq->undo_name = NULL;
	rq->undo_nlen = 0;
	rq->mapped = false;
	rq->map_stmt = NULL;
	rq->map_heap = NULL;
	if (st)
		stmt_ref(st);
	sv->qlen++;
	return true;
}

static struct ps_rq *
queue_tail(const struct ps_server *sv)
{
	return queue_at(sv, sv->qlen - 1);
}

static struct ps_rq *
queue_head(const struct ps_server *sv)
{
	return sv->qlen ? &sv->q[sv->qhead & (sv->qcap - 1)] : NULL;
}

static void
queue_pop(struct ps_server *sv)
{
	struct ps_rq *rq = queue_head(sv);

	stmt_unref(rq->stmt);
	rq->stmt = NULL;
	stmt_unref(rq->undo_prev);
	rq->undo_prev = NULL;
	free(rq->undo_name);
	rq->undo_name = NULL;
	if (rq->mapped)
	{
		stmt_unref(rq->map_stmt);
		rq->map_stmt = NULL;
		if (rq->map_heap)
		{
			free(rq->map_heap);
			rq->map_heap = NULL;
		}
		rq->mapped = false;
	}
	if (rq->cl)
	{
		struct ps_client *cl = rq->cl;

		if (cl->nrq > 0)
			cl->nrq--;
		if (cl->nrq == 0 && cl->linked == sv)
			cl->linked = NULL;
	}
	rq->cl = NULL;
	sv->qhead = (sv->qhead + 1) & (sv->qcap - 1);
	sv->qlen--;
}

/*
 * A Parse of `st` did not happen (error or ignored after an error).  `gen`
 * names the cache entry that Parse made: if that entry was evicted and
 * another Parse made a new one since, the new one is not touched.
 */
static void
parse_failed(struct ps_server *sv, struct ps_stmt *st, uint32_t gen)
{
	struct ps_sentry *e = server_lookup(sv, st);

	if (e && e->gen == gen && e->state == SE_PENDING)
		server_remove(sv, e);
}

/* A Parse of `st` succeeded (an evicted entry stays evicted: its Close
 * follows on the wire). */
static void
parse_done(struct ps_server *sv, struct ps_stmt *st, uint32_t gen)
{
	struct ps_sentry *e = server_lookup(sv, st);

	st->validated = true;
	if (e && e->gen == gen)
	{
		e->state = SE_READY;
		return;
	}
	/* evicted while pending: its eviction Close now closes something */
	for (uint32_t i = 0; i < sv->qlen; i++)
	{
		struct ps_rq *rq = queue_at(sv, i);

		if (rq->kind == RQ_CLOSE_EVICT && rq->stmt == st && rq->gen == gen)
			rq->gen = 0;
	}
}

/*
 * An eviction Close was ignored: the statement is still on the server,
 * unless its Parse (rq->gen still set: never answered) was lost as well.
 */
static void
close_ignored(struct ps_server *sv, struct ps_rq *rq)
{
	struct ps_stmt *st = rq->stmt;
	struct ps_sentry *e;

	if (rq->gen != 0)
		return;
	e = server_lookup(sv, st);
	if (e)
	{
		/*
		 * a newer Parse of it is on its way, a Close before it (queue_parse):
		 * that pair decides
		 */
	}
	else
		(void) server_add(sv, st, SE_READY);	/* on OOM it is just unknown */
}

/* Drop the head request: the server ignored it or answered it with an error. */
static void
request_lost(struct ps_server *sv, struct ps_rq *rq)
{
	switch ((enum rq_kind) rq->kind)
	{
		case RQ_PARSE:
		case RQ_PARSE_INJECTED:
			parse_failed(sv, rq->stmt, rq->gen);
			break;
		case RQ_CLOSE_EVICT:
			close_ignored(sv, rq);
			break;
		case RQ_CLOSE_DOUBT:
			sv->doubt = true;	/* what the server has is not known */
			break;
		case RQ_DESCRIBE_LEARN:
			rq->stmt->learning = false; /* the next Parse asks again */
			break;
		case RQ_PARSE_ROWS:
			sv->rows_probe = ROWS_NONE;
			break;
		default:
			break;
	}
}

/* ---- statement names in replies ---- */

/*
 * Record in rq that the server knows the client's statement `name` as
 * st's name (st NULL: as PS_NAME_PREFIX + name).  Costs a copy of the name
 * (none for the unnamed statement); malloc only for names of 24 bytes or
 * more.
 */
static inline bool
rq_map(struct ps_rq *rq, struct ps_stmt *st, const char *name, uint32_t nlen)
{
	char	   *dst = rq->map_inl;

	if (nlen >= sizeof(rq->map_inl) && (dst = rq->map_heap = malloc(nlen + 1)) == NULL)
		return false;
	memcpy(dst, name, nlen);
	dst[nlen] = '\0';
	rq->map_nlen = nlen;
	rq->map_stmt = st;
	if (st)
		stmt_ref(st);
	rq->mapped = true;
	return true;
}

/* Map every request queued since the queue was `from` long that can fail
 * with the statement's server-side name in the message: the client's
 * Parse, our Parse before a Bind/Describe, the Bind/Describe itself. */
static inline bool
map_new_requests(struct ps_server *sv, uint32_t from, struct ps_stmt *st,
				 const char *name, uint32_t nlen)
{
	for (uint32_t i = from; i < sv->qlen; i++)
	{
		struct ps_rq *rq = queue_at(sv, i);

		if (rq->kind != RQ_CLOSE_EVICT && rq->kind != RQ_CLOSE_NOP &&
			rq->kind != RQ_CLOSE_DOUBT && !rq->mapped &&
			!rq_map(rq, st, name, nlen))
			return false;
	}
	return true;
}

/*
 * True if `name` is in the pooler's namespace, PS_NAME_PREFIX and digits:
 * a client statement of that name that the pooler does not know must not
 * reach the server as it is, where it would be another client's statement.
 */
static bool
pooler_name(const char *name, uint32_t nlen)
{
	uint32_t	plen = sizeof(PS_NAME_PREFIX) - 1;

	if (nlen <= plen || memcmp(name, PS_NAME_PREFIX, plen) != 0)
		return false;
	for (uint32_t i = plen; i < nlen; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

/* Search `hay` for `statement "<from>"`; the offset of `from` or -1. */
static int64_t
find_stmt_name(const uint8_t *hay, size_t hlen, const char *from, size_t flen)
{
	static const char lead[] = "statement \"";
	size_t		llen = sizeof(lead) - 1;

	for (size_t i = 0; i + llen + flen + 1 <= hlen; i++)
		if (hay[i] == 's' && memcmp(hay + i, lead, llen) == 0 &&
			memcmp(hay + i + llen, from, flen) == 0 && hay[i + llen + flen] == '"')
			return (int64_t) (i + llen);
	return -1;
}

bool
ps_rename_in_reply(const uint8_t *msg, uint32_t total, const char *from, const char *to,
				   struct proto_buf *out)
{
	size_t		flen = strlen(from),
				tlen = strlen(to);
	uint32_t	pos = PROTO_HDR_LEN;
	bool		changed = false;

	if (total < PROTO_HDR_LEN + 1 || msg[total - 1] != '\0')
		return false;
	proto_buf_reset(out);
	proto_begin(out, msg[0]);
	while (pos < total - 1)
	{
		const uint8_t *v = msg + pos + 1;

		/* the last byte is the list's terminator, never a value's */
		const uint8_t *nul = memchr(v, '\0', total - 1 - (pos + 1));
		size_t		vlen;
		int64_t		at;

		if (nul == NULL)
			return false;
		vlen = (size_t) (nul - v);
		proto_put_byte(out, msg[pos]);
		while ((at = find_stmt_name(v, vlen, from, flen)) >= 0)
		{
			proto_put_bytes(out, v, (size_t) at);
			proto_put_bytes(out, to, tlen);
			v += at + (int64_t) flen;
			vlen -= (size_t) at + flen;
			changed = true;
		}
		proto_put_bytes(out, v, vlen + 1);
		pos = (uint32_t) (nul - msg) + 1;
	}
	proto_put_byte(out, '\0');
	proto_end(out);
	return changed && proto_buf_ok(out);
}

bool
ps_reply_renames(const struct ps_server *sv)
{
	const struct ps_rq *rq = sv->untracked_z ? NULL : queue_head(sv);

	return rq && rq->mapped;
}

void
ps_reply_error(const struct ps_server *sv, const uint8_t *msg, uint32_t total)
{
	const struct ps_rq *rq = sv->untracked_z ? NULL : queue_head(sv);
	const char *code,
			   *routine;

	if (rq == NULL || !rq->mapped || rq->map_stmt == NULL ||
		(code = proto_error_field(msg + PROTO_HDR_LEN, total - PROTO_HDR_LEN,
								  PROTO_FIELD_SQLSTATE)) == NULL || strcmp(code, "0A000") != 0 ||
		(routine = proto_error_field(msg + PROTO_HDR_LEN, total - PROTO_HDR_LEN,
									 PROTO_FIELD_ROUTINE)) == NULL ||
		strcmp(routine, "RevalidateCachedQuery") != 0)
		return;
	rq->map_stmt->stale = true;
}

bool
ps_reply_rename(const struct ps_server *sv, const uint8_t *msg, uint32_t total,
				struct proto_buf *out)
{
	const struct ps_rq *rq = sv->untracked_z ? NULL : queue_head(sv);
	char		foreign[sizeof(PS_NAME_PREFIX) + 64];
	const char *from;

	if (rq == NULL || !rq->mapped)
		return false;
	if (rq->map_stmt)
		from = rq->map_stmt->name;
	else if (rq->map_nlen < 64)
	{
		snprintf(foreign, sizeof(foreign), "%s%s", PS_NAME_PREFIX,
				 rq->map_heap ? rq->map_heap : rq->map_inl);
		from = foreign;
	}
	else
		return false;			/* never foreign: pooler names are short */
	return ps_rename_in_reply(msg, total, from, rq->map_heap ? rq->map_heap : rq->map_inl, out);
}

/* ---- undoing client map changes the server did not make ---- */

/* Forget the undo records of `cl` queued on its linked server. */
static void
unlink_client(struct ps_client *cl)
{
	struct ps_server *sv = cl->linked;

	cl->nrq = 0;
	if (sv == NULL)
		return;
	for (uint32_t i = 0; i < sv->qlen; i++)
	{
		struct ps_rq *rq = queue_at(sv, i);

		if (rq->cl == cl)
			rq->cl = NULL;
	}
	cl->linked = NULL;
	cl->nrq = 0;
}

/*
 * The request just queued (the tail) changed `name` in the client's map,
 * which was `prev` before (the caller's reference is taken over).
 */
static bool
attach_undo(struct ps_server *sv, struct ps_client *cl, const char *name, uint32_t nlen,
			struct ps_stmt *prev)
{
	struct ps_rq *rq = queue_tail(sv);

	if (nlen > 0 && (rq->undo_name = malloc(nlen)) == NULL)
	{
		stmt_unref(prev);
		return false;
	}
	if (nlen > 0)
		memcpy(rq->undo_name, name, nlen);
	rq->undo_nlen = nlen;
	rq->undo_prev = prev;
	if (cl->linked != sv)
	{
		unlink_client(cl);
		cl->linked = sv;
	}
	rq->cl = cl;
	cl->nrq++;
	return true;
}

/*
 * The server ignored the request (`failed`: failed it) whose map change
 * is recorded in rq: put the name back.  A failed Parse of the unnamed
 * statement leaves none, as in PostgreSQL, which drops the old one first.
 */
static void
undo_map(struct ps_rq *rq, bool failed)
{
	struct ps_client *cl = rq->cl;
	const char *name = rq->undo_name ? rq->undo_name : "";

	if (cl == NULL)
		return;
	if (rq->undo_prev &&
		!(failed && (rq->kind == RQ_PARSE || rq->kind == RQ_PARSE_NOP) && rq->undo_nlen == 0))
	{
		stmt_ref(rq->undo_prev);
		if (!client_store(cl, name, rq->undo_nlen, rq->undo_prev))
		{
			stmt_unref(rq->undo_prev);
			client_forget(cl, name, rq->undo_nlen);
		}
	}
	else
		client_forget(cl, name, rq->undo_nlen);
}

void
ps_server_free(struct ps_server *sv)
{
	if (sv == NULL)
		return;
	/* popping drops the link of every client with requests queued here */
	while (sv->qlen)
		queue_pop(sv);
	free(sv->q);
	ps_server_forget_all(sv);
	free(sv->tab);
	stmt_unref(sv->unnamed_portal);
	free(sv);
}

/* ---- building server requests ---- */

static void
build_parse(struct proto_buf *out, const struct ps_stmt *st)
{
	proto_begin(out, PQMSG_Parse);
	proto_put_string(out, st->name);
	if (st->dealloc)
	{
		/* the server runs an empty query; its reply becomes DEALLOCATE's */
		proto_put_byte(out, 0);
		proto_put_bytes(out, st->body + st->text_len + 1, st->body_len - st->text_len - 1);
	}
	else
		proto_put_bytes(out, st->body, st->body_len);
	proto_end(out);
	ps_stats.server_parses++;
}

/* A Parse of a trivial statement as the unnamed one, and the Close of it
 * (the server's unnamed statement is never a client's: a client's Bind of
 * one it does not have must find none). */
static void
build_nop_parse(struct proto_buf *out)
{
	proto_begin(out, PQMSG_Parse);
	proto_put_byte(out, '\0');
	proto_put_string(out, "SELECT");
	proto_put_int16(out, 0);
	proto_end(out);
	proto_build_close(out, 'S', "");
}

static void
build_nop_close(struct proto_buf *out)
{
	proto_build_close(out, 'P', PS_NOP_PORTAL);
}

/*
 * Make room for one more statement on the server: Close the least recently
 * used statements while the cache is full.  A statement whose Parse is still
 * unanswered may go too: every request using it is already on the wire
 * before the Close, and a portal outlives its statement.
 */
static bool
evict_for_one(struct ps_server *sv, int max_prepared, struct proto_buf *out)
{
	struct list_node *n,
			   *t;

	if (max_prepared <= 0)
		return true;
	list_for_each_safe(n, t, &sv->lru)
	{
		struct ps_sentry *e = list_entry(n, struct ps_sentry, lru);

		if (sv->count < (uint32_t) max_prepared)
			break;
		proto_build_close(out, 'S', e->stmt->name);
		if (!queue_push(sv, RQ_CLOSE_EVICT, e->stmt))
			return false;
		/* a statement whose Parse is unanswered: see close_ignored */
		queue_tail(sv)->gen = e->state == SE_PENDING ? e->gen : 0;
		ps_stats.evictions++;
		server_remove(sv, e);
	}
	return true;
}

static void build_named(struct proto_buf *out, uint8_t type, const char *portal,
						uint32_t plen, const char *sname, uint32_t slen,
						const uint8_t *rest, uint32_t rlen);

bool
ps_server_rows_probe_due(const struct ps_server *sv)
{
	return sv->rows_probe == ROWS_NONE && ps_learn_descriptions && sv->qlen == 0 &&
		sv->untracked_z == 0 && !sv->skipping;
}

/* Close and Parse of the rows probe (closed first: closing a statement that
 * does not exist is no error). */
static void
put_rows_probe(struct proto_buf *out)
{
	proto_build_close(out, 'S', PS_ROWS_PROBE);
	proto_begin(out, PQMSG_Parse);
	proto_put_string(out, PS_ROWS_PROBE);
	proto_put_string(out, "SELECT");
	proto_put_int16(out, 0);
	proto_end(out);
}

bool
ps_server_rows_probe(struct ps_server *sv, struct proto_buf *out)
{
	put_rows_probe(out);
	if (!queue_push(sv, RQ_CLOSE_NOP, NULL) || !queue_push(sv, RQ_PARSE_ROWS, NULL))
		return false;
	sv->rows_probe = ROWS_PENDING;
	return proto_buf_ok(out);
}

bool
ps_server_rows_probe_synced(struct ps_server *sv, struct proto_buf *out)
{
	put_rows_probe(out);
	proto_begin(out, PQMSG_Sync);
	proto_end(out);

	/*
	 * the server parses it before anything sent after it, or the caller
	 * closes the connection on its error
	 */
	sv->rows_probe = ROWS_READY;
	return proto_buf_ok(out);
}

/*
 * After the first Parse of `st` on any server, a Describe of it: what it
 * returns (rows or not) and its parameter types are what a Describe of it
 * in a failed transaction needs later (describe_probe).  Once per text
 * and pool.
 */
static bool
learn_describe(struct ps_server *sv, struct ps_stmt *st, struct proto_buf *out)
{
	if (!ps_learn_descriptions)
		return true;

	/*
	 * the rows probe goes after a Parse that a failed transaction refuses: if
	 * that one parses, so does the probe (where the relay did not send it
	 * ahead of a request on an idle server: ps_server_rows_probe_due)
	 */
	if (sv->rows_probe == ROWS_NONE && !st->abort_ok && !st->dealloc && st->text_len > 0 &&
		!ps_server_rows_probe(sv, out))
		return false;
	if (st->result != 0 || st->dealloc || st->learning)
		return true;
	st->learning = true;
	build_named(out, PQMSG_Describe, NULL, 0, st->name, st->name_len, NULL, 0);
	return queue_push(sv, RQ_DESCRIBE_LEARN, st);
}

/*
 * Might the server have `st` although the cache says it has not?  When an
 * eviction Close of it is still unanswered: an error before it (in a Sync
 * segment whose replies have not come back) makes the server skip it.  Or
 * when a Close and Parse sent for that reason were both skipped (`doubt`,
 * from then on for every statement of the server).
 */
static bool
server_may_have(const struct ps_server *sv, const struct ps_stmt *st)
{
	if (sv->doubt)
		return true;
	/* only for a Parse the server is to make: the queue is short then */
	for (uint32_t i = 0; i < sv->qlen; i++)
	{
		const struct ps_rq *rq = queue_at(sv, i);

		if (rq->kind == RQ_CLOSE_EVICT && rq->stmt == st)
			return true;
	}
	return false;
}

/*
 * Append a Parse of `st` (kind RQ_PARSE or RQ_PARSE_INJECTED) to `out`, and
 * queue it with a new PENDING cache entry.  Where the server may have the
 * statement after all, a Close of the same name goes first (the Parse alone
 * would fail with 42P05); closing a statement that does not exist is not an
 * error.
 */
static bool
queue_parse(struct ps_server *sv, struct ps_stmt *st, enum rq_kind kind, struct proto_buf *out)
{
	struct ps_sentry *e;

	if (server_may_have(sv, st))
	{
		proto_build_close(out, 'S', st->name);
		if (!queue_push(sv, RQ_CLOSE_DOUBT, NULL))
			return false;
	}
	build_parse(out, st);
	e = server_add(sv, st, SE_PENDING);
	if (e == NULL || !queue_push(sv, kind, st))
		return false;
	queue_tail(sv)->gen = e->gen;
	return true;
}

/*
 * Make sure the server has `st` (a Bind or Describe needs it): if it does
 * not, append eviction Closes and a Parse to `out` and queue them.
 */
static bool
ensure_prepared(struct ps_server *sv, struct ps_stmt *st, int max_prepared,
				struct proto_buf *out)
{
	struct ps_sentry *e = server_lookup(sv, st);

	if (e)
	{
		server_touch(sv, e);
		return true;
	}
	if (sv->skipping)
	{
		/* ignored by the server, like the request that needs it */
		build_parse(out, st);
		return true;
	}
	/* eviction Closes first, in queue order */
	if (!evict_for_one(sv, max_prepared, out))
		return false;
	ps_stats.parses_injected++;
	return queue_parse(sv, st, RQ_PARSE_INJECTED, out) && learn_describe(sv, st, out);
}

/* ---- client messages ---- */

/* Is an earlier segment (up to a Sync or a simple query) unanswered? */
static bool
segment_pending(const struct ps_server *sv)
{
	if (sv->untracked_z > 0)
		return true;
	for (uint32_t i = 0; i < sv->qlen; i++)
	{
		uint8_t		k = queue_at(sv, i)->kind;

		if (k == RQ_SYNC || k == RQ_QUERY || k == RQ_QUERY_INJECTED || k == RQ_QUERY_DEALLOC)
			return true;
	}
	return false;
}

/*
 * May the server's transaction have failed when the next request reaches
 * it: it had at the last ReadyForQuery, or an earlier segment is still
 * unanswered.  An error earlier in the same segment makes the server ignore
 * the request anyway.
 */
static bool
may_be_failed(const struct ps_server *sv)
{
	return sv->status == 'E' || segment_pending(sv);
}

/*
 * A Bind or Describe of `st` that our Parse of it could not stand for: the
 * server lacks it and may be in a failed transaction, which refuses that
 * Parse (25P02) unless the text ends the transaction (bind_probe,
 * describe_probe).  Not while the server skips to the Sync anyway.
 */
static bool
needs_probe(struct ps_server *sv, const struct ps_stmt *st)
{
	return !sv->skipping && !st->abort_ok && may_be_failed(sv) && server_lookup(sv, st) == NULL;
}

/*
 * A Bind of `st`, which the server lacks, where the transaction may have
 * failed.  PostgreSQL finds the statement and checks the parameter counts
 * (08P01) before it refuses a statement that does not end the transaction
 * (25P02, exec_bind_message); our Parse of st would be refused before all
 * that (25P02, exec_parse_message).  So the server is asked first: an empty
 * statement with st's parameter count (an empty text parses in a failed
 * transaction), PGPLUMB_00, is bound with the client's parameters, into a
 * portal of ours closed after it.  Where the transaction has not failed,
 * every value converts (text, or bytea for binary ones), and our Parse of st
 * and the client's Bind follow as before.  The statement is closed before,
 * not after: after an error that Close would be ignored.  Errors name it:
 * they are mapped to the client's name.  Nothing is sent when the text does
 * not tell the count (the Parse then answers, as before).
 */
static bool
bind_probe(struct ps_server *sv, struct ps_stmt *st, const char *name, uint32_t nlen,
		   const uint8_t *rest, uint32_t rlen, struct proto_buf *out)
{
	int32_t		m = stmt_nparams(st);
	struct ps_stmt *pb = bind_probe_stmt();
	uint32_t	from = sv->qlen,
				nfmt;

	if (m < 0 || rlen < 2)
		return true;
	if (pb == NULL)
		return false;
	nfmt = proto_get_u16(rest);
	if (rlen < 2 + 2 * nfmt)
		return true;
	proto_build_close(out, 'S', pb->name);
	proto_begin(out, PQMSG_Parse);
	proto_put_string(out, pb->name);
	proto_put_byte(out, 0);		/* empty text */
	proto_put_int16(out, (uint16_t) m);
	for (uint32_t i = 0; i < (uint32_t) m; i++)
	{
		uint16_t	fmt = 0;

		if (nfmt == 1 || i < nfmt)
			fmt = proto_get_u16(rest + 2 + 2 * (nfmt == 1 ? 0 : i));

		proto_put_int32(out, fmt == 1 ? 17 : 25);	/* bytea, text */
	}
	proto_end(out);
	build_named(out, PQMSG_Bind, PS_NOP_PORTAL, sizeof(PS_NOP_PORTAL) - 1, pb->name,
				pb->name_len, rest, rlen);
	build_nop_close(out);
	return queue_push(sv, RQ_CLOSE_NOP, NULL) && queue_push(sv, RQ_PROBE, NULL) &&
		queue_push(sv, RQ_PROBE, NULL) && queue_push(sv, RQ_CLOSE_NOP, NULL) &&
		map_new_requests(sv, from, pb, name, nlen);
}

/*
 * A Describe of `st`, which the server lacks, where the transaction may
 * have failed.  PostgreSQL describes a statement that returns no rows even
 * in a failed transaction, and refuses one that does (25P02,
 * exec_describe_statement_message); our Parse of st would be refused.  From
 * what an earlier Describe of st told: no rows, then an empty statement
 * with st's parameter types is described (the same ParameterDescription and
 * NoData, failed or not).  Rows: a statement of the server's that returns
 * rows (the rows probe, or one of the cache) is described first, its
 * replies swallowed: where the transaction has failed it is refused as
 * PostgreSQL refuses the client's, every field the same, and the rest is
 * skipped; where not, st is prepared and described as before.  False: not
 * known, st is prepared as before.
 */
static bool
describe_probe(struct ps_server *sv, const struct ps_stmt *st, struct proto_buf *out,
			   bool *nomem)
{
	struct list_node *n,
			   *t;
	const char *guard = NULL;
	uint32_t	glen = 0;

	*nomem = false;
	if (st->result == 1 && st->pdesc)
	{
		proto_begin(out, PQMSG_Parse);
		proto_put_int16(out, 0);	/* unnamed, empty text */
		proto_put_bytes(out, st->pdesc, 2 + 4 * (size_t) proto_get_u16(st->pdesc));
		proto_end(out);
		build_named(out, PQMSG_Describe, NULL, 0, "", 0, NULL, 0);
		proto_build_close(out, 'S', "");
		*nomem = !queue_push(sv, RQ_PROBE, NULL) || !queue_push(sv, RQ_EXT, NULL) ||
			!queue_push(sv, RQ_CLOSE_NOP, NULL);
		return true;
	}
	if (st->result != 2)
		return false;
	if (sv->rows_probe == ROWS_READY)
	{
		guard = PS_ROWS_PROBE;
		glen = sizeof(PS_ROWS_PROBE) - 1;
	}
	else
	{
		list_for_each_safe(n, t, &sv->lru)
		{
			struct ps_sentry *e = list_entry(n, struct ps_sentry, lru);

			if (e->state == SE_READY && e->stmt->result == 2)
			{
				guard = e->stmt->name;
				glen = e->stmt->name_len;
				break;
			}
		}
	}
	if (guard == NULL)
		return false;
	build_named(out, PQMSG_Describe, NULL, 0, guard, glen, NULL, 0);
	*nomem = !queue_push(sv, RQ_DESCRIBE_GUARD, NULL);
	return false;				/* st is prepared and described after it */
}

/*
 * stmt_get() for a client's Parse named `nlen` bytes long.  A driver that
 * sends every query as an unnamed Parse (node-postgres, pgbench -M extended)
 * mostly repeats the text it sent last: then the client's unnamed statement
 * is the one, without hashing the text or searching the table.
 */
static struct ps_stmt *
parse_stmt(struct ps_client *cl, uint32_t nlen, const uint8_t *body, uint32_t len, bool *bad)
{
	struct ps_stmt *st = cl->unnamed;

	if (nlen == 0 && st && st->body_len == len && stmt_current(st, cl->scope) &&
		memcmp(st->body, body, len) == 0)
	{
		*bad = false;
		stmt_ref(st);
		return st;
	}
	return stmt_get(cl->scope, body, len, bad);
}

/* A string at body[*pos], its length in *len; false if unterminated. */
static bool
take_string(const uint8_t *body, uint32_t blen, uint32_t *pos, const char **s, uint32_t *len)
{
	const uint8_t *nul;

	if (*pos >= blen)
		return false;
	nul = memchr(body + *pos, '\0', blen - *pos);
	if (nul == NULL)
		return false;
	*s = (const char *) body + *pos;
	*len = (uint32_t) (nul - (body + *pos));
	*pos += *len + 1;
	return true;
}

/* Queue a forwarded request; while the server ignores requests after an
 * error, only Sync (which ends that) is queued. */
static enum ps_result
push_forwarded(struct ps_server *sv, enum rq_kind kind, struct ps_stmt *st)
{
	if (sv->skipping && kind != RQ_SYNC)
		return PS_PASS;
	if (kind == RQ_SYNC)
		sv->skipping = false;
	return queue_push(sv, kind, st) ? PS_PASS : PS_NOMEM;
}

/*
 * A Parse of a name the client already has.  PostgreSQL parses and analyses
 * the new text first (its errors come first, 25P02 in an aborted
 * transaction too), then fails with 42P05 `prepared statement "x" already
 * exists`, and the old statement stays.  The server is asked the same
 * question: the probe statement is made sure of (an empty query, which
 * parses even in an aborted transaction), then the client's text is parsed
 * under the probe's name, which the server has.  The reply names the probe,
 * mapped back to the client's name; the client's map does not change.
 * `body` is the Parse after the name.
 */
static enum ps_result
parse_duplicate(struct ps_server *sv, const char *name, uint32_t nlen, const uint8_t *body,
				uint32_t blen, int max_prepared, struct proto_buf *out)
{
	struct ps_stmt *pr = probe_stmt();
	uint32_t	from = sv->qlen;

	if (pr == NULL || !ensure_prepared(sv, pr, max_prepared, out))
		return PS_NOMEM;
	proto_begin(out, PQMSG_Parse);
	proto_put_string(out, pr->name);
	proto_put_bytes(out, body, blen);
	proto_end(out);
	if (!queue_push(sv, RQ_PARSE_DUP, NULL) || !map_new_requests(sv, from, pr, name, nlen))
		return PS_NOMEM;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
}

static enum ps_result
client_parse(struct ps_client *cl, struct ps_server *sv, const uint8_t *body, uint32_t blen,
			 int max_prepared, struct proto_buf *out)
{
	uint32_t	pos = 0,
				nlen;
	const char *name;
	struct ps_stmt *st,
			   *prev;
	struct ps_sentry *e;
	bool		bad,
				nop_parse;

	if (!take_string(body, blen, &pos, &name, &nlen))
		return PS_BAD;
	st = parse_stmt(cl, nlen, body + pos, blen - pos, &bad);
	if (st == NULL)
		return bad ? PS_BAD : PS_NOMEM;
	proto_buf_reset(out);
	if (sv->skipping)
	{
		/* ignored by the server after an error: the name stays as it was */
		build_parse(out, st);
		stmt_unref(st);
		return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
	}
	prev = client_lookup(cl, name, nlen);
	if (prev && nlen > 0)
	{
		stmt_unref(st);
		return parse_duplicate(sv, name, nlen, body + pos, blen - pos, max_prepared, out);
	}
	if (prev)
		stmt_ref(prev);
	if (!client_store(cl, name, nlen, st))
	{
		stmt_unref(st);
		stmt_unref(prev);
		return PS_NOMEM;
	}
	e = server_lookup(sv, st);
	nop_parse = false;
	if (e)
	{
		/*
		 * the server has it: a no-op request stands for the Parse.  In a
		 * transaction that may have failed, PostgreSQL refuses the Parse
		 * (25P02) unless the text ends the transaction: a Parse of a trivial
		 * statement as the unnamed one (unused by the pooler) fails or
		 * succeeds the same way.  Otherwise the cheaper portal Close.
		 */
		server_touch(sv, e);
		ps_stats.parses_skipped++;
		nop_parse = !st->abort_ok && may_be_failed(sv);
		if (nop_parse)
			build_nop_parse(out);
		else
			build_nop_close(out);
		if (!queue_push(sv, RQ_PARSE_NOP, NULL))
			goto nomem;
	}
	else
	{
		if (!evict_for_one(sv, max_prepared, out) || !queue_parse(sv, st, RQ_PARSE, out) ||
			!rq_map(queue_tail(sv), st, name, nlen))
			goto nomem;
	}
	if (prev == st && !nop_parse)
		stmt_unref(prev);		/* a portal Close cannot fail: nothing to undo */
	else if (!attach_undo(sv, cl, name, nlen, prev))
		return PS_NOMEM;
	if (nop_parse && !queue_push(sv, RQ_CLOSE_NOP, NULL))
		return PS_NOMEM;
	if (e == NULL && !learn_describe(sv, st, out))
		return PS_NOMEM;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
nomem:
	stmt_unref(prev);
	return PS_NOMEM;
}

/*
 * Bind (portal, rest: what follows the statement name) or Describe of
 * statement `sname` (slen bytes, not NUL-terminated) into out.
 */
static void
build_named(struct proto_buf *out, uint8_t type, const char *portal, uint32_t plen,
			const char *sname, uint32_t slen, const uint8_t *rest, uint32_t rlen)
{
	/* header, portal and name in one piece when the names are short */
	uint8_t		head[PROTO_HDR_LEN + 64 + 64];
	size_t		h = PROTO_HDR_LEN;

	head[0] = type;
	if (type == PQMSG_Describe)
	{
		proto_put_u32(head + 1, 4 + 1 + slen + 1);
		head[h++] = 'S';
	}
	else
	{
		proto_put_u32(head + 1, 4 + plen + 1 + slen + 1 + rlen);
		if (plen < 64)
		{
			memcpy(head + h, portal, plen + 1);
			h += plen + 1;
		}
		else
		{
			proto_put_bytes(out, head, h);
			proto_put_bytes(out, portal, plen + 1);
			h = 0;
		}
	}
	if (slen < 63)
	{
		memcpy(head + h, sname, slen);
		head[h + slen] = '\0';
		h += slen + 1;
		proto_put_bytes(out, head, h);
	}
	else
	{
		proto_put_bytes(out, head, h);
		proto_put_bytes(out, sname, slen);
		proto_put_byte(out, '\0');
	}
	proto_put_bytes(out, rest, rlen);
}

/*
 * A Bind or Describe of a statement the client does not have, named like
 * one of the pooler's (PGPLUMB_<n>): it goes to the server as
 * PGPLUMB_PGPLUMB_<n>, which no client statement is called on the server,
 * so that the server says 26000 and the reply names the client's name.
 */
static enum ps_result
foreign_request(struct ps_server *sv, uint8_t type, const char *portal, uint32_t plen,
				const char *name, uint32_t nlen, const uint8_t *rest, uint32_t rlen,
				struct proto_buf *out)
{
	char		sname[sizeof(PS_NAME_PREFIX) + 64];
	uint32_t	from = sv->qlen;
	int			slen;

	if (nlen >= 64)
		return push_forwarded(sv, RQ_EXT, NULL);	/* no pooler name is that
													 * long */
	slen = snprintf(sname, sizeof(sname), "%s%.*s", PS_NAME_PREFIX, (int) nlen, name);
	proto_buf_reset(out);
	build_named(out, type, portal, plen, sname, (uint32_t) slen, rest, rlen);
	if (push_forwarded(sv, RQ_EXT, NULL) != PS_PASS ||
		!map_new_requests(sv, from, NULL, name, nlen))
		return PS_NOMEM;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
}

static enum ps_result bind_known(struct ps_client *cl, struct ps_server *sv,
								 struct ps_stmt *st, const char *portal, uint32_t plen,
								 const char *name, uint32_t nlen, const uint8_t *rest,
								 uint32_t rlen, int max_prepared, struct proto_buf *out);

/* Bind portal\0 stmt\0 rest: the statement name is rewritten. */
static enum ps_result
client_bind(struct ps_client *cl, struct ps_server *sv, const uint8_t *body, uint32_t blen,
			int max_prepared, struct proto_buf *out)
{
	uint32_t	pos = 0,
				plen,
				nlen;
	const char *portal,
			   *name;
	struct ps_stmt *st;
	enum ps_result r;

	if (!take_string(body, blen, &pos, &portal, &plen) ||
		!take_string(body, blen, &pos, &name, &nlen))
		return PS_BAD;
	st = client_lookup(cl, name, nlen);
	if (st == NULL && pooler_name(name, nlen))
		return foreign_request(sv, PQMSG_Bind, portal, plen, name, nlen, body + pos,
							   blen - pos, out);
	if (st == NULL)
	{
		/* unknown to us: the server says 26000 in its own words */
		return push_forwarded(sv, RQ_EXT, NULL);
	}
	r = bind_known(cl, sv, st, portal, plen, name, nlen, body + pos, blen - pos,
				   max_prepared, out);
	return r;
}

static enum ps_result
bind_known(struct ps_client *cl, struct ps_server *sv, struct ps_stmt *st,
		   const char *portal, uint32_t plen, const char *name, uint32_t nlen,
		   const uint8_t *rest, uint32_t rlen, int max_prepared, struct proto_buf *out)
{
	enum ps_result r = PS_REPLACED;
	uint32_t	from = sv->qlen;

	/* the client's map may drop its reference below (DEALLOCATE) */
	stmt_ref(st);
	if (st->dealloc && !sv->skipping)
	{
		/* a DEALLOCATE prepared by the client: it acts on the client's map */
		if (st->dealloc_name[0] == '\0')
		{
			stmt_ref(st);
			client_clear(cl);
			(void) client_store(cl, name, nlen, st);	/* keep the name bound */
		}
		else
			client_forget(cl, st->dealloc_name, (uint32_t) strlen(st->dealloc_name));
	}
	proto_buf_reset(out);
	if ((needs_probe(sv, st) &&
		 !bind_probe(sv, st, name, nlen, rest, rlen, out)) ||
		!ensure_prepared(sv, st, max_prepared, out))
		r = PS_NOMEM;
	else
	{
		/* the client's Bind with our name for the statement */
		build_named(out, PQMSG_Bind, portal, plen, st->name, st->name_len, rest, rlen);
		if (plen == 0 && !sv->skipping)
		{
			stmt_unref(sv->unnamed_portal);
			sv->unnamed_portal = st;
			stmt_ref(st);
		}
		if (push_forwarded(sv, RQ_EXT, NULL) != PS_PASS || !proto_buf_ok(out) ||
			!map_new_requests(sv, from, st, name, nlen))
			r = PS_NOMEM;
	}
	stmt_unref(st);
	return r;
}

static enum ps_result
client_describe(struct ps_client *cl, struct ps_server *sv, const uint8_t *body, uint32_t blen,
				int max_prepared, struct proto_buf *out)
{
	uint32_t	pos = 1,
				nlen,
				from;
	const char *name;
	struct ps_stmt *st;
	bool		nomem,
				learn;

	if (blen < 2 || !take_string(body, blen, &pos, &name, &nlen) || pos != blen)
		return PS_BAD;
	if (body[0] != 'S')
		return push_forwarded(sv, RQ_EXT, NULL);	/* a portal */
	st = client_lookup(cl, name, nlen);
	if (st == NULL && pooler_name(name, nlen))
		return foreign_request(sv, PQMSG_Describe, NULL, 0, name, nlen, NULL, 0, out);
	if (st == NULL)
		return push_forwarded(sv, RQ_EXT, NULL);
	proto_buf_reset(out);
	from = sv->qlen;
	nomem = false;
	if (needs_probe(sv, st) &&
		describe_probe(sv, st, out, &nomem))
		return nomem || !proto_buf_ok(out) ? PS_NOMEM : PS_REPLACED;
	if (nomem || !ensure_prepared(sv, st, max_prepared, out))
		return PS_NOMEM;
	build_named(out, PQMSG_Describe, NULL, 0, st->name, st->name_len, NULL, 0);
	learn = st->result == 0 || st->pdesc == NULL;
	if (push_forwarded(sv, learn ? RQ_DESCRIBE_S : RQ_EXT, learn ? st : NULL) != PS_PASS ||
		!map_new_requests(sv, from, st, name, nlen))
		return PS_NOMEM;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
}

static enum ps_result
client_close(struct ps_client *cl, struct ps_server *sv, const uint8_t *body, uint32_t blen,
			 struct proto_buf *out)
{
	uint32_t	pos = 1,
				nlen;
	const char *name;
	struct ps_stmt *prev;

	if (blen < 2 || !take_string(body, blen, &pos, &name, &nlen) || pos != blen)
		return PS_BAD;
	if (body[0] != 'S')
		return push_forwarded(sv, RQ_EXT, NULL);	/* a portal */

	/*
	 * The statement stays cached on the server for other clients; the client
	 * gets the CloseComplete of a no-op portal Close.  Ignored after an
	 * error, it leaves the name as it is.
	 */
	proto_buf_reset(out);
	build_nop_close(out);
	if (sv->skipping)
		return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
	prev = client_lookup(cl, name, nlen);
	if (prev)
	{
		stmt_ref(prev);
		client_forget(cl, name, nlen);
	}
	if (!queue_push(sv, RQ_EXT, NULL))
	{
		stmt_unref(prev);
		return PS_NOMEM;
	}
	if (prev && !attach_undo(sv, cl, name, nlen, prev))
		return PS_NOMEM;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
}

enum ps_result
ps_client_unlinked(struct ps_client *cl, const uint8_t *msg, uint32_t total)
{
	const uint8_t *body = msg + PROTO_HDR_LEN;
	uint32_t	blen = total - PROTO_HDR_LEN;
	uint32_t	pos = 0,
				nlen;
	const char *name;
	struct ps_stmt *st;
	bool		bad;

	if (msg[0] == PQMSG_Close)
	{
		pos = 1;
		if (blen < 2 || !take_string(body, blen, &pos, &name, &nlen) || pos != blen)
			return PS_BAD;
		if (body[0] != 'S')
			return PS_REPLACED;
		client_forget(cl, name, nlen);
		return PS_PASS;
	}
	if (msg[0] != PQMSG_Parse || !take_string(body, blen, &pos, &name, &nlen))
		return PS_BAD;
	/* a name the client has: the server's 42P05 */
	if (nlen > 0 && client_lookup(cl, name, nlen))
		return PS_REPLACED;
	st = parse_stmt(cl, nlen, body + pos, blen - pos, &bad);
	if (st == NULL)
		return bad ? PS_BAD : PS_NOMEM;
	if (!st->validated)
	{
		/* its errors, if any, are the server's to tell (at the Parse) */
		stmt_unref(st);
		return PS_REPLACED;
	}
	if (!client_store(cl, name, nlen, st))
	{
		stmt_unref(st);
		return PS_NOMEM;
	}
	return PS_PASS;
}

static enum ps_result
client_execute(struct ps_server *sv, const uint8_t *body, uint32_t blen)
{
	/* the statement of the unnamed portal: its reply may need translating */
	bool		unnamed = blen > 0 && body[0] == '\0';

	return push_forwarded(sv, RQ_EXECUTE, unnamed ? sv->unnamed_portal : NULL);
}

enum ps_result
ps_client_message(struct ps_client *cl, struct ps_server *sv, const uint8_t *msg,
				  uint32_t total, int max_prepared, struct proto_buf *out)
{
	const uint8_t *body = msg + PROTO_HDR_LEN;
	uint32_t	blen = total - PROTO_HDR_LEN;

	switch (msg[0])
	{
		case PQMSG_Parse:
			return client_parse(cl, sv, body, blen, max_prepared, out);
		case PQMSG_Bind:
			return client_bind(cl, sv, body, blen, max_prepared, out);
		case PQMSG_Describe:
			return client_describe(cl, sv, body, blen, max_prepared, out);
		case PQMSG_Close:
			return client_close(cl, sv, body, blen, out);
		case PQMSG_Execute:
			return client_execute(sv, body, blen);
		case PQMSG_Sync:
			return push_forwarded(sv, RQ_SYNC, NULL);
		case PQMSG_Query:
		case PQMSG_FunctionCall:
			/* PostgreSQL drops the unnamed statement at each simple query */
			if (msg[0] == PQMSG_Query && !sv->skipping && cl->unnamed)
				client_forget(cl, "", 0);
			if (sv->qlen == 0 && !sv->skipping)
			{
				/*
				 * nothing queued before it: a count is enough (simple-query
				 * traffic never touches the queue)
				 */
				sv->untracked_z++;
				return PS_PASS;
			}
			return push_forwarded(sv, RQ_QUERY, NULL);
		default:
			/* Flush, COPY data: no reply of their own */
			return PS_PASS;
	}
}

/* ---- DEALLOCATE ---- */

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char) *p))
		p++;
	return p;
}

/* Case-insensitive keyword at p followed by a non-identifier character. */
static bool
keyword(const char **pp, const char *end, const char *kw)
{
	size_t		n = strlen(kw);
	const char *p = *pp;

	if ((size_t) (end - p) < n || strncasecmp(p, kw, n) != 0)
		return false;
	if (p + n < end && (isalnum((unsigned char) p[n]) || p[n] == '_' || p[n] == '$'))
		return false;
	*pp = p + n;
	return true;
}

bool
ps_query_is_deallocate(const char *sql, size_t len, char *name, size_t namelen)
{
	const char *p = sql,
			   *end = sql + len,
			   *start;
	size_t		n;

	while (end > p && (end[-1] == '\0' || end[-1] == ';' || isspace((unsigned char) end[-1])))
		end--;
	p = skip_space(p, end);
	if (!keyword(&p, end, "deallocate"))
		return false;
	p = skip_space(p, end);
	start = p;
	if (keyword(&p, end, "prepare"))
	{
		const char *q = skip_space(p, end);

		if (q < end && q > p)
			start = q;			/* "prepare" was the keyword */
		else
			p = start;			/* a statement named "prepare" */
	}
	p = start;
	if (keyword(&p, end, "all") && skip_space(p, end) == end)
	{
		name[0] = '\0';
		return true;
	}
	p = start;
	if (p < end && *p == '"')
	{
		/* quoted identifier, "" inside stands for " */
		n = 0;
		for (p++; p < end; p++)
		{
			if (*p == '"')
			{
				if (p + 1 < end && p[1] == '"')
					p++;
				else
					break;
			}
			if (n + 1 >= namelen)
				return false;
			name[n++] = *p;
		}
		if (p >= end || skip_space(p + 1, end) != end || n == 0)
			return false;
		name[n] = '\0';
		return true;
	}
	n = 0;
	for (; p < end && (isalnum((unsigned char) *p) || *p == '_' || *p == '$'); p++)
	{
		if (n + 1 >= namelen)
			return false;
		/* unquoted identifiers fold to lower case */
		name[n++] = (char) tolower((unsigned char) *p);
	}
	if (n == 0 || skip_space(p, end) != end)
		return false;
	name[n] = '\0';
	return true;
}

enum ps_result
ps_client_deallocate_query(struct ps_client *cl, struct ps_server *sv, const char *sql,
						   size_t len, struct proto_buf *out)
{
	char		name[256];
	bool		all;

	if (!ps_query_is_deallocate(sql, len, name, sizeof(name)))
		return PS_BAD;
	all = name[0] == '\0';
	if (!sv->skipping)
	{
		client_forget(cl, "", 0);	/* a simple query, as above */
		if (all)
			client_clear(cl);
		else
			client_forget(cl, name, (uint32_t) strlen(name));
	}
	proto_buf_reset(out);
	proto_build_query(out, "");
	if (sv->skipping)
		return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
	if (!queue_push(sv, RQ_QUERY_DEALLOC, NULL))
		return PS_NOMEM;
	queue_tail(sv)->dealloc_all = all;
	return proto_buf_ok(out) ? PS_REPLACED : PS_NOMEM;
}

bool
ps_push_injected_query(struct ps_server *sv)
{
	return queue_push(sv, RQ_QUERY_INJECTED, NULL);
}

/* ---- server replies ---- */

static bool
is_final_ext(uint8_t type)
{
	switch (type)
	{
		case PQMSG_ParseComplete:
		case PQMSG_BindComplete:
		case PQMSG_CloseComplete:
		case PQMSG_CommandComplete:
		case PQMSG_EmptyQueryResponse:
		case PQMSG_PortalSuspended:
		case PQMSG_RowDescription:
		case PQMSG_NoData:
		case PQMSG_ErrorResponse:
			return true;
		default:
			return false;
	}
}

static bool
is_async(uint8_t type)
{
	return type == PQMSG_NoticeResponse || type == PQMSG_ParameterStatus ||
		type == PQMSG_NotificationResponse;
}

bool
ps_reply_is_special(const struct ps_server *sv, uint8_t type)
{
	const struct ps_rq *rq = queue_head(sv);

	if (rq == NULL || sv->untracked_z > 0 || is_async(type))
		return false;
	switch ((enum rq_kind) rq->kind)
	{
		case RQ_PARSE_INJECTED:
		case RQ_CLOSE_EVICT:
		case RQ_CLOSE_NOP:
		case RQ_CLOSE_DOUBT:
		case RQ_QUERY_INJECTED:
			return true;
		case RQ_PARSE_NOP:
			return type == PQMSG_CloseComplete;
		case RQ_QUERY_DEALLOC:
			return type == PQMSG_EmptyQueryResponse;
		case RQ_EXECUTE:
			return type == PQMSG_EmptyQueryResponse && rq->stmt && rq->stmt->dealloc;
		case RQ_PROBE:
		case RQ_DESCRIBE_LEARN:
		case RQ_PARSE_ROWS:
		case RQ_DESCRIBE_GUARD:
			return true;
		case RQ_DESCRIBE_S:
			return type == PQMSG_ParameterDescription;	/* ps_server_param_desc() */
		default:
			return false;
	}
}

void
ps_server_param_desc(struct ps_server *sv, const uint8_t *msg, uint32_t total)
{
	const struct ps_rq *rq = sv->untracked_z ? NULL : queue_head(sv);
	struct ps_stmt *st = NULL;
	uint32_t	len = total - PROTO_HDR_LEN;

	if (rq && (rq->kind == RQ_DESCRIBE_S || rq->kind == RQ_DESCRIBE_LEARN))
		st = rq->stmt;

	if (st == NULL || st->pdesc || total < PROTO_HDR_LEN + 2 ||
		len != 2 + 4 * (uint32_t) proto_get_u16(msg + PROTO_HDR_LEN))
		return;
	if ((st->pdesc = malloc(len)) != NULL)
		memcpy(st->pdesc, msg + PROTO_HDR_LEN, len);
}

bool
ps_server_unsettled(const struct ps_server *sv)
{
	const struct ps_rq *tail;

	if (sv->qlen == 0 || sv->skipping)
		return false;
	tail = queue_tail(sv);
	if (tail->kind != RQ_SYNC && tail->kind != RQ_QUERY && tail->kind != RQ_QUERY_DEALLOC)
		return false;			/* the message joins the open segment */
	for (uint32_t i = 0; i < sv->qlen; i++)
	{
		const struct ps_rq *rq = queue_at(sv, i);

		if (rq->cl != NULL)
			return true;		/* a name change the server may undo */
		switch ((enum rq_kind) rq->kind)
		{
			case RQ_PARSE:
			case RQ_PARSE_INJECTED:
			case RQ_CLOSE_EVICT:
			case RQ_CLOSE_DOUBT:
				return true;	/* a cache change the server may undo */
			default:
				break;
		}
	}
	return false;
}

const struct ps_stmt *
ps_server_current_stmt(const struct ps_server *sv)
{
	const struct ps_rq *rq = sv->untracked_z ? NULL : queue_head(sv);

	return rq ? rq->stmt : NULL;
}

const struct ps_stmt *
ps_server_portal_stmt(const struct ps_server *sv)
{
	return sv->unnamed_portal;
}

const char *
ps_dealloc_tag(const struct ps_server *sv)
{
	return sv->last_dealloc_all ? "DEALLOCATE ALL" : "DEALLOCATE";
}

/* An ErrorResponse ended the extended-protocol request at the head: it
 * failed, and the server ignores everything up to the next Sync. */
static void
error_skip(struct ps_server *sv)
{
	uint32_t	n = 0;
	struct ps_rq *rq;

	while (n < sv->qlen && sv->q[(sv->qhead + n) & (sv->qcap - 1)].kind != RQ_SYNC)
		n++;

	/*
	 * map changes are undone newest first, so each name ends up as it was
	 * before the first of them
	 */
	for (uint32_t i = n; i-- > 0;)
		undo_map(queue_at(sv, i), i == 0);
	while (n-- > 0)
	{
		rq = queue_head(sv);
		request_lost(sv, rq);
		queue_pop(sv);
	}
	if (sv->qlen == 0)
		sv->skipping = true;	/* the Sync is yet to come */
}

enum ps_reply
ps_server_reply(struct ps_server *sv, uint8_t type)
{
	struct ps_rq *rq;
	enum ps_reply r = PS_REPLY_FORWARD;

	if (sv->untracked_z > 0)
	{
		/* replies of simple queries sent before anything queued */
		if (type == PQMSG_ReadyForQuery)
			sv->untracked_z--;
		return PS_REPLY_FORWARD;
	}
	rq = queue_head(sv);
	if (rq == NULL || is_async(type))
		return PS_REPLY_FORWARD;
	switch ((enum rq_kind) rq->kind)
	{
		case RQ_QUERY:
		case RQ_QUERY_INJECTED:
		case RQ_QUERY_DEALLOC:
		case RQ_SYNC:
			if (rq->kind == RQ_QUERY_INJECTED)
				r = PS_REPLY_SWALLOW;
			else if (rq->kind == RQ_QUERY_DEALLOC && type == PQMSG_EmptyQueryResponse)
			{
				sv->last_dealloc_all = rq->dealloc_all;
				r = PS_REPLY_AS_DEALLOCATE;
			}
			if (type == PQMSG_ReadyForQuery)
				queue_pop(sv);
			return r;
		default:
			break;
	}
	/* an extended-protocol request */
	if (type == PQMSG_ParameterDescription &&
		(rq->kind == RQ_DESCRIBE_LEARN || rq->kind == RQ_DESCRIBE_GUARD))
		return PS_REPLY_SWALLOW;
	if (!is_final_ext(type))
		return PS_REPLY_FORWARD;	/* ParameterDescription, DataRow, COPY,
									 * ... */
	if (type == PQMSG_ErrorResponse)
	{
		error_skip(sv);
		return PS_REPLY_FORWARD;	/* the client sees why its request failed */
	}
	switch ((enum rq_kind) rq->kind)
	{
		case RQ_PARSE:
			parse_done(sv, rq->stmt, rq->gen);
			break;
		case RQ_PARSE_INJECTED:
			parse_done(sv, rq->stmt, rq->gen);
			r = PS_REPLY_SWALLOW;
			break;
		case RQ_PARSE_NOP:
			if (type == PQMSG_CloseComplete)
				r = PS_REPLY_AS_PARSE_COMPLETE;
			break;
		case RQ_CLOSE_EVICT:
		case RQ_CLOSE_NOP:
		case RQ_CLOSE_DOUBT:
		case RQ_PROBE:
		case RQ_DESCRIBE_GUARD:
			r = PS_REPLY_SWALLOW;
			break;
		case RQ_PARSE_ROWS:
			sv->rows_probe = ROWS_READY;
			r = PS_REPLY_SWALLOW;
			break;
		case RQ_DESCRIBE_S:
		case RQ_DESCRIBE_LEARN:
			if (type == PQMSG_RowDescription || type == PQMSG_NoData)
				rq->stmt->result = type == PQMSG_NoData ? 1 : 2;
			if (rq->kind == RQ_DESCRIBE_LEARN)
				r = PS_REPLY_SWALLOW;
			break;
		case RQ_EXECUTE:
			if (type == PQMSG_EmptyQueryResponse && rq->stmt && rq->stmt->dealloc)
			{
				sv->last_dealloc_all = rq->stmt->dealloc_name[0] == '\0';
				r = PS_REPLY_AS_DEALLOCATE;
			}
			break;
		default:
			break;
	}
	queue_pop(sv);
	return r;
}

const uint8_t *
ps_client_stmt_body(struct ps_client *cl, const char *name, uint32_t *len)
{
	const struct ps_stmt *st = client_lookup(cl, name, (uint32_t) strlen(name));

	if (st == NULL)
		return NULL;
	*len = st->body_len;
	return st->body;
}
