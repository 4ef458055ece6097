/*
 * admin.c -- the admin console: a table of commands, each answering with
 * RowDescription/DataRow/CommandComplete built by common/proto, using
 * PgBouncer's column names so existing dashboards and scripts keep working.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "coalesce.h"
#include "janitor.h"
#include "pooler.h"

#define ADMIN_MAX_COLS 24

/* Admin clients whose PAUSE waits for servers to be released. */
static int	admin_waiting;
#define TEXT_OID 25
#define INT8_OID 20

#ifndef PGPLUMB_VERSION
#define PGPLUMB_VERSION "0.1.0"
#endif

/* A result being built: header once, then rows. */
struct result
{
	struct proto_buf b;
	int			ncols;
	int			nrows;
};

static void
result_begin(struct result *r, int ncols, const char *const *names, const uint32_t *types)
{
	proto_buf_init(&r->b);
	r->ncols = ncols;
	r->nrows = 0;
	proto_build_row_description(&r->b, ncols, names, types);
}

static void
result_row(struct result *r, const char *const *values)
{
	proto_build_data_row(&r->b, r->ncols, values);
	r->nrows++;
}

/* Per-row value scratch space. */
struct rowbuf
{
	char		v[ADMIN_MAX_COLS][256];
	const char *p[ADMIN_MAX_COLS];
	int			n;
};

static void
rb_reset(struct rowbuf *rb)
{
	rb->n = 0;
}

static void
rb_str(struct rowbuf *rb, const char *s)
{
	if (s == NULL)
		rb->p[rb->n] = NULL;
	else
	{
		snprintf(rb->v[rb->n], sizeof(rb->v[0]), "%s", s);
		rb->p[rb->n] = rb->v[rb->n];
	}
	rb->n++;
}

static void
rb_int(struct rowbuf *rb, long long x)
{
	snprintf(rb->v[rb->n], sizeof(rb->v[0]), "%lld", x);
	rb->p[rb->n] = rb->v[rb->n];
	rb->n++;
}

static bool
send_and_free(struct client *c, struct proto_buf *b)
{
	bool		ok = sbuf_send_buf(&c->sb, b);

	proto_buf_free(b);
	return ok;
}

static bool
result_end(struct client *c, struct result *r, const char *tag)
{
	char		t[64];

	snprintf(t, sizeof(t), "%s", tag);
	proto_build_command_complete(&r->b, t);
	return send_and_free(c, &r->b);
}

static bool
simple_ok(struct client *c, const char *tag)
{
	struct proto_buf b;

	proto_buf_init(&b);
	proto_build_command_complete(&b, tag);
	return send_and_free(c, &b);
}

static bool
admin_error(struct client *c, const char *sqlstate, const char *msg)
{
	struct proto_buf b;

	proto_buf_init(&b);
	proto_build_error(&b, PQMSG_ErrorResponse, "ERROR", sqlstate, msg, NULL, NULL);
	return send_and_free(c, &b);
}

/* ---- SHOW ---- */

static const char *
mode_name(const struct pool *p)
{
	return p->is_admin ? "statement" : cfg_pool_mode_name(pool_mode(p));
}

