/*
 * txn.c -- the glue that keeps a pooled connection indistinguishable from a
 * direct one: session parameters synced before a client's requests,
 * prepared statements renamed and prepared where needed, replies matched
 * with requests, and errors for statements transaction pooling cannot run
 * (see txn.h).
 */
#include "txn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prepare.h"
#include "varcache.h"

struct txn_client
{
	uint64_t	serial;			/* unique per client (pointers get reused) */
	struct varclient vars;
	struct varcache *startup;	/* tracked startup values, until the welcome */
	struct ps_client *ps;		/* prepared statements (transaction pooling) */
	bool		local_batch;	/* answered by the pooler since the last Sync */
	bool		waiting;		/* a message waits for an earlier segment's
								 * replies (ps_server_unsettled) */
	bool		refused;		/* this Query came in a transaction block with
								 * nothing outstanding: a DISCARD ALL fails,
								 * and in a failed one a DEALLOCATE (the
								 * server refuses the client's text) */
	uint32_t	scope_gen;		/* vars.cur.gen when ps's scope was set */
	uint64_t	scope_conn;		/* and its pool's conn_hash (a RELOAD that
								 * changes the database entry changes it) */
	struct proto_buf *out;		/* held for the server (see send_held()), or
								 * NULL: only while something is held */
};

struct txn_server
{
	struct varcache vars;		/* what the server connection has */
	struct ps_server *ps;
	uint64_t	synced_serial;	/* client the values were last checked for */
	uint64_t	id_serial;		/* client whose serial pgplumb.client_id holds
								 * (track_client_id), 0 = none or unknown */
	uint32_t	synced_cgen;
	uint32_t	synced_sgen;
	int			sync_pending;	/* our sync queries without their
								 * ReadyForQuery */
	bool		last_commit;	/* last CommandComplete was COMMIT */
	bool		replied;		/* ps_server_reply() has seen the reply the
								 * relay goes on with */
	bool		probe_check;	/* ps is new or was emptied (DISCARD ALL): the
								 * rows probe may be due */
	bool		renamed;		/* the relay goes on with an error whose
								 * client-named copy is in `renamed` */
};

static uint64_t next_serial = 1;

/* Reused for every message the pooler builds (single-threaded). */
static struct proto_buf scratch;
static struct proto_buf ps_out;

/* A reply with the client's statement name, sent by txn_server_after(). */
static struct proto_buf renamed;

/* A drained held buffer kept for the next client that holds something. */
static struct proto_buf *held_spare;

/*
 * The last welcome built.  The clients of a pool mostly send the same
 * startup parameters (interned: one pointer to compare), so the next login
 * is usually a copy of it, not another pass over every ParameterStatus.
 */
static struct
{
	const struct pool *pool;
	struct proto_buf from;		/* the pool's welcome it was built from */
	struct varcache startup;	/* the client's startup values */
	struct varcache reset;		/* result: the client's starting values */
	struct proto_buf out;		/* result: ParameterStatus messages */
	bool		valid;
}			welcome_memo;

static void
welcome_memo_clear(void)
{
	welcome_memo.valid = false;
	welcome_memo.pool = NULL;
	varcache_free(&welcome_memo.startup);
	varcache_free(&welcome_memo.reset);
	proto_buf_free(&welcome_memo.from);
	proto_buf_free(&welcome_memo.out);
}

void
txn_configure(void)
{
	int			missed = varcache_configure(cfg->track_extra_parameters);

	welcome_memo_clear();		/* tracked names may have changed */

	if (missed > 0)
		log_warning("track_extra_parameters: %d name(s) ignored, at most %d parameters are tracked",
					missed, VAR_MAX);
}

void
txn_cleanup(void)
{
	proto_buf_free(&scratch);
	proto_buf_free(&ps_out);
	proto_buf_free(&renamed);
	welcome_memo_clear();
	if (held_spare)
	{
		proto_buf_free(held_spare);
		free(held_spare);
		held_spare = NULL;
	}
	ps_global_cleanup();
}

static struct txn_client *
client_txn(struct client *c)
{
	if (c->txn == NULL)
	{
		c->txn = calloc(1, sizeof(struct txn_client));
		if (c->txn == NULL)
			return NULL;
		c->txn->serial = next_serial++;
		varclient_init(&c->txn->vars);
	}
	return c->txn;
}

static struct txn_server *
server_txn(struct server *s)
{
	if (s->txn == NULL)
	{
		s->txn = calloc(1, sizeof(struct txn_server));
		if (s->txn == NULL)
			return NULL;
		varcache_init(&s->txn->vars);
	}
	return s->txn;
}

/*
 * The identity of the client's statements: its pool's, and its own
 * search_path (a SET search_path that finds other tables makes the same
 * text another statement, described on its own).
 */
static uint64_t
client_scope(const struct client *c)
{
	const struct pool *p = c->pool;

	return p ? ps_scope(p->dbname, p->username, p->conn_hash,
						varcache_get(&c->txn->vars.cur, VAR_SEARCH_PATH)) : 0;
}

/* What scope_changed() compares with: the client's values and pool entry now. */
static void
scope_mark(const struct client *c, struct txn_client *tc)
{
	tc->scope_gen = tc->vars.cur.gen;
	tc->scope_conn = c->pool ? c->pool->conn_hash : 0;
}

/* The client's prepared-statement map: its statements are its pool's. */
static struct ps_client *
client_ps_new(const struct client *c)
{
	scope_mark(c, c->txn);
	return ps_client_new(client_scope(c));
}

/*
 * Has the identity of the client's statements changed since it was set: a
 * value of the client's (maybe its search_path), or its pool's database
 * entry (RELOAD; the client stays, as in PgBouncer, and its next Parses are
 * the new entry's statements)?
 */
static inline bool
scope_changed(const struct client *c, const struct txn_client *tc)
{
	return tc->scope_gen != tc->vars.cur.gen ||
		(c->pool && tc->scope_conn != c->pool->conn_hash);
}

/* Before a Parse where scope_changed().  Out of line: rare. */
static void
__attribute__((noinline))
scope_follow(const struct client *c, struct txn_client *tc)
{
	scope_mark(c, tc);
	ps_client_set_scope(tc->ps, client_scope(c));
}

