/*
 * client.c -- the client half of the pooler: login (startup packet, SSL
 * refusal, CancelRequest, authentication through auth.c, welcome) and the
 * relay of the client's messages to its server, which looks only at message
 * headers to count the ReadyForQuery replies still to come.
 */
#include "client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "batch.h"
#include "coalesce.h"
#include "janitor.h"
#include "server.h"
#include "txn.h"
#include "userlist.h"

/* Startup parameters a client may send that we accept (PgBouncer's set). */
static const char *const accepted_params[] = {
	"user", "database", "application_name", "client_encoding", "datestyle",
	"timezone", "standard_conforming_strings", NULL
};

void
client_accept(int fd, const struct sockaddr *sa, socklen_t salen, bool is_unix)
{
	struct client *c = client_new();

	(void) salen;
	if (c == NULL)
	{
		close(fd);
		return;
	}
	if (is_unix)
	{
		c->addr_family = AF_UNIX;
		c->port = (int) getpid();
	}
	else if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

		c->addr_family = AF_INET;
		memcpy(c->addr, &in->sin_addr, sizeof(in->sin_addr));
		c->port = ntohs(in->sin_port);
	}
	else if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

		c->addr_family = AF_INET6;
		memcpy(c->addr, &in6->sin6_addr, sizeof(in6->sin6_addr));
		c->port = ntohs(in6->sin6_port);
	}
	c->sb.startup = true;
	c->sb.max_pkt = cfg->max_packet_size > 0 ? (uint32_t) cfg->max_packet_size : 0;
	change_client_state(c, CL_LOGIN);
	if (sbuf_accept(&c->sb, fd, is_unix) < 0)
	{
		close(fd);
		disconnect_client(c, NULL, "could not set up the socket");
		return;
	}
	if (pooler_shutting_down)
	{
		disconnect_client(c, "57P01", "pgplumb-pooler is shutting down");
		return;
	}
	janitor_client_update(c);

	/*
	 * the startup packet usually came with the connection: read it now rather
	 * than after another trip through the event loop
	 */
	sbuf_try_read(&c->sb);
}

/* ---- login ---- */

struct startup_ctx
{
	struct client *c;
	char		bad[NAME_MAX_LEN];
	bool		pq_options;
};