static bool
show_pools(struct client *c, const char *arg)
{
	static const char *const cols[] = {
		"database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
		"cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled",
		"sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"
	};
	uint32_t	types[16];
	struct result r;
	struct rowbuf rb;
	struct list_node *n,
			   *t;

	(void) arg;
	for (int i = 0; i < 16; i++)
		types[i] = i < 2 || i == 15 ? TEXT_OID : INT8_OID;
	result_begin(&r, 16, cols, types);
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		int64_t		maxwait = 0;

		if (!list_empty(&p->waiting_client_list))
		{
			struct client *w = list_entry(list_first(&p->waiting_client_list), struct client, node);

			maxwait = now_usec() - w->wait_start;
		}
		rb_reset(&rb);
		rb_str(&rb, p->dbname);
		rb_str(&rb, p->username);
		rb_int(&rb, p->active_client_list.count);
		rb_int(&rb, p->waiting_client_list.count + p->waiting_login_list.count);
		rb_int(&rb, 0);
		rb_int(&rb, 0);
		rb_int(&rb, p->active_server_list.count);
		rb_int(&rb, 0);
		rb_int(&rb, 0);
		rb_int(&rb, p->idle_server_list.count);
		rb_int(&rb, p->used_server_list.count);
		rb_int(&rb, p->tested_server_list.count);
		rb_int(&rb, p->new_server_list.count);
		rb_int(&rb, maxwait / USEC_PER_SEC);
		rb_int(&rb, maxwait % USEC_PER_SEC);
		rb_str(&rb, mode_name(p));
		result_row(&r, rb.p);
	}
	return result_end(c, &r, "SHOW");
}

/* Is p the first pool of its database (the one whose row sums them all)? */
static bool
leads_database(const struct pool *p)
{
	struct list_node *m,
			   *u;

	list_for_each_safe(m, u, &pool_list)
	{
		const struct pool *o = list_entry(m, struct pool, node);

		if (o == p)
			return true;
		if (o->is_admin == p->is_admin && strcmp(o->dbname, p->dbname) == 0)
			return false;
	}
	return true;
}

static bool
show_stats(struct client *c, const char *arg)
{
	static const char *const cols[] = {
		"database", "total_xact_count", "total_query_count", "total_received",
		"total_sent", "total_xact_time", "total_query_time", "total_wait_time",
		"avg_xact_count", "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time",
		"avg_query_time", "avg_wait_time"
	};
	uint32_t	types[15];
	struct result r;
	struct rowbuf rb;
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	(void) arg;
	for (int i = 0; i < 15; i++)
		types[i] = i == 0 ? TEXT_OID : INT8_OID;
	result_begin(&r, 15, cols, types);
	/* one row per database: sum its pools (first pool of each name leads) */
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct pool_stats tot = {0},
					avg = {0};

		if (!leads_database(p))
			continue;
		list_for_each_safe(m, u, &pool_list)
		{
			struct pool *o = list_entry(m, struct pool, node);
			struct list_node *k,
					   *kt;

			if (strcmp(o->dbname, p->dbname) != 0 || o->is_admin != p->is_admin)
				continue;
			/* traffic of connected clients not yet added to the totals */
			list_for_each_safe(k, kt, &o->active_client_list)
				client_report_bytes(list_entry(k, struct client, node));
			tot.xact_count += o->stats.xact_count;
			tot.query_count += o->stats.query_count;
			tot.bytes_recv += o->stats.bytes_recv;
			tot.bytes_sent += o->stats.bytes_sent;
			tot.xact_time += o->stats.xact_time;
			tot.query_time += o->stats.query_time;
			tot.wait_time += o->stats.wait_time;
			avg.xact_count += o->stats_avg.xact_count;
			avg.query_count += o->stats_avg.query_count;
			avg.bytes_recv += o->stats_avg.bytes_recv;
			avg.bytes_sent += o->stats_avg.bytes_sent;
			/* time averages: the largest pool's figure is a fair summary */
			if (o->stats_avg.xact_time > avg.xact_time)
				avg.xact_time = o->stats_avg.xact_time;
			if (o->stats_avg.query_time > avg.query_time)
				avg.query_time = o->stats_avg.query_time;
			if (o->stats_avg.wait_time > avg.wait_time)
				avg.wait_time = o->stats_avg.wait_time;
		}
		rb_reset(&rb);
		rb_str(&rb, p->dbname);
		rb_int(&rb, (long long) tot.xact_count);
		rb_int(&rb, (long long) tot.query_count);
		rb_int(&rb, (long long) tot.bytes_recv);
		rb_int(&rb, (long long) tot.bytes_sent);
		rb_int(&rb, (long long) tot.xact_time);
		rb_int(&rb, (long long) tot.query_time);
		rb_int(&rb, (long long) tot.wait_time);
		rb_int(&rb, (long long) avg.xact_count);
		rb_int(&rb, (long long) avg.query_count);
		rb_int(&rb, (long long) avg.bytes_recv);
		rb_int(&rb, (long long) avg.bytes_sent);
		rb_int(&rb, (long long) avg.xact_time);
		rb_int(&rb, (long long) avg.query_time);
		rb_int(&rb, (long long) avg.wait_time);
		result_row(&r, rb.p);
	}
	return result_end(c, &r, "SHOW");
}

