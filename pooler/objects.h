/*
 * objects.h -- clients, servers and pools: their states and the lists that
 * hold them, the one function per side that changes state, linking clients
 * to servers, launching server connections and the cancel-key table.
 *
 * Every client and server is on exactly one list, the one its state names.
 * Pools live on pool_list and are never freed while the process runs (a
 * pool is a few hundred bytes; PgBouncer keeps them too).  Closing an object
 * moves it to a just-free list; it is freed at the end of the loop turn, so
 * a callback that closed its own object can still look at it safely.
 *
 * Single-threaded by design: all of this state would become per-worker
 * (one event base, its own pools) if several loops are added later.
 */
#ifndef PGPLUMB_POOLER_OBJECTS_H
#define PGPLUMB_POOLER_OBJECTS_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "batch.h"
#include "cfg.h"
#include "list.h"
#include "sbuf.h"

#define NAME_MAX_LEN 64			/* PostgreSQL's NAMEDATALEN */
#define ADMIN_DBNAME "pgbouncer"
#define ADMIN_DBNAME_ALIAS "pgplumb"

struct pool;
struct server;
struct txn_client;
struct txn_server;
struct coal_entry;

enum client_state
{
	CL_FREE = 0,				/* on no list: being set up */
	CL_JUSTFREE,				/* justfree_client_list: closed, freed at loop
								 * end */
	CL_LOGIN,					/* login_client_list: startup packet and auth */
	CL_WAITING_LOGIN,			/* pool->waiting_login_list: authenticated,
								 * waits for the pool's first server login
								 * (welcome) */
	CL_WAITING,					/* pool->waiting_client_list: wants a server
								 * (FIFO) */
	CL_ACTIVE					/* pool->active_client_list: idle or linked */
};

enum server_state
{
	SV_FREE = 0,				/* on no list: being set up */
	SV_JUSTFREE,				/* justfree_server_list: closed, freed at loop
								 * end */
	SV_LOGIN,					/* pool->new_server_list: connecting, logging
								 * in */
	SV_IDLE,					/* pool->idle_server_list: ready, unlinked */
	SV_ACTIVE,					/* pool->active_server_list: linked to a
								 * client */
	SV_USED,					/* pool->used_server_list: released, running
								 * server_reset_query */
	SV_TESTED,					/* pool->tested_server_list: idle too long,
								 * running server_check_query before reuse */
	SV_CANCEL					/* cancel_server_list: carries one
								 * CancelRequest */
};

/* What a client needs only while it logs in (freed once it joins a pool,
 * whose names it uses from then on). */
struct client_login
{
	char		dbname[NAME_MAX_LEN];
	char		username[NAME_MAX_LEN];
};

/*
 * Laid out small: an idle client is this struct, its share of libevent's
 * per-socket state and a few shared pieces (interned session parameters);
 * everything else (login names, auth state, transaction-mode state, buffers,
 * timers) is allocated only while in use.
 */
struct client
{
	struct list_node node;
	struct sbuf sb;
	struct pool *pool;
	struct server *link;		/* linked server while SV_ACTIVE */
	struct client_login *login; /* names while logging in, else NULL */
	char	   *appname;		/* malloc'd, NULL if the client sent none */
	struct client *hash_next;
	struct auth_server *auth;
	struct txn_client *txn;		/* session parameters, prepared statements
								 * (txn.c) */
	struct batch *batch;		/* insert_batching state, or NULL */
	bool		ddl_sent;		/* sent CREATE/ALTER/DROP: move
								 * batch_catalog.epoch again when its
								 * transaction ends */
	struct coal_entry *coal;	/* insert_coalescing: its held INSERT, or NULL */
	struct event *timer;		/* allocated while a deadline is armed */

	int64_t		connect_time;
	int64_t		request_time;	/* last time it went idle / did something */
	int64_t		wait_start;		/* when it started waiting for a server */
	int64_t		timer_at;		/* armed deadline, 0 = not armed */

