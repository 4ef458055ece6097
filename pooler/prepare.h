/*
 * prepare.h -- protocol-level prepared statements in transaction and
 * statement pooling: each client's statement names mapped to statements
 * shared by every client (keyed by query text + parameter types), each
 * server connection's cache of the statements prepared on it (LRU, bounded
 * by max_prepared_statements), and the queue of requests outstanding on a
 * server that tells which reply belongs to which request.
 *
 * Design.
 *  - A statement (struct ps_stmt) is the body of a Parse after its name:
 *    query text, NUL, parameter count, parameter type OIDs.  Identical
 *    bodies from any client of one pool (ps_scope) are one statement with one server-side name,
 *    "PGPLUMB_<id>", so 100 clients preparing the same query on a pool of 2
 *    cost 2 server-side Parses.  Statements are reference counted by client
 *    maps, server caches and queued requests, and freed at zero.
 *  - A client's map (struct ps_client) holds its names, the unnamed
 *    statement included: an unnamed Parse of a text the server already has
 *    is not parsed again.
 *  - A server's cache (struct ps_server) holds the statements prepared on
 *    that connection, PENDING (Parse sent, not confirmed) or READY, in LRU
 *    order.  A new statement beyond max_prepared_statements evicts the least
 *    recently used READY one with a Close the client never sees.
 *  - Every client request forwarded to the server is queued, so that each
 *    reply is matched with its request.  The pooler never makes up a reply
 *    the server did not send: each client request becomes exactly one server
 *    request whose reply stands for it.  A Parse of a statement the server
 *    already has becomes a Close of a portal nobody uses (closing a portal
 *    that does not exist is not an error), whose CloseComplete goes to the
 *    client as ParseComplete.  A client's Close of a statement becomes the
 *    same portal Close (the server-side statement stays cached for others).
 *    Requests the pooler adds (a Parse before a Bind or Describe that needs
 *    it, an eviction Close, a query that sets session parameters) have their
 *    replies swallowed.  After an ErrorResponse the server ignores requests
 *    up to the next Sync; their queue entries are dropped, and a Parse that
 *    was ignored leaves the cache, a Close that was ignored puts its
 *    statement back.  The client's names follow what the server did: a
 *    client Parse or Close changes the map when sent and records the old
 *    statement in its queue entry; if the server fails or ignores it, the
 *    name goes back (newest first), and a failed unnamed Parse leaves no
 *    unnamed statement.  Sent while the pooler already knows of the error,
 *    they do not change the map at all.  Not covered: a Bind pipelined in
 *    a later Sync segment before the error has come back sees the newer
 *    name, and DEALLOCATE sent through Parse/Bind is not undone.
 *
 * Ownership.  ps_client and ps_server objects belong to the connection that
 * created them; freeing one drops its references.  Message builders write
 * into a caller-owned proto_buf that is reused from message to message, so
 * the steady state (Bind of a known statement) allocates nothing.  Nothing
 * here does I/O.  Single-threaded, like the rest of the pooler.
 */
#ifndef PGPLUMB_POOLER_PREPARE_H
#define PGPLUMB_POOLER_PREPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

/* Name of the portal used as a no-op Close target. */
#define PS_NOP_PORTAL "PGPLUMB_NOP"
/* Prefix of server-side statement names. */
#define PS_NAME_PREFIX "PGPLUMB_"

struct ps_stmt;
struct ps_client;
struct ps_server;

/* What happens to a client message. */
enum ps_result
{
	PS_PASS = 0,				/* forward the message unchanged */
	PS_REPLACED,				/* send `out` to the server instead */
	PS_BAD,						/* malformed message: close the client (08P01) */
	PS_NOMEM					/* out of memory: close the client */
};

/* What happens to a server reply. */
enum ps_reply
{
	PS_REPLY_FORWARD = 0,		/* forward it unchanged */
	PS_REPLY_SWALLOW,			/* the pooler asked for it: drop it */
	PS_REPLY_AS_PARSE_COMPLETE, /* a CloseComplete standing for a
								 * ParseComplete */
	PS_REPLY_AS_DEALLOCATE		/* EmptyQueryResponse standing for the
								 * CommandComplete of a DEALLOCATE */
};

/* Counters for SHOW and tests (process-wide). */
struct ps_stats
{
	uint64_t	stmts;			/* statements alive now */
	uint64_t	server_parses;	/* Parse messages sent to servers */
	uint64_t	parses_skipped; /* client Parses the server already had */
	uint64_t	parses_injected;	/* Parses added before a Bind/Describe */
	uint64_t	evictions;		/* Close sent for LRU eviction */
};

extern struct ps_stats ps_stats;

/*
 * Describe each statement after its first Parse on any server, to know its
 * parameter types and whether it returns rows for a Describe in a failed
 * transaction (prepare.c, describe_probe).  On by default; the Check tests
 * turn it off where they count the messages sent.
 */
extern bool ps_learn_descriptions;

