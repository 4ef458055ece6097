/*
 * objects.c -- pools, clients and servers: state changes and the lists they
 * move between, pairing clients with servers, launching server connections
 * within the sizing limits, and the cancel-key table (see objects.h).
 */
#include "objects.h"

#include <arpa/inet.h>

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "auth.h"
#include "batch.h"
#include "client.h"
#include "coalesce.h"
#include "janitor.h"
#include "server.h"
#include "txn.h"
#include "userlist.h"

struct event_base *pooler_base;
struct cfg *cfg;
struct userlist *userlist;
struct list pool_list;
struct list login_client_list;
struct list cancel_server_list;
int			client_count;
bool		pooler_shutting_down;
bool		pooler_shutdown_wait_clients;
bool		pooler_paused;
struct batch_catalog batch_catalog;

static struct list justfree_client_list;
static struct list justfree_server_list;

/* Cancel keys: open hashing on the pooler-issued (pid, key) pair. */
#define CANCEL_HASH_SIZE 16384
static struct client *cancel_hash[CANCEL_HASH_SIZE];

static char ident_buf[2][256];

static void pool_refresh(struct pool *p);

void
objects_init(struct event_base *base)
{
	pooler_base = base;
	list_init(&pool_list);
	list_init(&login_client_list);
	list_init(&cancel_server_list);
	list_init(&justfree_client_list);
	list_init(&justfree_server_list);
	txn_configure();
	batch_catalog.ttl_us = cfg ? (uint64_t) cfg->insert_batch_catalog_ttl : 0;
}

/* ---- identity for log lines ---- */

const char *
client_ident(const struct client *c)
{
	const char *db = client_dbname(c),
			   *user = client_username(c);

	snprintf(ident_buf[0], sizeof(ident_buf[0]), "C-%p %s/%s@%s:%d", (const void *) c,
			 db[0] ? db : "(nodb)", user[0] ? user : "(nouser)", client_addr(c), c->port);
	return ident_buf[0];
}

const char *
client_dbname(const struct client *c)
{
	return c->pool ? c->pool->dbname : c->login ? c->login->dbname : "";
}

const char *
client_username(const struct client *c)
{
	return c->pool ? c->pool->username : c->login ? c->login->username : "";
}

const char *
client_addr(const struct client *c)
{
	static char buf[INET6_ADDRSTRLEN];

	if (c->addr_family == AF_UNIX)
		return "unix";
	if (c->addr_family != AF_INET && c->addr_family != AF_INET6)
		return "";
	if (inet_ntop(c->addr_family, c->addr, buf, sizeof(buf)) == NULL)
		return "?";
	return buf;
}

const char *
server_ident(const struct server *s)
{
	snprintf(ident_buf[1], sizeof(ident_buf[1]), "S-%p %s/%s pid=%u", (const void *) s,
			 s->pool ? s->pool->dbname : "", s->pool ? s->pool->username : "",
			 s->be_pid);
	return ident_buf[1];
}

/* ---- pools ---- */

