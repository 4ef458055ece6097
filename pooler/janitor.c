/*
 * janitor.c -- every timeout as a deadline on its object's timer: client
 * login/wait/idle/idle-in-transaction/query timeouts, server connect/idle/
 * lifetime, pool retries, and the graceful-shutdown countdown.  A timer that
 * fires early (the state moved on) just re-arms at the new deadline.
 */
#include "janitor.h"

#include <stdlib.h>

#include "pooler.h"

/*
 * How long a safe shutdown (SIGINT, SHUTDOWN) waits for transactions to
 * finish, and a super-safe one (SIGTERM) for clients to leave: the setting
 * shutdown_wait_timeout (0 = do not wait).
 */
static int64_t
shutdown_limit(void)
{
	return cfg->shutdown_wait_timeout > 0 ? cfg->shutdown_wait_timeout : 0;
}

static struct event shutdown_timer;
static struct event shutdown_sweep;
static bool shutdown_timer_set;

/*
 * Timer events are taken from a free list while a deadline is armed and
 * given back when none is, so an idle connection holds no timer and arming
 * one on the query path does not allocate.
 */
#define TIMER_FREELIST_MAX 4096
static void *timer_free_list[TIMER_FREELIST_MAX];
static int	timer_free_count;

static struct event *
timer_get(event_callback_fn cb, void *arg)
{
	struct event *ev = timer_free_count > 0 ? timer_free_list[--timer_free_count]
	: malloc(event_get_struct_event_size());

	if (ev == NULL || evtimer_assign(ev, pooler_base, cb, arg) < 0)
	{
		free(ev);
		return NULL;
	}
	return ev;
}

void
janitor_timer_put(struct event **evp)
{
	if (*evp == NULL)
		return;
	evtimer_del(*evp);
	if (timer_free_count < TIMER_FREELIST_MAX)
		timer_free_list[timer_free_count++] = *evp;
	else
		free(*evp);
	*evp = NULL;
}

void
janitor_cleanup(void)
{
	while (timer_free_count > 0)
		free(timer_free_list[--timer_free_count]);
}

/*
 * Arm *evp at `deadline` unless an earlier deadline is armed already (a timer
 * that fires early just re-arms).  No deadline: the timer goes back to the
 * free list.
 */
static void
arm(struct event **evp, int64_t *timer_at, int64_t deadline,
	event_callback_fn cb, void *arg)
{
	struct timeval tv;
	int64_t		d;

	if (deadline <= 0)
	{
		janitor_timer_put(evp);
		*timer_at = 0;
		return;
	}
	if (*evp && *timer_at && *timer_at <= deadline)
		return;
	if (*evp == NULL)
	{
		*evp = timer_get(cb, arg);
		if (*evp == NULL)
		{
			log_error("out of memory for a timer");
			return;
		}
	}
	d = deadline - now_usec();
	if (d < 0)
		d = 0;
	tv.tv_sec = d / USEC_PER_SEC;
	tv.tv_usec = d % USEC_PER_SEC;
	evtimer_add(*evp, &tv);
	*timer_at = deadline;
}

static int64_t
after(int64_t start, int64_t timeout)
{
	return timeout > 0 ? start + timeout : 0;
}