/* insert_batching counters per database: clients gone plus clients here. */
static bool
show_batching(struct client *c, const char *arg)
{
	static const char *const cols[] = {
		"database", "segments", "rows", "batches", "statements_saved", "fallbacks",
		"fallback_error", "fallback_rowcount", "fallback_table"
	};
	uint32_t	types[9];
	struct result r;
	struct rowbuf rb;
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	(void) arg;
	for (int i = 0; i < 9; i++)
		types[i] = i == 0 ? TEXT_OID : INT8_OID;
	result_begin(&r, 9, cols, types);
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct batch_stats tot = {0};

		if (p->is_admin || !leads_database(p))
			continue;
		list_for_each_safe(m, u, &pool_list)
		{
			struct pool *o = list_entry(m, struct pool, node);
			struct list *lists[2] = {&o->active_client_list, &o->waiting_client_list};

			if (o->is_admin || strcmp(o->dbname, p->dbname) != 0)
				continue;
			batch_stats_add(&tot, &o->batch_stats);
			for (int i = 0; i < 2; i++)
			{
				struct list_node *k,
						   *kt;

				list_for_each_safe(k, kt, lists[i])
				{
					struct client *cl = list_entry(k, struct client, node);

					if (cl->batch)
						batch_stats_add(&tot, batch_stats(cl->batch));
				}
			}
		}
		rb_reset(&rb);
		rb_str(&rb, p->dbname);
		rb_int(&rb, (long long) tot.segments);
		rb_int(&rb, (long long) tot.rows);
		rb_int(&rb, (long long) tot.batches);
		rb_int(&rb, (long long) (tot.rows - tot.batches));
		rb_int(&rb, (long long) tot.fallbacks);
		for (int i = 0; i < BATCH_FB_NREASONS; i++)
			rb_int(&rb, (long long) tot.fallback[i]);
		result_row(&r, rb.p);
	}
	return result_end(c, &r, "SHOW");
}

static const char *
client_state_name(const struct client *c)
{
	switch (c->state)
	{
		case CL_LOGIN:
			return "login";
		case CL_WAITING_LOGIN:
		case CL_WAITING:
			return "waiting";
		case CL_ACTIVE:
			return "active";
		default:
			return "unknown";
	}
}

static const char *
server_state_name(const struct server *s)
{
	switch (s->state)
	{
		case SV_LOGIN:
			return "login";
		case SV_IDLE:
			return "idle";
		case SV_ACTIVE:
			return "active";
		case SV_USED:
			return "used";
		case SV_TESTED:
			return "tested";
		default:
			return "unknown";
	}
}

static const char *const conn_cols[] = {
	"type", "user", "database", "state", "addr", "port", "local_addr", "local_port",
	"connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr", "link",
	"remote_pid", "tls", "application_name"
};
#define CONN_NCOLS 18

static void
conn_types(uint32_t *types)
{
	for (int i = 0; i < CONN_NCOLS; i++)
		types[i] = (i == 5 || i == 7 || i == 10 || i == 11 || i == 12 || i == 15) ? INT8_OID : TEXT_OID;
}

/* The local end of a socket as text address and port (NULL/0 for unix). */
static void
local_end(int fd, char *addr, size_t alen, int *port)
{
	struct sockaddr_storage ss;
	socklen_t	len = sizeof(ss);

	addr[0] = '\0';
	*port = 0;
	if (fd < 0 || getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
	{
		inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, addr, (socklen_t) alen);
		*port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
	}
	else if (ss.ss_family == AF_INET6)
	{
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, addr, (socklen_t) alen);
		*port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
	}
}