struct pool *
pool_get(const char *dbname, const char *username, bool is_admin)
{
	struct list_node *n,
			   *t;
	struct pool *p;

	list_for_each_safe(n, t, &pool_list)
	{
		p = list_entry(n, struct pool, node);
		if (p->is_admin == is_admin && strcmp(p->dbname, dbname) == 0 &&
			strcmp(p->username, username) == 0)
			return p;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	snprintf(p->dbname, sizeof(p->dbname), "%s", dbname);
	snprintf(p->username, sizeof(p->username), "%s", username);
	p->is_admin = is_admin;
	list_init(&p->active_client_list);
	list_init(&p->waiting_client_list);
	list_init(&p->waiting_login_list);
	list_init(&p->active_server_list);
	list_init(&p->idle_server_list);
	list_init(&p->used_server_list);
	list_init(&p->tested_server_list);
	list_init(&p->new_server_list);
	proto_buf_init(&p->welcome);
	evtimer_assign(&p->timer, pooler_base, janitor_pool_cb, p);
	list_append(&pool_list, &p->node);
	pool_refresh(p);
	return p;
}

const struct cfg_database *
pool_db(const struct pool *p)
{
	return p->db;
}

static const struct cfg_user *
pool_user(const struct pool *p)
{
	return p->user;
}

/* Re-read the pool's config entries (at creation and after every reload:
 * the cached pointers point into the current struct cfg). */
static uint64_t
hash_str(uint64_t h, const char *s)
{
	/* FNV-1a; a NULL string differs from an empty one */
	h = (h ^ (s ? 1u : 2u)) * 1099511628211ULL;
	for (; s && *s; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ULL;
	return h;
}

/* What a server connection of the pool depends on. */
static uint64_t
pool_conn_hash(const struct pool *p)
{
	const struct cfg_database *db = p->db;
	char		port[16];
	uint64_t	h = 14695981039346656037ULL;

	if (db == NULL)
		return 0;
	snprintf(port, sizeof(port), "%d", db->port);
	h = hash_str(h, db->host);
	h = hash_str(h, port);
	h = hash_str(h, db->dbname);
	h = hash_str(h, db->user);
	h = hash_str(h, db->password);
	h = hash_str(h, db->connect_query);
	return h;
}

static void
pool_refresh(struct pool *p)
{
	uint64_t	h;

	p->db = p->is_admin ? NULL : cfg_find_database(cfg, p->dbname);
	p->user = cfg_find_user(cfg, p->username);
	p->mode = p->is_admin ? CFG_POOL_STATEMENT : cfg_pool_mode_for(cfg, p->db, p->user);
	h = pool_conn_hash(p);
	if (p->conn_hash != 0 && h != p->conn_hash)
	{
		log_info("%s/%s: database entry changed, reconnecting its servers", p->dbname, p->username);
		pool_reconnect(p, "database entry changed on reload");
		if (pool_server_count(p) == 0)
			p->have_welcome = false;	/* the next login brings the new
										 * values */
	}
	p->conn_hash = h;
}

void
pool_reconnect(struct pool *p, const char *why)
{
	struct list *sl[] = {&p->active_server_list, &p->used_server_list,
	&p->new_server_list, &p->tested_server_list};
	struct list_node *n,
			   *t;

	/* idle servers go now, busy ones when their client releases them */
	list_for_each_safe(n, t, &p->idle_server_list)
		disconnect_server(list_entry(n, struct server, node), false, NULL, "%s", why);
	for (size_t i = 0; i < sizeof(sl) / sizeof(sl[0]); i++)
		list_for_each_safe(n, t, sl[i])
			list_entry(n, struct server, node)->close_needed = true;
}

int
pool_server_count(const struct pool *p)
{
	return p->active_server_list.count + p->idle_server_list.count +
		p->used_server_list.count + p->new_server_list.count +
		p->tested_server_list.count;
}

static int
db_server_count(const char *dbname)
{
	struct list_node *n,
			   *t;
	int			total = 0;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (!p->is_admin && strcmp(p->dbname, dbname) == 0)
			total += pool_server_count(p);
	}
	return total;
}

/* Most recently used idle server (LIFO), or the oldest with server_round_robin. */
static struct server *
pick_idle_server(struct pool *p)
{
	struct list_node *n = cfg->server_round_robin ? list_first(&p->idle_server_list)
	: list_last(&p->idle_server_list);

	return list_entry(n, struct server, node);
}

/*
 * An idle server ready to hand out, or NULL.  Servers unused for longer than
 * server_check_delay first run server_check_query (state SV_TESTED) and come
 * back to the idle list when it answers.
 */
static struct server *
take_idle_server(struct pool *p)
{
	while (!list_empty(&p->idle_server_list))
	{
		struct server *s = pick_idle_server(p);

		if (s->fresh || cfg->server_check_query[0] == '\0' ||
			now_usec() - s->request_time < cfg->server_check_delay)
			return s;
		change_server_state(s, SV_TESTED);
		if (server_send_query(s, cfg->server_check_query) < 0)
			disconnect_server(s, false, NULL, "could not send server_check_query");
	}
	return NULL;
}

static int
user_server_count(const char *username)
{
	struct list_node *n,
			   *t;
	int			total = 0;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (!p->is_admin && strcmp(p->username, username) == 0)
			total += pool_server_count(p);
	}
	return total;
}

/*
 * Close one idle server of another pool of the same database (by_user =
 * false) or of the same user (by_user = true), to make room under
 * max_db_connections / max_user_connections; true if done.
 */
