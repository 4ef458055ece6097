/*
 * server.c -- connecting and logging in to PostgreSQL, and the server half
 * of the relay: every reply is forwarded untouched except that
 * ReadyForQuery's status byte is read to find transaction ends, and a
 * query_timeout cancellation is reported to the client as such.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "batch.h"
#include "client.h"
#include "coalesce.h"
#include "janitor.h"
#include "txn.h"
#include "userlist.h"

int
server_connect(struct server *s)
{
	struct pool *p = s->pool;

	change_server_state(s, SV_LOGIN);
	s->sb.max_pkt = cfg->max_packet_size > 0 ? (uint32_t) cfg->max_packet_size : 0;
	if (pool_server_addr(p, &s->addr, &s->addrlen) < 0)
	{
		disconnect_server(s, true, "08006", "could not resolve the server address");
		return -1;
	}
	if (sbuf_connect(&s->sb, (struct sockaddr *) &s->addr, s->addrlen) < 0)
	{
		disconnect_server(s, true, "08006", "could not connect to server: %m");
		return -1;
	}
	log_debug("%s new connection to server", server_ident(s));
	janitor_server_update(s);
	return 0;
}

static const char *
server_user(const struct server *s)
{
	const struct cfg_database *db = pool_db(s->pool);

	return db && db->user ? db->user : s->pool->username;
}

static enum sbuf_ret
send_startup(struct server *s)
{
	const struct cfg_database *db = pool_db(s->pool);
	const char *pairs[16];
	int			n = 0;
	const char *password = NULL;
	const char *user = server_user(s);
	struct proto_buf b;
	bool		ok;

	pairs[n++] = "user";
	pairs[n++] = user;
	pairs[n++] = "database";
	pairs[n++] = db && db->dbname ? db->dbname : s->pool->dbname;
	if (db && db->client_encoding)
	{
		pairs[n++] = "client_encoding";
		pairs[n++] = db->client_encoding;
	}
	if (db && db->datestyle)
	{
		pairs[n++] = "DateStyle";
		pairs[n++] = db->datestyle;
	}
	if (db && db->timezone)
	{
		pairs[n++] = "TimeZone";
		pairs[n++] = db->timezone;
	}
	if (db && db->application_name)
	{
		pairs[n++] = "application_name";
		pairs[n++] = db->application_name;
	}
	proto_buf_init(&b);
	proto_build_startup(&b, pairs, n / 2);
	ok = sbuf_send_buf(&s->sb, &b);
	proto_buf_free(&b);
	if (!ok)
	{
		disconnect_server(s, true, "08006", "could not send startup packet to server");
		return SBUF_CLOSED;
	}

	if (db && db->password)
		password = db->password;
	else if (userlist)
		password = userlist_find(userlist, user);
	if (password && userlist_secret_kind(password) == USERLIST_SECRET_SCRAM)
		password = NULL;		/* only usable through the client's ClientKey */
	s->auth = auth_client_new(user, password,
							  s->pool->have_scram_key ? s->pool->scram_client_key : NULL, NULL);
	if (s->auth == NULL)
	{
		disconnect_server(s, true, "53200", "out of memory");
		return SBUF_CLOSED;
	}
	return SBUF_OK;
}

/* Every waiting-login client of the pool gets the welcome now. */
static void
welcome_waiting_clients(struct pool *p)
{
	struct list_node *n,
			   *t;

	list_for_each_safe(n, t, &p->waiting_login_list)
	{
		struct client *c = list_entry(n, struct client, node);

		change_client_state(c, CL_ACTIVE);
		if (!client_send_welcome(c))
			disconnect_client(c, NULL, "could not send welcome");
		else
		{
			janitor_client_update(c);
			sbuf_continue(&c->sb);
		}
	}
}

