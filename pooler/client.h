/*
 * client.h -- the client side of the pooler: startup packet, SSL/GSS
 * refusal, CancelRequest, authentication (driven by auth.c), the welcome
 * (ParameterStatus + pooler-issued BackendKeyData), and relaying the
 * client's messages to its server, counting the replies it must wait for.
 */
#ifndef PGPLUMB_POOLER_CLIENT_H
#define PGPLUMB_POOLER_CLIENT_H

#include "objects.h"

/* A new (non-blocking) connection from a listener. */
void		client_accept(int fd, const struct sockaddr *sa, socklen_t salen, bool is_unix);
enum sbuf_ret client_proto(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt);

/* Send AuthenticationOk's followers (pool welcome, key, ReadyForQuery). */
bool		client_send_welcome(struct client *c) PP_WUR;

/* insert_batching: send the rewriter's output buffers (client.c, server.c). */
bool		client_batch_output(struct client *c, struct server *s) PP_WUR;

#endif							/* PGPLUMB_POOLER_CLIENT_H */