static bool
evict_idle_in(struct pool *self, bool by_user)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (p == self || p->is_admin)
			continue;
		if (by_user ? strcmp(p->username, self->username) != 0
			: strcmp(p->dbname, self->dbname) != 0)
			continue;
		if (!list_empty(&p->idle_server_list))
		{
			struct server *s = list_entry(list_first(&p->idle_server_list), struct server, node);

			disconnect_server(s, false, NULL, by_user ? "evicted for max_user_connections"
							  : "evicted for max_db_connections");
			return true;
		}
	}
	return false;
}

int
pool_server_addr(struct pool *p, struct sockaddr_storage *ss, socklen_t *len)
{
	const struct cfg_database *db = pool_db(p);
	const char *host = db ? db->host : NULL;
	int			port = db && db->port > 0 ? db->port : 5432;

	memset(ss, 0, sizeof(*ss));
	if (host == NULL || host[0] == '\0' || host[0] == '/')
	{
		struct sockaddr_un *un = (struct sockaddr_un *) ss;
		int			n;

		un->sun_family = AF_UNIX;
		n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d",
					 host && host[0] ? host : "/var/run/postgresql", port);
		if (n < 0 || (size_t) n >= sizeof(un->sun_path))
		{
			log_error("socket path too long for database \"%s\"", p->dbname);
			return -1;
		}
		*len = sizeof(*un);
		return 0;
	}
	else
	{
		struct addrinfo hints,
				   *res = NULL;
		char		portstr[16];
		int			rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(portstr, sizeof(portstr), "%d", port);
		rc = getaddrinfo(host, portstr, &hints, &res);
		if (rc != 0 || res == NULL)
		{
			log_error("could not resolve host \"%s\" of database \"%s\": %s", host,
					  p->dbname, gai_strerror(rc));
			return -1;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
		return 0;
	}
}

/*
 * Start one server connection if the sizing limits allow.  `reserve` allows
 * going over pool_size up to reserve_pool_size.  Returns true if launched.
 */
static bool
launch_new_connection(struct pool *p, bool reserve)
{
	const struct cfg_database *db = pool_db(p);
	const struct cfg_user *u = pool_user(p);
	int			max = cfg_pool_size_for(cfg, db, u);
	int			total = pool_server_count(p);
	int			maxdb = cfg_max_db_connections_for(cfg, db);
	int			maxuser = cfg_max_user_connections_for(cfg, u);
	struct server *s;

	if (p->is_admin || (pooler_shutting_down && !pooler_shutdown_wait_clients))
		return false;
	if (db == NULL)
	{
		/* the database entry disappeared on reload */
		log_warning("%s/%s: database no longer in the configuration", p->dbname, p->username);
		return false;
	}
	if (p->last_login_fail && now_usec() < p->last_login_fail + cfg->server_login_retry)
	{
		janitor_pool_at(p, p->last_login_fail + cfg->server_login_retry);
		return false;
	}
	if (max > 0 && total >= max)
	{
		int			res = cfg_reserve_pool_for(cfg, db, u);

		if (!reserve || total >= max + res)
			return false;
		log_info("%s/%s: taking a connection from the reserve pool", p->dbname, p->username);
	}
	if (maxdb > 0 && db_server_count(p->dbname) >= maxdb)
	{
		if (!evict_idle_in(p, false) || db_server_count(p->dbname) >= maxdb)
			return false;
	}
	if (maxuser > 0 && user_server_count(p->username) >= maxuser)
	{
		if (!evict_idle_in(p, true) || user_server_count(p->username) >= maxuser)
			return false;
	}
	s = server_new(p);
	if (s == NULL)
		return false;
	if (server_connect(s) < 0)
		return false;
	return true;
}

void
pool_prewarm(struct pool *p)
{
	int			min = cfg_min_pool_size_for(cfg, pool_db(p));
	int			max = cfg_pool_size_for(cfg, pool_db(p), pool_user(p));

	if (max > 0 && min > max)
		min = max;
	while (pool_server_count(p) < min)
	{
		if (!launch_new_connection(p, false))
			break;
	}
}