/* A command tag of DDL that may change what a statement's text finds. */
static bool
ddl_tag(const char *tag)
{
	switch (tag[0])
	{
		case 'A':
			return strncmp(tag, "ALTER ", 6) == 0;
		case 'C':
			return strncmp(tag, "CREATE ", 7) == 0;
		case 'D':
			return strncmp(tag, "DROP ", 5) == 0;
		default:
			return false;
	}
}

void
txn_client_free(struct client *c)
{
	if (c->txn == NULL)
		return;
	varclient_free(&c->txn->vars);
	if (c->txn->startup)
	{
		varcache_free(c->txn->startup);
		free(c->txn->startup);
	}
	if (c->txn->out)
	{
		proto_buf_free(c->txn->out);
		free(c->txn->out);
	}
	ps_client_free(c->txn->ps);
	free(c->txn);
	c->txn = NULL;
}

void
txn_server_free(struct server *s)
{
	if (s->txn == NULL)
		return;
	varcache_free(&s->txn->vars);
	ps_server_free(s->txn->ps);
	free(s->txn);
	s->txn = NULL;
}

int
txn_server_syncs_pending(const struct server *s)
{
	return s->txn ? s->txn->sync_pending : 0;
}

uint32_t
txn_server_outstanding(const struct server *s)
{
	return s->txn && s->txn->ps ? ps_server_outstanding(s->txn->ps) : 0;
}

/* Prepared statements are tracked in transaction and statement pooling. */
static bool
tracks_prepared(const struct pool *p)
{
	return pool_mode(p) != CFG_POOL_SESSION && cfg->max_prepared_statements > 0;
}

/* ---- login ---- */

bool
txn_client_startup_param(struct client *c, const char *name, const char *value)
{
	int			slot = varcache_slot(name);
	struct txn_client *tc;

	if (slot < 0)
		return false;
	tc = client_txn(c);
	if (tc && tc->startup == NULL && (tc->startup = calloc(1, sizeof(struct varcache))) == NULL)
		tc = NULL;
	if (tc == NULL || varcache_set(tc->startup, slot, value, false) < 0)
		log_warning("%s out of memory: startup parameter %s not tracked", client_ident(c), name);
	return true;
}

/* Free the client's startup values and start it at its reset values. */
static bool
welcome_done(struct txn_client *tc)
{
	if (tc->startup)
	{
		/* an idle client keeps only what it has now */
		varcache_free(tc->startup);
		free(tc->startup);
		tc->startup = NULL;
	}
	return varcache_copy(&tc->vars.cur, &tc->vars.reset) == 0;
}

static bool
welcome_memo_hit(const struct client *c, const struct txn_client *tc)
{
	const struct proto_buf *w = &c->pool->welcome;
	struct varcache none = {0};

	return welcome_memo.valid && welcome_memo.pool == c->pool &&
		welcome_memo.from.len == w->len && memcmp(welcome_memo.from.data, w->data, w->len) == 0 &&
		varcache_same(&welcome_memo.startup, tc->startup ? tc->startup : &none);
}

static void
welcome_memo_store(const struct client *c, const struct txn_client *tc, const uint8_t *out,
				   size_t len)
{
	const struct proto_buf *w = &c->pool->welcome;
	struct varcache none = {0};

	welcome_memo_clear();
	proto_put_bytes(&welcome_memo.from, w->data, w->len);
	proto_put_bytes(&welcome_memo.out, out, len);
	if (!proto_buf_ok(&welcome_memo.from) || !proto_buf_ok(&welcome_memo.out) ||
		varcache_copy(&welcome_memo.startup, tc->startup ? tc->startup : &none) < 0 ||
		varcache_copy(&welcome_memo.reset, &tc->vars.reset) < 0)
	{
		welcome_memo_clear();
		return;
	}
	welcome_memo.pool = c->pool;
	welcome_memo.valid = true;
}

bool
txn_client_welcome(struct client *c, struct proto_buf *b)
{
	struct txn_client *tc = client_txn(c);
	const struct proto_buf *w = &c->pool->welcome;
	size_t		pos = 0,
				start = b->len;

	if (tc == NULL)
	{
		proto_put_bytes(b, w->data, w->len);
		return proto_buf_ok(b);
	}
	if (welcome_memo_hit(c, tc))
	{
		proto_put_bytes(b, welcome_memo.out.data, welcome_memo.out.len);
		return varcache_copy(&tc->vars.reset, &welcome_memo.reset) == 0 && welcome_done(tc) &&
			proto_buf_ok(b);
	}
	/* the pool's ParameterStatus values, the client's own where it gave one */
	while (pos + PROTO_HDR_LEN <= w->len)
	{
		uint32_t	len = proto_get_u32(w->data + pos + 1);
		const char *name = (const char *) w->data + pos + PROTO_HDR_LEN;
		const char *value = name + strlen(name) + 1;
		int			slot = varcache_slot(name);

		if (w->data[pos] == PQMSG_ParameterStatus && slot >= 0)
		{
			varcache_mark_reported(slot);
			if (tc->startup && varcache_get(tc->startup, slot))
				value = varcache_get(tc->startup, slot);
			if (varcache_set(&tc->vars.reset, slot, value, false) < 0)
				return false;
			proto_build_parameter_status(b, name, value);
		}
		else
			proto_put_bytes(b, w->data + pos, 1 + len);
		pos += 1 + len;
	}

	/*
	 * tracked values the server does not report (search_path=... given at
	 * startup) still follow the client
	 */
	for (int i = 0; tc->startup && i < VAR_MAX; i++)
		if (varcache_get(tc->startup, i) && varcache_get(&tc->vars.reset, i) == NULL &&
			varcache_set(&tc->vars.reset, i, varcache_get(tc->startup, i), false) < 0)
			return false;
	if (!proto_buf_ok(b))
		return false;
	welcome_memo_store(c, tc, b->data + start, b->len - start);
	return welcome_done(tc);
}

/* ---- statements transaction pooling cannot run ---- */

static const char *
skip_blank(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char) *p))
		p++;
	return p;
}

static bool
word_at(const char **pp, const char *end, const char *kw)
{
	size_t		n = strlen(kw);
	const char *p = *pp;

	if ((size_t) (end - p) < n || strncasecmp(p, kw, n) != 0)
		return false;
	if (p + n < end && (isalnum((unsigned char) p[n]) || p[n] == '_'))
		return false;
	*pp = skip_blank(p + n, end);
	return true;
}

