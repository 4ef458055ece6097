/*
 * txn.h -- what makes a pooled connection look like a direct one: the glue
 * between the relay (client.c, server.c) and prepare.c (prepared statements
 * in transaction and statement pooling) and varcache.c (session parameters
 * in every pool mode), plus clear errors for what transaction pooling
 * cannot do (session advisory locks, LISTEN, cursors WITH HOLD, SQL-level
 * PREPARE).
 *
 * The relay calls in at a few points: client startup parameters, the
 * welcome, each client message forwarded to a linked server, each reply of
 * a linked server, ParameterStatus of servers nobody uses, and connection
 * teardown.  Each hook returns the relay's own sbuf decision, so that
 * NEED_FULL and WAIT re-present the same message and no state changes twice.
 *
 * Costs.  In session mode with nothing to sync, a client message costs a
 * generation comparison.  In transaction mode every reply and request is
 * matched with a small ring entry; only Parse/Bind/Describe/Close/Execute
 * and queries beginning with SET/RESET/DISCARD/DEALLOCATE/LISTEN/PREPARE/
 * DECLARE/SELECT pg_advisory_lock are read beyond their header.
 */
#ifndef PGPLUMB_POOLER_TXN_H
#define PGPLUMB_POOLER_TXN_H

#include "objects.h"

/* Settings changed (start, reload). */
void		txn_configure(void);

/* Free process-wide state (exit). */
void		txn_cleanup(void);

/* A startup parameter of the client; true if txn keeps it (a tracked
 * session parameter), false if it is not ours to judge.  Out of memory
 * returns true and leaves the value untracked. */
bool		txn_client_startup_param(struct client *c, const char *name, const char *value);

/*
 * Append the ParameterStatus messages a client gets at login: the pool's
 * (its first server login), with the client's own startup values for the
 * tracked parameters.  Also sets the client's starting values.
 */
bool		txn_client_welcome(struct client *c, struct proto_buf *b) PP_WUR;

/*
 * A client message while the client has no server (transaction pooling):
 * Parse and Close of statements, and the Sync and Flush after them, are
 * answered by the pooler, so that a client preparing statements does not
 * wait for a server (pgbench's PQprepare would otherwise block its other
 * clients, which hold the servers).  SBUF_FORWARD: find a server for it.
 */
enum sbuf_ret txn_client_unlinked_packet(struct client *c, struct sbuf_pkt *pkt);

/* A client message on its way to linked server s; `was_busy` as in
 * work_packet.  Returns the relay's decision (SBUF_FORWARD to go on). */
enum sbuf_ret txn_client_packet(struct client *c, struct server *s, struct sbuf_pkt *pkt,
								bool was_busy);

/*
 * insert_batching outside session pooling: send the rewriter's messages for
 * the server as the client's own (prepared-statement names mapped, replies
 * matched), after what is held.  false: a connection was closed.
 */
/*
 * Before the insert rewriter sees a message (it must see each one once): a
 * message that starts a Sync segment past one that may still fail, in
 * transaction pooling with prepared statements tracked, waits for that
 * segment's ReadyForQuery (SBUF_WAIT; the client is resumed then).
 * SBUF_FORWARD: go on; SBUF_CLOSED.
 */
enum sbuf_ret txn_client_wait(struct client *c, struct server *s, uint8_t t);
bool		txn_batch_send(struct client *c, struct server *s, const struct proto_buf *msgs) PP_WUR;

/* Does txn.c hold bytes of the client's not yet sent to its server? */
bool		txn_client_holds(const struct client *c);

/*
 * A reply from server s linked to a client, before the relay's own
 * handling.  *done: the returned decision is final; otherwise the relay
 * goes on with the reply and tells txn_server_after() what it decided.
 */
enum sbuf_ret txn_server_packet(struct server *s, struct sbuf_pkt *pkt, bool *done);

/*
 * The relay decided `r` about the reply txn_server_packet() let through.
 * Returns the decision to keep: SBUF_SKIP when txn sent the client its own
 * copy of a reply the relay was to forward (an error naming a statement,
 * renamed while insert_batching or insert_coalescing handles the client).
 */
enum sbuf_ret txn_server_after(struct server *s, struct sbuf_pkt *pkt, enum sbuf_ret r);

/* A ParameterStatus or CommandComplete of a server nobody uses (login,
 * server_reset_query, health check): recorded as the server's values. */
enum sbuf_ret txn_server_unlinked_packet(struct server *s, struct sbuf_pkt *pkt);

/* The server is about to run server_reset_query. */
void		txn_server_reset_sent(struct server *s, const char *query);

/*
 * insert_coalescing: the Parse body (query\0 int16 n int32 types[n]) of the
 * statement `name` the client prepared without a server, or NULL.
 */
const uint8_t *txn_client_stmt_body(struct client *c, const char *name, uint32_t *len);

/* insert_coalescing: do two clients have the same session parameters? */
bool		txn_clients_same_vars(const struct client *a, const struct client *b);

void		txn_client_free(struct client *c);
void		txn_server_free(struct server *s);

/* Requests of the server still waiting for replies in the matching queue. */
uint32_t	txn_server_outstanding(const struct server *s);

/* ReadyForQuery replies owed to the pooler's own sync queries (counted in expect_rfq). */
int			txn_server_syncs_pending(const struct server *s);

#endif							/* PGPLUMB_POOLER_TXN_H */