static int64_t
earliest(int64_t a, int64_t b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

static int64_t
cancel_wait(void)
{
	int64_t		w = cfg->cancel_wait_timeout;

	return w > 0 ? w : 10 * USEC_PER_SEC;
}

static int64_t
client_deadline(const struct client *c)
{
	const struct server *s = c->link;

	switch (c->state)
	{
		case CL_LOGIN:
		case CL_WAITING_LOGIN:
			return after(c->connect_time, cfg->client_login_timeout);
		case CL_WAITING:
			{
				int64_t		d = after(c->wait_start, cfg->query_wait_timeout);
				int			res = cfg_reserve_pool_for(cfg, pool_db(c->pool), NULL);

				if (!c->reserve_ok && res > 0)
					d = earliest(d, c->wait_start + cfg->reserve_pool_timeout);
				return d;
			}
		case CL_ACTIVE:
			if (c->is_admin || s == NULL)
				return after(c->request_time, cfg->client_idle_timeout);
			if (s->cancel_sent)
				return s->cancel_time + cancel_wait();
			if (s->expect_rfq > 0 || s->ext_open)
				return after(s->query_start, cfg->query_timeout);
			if (s->txn_status != 'I')
				return after(c->request_time, cfg->idle_transaction_timeout);
			return after(c->request_time, cfg->client_idle_timeout);
		default:
			return 0;
	}
}

void
janitor_client_update(struct client *c)
{
	if (c->state == CL_JUSTFREE)
		return;
	arm(&c->timer, &c->timer_at, client_deadline(c), janitor_client_cb, c);
}

void
janitor_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct server *s = c->link;
	int64_t		d;
	int64_t		now;

	(void) fd;
	(void) what;
	now_update();
	now = now_usec();
	c->timer_at = 0;
	if (c->state == CL_JUSTFREE)
		return;
	d = client_deadline(c);
	if (d <= 0)
	{
		janitor_client_update(c);	/* releases the timer */
		return;
	}
	if (now < d)
	{
		arm(&c->timer, &c->timer_at, d, janitor_client_cb, c);
		return;
	}
	switch (c->state)
	{
		case CL_LOGIN:
		case CL_WAITING_LOGIN:
			disconnect_client(c, "08P01", "client_login_timeout: login not completed in time");
			break;
		case CL_WAITING:
			if (cfg->query_wait_timeout > 0 && now >= c->wait_start + cfg->query_wait_timeout)
			{
				disconnect_client(c, "57014", "query_wait_timeout: no server connection became free in %lld ms",
								  (long long) (cfg->query_wait_timeout / USEC_PER_MSEC));
				break;
			}
			c->reserve_ok = true;
			pool_activate(c->pool);
			janitor_client_update(c);
			break;
		case CL_ACTIVE:
			if (c->is_admin || s == NULL)
				disconnect_client(c, "57P05", "client_idle_timeout: client idle for %lld ms",
								  (long long) (cfg->client_idle_timeout / USEC_PER_MSEC));
			else if (s->cancel_sent)
				disconnect_server(s, true, "57014",
								  "canceling statement due to query_timeout; the server did not answer the cancel request");
			else if (s->expect_rfq > 0 || s->ext_open)
			{
				log_info("%s query_timeout (%lld ms): sending a cancel request to the server",
						 client_ident(c), (long long) (cfg->query_timeout / USEC_PER_MSEC));
				s->cancel_sent = true;
				s->cancel_worked = false;
				s->cancel_time = now;
				launch_cancel(s);
				janitor_client_update(c);
			}
			else if (s->txn_status != 'I')
				disconnect_client(c, "25P03", "idle_transaction_timeout: idle in transaction for %lld ms",
								  (long long) (cfg->idle_transaction_timeout / USEC_PER_MSEC));
			else
				disconnect_client(c, "57P05", "client_idle_timeout: client idle for %lld ms",
								  (long long) (cfg->client_idle_timeout / USEC_PER_MSEC));
			break;
		default:
			break;
	}
}

static int64_t
server_deadline(const struct server *s)
{
	switch (s->state)
	{
		case SV_LOGIN:
		case SV_CANCEL:
			return after(s->connect_time, cfg->server_connect_timeout);
		case SV_USED:
		case SV_TESTED:
			return after(s->request_time, cfg->server_connect_timeout);
		case SV_IDLE:
			return earliest(after(s->request_time, cfg->server_idle_timeout),
							after(s->connect_time, cfg_server_lifetime_for(cfg, pool_db(s->pool))));
		default:
			return 0;
	}
}

void
janitor_server_update(struct server *s)
{
	if (s->state == SV_JUSTFREE)
		return;
	arm(&s->timer, &s->timer_at, server_deadline(s), janitor_server_cb, s);
}

void
janitor_server_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int64_t		d,
				now,
				lifetime;
	struct pool *p = s->pool;

	(void) fd;
	(void) what;
	now_update();
	now = now_usec();
	s->timer_at = 0;
	if (s->state == SV_JUSTFREE)
		return;
	d = server_deadline(s);
	if (d <= 0)
	{
		janitor_server_update(s);	/* releases the timer */
		return;
	}
	if (now < d)
	{
		arm(&s->timer, &s->timer_at, d, janitor_server_cb, s);
		return;
	}
	switch (s->state)
	{
		case SV_LOGIN:
			disconnect_server(s, true, "08006", "server_connect_timeout: could not log in to the server in %lld ms",
							  (long long) (cfg->server_connect_timeout / USEC_PER_MSEC));
			break;
		case SV_CANCEL:
			disconnect_server(s, false, NULL, "cancel connection timed out");
			break;
		case SV_USED:
		case SV_TESTED:
			disconnect_server(s, false, NULL, "%s did not finish in time",
							  s->state == SV_TESTED ? "server_check_query" : "server_reset_query");
			break;
		case SV_IDLE:
			lifetime = cfg_server_lifetime_for(cfg, pool_db(p));
			if (lifetime > 0 && now >= s->connect_time + lifetime)
			{
				disconnect_server(s, false, NULL, "server_lifetime");
				break;
			}
			if (pool_server_count(p) > cfg_min_pool_size_for(cfg, pool_db(p)))
			{
				disconnect_server(s, false, NULL, "server_idle_timeout");
				break;
			}
			/* kept for min_pool_size: look again one idle period later */
			s->request_time = now;
			janitor_server_update(s);
			break;
		default:
			break;
	}
}

