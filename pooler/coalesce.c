/*
 * coalesce.c -- insert_coalescing: see coalesce.h.
 */
#include "coalesce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "txn.h"

struct coalesce_stats coalesce_stats;

/* ---- analysis: one libpg_query parse per statement text ---- */

/*
 * The analysis of a statement, shared by every request of that text.
 * Extended-protocol texts are cached (direct-mapped, by Parse body), so a
 * prepared INSERT is parsed once; simple queries carry their literals and
 * are analysed each time.
 */
struct coal_ana
{
	int			refs;
	bool		ok;				/* accepted by batch_sql_analyze */
	uint64_t	hash;
	uint8_t    *key;			/* Parse body, for cached entries */
	uint32_t	keylen;
	struct batch_insert ins;

	/*
	 * Extended, cached entries: the merged text of `rows` rows without its
	 * tail (batch_sql_build_values), and where each row ends in it, so that a
	 * merge of n <= rows rows takes text[0, row_end[n - 1]) + tail without
	 * formatting anything.
	 */
	char	   *text;
	uint32_t   *row_end;
	int			rows;
};

#define ANA_SLOTS 64
static struct coal_ana *ana_cache[ANA_SLOTS];
static struct coal_ana *ana_last;	/* the last one found or cached (one of
									 * ana_cache) */

static uint64_t
fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void
ana_unref(struct coal_ana *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	if (a->ok)
		batch_insert_free(&a->ins);
	free(a->text);
	free(a->row_end);
	free(a->key);
	free(a);
}

/* Is key the Parse body of the last analysis found or cached?  (It passed
 * the cheap checks then; ana_get finds it first.) */
static bool
ana_is_last(const uint8_t *key, uint32_t keylen)
{
	const struct coal_ana *a = ana_last;

	return a != NULL && a->keylen == keylen && memcmp(a->key, key, keylen) == 0;
}