static enum sbuf_ret
login_packet(struct server *s, struct sbuf_pkt *pkt)
{
	const uint8_t *body = pkt->data + PROTO_HDR_LEN;
	uint32_t	blen = pkt->total - PROTO_HDR_LEN;
	struct pool *p = s->pool;

	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	switch (pkt->type)
	{
		case PQMSG_AuthenticationRequest:
			{
				struct auth_out out;
				enum auth_status st = auth_client_step(s->auth, body, blen, &out);

				if (st == AUTH_CONTINUE && out.len > 0)
				{
					struct proto_buf b;
					bool		ok;

					proto_buf_init(&b);
					proto_begin(&b, PQMSG_PasswordMessage);
					proto_put_bytes(&b, out.data, out.len);
					proto_end(&b);
					ok = sbuf_send_buf(&s->sb, &b);
					proto_buf_free(&b);
					if (!ok)
					{
						disconnect_server(s, true, "08006", "could not send to server");
						return SBUF_CLOSED;
					}
				}
				else if (st == AUTH_FAIL || st == AUTH_PROTOCOL_ERROR)
				{
					disconnect_server(s, true, "28P01", "server login failed: %s",
									  auth_client_error(s->auth));
					return SBUF_CLOSED;
				}
				return SBUF_SKIP;
			}
		case PQMSG_ParameterStatus:
			proto_put_bytes(&s->login_params, pkt->data, pkt->total);
			(void) txn_server_unlinked_packet(s, pkt);	/* complete: cannot wait */
			return SBUF_SKIP;
		case PQMSG_BackendKeyData:
			if (blen >= 8)
			{
				s->be_pid = proto_get_u32(body);
				s->be_key = proto_get_u32(body + 4);
			}
			return SBUF_SKIP;
		case PQMSG_ErrorResponse:
			{
				const char *code = proto_error_field(body, blen, PROTO_FIELD_SQLSTATE);
				const char *msg = proto_error_field(body, blen, PROTO_FIELD_MESSAGE);
				char		state[6];

				snprintf(state, sizeof(state), "%s", code ? code : "08006");
				snprintf(p->last_login_sqlstate, sizeof(p->last_login_sqlstate), "%s", state);
				disconnect_server(s, true, state, "server login failed: %s",
								  msg ? msg : "unknown error");
				return SBUF_CLOSED;
			}
		case PQMSG_NoticeResponse:
		case PQMSG_NegotiateProtocolVersion:
			return SBUF_SKIP;
		case PQMSG_RowDescription:
		case PQMSG_DataRow:
		case PQMSG_CommandComplete:
		case PQMSG_EmptyQueryResponse:
			if (s->connect_query_sent)
				return SBUF_SKIP;	/* results of connect_query */
			break;
		case PQMSG_ReadyForQuery:
			{
				const struct cfg_database *db = pool_db(p);

				if (!s->connect_query_sent && db && db->connect_query && db->connect_query[0])
				{
					struct proto_buf b;
					bool		ok;

					s->connect_query_sent = true;
					proto_buf_init(&b);
					proto_build_query(&b, db->connect_query);
					ok = sbuf_send_buf(&s->sb, &b);
					proto_buf_free(&b);
					if (!ok)
					{
						disconnect_server(s, true, "08006", "could not send connect_query");
						return SBUF_CLOSED;
					}
					return SBUF_SKIP;
				}
			}
			if (pkt->data[5] != 'I')
			{
				disconnect_server(s, true, "08006", "server not idle after login/connect_query");
				return SBUF_CLOSED;
			}
			s->login_done = true;
			s->fresh = true;
			s->txn_status = 'I';
			if (!proto_buf_ok(&s->login_params))
			{
				disconnect_server(s, true, "53200", "out of memory");
				return SBUF_CLOSED;
			}
			if (!p->have_welcome)
			{
				/*
				 * the first login of the pool: its values are what clients
				 * are told
				 */
				struct proto_buf tmp = p->welcome;

				p->welcome = s->login_params;
				s->login_params = tmp;
			}
			proto_buf_free(&s->login_params);
			p->have_welcome = true;
			p->last_login_fail = 0;
			auth_client_free(s->auth);
			s->auth = NULL;
			log_debug("%s login done", server_ident(s));
			change_server_state(s, SV_IDLE);
			s->request_time = now_usec();
			janitor_server_update(s);
			welcome_waiting_clients(p);
			pool_activate(p);
			return SBUF_SKIP;
		default:
			break;
	}
	disconnect_server(s, true, "08P01", "unexpected message '%c' from server during login",
					  pkt->type);
	return SBUF_CLOSED;
}

static bool
should_release(const struct server *s)
{
	const struct client *c = s->link;

	if (s->expect_rfq > 0 || s->ext_open || s->txn_status != 'I')
		return false;
	if (c && c->shutdown_close)
		return true;
	return pool_mode(s->pool) != CFG_POOL_SESSION;
}