/*
 * Serve waiting clients, oldest first, from idle servers (LIFO reuse).
 * now: a client's query already read goes to its server at once (nested in
 * the caller's round), instead of after the other events of this loop turn;
 * for the hand-over of a released server, where that wait sits between two
 * transactions on the server (release_server_handover: not from contexts
 * that walk client or server lists, which a nested round could change).
 */
static void
activate(struct pool *p, bool now)
{
	while (!p->paused && !pooler_paused && !list_empty(&p->waiting_client_list))
	{
		struct client *c = list_entry(list_first(&p->waiting_client_list), struct client, node);
		struct server *s = take_idle_server(p);

		if (s == NULL)
			break;

		p->stats.wait_time += (uint64_t) (now_usec() - c->wait_start);
		link_pair(c, s);
		change_client_state(c, CL_ACTIVE);
		if (now)
			sbuf_continue_now(&c->sb, 0);
		else
			sbuf_continue(&c->sb);
	}
	/* Still waiting: connections being opened for them? */
	if (!p->paused && !pooler_paused)
	{
		struct list_node *n,
				   *t;
		int			want = p->waiting_client_list.count - p->new_server_list.count -
		p->tested_server_list.count - p->used_server_list.count;

		list_for_each_safe(n, t, &p->waiting_client_list)
		{
			struct client *c = list_entry(n, struct client, node);

			if (want <= 0)
				break;
			if (!launch_new_connection(p, c->reserve_ok))
				break;
			want--;
		}
		if (p->waiting_login_list.count > 0 && p->new_server_list.count == 0 && !p->have_welcome)
			(void) launch_new_connection(p, true);
	}
	if (!p->paused && !pooler_paused)
		pool_prewarm(p);
}

void
pool_activate(struct pool *p)
{
	activate(p, false);
}

/*
 * A server of `self` became idle or went away: pools of the same database
 * or user that wait because of max_db_connections / max_user_connections
 * may now get a slot.  Deferred to the next loop turn (no recursion).
 */
static void
wake_limited_neighbours(struct pool *self)
{
	const struct cfg_database *db = pool_db(self);
	struct list_node *n,
			   *t;

	if (self->is_admin || (cfg_max_db_connections_for(cfg, db) <= 0 &&
						   cfg_max_user_connections_for(cfg, pool_user(self)) <= 0))
		return;
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *o = list_entry(n, struct pool, node);

		if (o == self || o->is_admin ||
			(list_empty(&o->waiting_client_list) && list_empty(&o->waiting_login_list)))
			continue;
		if (strcmp(o->dbname, self->dbname) == 0 || strcmp(o->username, self->username) == 0)
			janitor_pool_at(o, now_usec());
	}
}

/* No clients and no servers. */
static bool
pool_is_empty(const struct pool *p)
{
	return p->active_client_list.count + p->waiting_client_list.count +
		p->waiting_login_list.count + pool_server_count(p) == 0;
}

/*
 * Pools made from the "*" entry (auto-databases) are freed once they have
 * been empty for autodb_idle_timeout; this arms the check.
 */
static void
pool_note_maybe_empty(struct pool *p)
{
	if (p == NULL || p->is_admin || p->db == NULL || p->db != cfg->fallback_db ||
		cfg->autodb_idle_timeout <= 0 || !pool_is_empty(p))
		return;
	p->empty_since = now_usec();
	janitor_pool_at(p, p->empty_since + cfg->autodb_idle_timeout);
}

bool
pool_free_if_idle(struct pool *p)
{
	if (p->is_admin || p->db == NULL || p->db != cfg->fallback_db ||
		cfg->autodb_idle_timeout <= 0 || !pool_is_empty(p) || p->empty_since == 0)
		return false;
	if (now_usec() < p->empty_since + cfg->autodb_idle_timeout)
	{
		/* woken early (retry, refill): look again when the time is up */
		janitor_pool_at(p, p->empty_since + cfg->autodb_idle_timeout);
		return false;
	}
	log_info("%s/%s: auto-database pool unused for autodb_idle_timeout, freed",
			 p->dbname, p->username);
	list_remove(&pool_list, &p->node);
	evtimer_del(&p->timer);
	proto_buf_free(&p->welcome);
	free(p);
	return true;
}

/* ---- state changes ---- */

