/*
 * batch.h -- batch-insert rewriting as a pure state machine over protocol
 * messages, one per client connection, with no socket code: the core hands it
 * every complete message in each direction and sends what it leaves in its
 * output buffers.
 *
 * What it rewrites:
 *  - an extended-protocol segment (the messages up to and including a Sync)
 *    that starts with a Parse of, or a Bind to, a rewritable single-row
 *    INSERT (see batch_sql.h) and holds a run of at least two executions
 *    Bind [Describe portal] Execute of the same statement text, unnamed
 *    portal; the run is sent as multi-row INSERTs of at most max_rows rows;
 *  - a simple-protocol Query whose text is two or more single-row INSERTs
 *    with literal values into the same table and columns.
 * Everything else passes through untouched and costs one look at the type
 * byte (and, for Parse and Query, a look at the first word); a client that
 * has sent no INSERT has no rewriter at all (batch_peek()).
 *
 * How a rewritten segment runs (the "attempt"): inside an explicit
 * transaction (last ReadyForQuery said 'T') a SAVEPOINT comes first; then the
 * segment with each run replaced by the multi-row statements, then Flush.  The
 * replies are consumed: replies to untouched messages are kept, replies to
 * the multi-row statements are turned into what each original execution
 * would have received (BindComplete, RowDescription/NoData, its own RETURNING
 * row, CommandComplete "INSERT 0 1").  When every reply checks out (each
 * multi-row statement reports exactly as many rows as it carried), Sync is
 * sent and, at its ReadyForQuery, the kept replies go to the client.  On any
 * error, a row count that does not match (ON CONFLICT DO NOTHING skipping
 * a row, a trigger suppressing one), or a NOTICE from a multi-row statement
 * (PostgreSQL would have put each row's between the replies), the attempt is
 * undone -- the implicit transaction fails at Sync, or ROLLBACK TO
 * SAVEPOINT -- statements the attempt created are closed, and the client's original messages are replayed
 * verbatim, their replies passed straight through: the client sees exactly
 * PostgreSQL's own replies and errors, at the row where they occur.
 *
 * With settings.stream_rows (insert_batch_stream_rows) the multi-row
 * statements are followed by a Flush each, and once a statement's reply
 * checks out the replies kept so far go to the client at once (not those of
 * a RETURNING statement, nor any once a Notice, ParameterStatus or a relayed
 * statement's result came: a replay could give other bytes).  A replay's
 * first replies must then equal the bytes streamed and are dropped; if they
 * differ the batch fails (BATCH_FAILED: the caller closes both sides).
 *
 * While an attempt is in flight, messages the client sends are queued and
 * handled after it.  A segment is only held when no earlier reply is
 * outstanding, so the transaction status it starts in is known.
 *
 * Ownership: struct batch owns copies of everything it holds.  The output
 * buffers are owned by the batch and must be drained (sent and reset with
 * proto_buf_reset) by the caller after every call.
 *
 * How the core drives it (pooler/tests/batch/batch_proxy.c does the same over
 * blocking sockets):
 *  - one struct batch per client whose database has insert_batching = on,
 *    created lazily, freed with the client: until the client sends a message
 *    batch_peek() calls BATCH_PEEK_MAYBE (a Parse or Query of an INSERT) at a
 *    moment its server owes it no reply (or it has none), it has no rewriter
 *    and its traffic pays only a look at the type byte (Parse and Query: and
 *    the first word); on creation, batch_join() tells it the replies still
 *    outstanding and the last ReadyForQuery status;
 *  - client.c, for every client message once active: ask the sbuf for the
 *    whole message (SBUF_NEED_FULL) when it is a Parse, Bind, Describe,
 *    Execute, Close, Sync, Flush or Query, or whenever batch_busy(); then
 *    batch_client_message(): FORWARD -> the usual relay and accounting;
 *    TAKEN -> send batch_to_server() to the server and batch_to_client() to
 *    the client, reset both, SBUF_SKIP;
 *  - server.c, for every server message of a linked client: same with
 *    batch_server_message() (whole messages while batch_busy(), and always for
 *    ReadyForQuery/ErrorResponse).  On FORWARD send batch_to_client() first,
 *    then relay the message (the ReadyForQuery ending a rewritten segment
 *    comes back as FORWARD after the replies it completes, so the core's own
 *    ReadyForQuery handling -- releasing the server in transaction pooling --
 *    applies to it).  The ReadyForQuery messages the client is owed are those
 *    forwarded plus those inside batch_to_client(): count them there for the
 *    core's expect_rfq / query time accounting; the rewriter's own Syncs and
 *    Queries are answered to it and never reach the client;
 *  - never release the server (transaction pooling) while batch_busy(); in
 *    session pooling call batch_server_reset() when the client is linked to
 *    a different server;
 *  - transaction and statement pooling: the rewriter's messages for the
 *    server go through the prepared-statement mapping (txn.c) as if the
 *    client had sent them, so its statement names are client names there too
 *    (the multi-row statements are shared by clients like any other, and
 *    re-prepared on whichever server a client gets), and its replies come
 *    back through the same mapping.  Parse and Close of statements the
 *    pooler answers itself while the client has no server are shown to the
 *    rewriter with batch_note_local();
 *  - BATCH_FAILED: close the client and the server connection (out of memory
 *    or a reply that cannot belong to what was sent).
 */
