/*
 * janitor.h -- timeouts as per-object deadlines: each client, server and
 * pool has one libevent timer (libevent keeps them in a min-heap), armed at
 * the object's nearest deadline and re-evaluated when it fires.  No periodic
 * scan of any list.
 */
#ifndef PGPLUMB_POOLER_JANITOR_H
#define PGPLUMB_POOLER_JANITOR_H

#include <stdint.h>

#include "objects.h"

/* Recompute the client's nearest deadline; arm it if earlier than armed. */
void		janitor_client_update(struct client *c);
void		janitor_server_update(struct server *s);

/* Wake the pool at `at` (retry a failed login, refill min_pool_size). */
void		janitor_pool_at(struct pool *p, int64_t at);

/* Give an object's timer back (disconnect); *evp becomes NULL. */
void		janitor_timer_put(struct event **evp);

/* Free the spare timers (exit). */
void		janitor_cleanup(void);

void		janitor_client_cb(evutil_socket_t fd, short what, void *arg);
void		janitor_server_cb(evutil_socket_t fd, short what, void *arg);
void		janitor_pool_cb(evutil_socket_t fd, short what, void *arg);

/* SHOW STATS averages: recomputed every stats_period (a statistics tick,
 * not a timeout scan: it only walks pools). */
void		janitor_stats_start(void);
void		janitor_stats_stop(void);

/*
 * Graceful shutdown, PgBouncer's semantics.  Safe (SIGINT, SHUTDOWN): stop
 * accepting, close each client once out of its transaction.  Super safe
 * (SIGTERM, wait_for_clients): stop accepting, keep serving the connected
 * clients until they leave.  Either waits at most shutdown_wait_timeout,
 * then closes the rest with 57P01 and exits.  A second request closes
 * everything at once.
 */
void		janitor_start_shutdown(const char *why, bool wait_for_clients);

/* Called whenever a client or server closes during shutdown. */
void		janitor_shutdown_check(void);

#endif							/* PGPLUMB_POOLER_JANITOR_H */