static struct list *
client_list_for(struct client *c, enum client_state st)
{
	switch (st)
	{
		case CL_FREE:
			return NULL;
		case CL_JUSTFREE:
			return &justfree_client_list;
		case CL_LOGIN:
			return &login_client_list;
		case CL_WAITING_LOGIN:
			return &c->pool->waiting_login_list;
		case CL_WAITING:
			return &c->pool->waiting_client_list;
		case CL_ACTIVE:
			return &c->pool->active_client_list;
	}
	die("bad client state %d", (int) st);
}

void
change_client_state(struct client *c, enum client_state st)
{
	struct list *from = client_list_for(c, c->state);
	struct list *to = client_list_for(c, st);

	if (from)
		list_remove(from, &c->node);
	c->state = st;
	if (to)
		list_append(to, &c->node);
}

static struct list *
server_list_for(struct server *s, enum server_state st)
{
	switch (st)
	{
		case SV_FREE:
			return NULL;
		case SV_JUSTFREE:
			return &justfree_server_list;
		case SV_LOGIN:
			return &s->pool->new_server_list;
		case SV_IDLE:
			return &s->pool->idle_server_list;
		case SV_ACTIVE:
			return &s->pool->active_server_list;
		case SV_USED:
			return &s->pool->used_server_list;
		case SV_TESTED:
			return &s->pool->tested_server_list;
		case SV_CANCEL:
			return &cancel_server_list;
	}
	die("bad server state %d", (int) st);
}

void
change_server_state(struct server *s, enum server_state st)
{
	struct list *from = server_list_for(s, s->state);
	struct list *to = server_list_for(s, st);

	if (from)
		list_remove(from, &s->node);
	s->state = st;
	if (to)
		list_append(to, &s->node);
}

struct client *
client_new(void)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	list_node_init(&c->node);
	sbuf_init(&c->sb, client_proto, c);
	c->connect_time = c->request_time = now_usec();
	client_count++;
	return c;
}

struct server *
server_new(struct pool *p)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	list_node_init(&s->node);
	s->pool = p;
	sbuf_init(&s->sb, server_proto, s);
	s->connect_time = s->request_time = now_usec();
	s->txn_status = 'I';
	proto_buf_init(&s->login_params);
	return s;
}

/* ---- linking ---- */

void
link_pair(struct client *c, struct server *s)
{
	c->link = s;
	s->link = c;
	s->fresh = false;
	sbuf_set_dst(&c->sb, &s->sb);
	sbuf_set_dst(&s->sb, &c->sb);
	s->request_time = now_usec();
	change_server_state(s, SV_ACTIVE);
}

void
unlink_pair(struct client *c, struct server *s)
{
	if (c)
	{
		c->link = NULL;
		sbuf_set_dst(&c->sb, NULL);
	}
	if (s)
	{
		s->link = NULL;
		sbuf_set_dst(&s->sb, NULL);
	}
}

bool
pool_login_failing(struct client *c)
{
	struct pool *p = c->pool;

	if (pool_server_count(p) > 0 || p->last_login_fail == 0 ||
		now_usec() >= p->last_login_fail + cfg->server_login_retry)
		return false;
	disconnect_client(c, p->last_login_sqlstate[0] ? p->last_login_sqlstate : "08006",
					  "server login has been failing, try again later (server_login_retry): %s",
					  p->last_login_error);
	return true;
}

bool
find_server(struct client *c)
{
	struct pool *p = c->pool;

	if (pool_login_failing(c))
		return false;

	if (!p->paused && !pooler_paused && list_empty(&p->waiting_client_list))
	{
		struct server *s = take_idle_server(p);

		if (s)
		{
			link_pair(c, s);
			return true;
		}
	}
	c->wait_start = now_usec();
	c->reserve_ok = false;
	change_client_state(c, CL_WAITING);
	janitor_client_update(c);
	pool_activate(p);
	return c->link != NULL;
}

static bool
server_is_clean(const struct server *s)
{
	return s->login_done && s->expect_rfq == 0 && !s->ext_open && s->txn_status == 'I' &&
		!s->cancel_sent && !s->close_needed && sbuf_is_empty(&s->sb);
}

