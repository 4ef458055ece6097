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

#endif							/* PGPLUMB_POOLER_ADMIN_H */