void
janitor_pool_at(struct pool *p, int64_t at)
{
	struct timeval tv;
	int64_t		d;

	if (at <= 0 || (p->timer_at && p->timer_at <= at))
		return;
	d = at - now_usec();
	if (d < 0)
		d = 0;
	tv.tv_sec = d / USEC_PER_SEC;
	tv.tv_usec = d % USEC_PER_SEC;
	evtimer_add(&p->timer, &tv);
	p->timer_at = at;
}

void
janitor_pool_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	(void) fd;
	(void) what;
	now_update();
	p->timer_at = 0;
	if (pool_free_if_idle(p))
		return;
	pool_activate(p);
}

/* ---- SHOW STATS averages, once per stats_period ---- */

static struct event stats_timer;
static bool stats_timer_on;

static void
stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;
	int64_t		period = cfg->stats_period > 0 ? cfg->stats_period : 60 * USEC_PER_SEC;
	double		secs = (double) period / USEC_PER_SEC;

	(void) fd;
	(void) what;
	(void) arg;
	now_update();
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct pool_stats *cur = &p->stats,
				   *prev = &p->stats_prev,
				   *avg = &p->stats_avg;
		uint64_t	dx,
					dq;

		list_for_each_safe(m, u, &p->active_client_list)
			client_report_bytes(list_entry(m, struct client, node));
		dx = cur->xact_count - prev->xact_count;
		dq = cur->query_count - prev->query_count;
		avg->xact_count = (uint64_t) ((double) dx / secs);
		avg->query_count = (uint64_t) ((double) dq / secs);
		avg->bytes_recv = (uint64_t) ((double) (cur->bytes_recv - prev->bytes_recv) / secs);
		avg->bytes_sent = (uint64_t) ((double) (cur->bytes_sent - prev->bytes_sent) / secs);
		avg->xact_time = dx ? (cur->xact_time - prev->xact_time) / dx : 0;
		avg->query_time = dq ? (cur->query_time - prev->query_time) / dq : 0;
		avg->wait_time = dx ? (cur->wait_time - prev->wait_time) / dx : 0;
		*prev = *cur;
	}
	janitor_stats_start();
}

void
janitor_stats_start(void)
{
	int64_t		period = cfg->stats_period > 0 ? cfg->stats_period : 60 * USEC_PER_SEC;
	struct timeval tv = {period / USEC_PER_SEC, period % USEC_PER_SEC};

	if (!stats_timer_on)
	{
		evtimer_assign(&stats_timer, pooler_base, stats_tick, NULL);
		stats_timer_on = true;
	}
	evtimer_add(&stats_timer, &tv);
}

void
janitor_stats_stop(void)
{
	if (stats_timer_on)
		evtimer_del(&stats_timer);
	stats_timer_on = false;
}

/* ---- graceful shutdown ---- */

static int
live_objects(void)
{
	struct list_node *n,
			   *t;
	int			total = login_client_list.count + cancel_server_list.count;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		total += p->active_client_list.count + p->waiting_client_list.count +
			p->waiting_login_list.count + pool_server_count(p);
	}
	return total;
}

static int
client_objects(void)
{
	struct list_node *n,
			   *t;
	int			total = login_client_list.count;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		total += p->active_client_list.count + p->waiting_client_list.count +
			p->waiting_login_list.count;
	}
	return total;
}

/*
 * Runs from the loop, never inside another list walk: once the last client
 * is gone the servers are closed, and once nothing is left the loop stops.
 */
static void
shutdown_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	now_update();
	if (client_objects() == 0)
	{
		struct list_node *n,
				   *t,
				   *m,
				   *u;

		list_for_each_safe(n, t, &pool_list)
		{
			struct pool *p = list_entry(n, struct pool, node);
			struct list *sl[] = {&p->active_server_list, &p->idle_server_list,
			&p->used_server_list, &p->new_server_list, &p->tested_server_list};

			for (int i = 0; i < 5; i++)
				list_for_each_safe(m, u, sl[i])
					disconnect_server(list_entry(m, struct server, node), false, NULL,
									  "shutting down");
		}
	}
	if (live_objects() == 0)
		event_base_loopbreak(pooler_base);
}