static void
release(struct server *s, bool handover)
{
	struct pool *p = s->pool;
	struct client *c = s->link;
	int64_t		lifetime = cfg_server_lifetime_for(cfg, pool_db(p));

	if (c)
		unlink_pair(c, s);
	s->request_time = now_usec();
	if (!server_is_clean(s))
	{
		disconnect_server(s, false, NULL, "server not clean at release");
		pool_activate(p);
		return;
	}
	if (lifetime > 0 && now_usec() - s->connect_time >= lifetime)
	{
		disconnect_server(s, false, NULL, "server_lifetime reached");
		pool_activate(p);
		return;
	}
	if ((pooler_shutting_down && !pooler_shutdown_wait_clients) || p->paused || pooler_paused)
	{
		disconnect_server(s, false, NULL, pooler_shutting_down ? "shutting down" : "paused");
		pool_activate(p);
		return;
	}
	if ((pool_mode(p) == CFG_POOL_SESSION || cfg->server_reset_query_always) &&
		cfg->server_reset_query[0] != '\0')
	{
		change_server_state(s, SV_USED);
		txn_server_reset_sent(s, cfg->server_reset_query);
		if (server_send_query(s, cfg->server_reset_query) < 0)
		{
			disconnect_server(s, false, NULL, "could not send server_reset_query");
			pool_activate(p);
		}
		return;
	}
	change_server_state(s, SV_IDLE);
	janitor_server_update(s);
	sbuf_continue(&s->sb);
	activate(p, handover);
	if (s->state == SV_IDLE)
		wake_limited_neighbours(p);
}

void
release_server(struct server *s)
{
	release(s, false);
}

void
release_server_handover(struct server *s)
{
	release(s, true);
}

/* ---- closing ---- */

static bool
send_error_msg(struct sbuf *sb, const char *severity, const char *sqlstate,
			   const char *msg, const char *detail)
{
	struct proto_buf b;
	bool		ok;

	proto_buf_init(&b);
	proto_build_error(&b, PQMSG_ErrorResponse, severity, sqlstate, msg, detail, NULL);
	ok = sbuf_send_buf(sb, &b);
	proto_buf_free(&b);
	return ok;
}

bool
client_send_error(struct client *c, const char *sqlstate, const char *msg, const char *detail)
{
	return send_error_msg(&c->sb, "ERROR", sqlstate, msg, detail);
}

static void
cancel_key_remove(struct client *c)
{
	struct client **pp;

	if (!c->in_hash)
		return;
	pp = &cancel_hash[(c->key_pid ^ c->key_secret) % CANCEL_HASH_SIZE];
	while (*pp)
	{
		if (*pp == c)
		{
			*pp = c->hash_next;
			break;
		}
		pp = &(*pp)->hash_next;
	}
	c->in_hash = false;
}

void
disconnect_client(struct client *c, const char *sqlstate, const char *fmt,...)
{
	char		msg[512];
	va_list		ap;
	struct server *s;

	if (c->state == CL_JUSTFREE)
		return;
	/* insert_coalescing may hand the server over to another client */
	coalesce_client_gone(c);
	s = c->link;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sqlstate)
	{
		log_info("%s closing because: %s (age=%llds)", client_ident(c), msg,
				 (long long) ((now_usec() - c->connect_time) / USEC_PER_SEC));
		(void) send_error_msg(&c->sb, "FATAL", sqlstate, msg, NULL);
	}
	else if (cfg == NULL || cfg->log_disconnections)
		log_info("%s closing because: %s (age=%llds)", client_ident(c), msg,
				 (long long) ((now_usec() - c->connect_time) / USEC_PER_SEC));
	if (s)
	{
		/* the rewriter's own messages may still be in flight */
		if (c->batch && batch_busy(c->batch))
			s->close_needed = true;
		if (server_is_clean(s) && s->state == SV_ACTIVE)
			release_server(s);
		else
		{
			unlink_pair(c, s);
			disconnect_server(s, false, NULL, "client disconnected while the server was busy or in a transaction");
		}
	}
	if (c->auth)
	{
		auth_server_free(c->auth);
		c->auth = NULL;
	}
	free(c->login);
	c->login = NULL;
	if (c->batch)
	{
		const struct batch_stats *st = batch_stats(c->batch);

		if (c->pool)
			batch_stats_add(&c->pool->batch_stats, st);
		if (st->batches || st->fallbacks)
			log_info("%s insert batching: %llu multi-row statements carrying %llu rows, "
					 "%llu segments rewritten, %llu fallbacks", client_ident(c),
					 (unsigned long long) st->batches, (unsigned long long) st->rows,
					 (unsigned long long) st->segments, (unsigned long long) st->fallbacks);
		batch_free(c->batch);
		c->batch = NULL;
	}
	if (c->pool)
		client_report_bytes(c);
	cancel_key_remove(c);
	admin_pause_forget(c);
	janitor_timer_put(&c->timer);
	free(c->appname);
	c->appname = NULL;
	sbuf_close(&c->sb);
	if (c->state == CL_WAITING && c->pool)
		c->pool->stats.wait_time += (uint64_t) (now_usec() - c->wait_start);
	change_client_state(c, CL_JUSTFREE);
	pool_note_maybe_empty(c->pool);
	if (pooler_shutting_down)
		janitor_shutdown_check();
}