/* Analysis of `sql`; key/keylen non-NULL: cache it under that key. */
static struct coal_ana *
ana_get(const char *sql, const uint8_t *key, uint32_t keylen)
{
	struct coal_ana *a;
	uint64_t	h = 0;
	const char *reason = NULL;
	int			slot = 0;

	/* a prepared INSERT comes again and again: try the last one first */
	if (key && ana_is_last(key, keylen))
	{
		a = ana_last;
		a->refs++;
		return a;
	}
	if (key)
	{
		h = fnv(key, keylen);
		slot = (int) (h % ANA_SLOTS);
		a = ana_cache[slot];
		if (a && a->hash == h && a->keylen == keylen && memcmp(a->key, key, keylen) == 0)
		{
			a->refs++;
			ana_last = a;
			return a;
		}
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->refs = 1;
	a->hash = h;
	switch (batch_sql_analyze(sql, &a->ins, &reason))
	{
		case BATCH_SQL_OK:
			a->ok = true;
			break;
		case BATCH_SQL_REFUSED:
			break;
		case BATCH_SQL_NOMEM:
			free(a);
			return NULL;
	}
	if (key && (a->key = malloc(keylen)) != NULL)
	{
		memcpy(a->key, key, keylen);
		a->keylen = keylen;
		if (ana_last == ana_cache[slot])
			ana_last = NULL;
		ana_unref(ana_cache[slot]);
		ana_cache[slot] = a;
		a->refs++;
		ana_last = a;
	}
	return a;
}

/* ---- recognising a held request ---- */

struct msg
{
	uint8_t		type;
	const uint8_t *body;
	uint32_t	len;
};

static bool
next_msg(const uint8_t *buf, size_t len, size_t *off, struct msg *m)
{
	uint32_t	l;

	if (*off + PROTO_HDR_LEN > len)
		return false;
	l = proto_get_u32(buf + *off + 1);
	if (l < 4 || *off + 1 + l > len)
		return false;
	m->type = buf[*off];
	m->body = buf + *off + PROTO_HDR_LEN;
	m->len = l - 4;
	*off += 1 + l;
	return true;
}

/* A NUL-terminated string at body[*pos]; NULL if none. */
static const char *
take_str(const struct msg *m, uint32_t *pos)
{
	const uint8_t *nul;
	const char *s;

	if (*pos >= m->len)
		return NULL;
	nul = memchr(m->body + *pos, '\0', m->len - *pos);
	if (nul == NULL)
		return NULL;
	s = (const char *) m->body + *pos;
	*pos = (uint32_t) (nul - m->body) + 1;
	return s;
}

/*
 * Free lists of same-size blocks (Bind copies, held entries): held requests
 * are freed in bursts (a merge's worth at once), which glibc's per-thread
 * cache does not keep.  A block on a list holds the next one's address in
 * its first bytes; at most FREE_LIST_MAX are kept.
 */
#define FREE_LIST_MAX 1024

struct free_list
{
	void	   *head;
	int			n;
};

/* A block from the list, or NULL when it is empty. */
static void *
free_list_get(struct free_list *fl)
{
	void	   *p = fl->head;

	if (p != NULL)
	{
		memcpy(&fl->head, p, sizeof(fl->head));
		fl->n--;
	}
	return p;
}

static void
free_list_put(struct free_list *fl, void *p)
{
	if (fl->n >= FREE_LIST_MAX)
	{
		free(p);
		return;
	}
	memcpy(p, &fl->head, sizeof(fl->head));
	fl->head = p;
	fl->n++;
}

/* Bind copies of up to BIND_BLOCK bytes come from a free list. */
#define BIND_BLOCK 240
static struct free_list bind_blocks;

static uint8_t *
bind_alloc(size_t size, bool *pooled)
{
	uint8_t    *p;

	*pooled = size <= BIND_BLOCK;
	if (!*pooled)
		return malloc(size);
	p = free_list_get(&bind_blocks);
	return p ? p : malloc(BIND_BLOCK);
}

static void
bind_release(uint8_t *p, bool pooled)
{
	if (p == NULL || !pooled)
		free(p);
	else
		free_list_put(&bind_blocks, p);
}

void
coal_req_free(struct coal_req *r)
{
	if (r->kind == COAL_SIMPLE)
		free(r->sql);
	if (r->own_parse_body)
		free(r->parse_body);
	bind_release(r->bind_rest, r->bind_pooled); /* formats too */
	ana_unref(r->ana);
	memset(r, 0, sizeof(*r));
}

/*
 * Check the Bind body after the names, b[0, len): formats, values; sets
 * r->nparams, values_off, values_len.  *nfmt: format codes sent.  False if
 * malformed.
 */
static bool
parse_bind_rest(const uint8_t *b, uint32_t len, struct coal_req *r, uint32_t *nfmt)
{
	uint32_t	pos,
				nres;

	if (len < 2)
		return false;
	*nfmt = proto_get_u16(b);
	pos = 2 + 2 * *nfmt;
	if (pos + 2 > len)
		return false;
	r->nparams = proto_get_u16(b + pos);
	pos += 2;
	if (*nfmt != 0 && *nfmt != 1 && *nfmt != (uint32_t) r->nparams)
		return false;
	r->values_off = pos;
	for (int i = 0; i < r->nparams; i++)
	{
		uint32_t	vl;

		if (pos + 4 > len)
			return false;
		vl = proto_get_u32(b + pos);
		pos += 4;
		if (vl != 0xFFFFFFFFu)
		{
			if (vl > len - pos)
				return false;
			pos += vl;
		}
	}
	r->values_len = pos - r->values_off;
	if (pos + 2 > len)
		return false;
	nres = proto_get_u16(b + pos);
	return pos + 2 + 2 * nres == len;
}

/*
 * Keep a copy of the Bind body after the names and the expanded format
 * codes, in one allocation; false when out of memory.
 */
static bool
keep_bind_rest(const uint8_t *b, uint32_t len, uint32_t nfmt, struct coal_req *r)
{
	size_t		fmt_at = ((size_t) len + 1) & ~(size_t) 1;

	r->bind_rest = bind_alloc(fmt_at + sizeof(uint16_t) * ((size_t) r->nparams + 1),
							  &r->bind_pooled);
	if (r->bind_rest == NULL)
		return false;
	memcpy(r->bind_rest, b, len);
	r->bind_rest_len = len;
	r->formats = (uint16_t *) (void *) (r->bind_rest + fmt_at);
	for (int i = 0; i < r->nparams; i++)
		r->formats[i] = nfmt == 0 ? 0 : proto_get_u16(b + 2 + 2 * (nfmt == 1 ? 0 : i));
	return true;
}

static uint32_t
parse_ntypes(const uint8_t *body, uint32_t len)
{
	/* not strnlen: libpg_query's own byte loop is the one linked */
	const uint8_t *nul = memchr(body, '\0', len);
	size_t		tl = nul ? (size_t) (nul - body) : len;

	return tl + 3 <= len ? proto_get_u16(body + tl + 1) : 0;
}

int
coal_request_parse(const uint8_t *buf, size_t len, coal_stmt_lookup lookup, void *arg,
				   struct coal_req *out)
{
	size_t		off = 0;
	struct msg	m;
	uint32_t	pos;
	const char *name;
	const uint8_t *pbody = NULL,
			   *bind;
	uint32_t	plen = 0,
				bind_len,
				nfmt;

	memset(out, 0, sizeof(*out));
	if (!next_msg(buf, len, &off, &m))
		return 0;
	if (m.type == PQMSG_Query)
	{
		if (m.len == 0 || m.body[m.len - 1] != '\0' ||
			!batch_sql_maybe_insert((const char *) m.body, m.len - 1))
			return 0;
		out->kind = COAL_SIMPLE;
		out->nmsgs = 1;
		out->sql = strdup((const char *) m.body);
		if (out->sql == NULL)
			return -1;
		out->ana = ana_get(out->sql, NULL, 0);
		if (out->ana == NULL)
		{
			coal_req_free(out);
			return -1;
		}
		out->ins = &out->ana->ins;
		if (!out->ana->ok || out->ins->returning || out->ins->max_param != 0)
		{
			coal_req_free(out);
			return 0;
		}
		return 1;
	}
	out->kind = COAL_EXTENDED;
	if (m.type == PQMSG_Parse)
	{
		pos = 0;
		name = take_str(&m, &pos);
		if (name == NULL || name[0] != '\0' || pos >= m.len)
			return 0;
		pbody = m.body + pos;
		plen = m.len - pos;
		out->has_parse = true;
		out->nmsgs++;
		if (!next_msg(buf, len, &off, &m))
			return 0;
	}
	if (m.type != PQMSG_Bind)
		return 0;
	pos = 0;
	name = take_str(&m, &pos);	/* portal */
	if (name == NULL || name[0] != '\0')
		return 0;
	name = take_str(&m, &pos);	/* statement */
	if (name == NULL || (out->has_parse && name[0] != '\0'))
		return 0;
	if (!out->has_parse && (lookup == NULL || (pbody = lookup(arg, name, &plen)) == NULL))
		return 0;
	if (plen < 3 || (!ana_is_last(pbody, plen) &&
					 (memchr(pbody, '\0', plen) == NULL ||
					  !batch_sql_maybe_insert((const char *) pbody, strlen((const char *) pbody)))))
		return 0;
	out->nmsgs++;
	bind = m.body + pos;
	bind_len = m.len - pos;
	if (!parse_bind_rest(bind, bind_len, out, &nfmt))
		return 0;
	if (!next_msg(buf, len, &off, &m))
		return 0;
	if (m.type == PQMSG_Describe)
	{
		if (m.len != 2 || m.body[0] != 'P' || m.body[1] != '\0')
			return 0;
		out->has_describe = true;
		out->nmsgs++;
		if (!next_msg(buf, len, &off, &m))
			return 0;
	}
	if (m.type != PQMSG_Execute || m.len != 5 || m.body[0] != '\0')
		return 0;
	out->nmsgs++;
	if (!next_msg(buf, len, &off, &m) || m.type != PQMSG_Sync)
		return 0;
	out->nmsgs++;
	/* the analysis is cached by Parse body: its copy serves as ours */
	out->ana = ana_get((const char *) pbody, pbody, plen);
	if (out->ana == NULL)
		return -1;
	out->ins = &out->ana->ins;
	if (!out->ana->ok || out->ins->returning || out->ins->max_param != out->nparams ||
		parse_ntypes(pbody, plen) > (uint32_t) out->nparams)
		goto refuse;
	if (out->ana->key != NULL)
		out->parse_body = out->ana->key;
	else if ((out->parse_body = malloc(plen)) != NULL)
	{
		memcpy(out->parse_body, pbody, plen);
		out->own_parse_body = true;
	}
	out->parse_len = plen;
	out->sql = (char *) out->parse_body;
	if (out->parse_body == NULL || !keep_bind_rest(bind, bind_len, nfmt, out))
	{
		coal_req_free(out);
		return -1;
	}
	return 1;
refuse:
	coal_req_free(out);
	return 0;
}

bool
coal_req_same_group(const struct coal_req *a, const struct coal_req *b)
{
	/* one cached analysis, so one Parse body: everything below is equal */
	if (a->ana == b->ana && a->kind == COAL_EXTENDED && a->parse_body == b->parse_body)
		return a->nparams == b->nparams;
	if (a->kind != b->kind || a->ins->width != b->ins->width ||
		strcmp(a->ins->prefix, b->ins->prefix) != 0 || strcmp(a->ins->tail, b->ins->tail) != 0)
		return false;
	if (a->kind == COAL_SIMPLE)
		return true;
	return a->nparams == b->nparams && a->parse_len == b->parse_len &&
		memcmp(a->parse_body, b->parse_body, a->parse_len) == 0;
}

/* ---- building what goes to the server ---- */

/*
 * Close of the coalescer's statement.  It also goes before each Parse of it:
 * the Close after a use is skipped when that use fails, and a Parse of a
 * name that exists fails (42P05, in transaction pooling too).
 */
static void
put_close_stmt(struct proto_buf *out)
{
	proto_build_close(out, 'S', COAL_STMT_NAME);
}

/* Parse of text[0, len) followed by `tail`, typed as the client's. */
static void
put_parse(struct proto_buf *out, const char *text, size_t len, const char *tail,
		  const uint8_t *types_src, uint32_t ntypes_src, int reps, int per_row)
{
	put_close_stmt(out);
	proto_begin(out, PQMSG_Parse);
	proto_put_string(out, COAL_STMT_NAME);
	proto_put_bytes(out, text, len);
	proto_put_string(out, tail);
	proto_put_int16(out, (uint16_t) (reps * per_row));
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < per_row; i++)
			proto_put_int32(out, (uint32_t) i < ntypes_src ? proto_get_u32(types_src + 4 * i) : 0);
	proto_end(out);
}