/* Case-insensitive search for `kw` as a word in [p, end). */
static bool
has_words(const char *p, const char *end, const char *kw)
{
	size_t		n = strlen(kw);

	for (; (size_t) (end - p) >= n; p++)
		if (strncasecmp(p, kw, n) == 0 && (p + n == end || !isalnum((unsigned char) p[n])))
			return true;
	return false;
}

/*
 * If the query starts with a statement transaction pooling cannot run,
 * return what it is ("LISTEN", ...) and the hint; else NULL.
 */
static const char *
unsupported_statement(const char *sql, size_t len, const char **hint)
{
	const char *end = sql + len,
			   *p = skip_blank(sql, end);

	if (word_at(&p, end, "listen"))
	{
		*hint = "Notifications go to the server connection that listens, which a client does not keep between transactions.";
		return "LISTEN";
	}
	if (word_at(&p, end, "prepare"))
	{
		if (word_at(&p, end, "transaction"))
			return NULL;		/* two-phase commit ends the transaction: fine */
		*hint = "Use the driver's protocol-level prepared statements, which the pooler tracks (max_prepared_statements).";
		return "SQL-level PREPARE";
	}
	if (word_at(&p, end, "declare"))
	{
		const char *q = p;

		/* DECLARE name [options] CURSOR [WITH HOLD] FOR query */
		while (q < end && !word_at(&q, end, "for"))
		{
			if (word_at(&q, end, "with") && word_at(&q, end, "hold"))
			{
				*hint = "A cursor WITH HOLD outlives its transaction on a server connection other clients use.";
				return "DECLARE ... WITH HOLD";
			}
			while (q < end && !isspace((unsigned char) *q))
				q++;
			q = skip_blank(q, end);
		}
		return NULL;
	}
	if (word_at(&p, end, "select"))
	{
		static const char *const fns[] = {
			"pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
			"pg_try_advisory_lock_shared"
		};

		if (word_at(&p, end, "pg_catalog") && p < end && *p == '.')
			p = skip_blank(p + 1, end);
		for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		{
			const char *q = p;

			if (word_at(&q, end, fns[i]) && q < end && *q == '(')
			{
				*hint = "Use pg_advisory_xact_lock(), which is released at the end of the transaction.";
				return "a session-level advisory lock";
			}
		}
	}
	return NULL;
}

static void
put_text(struct proto_buf *b, const char *s)
{
	proto_put_bytes(b, s, strlen(s));
}

/* The query that makes the server raise the error in order with the rest. */
static void
build_refusal(struct proto_buf *b, const char *what, const char *hint, int mode)
{
	char		msg[256];
	char		full_hint[512];

	snprintf(msg, sizeof(msg), "%s is not supported with pool_mode=%s; use pool_mode=session",
			 what, cfg_pool_mode_name(mode));
	snprintf(full_hint, sizeof(full_hint),
			 "%s Set pool_mode = session for this database or user in the pooler's configuration.",
			 hint);
	proto_begin(b, PQMSG_Query);
	put_text(b, "DO $pgplumb$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = ");
	varcache_put_literal(b, msg);
	put_text(b, ", HINT = ");
	varcache_put_literal(b, full_hint);
	put_text(b, "; END$pgplumb$");
	proto_put_byte(b, '\0');
	proto_end(b);
}

/* ---- client messages ---- */

static enum sbuf_ret
			client_fail(struct client *c, enum ps_result r);

/* The replies the pooler gives for a Parse or Close it answers itself. */
static const uint8_t parse_complete[PROTO_HDR_LEN] = {PQMSG_ParseComplete, 0, 0, 0, 4};
static const uint8_t close_complete[PROTO_HDR_LEN] = {PQMSG_CloseComplete, 0, 0, 0, 4};

enum sbuf_ret
txn_client_unlinked_packet(struct client *c, struct sbuf_pkt *pkt)
{
	struct txn_client *tc = c->txn;
	enum ps_result r;
	bool		ok;

	if (tc == NULL || !tracks_prepared(c->pool))
		return SBUF_FORWARD;
	switch (pkt->type)
	{
		case PQMSG_Parse:
		case PQMSG_Close:
			break;
		case PQMSG_Sync:
		case PQMSG_Flush:
			if (!tc->local_batch)
				return SBUF_FORWARD;
			if (pkt->type == PQMSG_Flush)
				return SBUF_SKIP;	/* everything asked for was answered */
			tc->local_batch = false;
			proto_buf_reset(&scratch);
			proto_build_ready(&scratch, 'I');
			if (!sbuf_send_buf(&c->sb, &scratch))
			{
				disconnect_client(c, NULL, "could not send to client");
				return SBUF_CLOSED;
			}
			c->request_time = now_usec();
			return SBUF_SKIP;
		default:
			tc->local_batch = false;	/* the server answers the Sync now */
			return SBUF_FORWARD;
	}
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (tc->ps == NULL && (tc->ps = client_ps_new(c)) == NULL)
		return client_fail(c, PS_NOMEM);
	if (scope_changed(c, tc))
		scope_follow(c, tc);
	r = ps_client_unlinked(tc->ps, pkt->data, pkt->total);
	if (r == PS_REPLACED)
	{
		tc->local_batch = false;
		return SBUF_FORWARD;	/* a portal Close: the server's business */
	}
	if (r != PS_PASS)
		return client_fail(c, r);
	tc->local_batch = true;
	/* goes out with the server's first reply when a Sync follows (sbuf.h) */
	ok = sbuf_send_held(&c->sb, pkt->type == PQMSG_Parse ? parse_complete : close_complete,
						sizeof(parse_complete));
	if (!ok)
	{
		disconnect_client(c, NULL, "could not send to client");
		return SBUF_CLOSED;
	}
	return SBUF_SKIP;
}

/* Messages that start a request with a reply (worth a parameter sync). */
static bool
starts_request(uint8_t t)
{
	switch (t)
	{
		case PQMSG_Query:
		case PQMSG_FunctionCall:
		case PQMSG_Parse:
		case PQMSG_Bind:
		case PQMSG_Describe:
		case PQMSG_Execute:
		case PQMSG_Close:
		case PQMSG_Sync:
			return true;
		default:
			return false;
	}
}

/*
 * track_client_id: in transaction and statement pooling the server's
 * pgplumb.client_id names the client it serves (its serial), so that the
 * extension's N+1 detector keeps clients sharing a connection apart.  A SET
 * goes ahead of the client's request only when the connection last served
 * another client (or its value is unknown); its replies are swallowed like
 * those of a parameter sync.  With the setting off, a connection that still
 * holds an id gets a RESET.
 */
