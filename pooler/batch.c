/*
 * batch.c -- the batch-insert collector and replayer: a state machine over
 * client and server protocol messages (see batch.h for the contract and the
 * design; batch_sql.c decides which statements qualify).
 *
 * States (enum batch_state):
 *   IDLE     between segments; client messages relayed by the caller
 *   PASS     relaying the rest of an extended segment until its Sync
 *   COLLECT  holding an extended segment that may be rewritten
 *   WAIT     held segment complete, waiting for earlier ReadyForQuery
 *   ATTEMPT  rewritten segment sent (ending with Flush); consuming replies
 *   COMMIT   Sync sent after a good attempt; waiting for its ReadyForQuery
 *   SWALLOW  consuming replies to our own control messages
 *   REPLAY   original messages resent; replies relayed until ReadyForQuery
 * Client messages that arrive in WAIT..REPLAY are queued in `pending`.
 *
 * Statement names the client prepared are remembered (text, parameter types,
 * analysis) so that a later segment binding them can be rewritten.  An entry
 * is trusted only once the ReadyForQuery of the segment that created it came
 * back with no error in between; DEALLOCATE or DISCARD forget them all.
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum batch_state
{
	BS_IDLE,
	BS_PASS,
	BS_COLLECT,
	BS_WAIT,
	BS_ATTEMPT,
	BS_COMMIT,
	BS_SWALLOW,
	BS_REPLAY
};

/*
 * A statement whose rewritten runs were undone this many times in a row
 * (a table with rules, ON CONFLICT that always skips rows...) is not
 * rewritten again: each fallback costs the client a second execution.
 */
#define BATCH_FALLBACK_LIMIT 3

enum stmt_kind
{
	STMT_INSERT,				/* rewritable single-row INSERT */
	STMT_SAFE,					/* other statement an attempt may run twice */
	STMT_UNSAFE					/* a segment holding it is never rewritten */
};

/* A statement the client prepared (by name; "" is the unnamed one). */
struct stmt_entry
{
	char	   *name;
	char	   *text;
	uint32_t   *types;
	int			ntypes;
	enum stmt_kind kind;
	struct batch_insert ins;	/* when kind == STMT_INSERT */
	int			row_params;		/* parameters one Bind must carry */
	int			fallbacks;		/* attempts undone in a row
								 * (BATCH_FALLBACK_LIMIT) */
	bool		table_bad;		/* STMT_SAFE because its table is TAB_BAD:
								 * STMT_INSERT again when that is forgotten */
	uint64_t	unit;			/* 0: trusted; else the unit whose
								 * ReadyForQuery settles it */
	uint64_t	shape;			/* equal for entries of equal text and types */
	bool		in_attempt;		/* parsed by the running attempt */
	bool		created;		/* ... and the server said ParseComplete */
};

/* A held client message, by offset into `held`. */
struct msgrec
{
	uint8_t		type;
	size_t		off;
	size_t		len;
};


/* Decoded Bind. */
struct bind_info
{
	const char *portal;
	const char *stmt;
	int			nfmt;
	const uint8_t *fmts;		/* nfmt int16 codes */
	int			nparams;
	const uint8_t *params;		/* the parameter values block */
	size_t		params_len;
	const uint8_t *res;			/* result-format block: int16 count + codes */
	size_t		res_len;
};

/* One original execution folded into a chunk. */
struct row
{
	int			parse_idx;		/* repeated identical Parse before it, or -1 */
	int			bind_idx;
	int			desc_idx;		/* Describe portal, or -1 */
	int			exec_idx;
	struct bind_info bi;		/* its Bind, decoded (points into `held`) */
};

/* One multi-row statement. */
struct chunk
{
	struct stmt_entry *e;		/* its statement (kept alive during the
								 * attempt) */
	int			first_row;
	int			nrows;
	bool		describe;		/* some row had a Describe portal */
	bool		returning;		/* has RETURNING */
	bool		exact;			/* its row count cannot differ: no ON
								 * CONFLICT, and a plain table without
								 * BEFORE/INSTEAD OF row triggers */
	bool		guarded;		/* wrapped in the row-count guard (neither of
								 * those) */
	bool		simple;			/* from a simple-protocol Query */
};

/* What to send for the held segment, in order. */
struct item
{
	bool		is_chunk;
	int			index;			/* message index or chunk index */
};

enum exp_kind
{
	EXP_PASS1,					/* one reply kept for the client */
	EXP_PASS_EXEC,				/* DataRow* then CommandComplete etc., kept */
	EXP_SWALLOW1,				/* one reply to our own message, dropped */
	EXP_SWALLOW_Z,				/* replies dropped up to a ReadyForQuery */
	EXP_CAP_DESC,				/* RowDescription/NoData of a chunk */
	EXP_CAP_EXEC,				/* DataRow* + CommandComplete of a chunk */
	EXP_CATALOG,				/* DataRow + CommandComplete of a table check */
	EXP_TYPES					/* DataRow* + CommandComplete of a types query */
};

struct expect
{
	enum exp_kind kind;
	int			chunk;
	int			created;		/* stmt entry created by this Parse, or -1 */
	struct prep *prep;			/* our cached statement this Parse creates */
};

/*
 * A multi-row statement the rewriter keeps prepared on the server, so that a
 * run of the same shape is parsed and planned once, not once per segment.
 */
#define BATCH_PREP_MAX 16
#define BATCH_TABLES_MAX 32


/*
 * insert_batch_form: the column types of an INSERT shape (its prefix: table
 * and column list), from BATCH_TYPES_SQL.
 */
struct form_types
{
	char	   *key;			/* batch_insert.prefix */
	int			n;				/* columns; 0: the unnest form is not used */
	uint32_t   *oids;			/* 0 where the name is NULL */
	char	  **names;			/* n names (NULL: the unnest form cannot take
								 * a parameter there), in the same allocation */
};

/*
 * What the catalog said about a table (table_key): TAB_OK, it has no
 * statement-level INSERT trigger, no INSERT trigger with a transition table
 * and no INSERT rule, and TAB_EXACT (it cannot skip a row) and TAB_QUIET (it
 * cannot send a message per row) may be set too; TAB_BAD, it has one of
 * them or its rows raised a NOTICE: never rewritten.
 */
#define TAB_OK    0x01
#define TAB_EXACT 0x02
#define TAB_QUIET 0x04
#define TAB_BAD   0x08

struct table_entry
{
	char	   *key;
	unsigned	flags;
};

struct prep
{
	char	   *text;			/* the client's single-row INSERT */
	uint32_t   *types;
	int			ntypes;
	int			row_params;
	int			nrows;
	bool		guarded;		/* inside the row-count guard */
	bool		unnest;			/* the unnest form (else VALUES) */
	char		name[48];
	bool		confirmed;		/* the server said ParseComplete */
	bool		used;			/* used by the running attempt */
	uint64_t	last_use;
};

struct batch
{
	struct batch_settings set;
	enum batch_state state;
	enum batch_state after_swallow; /* REPLAY or IDLE */
	char		status;			/* last ReadyForQuery status the client saw */
	uint64_t	units_sent;		/* client units (Sync, Query, FunctionCall)
								 * sent */
	uint64_t	units_done;		/* their ReadyForQuery received */
	bool		unit_error;		/* an ErrorResponse since the last
								 * ReadyForQuery */
	bool		failed;

	struct proto_buf to_server;
	struct proto_buf to_client;
	struct proto_buf pending;	/* client bytes queued while busy */

	/* the held segment */
	struct proto_buf held;
	struct msgrec *msgs;
	int			nmsgs,
				msgs_cap;
	bool		held_query;		/* a simple Query rather than extended
								 * messages */
	struct batch_insert q_ins;	/* held_query: its analysis */
	struct batch_text q_tuples;
	int			q_n;
	bool		q_param;		/* its literals go as parameters (q_types,
								 * q_values) */
	uint32_t   *q_types;		/* one per column */
	struct batch_text q_values; /* Bind parameter values, row by row */
	struct batch_text q_key;	/* the cache key of its prepared shape */

	/* the plan */
	struct row *rows;
	int			nrows,
				rows_cap;
	struct chunk *chunks;
	int			nchunks,
				chunks_cap;
	struct item *items;
	int			nitems,
				items_cap;

	/* the attempt */
	struct expect *exp;
	int			nexp,
				exp_cap,
				exp_head;
	bool		savepoint;
	bool		optimistic;		/* Sync sent with the segment (every chunk
								 * guarded) */
	bool		doomed;			/* a row count did not match ... */
	enum batch_fallback doom_reason;	/* ... or why else it is undone */
	uint64_t	att_batches;	/* multi-row statements of the attempt */
	uint64_t	att_rows;		/* rows they carry */
	bool		error_seen;
	struct proto_buf out;		/* replies for the client if the attempt
								 * succeeds */
	struct proto_buf streamed;	/* stream_rows: replies of the attempt already
								 * sent to the client; a replay's first
								 * replies must equal them and are dropped */
	size_t		stream_pos;		/* replay: bytes of `streamed` matched so far */
	bool		stream_hold;	/* a Notice or ParameterStatus came: stop
								 * streaming (a replay would interleave it
								 * differently) */
	struct proto_buf cap;		/* captured replies of the current chunk */
	size_t		cap_desc_len;
	size_t	   *cap_rows;		/* offsets of captured DataRows in cap */
	int			cap_nrows,
				cap_rows_cap;
	int			zleft;			/* ReadyForQuery still to swallow */
	struct batch_text sql;

	/* remembered statements, oldest first */
	struct stmt_entry **stmts;
	int			nstmts;
	int			stmt_hint;		/* index of the last one found */
	uint64_t	shape_seq;
	bool		loaded;			/* working buffers allocated since the last
								 * trim */

	/*
	 * entries replaced while a plan may point at them, freed after the
	 * attempt
	 */
	struct stmt_entry **retired;
	int			nretired,
				retired_cap;
	bool		planning;

	/* multi-row statements prepared on the server, and names to close */
	struct prep *preps[BATCH_PREP_MAX];
	int			npreps;
	uint64_t	prep_seq;
	uint64_t	prep_clock;
	char	   *to_close[BATCH_PREP_MAX];
	int			nto_close;

	/* tables looked up in the catalog (TAB_* flags), oldest dropped first */
	struct table_entry tables[BATCH_TABLES_MAX];
	int			ntables;
	uint64_t	cat_epoch;		/* set.catalog->epoch when caching began */
	uint64_t	cat_since;		/* and the time then (us, monotonic) */
	bool		cat_value;		/* the table check's answer being read */
	bool		cat_exact;
	bool		cat_quiet;

	/* insert_batch_form: column types by INSERT shape, oldest dropped first */
	struct form_types *ftypes[BATCH_TABLES_MAX];
	int			nftypes;
	struct batch_text ty_names; /* a types query's answer being read: names,
								 * NUL-separated */
	uint32_t   *ty_oids;
	int			ty_n,
				ty_cap;
	struct batch_text arr;		/* Bind values of an unnest chunk */
	const uint8_t **arr_at;		/* each row's next parameter while building */
	int			arr_cap;

	struct batch_stats stats;
};

/* ---- small helpers ---- */

#define GROW(arr, n, cap) \
	((n) < (cap) || grow_array((void **) &(arr), &(cap), sizeof(*(arr))))

static bool
grow_array(void **arr, int *cap, size_t elem)
{
	int			ncap = *cap ? *cap * 2 : 16;
	void	   *p = realloc(*arr, (size_t) ncap * elem);

	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static const uint8_t *
body_of(const uint8_t *msg)
{
	return msg + PROTO_HDR_LEN;
}

static size_t
body_len(size_t len)
{
	return len - PROTO_HDR_LEN;
}

static bool
first_word_is(const char *sql, const char *word)
{
	size_t		n = strlen(word);

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	return strncasecmp(sql, word, n) == 0 &&
		!(sql[n] == '_' || (sql[n] >= '0' && sql[n] <= '9') ||
		  ((sql[n] | 0x20) >= 'a' && (sql[n] | 0x20) <= 'z'));
}

/*
 * Statements an attempt may run and then run again in the replay without a
 * difference the client could see beyond their own volatile functions: plain
 * DML and queries.  Transaction control, DDL, SET, DEALLOCATE... are not.
 */
static enum stmt_kind
classify_other(const char *sql)
{
	static const char *const safe[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "VALUES", "TABLE"};

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (first_word_is(sql, safe[i]))
			return STMT_SAFE;
	return STMT_UNSAFE;
}

/* ---- remembered statements ---- */

static void
stmt_free(struct stmt_entry *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->text);
	free(e->types);
	batch_insert_free(&e->ins);
	free(e);
}

/*
 * strcmp(a, b) == 0 for the short statement names drivers use ("", "P_12",
 * "s3"), run per row: a byte loop costs less than the library call.
 */
static inline bool
name_eq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b)
	{
		a++;
		b++;
	}
	return *a == *b;
}

/*
 * Two rows' result-format blocks (two or a few bytes, compared per row) are
 * the same: a byte loop costs less than memcmp.
 */