static void
put_tail_msgs(struct proto_buf *out, bool describe)
{
	if (describe)
	{
		proto_begin(out, PQMSG_Describe);
		proto_put_byte(out, 'P');
		proto_put_string(out, "");
		proto_end(out);
	}
	proto_begin(out, PQMSG_Execute);
	proto_put_string(out, "");
	proto_put_int32(out, 0);
	proto_end(out);
	put_close_stmt(out);
	proto_begin(out, PQMSG_Sync);
	proto_end(out);
}

static uint32_t
ndigits(long v)
{
	uint32_t	d = 1;

	while (v >= 10)
	{
		v /= 10;
		d++;
	}
	return d;
}

/*
 * Make a->text hold at least n rows of `per_row` parameters (see struct
 * coal_ana); false when it cannot (out of memory, too many parameters, or
 * a text whose rows are not where they were computed to be: the caller
 * then builds the text itself).
 */
static bool
merged_text_grow(struct coal_ana *a, int n, int per_row)
{
	const struct batch_insert *ins = &a->ins;
	struct batch_text t;
	uint32_t   *ends;
	int			rows = a->rows * 2;
	size_t		at,
				tail = strlen(ins->tail);
	long		fixed = (long) strlen(ins->tuple);
	bool		ok;

	if (rows < 16)
		rows = 16;
	if (rows > BATCH_MAX_PARAMS / (per_row > 0 ? per_row : 1))
		rows = BATCH_MAX_PARAMS / (per_row > 0 ? per_row : 1);
	if (rows < n)
		rows = n;				/* refused below */
	for (int i = 0; i < ins->nparams; i++)
		fixed -= (long) ins->params[i].len;
	batch_text_init(&t);
	ends = malloc(sizeof(*ends) * (size_t) rows);
	ok = ends != NULL && batch_sql_build_values(ins, rows, per_row, &t);
	at = strlen(ins->prefix) + 7;	/* "VALUES " */
	for (int r = 0; ok && r < rows; r++)
	{
		long		row = fixed;

		for (int i = 0; i < ins->nparams; i++)
			row += 1 + (long) ndigits(ins->params[i].number + (long) r * per_row);
		if (r > 0)
			ok = at < t.len && t.data[at++] == ',';
		at += (size_t) row;
		ends[r] = (uint32_t) at;
	}
	if (!ok || at + tail != t.len || memcmp(t.data + at, ins->tail, tail) != 0)
	{
		free(ends);
		batch_text_free(&t);
		return false;
	}
	free(a->text);
	free(a->row_end);
	a->text = t.data;			/* ours now */
	a->row_end = ends;
	a->rows = rows;
	return true;
}

static const uint8_t *
parse_types(const struct coal_req *r, uint32_t *ntypes)
{
	size_t		tl = strlen((const char *) r->parse_body);

	*ntypes = parse_ntypes(r->parse_body, r->parse_len);
	return r->parse_body + tl + 3;
}

bool
coal_build_merged(const struct coal_req *const *reqs, int n, struct proto_buf *out)
{
	const struct coal_req *r0;
	struct batch_text t;
	bool		ok = true;

	if (n < 1)
		return false;
	r0 = reqs[0];
	batch_text_init(&t);
	if (r0->kind == COAL_SIMPLE)
	{
		batch_text_append(&t, r0->ins->prefix, strlen(r0->ins->prefix));
		batch_text_append(&t, "VALUES ", 7);
		for (int i = 0; i < n; i++)
		{
			if (i > 0)
				batch_text_append(&t, ",", 1);
			batch_text_append(&t, reqs[i]->ins->tuple, strlen(reqs[i]->ins->tuple));
		}
		batch_text_append(&t, r0->ins->tail, strlen(r0->ins->tail));
		ok = !t.failed;
		if (ok)
			proto_build_query(out, t.data);
	}
	else
	{
		struct coal_ana *a = r0->ana;
		uint32_t	ntypes;
		const uint8_t *types = parse_types(r0, &ntypes);

		if (n <= a->rows || merged_text_grow(a, n, r0->nparams))
			put_parse(out, a->text, a->row_end[n - 1], r0->ins->tail, types, ntypes, n,
					  r0->nparams);
		else if ((ok = batch_sql_build_values(r0->ins, n, r0->nparams, &t)))
			put_parse(out, t.data, t.len, "", types, ntypes, n, r0->nparams);
		if (ok)
		{
			proto_begin(out, PQMSG_Bind);
			proto_put_string(out, "");
			proto_put_string(out, COAL_STMT_NAME);
			proto_put_int16(out, (uint16_t) (n * r0->nparams));
			for (int i = 0; i < n; i++)
				for (int k = 0; k < r0->nparams; k++)
					proto_put_int16(out, reqs[i]->formats[k]);
			proto_put_int16(out, (uint16_t) (n * r0->nparams));
			for (int i = 0; i < n; i++)
				proto_put_bytes(out, reqs[i]->bind_rest + reqs[i]->values_off,
								reqs[i]->values_len);
			proto_put_int16(out, 0);
			proto_end(out);
			put_tail_msgs(out, false);
		}
	}
	batch_text_free(&t);
	return ok && proto_buf_ok(out);
}