/* Free every statement left (at exit; every client/server freed first). */
void		ps_global_cleanup(void);

/*
 * The identity of a pool's statements: clients of different pools (another
 * database, another user, another database entry) get different statements
 * for the same text, each learning its own description (its parameter
 * types and result differ with the tables and search_path the text finds).
 * `conn` is what the pool's server connections depend on; `search_path`
 * the client's own (NULL: it has set none).
 */
uint64_t	ps_scope(const char *dbname, const char *user, uint64_t conn,
					 const char *search_path);

/*
 * The client's pool identity changed (its own SET search_path, which finds
 * other tables): its next Parses find the statements of `scope`, and a text
 * new there is parsed and described again.
 */
void		ps_client_set_scope(struct ps_client *cl, uint64_t scope);

/*
 * DDL passed through the pooler (a CommandComplete ALTER / CREATE / DROP):
 * statements made before are found by no later Parse (each text is parsed
 * and described again); clients that have one keep it.
 */
void		ps_schema_changed(void);

/* A client's map; its statements are those of `scope` (ps_scope). */
struct ps_client *ps_client_new(uint64_t scope);
void		ps_client_free(struct ps_client *cl);

/* Number of named statements the client has (unnamed not counted). */
uint32_t	ps_client_count(const struct ps_client *cl);

struct ps_server *ps_server_new(void);
void		ps_server_free(struct ps_server *sv);

/* The server's transaction status at its last ReadyForQuery ('I', 'T',
 * 'E'): a Parse the server already has costs a portal Close only where the
 * transaction cannot have failed. */
void		ps_server_set_status(struct ps_server *sv, char status);

/* A ParameterDescription from the server (whole message): kept as the
 * description of the statement described, if the pooler is to learn it. */
void		ps_server_param_desc(struct ps_server *sv, const uint8_t *msg, uint32_t total);

/*
 * The rows probe: a statement of the pooler's that returns rows, on each
 * server connection, that a Describe in a transaction that may have failed
 * is checked with (prepare.c, describe_probe).  It must be parsed where the
 * transaction cannot have failed: after a Parse of the pooler's that a
 * failed transaction refuses, or ahead of a request to a server that is
 * idle and not in a transaction.  Due: the server has none and nothing is
 * outstanding (the caller checks that its last ReadyForQuery said 'I').
 * ps_server_rows_probe() appends its messages to `out` and queues them.
 * Ahead of a request, ps_server_rows_probe_synced() instead ends them with a
 * Sync of their own, so that the request does not run in a transaction
 * they started (now() would be their time): the caller hides their replies
 * up to that ReadyForQuery and closes the connection on an error in them.
 */
bool		ps_server_rows_probe_due(const struct ps_server *sv);
bool		ps_server_rows_probe(struct ps_server *sv, struct proto_buf *out) PP_WUR;
bool		ps_server_rows_probe_synced(struct ps_server *sv, struct proto_buf *out) PP_WUR;

/* Statements in the server's cache, and requests outstanding. */
uint32_t	ps_server_cached(const struct ps_server *sv);
uint32_t	ps_server_outstanding(const struct ps_server *sv);

/* The client dropped every statement name (DISCARD ALL). */
void		ps_client_forget_all(struct ps_client *cl);

/* The statement of the unnamed portal (the last Bind to portal ""), or NULL. */
const struct ps_stmt *ps_server_portal_stmt(const struct ps_server *sv);

/* The server dropped every prepared statement (DISCARD ALL, DEALLOCATE ALL). */
void		ps_server_forget_all(struct ps_server *sv);

/*
 * One client message of the extended or simple protocol on its way to
 * server `sv`.  `msg` is the whole message (header included, `total`
 * bytes); Parse, Bind, Describe and Close must be complete, other types
 * only need their header.  max_prepared bounds the server's cache.
 * Returns PS_PASS (the request was queued; forward the message) or
 * PS_REPLACED (`out` was reset and holds the messages to send instead; the
 * original is consumed), or PS_BAD / PS_NOMEM.
 */
enum ps_result ps_client_message(struct ps_client *cl, struct ps_server *sv,
								 const uint8_t *msg, uint32_t total, int max_prepared,
								 struct proto_buf *out) PP_WUR;

/*
 * A Parse (body after the header) or Close of a statement from a client
 * that has no server: only the client's map changes; the server-side Parse
 * happens when a Bind or Describe needs it (so errors in the query text show
 * there).  Returns PS_PASS when the client's map took it (the pooler
 * answers ParseComplete / CloseComplete), PS_REPLACED when the message must
 * go to a server after all (a Close of a portal), PS_BAD, PS_NOMEM.
 */
enum ps_result ps_client_unlinked(struct ps_client *cl, const uint8_t *msg,
								  uint32_t total) PP_WUR;