/* Copy a name, cut to NAME_MAX_LEN - 1 bytes. */
static void
copy_name(char dst[NAME_MAX_LEN], const char *src)
{
	size_t		n = strnlen(src, NAME_MAX_LEN - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
take_param(const char *name, const char *value, void *arg)
{
	struct startup_ctx *ctx = arg;
	struct client *c = ctx->c;
	bool		tracked = txn_client_startup_param(c, name, value);

	if (strcmp(name, "user") == 0)
		copy_name(c->login->username, value);
	else if (strcmp(name, "database") == 0)
		copy_name(c->login->dbname, value);
	else if (strcmp(name, "application_name") == 0)
	{
		free(c->appname);
		c->appname = strndup(value, NAME_MAX_LEN - 1);
	}
	else if (strncmp(name, "_pq_.", 5) == 0)
		ctx->pq_options = true;
	else if (tracked)
		;						/* a tracked session parameter */
	else
	{
		bool		ok = false;

		for (int i = 0; accepted_params[i]; i++)
			if (strcasecmp(name, accepted_params[i]) == 0)
				ok = true;
		if (!ok && !cfg_list_contains(cfg->ignore_startup_parameters, name) && ctx->bad[0] == 0)
			snprintf(ctx->bad, sizeof(ctx->bad), "%s", name);
	}
	return 0;
}

/*
 * The messages of a login (authentication requests, AuthenticationOk and the
 * welcome) are built here and sent at once; sbuf_send() copies whatever the
 * socket does not take.  One buffer serves every login instead of a malloc,
 * realloc and free per message.
 */
static struct proto_buf login_out;

static struct proto_buf *
login_buf(void)
{
	proto_buf_reset(&login_out);
	return &login_out;
}

static bool
send_auth_request(struct client *c, const struct auth_out *out)
{
	struct proto_buf *b = login_buf();

	proto_begin(b, PQMSG_AuthenticationRequest);
	proto_put_bytes(b, out->data, out->len);
	proto_end(b);
	return sbuf_send_buf(&c->sb, b);
}

/* Append the welcome (ParameterStatus, BackendKeyData, ReadyForQuery). */
static void
build_welcome(struct client *c, struct proto_buf *b)
{
	if (c->is_admin)
	{
		proto_build_parameter_status(b, "server_version", "15.0 (pgplumb-pooler)");
		proto_build_parameter_status(b, "server_encoding", "UTF8");
		proto_build_parameter_status(b, "client_encoding", "UTF8");
		proto_build_parameter_status(b, "DateStyle", "ISO, MDY");
		proto_build_parameter_status(b, "integer_datetimes", "on");
		proto_build_parameter_status(b, "standard_conforming_strings", "on");
		proto_build_parameter_status(b, "is_superuser", "off");
		proto_build_parameter_status(b, "TimeZone", "UTC");
	}
	else if (!txn_client_welcome(c, b))
		b->failed = true;
	cancel_key_assign(c);
	proto_build_backend_key(b, c->key_pid, c->key_secret);
	proto_build_ready(b, 'I');
	c->request_time = now_usec();
	if (cfg->log_connections)
		log_info("%s login attempt: db=%s user=%s application_name=%s", client_ident(c),
				 client_dbname(c), client_username(c), c->appname ? c->appname : "");
}

bool
client_send_welcome(struct client *c)
{
	struct proto_buf *b = login_buf();

	build_welcome(c, b);
	return sbuf_send_buf(&c->sb, b);
}

/* Authentication succeeded: join the pool. */
static enum sbuf_ret
login_ok(struct client *c)
{
	struct proto_buf *b;
	bool		ok;
	struct pool *p;
	unsigned char key[32];

	p = pool_get(c->login->dbname, c->login->username, c->is_admin);
	if (p == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	if (c->auth && auth_server_client_key(c->auth, key))
	{
		memcpy(p->scram_client_key, key, sizeof(key));
		p->have_scram_key = true;
	}
	if (c->auth)
	{
		auth_server_free(c->auth);
		c->auth = NULL;
	}
	c->pool = p;
	free(c->login);				/* the pool has the names */
	c->login = NULL;
	p->login_count++;

	/*
	 * AuthenticationOk and, when the pool knows its welcome, the welcome: one
	 * write
	 */
	b = login_buf();
	proto_build_auth(b, PROTO_AUTH_OK, NULL, 0);
	if (c->is_admin || p->have_welcome)
	{
		change_client_state(c, CL_ACTIVE);
		build_welcome(c, b);
	}
	ok = sbuf_send_buf(&c->sb, b);
	if (!ok)
	{
		disconnect_client(c, NULL, "could not send to client");
		return SBUF_CLOSED;
	}
	if (c->state == CL_ACTIVE)
	{
		janitor_client_update(c);
		if (!c->is_admin)
			pool_prewarm(p);
		return SBUF_SKIP;
	}

	/*
	 * The first client of a pool waits for a server login to learn the
	 * ParameterStatus values it must be told.
	 */
	if (pool_login_failing(c))
		return SBUF_CLOSED;
	change_client_state(c, CL_WAITING_LOGIN);
	janitor_client_update(c);
	pool_activate(p);
	return c->state == CL_JUSTFREE ? SBUF_CLOSED : SBUF_SKIP;
}

static enum sbuf_ret
auth_result(struct client *c, enum auth_status st, const struct auth_out *out)
{
	switch (st)
	{
		case AUTH_CONTINUE:
			if (!send_auth_request(c, out))
			{
				disconnect_client(c, NULL, "could not send to client");
				return SBUF_CLOSED;
			}
			return SBUF_SKIP;
		case AUTH_OK:
			if (out && out->len > 0 && !send_auth_request(c, out))
			{
				disconnect_client(c, NULL, "could not send to client");
				return SBUF_CLOSED;
			}
			return login_ok(c);
		case AUTH_FAIL:
			disconnect_client(c, "28P01", "password authentication failed for user \"%s\"",
							  client_username(c));
			return SBUF_CLOSED;
		case AUTH_PROTOCOL_ERROR:
			break;
	}
	disconnect_client(c, "08P01", "invalid authentication message");
	return SBUF_CLOSED;
}

static enum sbuf_ret
handle_cancel_request(struct client *c, struct sbuf_pkt *pkt)
{
	struct client *target;

	if (pkt->total != 16)
	{
		disconnect_client(c, "08P01", "invalid cancel request");
		return SBUF_CLOSED;
	}
	target = cancel_key_find(proto_get_u32(pkt->data + 8), proto_get_u32(pkt->data + 12));
	if (target == NULL)
		log_info("cancel request with an unknown key from %s", client_addr(c));
	else if (target->link && target->link->state == SV_ACTIVE &&
			 (target->link->expect_rfq > 0 || target->link->ext_open))
	{
		log_info("%s cancel request forwarded", client_ident(target));
		launch_cancel(target->link);
	}
	else
		log_debug("%s cancel request for an idle client ignored", client_ident(target));
	disconnect_client(c, NULL, "cancel request handled");
	return SBUF_CLOSED;
}

static enum sbuf_ret
handle_startup(struct client *c, struct sbuf_pkt *pkt)
{
	struct startup_ctx ctx;
	struct client_login *login;
	const struct cfg_database *db;
	const char *secret;
	struct auth_out out;

	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (pkt->code == PROTO_SSL_CODE || pkt->code == PROTO_GSSENC_CODE)
	{
		if (pkt->total != 8 || !sbuf_send(&c->sb, "N", 1))
		{
			disconnect_client(c, "08P01", "invalid SSL request");
			return SBUF_CLOSED;
		}
		return SBUF_SKIP;
	}
	if (pkt->code == PROTO_CANCEL_CODE)
		return handle_cancel_request(c, pkt);
	if (PROTO_MAJOR(pkt->code) != 3)
	{
		disconnect_client(c, "0A000", "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
						  PROTO_MAJOR(pkt->code), PROTO_MINOR(pkt->code));
		return SBUF_CLOSED;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.c = c;
	if (c->login == NULL && (c->login = calloc(1, sizeof(*c->login))) == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	login = c->login;
	if (proto_startup_params(pkt->data + 8, pkt->total - 8, take_param, &ctx) < 0)
	{
		disconnect_client(c, "08P01", "invalid startup packet layout");
		return SBUF_CLOSED;
	}
	c->got_startup = true;
	c->sb.startup = false;
	if (login->username[0] == '\0')
	{
		disconnect_client(c, "28000", "no PostgreSQL user name specified in startup packet");
		return SBUF_CLOSED;
	}
	if (login->dbname[0] == '\0')
		memcpy(login->dbname, login->username, sizeof(login->dbname));
	if (ctx.bad[0])
	{
		disconnect_client(c, "08P01", "unsupported startup parameter: %s", ctx.bad);
		return SBUF_CLOSED;
	}
	if (PROTO_MINOR(pkt->code) != 0 || ctx.pq_options)
	{
		/* We speak 3.0 and no protocol options: say so, as PostgreSQL does. */
		struct proto_buf b;
		bool		ok;

		proto_buf_init(&b);
		proto_begin(&b, PQMSG_NegotiateProtocolVersion);
		proto_put_int32(&b, 0);
		proto_put_int32(&b, 0);
		proto_end(&b);
		ok = sbuf_send_buf(&c->sb, &b);
		proto_buf_free(&b);
		if (!ok)
		{
			disconnect_client(c, NULL, "could not send to client");
			return SBUF_CLOSED;
		}
	}
	if (client_count > cfg->max_client_conn)
	{
		disconnect_client(c, "53300", "no more connections allowed (max_client_conn)");
		return SBUF_CLOSED;
	}
	if (strcmp(login->dbname, ADMIN_DBNAME) == 0 || strcmp(login->dbname, ADMIN_DBNAME_ALIAS) == 0)
	{
		c->admin_full = cfg_list_contains(cfg->admin_users, login->username);
		if (!c->admin_full && !cfg_list_contains(cfg->stats_users, login->username))
		{
			disconnect_client(c, "28000", "not allowed to use the admin console: user \"%s\" is not in admin_users or stats_users",
							  login->username);
			return SBUF_CLOSED;
		}
		c->is_admin = true;
	}
	else
	{
		db = cfg_find_database(cfg, login->dbname);
		if (db == NULL)
		{
			disconnect_client(c, "3D000", "database \"%s\" does not exist", login->dbname);
			return SBUF_CLOSED;
		}
	}
	secret = userlist ? userlist_find(userlist, login->username) : NULL;
	if (cfg->auth_type == CFG_AUTH_TRUST && userlist && secret == NULL)
	{
		disconnect_client(c, "28000", "no such user: \"%s\"", login->username);
		return SBUF_CLOSED;
	}
	c->auth = auth_server_new(cfg->auth_type, login->username, secret, cfg->scram_iterations);
	if (c->auth == NULL)
	{
		disconnect_client(c, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	out.len = 0;
	return auth_result(c, auth_server_start(c->auth, &out), &out);
}

static enum sbuf_ret
login_packet(struct client *c, struct sbuf_pkt *pkt)
{
	struct auth_out out;

	if (!c->got_startup)
		return handle_startup(c, pkt);
	if (c->auth == NULL || pkt->type != PQMSG_PasswordMessage)
	{
		disconnect_client(c, "08P01", "expected a password response, got message type '%c'",
						  pkt->type);
		return SBUF_CLOSED;
	}
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	out.len = 0;
	return auth_result(c, auth_server_step(c->auth, pkt->data + PROTO_HDR_LEN,
										   pkt->total - PROTO_HDR_LEN, &out), &out);
}

/* ---- relay ---- */

static enum sbuf_ret
admin_packet(struct client *c, struct sbuf_pkt *pkt)
{
	if (pkt->type == PQMSG_Terminate)
	{
		disconnect_client(c, NULL, "client closed the admin connection");
		return SBUF_CLOSED;
	}
	if (c->admin_wait)
		return SBUF_WAIT;		/* its PAUSE has not been answered yet */
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	c->request_time = now_usec();
	if (pkt->type == PQMSG_Query)
		return admin_handle_query(c, pkt->data + PROTO_HDR_LEN, pkt->total - PROTO_HDR_LEN);
	if (pkt->type == PQMSG_Sync)
	{
		struct proto_buf b;
		bool		ok;

		proto_buf_init(&b);
		proto_build_error(&b, PQMSG_ErrorResponse, "ERROR", "0A000",
						  "the admin console supports only the simple query protocol", NULL, NULL);
		proto_build_ready(&b, 'I');
		ok = sbuf_send_buf(&c->sb, &b);
		proto_buf_free(&b);
		if (!ok)
		{
			disconnect_client(c, NULL, "could not send to client");
			return SBUF_CLOSED;
		}
	}
	return SBUF_SKIP;
}

/* txn.c holds none of the client's messages (session pooling: never). */
static inline bool
txn_holds_none(struct client *c)
{
	return pool_mode(c->pool) == CFG_POOL_SESSION || !txn_client_holds(c);
}

/*
 * Most messages of a held segment: the rewriter left nothing to send and
 * txn.c holds nothing either (checked inline, per message).
 */
static inline bool
batch_output_none(struct client *c)
{
	return batch_to_server(c->batch)->len == 0 && batch_to_client(c->batch)->len == 0 &&
		txn_holds_none(c);
}

/*
 * insert_batching: send what the rewriter left in its buffers.  false: a
 * socket failed.
 */
bool
client_batch_output(struct client *c, struct server *s)
{
	struct proto_buf *to_s = batch_to_server(c->batch),
			   *to_c = batch_to_client(c->batch);
	bool		ok = true;

	if (batch_output_none(c))
		return true;
	/* transaction pooling: through the prepared-statement mapping (txn.c) */
	if (pool_mode(c->pool) != CFG_POOL_SESSION)
		ok = txn_batch_send(c, s, to_s);
	else if (to_s->len)
		ok = sbuf_send_buf(&s->sb, to_s);
	if (ok && to_c->len)
		ok = sbuf_send_buf(&c->sb, to_c);
	proto_buf_reset(to_s);
	proto_buf_reset(to_c);
	return ok;
}

/* May this client's messages be rewritten (insert_batching on for its database)? */
static bool
client_batching(struct client *c)
{
	/*
	 * outside session pooling its statements need the prepared-statement
	 * mapping (max_prepared_statements > 0) to follow the client
	 */
	return cfg_insert_batching_for(cfg, pool_db(c->pool)) &&
		(pool_mode(c->pool) == CFG_POOL_SESSION || cfg->max_prepared_statements > 0);
}

/*
 * struct batch_settings' catalog_ttl_us from the database's
 * insert_batch_catalog_ttl key: not set (-1 in cfg), 0 = the global value
 * (reloadable); set to 0, -1 = none (only DDL and RELOAD); else the key's.
 */
static int64_t
batch_catalog_ttl(const struct cfg_database *db)
{
	if (db == NULL || db->insert_batch_catalog_ttl < 0)
		return 0;
	return db->insert_batch_catalog_ttl > 0 ? db->insert_batch_catalog_ttl : -1;
}

/*
 * The client's rewriter, created at the first message that could be a
 * rewritable INSERT (complete: batch_peek() said MAYBE) and told what it
 * missed: the replies still owed to the client and whether an extended
 * segment is under way.  A client held by the coalescer gets one only while
 * no reply is outstanding (at a later INSERT otherwise).  Clients that send
 * no INSERT never get one.
 */
static struct batch *
client_batch(struct client *c, const struct sbuf_pkt *pkt)
{
	struct server *s = c->link;
	int			owed;

	if (c->batch != NULL || !client_batching(c) ||
		batch_peek(pkt->data, pkt->avail, pkt->total) != BATCH_PEEK_MAYBE)
		return c->batch;
	/* ReadyForQuery replies the client will get: not those of txn.c's syncs */
	owed = s ? s->expect_rfq - txn_server_syncs_pending(s) : 0;
	if (s && (owed < 0 || (c->coal && (owed > 0 || s->ext_open))))
		return NULL;
	{
		struct batch_settings set = {
			.max_rows = cfg_insert_batch_max_rows_for(cfg, pool_db(c->pool)),
			.max_bytes = 64u << 20,
			.max_stmt_bytes = (size_t) cfg_insert_batch_max_bytes_for(cfg, pool_db(c->pool)),
			.stream_rows = cfg_insert_batch_stream_rows_for(cfg, pool_db(c->pool)),
			.form = cfg_insert_batch_form_for(cfg, pool_db(c->pool)),
			.max_statements = 256,
			.check_tables = true,
			.catalog = &batch_catalog,
			.catalog_ttl_us = batch_catalog_ttl(pool_db(c->pool)),
			.literal_params = true,
		};

		c->batch = batch_new(&set);
		if (c->batch && s)
			batch_join(c->batch, owed, s->ext_open, s->txn_status);
	}
	return c->batch;
}

/*
 * insert_batching: let the rewriter see the message.  Returns SBUF_FORWARD
 * (relay it), SBUF_SKIP (taken: *taken set), or NEED_FULL/WAIT/CLOSED.
 */
static enum sbuf_ret
batch_packet(struct client *c, struct sbuf_pkt *pkt, bool *taken)
{
	enum batch_action a;

	*taken = false;

	/*
	 * Most messages of a pipelined batch (a row's Bind, Describe, Execute
	 * while the segment is held): appended to it, and the rest of work_packet
	 * has nothing to do -- the segment's first message set ext_open, the
	 * rewriter sends nothing, txn.c holds nothing.
	 */
	if (c->batch != NULL && c->link != NULL && c->link->ext_open &&
		sbuf_pkt_complete(pkt) && !sbuf_has_pending(&c->sb) && txn_holds_none(c) &&
		batch_collect(c->batch, pkt->data, pkt->total))
		return SBUF_SKIP;
	if (c->batch == NULL)
	{
		/* the cheap first check: only a Parse or Query of an INSERT goes on */
		if ((pkt->type != PQMSG_Parse && pkt->type != PQMSG_Query) || !client_batching(c))
			return SBUF_FORWARD;
		switch (batch_peek(pkt->data, pkt->avail, pkt->total))
		{
			case BATCH_PEEK_NO:
				return SBUF_FORWARD;
			case BATCH_PEEK_MORE:
				return SBUF_NEED_FULL;
			case BATCH_PEEK_MAYBE:
				break;
		}
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		if (client_batch(c, pkt) == NULL)
			return SBUF_FORWARD;
	}
	if (pkt->type == PQMSG_Terminate)
		return SBUF_FORWARD;
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	/* bytes already relayed must reach the server before the rewriter's */
	if (sbuf_has_pending(&c->sb) && batch_wants(c->batch, pkt->data, pkt->total) &&
		!sbuf_flush_pending(&c->sb))
		return c->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
	a = batch_client_message(c->batch, pkt->data, pkt->total);
	if (a == BATCH_FAILED)
	{
		disconnect_client(c, "53200", "insert batching failed (out of memory or protocol error)");
		return SBUF_CLOSED;
	}
	*taken = a == BATCH_TAKEN;
	return SBUF_FORWARD;
}

/*
 * A Query or Parse of CREATE, ALTER or DROP: every client's cached catalog
 * answers are asked again before its next rewrite (batch_catalog), and again
 * once the client's transaction ends (server.c's note_ready), so that an
 * answer asked between the DDL and its COMMIT is not kept.
 */
static void
note_ddl(struct client *c, const struct sbuf_pkt *pkt)
{
	if (batch_peek_ddl(pkt->data, pkt->avail))
	{
		batch_catalog.epoch++;
		c->ddl_sent = true;
	}
}

/*
 * Every message of a logged-in client passes here, header first, before it
 * is forwarded.  This is the hook point for prepared-statement tracking and
 * batch rewriting: return SBUF_NEED_FULL to see the whole message (Parse,
 * Bind, ...); to replace or add messages, call sbuf_flush_pending() first
 * (return SBUF_WAIT if it says false), sbuf_send() the new bytes to the
 * server, count the ReadyForQuery replies they add in expect_rfq, and return
 * SBUF_SKIP for a message that must not go through.
 */
static enum sbuf_ret
work_packet(struct client *c, struct sbuf_pkt *pkt)
{
	struct server *s = c->link;
	bool		was_busy;
	enum sbuf_ret r = SBUF_FORWARD;
	bool		taken = false;
	enum sbuf_ret br;

	if (s == NULL)
	{
		if (pkt->type == PQMSG_Terminate)
		{
			disconnect_client(c, NULL, "client sent Terminate");
			return SBUF_CLOSED;
		}
		/* statements prepared without a server (txn.c) */
		r = txn_client_unlinked_packet(c, pkt);
		if (r == SBUF_SKIP && (pkt->type == PQMSG_Parse || pkt->type == PQMSG_Close) &&
			client_batch(c, pkt) && !batch_note_local(c->batch, pkt->data, pkt->total))
		{
			disconnect_client(c, "53200", "out of memory");
			return SBUF_CLOSED;
		}
		if (r == SBUF_SKIP && pkt->type == PQMSG_Parse)
			note_ddl(c, pkt);
		if (r != SBUF_FORWARD)
			return r;
		/* insert_coalescing: an INSERT held for merging with others' */
		r = coalesce_client_packet(c, pkt);
		if (r != SBUF_FORWARD)
			return r;
		if (!find_server(c))
		{
			if (c->state == CL_JUSTFREE)
				return SBUF_CLOSED;

			/*
			 * a client waiting for a server sends nothing more as a rule:
			 * keep its read event registered (no epoll_ctl pair per wait)
			 */
			sbuf_pause_lazy(&c->sb);
			return SBUF_WAIT;
		}
		s = c->link;
	}
	else if (c->coal)
	{
		r = coalesce_client_packet(c, pkt);
		if (r != SBUF_FORWARD)
			return r;
	}
	/* a segment pipelined past one that may fail waits (txn.c) */
	br = txn_client_wait(c, s, pkt->type);
	if (br == SBUF_FORWARD)
		br = batch_packet(c, pkt, &taken);
	if (br != SBUF_FORWARD)
		return br;
	was_busy = s->expect_rfq > 0 || s->ext_open;
	log_noise("%s -> '%c' len=%u expect_rfq=%d", client_ident(c), pkt->type, pkt->total,
			  s->expect_rfq);
	/* session parameters, prepared statements: may replace the message */
	if (!taken)
	{
		r = txn_client_packet(c, s, pkt, was_busy);
		if (r != SBUF_FORWARD && r != SBUF_SKIP)
			return r;
	}
	switch (pkt->type)
	{
		case PQMSG_Query:
			note_ddl(c, pkt);
			/* fall through */
		case PQMSG_FunctionCall:
			s->expect_rfq++;
			sbuf_answer_coming(&c->sb);
			break;
		case PQMSG_Parse:
			note_ddl(c, pkt);
			s->ext_open = true;
			break;
		case PQMSG_Sync:
			s->expect_rfq++;
			s->ext_open = false;
			sbuf_answer_coming(&c->sb);
			break;
		case PQMSG_Terminate:
			/* Never forwarded: the server stays with the pool if clean. */
			if (sbuf_has_pending(&c->sb) && !sbuf_flush_pending(&c->sb))
				return c->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
			disconnect_client(c, NULL, "client sent Terminate");
			return SBUF_CLOSED;
		case PQMSG_CopyData:
		case PQMSG_CopyDone:
		case PQMSG_CopyFail:
			break;
		default:
			s->ext_open = true;
			break;
	}
	if (!was_busy)
	{
		s->query_start = now_usec();
		if (cfg->query_timeout > 0)
			janitor_client_update(c);
	}
	if (taken)
	{
		if (!batch_output_none(c) && !client_batch_output(c, s))
		{
			disconnect_client(c, NULL, "could not send");
			return SBUF_CLOSED;
		}
		return SBUF_SKIP;
	}
	return r;
}

enum sbuf_ret
client_proto(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt)
{
	struct client *c = sb->owner;

	if (c->state == CL_JUSTFREE)
		return SBUF_CLOSED;
	switch (ev)
	{
		case SBUF_EV_PKT:
			break;
		case SBUF_EV_RECV_FAILED:
			disconnect_client(c, NULL, "client closed the connection");
			return SBUF_CLOSED;
		case SBUF_EV_SEND_FAILED:
			disconnect_client(c, NULL, "could not send to client");
			return SBUF_CLOSED;
		case SBUF_EV_BAD_PKT:
			disconnect_client(c, "08P01", "invalid packet: bad length or larger than max_packet_size");
			return SBUF_CLOSED;
		case SBUF_EV_CONNECT_OK:
		case SBUF_EV_CONNECT_FAILED:
		case SBUF_EV_FLUSHED:
			return SBUF_OK;
	}
	switch (c->state)
	{
		case CL_LOGIN:
			return login_packet(c, pkt);
		case CL_WAITING_LOGIN:
		case CL_WAITING:
			return SBUF_WAIT;
		case CL_ACTIVE:
			if (c->is_admin)
				return admin_packet(c, pkt);
			return work_packet(c, pkt);
		case CL_FREE:
		case CL_JUSTFREE:
			break;
	}
	die("%s: packet in impossible state %d", client_ident(c), (int) c->state);
}
