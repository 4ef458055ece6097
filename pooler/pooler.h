/*
 * pooler.h -- process-level actions: the listening sockets (TCP and unix),
 * accepting connections, and reloading the configuration.
 */
#ifndef PGPLUMB_POOLER_POOLER_H
#define PGPLUMB_POOLER_POOLER_H

#include <stdbool.h>

#include "util.h"

/* Open listen_addr:listen_port and the unix socket; 0 or -1 (logged). */
int			pooler_listen(void) PP_WUR;

/* Close the listeners (shutdown). */
void		pooler_stop_listening(void);

/* Re-read the config file; on error the old one stays (0 / -1, logged). */
int			pooler_reload(void);

#endif							/* PGPLUMB_POOLER_POOLER_H */