void
janitor_shutdown_check(void)
{
	if (pooler_shutting_down && shutdown_timer_set)
		event_active(&shutdown_sweep, EV_TIMEOUT, 0);
}

static void
close_everything(const char *why)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	list_for_each_safe(m, u, &login_client_list)
		disconnect_client(list_entry(m, struct client, node), "57P01", "%s", why);
	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);
		struct list *cl[] = {&p->active_client_list, &p->waiting_client_list, &p->waiting_login_list};
		struct list *sl[] = {&p->active_server_list, &p->idle_server_list,
		&p->used_server_list, &p->new_server_list, &p->tested_server_list};

		for (int i = 0; i < 3; i++)
			list_for_each_safe(m, u, cl[i])
				disconnect_client(list_entry(m, struct client, node), "57P01", "%s", why);
		for (int i = 0; i < 5; i++)
			list_for_each_safe(m, u, sl[i])
				disconnect_server(list_entry(m, struct server, node), true, "57P01", "%s", why);
	}
	list_for_each_safe(m, u, &cancel_server_list)
		disconnect_server(list_entry(m, struct server, node), false, NULL, "%s", why);
}

static void
shutdown_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	now_update();
	if (pooler_shutdown_wait_clients)
	{
		log_info("shutdown: clients still connected after shutdown_wait_timeout, closing them");
		close_everything("pgplumb-pooler is shutting down: clients did not disconnect in time");
	}
	else
	{
		log_info("shutdown: transactions still running after shutdown_wait_timeout, closing them");
		close_everything("pgplumb-pooler is shutting down: transaction did not finish in time");
	}
	event_base_loopbreak(pooler_base);
}

/* Safe shutdown: idle clients go now, the others after their transaction. */
static void
close_clients_after_transactions(void)
{
	struct list_node *n,
			   *t,
			   *m,
			   *u;

	list_for_each_safe(n, t, &pool_list)
	{
		struct pool *p = list_entry(n, struct pool, node);

		list_for_each_safe(m, u, &p->waiting_login_list)
			disconnect_client(list_entry(m, struct client, node), "57P01", "pgplumb-pooler is shutting down");
		list_for_each_safe(m, u, &p->waiting_client_list)
			disconnect_client(list_entry(m, struct client, node), "57P01", "pgplumb-pooler is shutting down");
		list_for_each_safe(m, u, &p->active_client_list)
		{
			struct client *c = list_entry(m, struct client, node);
			struct server *s = c->link;

			if (s == NULL || (s->expect_rfq == 0 && !s->ext_open && s->txn_status == 'I'))
				disconnect_client(c, "57P01", "pgplumb-pooler is shutting down");
			else
				c->shutdown_close = true;
		}
		list_for_each_safe(m, u, &p->idle_server_list)
			disconnect_server(list_entry(m, struct server, node), false, NULL, "shutting down");
		list_for_each_safe(m, u, &p->new_server_list)
			disconnect_server(list_entry(m, struct server, node), false, NULL, "shutting down");
		list_for_each_safe(m, u, &p->tested_server_list)
			disconnect_server(list_entry(m, struct server, node), false, NULL, "shutting down");
	}
}

void
janitor_start_shutdown(const char *why, bool wait_for_clients)
{
	struct list_node *m,
			   *u;
	int64_t		limit = shutdown_limit();
	struct timeval tv = {limit / USEC_PER_SEC, limit % USEC_PER_SEC};

	if (pooler_shutting_down)
	{
		log_info("shutdown requested again (%s): closing everything now", why);
		close_everything("pgplumb-pooler is shutting down immediately");
		event_base_loopbreak(pooler_base);
		return;
	}
	pooler_shutting_down = true;
	pooler_shutdown_wait_clients = wait_for_clients;
	pooler_stop_listening();
	if (wait_for_clients)
		log_info("shutting down (%s): no new connections; waiting up to %.1f s for clients to disconnect",
				 why, (double) limit / USEC_PER_SEC);
	else
		log_info("shutting down (%s): no new connections; waiting up to %.1f s for transactions",
				 why, (double) limit / USEC_PER_SEC);
	list_for_each_safe(m, u, &login_client_list)
		disconnect_client(list_entry(m, struct client, node), "57P01", "pgplumb-pooler is shutting down");
	/* super safe: logged-in clients keep being served until they leave */
	if (!wait_for_clients)
		close_clients_after_transactions();
	evtimer_assign(&shutdown_timer, pooler_base, shutdown_timer_cb, NULL);
	evtimer_assign(&shutdown_sweep, pooler_base, shutdown_sweep_cb, NULL);
	evtimer_add(&shutdown_timer, &tv);
	shutdown_timer_set = true;
	janitor_shutdown_check();
}