static void
client_row(struct result *r, struct client *c)
{
	struct rowbuf rb;
	char		tbuf[32],
				pbuf[32];
	int64_t		wait = c->state == CL_WAITING ? now_usec() - c->wait_start : 0;

	rb_reset(&rb);
	rb_str(&rb, "C");
	rb_str(&rb, client_username(c));
	rb_str(&rb, client_dbname(c));
	rb_str(&rb, client_state_name(c));
	rb_str(&rb, client_addr(c));
	rb_int(&rb, c->port);
	{
		char		la[64];
		int			lp;

		local_end(c->sb.fd, la, sizeof(la), &lp);
		rb_str(&rb, la[0] ? la : NULL);
		rb_int(&rb, lp);
	}
	format_wall_time(c->connect_time, tbuf, sizeof(tbuf));
	rb_str(&rb, tbuf);
	format_wall_time(c->request_time, tbuf, sizeof(tbuf));
	rb_str(&rb, tbuf);
	rb_int(&rb, wait / USEC_PER_SEC);
	rb_int(&rb, wait % USEC_PER_SEC);
	rb_int(&rb, 0);
	snprintf(pbuf, sizeof(pbuf), "%p", (void *) c);
	rb_str(&rb, pbuf);
	if (c->link)
	{
		snprintf(pbuf, sizeof(pbuf), "%p", (void *) c->link);
		rb_str(&rb, pbuf);
	}
	else
		rb_str(&rb, NULL);
	rb_int(&rb, 0);
	rb_str(&rb, "");
	rb_str(&rb, c->appname ? c->appname : "");
	result_row(r, rb.p);
}

static void
server_row(struct result *r, struct server *s)
{
	struct rowbuf rb;
	char		tbuf[32],
				pbuf[32];
	const struct cfg_database *db = pool_db(s->pool);

	rb_reset(&rb);
	rb_str(&rb, "S");
	rb_str(&rb, db && db->user ? db->user : s->pool->username);
	rb_str(&rb, s->pool->dbname);
	rb_str(&rb, server_state_name(s));
	rb_str(&rb, db && db->host ? db->host : "unix");
	rb_int(&rb, db ? db->port : 5432);
	{
		char		la[64];
		int			lp;

		local_end(s->sb.fd, la, sizeof(la), &lp);
		rb_str(&rb, la[0] ? la : NULL);
		rb_int(&rb, lp);
	}
	format_wall_time(s->connect_time, tbuf, sizeof(tbuf));
	rb_str(&rb, tbuf);
	format_wall_time(s->request_time, tbuf, sizeof(tbuf));
	rb_str(&rb, tbuf);
	rb_int(&rb, 0);
	rb_int(&rb, 0);
	rb_int(&rb, s->close_needed);
	snprintf(pbuf, sizeof(pbuf), "%p", (void *) s);
	rb_str(&rb, pbuf);
	if (s->link)
	{
		snprintf(pbuf, sizeof(pbuf), "%p", (void *) s->link);
		rb_str(&rb, pbuf);
	}
	else
		rb_str(&rb, NULL);
	rb_int(&rb, s->be_pid);
	rb_str(&rb, "");
	rb_str(&rb, "");
	result_row(r, rb.p);
}

static bool
show_clients(struct client *c, const char *arg)
{
	uint32_t	types[CONN_NCOLS];
	struct result r;
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	(void) arg;
	conn_types(types);
	result_begin(&r, CONN_NCOLS, conn_cols, types);
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct list *ls[] = {&p->active_client_list, &p->waiting_client_list, &p->waiting_login_list};

		for (int i = 0; i < 3; i++)
			list_for_each_safe(m, u, ls[i])
				client_row(&r, list_entry(m, struct client, node));
	}
	return result_end(c, &r, "SHOW");
}