size_t
coal_req_value_bytes(const struct coal_req *r)
{
	return r->kind == COAL_SIMPLE ? strlen(r->ins->tuple) : r->values_len;
}

bool
coal_build_single(const struct coal_req *r, struct proto_buf *out)
{
	if (r->kind == COAL_SIMPLE)
		proto_build_query(out, r->sql);
	else
	{
		uint32_t	ntypes;
		const uint8_t *types = parse_types(r, &ntypes);

		put_parse(out, r->sql, strlen(r->sql), "", types, ntypes, 1, (int) ntypes);
		proto_begin(out, PQMSG_Bind);
		proto_put_string(out, "");
		proto_put_string(out, COAL_STMT_NAME);
		proto_put_bytes(out, r->bind_rest, r->bind_rest_len);
		proto_end(out);
		put_tail_msgs(out, r->has_describe);
	}
	return proto_buf_ok(out);
}

void
coal_build_success(const struct coal_req *r, struct proto_buf *out)
{
	if (r->kind == COAL_EXTENDED)
	{
		if (r->has_parse)
		{
			proto_begin(out, PQMSG_ParseComplete);
			proto_end(out);
		}
		proto_begin(out, PQMSG_BindComplete);
		proto_end(out);
		if (r->has_describe)
		{
			proto_begin(out, PQMSG_NoData);
			proto_end(out);
		}
	}
	proto_build_command_complete(out, "INSERT 0 1");
}

/* ---- the pooler side ---- */

enum entry_state
{
	CE_HELD = 0,				/* waiting in its group */
	CE_GO,						/* leader: take a server and send */
	CE_FLIGHT,					/* leader: the group's requests are out */
	CE_DONE						/* answered: consume the held final message */
};

struct coal_group;

struct coal_entry
{
	struct client *c;			/* NULL once the client is gone */
	struct coal_group *g;		/* NULL once the group is finished */
	struct coal_req req;
	enum entry_state st;
	int			skip_left;		/* client messages to consume before the final
								 * one */
	bool		final_held;		/* its final message (Query/Sync) is not
								 * consumed yet */
};

/* Per pool and table: may the table take multi-row INSERTs? */
enum table_state
{
	TAB_UNKNOWN = 0,
	TAB_OK,
	TAB_BAD
};

struct coal_table
{
	struct coal_table *next;
	struct pool *pool;
	enum table_state st;
	bool		noisy;			/* its rows may raise NOTICEs (the catalog
								 * check's third answer): merged inside BEGIN,
								 * committed only when none came */
	int			inflight;		/* groups flushed and not finished */
	uint64_t	epoch;			/* batch_catalog.epoch when last asked */
	int64_t		asked_at;		/* now_usec() then */
	char		dbname[NAME_MAX_LEN];	/* with pool: a freed pool's address
										 * may come back */
	char		prefix[];		/* "INSERT INTO rel (cols) " as written */
};

enum phase
{
	PH_CHECK = 0,				/* BATCH_CATALOG_SQL for a table seen first */
	PH_MERGED,					/* the multi-row INSERT */
	PH_COMMIT,					/* noisy table: the COMMIT after it */
	PH_REPLAY					/* each request on its own */
};

struct coal_group
{
	struct coal_group *next;	/* on open_groups while open */
	bool		open;
	struct pool *pool;
	struct coal_table *tab;
	struct coal_entry **e;		/* e[0] takes the server; NULL once answered */
	struct coal_entry *lead;	/* in flight: the entry of the client linked
								 * to the server (e[0], unless it left: see
								 * coalesce_client_gone) */
	int			n;
	int			cap;			/* rows that fit one statement */
	int			ecap;			/* entries allocated in e (grows to cap) */
	size_t		bytes;			/* bytes of values held (coal_req_value_bytes) */
	struct event *timer;
	enum phase	phase;
	int			idx;			/* PH_REPLAY: replies belong to order(idx) */
	bool		err;			/* an ErrorResponse came in this phase */
	bool		count_ok;		/* merged CommandComplete counted every row */
	bool		table_bad;		/* the catalog check said no */
	bool		noticed;		/* a NoticeResponse came in this phase */
	bool		rollback;		/* PH_REPLAY: ROLLBACK the merged INSERT's
								 * transaction block first */
	int			zskip;			/* ReadyForQuery replies to our own BEGIN or
								 * ROLLBACK still to swallow */
	bool		counted;		/* in tab->inflight */
};

/*
 * A new group is flushed at once while fewer than this many groups of its
 * table are running, so a lone INSERT waits for nothing; otherwise it
 * collects rows until one finishes (or its window ends, which flushes it
 * anyway): the rows that arrive while a merged INSERT runs go in the next.
 * 1 measured best (bench/results/batch_inserts_coalesce-*: 1.15-1.24x the
 * rate of 2, 8 the same as 2): the rate is bound by CPU (pgbench, the
 * pooler's send/recv and the server share two cores), not by how many
 * merges are in flight, and fewer, larger merges cost the server less.
 */
#ifndef COAL_MAX_INFLIGHT
#define COAL_MAX_INFLIGHT 1
#endif

static struct coal_group *open_groups;
static struct coal_table *tables;
static struct proto_buf out_buf;

/* Tables remembered at most (INSERT texts that differ only in comments
 * or spacing count apart); past that, new ones are not coalesced. */
#define COAL_MAX_TABLES 4096
static int	ntables;

/* NULL: out of memory or too many tables. */
static struct coal_table *
table_get(struct pool *p, const char *prefix)
{
	struct coal_table *t;
	size_t		len = strlen(prefix);

	for (t = tables; t; t = t->next)
		if (t->pool == p && strcmp(t->dbname, p->dbname) == 0 && strcmp(t->prefix, prefix) == 0)
			return t;
	if (ntables >= COAL_MAX_TABLES || (t = calloc(1, sizeof(*t) + len + 1)) == NULL)
		return NULL;
	t->pool = p;
	snprintf(t->dbname, sizeof(t->dbname), "%s", p->dbname);
	memcpy(t->prefix, prefix, len + 1);
	t->next = tables;
	tables = t;
	ntables++;
	return t;
}

