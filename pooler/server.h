/*
 * server.h -- the server side of the pooler: connecting and logging in to
 * PostgreSQL, relaying its replies to the linked client, finding transaction
 * ends from ReadyForQuery headers, running server_reset_query.
 */
#ifndef PGPLUMB_POOLER_SERVER_H
#define PGPLUMB_POOLER_SERVER_H

#include "objects.h"

/* Resolve, connect and start the login; the server goes to SV_LOGIN. */
int			server_connect(struct server *s) PP_WUR;

/* Send server_reset_query (SV_USED) or server_check_query (SV_TESTED);
 * the server returns to SV_IDLE when it answers with ReadyForQuery idle. */
int			server_send_query(struct server *s, const char *sql) PP_WUR;
enum sbuf_ret server_proto(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt);

#endif							/* PGPLUMB_POOLER_SERVER_H */