void
disconnect_server(struct server *s, bool notify_client, const char *sqlstate,
				  const char *fmt,...)
{
	char		msg[512];
	va_list		ap;
	struct client *c = s->link;
	struct pool *p = s->pool;
	bool		was_login = s->state == SV_LOGIN;
	bool		was_cancel = s->state == SV_CANCEL;

	if (s->state == SV_JUSTFREE)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->state != SV_CANCEL)
		log_info("%s closing because: %s (age=%llds)", server_ident(s), msg,
				 (long long) ((now_usec() - s->connect_time) / USEC_PER_SEC));
	if (c)
	{
		unlink_pair(c, s);
		if (notify_client)
			disconnect_client(c, sqlstate ? sqlstate : "08006", "%s", msg);
		else
			disconnect_client(c, NULL, "server closed: %s", msg);
	}
	if (s->auth)
	{
		auth_client_free(s->auth);
		s->auth = NULL;
	}
	if (s->state == SV_ACTIVE && s->login_done && (s->expect_rfq > 0 || s->ext_open) && s->be_pid)
	{
		/*
		 * Closing the socket alone leaves the query running until the backend
		 * next writes; cancel it so the work stops now.
		 */
		launch_cancel(s);
	}
	if (s->state == SV_IDLE || s->state == SV_ACTIVE || s->state == SV_USED ||
		s->state == SV_TESTED)
	{
		/* a usable connection went away: terminate it politely if possible */
		struct proto_buf b;

		proto_buf_init(&b);
		proto_build_terminate(&b);
		if (sbuf_is_empty(&s->sb) && !sbuf_send_buf(&s->sb, &b))
			log_debug("%s could not send Terminate", server_ident(s));
		proto_buf_free(&b);
	}
	janitor_timer_put(&s->timer);
	proto_buf_free(&s->login_params);
	sbuf_close(&s->sb);
	change_server_state(s, SV_JUSTFREE);
	if (was_login && p && !p->is_admin)
	{
		/* Login failed: clients waiting for the welcome get the error. */
		if (!s->login_done && pool_server_count(p) == 0)
		{
			struct list_node *n,
					   *t;

			p->last_login_fail = now_usec();
			snprintf(p->last_login_error, sizeof(p->last_login_error), "%.200s", msg);
			snprintf(p->last_login_sqlstate, sizeof(p->last_login_sqlstate), "%s",
					 sqlstate ? sqlstate : "08006");
			list_for_each_safe(n, t, &p->waiting_login_list)
			{
				struct client *wc = list_entry(n, struct client, node);

				disconnect_client(wc, sqlstate ? sqlstate : "08006", "%s", msg);
			}
			list_for_each_safe(n, t, &p->waiting_client_list)
			{
				struct client *wc = list_entry(n, struct client, node);

				disconnect_client(wc, sqlstate ? sqlstate : "08006", "%s", msg);
			}
			janitor_pool_at(p, p->last_login_fail + cfg->server_login_retry);
		}
	}
	else if (p && !p->is_admin && !pooler_shutting_down && !was_cancel)
	{
		/* keep min_pool_size, serve waiting clients */
		janitor_pool_at(p, now_usec());
		wake_limited_neighbours(p);
	}
	admin_pause_check();
	pool_note_maybe_empty(p);
	if (pooler_shutting_down)
		janitor_shutdown_check();
}