/* A query_timeout cancel came back as 57014: tell the client in our words. */
static enum sbuf_ret
timeout_error(struct server *s, struct sbuf_pkt *pkt)
{
	const uint8_t *body = pkt->data + PROTO_HDR_LEN;
	uint32_t	blen = pkt->total - PROTO_HDR_LEN;
	const char *code;
	char		detail[200];
	struct proto_buf b;
	bool		ok;

	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	code = proto_error_field(body, blen, PROTO_FIELD_SQLSTATE);
	if (code == NULL || strcmp(code, "57014") != 0)
		return SBUF_FORWARD;
	if (!sbuf_flush_pending(&s->sb))
		return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
	s->cancel_worked = true;
	snprintf(detail, sizeof(detail),
			 "The statement ran longer than query_timeout (%lld ms); pgplumb-pooler cancelled it.",
			 (long long) (cfg->query_timeout / USEC_PER_MSEC));
	proto_buf_init(&b);
	proto_build_error(&b, PQMSG_ErrorResponse, "ERROR", "57014",
					  "canceling statement due to query_timeout", detail, NULL);
	ok = sbuf_send_buf(&s->link->sb, &b);
	proto_buf_free(&b);
	if (!ok)
	{
		disconnect_client(s->link, NULL, "send failed");
		return s->state == SV_JUSTFREE ? SBUF_CLOSED : SBUF_SKIP;
	}
	log_info("%s query_timeout: query cancelled", client_ident(s->link));
	return SBUF_SKIP;
}

/* Book-keeping for a ReadyForQuery the client receives. */
static void
note_ready(struct server *s, char status)
{
	struct client *c = s->link;
	struct pool *p = s->pool;
	int64_t		now = now_usec();

	if (s->expect_rfq > 0)
		s->expect_rfq--;
	if (s->expect_rfq == 0)
	{
		p->stats.query_time += (uint64_t) (now - s->query_start);
		if (s->cancel_sent)
		{
			/* a cancel that did not hit may still arrive later: do not reuse */
			if (!s->cancel_worked)
				s->close_needed = true;
			s->cancel_sent = false;
			s->cancel_worked = false;
		}
	}
	p->stats.query_count++;
	if (status == 'I')
	{
		/* DDL committed (or not): cached catalog answers are asked again */
		if (c->ddl_sent)
		{
			c->ddl_sent = false;
			batch_catalog.epoch++;
		}
		/* a transaction ended: explicit (began at xact_start) or implicit */
		p->stats.xact_count++;
		p->stats.xact_time += (uint64_t) (now - (s->txn_status != 'I' ? s->xact_start : s->query_start));
	}
	else if (s->txn_status == 'I')
		s->xact_start = s->query_start;
	s->txn_status = status;
	c->request_time = now;
}

static enum sbuf_ret
ready_for_query(struct server *s, struct sbuf_pkt *pkt)
{
	struct client *c = s->link;
	struct pool *p = s->pool;
	char		status;

	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	status = (char) pkt->data[5];
	note_ready(s, status);
	if (status != 'I' && pool_mode(p) == CFG_POOL_STATEMENT)
	{
		if (!sbuf_flush_pending(&s->sb))
			return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
		disconnect_server(s, true, "0A000",
						  "transaction blocks not allowed in statement pooling mode");
		return SBUF_CLOSED;
	}
	janitor_client_update(c);
	if (should_release(s))
		return SBUF_FORWARD_LAST;
	return SBUF_FORWARD;
}

/*
 * insert_batching: the rewriter sees every reply first.  Returns SBUF_FORWARD
 * to go on with the usual handling, or what to return.
 */
static enum sbuf_ret
batch_reply(struct server *s, struct sbuf_pkt *pkt)
{
	struct client *c = s->link;
	struct proto_buf *to_c;
	enum batch_action a;

	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	/* relayed replies must reach the client before the rewriter's own */
	if (batch_busy(c->batch) && sbuf_has_pending(&s->sb) && !sbuf_flush_pending(&s->sb))
		return s->sb.closed ? SBUF_CLOSED : SBUF_WAIT;
	a = batch_server_message(c->batch, pkt->data, pkt->total);
	if (a == BATCH_FAILED)
	{
		disconnect_server(s, true, "08P01", "insert batching: unexpected reply from the server");
		return SBUF_CLOSED;
	}
	/* the ReadyForQuery messages the client gets from the rewriter */
	to_c = batch_to_client(c->batch);
	if (a == BATCH_FORWARD && to_c->len == 0 && batch_to_server(c->batch)->len == 0 &&
		pool_mode(s->pool) == CFG_POOL_SESSION)
		return SBUF_FORWARD;	/* nothing of its own to send */
	for (size_t off = 0; off + PROTO_HDR_LEN <= to_c->len;
		 off += 1 + proto_get_u32(to_c->data + off + 1))
		if (to_c->data[off] == PQMSG_ReadyForQuery && off + PROTO_HDR_LEN < to_c->len)
			note_ready(s, (char) to_c->data[off + PROTO_HDR_LEN]);
	if (a == BATCH_FORWARD && pkt->type == PQMSG_ReadyForQuery && to_c->len &&
		batch_to_server(c->batch)->len == 0)
	{
		/*
		 * the replies of a rewritten segment, then its ReadyForQuery, relayed
		 * next: one write, one wake-up of the client
		 */
		if (!sbuf_send_held(&c->sb, to_c->data, to_c->len))
		{
			disconnect_server(s, true, NULL, "could not send");
			return SBUF_CLOSED;
		}
		proto_buf_reset(to_c);
		return SBUF_FORWARD;
	}
	if (!client_batch_output(c, s))
	{
		disconnect_server(s, true, NULL, "could not send");
		return SBUF_CLOSED;
	}
	return a == BATCH_TAKEN ? SBUF_SKIP : SBUF_FORWARD;
}

