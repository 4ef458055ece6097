/*
 * admin.h -- the admin console on the virtual database "pgbouncer" (alias
 * "pgplumb"): SHOW commands with PgBouncer's column names, PAUSE, RESUME,
 * RELOAD, KILL, SHUTDOWN, over the simple query protocol.
 */
#ifndef PGPLUMB_POOLER_ADMIN_H
#define PGPLUMB_POOLER_ADMIN_H

#include "objects.h"

/* Run one Query message (body = SQL text with its NUL) from an admin client. */
enum sbuf_ret admin_handle_query(struct client *c, const uint8_t *body, uint32_t len);

/* A PAUSE is answered once the paused pools hold no server connections;
 * called whenever a server connection closes. */
void		admin_pause_check(void);

/* An admin client waiting for its PAUSE went away. */
void		admin_pause_forget(struct client *c);

#endif							/* PGPLUMB_POOLER_ADMIN_H */