void
objects_free_closed(void)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &justfree_client_list)
	{
		struct client *c = list_entry(n, struct client, node);

		list_remove(&justfree_client_list, n);
		client_count--;
		txn_client_free(c);
		free(c);
	}
	list_for_each_safe(n, t, &justfree_server_list)
	{
		struct server *s = list_entry(n, struct server, node);

		list_remove(&justfree_server_list, n);
		txn_server_free(s);
		free(s);
	}
}

/* ---- cancel keys ---- */

void
cancel_key_assign(struct client *c)
{
	for (int tries = 0; tries < 100; tries++)
	{
		uint32_t	k[2];

		random_bytes(k, sizeof(k));
		if (k[0] == 0 || cancel_key_find(k[0], k[1]) != NULL)
			continue;
		c->key_pid = k[0] & 0x7fffffff;
		c->key_secret = k[1];
		break;
	}
	c->hash_next = cancel_hash[(c->key_pid ^ c->key_secret) % CANCEL_HASH_SIZE];
	cancel_hash[(c->key_pid ^ c->key_secret) % CANCEL_HASH_SIZE] = c;
	c->in_hash = true;
}

struct client *
cancel_key_find(uint32_t pid, uint32_t key)
{
	struct client *c = cancel_hash[(pid ^ key) % CANCEL_HASH_SIZE];

	for (; c; c = c->hash_next)
		if (c->key_pid == pid && c->key_secret == key)
			return c;
	return NULL;
}

void
launch_cancel(struct server *target)
{
	struct server *s = server_new(target->pool);

	if (s == NULL)
		return;
	/* a cancel connection belongs to no pool (the pool may go away first) */
	s->pool = NULL;
	s->cancel_pid = target->be_pid;
	s->cancel_key = target->be_key;
	memcpy(&s->addr, &target->addr, sizeof(s->addr));
	s->addrlen = target->addrlen;
	change_server_state(s, SV_CANCEL);
	if (sbuf_connect(&s->sb, (struct sockaddr *) &s->addr, s->addrlen) < 0)
	{
		log_warning("%s: could not open a connection for a cancel request", server_ident(target));
		disconnect_server(s, false, NULL, "cancel connect failed");
		return;
	}
	janitor_server_update(s);
}

/* ---- admin actions ---- */

void
kill_database(const char *dbname)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct list *cl[] = {&p->active_client_list, &p->waiting_client_list,
		&p->waiting_login_list};
		struct list *sl[] = {&p->active_server_list, &p->idle_server_list,
		&p->used_server_list, &p->new_server_list, &p->tested_server_list};

		if (p->is_admin || (dbname && strcmp(p->dbname, dbname) != 0))
			continue;
		for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++)
			list_for_each_safe(m, u, cl[i])
				disconnect_client(list_entry(m, struct client, node), "57P01",
								  "database \"%s\" was killed by an administrator (KILL)",
								  p->dbname);
		for (size_t i = 0; i < sizeof(sl) / sizeof(sl[0]); i++)
			list_for_each_safe(m, u, sl[i])
				disconnect_server(list_entry(m, struct server, node), true, "57P01",
								  "database killed by an administrator (KILL)");
	}
}

void
objects_reload(void)
{
	txn_configure();
	/* RELOAD: every cached catalog answer is asked again */
	batch_catalog.ttl_us = (uint64_t) cfg->insert_batch_catalog_ttl;
	batch_catalog.epoch++;
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		pool_refresh(p);
		if (p->is_admin)
			continue;
		janitor_pool_at(p, now_usec());
	}
}

void
objects_cleanup(void)
{
	struct list_node *n,
			   *t;

	objects_free_closed();
	txn_cleanup();
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		list_remove(&pool_list, n);
		evtimer_del(&p->timer);
		proto_buf_free(&p->welcome);
		free(p);
	}
}

void
client_report_bytes(struct client *c)
{
	c->pool->stats.bytes_recv += c->sb.bytes_recv;
	c->pool->stats.bytes_sent += c->sb.bytes_sent;
	c->sb.bytes_recv = c->sb.bytes_sent = 0;
}