/*
 * The catalog's answer about t is forgotten once DDL or a reload moved
 * batch_catalog.epoch or it is insert_batch_catalog_ttl old: the next group
 * asks again (a group in flight finishes as it started).
 */
static void
table_refresh(struct coal_table *t)
{
	int64_t		ttl;

	if (t->st == TAB_UNKNOWN)
		return;
	ttl = cfg_insert_batch_catalog_ttl_for(cfg, pool_db(t->pool));
	if (t->epoch != batch_catalog.epoch || (ttl > 0 && now_usec() - t->asked_at >= ttl))
		t->st = TAB_UNKNOWN;
}

/* Entries too come from a free list (struct free_list). */
static struct free_list entry_blocks;

static struct coal_entry *
entry_new(void)
{
	struct coal_entry *e = free_list_get(&entry_blocks);

	if (e == NULL)
		return calloc(1, sizeof(*e));
	memset(e, 0, sizeof(*e));
	return e;
}

static void
entry_free(struct coal_entry *e)
{
	coal_req_free(&e->req);
	free_list_put(&entry_blocks, e);
}

static void
group_unlink_open(struct coal_group *g)
{
	struct coal_group **pp;

	if (!g->open)
		return;
	for (pp = &open_groups; *pp; pp = &(*pp)->next)
		if (*pp == g)
		{
			*pp = g->next;
			break;
		}
	g->open = false;
	evtimer_del(g->timer);
}

/* Flush g from the loop (the caller may be about to pause its leader). */
static void
group_kick(struct coal_group *g)
{
	if (!g->counted)
	{
		g->counted = true;
		g->tab->inflight++;
	}
	event_active(g->timer, EV_TIMEOUT, 0);
}

static void
group_free(struct coal_group *g)
{
	struct coal_table *tab = g->tab;

	group_unlink_open(g);
	if (g->timer)
		event_free(g->timer);
	if (g->counted)
	{
		struct coal_group *o;

		tab->inflight--;
		/* the next group of the table need not wait for its window */
		for (o = open_groups; o; o = o->next)
			if (o->tab == tab && !o->counted && tab->inflight < COAL_MAX_INFLIGHT)
				group_kick(o);
	}
	free(g->e);
	free(g);
}

/* The group stops taking rows; its leader takes a server. */
static void
group_flush(struct coal_group *g)
{
	group_unlink_open(g);
	if (!g->counted && g->n > 0)
	{
		g->counted = true;
		g->tab->inflight++;
	}
	if (g->n == 0)
	{
		group_free(g);
		return;
	}
	g->e[0]->st = CE_GO;
	sbuf_continue(&g->e[0]->c->sb);
}

static void
group_timer(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	now_update();
	/* a kick (group_kick, a full group) counted it already */
	if (!((struct coal_group *) arg)->counted)
		coalesce_stats.window_ends++;
	group_flush(arg);
}

static const uint8_t *
lookup_stmt(void *arg, const char *name, uint32_t *len)
{
	return txn_client_stmt_body(arg, name, len);
}

/* A new request of an idle client: hold it if it qualifies. */
static enum sbuf_ret
try_take(struct client *c, struct sbuf_pkt *pkt)
{
	struct coal_entry *e;
	struct coal_group *g;
	struct coal_table *tab;
	size_t		vb;
	int			rc;

	if (c->is_admin || c->link || pool_mode(c->pool) != CFG_POOL_TRANSACTION ||
		!sbuf_pkt_complete(pkt))
		return SBUF_FORWARD;
	if (pkt->type != PQMSG_Query && pkt->type != PQMSG_Bind && pkt->type != PQMSG_Parse)
		return SBUF_FORWARD;
	e = entry_new();
	if (e == NULL)
		return SBUF_FORWARD;
	rc = coal_request_parse(pkt->data, pkt->avail, lookup_stmt, c, &e->req);
	if (rc <= 0)
	{
		entry_free(e);
		return SBUF_FORWARD;
	}
	tab = table_get(c->pool, e->req.ins->prefix);
	if (tab != NULL)
		table_refresh(tab);
	if (tab == NULL || tab->st == TAB_BAD)
	{
		entry_free(e);
		return SBUF_FORWARD;
	}
	for (g = open_groups; g; g = g->next)
		if (g->pool == c->pool && g->n > 0 && coal_req_same_group(&g->e[0]->req, &e->req) &&
			txn_clients_same_vars(g->e[0]->c, c))
			break;
	/* insert_batch_max_bytes: a group this row would take past it goes now */
	vb = coal_req_value_bytes(&e->req);
	if (g != NULL && g->bytes + vb > (size_t) cfg_insert_batch_max_bytes_for(cfg, pool_db(c->pool)))
	{
		group_unlink_open(g);
		group_kick(g);
		g = NULL;
	}
	if (g == NULL)
	{
		g = calloc(1, sizeof(*g));
		if (g == NULL)
		{
			entry_free(e);
			return SBUF_FORWARD;
		}
		g->pool = c->pool;
		g->tab = tab;
		g->cap = batch_sql_rows_cap(e->req.nparams,
									cfg_insert_batch_max_rows_for(cfg, pool_db(c->pool)));
		g->ecap = g->cap < 16 ? g->cap : 16;
		g->e = malloc((size_t) g->ecap * sizeof(*g->e));
		g->timer = evtimer_new(pooler_base, group_timer, g);
		if (g->e == NULL || g->timer == NULL)
		{
			if (g->timer)
				event_free(g->timer);
			free(g->e);
			free(g);
			entry_free(e);
			return SBUF_FORWARD;
		}
		{
			int64_t		delay = cfg_insert_coalesce_delay_for(cfg, pool_db(c->pool));
			struct timeval tv = {
				.tv_sec = (time_t) (delay / USEC_PER_SEC),
				.tv_usec = (suseconds_t) (delay % USEC_PER_SEC),
			};

			evtimer_add(g->timer, &tv);
		}
		g->open = true;
		g->next = open_groups;
		open_groups = g;
	}
	if (g->n == g->ecap)
	{
		int			ecap = g->ecap * 2 < g->cap ? g->ecap * 2 : g->cap;
		struct coal_entry **ne = realloc(g->e, (size_t) ecap * sizeof(*g->e));

		if (ne == NULL)
		{
			/* goes with what it has; this one is not held */
			group_unlink_open(g);
			group_kick(g);
			entry_free(e);
			return SBUF_FORWARD;
		}
		g->e = ne;
		g->ecap = ecap;
	}
	e->c = c;
	e->g = g;
	e->st = CE_HELD;
	e->skip_left = e->req.nmsgs - 1;
	e->final_held = true;
	g->e[g->n++] = e;
	g->bytes += vb;
	c->coal = e;
	if (g->n >= g->cap)
	{
		/* full: closed now */
		group_unlink_open(g);
		group_kick(g);
	}
	else if (!g->counted && tab->inflight < COAL_MAX_INFLIGHT)
		group_kick(g);			/* open until the loop gets to it */
	if (e->skip_left > 0)
	{
		e->skip_left--;
		return SBUF_SKIP;
	}
	sbuf_pause_lazy(&c->sb);
	return SBUF_WAIT;
}