/*
 * The client sent a simple Query that is exactly one DEALLOCATE statement
 * (see ps_query_is_deallocate): forget the name(s), and replace the query by
 * an empty one whose EmptyQueryResponse becomes the client's CommandComplete.
 */
enum ps_result ps_client_deallocate_query(struct ps_client *cl, struct ps_server *sv,
										  const char *sql, size_t len,
										  struct proto_buf *out) PP_WUR;

/*
 * If `sql` (not NUL-terminated, `len` bytes) is a single DEALLOCATE [PREPARE]
 * name | ALL statement, store the name (empty for ALL) in name[namelen] and
 * return true.
 */
bool		ps_query_is_deallocate(const char *sql, size_t len, char *name, size_t namelen);

/* Queue a request the pooler sends itself (a simple Query whose replies,
 * up to its ReadyForQuery, are all swallowed). */
bool		ps_push_injected_query(struct ps_server *sv) PP_WUR;

/*
 * True if ps_server_reply() will do more than forward this reply: the
 * caller then needs the whole message and no pending forwarded bytes.
 */
bool		ps_reply_is_special(const struct ps_server *sv, uint8_t type);

/*
 * One server reply of type `type` (asynchronous messages -- NoticeResponse,
 * NotificationResponse, ParameterStatus -- are never matched and always
 * forwarded).  Moves the request queue on and says what to do with it.
 */
enum ps_reply ps_server_reply(struct ps_server *sv, uint8_t type);

/*
 * Would a client message sent now start a new Sync segment while an earlier
 * one may still fail and take back a change of the client's names or of the
 * server's cache (its Parse, Close, or a Parse the pooler added)?  The
 * message must then wait for those replies: translated now, it would use
 * names the server may never have had.
 */
bool		ps_server_unsettled(const struct ps_server *sv);

/* The statement of the request the next reply belongs to (the Bind's, for
 * an Execute of the unnamed portal), or NULL. */
const struct ps_stmt *ps_server_current_stmt(const struct ps_server *sv);

/* Query text of a statement (NUL-terminated). */
const char *ps_stmt_text(const struct ps_stmt *st);

/* Whether the text may change session parameters (varcache_sql_maybe_set,
 * worked out once per statement); its length in *text_len. */
bool		ps_stmt_maybe_set(const struct ps_stmt *st, uint32_t *text_len);

/*
 * The Parse body (query\0 int16 n int32 types[n]) of the client's statement
 * `name` ("" = unnamed), or NULL if the client has none by that name.
 */
const uint8_t *ps_client_stmt_body(struct ps_client *cl, const char *name, uint32_t *len);

/* Server-side name, "PGPLUMB_<id>". */
const char *ps_stmt_name(const struct ps_stmt *st);

/*
 * Statement names in replies.  The server names a statement in some error
 * texts (Bind: "bind message supplies 1 parameters, but prepared statement
 * \"PGPLUMB_7\" requires 0"; Parse: "prepared statement \"...\" already
 * exists"; Describe/Bind: "... does not exist").  Each queued Parse, Bind and
 * Describe of a client statement records the client's name, and an
 * ErrorResponse or NoticeResponse that answers it has `statement "<server
 * name>"` turned back into `statement "<client name>"` in every field, as a
 * direct connection would have said it.  Only these two reply types ask
 * (ps_reply_renames), so rows and completions cost nothing more.  A Bind or
 * Describe of a statement the client does not have whose name looks like a
 * pooler name (PGPLUMB_<digits>) goes to the server as PGPLUMB_<its name>,
 * so that it cannot reach another client's statement.
 */
/* True if the reply now arriving answers a request whose statement the
 * server knows by another name. */
bool		ps_reply_renames(const struct ps_server *sv);

/* For an ErrorResponse that answers such a request: if it is "cached plan
 * must not change result type" (0A000 from RevalidateCachedQuery, DDL the
 * pooler did not see), the statement is stale: a new Parse of its text
 * gets a new one, parsed again (a driver that prepares again after the
 * error recovers, as on a direct connection). */
void		ps_reply_error(const struct ps_server *sv, const uint8_t *msg, uint32_t total);

/* For that reply (`msg`, `total` bytes): true if `out` was reset and holds
 * the message with the client's name; false if no field names the
 * statement (forward it as it is). */
bool		ps_reply_rename(const struct ps_server *sv, const uint8_t *msg, uint32_t total,
							struct proto_buf *out);

/* The same for given names: every `statement "<from>"` in the fields of an
 * ErrorResponse/NoticeResponse becomes `statement "<to>"` (for tests). */
bool		ps_rename_in_reply(const uint8_t *msg, uint32_t total, const char *from,
							   const char *to, struct proto_buf *out);

/* The command tag the pooler answers a DEALLOCATE with, for a queued
 * PS_REPLY_AS_DEALLOCATE ("DEALLOCATE" or "DEALLOCATE ALL"). */
const char *ps_dealloc_tag(const struct ps_server *sv);

#endif							/* PGPLUMB_POOLER_PREPARE_H */