#ifndef PGPLUMB_BATCH_H
#define PGPLUMB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "batch_sql.h"

/*
 * Names the rewriter uses on server connections; clients must not use them.
 * Multi-row statements are kept prepared as BATCH_STMT_NAME "_<n>" (at most
 * 16 per client, least recently used closed first); one-off ones use
 * BATCH_STMT_NAME and are closed at once.
 */
#define BATCH_STMT_NAME      "pgplumb_batch"
#define BATCH_SAVEPOINT_NAME "pgplumb_batch_sp"
#define BATCH_FAIL_PORTAL    "pgplumb_batch_fail"

/*
 * The table and, when it is partitioned, every partition below it
 * (pg_partition_tree gives nothing for a plain table).
 */
#define BATCH_CATALOG_TREE \
	"(SELECT pg_catalog.to_regclass($1) UNION " \
	"SELECT relid FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass($1)))"

/*
 * Three questions about a table, $1 as the INSERT names it (resolved with the
 * session's search_path as the INSERT is).  First: does it have what would
 * see a multi-row INSERT differently from single-row ones -- a
 * statement-level INSERT trigger, an INSERT trigger with a transition table,
 * or an INSERT rule?  Second: could an INSERT into it report fewer rows than
 * it carried -- it is not a plain table (partitions, views and foreign
 * tables have their own ways), or it has a BEFORE or INSTEAD OF row-level
 * INSERT trigger?  When not, a multi-row INSERT without ON CONFLICT needs no
 * row-count guard.  Third: could an INSERT into it send a message per row
 * (a NOTICE or WARNING that PostgreSQL puts between the replies of single-row
 * INSERTs) -- it is neither a plain nor a partitioned table, or it or one of
 * its partitions is a foreign table or has any row-level INSERT trigger, a
 * column of a domain type, or a default, generated column, constraint, index
 * expression or predicate, or row-level security policy calling a function
 * that is not built in?  When so, an attempt into it
 * keeps its Sync until its replies came without such a message (a table
 * whose rows do raise one is then never rewritten).
 */
#define BATCH_CATALOG_SQL \
	"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = pg_catalog.to_regclass($1) " \
	"AND NOT tgisinternal AND (tgtype & 4) <> 0 AND ((tgtype & 1) = 0 OR tgnewtable IS NOT NULL)) " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite WHERE ev_class = pg_catalog.to_regclass($1) " \
	"AND ev_type = '3'), " \
	"COALESCE((SELECT relkind <> 'r' FROM pg_catalog.pg_class " \
	"WHERE oid = pg_catalog.to_regclass($1)), true) " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = pg_catalog.to_regclass($1) " \
	"AND NOT tgisinternal AND (tgtype & 5) = 5 AND (tgtype & 66) <> 0), " \
	"COALESCE((SELECT relkind NOT IN ('r', 'p') FROM pg_catalog.pg_class " \
	"WHERE oid = pg_catalog.to_regclass($1)), true) " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid IN " BATCH_CATALOG_TREE " " \
	"AND relkind NOT IN ('r', 'p')) " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid IN " BATCH_CATALOG_TREE " " \
	"AND NOT tgisinternal AND (tgtype & 5) = 5) " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type y ON y.oid = a.atttypid " \
	"WHERE a.attrelid IN " BATCH_CATALOG_TREE " AND a.attnum > 0 AND NOT a.attisdropped " \
	"AND y.typtype = 'd') " \
	"OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d " \
	"WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid >= 16384 " \
	"AND ((d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid IN " \
	"(SELECT oid FROM pg_catalog.pg_attrdef WHERE adrelid IN " BATCH_CATALOG_TREE ")) " \
	"OR (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid IN " \
	"(SELECT oid FROM pg_catalog.pg_constraint WHERE conrelid IN " BATCH_CATALOG_TREE ")) " \
	"OR (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid IN " \
	"(SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid IN " BATCH_CATALOG_TREE ")) " \
	"OR (d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid IN " \
	"(SELECT oid FROM pg_catalog.pg_policy WHERE polrelid IN " BATCH_CATALOG_TREE "))))"