/*
 * Every reply for a linked client passes here, header first.  Replies to
 * messages the pooler itself injected (e.g. a Parse added for a prepared
 * statement) are the ones to swallow here with SBUF_SKIP (flush pending
 * bytes first), so the client sees exactly what PostgreSQL would have sent.
 */
/* insert_coalescing: replies to a merged INSERT or its replay. */
static enum sbuf_ret
coalesce_reply(struct server *s, struct sbuf_pkt *pkt)
{
	bool		ready_done;
	enum sbuf_ret r = coalesce_server_reply(s, pkt, &ready_done);

	if (ready_done && r != SBUF_CLOSED && s->link)
		note_ready(s, (char) pkt->data[5]);
	return r;
}

static enum sbuf_ret
relay_packet(struct server *s, struct sbuf_pkt *pkt)
{
	if (s->link && s->link->coal)
	{
		enum sbuf_ret r = coalesce_reply(s, pkt);

		if (r != SBUF_FORWARD)
			return r;
	}

	/*
	 * between segments only ReadyForQuery and ErrorResponse are the
	 * rewriter's concern
	 */
	if (s->link && s->link->batch &&
		(batch_busy(s->link->batch) || pkt->type == PQMSG_ReadyForQuery ||
		 pkt->type == PQMSG_ErrorResponse))
	{
		enum sbuf_ret r = batch_reply(s, pkt);

		if (r != SBUF_FORWARD)
			return r;
	}
	switch (pkt->type)
	{
		case PQMSG_ReadyForQuery:
			return ready_for_query(s, pkt);
		case PQMSG_ErrorResponse:
			if (s->cancel_sent && !s->cancel_worked)
				return timeout_error(s, pkt);
			return SBUF_FORWARD;
		default:
			return SBUF_FORWARD;
	}
}

static enum sbuf_ret
active_packet(struct server *s, struct sbuf_pkt *pkt)
{
	enum sbuf_ret r;
	bool		done;

	log_noise("%s <- '%c' len=%u avail=%u", server_ident(s), pkt->type, pkt->total, pkt->avail);
	/* replies the pooler asked for, prepared statements, session parameters */
	r = txn_server_packet(s, pkt, &done);
	/* a reply txn translated (ParseComplete) may be the coalescer's */
	if (done && r == SBUF_FORWARD && s->link && s->link->coal)
		return coalesce_reply(s, pkt);

	/*
	 * a reply txn.c rewrote for the client (ParseComplete standing for a
	 * skipped Parse) is the rewriter's to see too
	 */
	if (done && r == SBUF_FORWARD && s->link && s->link->batch)
		return batch_reply(s, pkt);
	if (done)
		return r;
	r = relay_packet(s, pkt);
	return txn_server_after(s, pkt, r);
}

/* Messages from a server nobody is using. */
static enum sbuf_ret
idle_packet(struct server *s, struct sbuf_pkt *pkt)
{
	switch (pkt->type)
	{
		case PQMSG_ParameterStatus:
			if (txn_server_unlinked_packet(s, pkt) == SBUF_NEED_FULL)
				return SBUF_NEED_FULL;
			return SBUF_SKIP;
		case PQMSG_NoticeResponse:
		case PQMSG_NotificationResponse:
			return SBUF_SKIP;
		case PQMSG_ErrorResponse:
			{
				const char *msg;

				if (!sbuf_pkt_complete(pkt))
					return SBUF_NEED_FULL;
				msg = proto_error_field(pkt->data + PROTO_HDR_LEN, pkt->total - PROTO_HDR_LEN,
										PROTO_FIELD_MESSAGE);
				disconnect_server(s, false, NULL, "server sent an error while idle: %s",
								  msg ? msg : "?");
				return SBUF_CLOSED;
			}
		default:
			disconnect_server(s, false, NULL, "unexpected message '%c' from idle server",
							  pkt->type);
			return SBUF_CLOSED;
	}
}