static bool
client_id_needed(const struct client *c, const struct txn_client *tc,
				 const struct txn_server *ts)
{
	if (cfg->track_client_id && pool_mode(c->pool) != CFG_POOL_SESSION)
		return ts->id_serial != tc->serial;
	return ts->id_serial != 0;
}

/* Append the SET (or RESET) of pgplumb.client_id for this client. */
static void
build_client_id(const struct client *c, const struct txn_client *tc, const struct server *s,
				struct txn_server *ts, struct proto_buf *b)
{
	char		q[96];

	if (cfg->track_client_id && pool_mode(c->pool) != CFG_POOL_SESSION)
	{
		snprintf(q, sizeof(q), "SET pgplumb.client_id TO '%llu'",
				 (unsigned long long) tc->serial);
		ts->id_serial = tc->serial;
	}
	else
	{
		snprintf(q, sizeof(q), "RESET pgplumb.client_id");
		ts->id_serial = 0;
	}
	proto_begin(b, PQMSG_Query);
	proto_put_bytes(b, q, strlen(q) + 1);
	proto_end(b);
	log_debug("%s pgplumb.client_id set on %s: %s", client_ident(c), server_ident(s), q);
}

/*
 * The server's statement cache is new or a DISCARD ALL emptied it: the rows
 * probe (prepare.h) goes ahead of the next request that starts on the idle
 * server.  Checked where the session parameters are (sync_needed), which
 * costs nothing more per message: the next request takes the slow path.
 */
static void
probe_recheck(struct txn_server *ts)
{
	ts->probe_check = true;
	ts->synced_serial = 0;
}

/* The server's statement cache was emptied (DISCARD ALL): the rows probe with it. */
static void
server_forget_all(struct txn_server *ts)
{
	ps_server_forget_all(ts->ps);
	probe_recheck(ts);
}

static bool
sync_needed(struct txn_client *tc, struct txn_server *ts)
{
	if (ts->synced_serial == tc->serial && ts->synced_cgen == tc->vars.cur.gen &&
		ts->synced_sgen == ts->vars.gen)
		return false;
	if (ts->probe_check)
		return true;			/* see probe_recheck() */
	if (!varcache_same(&tc->vars.cur, &ts->vars))
		for (int i = 0; i < varcache_count(); i++)
			if (varcache_tracked(i) && !varcache_equal_slot(&tc->vars.cur, &ts->vars, i))
				return true;
	ts->synced_serial = tc->serial;
	ts->synced_cgen = tc->vars.cur.gen;
	ts->synced_sgen = ts->vars.gen;
	return false;
}

#define LOWER(ch) ((uint8_t) ((ch) | 0x20)) /* ASCII letters only */
#define IS_BLANK(ch) ((ch) == ' ' || (ch) == '\n' || (ch) == '\t' || (ch) == '\r')

/*
 * Might this simple query be one txn acts on (SET, RESET, DISCARD,
 * DEALLOCATE, LISTEN, PREPARE, DECLARE, SELECT pg_...advisory...)?  A look
 * at its first bytes, so that an ordinary query costs a few comparisons
 * (true also when too little of it is here to tell).
 */
static bool
query_maybe_special(const struct sbuf_pkt *pkt)
{
	const uint8_t *p = pkt->data + PROTO_HDR_LEN;
	const uint8_t *end = pkt->data + (pkt->avail < pkt->total ? pkt->avail : pkt->total);

	while (p < end && IS_BLANK(*p))
		p++;
	if (end - p < 12)
		return true;
	switch (LOWER(*p))
	{
		case 's':
			/* SELECT pg_...: the advisory locks; other SELECTs are not ours */
			if (LOWER(p[1]) != 'e' || LOWER(p[2]) != 'l' || LOWER(p[3]) != 'e' ||
				LOWER(p[4]) != 'c' || LOWER(p[5]) != 't' || !IS_BLANK(p[6]))
				return true;	/* SET, SHOW, ... */
			p += 7;
			while (p < end && IS_BLANK(*p))
				p++;
			return end - p < 3 || (LOWER(p[0]) == 'p' && LOWER(p[1]) == 'g' && p[2] == '_');
		case 'r':
		case 'd':
		case 'l':
		case 'p':
		case '/' | 0x20:
		case '-' | 0x20:
			return true;
		default:
			return false;
	}
}

static enum sbuf_ret
client_fail(struct client *c, enum ps_result r)
{
	if (r == PS_BAD)
		disconnect_client(c, "08P01", "invalid extended-protocol message");
	else
		disconnect_client(c, "53200", "out of memory");
	return SBUF_CLOSED;
}

/*
 * In transaction pooling, what replaces a client message (and every message
 * after it in the same read) is held in tc->out and written with one send
 * when the read is used up, instead of one send for the replacement and one
 * for the messages forwarded after it.  Session pooling sends at once (the
 * batch rewriter may take the next message).
 */
static bool
held_take(struct txn_client *tc)
{
	if (tc->out)
		return true;
	if (held_spare)
	{
		tc->out = held_spare;
		held_spare = NULL;
		return true;
	}
	tc->out = malloc(sizeof(struct proto_buf));
	if (tc->out)
		proto_buf_init(tc->out);
	return tc->out != NULL;
}

static bool
holds(const struct txn_client *tc)
{
	return tc->out && tc->out->len > 0;
}

bool
txn_client_holds(const struct client *c)
{
	return c->txn != NULL && holds(c->txn);
}

static bool
send_held(struct client *c, struct server *s)
{
	struct txn_client *tc = c->txn;
	bool		ok;

	if (!holds(tc))
		return true;
	ok = sbuf_send_buf(&s->sb, tc->out);
	/* an idle client keeps no buffer: it goes back to the spare */
	proto_buf_reset(tc->out);
	if (held_spare == NULL)
		held_spare = tc->out;
	else
	{
		proto_buf_free(tc->out);
		free(tc->out);
	}
	tc->out = NULL;
	if (!ok)
		disconnect_server(s, true, "08006", "could not send to server");
	return ok;
}

/*
 * A message that starts a Sync segment pipelined past one that may still
 * fail (ps_server_unsettled): what it names is known after that segment's
 * ReadyForQuery, when txn_server_after() resumes the client.  Returns
 * SBUF_WAIT (what is held was sent first), SBUF_FORWARD (go on) or
 * SBUF_CLOSED.  Out of line: pipelining past a Sync is rare.
 */