/* insert_batch_form: the same numbers as enum cfg_batch_form. */
enum batch_form
{
	BATCH_FORM_VALUES = 0,
	BATCH_FORM_UNNEST = 1,
	BATCH_FORM_AUTO = 2
};

/*
 * insert_batch_form: the element type of each column an INSERT fills,
 * $1 the table as the INSERT names it, $2 its column list as text[] (NULL:
 * the table's first $3 columns), one row per column in the INSERT's order:
 * the type's oid and name (format_type with typmod -1: "bpchar", not
 * "character", which means char(1)), both NULL when the unnest form could
 * read a value differently -- a domain, a type without an array type (an
 * array itself: $1::int4[][] would be int4[]), one whose array delimiter is
 * not a comma (box), a pseudo-type -- or the column is not found.
 */
#define BATCH_TYPES_SQL \
	"SELECT t.oid, pg_catalog.format_type(t.oid, -1) FROM pg_catalog.unnest(COALESCE($2, " \
	"ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a " \
	"WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped " \
	"ORDER BY a.attnum))) WITH ORDINALITY AS c(name, ord) " \
	"LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = pg_catalog.to_regclass($1) " \
	"AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped " \
	"LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid AND t.typtype IN ('b', 'c', 'e', 'm', 'r') " \
	"AND t.typarray <> 0 AND t.typdelim = ',' WHERE c.ord <= $3 ORDER BY c.ord"

/*
 * When cached catalog answers (BATCH_CATALOG_SQL per table, BATCH_TYPES_SQL
 * per INSERT shape) are asked again.  One object shared by every rewriter
 * and the coalescer, owned by the caller: a rewriter drops everything it
 * cached before its next rewrite when `epoch` moved since it began caching
 * (DDL seen through the pooler, RELOAD), or when its oldest answer was asked
 * `ttl_us` or more ago (insert_batch_catalog_ttl; 0: only on epoch).
 */
struct batch_catalog
{
	uint64_t	epoch;
	uint64_t	ttl_us;
};

struct batch_settings
{
	int			max_rows;		/* rows per multi-row statement
								 * (insert_batch_max_rows) */
	size_t		max_bytes;		/* largest segment held (64 MB) */
	size_t		max_stmt_bytes; /* most bytes of values per multi-row
								 * statement (insert_batch_max_bytes; 0: no
								 * limit) */
	int			stream_rows;	/* > 0: a run is cut into statements of at
								 * most this many rows, each followed by a
								 * Flush, and each one's replies go to the
								 * client as soon as its CommandComplete
								 * checks out (insert_batch_stream_rows) */
	int			form;			/* enum batch_form (insert_batch_form):
								 * pipelined runs as multi-row VALUES, or as
								 * INSERT ... SELECT * FROM unnest($1::T[],
								 * ...) where the column types are known and
								 * that keeps the meaning, or auto */
	int			max_statements; /* statement names remembered per client */
	bool		check_tables;	/* look up statement-level triggers and rules
								 * once per table before rewriting into it
								 * (always, but for unit tests of other paths) */
	const struct batch_catalog *catalog;	/* NULL: answers are never asked
											 * again */
	int64_t		catalog_ttl_us; /* 0: catalog->ttl_us; > 0: this client's TTL
								 * (a [databases] key); < 0: none, only the
								 * epoch */
	bool		literal_params; /* multi-statement strings: send their
								 * literals as parameters of a prepared
								 * multi-row INSERT (see
								 * batch_sql_literal_params), parsed and
								 * planned once per shape instead of once per
								 * string */
};

/* Why a rewritten segment was undone and replayed as sent. */
enum batch_fallback
{
	BATCH_FB_ERROR,				/* an error (duplicate key, NOT NULL, bad
								 * input...) */
	BATCH_FB_ROWS,				/* a row count differed (ON CONFLICT DO
								 * NOTHING, a trigger skipping rows) */
	BATCH_FB_TABLE,				/* the table has a statement-level INSERT
								 * trigger, a transition table or an INSERT
								 * rule, or its rows raised a NOTICE */
	BATCH_FB_NREASONS
};

/* Counters for SHOW BATCHING. */
struct batch_stats
{
	uint64_t	batches;		/* multi-row statements of rewritten segments */
	uint64_t	rows;			/* rows carried by them */
	uint64_t	segments;		/* segments or queries rewritten successfully */
	uint64_t	fallbacks;		/* attempts undone and replayed */
	uint64_t	fallback[BATCH_FB_NREASONS];	/* fallbacks by reason */
};

