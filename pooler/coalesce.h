/*
 * coalesce.h -- insert_coalescing: autocommit single-row INSERTs of
 * different clients of one pool, into the same table and column list, are
 * held for up to insert_coalesce_delay (or insert_batch_max_rows rows, or
 * insert_batch_max_bytes bytes of values) and
 * run as one multi-row INSERT on one server connection, in its own implicit
 * transaction (one Sync).  Each client is answered only once that
 * transaction has committed, with exactly the replies PostgreSQL would have
 * sent it (ParseComplete/BindComplete/NoData as it asked, "INSERT 0 1",
 * ReadyForQuery 'I').  If the merged statement fails in any way (an error, a
 * failed commit, a row count that differs), nothing of it stays applied and
 * every held INSERT is replayed on its own, its replies passed straight to
 * its client, so each sees its own success or PostgreSQL's own error.
 *
 * What is held (transaction pooling, client unlinked, so idle): a simple
 * Query that is one INSERT with literal values, or an extended-protocol
 * sequence [Parse ""] Bind(portal "") [Describe portal] Execute Sync that
 * arrived in one read, of an INSERT batch_sql_analyze() accepts, without
 * RETURNING.  Tables with statement-level INSERT triggers, transition tables
 * or rules (BATCH_CATALOG_SQL, asked once per pool and table) are not
 * merged.
 *
 * How it is driven: one held client (the leader) keeps its final message
 * (the Query or Sync) unconsumed; at flush time it is re-presented, the
 * leader takes a server like any client, and the merged request goes out
 * through txn's glue as if the leader had sent it (session parameters
 * synced, statement names mapped).  Replies come back through
 * coalesce_server_reply().  The other held clients keep their final message
 * unconsumed too and consume it once answered.
 *
 * The grouping half (struct coal_req, coal_request_parse, the group key and
 * message builders) has no socket code and is unit tested in
 * tests/check_coalesce.c.
 */
#ifndef PGPLUMB_POOLER_COALESCE_H
#define PGPLUMB_POOLER_COALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_sql.h"
#include "objects.h"

/* Statement name the coalescer uses for its own requests. */
#define COAL_STMT_NAME "pgplumb_coalesce"

/* Merged statements committed, by rows: sizes[n] for n < this, the last
 * for COAL_SIZE_BUCKETS - 1 rows or more (SHOW COALESCING_SIZES). */
#define COAL_SIZE_BUCKETS 65

/* Counters (process-wide) for the admin console. */
struct coalesce_stats
{
	uint64_t	rows;			/* rows committed through merged statements */
	uint64_t	statements;		/* merged statements committed */
	uint64_t	fallbacks;		/* merged statements undone and replayed */
	uint64_t	solo;			/* held INSERTs run alone (nobody joined) */
	uint64_t	window_ends;	/* groups sent because insert_coalesce_delay
								 * ended (not because one finished or it was
								 * full) */
	uint64_t	overlapped;		/* groups that took a server while another
								 * group of their table was running */
	uint64_t	sizes[COAL_SIZE_BUCKETS];
};

extern struct coalesce_stats coalesce_stats;

enum coal_kind
{
	COAL_SIMPLE = 0,			/* Query with literal values */
	COAL_EXTENDED				/* [Parse] Bind [Describe] Execute Sync */
};

struct coal_ana;

/* One held INSERT, owning copies of what it needs. */
struct coal_req
{
	enum coal_kind kind;
	int			nmsgs;			/* client messages it spans (last =
								 * Query/Sync) */
	bool		has_parse;		/* the client sent the Parse (owed
								 * ParseComplete) */
	bool		has_describe;	/* the client sent Describe portal (owed
								 * NoData) */
	char	   *sql;			/* statement text */
	uint8_t    *parse_body;		/* extended: query\0 int16 n int32 types[n]
								 * (the cached analysis's key unless
								 * own_parse_body) */
	bool		own_parse_body;
	uint32_t	parse_len;
	int			nparams;		/* extended: parameters bound */
	uint8_t    *bind_rest;		/* extended: Bind body after the two names */
	uint32_t	bind_rest_len;
	uint32_t	values_off;		/* in bind_rest: first parameter length word */
	uint32_t	values_len;		/* bytes of the parameter values */
	bool		bind_pooled;	/* bind_rest is a pooled block (coalesce.c) */
	uint16_t   *formats;		/* nparams format codes, expanded (in
								 * bind_rest's allocation) */
	const struct batch_insert *ins; /* analysis of sql (shared, see ana) */
	struct coal_ana *ana;		/* reference to the analysis */
};

/* Statement lookup for a Bind: Parse body of the client's statement `name`. */
typedef const uint8_t *(*coal_stmt_lookup) (void *arg, const char *name, uint32_t *len);

/*
 * Does buf[0, len) begin with an INSERT the coalescer can hold?  `buf` is
 * the client's unread input starting at the current message.  `lookup`
 * gives statement texts for a Bind without a Parse in the sequence.
 * Returns 1 (taken: *out filled, free with coal_req_free), 0 (not ours) or
 * -1 (out of memory).
 */
int			coal_request_parse(const uint8_t *buf, size_t len, coal_stmt_lookup lookup,
							   void *arg, struct coal_req *out);
void		coal_req_free(struct coal_req *r);

/*
 * Can requests a and b share one multi-row statement?  Same kind, same
 * table, columns and clauses (the text around the VALUES tuple), and for
 * the extended protocol the same statement and parameter count.
 */
bool		coal_req_same_group(const struct coal_req *a, const struct coal_req *b);

/*
 * Bytes of values r adds to a merged statement, as insert_batch_max_bytes
 * counts them: its Bind parameter data (length words included), or for a
 * simple Query the text of its literal tuple.
 */
size_t		coal_req_value_bytes(const struct coal_req *r);

/* Append the merged request for reqs[0..n) (all of one group). */
bool		coal_build_merged(const struct coal_req *const *reqs, int n, struct proto_buf *out);

/* Append one request on its own (replay), as self-contained messages. */
bool		coal_build_single(const struct coal_req *r, struct proto_buf *out);

/* Append the replies a client is owed after a committed merge, without
 * the final ReadyForQuery. */
void		coal_build_success(const struct coal_req *r, struct proto_buf *out);

/* ---- the pooler side ---- */

/*
 * A message of a client that has a held INSERT (c->coal) or, with no
 * server, may start one.  SBUF_FORWARD: not ours, go on as usual.
 */
enum sbuf_ret coalesce_client_packet(struct client *c, struct sbuf_pkt *pkt);

/*
 * A reply of server s whose client leads a merged request.  *ready_done:
 * a ReadyForQuery was consumed here (the caller does its book-keeping).
 * SBUF_FORWARD: the final ReadyForQuery, go on as usual.
 */
enum sbuf_ret coalesce_server_reply(struct server *s, struct sbuf_pkt *pkt, bool *ready_done);

/* The client is being closed: drop or hand over what it holds. */
void		coalesce_client_gone(struct client *c);

#endif							/* PGPLUMB_POOLER_COALESCE_H */