static bool
show_servers(struct client *c, const char *arg)
{
	uint32_t	types[CONN_NCOLS];
	struct result r;
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	(void) arg;
	conn_types(types);
	result_begin(&r, CONN_NCOLS, conn_cols, types);
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct list *ls[] = {&p->active_server_list, &p->idle_server_list,
		&p->used_server_list, &p->new_server_list, &p->tested_server_list};

		for (int i = 0; i < 5; i++)
			list_for_each_safe(m, u, ls[i])
				server_row(&r, list_entry(m, struct server, node));
	}
	return result_end(c, &r, "SHOW");
}

static bool
show_databases(struct client *c, const char *arg)
{
	static const char *const cols[] = {
		"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
		"reserve_pool", "pool_mode", "max_connections", "current_connections", "paused",
		"disabled"
	};
	uint32_t	types[13];
	struct result r;
	struct rowbuf rb;

	(void) arg;
	for (int i = 0; i < 13; i++)
		types[i] = (i == 2 || (i >= 5 && i <= 7) || i >= 9) ? INT8_OID : TEXT_OID;
	result_begin(&r, 13, cols, types);
	for (size_t i = 0; i <= cfg->n_databases; i++)
	{
		const struct cfg_database *db = i < cfg->n_databases ? &cfg->databases[i] : cfg->fallback_db;
		int			cur = 0;
		bool		paused = pooler_paused;
		struct list_node *n,
				   *t;
		int			mode;

		if (db == NULL)
			continue;
		list_for_each_safe(n, t, &pool_list)
		{
			struct pool *p = list_entry(n, struct pool, node);

			if (!p->is_admin && strcmp(p->dbname, db->name) == 0)
			{
				cur += pool_server_count(p);
				paused = paused || p->paused;
			}
		}
		mode = db->pool_mode >= 0 ? db->pool_mode : cfg->pool_mode;
		rb_reset(&rb);
		rb_str(&rb, db->name);
		rb_str(&rb, db->host);
		rb_int(&rb, db->port);
		rb_str(&rb, db->dbname ? db->dbname : db->name);
		rb_str(&rb, db->user);
		rb_int(&rb, cfg_pool_size_for(cfg, db, NULL));
		rb_int(&rb, cfg_min_pool_size_for(cfg, db));
		rb_int(&rb, cfg_reserve_pool_for(cfg, db, NULL));
		rb_str(&rb, cfg_pool_mode_name(mode));
		rb_int(&rb, cfg_max_db_connections_for(cfg, db));
		rb_int(&rb, cur);
		rb_int(&rb, paused);
		rb_int(&rb, 0);
		result_row(&r, rb.p);
	}
	rb_reset(&rb);
	rb_str(&rb, ADMIN_DBNAME);
	rb_str(&rb, NULL);
	rb_int(&rb, cfg->listen_port);
	rb_str(&rb, ADMIN_DBNAME);
	rb_str(&rb, "pgbouncer");
	rb_int(&rb, 2);
	rb_int(&rb, 0);
	rb_int(&rb, 0);
	rb_str(&rb, "statement");
	rb_int(&rb, 0);
	rb_int(&rb, 0);
	rb_int(&rb, 0);
	rb_int(&rb, 0);
	result_row(&r, rb.p);
	return result_end(c, &r, "SHOW");
}

static bool
show_config(struct client *c, const char *arg)
{
	static const char *const cols[] = {"key", "value", "default", "changeable"};
	struct result r;
	struct cfg_show_row row;

	(void) arg;
	result_begin(&r, 4, cols, NULL);
	for (size_t i = 0; i < cfg_show_count(); i++)
	{
		const char *v[4];

		if (!cfg_show_row(cfg, i, &row))
			break;
		v[0] = row.key;
		v[1] = row.value;
		v[2] = row.default_value;
		v[3] = row.changeable ? "yes" : "no";
		result_row(&r, v);
	}
	return result_end(c, &r, "SHOW");
}