/* Send `b` to s as if client c had sent it (txn maps names, syncs
 * parameters); false when the connection failed (both closed). */
static bool
send_as_client(struct client *c, struct server *s, const struct proto_buf *b)
{
	size_t		off = 0;

	if (!proto_buf_ok(b))
	{
		disconnect_client(c, "53200", "out of memory");
		return false;
	}
	if (s->expect_rfq == 0 && !s->ext_open)
		s->query_start = now_usec();
	while (off < b->len)
	{
		uint32_t	total = 1 + proto_get_u32(b->data + off + 1);

		/*
		 * avail: the rest of b, so that txn.c holds the messages (prepared
		 * statements mapped) and sends them in one write after the last
		 */
		struct sbuf_pkt pkt = {
			.type = b->data[off],
			.total = total,
			.data = b->data + off,
			.avail = (uint32_t) (b->len - off),
		};
		bool		was_busy = s->expect_rfq > 0 || s->ext_open;
		enum sbuf_ret r = txn_client_packet(c, s, &pkt, was_busy);

		if (r == SBUF_CLOSED)
			return false;
		if (r == SBUF_FORWARD)
		{
			if (!sbuf_send(&s->sb, pkt.data, total))
			{
				disconnect_server(s, true, "08006", "could not send to server");
				return false;
			}
		}
		else if (r != SBUF_SKIP)
		{
			disconnect_client(c, "08P01", "insert coalescing: request could not be sent");
			return false;
		}
		if (pkt.type == PQMSG_Sync || pkt.type == PQMSG_Query)
		{
			s->expect_rfq++;
			s->ext_open = false;
		}
		else
			s->ext_open = true;
		off += total;
	}
	return true;
}

/* The entry whose replies come now in PH_REPLAY: the others first, the
 * leader last (its final ReadyForQuery releases the server as usual). */
static struct coal_entry *
replay_entry(const struct coal_group *g)
{
	return g->idx < g->n - 1 ? g->e[g->idx + 1] : g->e[0];
}

static void
quote_ident(struct proto_buf *b, const char *s)
{
	proto_put_byte(b, '"');
	for (; *s; s++)
	{
		if (*s == '"')
			proto_put_byte(b, '"');
		proto_put_byte(b, (uint8_t) *s);
	}
	proto_put_byte(b, '"');
}

/* Send what the group's current phase needs. */
static bool
send_phase(struct coal_group *g, struct server *s)
{
	struct client *c = g->lead->c;

	proto_buf_reset(&out_buf);
	g->err = false;
	g->count_ok = false;
	g->noticed = false;
	g->idx = 0;
	g->zskip = 0;
	switch (g->phase)
	{
		case PH_CHECK:
			{
				const struct batch_insert *ins = g->lead->req.ins;
				struct proto_buf name;
				uint32_t	at;

				proto_buf_init(&name);
				if (ins->schemaname)
				{
					quote_ident(&name, ins->schemaname);
					proto_put_byte(&name, '.');
				}
				quote_ident(&name, ins->relname);
				proto_put_byte(&name, 0);
				put_close_stmt(&out_buf);
				proto_begin(&out_buf, PQMSG_Parse);
				proto_put_string(&out_buf, COAL_STMT_NAME);
				proto_put_string(&out_buf, BATCH_CATALOG_SQL);
				proto_put_int16(&out_buf, 1);
				proto_put_int32(&out_buf, 25);	/* text */
				proto_end(&out_buf);
				proto_begin(&out_buf, PQMSG_Bind);
				proto_put_string(&out_buf, "");
				proto_put_string(&out_buf, COAL_STMT_NAME);
				proto_put_int16(&out_buf, 0);
				proto_put_int16(&out_buf, 1);
				at = name.len > 0 ? (uint32_t) name.len - 1 : 0;
				proto_put_int32(&out_buf, at);
				proto_put_bytes(&out_buf, name.data, at);
				proto_put_int16(&out_buf, 0);
				proto_end(&out_buf);
				if (!proto_buf_ok(&name))
					out_buf.failed = true;
				proto_buf_free(&name);
				put_tail_msgs(&out_buf, false);
				break;
			}
		case PH_MERGED:
			{
				const struct coal_req *reqs[g->n];

				for (int i = 0; i < g->n; i++)
					reqs[i] = &g->e[i]->req;

				/*
				 * a table whose rows may raise NOTICEs: inside BEGIN, so that
				 * a NOTICE (which no client could be told in its place) can
				 * still undo it
				 */
				if (g->tab->noisy)
				{
					proto_build_query(&out_buf, "BEGIN");
					g->zskip = 1;
				}
				if (!coal_build_merged(reqs, g->n, &out_buf))
					out_buf.failed = true;
				break;
			}
		case PH_COMMIT:
			proto_build_query(&out_buf, "COMMIT");
			break;
		case PH_REPLAY:
			if (g->rollback)
			{
				proto_build_query(&out_buf, "ROLLBACK");
				g->zskip = 1;
				g->rollback = false;
			}
			for (int i = 1; i <= g->n; i++)
				if (!coal_build_single(&g->e[i % g->n]->req, &out_buf))
					out_buf.failed = true;
			break;
	}
	return send_as_client(c, s, &out_buf);
}

/*
 * The flight is over: the linked client gets the server's final
 * ReadyForQuery as its own (the caller forwards it), and the server is
 * released as usual.
 */
static void
group_finish(struct coal_group *g)
{
	struct coal_entry *lead = g->lead;
	struct client *leader = lead->c;

	for (int i = 0; i < g->n; i++)
		if (g->e[i] && g->e[i] != lead)
		{
			g->e[i]->g = NULL;
			if (g->e[i]->c == NULL)
				entry_free(g->e[i]);
		}
	if (lead->final_held)
	{
		/* a leader by hand-over: its final message is still to consume */
		lead->g = NULL;
		lead->st = CE_DONE;
	}
	else
	{
		leader->coal = NULL;
		entry_free(lead);
	}
	group_free(g);
	sbuf_continue(&leader->sb);
}