static enum sbuf_ret
__attribute__((noinline))
wait_unsettled(struct client *c, struct server *s, uint8_t t)
{
	struct txn_client *tc = c->txn;

	if (!starts_request(t) || c->coal != NULL || !ps_server_unsettled(s->txn->ps))
		return SBUF_FORWARD;
	if (holds(tc) && !send_held(c, s))
		return SBUF_CLOSED;
	tc->waiting = true;
	return SBUF_WAIT;
}

/*
 * A DEALLOCATE or DISCARD pipelined after requests whose outcome is not
 * known yet: whether the server refuses it (in a failed transaction; a
 * DISCARD ALL in any transaction block), which leaves the client's names as
 * they are, is known at their ReadyForQuery, so it waits for that
 * (txn_server_after() resumes the client).  Out of line: rare.
 */
static bool
__attribute__((noinline))
names_query_waits(const struct server *s, const struct txn_server *ts,
				  const struct sbuf_pkt *pkt)
{
	const char *end = (const char *) pkt->data + pkt->total;
	const char *p = skip_blank((const char *) pkt->data + PROTO_HDR_LEN, end);

	/*
	 * only behind the client's own segments: the ReadyForQuery of a sync
	 * query of ours is swallowed (sync_reply) and would not resume it
	 */
	if (s->expect_rfq == 0 || ts->sync_pending != 0 || ps_server_outstanding(ts->ps) == 0)
		return false;
	return word_at(&p, end, "deallocate") || word_at(&p, end, "discard");
}

enum sbuf_ret
txn_client_wait(struct client *c, struct server *s, uint8_t t)
{
	if (s->expect_rfq == 0 || t == PQMSG_Sync || c->txn == NULL || s->txn == NULL ||
		s->txn->ps == NULL || !tracks_prepared(c->pool))
		return SBUF_FORWARD;
	return wait_unsettled(c, s, t);
}