static bool
show_lists(struct client *c, const char *arg)
{
	static const char *const cols[] = {"list", "items"};
	uint32_t	types[2] = {TEXT_OID, INT8_OID};
	struct result r;
	struct rowbuf rb;
	struct list_node *n,
			   *t;
	int			pools = 0,
				used_clients = 0,
				servers = 0,
				users = 0;

	(void) arg;
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		pools++;
		used_clients += p->active_client_list.count + p->waiting_client_list.count +
			p->waiting_login_list.count;
		servers += pool_server_count(p);
	}
	users = (int) cfg->n_users;
	result_begin(&r, 2, cols, types);
#define LROW(name, val) do { rb_reset(&rb); rb_str(&rb, name); rb_int(&rb, val); result_row(&r, rb.p); } while (0)
	LROW("databases", (long long) cfg->n_databases + (cfg->fallback_db ? 1 : 0));
	LROW("users", users);
	LROW("pools", pools);
	LROW("free_clients", 0);
	LROW("used_clients", used_clients);
	LROW("login_clients", login_client_list.count);
	LROW("free_servers", 0);
	LROW("used_servers", servers);
	LROW("dns_names", 0);
	LROW("dns_zones", 0);
	LROW("dns_queries", 0);
	LROW("dns_pending", 0);
#undef LROW
	return result_end(c, &r, "SHOW");
}

static bool
show_version(struct client *c, const char *arg)
{
	static const char *const cols[] = {"version"};
	const char *v[1] = {"pgplumb-pooler " PGPLUMB_VERSION};
	struct result r;

	(void) arg;
	result_begin(&r, 1, cols, NULL);
	result_row(&r, v);
	return result_end(c, &r, "SHOW");
}

/* ---- control commands ---- */

static bool
cmd_pause(struct client *c, const char *arg)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (p->is_admin || (arg[0] && strcmp(arg, p->dbname) != 0))
			continue;
		p->paused = true;
		list_for_each_safe(m, u, &p->idle_server_list)
			disconnect_server(list_entry(m, struct server, node), false, NULL, "PAUSE");
	}
	if (arg[0] == '\0')
		pooler_paused = true;
	log_info("PAUSE %s: waiting for server connections to be released", arg[0] ? arg : "(all)");
	/* answered by admin_pause_check() once the paused pools have no servers */
	c->admin_wait = true;
	return true;
}

static bool
pause_drained(void)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (p->is_admin || !(p->paused || pooler_paused))
			continue;
		if (pool_server_count(p) > 0)
			return false;
	}
	return true;
}

void
admin_pause_check(void)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	if (admin_waiting == 0 || !pause_drained())
		return;
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (!p->is_admin)
			continue;
		list_for_each_safe(m, u, &p->active_client_list)
		{
			struct client *c = list_entry(m, struct client, node);
			struct proto_buf b;
			bool		ok;

			if (!c->admin_wait)
				continue;
			c->admin_wait = false;
			admin_waiting--;
			proto_buf_init(&b);
			proto_build_command_complete(&b, "PAUSE");
			proto_build_ready(&b, 'I');
			ok = send_and_free(c, &b);
			if (!ok)
				disconnect_client(c, NULL, "could not send to admin client");
			else
				sbuf_continue(&c->sb);
		}
	}
	log_info("PAUSE done: no server connections in use");
}

static bool
cmd_resume(struct client *c, const char *arg)
{
	if (admin_waiting > 0)
		return admin_error(c, "55000", "a PAUSE is still waiting for servers to be released");
	struct list_node *n,
			   *t;

	if (arg[0] == '\0')
		pooler_paused = false;
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (p->is_admin || (arg[0] && strcmp(arg, p->dbname) != 0))
			continue;
		p->paused = false;
		pool_activate(p);
	}
	log_info("RESUME %s", arg[0] ? arg : "(all)");
	return simple_ok(c, "RESUME");
}