/*
 * Non-leader g->e[k] has all its replies: it leaves the group, and its
 * client consumes its final message (and frees the entry).
 */
static void
entry_answered(struct coal_group *g, int k)
{
	struct coal_entry *e = g->e[k];

	g->e[k] = NULL;
	e->g = NULL;
	e->final_held = false;
	e->st = CE_DONE;
	if (e->c)
		/* its held final message is skipped: no wake-up of its own */
		sbuf_continue_now(&e->c->sb, e->req.kind == COAL_SIMPLE ? PQMSG_Query : PQMSG_Sync);
	else
		entry_free(e);
}

/*
 * Replies for one held client.  If its socket failed, a client not linked
 * to the server is closed now; the linked one is left for its sbuf to
 * report (closing it here would hand the server over mid-reply).
 */
static void
send_to(const struct coal_group *g, struct coal_entry *e, const void *data, size_t len)
{
	/*
	 * The linked client's replies always end with the server's final
	 * ReadyForQuery, relayed at the end of the flight (SBUF_FORWARD): they
	 * wait for it (sbuf_send_held) and go in one segment with it.
	 */
	if (e->c == NULL || (e == g->lead ? sbuf_send_held(&e->c->sb, data, len) :
						 sbuf_send(&e->c->sb, data, len)))
		return;
	if (e == g->lead)
		log_debug("%s insert_coalescing: could not send to client", client_ident(e->c));
	else
		disconnect_client(e->c, NULL, "could not send to client");
}

static bool
merged_succeeded(struct coal_group *g, char status)
{
	return !g->err && g->count_ok && status == 'I';
}

/*
 * What a client not linked to the server is owed after a committed merge,
 * ReadyForQuery included: one of five byte strings (a simple Query; or
 * Parse sent or not, Describe sent or not), built once.
 */
static const struct proto_buf *
success_replies(const struct coal_req *r)
{
	static struct proto_buf built[5];
	struct proto_buf *b = &built[r->kind == COAL_SIMPLE ? 4 :
								 (r->has_parse ? 1 : 0) + (r->has_describe ? 2 : 0)];

	if (b->len == 0 || !proto_buf_ok(b))
	{
		proto_buf_reset(b);
		coal_build_success(r, b);
		proto_build_ready(b, 'I');
	}
	return b;
}

/* Everyone's replies; the linked client's ReadyForQuery is the server's. */
static void
deliver_success(struct coal_group *g)
{
	for (int i = 0; i < g->n; i++)
	{
		const struct proto_buf *b;

		if (g->e[i] == NULL || g->e[i] == g->lead)
			continue;
		b = success_replies(&g->e[i]->req);
		if (proto_buf_ok(b))
			send_to(g, g->e[i], b->data, b->len);
		entry_answered(g, i);
	}
	proto_buf_reset(&out_buf);
	coal_build_success(&g->lead->req, &out_buf);
	if (proto_buf_ok(&out_buf))
		send_to(g, g->lead, out_buf.data, out_buf.len);
	coalesce_stats.rows += (uint64_t) g->n;
	coalesce_stats.statements++;
	coalesce_stats.sizes[g->n < COAL_SIZE_BUCKETS ? g->n : COAL_SIZE_BUCKETS - 1]++;
}

/* Is body[0, blen) the CommandComplete tag "INSERT 0 <n>"? */
static bool
is_insert_tag(const uint8_t *body, uint32_t blen, int n)
{
	char		digits[12];
	int			nd = 0;

	do
	{
		digits[nd++] = (char) ('0' + n % 10);
		n /= 10;
	} while (n > 0 && nd < (int) sizeof(digits));
	if (blen != 9 + (uint32_t) nd + 1 || memcmp(body, "INSERT 0 ", 9) != 0 || body[blen - 1] != '\0')
		return false;
	for (int i = 0; i < nd; i++)
		if (body[9 + i] != (uint8_t) digits[nd - 1 - i])
			return false;
	return true;
}

enum sbuf_ret
coalesce_server_reply(struct server *s, struct sbuf_pkt *pkt, bool *ready_done)
{
	struct client *leader = s->link;
	struct coal_group *g = leader->coal->g;
	const uint8_t *body = pkt->data + PROTO_HDR_LEN;
	uint32_t	blen = pkt->total - PROTO_HDR_LEN;

	*ready_done = false;
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (sbuf_has_pending(&s->sb) && !sbuf_flush_pending(&s->sb))
		return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
	if (pkt->type == PQMSG_ErrorResponse)
		g->err = true;
	switch (g->phase)
	{
		case PH_CHECK:
			if (pkt->type == PQMSG_DataRow && blen >= 7 && proto_get_u32(body + 2) == 1 &&
				body[6] == 't')
				g->table_bad = true;
			/* third column: may its rows raise NOTICEs */
			if (pkt->type == PQMSG_DataRow && blen >= 17 && proto_get_u32(body + 12) == 1)
				g->tab->noisy = body[16] == 't';
			if (pkt->type != PQMSG_ReadyForQuery)
				return SBUF_SKIP;
			*ready_done = true;
			g->tab->st = g->err || g->table_bad ? TAB_BAD : TAB_OK;
			g->phase = g->tab->st == TAB_OK ? PH_MERGED : PH_REPLAY;
			if (g->tab->st == TAB_BAD)
				log_info("%s insert_coalescing: %s is not coalesced (statement-level trigger, transition table or rule)",
						 client_ident(leader), g->tab->prefix);
			return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
		case PH_MERGED:
			if (pkt->type == PQMSG_NoticeResponse)
				g->noticed = true;
			if (pkt->type == PQMSG_CommandComplete)
			{
				g->count_ok = is_insert_tag(body, blen, g->n);
			}
			if (pkt->type != PQMSG_ReadyForQuery)
				return SBUF_SKIP;
			if (g->zskip > 0)
			{
				/* our BEGIN's */
				g->zskip--;
				*ready_done = true;
				return SBUF_SKIP;
			}
			if (g->tab->noisy)
			{
				*ready_done = true;
				if (!g->err && g->count_ok && !g->noticed && body[0] == 'T')
				{
					g->phase = PH_COMMIT;
					return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
				}
				if (g->noticed)
				{
					/* each row's NOTICE must reach its own client */
					g->tab->st = TAB_BAD;
					log_info("%s insert_coalescing: %s is no longer coalesced (its rows raise NOTICEs)",
							 client_ident(leader), g->tab->prefix);
				}
				coalesce_stats.fallbacks++;
				g->phase = PH_REPLAY;
				g->rollback = true;
				return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
			}
			if (merged_succeeded(g, (char) body[0]))
			{
				deliver_success(g);
				group_finish(g);
				return SBUF_FORWARD;
			}
			*ready_done = true;
			coalesce_stats.fallbacks++;
			log_debug("%s insert_coalescing: merged INSERT of %d rows failed, replaying them one by one",
					  client_ident(leader), g->n);
			g->phase = PH_REPLAY;
			return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
		case PH_COMMIT:
			if (pkt->type != PQMSG_ReadyForQuery)
				return SBUF_SKIP;
			if (!g->err && body[0] == 'I')
			{
				deliver_success(g);
				group_finish(g);
				return SBUF_FORWARD;
			}
			/* the COMMIT failed (a deferred check): nothing stays applied */
			*ready_done = true;
			coalesce_stats.fallbacks++;
			g->phase = PH_REPLAY;
			return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
		case PH_REPLAY:
			{
				struct coal_entry *e = replay_entry(g);

				if (g->zskip > 0)
				{
					/* our ROLLBACK's replies */
					if (pkt->type == PQMSG_ReadyForQuery)
					{
						g->zskip--;
						*ready_done = true;
					}
					return SBUF_SKIP;
				}

				if (pkt->type == PQMSG_CloseComplete ||
					(pkt->type == PQMSG_ParseComplete && !e->req.has_parse))
					return SBUF_SKIP;
				if (pkt->type != PQMSG_ReadyForQuery)
				{
					send_to(g, e, pkt->data, pkt->total);
					return SBUF_SKIP;
				}
				if (g->idx == g->n - 1)
				{
					/*
					 * the last reply of the flight: the linked client's
					 * ReadyForQuery (its own, or the one it was owed)
					 */
					group_finish(g);
					return SBUF_FORWARD;
				}
				if (e != g->lead)
				{
					send_to(g, e, pkt->data, pkt->total);
					entry_answered(g, g->idx < g->n - 1 ? g->idx + 1 : 0);
				}
				g->idx++;
				*ready_done = true;
				return SBUF_SKIP;
			}
	}
	return SBUF_SKIP;
}