	uint32_t	key_pid;		/* pooler-issued BackendKeyData */
	uint32_t	key_secret;
	enum client_state state;
	int			port;
	uint8_t		addr[16];		/* peer address (binary; see client_addr()) */
	uint8_t		addr_family;	/* AF_INET, AF_INET6, AF_UNIX */
	bool		is_admin;
	bool		admin_full;		/* admin_users (not only stats_users) */
	bool		got_startup;
	bool		shutdown_close; /* close as soon as out of a transaction */
	bool		admin_wait;		/* admin client waiting for its PAUSE */
	bool		in_hash;
	bool		reserve_ok;		/* waited reserve_pool_timeout already */
};

struct server
{
	struct list_node node;
	enum server_state state;
	struct sbuf sb;
	struct pool *pool;
	struct client *link;

	uint32_t	be_pid;			/* the backend's real BackendKeyData */
	uint32_t	be_key;
	struct sockaddr_storage addr;
	socklen_t	addrlen;

	int			expect_rfq;		/* ReadyForQuery messages still to come */
	bool		ext_open;		/* extended-protocol messages since last Sync */
	char		txn_status;		/* last ReadyForQuery status: I, T, E */
	bool		login_done;
	bool		connect_query_sent; /* connect_query running during login */
	bool		fresh;			/* not used by a client since login or last
								 * check */
	bool		close_needed;	/* close instead of reuse at next release */
	bool		cancel_sent;	/* query_timeout cancel outstanding */
	bool		cancel_worked;	/* the server answered it with 57014 */
	int64_t		cancel_time;

	struct auth_client *auth;
	struct txn_server *txn;		/* session parameters, prepared statements
								 * (txn.c) */
	struct proto_buf login_params;	/* ParameterStatus seen during login */

	int64_t		connect_time;
	int64_t		request_time;	/* last release / link time */
	int64_t		query_start;	/* first outstanding query started */
	int64_t		xact_start;

	uint32_t	cancel_pid;		/* SV_CANCEL: key to send */
	uint32_t	cancel_key;

	struct event *timer;		/* allocated while a deadline is armed */
	int64_t		timer_at;
};

struct pool_stats
{
	uint64_t	xact_count;
	uint64_t	query_count;
	uint64_t	bytes_recv;		/* from clients */
	uint64_t	bytes_sent;		/* to clients */
	uint64_t	xact_time;		/* us */
	uint64_t	query_time;		/* us */
	uint64_t	wait_time;		/* us clients waited for a server */
};

struct pool
{
	struct list_node node;		/* on pool_list */
	char		dbname[NAME_MAX_LEN];	/* name the clients use */
	char		username[NAME_MAX_LEN];
	bool		is_admin;

	struct list active_client_list;
	struct list waiting_client_list;
	struct list waiting_login_list;
	struct list active_server_list;
	struct list idle_server_list;
	struct list used_server_list;
	struct list tested_server_list;
	struct list new_server_list;

	/* ParameterStatus messages of the first server login, sent to clients. */
	struct proto_buf welcome;
	bool		have_welcome;
	bool		paused;
	int			mode;			/* cached pool_mode (refreshed on reload) */
	const struct cfg_database *db;	/* cached entry, points into cfg */
	const struct cfg_user *user;	/* cached [users] entry or NULL */
	uint64_t	conn_hash;		/* of host/port/dbname/user/password in use */

	unsigned char scram_client_key[32];
	bool		have_scram_key;

	int64_t		last_login_fail;	/* 0 = last login worked */
	char		last_login_error[256];
	char		last_login_sqlstate[6];

	/*
	 * statistics (SHOW STATS): totals, the totals at the last stats_period
	 * tick, and the averages computed then
	 */
	struct pool_stats stats;
	struct pool_stats stats_prev;
	struct pool_stats stats_avg;
	struct batch_stats batch_stats; /* insert_batching of clients gone (SHOW
									 * BATCHING) */
	uint64_t	login_count;
	int64_t		maxwait_start;

	struct event timer;
	int64_t		timer_at;
	int64_t		empty_since;	/* no clients, no servers since
								 * (auto-databases) */
};

/* Global state (objects.c). */
extern struct event_base *pooler_base;
extern struct cfg *cfg;
extern struct userlist *userlist;
extern struct list pool_list;
extern struct list login_client_list;
extern struct list cancel_server_list;
extern int	client_count;		/* every client object not yet freed */
extern bool pooler_shutting_down;
extern bool pooler_shutdown_wait_clients;	/* SIGTERM: serve clients until
											 * they leave */
extern bool pooler_paused;