static bool
cmd_reload(struct client *c, const char *arg)
{
	(void) arg;
	if (pooler_reload() < 0)
		return admin_error(c, "F0000", "reload failed: the old configuration stays in force (see the log)");
	return simple_ok(c, "RELOAD");
}

static bool
cmd_kill(struct client *c, const char *arg)
{
	if (arg[0] == '\0')
		return admin_error(c, "42601", "KILL needs a database name");
	if (cfg_find_database(cfg, arg) == NULL)
		return admin_error(c, "3D000", "no such database");
	log_info("KILL %s", arg);
	kill_database(arg);
	return simple_ok(c, "KILL");
}

static bool
cmd_reconnect(struct client *c, const char *arg)
{
	struct list_node *n,
			   *t;

	if (arg[0] && cfg_find_database(cfg, arg) == NULL)
		return admin_error(c, "3D000", "no such database");
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		if (p->is_admin || (arg[0] && strcmp(arg, p->dbname) != 0))
			continue;
		pool_reconnect(p, "RECONNECT");
	}
	log_info("RECONNECT %s", arg[0] ? arg : "(all)");
	return simple_ok(c, "RECONNECT");
}

static bool
cmd_shutdown(struct client *c, const char *arg)
{
	(void) arg;
	if (!simple_ok(c, "SHUTDOWN"))
		return false;
	janitor_start_shutdown("SHUTDOWN command", false);
	return true;
}

/* insert_coalescing counters (coalesce.c), one row. */
static bool
show_coalescing(struct client *c, const char *arg)
{
	static const char *const cols[] = {"coalesced_rows", "merged_statements", "fallbacks",
	"solo", "window_ends", "overlapped"};
	uint32_t	types[6] = {INT8_OID, INT8_OID, INT8_OID, INT8_OID, INT8_OID, INT8_OID};
	struct result r;
	struct rowbuf rb;

	(void) arg;
	result_begin(&r, 6, cols, types);
	rb_reset(&rb);
	rb_int(&rb, (long long) coalesce_stats.rows);
	rb_int(&rb, (long long) coalesce_stats.statements);
	rb_int(&rb, (long long) coalesce_stats.fallbacks);
	rb_int(&rb, (long long) coalesce_stats.solo);
	rb_int(&rb, (long long) coalesce_stats.window_ends);
	rb_int(&rb, (long long) coalesce_stats.overlapped);
	result_row(&r, rb.p);
	return result_end(c, &r, "SHOW");
}

/* Merged statements committed by rows (the last row: that many or more). */
static bool
show_coalescing_sizes(struct client *c, const char *arg)
{
	static const char *const cols[] = {"rows", "merged_statements"};
	uint32_t	types[2] = {INT8_OID, INT8_OID};
	struct result r;
	struct rowbuf rb;

	(void) arg;
	result_begin(&r, 2, cols, types);
	for (int n = 1; n < COAL_SIZE_BUCKETS; n++)
	{
		if (coalesce_stats.sizes[n] == 0)
			continue;
		rb_reset(&rb);
		rb_int(&rb, n);
		rb_int(&rb, (long long) coalesce_stats.sizes[n]);
		result_row(&r, rb.p);
	}
	return result_end(c, &r, "SHOW");
}

struct admin_cmd
{
	const char *word1;
	const char *word2;			/* NULL: command takes an optional argument */
	bool		needs_admin;	/* stats_users may not run it */
	bool		(*fn) (struct client *c, const char *arg);
};

static const struct admin_cmd admin_cmds[] = {
	{"show", "batching", false, show_batching},
	{"show", "clients", false, show_clients},
	{"show", "coalescing", false, show_coalescing},
	{"show", "coalescing_sizes", false, show_coalescing_sizes},
	{"show", "config", false, show_config},
	{"show", "databases", false, show_databases},
	{"show", "lists", false, show_lists},
	{"show", "pools", false, show_pools},
	{"show", "servers", false, show_servers},
	{"show", "stats", false, show_stats},
	{"show", "version", false, show_version},
	{"kill", NULL, true, cmd_kill},
	{"pause", NULL, true, cmd_pause},
	{"reconnect", NULL, true, cmd_reconnect},
	{"reload", NULL, true, cmd_reload},
	{"resume", NULL, true, cmd_resume},
	{"shutdown", NULL, true, cmd_shutdown},
};