enum sbuf_ret
txn_client_packet(struct client *c, struct server *s, struct sbuf_pkt *pkt, bool was_busy)
{
	struct txn_client *tc = c->txn;
	struct txn_server *ts;
	uint8_t		t = pkt->type;
	bool		tracking = tracks_prepared(c->pool);
	bool		need_sync,
				need_id,
				need_probe = false,
				need_full,
				replaced = false;
	const char *sql = NULL;
	size_t		sql_len = 0;
	bool		maybe_set = false;
	bool		in_ps_out = false;	/* the replacement is in ps_out */

	if (tc == NULL || t == PQMSG_Terminate)
		return SBUF_FORWARD;
	ts = server_txn(s);
	if (ts == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	if (!was_busy && (ts->ps != NULL) != tracking)
	{
		/*
		 * the pool mode or max_prepared_statements changed (reload): start or
		 * stop matching replies only while nothing is outstanding
		 */
		ps_server_free(ts->ps);
		ts->ps = tracking ? ps_server_new() : NULL;
		if (tracking && ts->ps == NULL)
		{
			disconnect_client(c, "53200", "out of memory");
			return SBUF_CLOSED;
		}
		probe_recheck(ts);
	}
	tracking = tracking && ts->ps != NULL;
	if (tracking && tc->ps == NULL && (tc->ps = client_ps_new(c)) == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	if (tracking && (t == PQMSG_Parse || t == PQMSG_Bind || t == PQMSG_Describe))
		ps_server_set_status(ts->ps, s->txn_status);
	/* a new segment while an earlier one is outstanding: txn_client_wait() */

	if (holds(tc) && !sbuf_pkt_complete(pkt) && !send_held(c, s))
		return SBUF_CLOSED;
	/* what must be read before anything changes */
	need_sync = !was_busy && starts_request(t) && sync_needed(tc, ts);
	need_id = !was_busy && starts_request(t) && client_id_needed(c, tc, ts);
	need_full = need_sync || need_id || need_probe;
	switch (t)
	{
		case PQMSG_Parse:
			if (tracking && scope_changed(c, tc))
				scope_follow(c, tc);
			/* fall through */
		case PQMSG_Bind:
		case PQMSG_Describe:
		case PQMSG_Close:
		case PQMSG_Execute:
			need_full |= tracking;
			if (t == PQMSG_Parse && !tracking)
				need_full = true;	/* its text may be a SET or RESET ALL */
			break;
		case PQMSG_Query:
			need_full |= query_maybe_special(pkt);
			break;
		default:
			break;
	}
	if (!need_full && !holds(tc))
	{
		if (tracking && ps_client_message(tc->ps, ts->ps, pkt->data, pkt->total,
										  cfg->max_prepared_statements, &ps_out) != PS_PASS)
			return client_fail(c, PS_NOMEM);
		return SBUF_FORWARD;
	}
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (sbuf_has_pending(&c->sb) && !sbuf_flush_pending(&c->sb))
		return c->sb.closed ? SBUF_CLOSED : SBUF_WAIT;

	/* from here on state changes: the message is consumed this time */
	proto_buf_reset(&scratch);
	if (need_sync)
	{
		int			n;

		/* the rows probe (prepare.h), checked for here: see probe_recheck() */
		need_probe = ts->probe_check && tracking && s->txn_status == 'I' &&
			ts->sync_pending == 0 && ps_server_rows_probe_due(ts->ps);
		ts->probe_check = false;
		n = varcache_build_sync(&tc->vars.cur, &ts->vars, &scratch);

		if (n < 0)
			return client_fail(c, PS_NOMEM);
		if (n > 0)
		{
			s->expect_rfq++;
			ts->sync_pending++;
			log_debug("%s session parameters synced on %s (%d)", client_ident(c),
					  server_ident(s), n);
		}
		ts->synced_serial = tc->serial;
		ts->synced_cgen = tc->vars.cur.gen;
		ts->synced_sgen = ts->vars.gen;
	}
	if (need_id)
	{
		build_client_id(c, tc, s, ts, &scratch);
		if (!proto_buf_ok(&scratch))
			return client_fail(c, PS_NOMEM);
		s->expect_rfq++;
		ts->sync_pending++;
	}
	if (need_probe)
	{
		if (!ps_server_rows_probe_synced(ts->ps, &scratch))
			return client_fail(c, PS_NOMEM);
		s->expect_rfq++;
		ts->sync_pending++;
	}

	if (t == PQMSG_Query)
	{
		const char *hint = NULL,
				   *what = NULL;
		char		name[64];

		/* (nothing has changed yet: a Query that waits came with was_busy) */
		if (tracking && c->coal == NULL && names_query_waits(s, ts, pkt))
		{
			if (holds(tc) && !send_held(c, s))
				return SBUF_CLOSED;
			tc->waiting = true;
			return SBUF_WAIT;
		}
		sql = (const char *) pkt->data + PROTO_HDR_LEN;
		sql_len = pkt->total - PROTO_HDR_LEN;
		tc->refused = tracking && s->txn_status != 'I' && ps_server_outstanding(ts->ps) == 0;
		if (pool_mode(c->pool) != CFG_POOL_SESSION)
			what = unsupported_statement(sql, sql_len, &hint);
		if (what)
		{
			log_info("%s refused in pool_mode=%s: %s", client_ident(c),
					 cfg_pool_mode_name(pool_mode(c->pool)), what);
			build_refusal(&scratch, what, hint, pool_mode(c->pool));
			replaced = true;
			sql = NULL;
			if (tracking && ps_client_message(tc->ps, ts->ps, pkt->data, pkt->total,
											  cfg->max_prepared_statements, &ps_out) != PS_PASS)
				return client_fail(c, PS_NOMEM);
		}
		else if (tracking && !(tc->refused && s->txn_status == 'E') &&
				 ps_query_is_deallocate(sql, sql_len, name, sizeof(name)))
		{
			enum ps_result r = ps_client_deallocate_query(tc->ps, ts->ps, sql, sql_len, &ps_out);

			if (r != PS_REPLACED)
				return client_fail(c, r);
			proto_put_bytes(&scratch, ps_out.data, ps_out.len);
			replaced = true;
			sql = NULL;
		}
		else if (tracking && ps_client_message(tc->ps, ts->ps, pkt->data, pkt->total,
											   cfg->max_prepared_statements, &ps_out) != PS_PASS)
			return client_fail(c, PS_NOMEM);
	}
	else if (tracking)
	{
		enum ps_result r;

		if (t == PQMSG_Execute && ts->ps && ps_server_portal_stmt(ts->ps) &&
			pkt->total > PROTO_HDR_LEN && pkt->data[PROTO_HDR_LEN] == '\0')
		{
			/* the statement knows whether its text may be a SET */
			const struct ps_stmt *st = ps_server_portal_stmt(ts->ps);
			uint32_t	tlen;

			if (ps_stmt_maybe_set(st, &tlen))
			{
				sql = ps_stmt_text(st);
				sql_len = tlen;
				maybe_set = true;
			}
		}
		r = ps_client_message(tc->ps, ts->ps, pkt->data, pkt->total,
							  cfg->max_prepared_statements, &ps_out);
		if (r == PS_REPLACED)
			replaced = in_ps_out = true;	/* held below, after scratch */
		else if (r != PS_PASS)
			return client_fail(c, r);
	}
	else if (t == PQMSG_Parse)
	{
		/* session pooling: note SET / RESET ALL sent through Parse */
		const uint8_t *body = pkt->data + PROTO_HDR_LEN;
		const uint8_t *nul = memchr(body, '\0', pkt->total - PROTO_HDR_LEN);

		if (nul && nul + 1 < pkt->data + pkt->total)
		{
			sql = (const char *) nul + 1;
			sql_len = strnlen(sql, (size_t) (pkt->data + pkt->total - (const uint8_t *) sql));
		}
	}

	if (sql && (maybe_set || varcache_sql_maybe_set(sql, sql_len)))
	{
		if (!varclient_note_sql(&tc->vars, sql, sql_len))
			log_warning("%s out of memory: session parameters of a statement not tracked",
						client_ident(c));
		if (tc->vars.reset_pending)
			ts->id_serial = 0;	/* RESET ALL / DISCARD ALL: the id is gone too */
		if (tracking && tc->ps && tc->vars.reset_pending && t == PQMSG_Query &&
			!tc->refused && has_words(sql, sql + sql_len, "discard"))
			ps_client_forget_all(tc->ps);
	}

	if (tracking)
	{
		/* hold: this message (or what replaces it) joins what is held */
		if (!held_take(tc))
			return client_fail(c, PS_NOMEM);
		if (scratch.len > 0)
			proto_put_bytes(tc->out, scratch.data, scratch.len);
		if (in_ps_out)
			proto_put_bytes(tc->out, ps_out.data, ps_out.len);
		else if (!replaced)
			proto_put_bytes(tc->out, pkt->data, pkt->total);
		if (!proto_buf_ok(tc->out))
			return client_fail(c, PS_NOMEM);
		/* the read is used up: send it all */
		if (pkt->avail <= pkt->total && !send_held(c, s))
			return SBUF_CLOSED;
		return SBUF_SKIP;
	}
	if (scratch.len > 0 && !sbuf_send_buf(&s->sb, &scratch))
	{
		disconnect_server(s, true, "08006", "could not send to server");
		return SBUF_CLOSED;
	}
	return replaced ? SBUF_SKIP : SBUF_FORWARD;
}

/*
 * insert_batching in transaction and statement pooling: what the rewriter
 * sends (its multi-row statements, the client's own messages it held or
 * replays) goes through the prepared-statement mapping as if the client had
 * sent it, so names are the client's and every reply is matched; session
 * parameters are synced first while nothing is outstanding on the server.
 * What is held for the server is sent too.  false: the server is closed.
 */
bool
txn_batch_send(struct client *c, struct server *s, const struct proto_buf *msgs)
{
	struct txn_client *tc = client_txn(c);
	struct txn_server *ts = server_txn(s);
	size_t		off = 0;

	if (tc == NULL || ts == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return false;
	}
	/* nothing of the rewriter's (most client messages it holds): what is held */
	if (msgs->len == 0)
		return send_held(c, s);
	if (!tracks_prepared(c->pool))
	{
		if (!send_held(c, s))
			return false;
		return sbuf_send_buf(&s->sb, msgs);
	}
	if ((ts->ps == NULL && (ts->ps = ps_server_new()) == NULL) ||
		(tc->ps == NULL && (tc->ps = client_ps_new(c)) == NULL))
	{
		disconnect_client(c, "53200", "out of memory");
		return false;
	}
	if (!held_take(tc))
		return client_fail(c, PS_NOMEM) != SBUF_CLOSED;
	ps_server_set_status(ts->ps, s->txn_status);
	if (scope_changed(c, tc))
		scope_follow(c, tc);
	while (off + PROTO_HDR_LEN <= msgs->len)
	{
		const uint8_t *m = msgs->data + off;
		uint32_t	total = 1 + proto_get_u32(m + 1);
		enum ps_result r;

		if (ts->sync_pending == 0 && ps_server_outstanding(ts->ps) == 0 &&
			starts_request(m[0]) && sync_needed(tc, ts))
		{
			int			n = varcache_build_sync(&tc->vars.cur, &ts->vars, tc->out);

			if (n < 0)
				return client_fail(c, PS_NOMEM) != SBUF_CLOSED;
			if (n > 0)
			{
				s->expect_rfq++;
				ts->sync_pending++;
			}
			ts->synced_serial = tc->serial;
			ts->synced_cgen = tc->vars.cur.gen;
			ts->synced_sgen = ts->vars.gen;
		}
		r = ps_client_message(tc->ps, ts->ps, m, total, cfg->max_prepared_statements, &ps_out);
		if (r == PS_REPLACED)
			proto_put_bytes(tc->out, ps_out.data, ps_out.len);
		else if (r == PS_PASS)
			proto_put_bytes(tc->out, m, total);
		else
		{
			(void) client_fail(c, r);
			return false;
		}
		off += total;
	}
	if (!proto_buf_ok(tc->out))
	{
		(void) client_fail(c, PS_NOMEM);
		return false;
	}
	return send_held(c, s);
}

/* ---- server replies ---- */

/* name\0value\0 of a ParameterStatus; false if malformed. */
static bool
status_fields(const struct sbuf_pkt *pkt, const char **name, const char **value)
{
	const char *b = (const char *) pkt->data + PROTO_HDR_LEN;
	size_t		len = pkt->total - PROTO_HDR_LEN;
	size_t		n = strnlen(b, len);

	if (n + 1 >= len || strnlen(b + n + 1, len - n - 1) == len - n - 1)
		return false;
	*name = b;
	*value = b + n + 1;
	return true;
}

static const char *
command_tag(const struct sbuf_pkt *pkt)
{
	if (pkt->total <= PROTO_HDR_LEN || pkt->data[pkt->total - 1] != '\0')
		return "";
	return (const char *) pkt->data + PROTO_HDR_LEN;
}

/* The server's value of a reported parameter (any state). */
static void
record_server_status(struct server *s, const struct sbuf_pkt *pkt)
{
	struct txn_server *ts = server_txn(s);
	const char *name,
			   *value;
	int			slot;

	if (ts == NULL || !status_fields(pkt, &name, &value))
		return;
	slot = varcache_slot(name);
	if (slot < 0)
		return;
	varcache_mark_reported(slot);
	if (varcache_set(&ts->vars, slot, value, false) < 0)
		log_warning("%s out of memory tracking %s", server_ident(s), name);
}

enum sbuf_ret
txn_server_unlinked_packet(struct server *s, struct sbuf_pkt *pkt)
{
	if (pkt->type == PQMSG_ParameterStatus)
	{
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		record_server_status(s, pkt);
	}
	else if (pkt->type == PQMSG_CommandComplete && s->txn && s->txn->ps)
	{
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		if (strcmp(command_tag(pkt), "DISCARD ALL") == 0)
			server_forget_all(s->txn);
	}
	return SBUF_FORWARD;
}

void
txn_server_reset_sent(struct server *s, const char *query)
{
	struct txn_server *ts = s->txn;

	if (ts)
		ts->id_serial = 0;		/* whatever the query is, the id may be gone */
	if (ts == NULL || !has_words(query, query + strlen(query), "all"))
		return;

	/*
	 * DISCARD ALL / RESET ALL: what the server does not report goes back to
	 * its defaults (the rest comes as ParameterStatus)
	 */
	for (int i = 0; i < VAR_MAX; i++)
		if (!varcache_is_reported(i) && varcache_set(&ts->vars, i, NULL, false) < 0)
			log_warning("%s out of memory", server_ident(s));
	if (ts->ps && has_words(query, query + strlen(query), "discard"))
		server_forget_all(ts);
}

/* A reply of our sync query (session parameters, client id) or of the rows
 * probe sent with its own Sync: swallowed, the server's values recorded. */
static enum sbuf_ret
sync_reply(struct server *s, struct txn_server *ts, struct sbuf_pkt *pkt)
{
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (sbuf_has_pending(&s->sb) && !sbuf_flush_pending(&s->sb))
		return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
	switch (pkt->type)
	{
		case PQMSG_ParameterStatus:
			record_server_status(s, pkt);
			break;
		case PQMSG_ErrorResponse:
			{
				const char *msg = proto_error_field(pkt->data + PROTO_HDR_LEN,
													pkt->total - PROTO_HDR_LEN,
													PROTO_FIELD_MESSAGE);

				/* its values are unknown now: do not reuse it */
				log_warning("%s setting session parameters failed: %s", server_ident(s),
							msg ? msg : "?");
				s->close_needed = true;
				break;
			}
		case PQMSG_ReadyForQuery:
			ts->sync_pending--;
			if (s->expect_rfq > 0)
				s->expect_rfq--;
			s->txn_status = (char) pkt->data[5];
			break;
		default:
			break;
	}
	return SBUF_SKIP;
}

/*
 * The linked client could not take a reply the pooler made: drop it.
 * SBUF_CLOSED if that freed the server too, else SBUF_SKIP.
 */
static enum sbuf_ret
client_unreachable(struct client *c, struct server *s)
{
	disconnect_client(c, NULL, "could not send to client");
	return s->state == SV_JUSTFREE ? SBUF_CLOSED : SBUF_SKIP;
}

enum sbuf_ret
txn_server_packet(struct server *s, struct sbuf_pkt *pkt, bool *done)
{
	struct txn_server *ts = s->txn;
	struct client *c = s->link;
	uint8_t		t = pkt->type;

	*done = false;
	if (ts == NULL || c == NULL || c->txn == NULL)
		return SBUF_FORWARD;
	if (t == PQMSG_DataRow && ts->sync_pending == 0)
		return SBUF_FORWARD;	/* never final, never ours: the common case */
	if (ts->sync_pending > 0)
	{
		*done = true;
		return sync_reply(s, ts, pkt);
	}
	ts->renamed = ts->replied = false;
	if ((t == PQMSG_ErrorResponse || t == PQMSG_NoticeResponse) && ts->ps &&
		ps_reply_renames(ts->ps))
	{
		/* it may name the statement by our name: the client's instead */
		*done = true;
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		if (t == PQMSG_ErrorResponse)
			ps_reply_error(ts->ps, pkt->data, pkt->total);
		if (!ps_reply_rename(ts->ps, pkt->data, pkt->total, &renamed))
		{
			*done = false;
			return SBUF_FORWARD;
		}
		if (sbuf_has_pending(&s->sb) && !sbuf_flush_pending(&s->sb))
			return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
		if (c->batch != NULL || c->coal != NULL)
		{
			/*
			 * the rewriter or the coalescer must see the reply: the relay
			 * goes on with the server's bytes, and txn_server_after() sends
			 * the renamed copy in their place if they are to be forwarded
			 */
			*done = false;
			ts->renamed = true;
			return SBUF_FORWARD;
		}
		if (!sbuf_send_buf(&c->sb, &renamed))
			return client_unreachable(c, s);

		/*
		 * what txn_server_after() does for these (kept out of here so that it
		 * stays inlined in the relay)
		 */
		(void) ps_server_reply(ts->ps, t);
		if (t == PQMSG_ErrorResponse)
			varclient_note_error(&c->txn->vars);
		return SBUF_SKIP;
	}
	if (ts->ps && ps_reply_is_special(ts->ps, t))
	{
		*done = true;
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		if (sbuf_has_pending(&s->sb) && !sbuf_flush_pending(&s->sb))
			return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
		if (t == PQMSG_ParameterDescription)
			ps_server_param_desc(ts->ps, pkt->data, pkt->total);
		switch (ps_server_reply(ts->ps, t))
		{
			case PS_REPLY_FORWARD:

				/*
				 * an error answering a request of ours (a failed Parse before
				 * a Bind): the relay goes on with it, and txn_server_after()
				 * must not match it again
				 */
				*done = false;
				ts->replied = true;
				return SBUF_FORWARD;
			case PS_REPLY_SWALLOW:
				return SBUF_SKIP;
			case PS_REPLY_AS_PARSE_COMPLETE:
				/* same length (4): the type byte is all that differs */
				((uint8_t *) pkt->data)[0] = PQMSG_ParseComplete;
				return SBUF_FORWARD;
			case PS_REPLY_AS_DEALLOCATE:
				{
					proto_buf_reset(&scratch);
					proto_build_command_complete(&scratch, ps_dealloc_tag(ts->ps));
					if (!sbuf_send_buf(&c->sb, &scratch))
						return client_unreachable(c, s);
					return SBUF_SKIP;
				}
		}
	}
	switch (t)
	{
		case PQMSG_ParameterStatus:
			{
				const char *name,
						   *value;
				int			slot;

				*done = true;
				if (!sbuf_pkt_complete(pkt))
					return SBUF_NEED_FULL;
				if (status_fields(pkt, &name, &value) && (slot = varcache_slot(name)) >= 0 &&
					varclient_note_status(&c->txn->vars, &ts->vars, slot, value) < 0)
					log_warning("%s out of memory tracking %s", client_ident(c), name);
				return SBUF_FORWARD;
			}
		case PQMSG_CommandComplete:
		case PQMSG_ReadyForQuery:
			if (!sbuf_pkt_complete(pkt))
			{
				*done = true;
				return SBUF_NEED_FULL;
			}
			break;
		default:
			break;
	}
	return SBUF_FORWARD;
}

enum sbuf_ret
txn_server_after(struct server *s, struct sbuf_pkt *pkt, enum sbuf_ret r)
{
	struct txn_server *ts = s->txn;
	struct client *c = s->link;
	bool		replied,
				rename;

	if (pkt->type == PQMSG_DataRow || ts == NULL || c == NULL || c->txn == NULL)
		return r;
	replied = ts->replied;
	rename = ts->renamed;
	ts->replied = ts->renamed = false;
	if (r != SBUF_FORWARD && r != SBUF_FORWARD_LAST && r != SBUF_SKIP)
		return r;				/* NEED_FULL / WAIT: it comes again; CLOSED:
								 * gone */
	if (ts->ps && !replied)
		(void) ps_server_reply(ts->ps, pkt->type);
	switch (pkt->type)
	{
		case PQMSG_CommandComplete:
			{
				const char *tag = command_tag(pkt);

				ts->last_commit = tag[0] == 'C' && strcmp(tag, "COMMIT") == 0;
				if (ts->ps && tag[0] == 'D' && strcmp(tag, "DISCARD ALL") == 0)
					server_forget_all(ts);
				else if (ddl_tag(tag))
					ps_schema_changed();
				break;
			}
		case PQMSG_ErrorResponse:
			varclient_note_error(&c->txn->vars);
			break;
		case PQMSG_ReadyForQuery:
			if (varclient_note_ready(&c->txn->vars, &ts->vars, (char) pkt->data[5],
									 ts->last_commit) < 0)
				log_warning("%s out of memory tracking session parameters", client_ident(c));
			ts->last_commit = false;
			if (c->txn->waiting)
			{
				c->txn->waiting = false;
				sbuf_continue(&c->sb);	/* asks ps_server_unsettled() again */
			}
			break;
		default:
			break;
	}
	if (rename && r == SBUF_FORWARD)
	{
		/* the client gets the reply with its own statement name */
		if (!sbuf_send_buf(&c->sb, &renamed))
			return client_unreachable(c, s);
		return SBUF_SKIP;
	}
	return r;
}

/* ---- insert_coalescing ---- */

const uint8_t *
txn_client_stmt_body(struct client *c, const char *name, uint32_t *len)
{
	if (c->txn == NULL || c->txn->ps == NULL)
		return NULL;
	return ps_client_stmt_body(c->txn->ps, name, len);
}

bool
txn_clients_same_vars(const struct client *a, const struct client *b)
{
	if (a->txn == NULL || b->txn == NULL)
		return a->txn == b->txn;
	for (int i = 0; i < varcache_count(); i++)
		if (!varcache_equal_slot(&a->txn->vars.cur, &b->txn->vars.cur, i))
			return false;
	return true;
}