/* Add `from` to `to` (per-database totals). */
void		batch_stats_add(struct batch_stats *to, const struct batch_stats *from);

enum batch_action
{
	BATCH_FORWARD = 0,			/* not taken: the caller relays the message
								 * itself */
	BATCH_TAKEN = 1,			/* taken: the caller sends the output buffers */
	BATCH_FAILED = -1			/* out of memory or an impossible reply: close
								 * both sides */
};

struct batch;

struct batch *batch_new(const struct batch_settings *settings);
void		batch_free(struct batch *b);

/*
 * A rewriter created after the client's first ReadyForQuery (at its first
 * INSERT candidate): what it would have counted had it seen the traffic
 * before.  `outstanding`: ReadyForQuery replies the client is still owed for
 * units (Sync, Query, FunctionCall) it sent; `in_segment`: messages sent since
 * its last Sync (an extended-protocol segment already under way is relayed
 * as it is); `status`: the last ReadyForQuery status ('I', 'T' or 'E').  A
 * new rewriter assumes 0, false and 'I'.  Call it before any message.
 */
void		batch_join(struct batch *b, int outstanding, bool in_segment, char status);

/*
 * The cheap first check, made before a client has a rewriter: could this
 * client message start something the rewriter takes -- a Parse or a Query
 * whose text begins (after whitespace and comments) with the word INSERT?
 * msg holds the first `avail` bytes of a message of `total` bytes, header
 * included.  Every other message type is BATCH_PEEK_NO at once.
 */
enum batch_peek
{
	BATCH_PEEK_NO,				/* not an INSERT candidate */
	BATCH_PEEK_MAYBE,			/* an INSERT candidate (the analysis decides) */
	BATCH_PEEK_MORE				/* the bytes seen do not tell: ask with all of
								 * it */
};
enum batch_peek batch_peek(const uint8_t *msg, size_t avail, size_t total);

/*
 * Could this client message (its first `avail` bytes) change what
 * BATCH_CATALOG_SQL or BATCH_TYPES_SQL answers: a Query or Parse whose text
 * begins (after whitespace and comments) with CREATE, ALTER or DROP?  Other
 * types and other first letters cost one test.  A first word not within
 * `avail` bytes says false.  The caller moves batch_catalog.epoch on true.
 */
bool		batch_peek_ddl(const uint8_t *msg, size_t avail);

/*
 * A complete message from the client (type byte, length and body: len bytes).
 * On BATCH_FORWARD the output buffers are empty and the caller relays msg.
 */
enum batch_action batch_client_message(struct batch *b, const uint8_t *msg, size_t len)
			__attribute__((warn_unused_result));

/*
 * The bulk of a held segment, per row: a complete Bind, Describe or Execute
 * that only needs appending to it (room already there, no limit reached).
 * true: taken exactly as batch_client_message() would have taken it, with
 * nothing in the output buffers; false: nothing done, call
 * batch_client_message().  The caller's cheap path for most messages of a
 * pipelined batch.
 */
bool		batch_collect(struct batch *b, const uint8_t *msg, size_t len);

/* A complete message from the server, same contract towards the client. */
enum batch_action batch_server_message(struct batch *b, const uint8_t *msg, size_t len)
			__attribute__((warn_unused_result));

/*
 * A client Parse or Close (complete message) that the pooler answered itself
 * without a server (transaction pooling): remember or forget the statement
 * as the client now sees it.  false: out of memory.
 */
bool		batch_note_local(struct batch *b, const uint8_t *msg, size_t len)
			__attribute__((warn_unused_result));

/* Output to send after each call (then proto_buf_reset them). */
struct proto_buf *batch_to_server(struct batch *b);
struct proto_buf *batch_to_client(struct batch *b);

/*
 * The client's server connection was replaced or reset (DISCARD ALL):
 * forget the multi-row statements the rewriter keeps prepared on it.  Only
 * call it while !batch_busy().
 */
void		batch_server_reset(struct batch *b);

/*
 * Would batch_client_message() take this client message (rather than let it
 * be relayed)?  No side effects: lets the caller flush bytes it already
 * relayed before the batch starts sending its own.
 */
bool		batch_wants(struct batch *b, const uint8_t *msg, size_t len);

/* True while the batch holds or runs a segment (the server is busy for it). */
bool		batch_busy(const struct batch *b);
const struct batch_stats *batch_stats(const struct batch *b);

#endif							/* PGPLUMB_BATCH_H */