static inline bool
same_bytes(const uint8_t *a, const uint8_t *b, size_t alen, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static int
stmt_search(struct batch *b, const char *name)
{
	for (int i = b->nstmts - 1; i >= 0; i--)
		if (name_eq(b->stmts[i]->name, name))
			return b->stmt_hint = i;
	return -1;
}

static inline int
stmt_find(struct batch *b, const char *name)
{
	/* Drivers bind their statements in the order they prepared them. */
	int			h = b->stmt_hint + 1;

	for (int k = 0; k < 2; k++, h--)
		if (h >= 0 && h < b->nstmts && name_eq(b->stmts[h]->name, name))
			return b->stmt_hint = h;
	return stmt_search(b, name);
}

static void
stmt_remove_at(struct batch *b, int i)
{
	if (b->planning && GROW(b->retired, b->nretired, b->retired_cap))
		b->retired[b->nretired++] = b->stmts[i];
	else
		stmt_free(b->stmts[i]);
	memmove(b->stmts + i, b->stmts + i + 1, sizeof(*b->stmts) * (size_t) (b->nstmts - i - 1));
	b->nstmts--;
}

static void
stmt_forget(struct batch *b, const char *name)
{
	int			i = stmt_find(b, name);

	if (i >= 0)
		stmt_remove_at(b, i);
}

static void
stmt_clear(struct batch *b)
{
	while (b->nstmts > 0)
		stmt_remove_at(b, b->nstmts - 1);
}

/* Decoded Parse. */
struct parse_info
{
	const char *name;
	const char *text;
	int			ntypes;
	const uint8_t *types;
};

static bool
decode_parse(const uint8_t *msg, size_t len, struct parse_info *p)
{
	struct proto_reader r;

	proto_reader_init(&r, body_of(msg), body_len(len));
	p->name = proto_read_string(&r);
	p->text = proto_read_string(&r);
	p->ntypes = proto_read_u16(&r);
	p->types = proto_read_bytes(&r, (size_t) p->ntypes * 4);
	return !r.failed;
}

static bool
same_types(const struct stmt_entry *e, const struct parse_info *p)
{
	if (e->ntypes != p->ntypes)
		return false;
	for (int i = 0; i < p->ntypes; i++)
		if (e->types[i] != proto_get_u32(p->types + 4 * i))
			return false;
	return true;
}

/*
 * Remember the statement a Parse creates; `unit` settles it (0: the running
 * attempt).  Returns the entry or NULL on ENOMEM.
 */
static struct stmt_entry *
stmt_note_parse(struct batch *b, const struct parse_info *p, uint64_t unit)
{
	struct stmt_entry *e;
	int			i = stmt_find(b, p->name);
	const char *why;

	if (i >= 0 && strcmp(b->stmts[i]->text, p->text) == 0 && same_types(b->stmts[i], p))
	{
		/*
		 * Same statement again (the unnamed one re-parsed): keep the
		 * analysis.
		 */
		e = b->stmts[i];
		if (unit != 0)
			e->unit = unit;
		return e;
	}
	if (i >= 0)
		stmt_remove_at(b, i);
	if (b->nstmts >= b->set.max_statements)
		stmt_remove_at(b, 0);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->name = strdup(p->name);
	e->text = strdup(p->text);
	e->ntypes = p->ntypes;
	if (p->ntypes)
		e->types = malloc(sizeof(uint32_t) * (size_t) p->ntypes);
	if (!e->name || !e->text ||(p->ntypes && !e->types))
	{
		stmt_free(e);
		return NULL;
	}
	for (int k = 0; k < p->ntypes; k++)
		e->types[k] = proto_get_u32(p->types + 4 * k);
	e->unit = unit;
	/* pgbench prepares one statement per script line: a run spans them */
	for (int k = b->nstmts - 1; k >= 0 && !e->shape; k--)
		if (strcmp(b->stmts[k]->text, e->text) == 0 && same_types(b->stmts[k], p))
			e->shape = b->stmts[k]->shape;
	if (!e->shape)
		e->shape = ++b->shape_seq;
	e->kind = classify_other(p->text);
	if (batch_sql_maybe_insert(p->text, strlen(p->text)))
	{
		enum batch_sql_result rc = batch_sql_analyze(p->text, &e->ins, &why);

		if (rc == BATCH_SQL_NOMEM)
		{
			stmt_free(e);
			return NULL;
		}
		if (rc == BATCH_SQL_OK)
		{
			e->kind = STMT_INSERT;
			e->row_params = e->ntypes > e->ins.max_param ? e->ntypes : e->ins.max_param;
		}
	}
	b->stmts[b->nstmts++] = e;
	return e;
}

/* A ReadyForQuery settled unit `unit`: trust or drop what it created. */
static void
stmt_settle(struct batch *b, uint64_t unit, bool error)
{
	for (int i = b->nstmts - 1; i >= 0; i--)
	{
		if (b->stmts[i]->unit != unit)
			continue;
		if (error)
			stmt_remove_at(b, i);
		else
			b->stmts[i]->unit = 0;
	}
}

/* Free entries retired during planning: the plan that used them is over. */
static void
stmt_free_retired(struct batch *b)
{
	while (b->nretired > 0)
		stmt_free(b->retired[--b->nretired]);
	b->planning = false;
}

/* ---- our prepared multi-row statements ---- */

static void
prep_free(struct prep *p)
{
	if (p)
	{
		free(p->text);
		free(p->types);
		free(p);
	}
}

static void
prep_remove_at(struct batch *b, int i)
{
	prep_free(b->preps[i]);
	b->preps[i] = b->preps[--b->npreps];
}

/* Forget them all (the server connection is gone or was reset). */
static void
prep_clear(struct batch *b)
{
	while (b->npreps > 0)
		prep_remove_at(b, b->npreps - 1);
	while (b->nto_close > 0)
		free(b->to_close[--b->nto_close]);
}

static struct prep *
prep_find(struct batch *b, const struct stmt_entry *e, int nrows, bool guarded, bool unnest)
{
	for (int i = 0; i < b->npreps; i++)
	{
		struct prep *p = b->preps[i];

		if (p->nrows == nrows && p->guarded == guarded && p->unnest == unnest &&
			p->row_params == e->row_params &&
			p->ntypes == e->ntypes &&
			strcmp(p->text, e->text) == 0 &&
			(e->ntypes == 0 || memcmp(p->types, e->types, sizeof(uint32_t) * (size_t) e->ntypes) == 0))
			return p;
	}
	return NULL;
}

/*
 * A new cache slot for (e, nrows), evicting the least recently used one not
 * in use by this attempt (its name is closed at the next attempt).  NULL
 * when every slot is in use or on ENOMEM: the chunk then uses a one-off name.
 */
static struct prep *
prep_add(struct batch *b, const struct stmt_entry *e, int nrows, bool guarded, bool unnest)
{
	struct prep *p;

	if (b->npreps == BATCH_PREP_MAX)
	{
		int			victim = -1;

		for (int i = 0; i < b->npreps; i++)
			if (!b->preps[i]->used &&
				(victim < 0 || b->preps[i]->last_use < b->preps[victim]->last_use))
				victim = i;
		if (victim < 0 || b->nto_close == BATCH_PREP_MAX)
			return NULL;
		b->to_close[b->nto_close] = strdup(b->preps[victim]->name);
		if (!b->to_close[b->nto_close])
			return NULL;
		b->nto_close++;
		prep_remove_at(b, victim);
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->text = strdup(e->text);
	if (e->ntypes)
		p->types = malloc(sizeof(uint32_t) * (size_t) e->ntypes);
	if (!p->text ||(e->ntypes && !p->types))
	{
		prep_free(p);
		return NULL;
	}
	if (e->ntypes)
		memcpy(p->types, e->types, sizeof(uint32_t) * (size_t) e->ntypes);
	p->ntypes = e->ntypes;
	p->row_params = e->row_params;
	p->nrows = nrows;
	p->guarded = guarded;
	p->unnest = unnest;
	snprintf(p->name, sizeof(p->name), "%s_%llu", BATCH_STMT_NAME,
			 (unsigned long long) ++b->prep_seq);
	b->preps[b->npreps++] = p;
	return p;
}

/* ---- tables checked in the catalog ---- */

/* "schema"."table" as the INSERT names it (identifiers as the parser folded them). */
static void
table_key(const struct batch_insert *ins, struct batch_text *t)
{
	const char *parts[2] = {ins->schemaname, ins->relname};

	batch_text_reset(t);
	for (int i = 0; i < 2; i++)
	{
		if (!parts[i])
			continue;
		if (t->len)
			batch_text_append(t, ".", 1);
		batch_text_append(t, "\"", 1);
		for (const char *c = parts[i]; *c; c++)
			batch_text_append(t, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
		batch_text_append(t, "\"", 1);
	}
	if (!t->data)
		batch_text_append(t, "", 0);
}

/*
 * Room for one more in a cache of at most BATCH_TABLES_MAX (tables, ftypes):
 * drop the oldest when full.
 */
#define CACHE_MAKE_ROOM(list, n, drop) \
	do { \
		if ((n) == BATCH_TABLES_MAX) \
		{ \
			drop((list)[0]); \
			memmove((list), (list) + 1, sizeof(*(list)) * (BATCH_TABLES_MAX - 1)); \
			(n)--; \
		} \
	} while (0)

static void
table_entry_free(struct table_entry e)
{
	free(e.key);
}

/* The TAB_* flags known for table `key`; 0: not looked up. */
static unsigned
table_flags(const struct batch *b, const char *key)
{
	for (int i = 0; i < b->ntables; i++)
		if (strcmp(b->tables[i].key, key) == 0)
			return b->tables[i].flags;
	return 0;
}

/* Add `flags` to what is known of table `key`; false: out of memory. */
static bool
table_mark(struct batch *b, const char *key, unsigned flags)
{
	char	   *k;

	for (int i = 0; i < b->ntables; i++)
		if (strcmp(b->tables[i].key, key) == 0)
		{
			b->tables[i].flags |= flags;
			return true;
		}
	if (!(k = strdup(key)))
		return false;
	CACHE_MAKE_ROOM(b->tables, b->ntables, table_entry_free);
	b->tables[b->ntables].key = k;
	b->tables[b->ntables++].flags = flags;
	return true;
}

static void
tables_clear(struct batch *b)
{
	while (b->ntables > 0)
		free(b->tables[--b->ntables].key);
}

/* ---- column types for the unnest form ---- */

/*
 * insert_batch_form = auto: the unnest form for chunks of at least
 * BATCH_UNNEST_AUTO_ROWS rows whose values average at most
 * BATCH_UNNEST_AUTO_BYTES bytes, VALUES for the others (README, "Execution
 * form"; bench/batch_unnest_server.sh).  Below 10 rows the unnest form
 * cost the server more instructions than VALUES (re-planning, we think, not
 * verified); long values cost it more to read as array elements than as
 * parameters.
 */
#define BATCH_UNNEST_AUTO_ROWS 10
#define BATCH_UNNEST_AUTO_BYTES 16

static void
ftypes_free(struct form_types *f)
{
	if (!f)
		return;
	free(f->key);
	free(f->oids);
	free(f->names);
	free(f);
}

static void
ftypes_clear(struct batch *b)
{
	while (b->nftypes > 0)
		ftypes_free(b->ftypes[--b->nftypes]);
	batch_text_free(&b->ty_names);
	free(b->ty_oids);
	b->ty_oids = NULL;
	b->ty_n = b->ty_cap = 0;
}

/*
 * Before a segment is planned: drop every cached catalog answer when the
 * shared epoch moved since caching began, or the oldest answer is ttl_us
 * old (see struct batch_catalog).  With nothing cached, note the epoch and
 * the time: answers asked from now on are counted from here.
 */
static void
catalog_refresh(struct batch *b)
{
	const struct batch_catalog *cat = b->set.catalog;
	struct timespec ts;
	uint64_t	now,
				ttl;

	if (b->set.catalog_ttl_us != 0)
		ttl = b->set.catalog_ttl_us > 0 ? (uint64_t) b->set.catalog_ttl_us : 0;
	else
		ttl = cat ? cat->ttl_us : 0;
	if (cat == NULL || (b->cat_epoch == cat->epoch && ttl == 0 &&
						(b->ntables > 0 || b->nftypes > 0)))
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
	if (b->ntables > 0 || b->nftypes > 0)
	{
		if (b->cat_epoch == cat->epoch && (ttl == 0 || now - b->cat_since < ttl))
			return;
		tables_clear(b);
		ftypes_clear(b);

		/*
		 * our prepared multi-row statements too: the server fixed their
		 * parameter types (and the unnest form's casts) from the old columns
		 */
		for (int i = b->npreps - 1; i >= 0 && b->nto_close < BATCH_PREP_MAX; i--)
		{
			if (!(b->to_close[b->nto_close] = strdup(b->preps[i]->name)))
				break;
			b->nto_close++;
			prep_remove_at(b, i);
		}
		for (int i = 0; i < b->nstmts; i++)
			if (b->stmts[i]->table_bad)
			{
				b->stmts[i]->kind = STMT_INSERT;
				b->stmts[i]->table_bad = false;
			}
	}
	b->cat_epoch = cat->epoch;
	b->cat_since = now;
}

static const struct form_types *
ftypes_find(const struct batch *b, const char *key)
{
	for (int i = b->nftypes - 1; i >= 0; i--)
		if (strcmp(b->ftypes[i]->key, key) == 0)
			return b->ftypes[i];
	return NULL;
}

/* Remember the types query's answer just read (ty_*) for `key`; false: ENOMEM. */
static bool
ftypes_add(struct batch *b, const char *key, int width)
{
	struct form_types *f = calloc(1, sizeof(*f));

	if (!f || !(f->key = strdup(key)))
	{
		ftypes_free(f);
		return false;
	}
	if (b->ty_n == width && width > 0 && !b->ty_names.failed)
	{
		size_t		ptrs = sizeof(char *) * (size_t) width;
		char	   *at;

		f->oids = malloc(sizeof(uint32_t) * (size_t) width);
		f->names = malloc(ptrs + b->ty_names.len);
		if (!f->oids || !f->names)
		{
			ftypes_free(f);
			return false;
		}
		memcpy(f->oids, b->ty_oids, sizeof(uint32_t) * (size_t) width);
		at = (char *) f->names + ptrs;
		if (b->ty_names.len > 0)
			memcpy(at, b->ty_names.data, b->ty_names.len);
		for (int i = 0; i < width; i++)
		{
			f->names[i] = f->oids[i] ? at : NULL;
			if (f->oids[i])
				at += strlen(at) + 1;
		}
		f->n = width;
	}
	CACHE_MAKE_ROOM(b->ftypes, b->nftypes, ftypes_free);
	b->ftypes[b->nftypes++] = f;
	return true;
}

/* One DataRow of a types query: oid and name, or NULLs. */
static bool
types_row(struct batch *b, const uint8_t *msg, size_t len)
{
	struct proto_reader r;
	uint32_t	n;
	const uint8_t *v;
	char		oid[16];

	proto_reader_init(&r, body_of(msg), body_len(len));
	if (proto_read_u16(&r) != 2 || !GROW(b->ty_oids, b->ty_n, b->ty_cap))
		return false;
	n = proto_read_u32(&r);
	if (n == 0xffffffffu)
	{
		b->ty_oids[b->ty_n++] = 0;
		return !r.failed;
	}
	v = proto_read_bytes(&r, n);
	if (!v || n == 0 || n >= sizeof(oid))
		return false;
	memcpy(oid, v, n);
	oid[n] = '\0';
	b->ty_oids[b->ty_n] = (uint32_t) strtoul(oid, NULL, 10);
	n = proto_read_u32(&r);
	v = proto_read_bytes(&r, n);
	if (!v || b->ty_oids[b->ty_n] == 0 || memchr(v, 0, n))
		return false;
	b->ty_n++;
	batch_text_append(&b->ty_names, (const char *) v, n);
	batch_text_append(&b->ty_names, "", 1);
	return true;
}

/*
 * Could chunk c take the unnest form at all: the setting allows it, and its
 * statement's parameters are $1..$k, each a whole value used once, with k
 * parameters per execution, and a column list the parser could name?
 */
static bool
unnest_shape(const struct batch *b, const struct chunk *c)
{
	const struct stmt_entry *e = c->e;

	return b->set.form != BATCH_FORM_VALUES && !c->simple && e && e->ins.unnest_ok &&
		e->row_params == e->ins.nparams && e->ins.nparams > 0;
}

/*
 * The column types for chunk c when it takes the unnest form (NULL: VALUES):
 * its shape allows it, the types are known and usable, the client declared
 * no other parameter type than the column's, and (auto) it is big enough.
 */
static const struct form_types *
unnest_types(const struct batch *b, const struct chunk *c)
{
	const struct form_types *f;
	const struct stmt_entry *e = c->e;

	if (!unnest_shape(b, c))
		return NULL;
	if (b->set.form == BATCH_FORM_AUTO)
	{
		const struct row *rows = &b->rows[c->first_row];
		size_t		bytes = 0;

		if (c->nrows < BATCH_UNNEST_AUTO_ROWS)
			return NULL;
		for (int r = 0; r < c->nrows; r++)
			bytes += rows[r].bi.params_len;
		/* less the length words */
		bytes -= (size_t) c->nrows * (size_t) e->row_params * 4;
		if (bytes > (size_t) BATCH_UNNEST_AUTO_BYTES * (size_t) c->nrows * (size_t) e->row_params)
			return NULL;
	}
	f = ftypes_find(b, e->ins.prefix);
	if (!f || f->n != e->ins.width)
		return NULL;
	for (int i = 0; i < f->n; i++)
	{
		int			n = e->ins.items[i].param;

		if (n && (!f->names[i] || (n <= e->ntypes && e->types[n - 1] != 0 &&
								   e->types[n - 1] != f->oids[i])))
			return NULL;
	}
	return f;
}

/*
 * Bind values of an unnest chunk into b->arr: one text array literal per
 * column.  false with !b->arr.failed: the chunk must go as VALUES (a binary
 * parameter, a value batch_sql_array_elem refuses).
 */
static bool
build_arrays(struct batch *b, const struct chunk *c)
{
	const struct row *rows = &b->rows[c->first_row];
	const int	P = c->e->row_params;
	struct batch_text *t = &b->arr;

	batch_text_reset(t);
	if (c->nrows > b->arr_cap)
	{
		const uint8_t **p = realloc(b->arr_at, sizeof(*p) * (size_t) c->nrows);

		if (!p)
		{
			t->failed = true;
			return false;
		}
		b->arr_at = p;
		b->arr_cap = c->nrows;
	}
	for (int r = 0; r < c->nrows; r++)
	{
		const struct bind_info *bi = &rows[r].bi;

		for (int j = 0; j < bi->nfmt; j++)
			if (proto_get_u16(bi->fmts + 2 * j) != 0)
				return false;
		if (bi->nparams != P)
			return false;
		b->arr_at[r] = bi->params;
	}
	for (int j = 0; j < P; j++)
	{
		size_t		at = t->len;

		batch_text_append(t, "\0\0\0\0{", 5);
		for (int r = 0; r < c->nrows; r++)
		{
			uint32_t	n = proto_get_u32(b->arr_at[r]);
			const char *v = (const char *) b->arr_at[r] + 4;

			if (!batch_sql_array_elem(t, v, n == 0xffffffffu ? -1 : (int32_t) n, r == 0))
				return false;
			b->arr_at[r] += 4 + (n == 0xffffffffu ? 0 : n);
		}
		batch_text_append(t, "}", 1);
		if (t->failed)
			return false;
		proto_put_u32((uint8_t *) t->data + at, (uint32_t) (t->len - at - 4));
	}
	return true;
}

/* ---- client messages passing through ---- */

/* Book-keeping for a client message that goes to the server unchanged. */
static bool
note_forwarded(struct batch *b, const uint8_t *msg, size_t len)
{
	switch (msg[0])
	{
		case PQMSG_Parse:
			{
				struct parse_info p;

				if (decode_parse(msg, len, &p))
				{
					if (first_word_is(p.text, "DEALLOCATE") || first_word_is(p.text, "DISCARD"))
					{
						stmt_clear(b);
						prep_clear(b);
					}
					else if (!stmt_note_parse(b, &p, b->units_sent + 1))
						return false;
				}
				break;
			}
		case PQMSG_Close:
			if (len > PROTO_HDR_LEN + 1 && msg[PROTO_HDR_LEN] == 'S')
			{
				struct proto_reader r;
				const char *name;

				proto_reader_init(&r, body_of(msg) + 1, body_len(len) - 1);
				name = proto_read_string(&r);
				if (name)
					stmt_forget(b, name);
			}
			break;
		case PQMSG_Query:
			{
				const char *sql = (const char *) body_of(msg);

				/* A simple query drops the unnamed statement. */
				stmt_forget(b, "");
				if (msg[len - 1] == '\0' &&
					(first_word_is(sql, "DEALLOCATE") || first_word_is(sql, "DISCARD")))
				{
					stmt_clear(b);
					prep_clear(b);
				}
				b->units_sent++;
				break;
			}
		case PQMSG_Sync:
		case PQMSG_FunctionCall:
			b->units_sent++;
			break;
		default:
			break;
	}
	return true;
}

static void
send_raw(struct proto_buf *to, const uint8_t *msg, size_t len)
{
	proto_put_bytes(to, msg, len);
}

/* ---- holding ---- */

static void
held_reset(struct batch *b)
{
	proto_buf_reset(&b->held);
	b->nmsgs = 0;
	b->held_query = false;
	batch_insert_free(&b->q_ins);
	batch_text_reset(&b->q_tuples);
	b->q_n = 0;
	b->q_param = false;
	batch_text_reset(&b->q_values);
}

/* The record of a message about to be appended to `held` (room checked). */
static inline void
held_note(struct batch *b, const uint8_t *msg, size_t len)
{
	struct msgrec *m = &b->msgs[b->nmsgs++];

	m->type = msg[0];
	m->off = b->held.len;
	m->len = len;
}

static bool
held_add(struct batch *b, const uint8_t *msg, size_t len)
{
	if (!GROW(b->msgs, b->nmsgs, b->msgs_cap))
		return false;
	held_note(b, msg, len);
	proto_put_bytes(&b->held, msg, len);
	return proto_buf_ok(&b->held);
}

static const uint8_t *
held_msg(const struct batch *b, int i)
{
	return b->held.data + b->msgs[i].off;
}

/* Give up on the held messages: send them unchanged. */
static bool
release_held(struct batch *b)
{
	bool		synced = false;

	for (int i = 0; i < b->nmsgs; i++)
	{
		if (!note_forwarded(b, held_msg(b, i), b->msgs[i].len))
			return false;
		send_raw(&b->to_server, held_msg(b, i), b->msgs[i].len);
		synced = b->msgs[i].type == PQMSG_Sync || b->msgs[i].type == PQMSG_Query;
	}
	b->state = synced ? BS_IDLE : BS_PASS;
	held_reset(b);
	return true;
}

/* ---- planning ---- */

/*
 * Past the NUL ending the name at p (NULL: none before end).  Portal and
 * statement names are short, often empty: a byte loop costs less than memchr.
 */
static inline const uint8_t *
skip_name(const uint8_t *p, const uint8_t *end)
{
	while (p < end)
		if (*p++ == '\0')
			return p;
	return NULL;
}

/*
 * Decode a Bind (run once per row of every batch: the reads are inline
 * rather than proto_reader calls).
 */
static inline bool
decode_bind(const uint8_t *msg, size_t len, struct bind_info *bi)
{
	const uint8_t *p = body_of(msg),
			   *end = p + body_len(len);

	bi->portal = (const char *) p;
	if ((p = skip_name(p, end)) == NULL)
		return false;
	bi->stmt = (const char *) p;
	if ((p = skip_name(p, end)) == NULL)
		return false;
	if (end - p < 2)
		return false;
	bi->nfmt = proto_get_u16(p);
	p += 2;
	if ((size_t) (end - p) < (size_t) bi->nfmt * 2 + 2)
		return false;
	bi->fmts = p;
	p += (size_t) bi->nfmt * 2;
	bi->nparams = proto_get_u16(p);
	p += 2;
	bi->params = p;
	for (int i = 0; i < bi->nparams; i++)
	{
		uint32_t	n;

		if (end - p < 4)
			return false;
		n = proto_get_u32(p);
		p += 4;
		if (n != 0xffffffffu)
		{
			if ((size_t) (end - p) < n)
				return false;
			p += n;
		}
	}
	bi->params_len = (size_t) (p - bi->params);
	bi->res = p;
	if (end - p < 2 || (size_t) (end - p) != 2 + (size_t) proto_get_u16(p) * 2)
		return false;
	bi->res_len = (size_t) (end - p);
	return bi->nfmt == 0 || bi->nfmt == 1 || bi->nfmt == bi->nparams;
}

/* Name argument of a Describe/Close/Execute message. */
static const char *
msg_name(const uint8_t *msg, size_t len, bool has_kind)
{
	struct proto_reader r;
	const uint8_t *p = body_of(msg);
	size_t		n = body_len(len);

	if (has_kind)
	{
		if (n < 1)
			return NULL;
		p++;
		n--;
	}
	proto_reader_init(&r, p, n);
	return proto_read_string(&r);
}

/*
 * Is there a row (Bind [Describe portal] Execute, unnamed portal) at msgs[i]
 * on a trusted rewritable statement?  Fills *row and *e.
 */
static bool
row_at(struct batch *b, int i, struct row *row, struct stmt_entry **e, struct bind_info *bi)
{
	int			j = i + 1,
				k;

	if (i >= b->nmsgs || b->msgs[i].type != PQMSG_Bind)
		return false;
	if (!decode_bind(held_msg(b, i), b->msgs[i].len, bi) || bi->portal[0] != '\0')
		return false;
	row->bind_idx = i;
	row->desc_idx = -1;
	row->parse_idx = -1;
	if (j < b->nmsgs && b->msgs[j].type == PQMSG_Describe)
	{
		const uint8_t *m = held_msg(b, j);

		/* Describe of the unnamed portal: 'P', "" */
		if (b->msgs[j].len != PROTO_HDR_LEN + 2 || m[PROTO_HDR_LEN] != 'P' ||
			m[PROTO_HDR_LEN + 1] != '\0')
			return false;
		row->desc_idx = j++;
	}
	/* Execute of the unnamed portal, all rows: "", 0 */
	if (j >= b->nmsgs || b->msgs[j].type != PQMSG_Execute ||
		b->msgs[j].len != PROTO_HDR_LEN + 5 || held_msg(b, j)[PROTO_HDR_LEN] != '\0' ||
		proto_get_u32(held_msg(b, j) + PROTO_HDR_LEN + 1) != 0)
		return false;
	row->exec_idx = j;
	k = stmt_find(b, bi->stmt);
	if (k < 0)
		return false;
	*e = b->stmts[k];
	return (*e)->kind == STMT_INSERT && ((*e)->unit == 0 || (*e)->in_attempt) &&
		bi->nparams == (*e)->row_params;
}

static bool
add_item(struct batch *b, bool is_chunk, int index)
{
	if (!GROW(b->items, b->nitems, b->items_cap))
		return false;
	b->items[b->nitems].is_chunk = is_chunk;
	b->items[b->nitems].index = index;
	b->nitems++;
	return true;
}

/*
 * Two prepared statements with the same text and parameter types (pgbench
 * prepares one per script line) belong in the same run.
 */
static bool
same_statement(const struct stmt_entry *a, const struct stmt_entry *b)
{
	return a->shape == b->shape;
}

/* The run being built while planning. */
struct run
{
	struct stmt_entry *e;
	int			first_row;		/* in b->rows */
	int			n;
	const uint8_t *res;
	size_t		res_len;
};

/* Close the current run: chunks if it has two rows or more, else verbatim. */
static bool
end_run(struct batch *b, struct run *run)
{
	if (run->n == 1)
	{
		const struct row *r = &b->rows[run->first_row];

		if ((r->parse_idx >= 0 && !add_item(b, false, r->parse_idx)) ||
			!add_item(b, false, r->bind_idx) ||
			(r->desc_idx >= 0 && !add_item(b, false, r->desc_idx)) ||
			!add_item(b, false, r->exec_idx))
			return false;
		b->nrows--;
	}
	else if (run->n >= 2)
	{
		int			capn = batch_sql_rows_cap(run->e->row_params,
											  b->set.stream_rows > 0 && b->set.stream_rows < b->set.max_rows ?
											  b->set.stream_rows : b->set.max_rows);

		table_key(&run->e->ins, &b->sql);
		if (b->sql.failed)
			return false;
		if (table_flags(b, b->sql.data) & TAB_BAD)
		{
			/* its table has statement-level triggers or rules: as sent */
			run->e->kind = STMT_SAFE;
			run->e->table_bad = true;
			for (int i = 0; i < run->n; i++)
			{
				const struct row *r = &b->rows[run->first_row + i];

				if ((r->parse_idx >= 0 && !add_item(b, false, r->parse_idx)) ||
					!add_item(b, false, r->bind_idx) ||
					(r->desc_idx >= 0 && !add_item(b, false, r->desc_idx)) ||
					!add_item(b, false, r->exec_idx))
					return false;
			}
			b->nrows -= run->n;
			run->e = NULL;
			run->n = 0;
			return true;
		}

		for (int done = 0; done < run->n;)
		{
			int			n = run->n - done < capn ? run->n - done : capn;
			struct chunk *c;

			/* and at most max_stmt_bytes of values (one row at least) */
			if (b->set.max_stmt_bytes)
			{
				size_t		bytes = b->rows[run->first_row + done].bi.params_len;

				for (int k = 1; k < n; k++)
				{
					bytes += b->rows[run->first_row + done + k].bi.params_len;
					if (bytes > b->set.max_stmt_bytes)
					{
						n = k;
						break;
					}
				}
			}

			if (!GROW(b->chunks, b->nchunks, b->chunks_cap))
				return false;
			c = &b->chunks[b->nchunks];
			c->e = run->e;
			c->first_row = run->first_row + done;
			c->nrows = n;
			c->describe = false;
			for (int i = 0; i < n; i++)
				if (b->rows[c->first_row + i].desc_idx >= 0)
					c->describe = true;
			c->returning = run->e->ins.returning;
			c->exact = run->e->ins.conflict == BATCH_CONFLICT_NONE &&
				(table_flags(b, b->sql.data) & TAB_EXACT);
			c->guarded = !c->returning && !c->exact;
			/* without RETURNING each row's NoData is ours to write */
			c->describe = c->describe && c->returning;
			c->simple = false;
			if (!add_item(b, true, b->nchunks))
				return false;
			b->nchunks++;
			done += n;
		}
	}
	run->e = NULL;
	run->n = 0;
	return true;
}

/* Plan results. */
enum plan_result
{
	PLAN_OK,
	PLAN_NO,					/* send the segment unchanged */
	PLAN_NOMEM
};

static enum plan_result
plan_extended(struct batch *b)
{
	struct run	run = {0};
	int			pending_parse = -1;
	int			nparsed = 0;
	int			parsed_cap = 0;
	char	  **parsed = NULL;	/* names parsed so far in the segment (most
								 * segments of a batch have none) */
	bool		unnamed_used = false,	/* the unnamed statement used ... */
				unnamed_parsed = false; /* ... before a Parse of it */
	enum plan_result res = PLAN_NO;

	b->nrows = b->nchunks = b->nitems = 0;
	for (int i = 0; i < b->nmsgs; i++)
	{
		const uint8_t *m = held_msg(b, i);
		size_t		len = b->msgs[i].len;

		switch (b->msgs[i].type)
		{
			case PQMSG_Parse:
				{
					struct parse_info p;
					struct row	row;
					struct stmt_entry *e = NULL;
					struct bind_info bi;
					bool		seen = false;
					int			k;

					if (!decode_parse(m, len, &p))
						goto out;

					/*
					 * A Parse replacing the unnamed statement after a Bind to
					 * it: were the attempt undone, the replay's Bind must see
					 * the old one, which the server keeps when it ignores the
					 * Parse after an error but the prepared-statement mapping
					 * of transaction pooling does not.  Not rewritten.
					 */
					if (p.name[0] == '\0' && unnamed_used)
						goto out;
					unnamed_parsed |= p.name[0] == '\0';
					for (k = 0; k < nparsed; k++)
						if (strcmp(parsed[k], p.name) == 0)
							seen = true;
					k = stmt_find(b, p.name);

					/*
					 * A repeated identical Parse right before the next row of
					 * the run.
					 */
					if (seen && run.e && k >= 0 && b->stmts[k] == run.e &&
						strcmp(run.e->text, p.text) == 0 && same_types(run.e, &p) &&
						row_at(b, i + 1, &row, &e, &bi) && e == run.e &&
						same_bytes(bi.res, run.res, bi.res_len, run.res_len))
					{
						pending_parse = i;
						break;
					}
					if (!end_run(b, &run))
						goto nomem;
					if (first_word_is(p.text, "DEALLOCATE") || first_word_is(p.text, "DISCARD"))
						goto out;
					e = stmt_note_parse(b, &p, 0);
					if (!e)
						goto nomem;
					e->in_attempt = true;
					if (e->kind == STMT_UNSAFE)
						goto out;
					if (!GROW(parsed, nparsed, parsed_cap))
						goto nomem;
					parsed[nparsed++] = e->name;
					if (!add_item(b, false, i))
						goto nomem;
					break;
				}
			case PQMSG_Bind:
				{
					struct row *row;
					struct stmt_entry *e = NULL;
					struct bind_info bi;

					/* the row is decoded where it is kept (no copies per row) */
					if (!GROW(b->rows, b->nrows, b->rows_cap))
						goto nomem;
					row = &b->rows[b->nrows];
					if (row_at(b, i, row, &e, &row->bi))
					{
						unnamed_used |= row->bi.stmt[0] == '\0' && !unnamed_parsed;
						if (run.e && !(same_statement(run.e, e) &&
									   same_bytes(row->bi.res, run.res, row->bi.res_len,
												  run.res_len)))
						{
							int			at = b->nrows;

							if (!end_run(b, &run))
								goto nomem;
							/* end_run dropped rows it left as sent */
							if (b->nrows != at)
							{
								b->rows[b->nrows] = *row;
								row = &b->rows[b->nrows];
							}
						}
						if (!run.e)
						{
							run.e = e;
							run.first_row = b->nrows;
							run.n = 0;
							run.res = row->bi.res;
							run.res_len = row->bi.res_len;
						}
						row->parse_idx = pending_parse;
						pending_parse = -1;
						b->nrows++;
						run.n++;
						i = row->exec_idx;
						break;
					}
					if (!end_run(b, &run))
						goto nomem;

					/*
					 * A Bind we do not rewrite must still be to a known safe
					 * statement.
					 */
					if (!decode_bind(m, len, &bi))
						goto out;
					unnamed_used |= bi.stmt[0] == '\0' && !unnamed_parsed;
					{
						int			k = stmt_find(b, bi.stmt);

						if (k < 0 || b->stmts[k]->kind == STMT_UNSAFE ||
							(b->stmts[k]->unit != 0 && !b->stmts[k]->in_attempt))
							goto out;
					}
					if (!add_item(b, false, i))
						goto nomem;
					break;
				}
			case PQMSG_Describe:
			case PQMSG_Execute:
				if (b->msgs[i].type == PQMSG_Describe && len > PROTO_HDR_LEN + 1 &&
					m[PROTO_HDR_LEN] == 'S' && m[PROTO_HDR_LEN + 1] == '\0' && !unnamed_parsed)
					unnamed_used = true;
				if (!end_run(b, &run) || !add_item(b, false, i))
					goto nomem;
				break;
			case PQMSG_Sync:
				if (!end_run(b, &run))
					goto nomem;
				if (i != b->nmsgs - 1)
					goto out;
				res = b->nchunks > 0 ? PLAN_OK : PLAN_NO;
				goto out;
			default:
				/* Close, or anything else: not rewritten. */
				goto out;
		}
	}
out:
	free(parsed);
	return res;
nomem:
	free(parsed);
	return PLAN_NOMEM;
}

/* ---- the attempt ---- */

static bool
expect(struct batch *b, enum exp_kind kind, int chunk, int created)
{
	if (!GROW(b->exp, b->nexp, b->exp_cap))
		return false;
	b->exp[b->nexp].kind = kind;
	b->exp[b->nexp].chunk = chunk;
	b->exp[b->nexp].created = created;
	b->exp[b->nexp].prep = NULL;
	b->nexp++;
	return true;
}

static void
build_describe_portal(struct proto_buf *o)
{
	proto_begin(o, PQMSG_Describe);
	proto_put_byte(o, 'P');
	proto_put_string(o, "");
	proto_end(o);
}

static void
build_execute(struct proto_buf *o, const char *portal)
{
	proto_begin(o, PQMSG_Execute);
	proto_put_string(o, portal);
	proto_put_int32(o, 0);
	proto_end(o);
}

static void
build_sync(struct proto_buf *o)
{
	proto_begin(o, PQMSG_Sync);
	proto_end(o);
}

/*
 * A multi-row INSERT without RETURNING is sent inside a guard that fails the
 * statement (division by zero) unless every row was inserted:
 *
 *     WITH pgplumb_ins AS (INSERT ... RETURNING 1)
 *     SELECT CASE WHEN count(*) = n THEN 0 ELSE 1 / (count(*) - count(*))::int END
 *     FROM pgplumb_ins
 *
 * so that a row skipped by ON CONFLICT DO NOTHING or a trigger makes the
 * implicit transaction fail at Sync like any other error, and the Sync can be
 * sent with the segment instead of after checking the replies.
 */
static void
guard_open(struct batch_text *t)
{
	batch_text_append(t, "WITH pgplumb_ins AS (", 21);
}

static void
guard_close(struct batch_text *t, int nrows)
{
	char		tail[200];

	snprintf(tail, sizeof(tail), " RETURNING 1) SELECT CASE WHEN count(*) = %d THEN 0 "
			 "ELSE 1 / (count(*) - count(*))::int END FROM pgplumb_ins", nrows);
	batch_text_append(t, tail, strlen(tail));
}

/*
 * The cached multi-row statement for chunk c of statement e (NULL: a one-off
 * one, BATCH_STMT_NAME, closed after use); *parsed when it must be parsed.
 */
static struct prep *
prep_take(struct batch *b, const struct stmt_entry *e, const struct chunk *c, bool unnest,
		  bool *parsed)
{
	struct prep *p = prep_find(b, e, c->nrows, c->guarded, unnest);

	*parsed = p == NULL;
	if (!p)
		p = prep_add(b, e, c->nrows, c->guarded, unnest);
	if (p)
	{
		p->used = true;
		p->last_use = ++b->prep_clock;
	}
	return p;
}

/* Parse of the multi-row `sql`: e's parameter types repeated for each row. */
static void
put_parse(struct proto_buf *o, const struct prep *prep, const char *sql,
		  const struct stmt_entry *e, int nrows)
{
	proto_begin(o, PQMSG_Parse);
	proto_put_string(o, prep ? prep->name : BATCH_STMT_NAME);
	proto_put_string(o, sql);
	if (e->ntypes == 0)
		proto_put_int16(o, 0);
	else
	{
		proto_put_int16(o, (uint16_t) (nrows * e->row_params));
		for (int r = 0; r < nrows; r++)
			for (int j = 0; j < e->row_params; j++)
				proto_put_int32(o, j < e->ntypes ? e->types[j] : 0);
	}
	proto_end(o);
}

/* After a chunk's Bind: [Describe] Execute [Close of a one-off statement]. */
static bool
send_chunk_tail(struct batch *b, const struct chunk *c, bool one_off)
{
	struct proto_buf *o = &b->to_server;

	if (c->describe)
		build_describe_portal(o);
	build_execute(o, "");
	if (one_off)
		proto_build_close(o, 'S', BATCH_STMT_NAME);
	b->att_batches++;
	b->att_rows += (uint64_t) c->nrows;
	return proto_buf_ok(o);
}

/*
 * A chunk in the unnest form: INSERT ... SELECT * FROM unnest($1::T1[], ...),
 * one array per column (b->arr, from build_arrays), all text.
 */
static bool
send_unnest_chunk(struct batch *b, const struct chunk *c, const struct form_types *ft,
				  struct prep **prep, bool *parsed)
{
	struct proto_buf *o = &b->to_server;
	const struct bind_info *first = &b->rows[c->first_row].bi;

	*prep = prep_take(b, c->e, c, true, parsed);
	if (*parsed)
	{
		batch_text_reset(&b->sql);
		if (c->guarded)
			guard_open(&b->sql);
		if (!batch_sql_build_unnest(&c->e->ins, (const char *const *) ft->names, &b->sql))
			return false;
		if (c->guarded)
			guard_close(&b->sql, c->nrows);
		if (b->sql.failed)
			return false;
		proto_begin(o, PQMSG_Parse);
		proto_put_string(o, *prep ? (*prep)->name : BATCH_STMT_NAME);
		proto_put_string(o, b->sql.data);
		proto_put_int16(o, 0);
		proto_end(o);
	}
	proto_begin(o, PQMSG_Bind);
	proto_put_string(o, "");
	proto_put_string(o, *prep ? (*prep)->name : BATCH_STMT_NAME);
	proto_put_int16(o, 0);
	proto_put_int16(o, (uint16_t) c->e->row_params);
	proto_put_bytes(o, b->arr.data, b->arr.len);
	proto_put_bytes(o, first->res, first->res_len);
	proto_end(o);
	return send_chunk_tail(b, c, *prep == NULL);
}

/*
 * Append the messages of one chunk of an extended segment.  *prep is the
 * cached statement used (NULL: a one-off statement closed after the chunk);
 * *parsed says whether a Parse was sent.
 */
static bool
send_chunk(struct batch *b, const struct chunk *c, struct prep **prep, bool *parsed)
{
	struct proto_buf *o = &b->to_server;
	const struct bind_info *first,
			   *bi;
	const struct row *rows = &b->rows[c->first_row];
	struct stmt_entry *e = c->e;
	const struct form_types *ft;
	int			P;
	bool		all_zero = true,
				all_one_same = true;
	uint16_t	code0 = 0;

	first = &rows[0].bi;
	P = e->row_params;

	ft = unnest_types(b, c);
	if (ft && !build_arrays(b, c))
	{
		if (b->arr.failed)
			return false;
		ft = NULL;
	}
	if (ft)
		return send_unnest_chunk(b, c, ft, prep, parsed);

	*prep = prep_take(b, e, c, false, parsed);
	if (*parsed)
	{
		batch_text_reset(&b->sql);
		if (c->guarded)
			guard_open(&b->sql);
		if (!batch_sql_build_values(&e->ins, c->nrows, P, &b->sql))
			return false;
		if (c->guarded)
			guard_close(&b->sql, c->nrows);
		if (b->sql.failed)
			return false;
		put_parse(o, *prep, b->sql.data, e, c->nrows);
	}

	/*
	 * Parameter format codes: none when every row sends none (all text), one
	 * when every row sends the same single code, else one per parameter.
	 */
	for (int r = 0; r < c->nrows; r++)
	{
		bi = &rows[r].bi;
		if (bi->nfmt != 0)
			all_zero = false;
		if (bi->nfmt != 1 || proto_get_u16(bi->fmts) != (first->nfmt == 1 ? proto_get_u16(first->fmts) : 0xffff))
			all_one_same = false;
	}
	if (all_one_same)
		code0 = proto_get_u16(first->fmts);
	proto_begin(o, PQMSG_Bind);
	proto_put_string(o, "");
	proto_put_string(o, *prep ? (*prep)->name : BATCH_STMT_NAME);
	if (all_zero)
		proto_put_int16(o, 0);
	else if (all_one_same)
	{
		proto_put_int16(o, 1);
		proto_put_int16(o, code0);
	}
	else
	{
		proto_put_int16(o, (uint16_t) (c->nrows * P));
		for (int r = 0; r < c->nrows; r++)
		{
			bi = &rows[r].bi;
			for (int j = 0; j < P; j++)
				proto_put_int16(o, bi->nfmt == 0 ? 0 :
								proto_get_u16(bi->fmts + 2 * (bi->nfmt == 1 ? 0 : j)));
		}
	}
	proto_put_int16(o, (uint16_t) (c->nrows * P));
	for (int r = 0; r < c->nrows; r++)
		proto_put_bytes(o, rows[r].bi.params, rows[r].bi.params_len);
	proto_put_bytes(o, first->res, first->res_len);
	proto_end(o);
	return send_chunk_tail(b, c, *prep == NULL);
}

/*
 * A multi-statement string whose literals go as parameters: a prepared
 * INSERT ... VALUES ($1, ...), ... of its shape (table, columns, clauses,
 * column types, rows), parsed and planned once, then Bind with the values.
 */
static bool
send_param_chunk(struct batch *b, const struct chunk *c, struct prep **prep, bool *parsed)
{
	struct proto_buf *o = &b->to_server;
	const int	w = b->q_ins.width;
	struct stmt_entry key = {0};
	char		num[16];

	/* the shape: never a client's text (those start with INSERT) */
	batch_text_reset(&b->q_key);
	batch_text_append(&b->q_key, "\x01", 1);
	batch_text_append(&b->q_key, b->q_ins.prefix, strlen(b->q_ins.prefix));
	batch_text_append(&b->q_key, "\x01", 1);
	batch_text_append(&b->q_key, b->q_ins.tail, strlen(b->q_ins.tail));
	if (b->q_key.failed)
		return false;
	key.text = b->q_key.data;
	key.types = b->q_types;
	key.ntypes = w;
	key.row_params = w;
	*prep = prep_take(b, &key, c, false, parsed);
	if (*parsed)
	{
		batch_text_reset(&b->sql);
		if (c->guarded)
			guard_open(&b->sql);
		batch_text_append(&b->sql, b->q_ins.prefix, strlen(b->q_ins.prefix));
		batch_text_append(&b->sql, "VALUES ", 7);
		for (int r = 0; r < c->nrows; r++)
			for (int j = 0; j < w; j++)
			{
				snprintf(num, sizeof(num), "%s$%d%s", j ? ", " : (r ? ",(" : "("),
						 r * w + j + 1, j == w - 1 ? ")" : "");
				batch_text_append(&b->sql, num, strlen(num));
			}
		batch_text_append(&b->sql, b->q_ins.tail, strlen(b->q_ins.tail));
		if (c->guarded)
			guard_close(&b->sql, c->nrows);
		if (b->sql.failed)
			return false;
		put_parse(o, *prep, b->sql.data, &key, c->nrows);
	}
	proto_begin(o, PQMSG_Bind);
	proto_put_string(o, "");
	proto_put_string(o, *prep ? (*prep)->name : BATCH_STMT_NAME);
	proto_put_int16(o, 0);
	proto_put_int16(o, (uint16_t) (c->nrows * w));
	proto_put_bytes(o, b->q_values.data, b->q_values.len);
	proto_put_int16(o, 0);
	proto_end(o);
	return send_chunk_tail(b, c, *prep == NULL);
}

static bool
send_simple_chunk(struct batch *b, const struct chunk *c, struct prep **prep, bool *parsed)
{
	struct proto_buf *o = &b->to_server;

	if (b->q_param)
		return send_param_chunk(b, c, prep, parsed);
	*prep = NULL;
	*parsed = true;
	batch_text_reset(&b->sql);
	if (c->guarded)
		guard_open(&b->sql);
	batch_text_append(&b->sql, b->q_ins.prefix, strlen(b->q_ins.prefix));
	batch_text_append(&b->sql, "VALUES ", 7);
	batch_text_append(&b->sql, b->q_tuples.data, b->q_tuples.len);
	batch_text_append(&b->sql, b->q_ins.tail, strlen(b->q_ins.tail));
	if (c->guarded)
		guard_close(&b->sql, c->nrows);
	if (b->sql.failed)
		return false;
	proto_begin(o, PQMSG_Parse);
	proto_put_string(o, BATCH_STMT_NAME);
	proto_put_string(o, b->sql.data);
	proto_put_int16(o, 0);
	proto_end(o);
	proto_begin(o, PQMSG_Bind);
	proto_put_string(o, "");
	proto_put_string(o, BATCH_STMT_NAME);
	proto_put_int16(o, 0);
	proto_put_int16(o, 0);
	proto_put_int16(o, 0);
	proto_end(o);
	return send_chunk_tail(b, c, true);
}

static bool
expect_verbatim(struct batch *b, int i)
{
	const uint8_t *m = held_msg(b, i);

	switch (b->msgs[i].type)
	{
		case PQMSG_Parse:
			{
				const char *name = msg_name(m, b->msgs[i].len, false);
				int			k = name && name[0] ? stmt_find(b, name) : -1;

				return expect(b, EXP_PASS1, -1, k);
			}
		case PQMSG_Bind:
			return expect(b, EXP_PASS1, -1, -1);
		case PQMSG_Describe:
			if (m[PROTO_HDR_LEN] == 'S' && !expect(b, EXP_PASS1, -1, -1))
				return false;
			return expect(b, EXP_PASS1, -1, -1);
		case PQMSG_Execute:
			return expect(b, EXP_PASS_EXEC, -1, -1);
		default:
			return false;
	}
}

static const struct batch_insert *
chunk_ins(const struct batch *b, const struct chunk *c)
{
	return c->simple ? &b->q_ins : &c->e->ins;
}

/*
 * A lookup of ours in the catalog for the chunk: Parse `name` with `sql` and
 * the parameter types, Bind the text values (NULL: SQL NULL), Execute,
 * Close; its DataRows and CommandComplete are read as `kind`.
 */
static bool
send_lookup(struct batch *b, int chunk, const char *name, const char *sql, int n,
			const uint32_t *types, const char *const *values, enum exp_kind kind)
{
	struct proto_buf *o = &b->to_server;

	proto_begin(o, PQMSG_Parse);
	proto_put_string(o, name);
	proto_put_string(o, sql);
	proto_put_int16(o, (uint16_t) n);
	for (int i = 0; i < n; i++)
		proto_put_int32(o, types[i]);
	proto_end(o);
	proto_begin(o, PQMSG_Bind);
	proto_put_string(o, "");
	proto_put_string(o, name);
	proto_put_int16(o, 0);
	proto_put_int16(o, (uint16_t) n);
	for (int i = 0; i < n; i++)
	{
		proto_put_int32(o, values[i] ? (uint32_t) strlen(values[i]) : 0xffffffffu);
		if (values[i])
			proto_put_bytes(o, values[i], strlen(values[i]));
	}
	proto_put_int16(o, 0);
	proto_end(o);
	build_execute(o, "");
	proto_build_close(o, 'S', name);
	return expect(b, EXP_SWALLOW1, chunk, -1) && expect(b, EXP_SWALLOW1, chunk, -1) &&
		expect(b, kind, chunk, -1) && expect(b, EXP_SWALLOW1, chunk, -1) &&
		proto_buf_ok(o);
}

/* Messages asking the catalog about the chunk's table (see BATCH_CATALOG_SQL). */
static bool
send_table_check(struct batch *b, int chunk)
{
	static const uint32_t types[] = {25};	/* text */
	const char *values[1];

	table_key(chunk_ins(b, &b->chunks[chunk]), &b->sql);
	if (b->sql.failed)
		return false;
	values[0] = b->sql.data;
	return send_lookup(b, chunk, BATCH_STMT_NAME "_catalog", BATCH_CATALOG_SQL, 1, types, values,
					   EXP_CATALOG);
}

/* Messages asking BATCH_TYPES_SQL about the chunk's INSERT. */
static bool
send_types_query(struct batch *b, int chunk)
{
	static const uint32_t types[] = {25, 1009, 23}; /* text, text[], int4 */
	const struct batch_insert *ins = &b->chunks[chunk].e->ins;
	char		width[16];
	const char *values[3];

	table_key(ins, &b->sql);
	if (b->sql.failed)
		return false;
	snprintf(width, sizeof(width), "%d", ins->width);
	values[0] = b->sql.data;
	values[1] = ins->columns;
	values[2] = width;
	return send_lookup(b, chunk, BATCH_STMT_NAME "_types", BATCH_TYPES_SQL, 3, types, values,
					   EXP_TYPES);
}

/*
 * Before item i (a chunk): ask for its INSERT's column types when it could
 * take the unnest form and they are not known nor asked for by an earlier
 * item of this attempt.  The answer serves the next segments: this one goes
 * as VALUES.
 */
static bool
maybe_ask_types(struct batch *b, int i)
{
	const struct chunk *c = &b->chunks[b->items[i].index];

	if (!unnest_shape(b, c) || ftypes_find(b, c->e->ins.prefix))
		return true;
	for (int j = 0; j < i; j++)
	{
		const struct chunk *d = &b->chunks[b->items[j].index];

		if (b->items[j].is_chunk && unnest_shape(b, d) &&
			strcmp(d->e->ins.prefix, c->e->ins.prefix) == 0)
			return true;
	}
	return send_types_query(b, b->items[i].index);
}

/*
 * The Sync that ends a good attempt, and inside BEGIN the RELEASE of the
 * savepoint right behind it (an error at the Sync leaves the transaction
 * failed, so the RELEASE fails too and the savepoint stays for the undo).
 */
static void
build_commit(struct batch *b)
{
	build_sync(&b->to_server);
	if (b->savepoint)
		proto_build_query(&b->to_server, "RELEASE SAVEPOINT " BATCH_SAVEPOINT_NAME);
}

/* Start the attempt for the held segment; on PLAN_NO send it unchanged. */
static enum batch_action
launch(struct batch *b)
{
	enum plan_result pr;

	if (b->status != 'I' && b->status != 'T')
		return release_held(b) ? BATCH_TAKEN : BATCH_FAILED;
	catalog_refresh(b);
	if (b->held_query)
	{
		struct chunk *c;

		b->nrows = b->nchunks = b->nitems = 0;
		if (!GROW(b->chunks, b->nchunks, b->chunks_cap))
			return BATCH_FAILED;
		c = &b->chunks[0];
		c->e = NULL;
		c->first_row = 0;
		c->nrows = b->q_n;
		c->returning = b->q_ins.returning;
		c->describe = c->returning;
		table_key(&b->q_ins, &b->sql);
		c->exact = b->q_ins.conflict == BATCH_CONFLICT_NONE && !b->sql.failed &&
			(table_flags(b, b->sql.data) & TAB_EXACT);
		c->guarded = !c->returning && !c->exact;
		c->simple = true;
		b->nchunks = 1;
		if (!add_item(b, true, 0))
			return BATCH_FAILED;
		pr = PLAN_OK;
	}
	else
	{
		b->planning = true;
		pr = plan_extended(b);
	}
	b->loaded = true;
	if (pr == PLAN_NOMEM)
		return BATCH_FAILED;
	if (pr == PLAN_NO)
	{
		stmt_free_retired(b);
		for (int i = 0; i < b->nstmts; i++)
			b->stmts[i]->in_attempt = false;
		return release_held(b) ? BATCH_TAKEN : BATCH_FAILED;
	}

	b->nexp = b->exp_head = 0;
	b->doomed = b->error_seen = false;
	b->doom_reason = BATCH_FB_ROWS;
	b->att_batches = b->att_rows = 0;
	b->ty_n = 0;
	batch_text_reset(&b->ty_names);
	proto_buf_reset(&b->streamed);
	b->stream_pos = 0;
	b->stream_hold = false;
	proto_buf_reset(&b->out);
	proto_buf_reset(&b->cap);
	b->cap_nrows = 0;
	b->savepoint = b->status == 'T';
	if (b->savepoint)
	{
		proto_build_query(&b->to_server, "SAVEPOINT " BATCH_SAVEPOINT_NAME);
		if (!expect(b, EXP_SWALLOW_Z, -1, -1))
			return BATCH_FAILED;
	}
	/* statements evicted from the cache */
	while (b->nto_close > 0)
	{
		char	   *name = b->to_close[--b->nto_close];

		proto_build_close(&b->to_server, 'S', name);
		free(name);
		if (!expect(b, EXP_SWALLOW1, -1, -1))
			return BATCH_FAILED;
	}
	b->optimistic = true;
	for (int i = 0; i < b->nitems; i++)
	{
		const struct item *it = &b->items[i];

		if (!it->is_chunk)
		{
			send_raw(&b->to_server, held_msg(b, it->index), b->msgs[it->index].len);
			if (!expect_verbatim(b, it->index))
				return BATCH_FAILED;
			continue;
		}
		/* first time for this table (in this attempt too): ask the catalog */
		table_key(chunk_ins(b, &b->chunks[it->index]), &b->sql);
		if (b->sql.failed)
			return BATCH_FAILED;
		if (b->set.check_tables && !(table_flags(b, b->sql.data) & TAB_OK))
		{
			bool		asked = false;

			for (int j = 0; j < i; j++)
				if (b->items[j].is_chunk &&
					strcmp(chunk_ins(b, &b->chunks[b->items[j].index])->relname,
						   chunk_ins(b, &b->chunks[it->index])->relname) == 0)
					asked = true;
			if (!asked && !send_table_check(b, it->index))
				return BATCH_FAILED;
			b->optimistic = false;
		}
		if (!maybe_ask_types(b, i))
			return BATCH_FAILED;
		{
			const struct chunk *c = &b->chunks[it->index];
			struct prep *prep = NULL;
			bool		parsed = true;

			if (!(c->simple ? send_simple_chunk(b, c, &prep, &parsed) :
				  send_chunk(b, c, &prep, &parsed)))
				return BATCH_FAILED;
			if (parsed)
			{
				if (!expect(b, EXP_SWALLOW1, it->index, -1))
					return BATCH_FAILED;
				b->exp[b->nexp - 1].prep = prep;
			}
			if (!expect(b, EXP_SWALLOW1, it->index, -1) ||
				(c->describe && !expect(b, EXP_CAP_DESC, it->index, -1)) ||
				!expect(b, EXP_CAP_EXEC, it->index, -1) ||
				(!prep && !expect(b, EXP_SWALLOW1, it->index, -1)))
				return BATCH_FAILED;

			/*
			 * streaming: the server sends this chunk's replies at once (the
			 * last one's come with the Sync or Flush below)
			 */
			if (b->set.stream_rows > 0 && it->index < b->nchunks - 1)
			{
				proto_begin(&b->to_server, PQMSG_Flush);
				proto_end(&b->to_server);
			}
		}
	}

	/*
	 * When every chunk is guarded or cannot report another row count, and no
	 * table of theirs can raise a message per row, any surprise is an error:
	 * in an implicit transaction it fails the transaction at Sync, inside
	 * BEGIN the savepoint undoes it.  Send the Sync now (and the RELEASE
	 * SAVEPOINT) and save a round trip.  Otherwise Flush, check every reply,
	 * then Sync.
	 */
	for (int i = 0; i < b->nchunks && b->optimistic; i++)
	{
		if (!b->chunks[i].guarded && !b->chunks[i].exact)
			b->optimistic = false;

		/*
		 * a table whose rows may raise NOTICEs: keep the Sync until the
		 * replies show none (else the attempt is undone, see attempt_reply)
		 */
		if (b->set.check_tables)
		{
			table_key(chunk_ins(b, &b->chunks[i]), &b->sql);
			if (b->sql.failed)
				return BATCH_FAILED;
			if (!(table_flags(b, b->sql.data) & TAB_QUIET))
				b->optimistic = false;
		}
	}
	if (b->optimistic)
		build_commit(b);
	else
	{
		proto_begin(&b->to_server, PQMSG_Flush);
		proto_end(&b->to_server);
	}
	b->state = BS_ATTEMPT;
	return proto_buf_ok(&b->to_server) ? BATCH_TAKEN : BATCH_FAILED;
}

/* Undo the attempt and replay the original messages. */
static bool
fail_attempt(struct batch *b, bool sync_in_flight)
{
	b->stats.fallbacks++;
	b->stats.fallback[b->doom_reason]++;
	for (int i = 0; i < b->nchunks; i++)
	{
		struct stmt_entry *e = b->chunks[i].e;

		if (e && (i == 0 || b->chunks[i - 1].e != e) && ++e->fallbacks >= BATCH_FALLBACK_LIMIT)
			e->kind = STMT_SAFE;
	}
	b->zleft = 0;
	for (int i = b->exp_head; i < b->nexp; i++)
		if (b->exp[i].kind == EXP_SWALLOW_Z)
			b->zleft++;
	if (!sync_in_flight)
	{
		if (!b->error_seen)
			build_execute(&b->to_server, BATCH_FAIL_PORTAL);
		build_sync(&b->to_server);
	}
	else if (b->savepoint)
		b->zleft++;				/* the RELEASE sent behind the Sync (it fails) */
	b->zleft++;
	if (b->savepoint)
	{
		proto_build_query(&b->to_server, "ROLLBACK TO SAVEPOINT " BATCH_SAVEPOINT_NAME
						  "; RELEASE SAVEPOINT " BATCH_SAVEPOINT_NAME);
		b->zleft++;
	}

	/*
	 * Prepared statements are not transactional: close ours (the error may
	 * have skipped its Close) and those of the client's the attempt created.
	 */
	proto_build_close(&b->to_server, 'S', BATCH_STMT_NAME);
	for (int i = b->npreps - 1; i >= 0; i--)
	{
		if (b->preps[i]->used && !b->preps[i]->confirmed)
		{
			proto_build_close(&b->to_server, 'S', b->preps[i]->name);
			prep_remove_at(b, i);
		}
		else
			b->preps[i]->used = false;
	}
	for (int i = 0; i < b->nstmts; i++)
	{
		struct stmt_entry *e = b->stmts[i];

		if (e->created && e->name[0] != '\0')
			proto_build_close(&b->to_server, 'S', e->name);
	}
	build_sync(&b->to_server);
	b->zleft++;
	b->units_sent++;
	for (int i = 0; i < b->nstmts; i++)
	{
		if (b->stmts[i]->in_attempt)
			b->stmts[i]->unit = b->units_sent;
		b->stmts[i]->in_attempt = false;
		b->stmts[i]->created = false;
	}
	proto_put_bytes(&b->to_server, b->held.data, b->held.len);
	proto_buf_reset(&b->out);
	stmt_free_retired(b);
	b->unit_error = false;
	b->state = BS_SWALLOW;
	b->after_swallow = BS_REPLAY;
	return proto_buf_ok(&b->to_server);
}

/* The number in a CommandComplete tag "INSERT 0 n", or -1. */
static long
insert_tag_count(const uint8_t *msg, size_t len)
{
	struct proto_reader r;
	const char *tag;
	char	   *end;
	long		n;

	proto_reader_init(&r, body_of(msg), body_len(len));
	tag = proto_read_string(&r);
	if (!tag || strncmp(tag, "INSERT 0 ", 9) != 0)
		return -1;
	n = strtol(tag + 9, &end, 10);
	return *end == '\0' ? n : -1;
}

/* A chunk's CommandComplete arrived: check it and write each row's replies. */
static bool
finish_chunk(struct batch *b, const struct chunk *c, const uint8_t *msg, size_t len)
{
	static const uint8_t parse_complete[] = {PQMSG_ParseComplete, 0, 0, 0, 4};
	static const uint8_t bind_complete[] = {PQMSG_BindComplete, 0, 0, 0, 4};
	static const uint8_t no_data[] = {PQMSG_NoData, 0, 0, 0, 4};
	bool		ok;

	if (c->guarded)
		ok = len == PROTO_HDR_LEN + 9 && memcmp(msg + PROTO_HDR_LEN, "SELECT 1", 9) == 0 &&
			b->cap_nrows == 1;
	else
		ok = insert_tag_count(msg, len) == c->nrows &&
			b->cap_nrows == (c->returning ? c->nrows : 0) &&
			(!c->describe || b->cap_desc_len > 0);
	if (!ok)
	{
		b->doomed = true;
		return true;
	}
	if (!c->returning)
	{
		/*
		 * The common case: a few fixed messages per row, gathered in a block
		 * copied out every ~60 rows.
		 */
		static const uint8_t insert_one[] = {PQMSG_CommandComplete, 0, 0, 0, 15,
		'I', 'N', 'S', 'E', 'R', 'T', ' ', '0', ' ', '1', 0};
		enum
		{
			ONE_MAX = sizeof(parse_complete) + sizeof(bind_complete) +
			sizeof(no_data) + sizeof(insert_one)
		};
		uint8_t		blk[64 * ONE_MAX];
		size_t		n = 0;

		for (int i = 0; i < c->nrows; i++)
		{
			const struct row *r = c->simple ? NULL : &b->rows[c->first_row + i];

			if (n > sizeof(blk) - ONE_MAX)
			{
				proto_put_bytes(&b->out, blk, n);
				n = 0;
			}
			if (r && r->parse_idx >= 0)
			{
				memcpy(blk + n, parse_complete, sizeof(parse_complete));
				n += sizeof(parse_complete);
			}
			if (!c->simple)
			{
				memcpy(blk + n, bind_complete, sizeof(bind_complete));
				n += sizeof(bind_complete);
			}
			if (r && r->desc_idx >= 0)
			{
				memcpy(blk + n, no_data, sizeof(no_data));
				n += sizeof(no_data);
			}
			memcpy(blk + n, insert_one, sizeof(insert_one));
			n += sizeof(insert_one);
		}
		proto_put_bytes(&b->out, blk, n);
	}
	/* RETURNING: each row's own RowDescription and DataRow as captured */
	for (int i = 0; c->returning && i < c->nrows; i++)
	{
		const struct row *r = c->simple ? NULL : &b->rows[c->first_row + i];
		size_t		off = b->cap_rows[i];

		if (r && r->parse_idx >= 0)
			proto_put_bytes(&b->out, parse_complete, sizeof(parse_complete));
		if (!c->simple)
			proto_put_bytes(&b->out, bind_complete, sizeof(bind_complete));
		if (c->simple || r->desc_idx >= 0)
			proto_put_bytes(&b->out, b->cap.data, b->cap_desc_len);
		proto_put_bytes(&b->out, b->cap.data + off, 1 + proto_get_u32(b->cap.data + off + 1));
		proto_build_command_complete(&b->out, "INSERT 0 1");
	}
	proto_buf_reset(&b->cap);
	b->cap_desc_len = 0;
	b->cap_nrows = 0;
	return proto_buf_ok(&b->out);
}

static bool process_pending(struct batch *b);

static enum batch_action
attempt_reply(struct batch *b, const uint8_t *msg, size_t len)
{
	uint8_t		t = msg[0];
	struct expect *x;

	if (t == PQMSG_NotificationResponse)
	{
		send_raw(&b->to_client, msg, len);
		return BATCH_TAKEN;
	}
	x = b->exp_head < b->nexp ? &b->exp[b->exp_head] : NULL;
	if (t == PQMSG_NoticeResponse || t == PQMSG_ParameterStatus)
	{
		/*
		 * A NOTICE (or WARNING) raised while a multi-row statement runs, by a
		 * row trigger say: PostgreSQL would have put each row's between the
		 * replies of single-row INSERTs, which no synthesis can do.  While
		 * the Sync is still ours to send, undo the attempt and replay, and
		 * rewrite that table no more.  (After the Sync, only possible into a
		 * table the catalog called quiet, it stays in front of the
		 * statement's replies.)
		 */
		if (t == PQMSG_NoticeResponse && !b->optimistic && x && x->chunk >= 0 &&
			x->kind != EXP_CATALOG)
		{
			table_key(chunk_ins(b, &b->chunks[x->chunk]), &b->sql);
			if (b->sql.failed || !table_mark(b, b->sql.data, TAB_BAD))
				return BATCH_FAILED;
			if (!b->doomed)
				b->doom_reason = BATCH_FB_TABLE;
			b->doomed = true;
		}
		b->stream_hold = true;
		send_raw(&b->out, msg, len);
		return proto_buf_ok(&b->out) ? BATCH_TAKEN : BATCH_FAILED;
	}
	if (x == NULL)
		return BATCH_FAILED;
	if (t == PQMSG_ErrorResponse && x->kind != EXP_SWALLOW_Z)
	{
		const char *code = proto_error_field(msg + PROTO_HDR_LEN, len - PROTO_HDR_LEN,
											 PROTO_FIELD_SQLSTATE);

		/* the row-count guard's division by zero: a row count that differed */
		b->doom_reason = x->kind == EXP_CAP_EXEC && b->chunks[x->chunk].guarded &&
			code && strcmp(code, "22012") == 0 ? BATCH_FB_ROWS : BATCH_FB_ERROR;
		b->error_seen = true;
		return fail_attempt(b, b->optimistic) ? BATCH_TAKEN : BATCH_FAILED;
	}
	switch (x->kind)
	{
		case EXP_PASS1:
			if (t == PQMSG_ReadyForQuery || t == PQMSG_DataRow || t == PQMSG_CommandComplete)
				return BATCH_FAILED;
			if (t == PQMSG_ParseComplete && x->created >= 0 && x->created < b->nstmts)
				b->stmts[x->created]->created = true;
			send_raw(&b->out, msg, len);
			b->exp_head++;
			break;
		case EXP_PASS_EXEC:
			/* another statement's result may differ in a replay: hold */
			b->stream_hold = true;
			if (t == PQMSG_CopyInResponse || t == PQMSG_CopyOutResponse ||
				t == PQMSG_CopyBothResponse || t == PQMSG_ReadyForQuery)
				return BATCH_FAILED;
			send_raw(&b->out, msg, len);
			if (t != PQMSG_DataRow)
				b->exp_head++;
			break;
		case EXP_SWALLOW1:
			if (t == PQMSG_ReadyForQuery)
				return BATCH_FAILED;
			if (x->prep && t == PQMSG_ParseComplete)
				x->prep->confirmed = true;
			b->exp_head++;
			break;
		case EXP_SWALLOW_Z:
			if (t == PQMSG_ErrorResponse)
			{
				b->doomed = true;
				b->doom_reason = BATCH_FB_ERROR;
			}
			if (t == PQMSG_ReadyForQuery)
				b->exp_head++;
			break;
		case EXP_CAP_DESC:
			if (t != PQMSG_RowDescription && t != PQMSG_NoData)
				return BATCH_FAILED;
			proto_buf_reset(&b->cap);
			send_raw(&b->cap, msg, len);
			b->cap_desc_len = len;
			b->cap_nrows = 0;
			b->exp_head++;
			break;
		case EXP_CATALOG:
			if (t == PQMSG_DataRow)
			{
				/*
				 * three boolean columns: count 3, then length 1 and 't' or
				 * 'f' each
				 */
				b->cat_value = len == PROTO_HDR_LEN + 17 && msg[PROTO_HDR_LEN + 6] == 't';
				b->cat_exact = len == PROTO_HDR_LEN + 17 && msg[PROTO_HDR_LEN + 11] == 'f';
				b->cat_quiet = len == PROTO_HDR_LEN + 17 && msg[PROTO_HDR_LEN + 16] == 'f';
				break;
			}
			if (t != PQMSG_CommandComplete)
				return BATCH_FAILED;
			table_key(chunk_ins(b, &b->chunks[x->chunk]), &b->sql);
			if (b->sql.failed)
				return BATCH_FAILED;
			if (b->cat_value)
			{
				/* never rewrite it: undo this attempt and replay */
				if (!table_mark(b, b->sql.data, TAB_BAD))
					return BATCH_FAILED;
				b->doomed = true;
				b->doom_reason = BATCH_FB_TABLE;
			}
			else if (!table_mark(b, b->sql.data, TAB_OK | (b->cat_exact ? TAB_EXACT : 0) |
								 (b->cat_quiet ? TAB_QUIET : 0)))
				return BATCH_FAILED;
			b->cat_value = b->cat_exact = b->cat_quiet = false;
			b->exp_head++;
			break;
		case EXP_TYPES:
			if (t == PQMSG_DataRow)
			{
				if (!types_row(b, msg, len))
					return BATCH_FAILED;
				break;
			}
			if (t != PQMSG_CommandComplete)
				return BATCH_FAILED;
			{
				const struct batch_insert *ins = &b->chunks[x->chunk].e->ins;

				if (!ftypes_find(b, ins->prefix) && !ftypes_add(b, ins->prefix, ins->width))
					return BATCH_FAILED;
			}
			b->ty_n = 0;
			batch_text_reset(&b->ty_names);
			b->exp_head++;
			break;
		case EXP_CAP_EXEC:
			if (t == PQMSG_DataRow)
			{
				if (!GROW(b->cap_rows, b->cap_nrows, b->cap_rows_cap))
					return BATCH_FAILED;
				b->cap_rows[b->cap_nrows++] = b->cap.len;
				send_raw(&b->cap, msg, len);
				break;
			}
			if (t != PQMSG_CommandComplete)
			{
				b->doomed = true;
				if (t != PQMSG_EmptyQueryResponse && t != PQMSG_PortalSuspended)
					return BATCH_FAILED;
			}
			else if (!finish_chunk(b, &b->chunks[x->chunk], msg, len))
				return BATCH_FAILED;
			b->exp_head++;

			/*
			 * RETURNING rows may differ in a replay (serial ids): not
			 * streamed
			 */
			if (b->chunks[x->chunk].returning)
				b->stream_hold = true;

			/*
			 * What PostgreSQL would have sent so far: the client may read it
			 * while the server runs the next statement.  The last statement's
			 * replies wait for the ReadyForQuery (one send, one wake-up).
			 */
			if (b->set.stream_rows > 0 && !b->doomed && !b->stream_hold && b->out.len > 0 &&
				x->chunk < b->nchunks - 1)
			{
				proto_put_bytes(&b->to_client, b->out.data, b->out.len);
				proto_put_bytes(&b->streamed, b->out.data, b->out.len);
				proto_buf_reset(&b->out);
			}
			break;
	}
	if (!proto_buf_ok(&b->out) || !proto_buf_ok(&b->cap) || !proto_buf_ok(&b->streamed))
		return BATCH_FAILED;
	if (b->exp_head == b->nexp)
	{
		/* A guard that passed without error cannot be undone after Sync. */
		if (b->doomed && b->optimistic)
			return BATCH_FAILED;
		if (b->doomed)
			return fail_attempt(b, false) ? BATCH_TAKEN : BATCH_FAILED;
		if (!b->optimistic)
			build_commit(b);
		b->state = BS_COMMIT;
	}
	return BATCH_TAKEN;
}

static void
attempt_done(struct batch *b)
{
	for (int i = 0; i < b->nchunks; i++)
		if (b->chunks[i].e)
			b->chunks[i].e->fallbacks = 0;
	for (int i = 0; i < b->nstmts; i++)
	{
		if (b->stmts[i]->in_attempt)
			b->stmts[i]->unit = 0;
		b->stmts[i]->in_attempt = false;
		b->stmts[i]->created = false;
	}
	stmt_free_retired(b);
	for (int i = 0; i < b->npreps; i++)
		b->preps[i]->used = false;
	held_reset(b);
}

static enum batch_action
commit_reply(struct batch *b, const uint8_t *msg, size_t len)
{
	switch (msg[0])
	{
		case PQMSG_ErrorResponse:
			b->error_seen = true;
			b->doom_reason = BATCH_FB_ERROR;
			return fail_attempt(b, true) ? BATCH_TAKEN : BATCH_FAILED;
		case PQMSG_ReadyForQuery:
			if (len != PROTO_HDR_LEN + 1)
				return BATCH_FAILED;
			b->status = (char) msg[PROTO_HDR_LEN];
			proto_put_bytes(&b->to_client, b->out.data, b->out.len);
			proto_buf_reset(&b->out);
			b->units_sent++;
			b->units_done++;
			b->stats.segments++;
			b->stats.batches += b->att_batches;
			b->stats.rows += b->att_rows;
			attempt_done(b);
			if (b->savepoint)
			{
				/* the RELEASE went with the Sync: swallow its replies */
				send_raw(&b->to_client, msg, len);
				b->zleft = 1;
				b->state = BS_SWALLOW;
				b->after_swallow = BS_IDLE;
				return BATCH_TAKEN;
			}

			/*
			 * the caller relays this ReadyForQuery after the replies: the
			 * transaction ended as the client sees it (transaction pooling
			 * may release the server)
			 */
			b->state = BS_IDLE;
			return process_pending(b) ? BATCH_FORWARD : BATCH_FAILED;
		default:

			/*
			 * NotificationResponse and ParameterStatus too: PostgreSQL sends
			 * them after the commit at Sync, right before its ReadyForQuery,
			 * so behind every reply of the segment
			 */
			send_raw(&b->out, msg, len);
			return proto_buf_ok(&b->out) ? BATCH_TAKEN : BATCH_FAILED;
	}
}

/* ---- client side ---- */

/*
 * A Query whose text may be an INSERT: one look at its first word (the text
 * is NUL-terminated where the message ends; a NUL inside ends it earlier,
 * which the analysis sees).
 */
static bool
query_maybe_insert(const uint8_t *msg, size_t len)
{
	return len > PROTO_HDR_LEN && msg[len - 1] == '\0' &&
		batch_sql_maybe_insert((const char *) body_of(msg), body_len(len) - 1);
}

static enum batch_action
start_query(struct batch *b, const uint8_t *msg, size_t len)
{
	const char *sql = (const char *) body_of(msg);
	const char *why;
	enum batch_sql_result rc;

	if (!query_maybe_insert(msg, len))
		return BATCH_FORWARD;
	held_reset(b);
	rc = batch_sql_analyze_multi(sql, &b->q_ins, &b->q_tuples, &b->q_n, &why);
	if (rc == BATCH_SQL_NOMEM)
		return BATCH_FAILED;
	if (rc == BATCH_SQL_OK)
	{
		catalog_refresh(b);
		table_key(&b->q_ins, &b->sql);
		if (b->sql.failed)
			return BATCH_FAILED;
		if (table_flags(b, b->sql.data) & TAB_BAD)
			rc = BATCH_SQL_REFUSED;
	}
	/* one statement: not rewritten when over either cap */
	if (rc != BATCH_SQL_OK || b->q_n > b->set.max_rows ||
		b->q_tuples.len + strlen(b->q_ins.prefix) + strlen(b->q_ins.tail) > b->set.max_bytes ||
		(b->set.max_stmt_bytes && b->q_tuples.len > b->set.max_stmt_bytes))
	{
		held_reset(b);
		return BATCH_FORWARD;
	}

	/*
	 * its literals as parameters: one prepared statement for every such
	 * string
	 */
	if (b->set.literal_params)
	{
		uint32_t   *t = realloc(b->q_types, sizeof(uint32_t) * (size_t) (b->q_ins.width > 0 ? b->q_ins.width : 1));

		if (!t)
			return BATCH_FAILED;
		b->q_types = t;
		rc = batch_sql_literal_params(b->q_tuples.data, b->q_n, b->q_ins.width, t, &b->q_values);
		if (rc == BATCH_SQL_NOMEM)
			return BATCH_FAILED;
		b->q_param = rc == BATCH_SQL_OK;
	}
	if (!held_add(b, msg, len))
		return BATCH_FAILED;
	b->held_query = true;
	if (b->units_sent != b->units_done)
	{
		b->state = BS_WAIT;
		return BATCH_TAKEN;
	}
	return launch(b);
}

/* Would this message open a segment worth holding? */
static bool
opens_segment(struct batch *b, const uint8_t *msg, size_t len)
{
	if (msg[0] == PQMSG_Parse)
	{
		struct parse_info p;

		return decode_parse(msg, len, &p) && batch_sql_maybe_insert(p.text, strlen(p.text));
	}
	if (msg[0] == PQMSG_Bind)
	{
		/* portal name, then statement name: the rest is read if held */
		const char *portal = (const char *) body_of(msg);
		size_t		n = body_len(len),
					plen = strnlen(portal, n);
		int			k;

		if (plen + 1 >= n || memchr(portal + plen + 1, '\0', n - plen - 1) == NULL)
			return false;
		k = stmt_find(b, portal + plen + 1);
		/* left as sent for its table: unless that answer is forgotten now */
		if (k >= 0 && b->stmts[k]->table_bad)
			catalog_refresh(b);
		return k >= 0 && b->stmts[k]->kind == STMT_INSERT;
	}
	return false;
}

/*
 * The client moved on to other work (a Query or an extended segment that is
 * not an INSERT batch) while idle: give back the buffers a batch grew (held
 * segment, plan, replies, statement text), keeping what it knows about
 * statements and tables.  A client that keeps sending batches keeps them.
 */
static void
batch_trim(struct batch *b)
{
	proto_buf_free(&b->held);
	proto_buf_free(&b->out);
	proto_buf_free(&b->streamed);
	proto_buf_free(&b->cap);
	proto_buf_free(&b->to_server);
	proto_buf_free(&b->to_client);
	if (b->pending.len == 0)
		proto_buf_free(&b->pending);
	batch_insert_free(&b->q_ins);
	batch_text_free(&b->q_tuples);
	batch_text_free(&b->q_values);
	batch_text_free(&b->q_key);
	batch_text_free(&b->sql);
	batch_text_free(&b->arr);
	free(b->arr_at);
	b->arr_at = NULL;
	b->arr_cap = 0;
	free(b->msgs);
	free(b->rows);
	free(b->chunks);
	free(b->items);
	free(b->exp);
	free(b->cap_rows);
	b->msgs = NULL;
	b->rows = NULL;
	b->chunks = NULL;
	b->items = NULL;
	b->exp = NULL;
	b->cap_rows = NULL;
	b->nmsgs = b->msgs_cap = b->nrows = b->rows_cap = b->nchunks = b->chunks_cap = 0;
	b->nitems = b->items_cap = b->nexp = b->exp_cap = b->exp_head = 0;
	b->cap_nrows = b->cap_rows_cap = 0;
	b->q_n = 0;
	b->q_param = false;
	b->loaded = false;
}

static enum batch_action
handle_client(struct batch *b, const uint8_t *msg, size_t len, bool queued)
{
	enum batch_action act = BATCH_FORWARD;

	if (len < PROTO_HDR_LEN)
		return BATCH_FAILED;
	switch (b->state)
	{
		case BS_IDLE:
			if (msg[0] == PQMSG_Query)
			{
				act = start_query(b, msg, len);
				if (act != BATCH_FORWARD)
					return act;
			}
			else if (opens_segment(b, msg, len))
			{
				held_reset(b);
				if (!held_add(b, msg, len))
					return BATCH_FAILED;
				b->state = BS_COLLECT;
				return BATCH_TAKEN;
			}
			else if (msg[0] == PQMSG_Parse || msg[0] == PQMSG_Bind ||
					 msg[0] == PQMSG_Describe || msg[0] == PQMSG_Execute ||
					 msg[0] == PQMSG_Close || msg[0] == PQMSG_Flush)
				b->state = BS_PASS;
			if (b->loaded && (msg[0] == PQMSG_Query || b->state == BS_PASS))
				batch_trim(b);
			break;
		case BS_PASS:
			if (msg[0] == PQMSG_Sync)
				b->state = BS_IDLE;
			break;
		case BS_COLLECT:
			if (msg[0] == PQMSG_Parse || msg[0] == PQMSG_Bind || msg[0] == PQMSG_Describe ||
				msg[0] == PQMSG_Execute || msg[0] == PQMSG_Close || msg[0] == PQMSG_Sync)
			{
				if (!held_add(b, msg, len))
					return BATCH_FAILED;
				if (b->held.len > b->set.max_bytes)
					return release_held(b) ? BATCH_TAKEN : BATCH_FAILED;
				if (msg[0] != PQMSG_Sync)
					return BATCH_TAKEN;
				if (b->units_sent != b->units_done)
				{
					b->state = BS_WAIT;
					return BATCH_TAKEN;
				}
				return launch(b);
			}
			/* Flush or anything else: the client may wait for replies now. */
			if (!release_held(b))
				return BATCH_FAILED;
			if (!note_forwarded(b, msg, len))
				return BATCH_FAILED;
			send_raw(&b->to_server, msg, len);
			if (msg[0] == PQMSG_Query)
				b->state = BS_PASS;
			return proto_buf_ok(&b->to_server) ? BATCH_TAKEN : BATCH_FAILED;
		default:
			/* Busy: keep it for later, in order. */
			send_raw(&b->pending, msg, len);
			return proto_buf_ok(&b->pending) ? BATCH_TAKEN : BATCH_FAILED;
	}
	if (!note_forwarded(b, msg, len))
		return BATCH_FAILED;
	if (queued)
	{
		send_raw(&b->to_server, msg, len);
		return proto_buf_ok(&b->to_server) ? BATCH_TAKEN : BATCH_FAILED;
	}
	return BATCH_FORWARD;
}

/* Handle client messages queued while busy. */
static bool
process_pending(struct batch *b)
{
	struct proto_buf work = b->pending;
	size_t		off = 0;
	bool		ok = true;

	proto_buf_init(&b->pending);
	while (ok && off < work.len)
	{
		uint8_t		type;
		uint32_t	mlen;

		if (proto_peek_header(work.data + off, work.len - off, 0, &type, &mlen) != PROTO_FRAME_OK)
		{
			ok = false;
			break;
		}
		ok = handle_client(b, work.data + off, 1 + (size_t) mlen, true) != BATCH_FAILED;
		off += 1 + (size_t) mlen;
	}
	proto_buf_free(&work);
	return ok;
}

/* ---- public ---- */

struct batch *
batch_new(const struct batch_settings *settings)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->set = *settings;
	if (b->set.max_rows < 1)
		b->set.max_rows = 1;
	if (b->set.max_statements < 1)
		b->set.max_statements = 1;
	b->stmts = calloc((size_t) b->set.max_statements, sizeof(*b->stmts));
	if (!b->stmts)
	{
		free(b);
		return NULL;
	}
	b->state = BS_IDLE;
	b->status = 'I';
	proto_buf_init(&b->to_server);
	proto_buf_init(&b->to_client);
	proto_buf_init(&b->pending);
	proto_buf_init(&b->held);
	proto_buf_init(&b->out);
	proto_buf_init(&b->streamed);
	proto_buf_init(&b->cap);
	batch_text_init(&b->q_tuples);
	batch_text_init(&b->q_values);
	batch_text_init(&b->q_key);
	batch_text_init(&b->sql);
	batch_text_init(&b->arr);
	batch_text_init(&b->ty_names);
	return b;
}

void
batch_join(struct batch *b, int outstanding, bool in_segment, char status)
{
	b->units_sent = outstanding > 0 ? (uint64_t) outstanding : 0;
	b->units_done = 0;
	b->state = in_segment ? BS_PASS : BS_IDLE;
	b->status = status;
}

/* Only Parse and Query get past the first test: the rest costs nothing. */
enum batch_peek
batch_peek(const uint8_t *msg, size_t avail, size_t total)
{
	size_t		off = PROTO_HDR_LEN;
	const uint8_t *end;
	const char *t;
	size_t		n;

	if (avail < 1 || (msg[0] != PQMSG_Parse && msg[0] != PQMSG_Query))
		return avail < 1 ? BATCH_PEEK_MORE : BATCH_PEEK_NO;
	if (avail > total)
		avail = total;
	if (msg[0] == PQMSG_Parse)
	{
		/* the statement name comes first */
		end = avail > off ? memchr(msg + off, '\0', avail - off) : NULL;
		if (end == NULL)
			return avail < total ? BATCH_PEEK_MORE : BATCH_PEEK_NO;
		off = (size_t) (end - msg) + 1;
	}
	if (avail <= off)
		return avail < total ? BATCH_PEEK_MORE : BATCH_PEEK_NO;
	t = (const char *) msg + off;
	/* the common case: a statement that starts at once with another word */
	if (((*t | 0x20) >= 'a' && (*t | 0x20) <= 'z') && (*t | 0x20) != 'i')
		return BATCH_PEEK_NO;
	end = memchr(t, '\0', avail - off);
	if (end != NULL)
		return batch_sql_maybe_insert(t, (size_t) ((const char *) end - t)) ?
			BATCH_PEEK_MAYBE : BATCH_PEEK_NO;
	if (avail == total)
		return BATCH_PEEK_NO;	/* no terminator: malformed, the server says
								 * so */
	/* cut short: decide on a first word that is already visible */
	n = avail - off;
	while (n > 0 && (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r'))
		t++, n--;
	if (n > 0 && ((*t | 0x20) >= 'a' && (*t | 0x20) <= 'z') &&
		strncasecmp(t, "insert", n < 6 ? n : 6) != 0)
		return BATCH_PEEK_NO;
	return BATCH_PEEK_MORE;
}

/* Does `w` (lower case) start t[0..n), followed by a non-letter or the end? */
static bool
word_at(const char *t, size_t n, const char *w)
{
	size_t		k = strlen(w);

	return n >= k && strncasecmp(t, w, k) == 0 &&
		(n == k || !(((t[k] | 0x20) >= 'a' && (t[k] | 0x20) <= 'z') || t[k] == '_' ||
					 (t[k] >= '0' && t[k] <= '9')));
}

bool
batch_peek_ddl(const uint8_t *msg, size_t avail)
{
	size_t		off = PROTO_HDR_LEN;
	const char *t;
	size_t		n;

	if (avail <= off || (msg[0] != PQMSG_Query && msg[0] != PQMSG_Parse))
		return false;
	if (msg[0] == PQMSG_Parse)
	{
		const uint8_t *end = memchr(msg + off, '\0', avail - off);

		if (end == NULL)
			return false;
		off = (size_t) (end - msg) + 1;
	}
	t = (const char *) msg + off;
	n = avail - off;
	off = batch_sql_skip_blank(t, n);
	t += off;
	n -= off;
	return n > 0 && (word_at(t, n, "create") || word_at(t, n, "alter") || word_at(t, n, "drop"));
}

void
batch_free(struct batch *b)
{
	if (!b)
		return;
	stmt_clear(b);
	stmt_free_retired(b);
	prep_clear(b);
	tables_clear(b);
	ftypes_clear(b);
	free(b->stmts);
	free(b->retired);
	batch_trim(b);
	proto_buf_free(&b->pending);
	free(b->q_types);
	free(b);
}

bool
batch_collect(struct batch *b, const uint8_t *msg, size_t len)
{
	if (b->state != BS_COLLECT || b->failed || len < PROTO_HDR_LEN ||
		(msg[0] != PQMSG_Bind && msg[0] != PQMSG_Execute && msg[0] != PQMSG_Describe) ||
		b->nmsgs >= b->msgs_cap || len > b->held.cap - b->held.len ||
		b->held.len + len > b->set.max_bytes || b->held.failed)
		return false;
	held_note(b, msg, len);
	memcpy(b->held.data + b->held.len, msg, len);
	b->held.len += len;
	return true;
}

enum batch_action
batch_client_message(struct batch *b, const uint8_t *msg, size_t len)
{
	enum batch_action a;

	if (b->failed)
		return BATCH_FAILED;
	if (batch_collect(b, msg, len))
		return BATCH_TAKEN;
	a = handle_client(b, msg, len, false);
	if (a == BATCH_FAILED)
		b->failed = true;
	return a;
}

enum batch_action
batch_server_message(struct batch *b, const uint8_t *msg, size_t len)
{
	enum batch_action a = BATCH_FORWARD;

	if (b->failed || len < PROTO_HDR_LEN)
		return BATCH_FAILED;
	switch (b->state)
	{
		case BS_ATTEMPT:
			a = attempt_reply(b, msg, len);
			break;
		case BS_COMMIT:
			a = commit_reply(b, msg, len);
			break;
		case BS_SWALLOW:
			a = BATCH_TAKEN;
			if (msg[0] == PQMSG_NotificationResponse)
				send_raw(&b->to_client, msg, len);
			else if (msg[0] == PQMSG_ReadyForQuery && --b->zleft == 0)
			{
				b->state = b->after_swallow;
				if (b->state == BS_IDLE && !process_pending(b))
					a = BATCH_FAILED;
			}
			break;
		default:

			/*
			 * IDLE, PASS, COLLECT, WAIT, REPLAY: the reply goes to the
			 * client.
			 */
			if (b->state == BS_REPLAY && b->stream_pos < b->streamed.len &&
				msg[0] != PQMSG_NotificationResponse)
			{
				/*
				 * The client already has the replies the attempt streamed:
				 * the replay's must be the same bytes (else what it was told
				 * no longer holds, e.g. a row another session inserted
				 * since).
				 */
				if (len > b->streamed.len - b->stream_pos ||
					memcmp(msg, b->streamed.data + b->stream_pos, len) != 0)
					a = BATCH_FAILED;
				else
				{
					b->stream_pos += len;
					a = BATCH_TAKEN;
				}
				break;
			}
			if (msg[0] == PQMSG_ErrorResponse)
				b->unit_error = true;
			if (msg[0] != PQMSG_ReadyForQuery)
				break;
			if (len != PROTO_HDR_LEN + 1)
				a = BATCH_FAILED;
			b->status = (char) msg[PROTO_HDR_LEN];
			b->units_done++;
			stmt_settle(b, b->units_done, b->unit_error);
			b->unit_error = false;
			if (b->state == BS_REPLAY)
			{
				proto_buf_reset(&b->streamed);
				b->stream_pos = 0;
				held_reset(b);
				b->state = BS_IDLE;
				if (!process_pending(b))
					a = BATCH_FAILED;
			}
			else if (b->state == BS_WAIT && b->units_sent == b->units_done)
			{
				/* The caller relays this ReadyForQuery, then our output. */
				if (launch(b) == BATCH_FAILED)
					a = BATCH_FAILED;
			}
			break;
	}
	if (a != BATCH_FAILED &&
		(!proto_buf_ok(&b->to_server) || !proto_buf_ok(&b->to_client)))
		a = BATCH_FAILED;
	if (a == BATCH_FAILED)
		b->failed = true;
	return a;
}

bool
batch_note_local(struct batch *b, const uint8_t *msg, size_t len)
{
	struct parse_info p;

	if (b->failed || len < PROTO_HDR_LEN)
		return false;
	if (msg[0] == PQMSG_Close)
		return note_forwarded(b, msg, len);
	if (msg[0] != PQMSG_Parse || !decode_parse(msg, len, &p))
		return true;
	/* the pooler said ParseComplete: trusted at once (unit 0) */
	return stmt_note_parse(b, &p, 0) != NULL;
}

struct proto_buf *
batch_to_server(struct batch *b)
{
	return &b->to_server;
}

struct proto_buf *
batch_to_client(struct batch *b)
{
	return &b->to_client;
}

bool
batch_wants(struct batch *b, const uint8_t *msg, size_t len)
{
	if (b->failed || len < PROTO_HDR_LEN)
		return false;
	switch (b->state)
	{
		case BS_IDLE:
			if (msg[0] == PQMSG_Query)
				return query_maybe_insert(msg, len);
			return opens_segment(b, msg, len);
		case BS_PASS:
			return false;
		default:
			return true;
	}
}

bool
batch_busy(const struct batch *b)
{
	return b->state != BS_IDLE && b->state != BS_PASS;
}

void
batch_server_reset(struct batch *b)
{
	prep_clear(b);
}

const struct batch_stats *
batch_stats(const struct batch *b)
{
	return &b->stats;
}

void
batch_stats_add(struct batch_stats *to, const struct batch_stats *from)
{
	to->batches += from->batches;
	to->rows += from->rows;
	to->segments += from->segments;
	to->fallbacks += from->fallbacks;
	for (int i = 0; i < BATCH_FB_NREASONS; i++)
		to->fallback[i] += from->fallback[i];
}