/* Next word of s (lower-cased into w), returns the rest. */
static const char *
next_word(const char *s, char *w, size_t wlen)
{
	size_t		n = 0;

	while (*s && isspace((unsigned char) *s))
		s++;
	while (*s && !isspace((unsigned char) *s) && *s != ';')
	{
		if (n + 1 < wlen)
			w[n++] = (char) tolower((unsigned char) *s);
		s++;
	}
	w[n] = '\0';
	return s;
}

enum sbuf_ret
admin_handle_query(struct client *c, const uint8_t *body, uint32_t len)
{
	char		sql[1024];
	char		w1[64],
				w2[64],
				arg[NAME_MAX_LEN],
				extra[64];
	const char *rest;
	bool		ok = true;
	bool		found = false;
	struct proto_buf b;

	if (len == 0 || body[len - 1] != '\0' || len > sizeof(sql))
	{
		ok = admin_error(c, "08P01", "invalid or too long admin command");
		goto done;
	}
	memcpy(sql, body, len);
	rest = next_word(sql, w1, sizeof(w1));
	if (w1[0] == '\0')
	{
		proto_buf_init(&b);
		proto_build_empty_query(&b);
		ok = send_and_free(c, &b);
		goto done;
	}
	for (size_t i = 0; i < sizeof(admin_cmds) / sizeof(admin_cmds[0]); i++)
	{
		const struct admin_cmd *cmd = &admin_cmds[i];
		const char *r2 = rest;

		if (strcmp(cmd->word1, w1) != 0)
			continue;
		if (cmd->word2)
		{
			r2 = next_word(rest, w2, sizeof(w2));
			if (strcmp(cmd->word2, w2) != 0)
				continue;
			arg[0] = '\0';
		}
		else
		{
			/* optional argument: keep its case (database names) */
			size_t		n = 0;

			while (*r2 && isspace((unsigned char) *r2))
				r2++;
			while (*r2 && !isspace((unsigned char) *r2) && *r2 != ';' && n + 1 < sizeof(arg))
				arg[n++] = *r2++;
			arg[n] = '\0';
		}
		(void) next_word(r2, extra, sizeof(extra));
		found = true;
		if (extra[0])
			ok = admin_error(c, "42601", "unexpected words after the admin command");
		else if (cmd->needs_admin && !c->admin_full)
			ok = admin_error(c, "42501", "admin access needed: user is not in admin_users");
		else
			ok = cmd->fn(c, arg);
		break;
	}
	if (!found)
		ok = admin_error(c, "42601", "unknown admin command; try SHOW POOLS, SHOW STATS, SHOW BATCHING, SHOW CLIENTS, SHOW SERVERS, SHOW DATABASES, SHOW CONFIG, SHOW LISTS, PAUSE, RESUME, RELOAD, RECONNECT, KILL db, SHUTDOWN");
done:
	if (c->state == CL_JUSTFREE)
		return SBUF_CLOSED;
	if (ok && c->admin_wait)
	{
		admin_waiting++;
		admin_pause_check();
		return c->state == CL_JUSTFREE ? SBUF_CLOSED : SBUF_SKIP;
	}
	if (ok)
	{
		proto_buf_init(&b);
		proto_build_ready(&b, 'I');
		ok = send_and_free(c, &b);
	}
	if (!ok)
	{
		disconnect_client(c, NULL, "could not send to admin client");
		return SBUF_CLOSED;
	}
	return SBUF_SKIP;
}

void
admin_pause_forget(struct client *c)
{
	if (c->admin_wait)
	{
		c->admin_wait = false;
		admin_waiting--;
	}
}