/*
 * Catalog answers cached by the rewriters and the coalescer: the epoch moves
 * on DDL seen through the pooler (any database: aliases may name the same
 * one) and on reload; ttl_us is insert_batch_catalog_ttl.
 */
extern struct batch_catalog batch_catalog;

void		objects_init(struct event_base *base);
void		objects_cleanup(void);

/* Free everything on the just-free lists (end of a loop turn). */
void		objects_free_closed(void);

/* Pool of (dbname, username); created on first use; NULL only on OOM. */
struct pool *pool_get(const char *dbname, const char *username, bool is_admin);
static inline int
pool_mode(const struct pool *p)
{
	return p->mode;
}
const struct cfg_database *pool_db(const struct pool *p);
int			pool_server_count(const struct pool *p);

/* Serve waiting clients from idle servers; launch connections as needed. */
void		pool_activate(struct pool *p);

/* Free an auto-database pool empty for autodb_idle_timeout; true if freed. */
bool		pool_free_if_idle(struct pool *p);

/* Open connections up to min_pool_size. */
void		pool_prewarm(struct pool *p);

void		change_client_state(struct client *c, enum client_state st);
void		change_server_state(struct server *s, enum server_state st);

struct client *client_new(void);
struct server *server_new(struct pool *p);

/*
 * Give the client a server: links at once if one is idle (true), else
 * queues the client FIFO and starts a connection if the limits allow (false).
 */
bool		find_server(struct client *c);

/* Fail fast (and close the client) while the pool's logins are failing
 * within server_login_retry; true if the client was closed. */
bool		pool_login_failing(struct client *c);

/* The client is done with its server (transaction end / disconnect). */
void		release_server(struct server *s);

/*
 * release_server() from the server's own round, once the reply that ended
 * the transaction went out: the next waiting client's query, already read,
 * is written to the server at once instead of after the loop turn's other
 * events (the hand-over between two transactions on the server).
 */
void		release_server_handover(struct server *s);

/* Link/unlink a pair. */
void		link_pair(struct client *c, struct server *s);
void		unlink_pair(struct client *c, struct server *s);

/*
 * Close a client.  With sqlstate, send it a FATAL ErrorResponse first.  A
 * linked server goes back to the pool only if it is clean (idle, nothing
 * outstanding); otherwise it is closed, never handed out dirty.
 */
void		disconnect_client(struct client *c, const char *sqlstate, const char *fmt,...)
			PP_PRINTF(3, 4);

/* Close a server; a linked client gets `sqlstate`/message and is closed. */
void		disconnect_server(struct server *s, bool notify_client, const char *sqlstate,
							  const char *fmt,...) PP_PRINTF(4, 5);

/* Send a client an ErrorResponse (severity ERROR), keep it connected. */
bool		client_send_error(struct client *c, const char *sqlstate, const char *msg,
							  const char *detail) PP_WUR;

/* Cancel keys: O(1) lookup of the client holding a pooler-issued key. */
void		cancel_key_assign(struct client *c);
struct client *cancel_key_find(uint32_t pid, uint32_t key);

/* Send a CancelRequest for what `s` is running (new connection). */
void		launch_cancel(struct server *s);

/* Server address of a pool; 0 or -1 (message logged). */
int			pool_server_addr(struct pool *p, struct sockaddr_storage *ss, socklen_t *len);

/* Close the pool's idle servers now and the busy ones when released. */
void		pool_reconnect(struct pool *p, const char *why);

/* Drop every pool's servers and clients of database `dbname` (KILL). */
void		kill_database(const char *dbname);

/* After reload: re-read per-pool settings, mark servers for reconnect. */
void		objects_reload(void);

/* Add the client's traffic since the last report to its pool's stats. */
void		client_report_bytes(struct client *c);

/* The client's database and user names ("" before its startup packet), and
 * its peer address as text ("unix" for a Unix socket; a static buffer). */
const char *client_dbname(const struct client *c);
const char *client_username(const struct client *c);
const char *client_addr(const struct client *c);

/* Log prefixes "C-0x… db/user@addr:port" and "S-0x… db/user@addr". */
const char *client_ident(const struct client *c);
const char *server_ident(const struct server *s);

#endif							/* PGPLUMB_POOLER_OBJECTS_H */