/* Replies to server_reset_query (SV_USED) or server_check_query (SV_TESTED). */
static enum sbuf_ret
used_packet(struct server *s, struct sbuf_pkt *pkt)
{
	if (pkt->type == PQMSG_ErrorResponse)
	{
		log_warning("%s %s failed", server_ident(s),
					s->state == SV_TESTED ? "server_check_query" : "server_reset_query");
		s->close_needed = true;
		return SBUF_SKIP;
	}
	if (pkt->type != PQMSG_ReadyForQuery)
	{
		/* ParameterStatus after DISCARD ALL: the server's values now */
		if (txn_server_unlinked_packet(s, pkt) == SBUF_NEED_FULL)
			return SBUF_NEED_FULL;
		return SBUF_SKIP;
	}
	if (!sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	s->txn_status = (char) pkt->data[5];
	if (s->txn_status != 'I' || s->close_needed)
	{
		disconnect_server(s, false, NULL, "%s did not leave the server clean",
						  s->state == SV_TESTED ? "server_check_query" : "server_reset_query");
		return SBUF_CLOSED;
	}
	if (s->state == SV_TESTED)
		s->fresh = true;		/* just proved alive */
	change_server_state(s, SV_IDLE);
	s->request_time = now_usec();
	janitor_server_update(s);
	pool_activate(s->pool);
	return SBUF_SKIP;
}

int
server_send_query(struct server *s, const char *sql)
{
	struct proto_buf b;
	bool		ok;

	proto_buf_init(&b);
	proto_build_query(&b, sql);
	ok = sbuf_send_buf(&s->sb, &b);
	proto_buf_free(&b);
	if (!ok)
		return -1;
	janitor_server_update(s);
	sbuf_continue(&s->sb);
	return 0;
}

static enum sbuf_ret
cancel_connected(struct server *s)
{
	struct proto_buf b;
	bool		ok;

	proto_buf_init(&b);
	proto_build_cancel_request(&b, s->cancel_pid, s->cancel_key);
	ok = sbuf_send_buf(&s->sb, &b);
	proto_buf_free(&b);
	if (!ok)
	{
		disconnect_server(s, false, NULL, "could not send cancel request");
		return SBUF_CLOSED;
	}
	log_debug("cancel request sent for backend pid %u", s->cancel_pid);
	return SBUF_OK;
}

enum sbuf_ret
server_proto(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt)
{
	struct server *s = sb->owner;

	if (s->state == SV_JUSTFREE)
		return SBUF_CLOSED;
	switch (ev)
	{
		case SBUF_EV_PKT:
			break;
		case SBUF_EV_CONNECT_OK:
			if (s->state == SV_CANCEL)
				return cancel_connected(s);
			return send_startup(s);
		case SBUF_EV_CONNECT_FAILED:
			if (s->state == SV_CANCEL)
				disconnect_server(s, false, NULL, "cancel connection failed");
			else
				disconnect_server(s, true, "08006", "could not connect to server");
			return SBUF_CLOSED;
		case SBUF_EV_RECV_FAILED:
		case SBUF_EV_SEND_FAILED:
			if (s->state == SV_CANCEL)
				disconnect_server(s, false, NULL, "cancel request done");
			else
				disconnect_server(s, true, "08006",
								  "server closed the connection unexpectedly");
			return SBUF_CLOSED;
		case SBUF_EV_BAD_PKT:
			disconnect_server(s, true, "08P01", "bad packet from server");
			return SBUF_CLOSED;
		case SBUF_EV_FLUSHED:
			if (s->state == SV_ACTIVE && s->link && should_release(s))
			{
				struct client *c = s->link;

				release_server(s);
				if (c->shutdown_close)
					disconnect_client(c, "57P01", "pgplumb-pooler is shutting down");
				else
					janitor_client_update(c);
				return s->state == SV_JUSTFREE ? SBUF_CLOSED : SBUF_OK;
			}
			sbuf_continue(sb);
			return SBUF_OK;
	}

	switch (s->state)
	{
		case SV_LOGIN:
			return login_packet(s, pkt);
		case SV_ACTIVE:
			if (s->link)
				return active_packet(s, pkt);
			return idle_packet(s, pkt);
		case SV_IDLE:
			return idle_packet(s, pkt);
		case SV_USED:
		case SV_TESTED:
			return used_packet(s, pkt);
		case SV_CANCEL:
			return SBUF_SKIP;
		case SV_FREE:
		case SV_JUSTFREE:
			break;
	}
	die("%s: packet in impossible state %d", server_ident(s), (int) s->state);
}