/* The leader has its server: send the group's first phase. */
static enum sbuf_ret
group_start(struct coal_group *g, struct server *s)
{
	g->lead = g->e[0];
	g->lead->st = CE_FLIGHT;
	g->lead->final_held = false;	/* the caller consumes it */
	table_refresh(g->tab);
	if (g->tab->inflight > 1)
		coalesce_stats.overlapped++;
	if (g->n == 1 || g->tab->st == TAB_BAD)
	{
		g->phase = PH_REPLAY;
		if (g->n == 1)
			coalesce_stats.solo++;
	}
	else if (g->tab->st == TAB_OK)
		g->phase = PH_MERGED;
	else
	{
		g->phase = PH_CHECK;
		g->tab->epoch = batch_catalog.epoch;
		g->tab->asked_at = now_usec();
	}
	return send_phase(g, s) ? SBUF_SKIP : SBUF_CLOSED;
}

enum sbuf_ret
coalesce_client_packet(struct client *c, struct sbuf_pkt *pkt)
{
	struct coal_entry *e = c->coal;

	if (e == NULL)
		return cfg_insert_coalescing_for(cfg, pool_db(c->pool)) ? try_take(c, pkt) : SBUF_FORWARD;
	if (e->skip_left > 0)
	{
		e->skip_left--;
		return SBUF_SKIP;
	}
	switch (e->st)
	{
		case CE_HELD:
		case CE_FLIGHT:
			sbuf_pause_lazy(&c->sb);	/* the client waits for its answer */
			return SBUF_WAIT;
		case CE_GO:
			if (c->link == NULL && !find_server(c))
				return c->state == CL_JUSTFREE ? SBUF_CLOSED : SBUF_WAIT;
			return group_start(e->g, c->link);
		case CE_DONE:
			c->coal = NULL;
			entry_free(e);
			c->request_time = now_usec();
			return SBUF_SKIP;
	}
	return SBUF_FORWARD;
}

void
coalesce_client_gone(struct client *c)
{
	struct coal_entry *e = c->coal;
	struct coal_group *g;
	int			i;

	if (e == NULL)
		return;
	c->coal = NULL;
	g = e->g;
	if (g == NULL)
	{
		entry_free(e);
		return;
	}
	if (g->lead)
	{
		struct server *srv = c->link;
		struct coal_entry *heir = NULL;

		/* in flight: a client that leaves has its replies dropped */
		e->c = NULL;
		if (e != g->lead)
			return;

		/*
		 * the linked one: another held client takes over the server and will
		 * get the server's last ReadyForQuery as its own
		 */
		for (i = 0; i < g->n && heir == NULL; i++)
			if (g->e[i] && g->e[i] != e && g->e[i]->c)
				heir = g->e[i];
		if (heir && srv)
		{
			unlink_pair(c, srv);
			link_pair(heir->c, srv);
			heir->st = CE_FLIGHT;
			g->lead = heir;
			log_debug("%s insert_coalescing: takes over %s from a client that left",
					  client_ident(heir->c), server_ident(srv));
			return;
		}

		/*
		 * The server connection is lost (or nobody is left to take it):
		 * whether the merged INSERT committed is unknown, so the others are
		 * closed as a direct connection would be.
		 */
		for (i = 0; i < g->n; i++)
			if (g->e[i] && g->e[i] != e)
			{
				struct client *o = g->e[i]->c;

				if (o)
					o->coal = NULL;
				entry_free(g->e[i]);
				g->e[i] = NULL;
				if (o)
					disconnect_client(o, "08006", "server connection lost during a coalesced INSERT");
			}
		entry_free(e);
		group_free(g);
		return;
	}
	for (i = 0; i < g->n && g->e[i] != e; i++)
		;
	if (i < g->n)
	{
		memmove(&g->e[i], &g->e[i + 1], (size_t) (g->n - i - 1) * sizeof(*g->e));
		g->n--;
	}
	entry_free(e);
	if (i == 0 && !g->open)
	{
		/* it was to lead: the next one does */
		if (g->n == 0)
			group_free(g);
		else
		{
			g->e[0]->st = CE_GO;
			sbuf_continue(&g->e[0]->c->sb);
		}
	}
	else if (g->n == 0)
		group_free(g);
}
