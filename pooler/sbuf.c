/*
 * sbuf.c -- socket + stream buffer: reading, framing by headers, forwarding
 * runs of whole messages to the peer socket, and back-pressure (see sbuf.h).
 */
#include "sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keep at most this many spare standard-size buffers. */
#define SBUF_FREELIST_MAX 1024

struct free_buf {
	struct free_buf *next;
};

static struct event_base *sbuf_base;
static uint32_t std_size = 16384;
static bool tcp_keepalive;
static struct free_buf *free_list;
static int	free_count;

static void sbuf_on_read(evutil_socket_t fd, short what, void *arg);
static void sbuf_on_write(evutil_socket_t fd, short what, void *arg);
static bool sbuf_process(struct sbuf *sb);

void
sbuf_global_init(struct event_base *base, uint32_t pkt_buf, bool keepalive)
{
	sbuf_base = base;
	/* at least 16 kB: fewer reads for large results; idle sockets hold none */
	std_size = pkt_buf > 16384 ? pkt_buf : 16384;
	tcp_keepalive = keepalive;
}

void
sbuf_global_cleanup(void)
{
	while (free_list)
	{
		struct free_buf *f = free_list;

		free_list = f->next;
		free(f);
	}
	free_count = 0;
}

static uint8_t *
buf_get(void)
{
	if (free_list)
	{
		struct free_buf *f = free_list;

		free_list = f->next;
		free_count--;
		return (uint8_t *) f;
	}
	return malloc(std_size);
}

static void
buf_put(uint8_t *p, uint32_t cap)
{
	if (cap == std_size && free_count < SBUF_FREELIST_MAX)
	{
		struct free_buf *f = (struct free_buf *) p;

		f->next = free_list;
		free_list = f;
		free_count++;
	}
	else
		free(p);
}

void
sbuf_init(struct sbuf *sb, sbuf_cb_fn cb, void *owner)
{
	memset(sb, 0, sizeof(*sb));
	sb->fd = -1;
	sb->cb = cb;
	sb->owner = owner;
	proto_buf_init(&sb->obuf);
}

static void
update_read(struct sbuf *sb)
{
	bool		want = !sb->paused && !sb->blocked && !sb->closed && !sb->connecting;

	if (want == sb->read_on)
		return;
	if (!want && sb->lazy_pause && sb->paused && !sb->blocked && !sb->closed && !sb->connecting)
		return;
	if (want)
		event_add(&sb->ev_read, NULL);
	else
		event_del(&sb->ev_read);
	sb->read_on = want;
}

static void
arm_write(struct sbuf *sb)
{
	if (sb->write_on || sb->closed)
		return;
	if (sb->ev_write == NULL)
	{
		sb->ev_write = event_new(sbuf_base, sb->fd, EV_WRITE, sbuf_on_write, sb);
		if (sb->ev_write == NULL)
		{
			log_error("out of memory for a write event");
			return;
		}
	}
	event_add(sb->ev_write, NULL);
	sb->write_on = true;
}

/* fd must already be non-blocking (accept4/socket with SOCK_NONBLOCK). */
static int
setup_socket(struct sbuf *sb, int fd, bool is_unix)
{
	int			one = 1;

	if (!is_unix)
	{
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (tcp_keepalive)
			(void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	sb->fd = fd;
	if (event_assign(&sb->ev_read, sbuf_base, fd, EV_READ | EV_PERSIST, sbuf_on_read, sb) < 0)
		return -1;
	return 0;
}

int
sbuf_accept(struct sbuf *sb, int fd, bool is_unix)
{
	if (setup_socket(sb, fd, is_unix) < 0)
		return -1;
	update_read(sb);
	return 0;
}

int
sbuf_connect(struct sbuf *sb, const struct sockaddr *sa, socklen_t salen)
{
	int			fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setup_socket(sb, fd, sa->sa_family == AF_UNIX) < 0)
	{
		close(fd);
		sb->fd = -1;
		return -1;
	}
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS && errno != EAGAIN)
	{
		close(fd);
		sb->fd = -1;
		return -1;
	}
	/* Completion (or failure) is reported when the socket turns writable. */
	sb->connecting = true;
	arm_write(sb);
	return 0;
}

static void
release_ibuf(struct sbuf *sb)
{
	if (sb->ibuf)
		buf_put(sb->ibuf, sb->icap);
	sb->ibuf = NULL;
	sb->icap = sb->ilen = sb->isent = sb->iscan = 0;
}

void
sbuf_close(struct sbuf *sb)
{
	if (sb->closed)
		return;
	/* One last try to deliver what the pooler said (e.g. a FATAL error). */
	if (sb->fd >= 0 && !sb->connecting && sb->opos < sb->obuf.len)
		(void) send(sb->fd, sb->obuf.data + sb->opos, sb->obuf.len - sb->opos,
					MSG_NOSIGNAL | MSG_DONTWAIT);
	sb->closed = true;
	if (sb->fd >= 0)
	{
		event_del(&sb->ev_read);
		if (sb->ev_write)
			event_free(sb->ev_write);
		sb->ev_write = NULL;
		close(sb->fd);
		sb->fd = -1;
	}
	sb->read_on = sb->write_on = false;
	if (sb->dst && sb->dst->waiting_src == sb)
		sb->dst->waiting_src = NULL;
	if (sb->waiting_src && sb->waiting_src->dst == sb)
		sb->waiting_src->blocked = false;
	sb->dst = NULL;
	sb->waiting_src = NULL;
	release_ibuf(sb);
	proto_buf_free(&sb->obuf);
	sb->opos = 0;
}

void
sbuf_set_dst(struct sbuf *sb, struct sbuf *dst)
{
	if (sb->dst && sb->dst->waiting_src == sb)
		sb->dst->waiting_src = NULL;
	sb->dst = dst;
}

bool
sbuf_is_empty(const struct sbuf *sb)
{
	return sb->ilen == sb->isent && sb->pkt_left == 0 && sb->opos >= sb->obuf.len;
}

/* Write what this socket's own output buffer holds.  false: socket failed. */
static bool
flush_obuf(struct sbuf *sb)
{
	while (sb->opos < sb->obuf.len)
	{
		ssize_t		n = send(sb->fd, sb->obuf.data + sb->opos, sb->obuf.len - sb->opos,
							 MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
			{
				arm_write(sb);
				return true;
			}
			return false;
		}
		sb->opos += (size_t) n;
		sb->bytes_sent += (uint64_t) n;
	}
	/* drained: an idle connection keeps no output buffer */
	sb->opos = 0;
	proto_buf_free(&sb->obuf);
	return true;
}

bool
sbuf_send(struct sbuf *sb, const void *data, size_t len)
{
	if (sb->closed || sb->fd < 0)
		return false;
	if (sb->opos >= sb->obuf.len && !sb->connecting && !sb->write_on)
	{
		/* nothing queued: write directly, keep only what did not fit */
		ssize_t		n;

		do
			n = send(sb->fd, data, len, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return false;
		if (n > 0)
		{
			sb->bytes_sent += (uint64_t) n;
			data = (const uint8_t *) data + n;
			len -= (size_t) n;
		}
		if (len == 0)
			return true;
	}
	proto_put_bytes(&sb->obuf, data, len);
	if (!proto_buf_ok(&sb->obuf))
		return false;
	arm_write(sb);
	return true;
}

/*
 * Write [isent, iscan) to dst.  Returns false if the destination failed (its
 * owner has been told and may have closed us too).
 */
static bool
send_pending(struct sbuf *sb)
{
	struct sbuf *dst = sb->dst;
	ssize_t		n;

	if (sb->iscan == sb->isent)
	{
		sb->blocked = false;
		return true;
	}
	if (dst == NULL || dst->closed)
	{
		/* Nobody to deliver to: the bytes are dropped. */
		sb->isent = sb->iscan;
		sb->blocked = false;
		return true;
	}
	if (dst->connecting || dst->opos < dst->obuf.len)
	{
		sb->blocked = true;
		dst->waiting_src = sb;
		arm_write(dst);
		return true;
	}
	for (;;)
	{
		n = send(dst->fd, sb->ibuf + sb->isent, sb->iscan - sb->isent, MSG_NOSIGNAL);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0)
	{
		if (errno != EAGAIN && errno != EWOULDBLOCK)
		{
			sb->blocked = false;
			dst->cb(dst, SBUF_EV_SEND_FAILED, NULL);
			return false;
		}
		n = 0;
	}
	sb->isent += (uint32_t) n;
	dst->bytes_sent += (uint64_t) n;
	if (sb->isent < sb->iscan)
	{
		sb->blocked = true;
		dst->waiting_src = sb;
		arm_write(dst);
	}
	else
		sb->blocked = false;
	return true;
}

bool
sbuf_flush_pending(struct sbuf *sb)
{
	if (!send_pending(sb))
		return false;
	return !sb->blocked;
}

/* Make room for `need` bytes from isent on; false if it cannot. */
static bool
make_room(struct sbuf *sb, uint32_t need)
{
	uint32_t	used;

	if (sb->ibuf == NULL)
	{
		sb->ibuf = buf_get();
		if (sb->ibuf == NULL)
			return false;
		sb->icap = std_size;
		sb->ilen = sb->isent = sb->iscan = 0;
	}
	if (sb->isent > 0 && sb->icap - sb->ilen < need)
	{
		used = sb->ilen - sb->isent;
		memmove(sb->ibuf, sb->ibuf + sb->isent, used);
		sb->iscan -= sb->isent;
		sb->ilen = used;
		sb->isent = 0;
	}
	if (sb->icap - sb->isent < need)
	{
		uint32_t	cap = sb->icap;
		uint8_t    *p;

		while (cap < need)
			cap *= 2;
		if (sb->icap == std_size)
		{
			p = malloc(cap);
			if (p == NULL)
				return false;
			memcpy(p, sb->ibuf, sb->ilen);
			buf_put(sb->ibuf, sb->icap);
		}
		else
		{
			p = realloc(sb->ibuf, cap);
			if (p == NULL)
				return false;
		}
		sb->ibuf = p;
		sb->icap = cap;
	}
	return true;
}

static void
after_process(struct sbuf *sb)
{
	if (sb->closed)
		return;
	if (sb->isent == sb->ilen)
	{
		if (sb->icap != std_size || sb->pkt_left == 0)
			release_ibuf(sb);
		else
			sb->ilen = sb->isent = sb->iscan = 0;
	}
	update_read(sb);
}

/*
 * Decide on every message in the buffer, then forward what was decided.
 * Returns false if the owner closed (sb must not be touched).
 */
static bool
sbuf_process(struct sbuf *sb)
{
	struct sbuf_pkt pkt;
	enum sbuf_ret r;

	for (;;)
	{
		uint32_t	avail = sb->ilen - sb->iscan;
		enum proto_frame fr;
		uint32_t	len = 0,
					code = 0;
		uint8_t		type = 0;

		if (sb->pkt_left)
		{
			uint32_t	take = sb->pkt_left < avail ? sb->pkt_left : avail;

			sb->iscan += take;
			sb->pkt_left -= take;
			if (sb->pkt_drop)
				sb->isent = sb->iscan;	/* skipping a message streamed past */
			if (sb->pkt_left)
				break;
			sb->pkt_drop = false;
			continue;
		}
		if (sb->paused || avail == 0)
			break;
		if (sb->startup)
		{
			fr = proto_peek_startup(sb->ibuf + sb->iscan, avail, &len, &code);
			pkt.total = len;
		}
		else
		{
			fr = proto_peek_header(sb->ibuf + sb->iscan, avail, sb->max_pkt, &type, &len);
			pkt.total = len + 1;
		}
		if (fr == PROTO_FRAME_SHORT)
			break;
		if (fr == PROTO_FRAME_BAD)
		{
			sb->cb(sb, SBUF_EV_BAD_PKT, NULL);
			return false;
		}
		pkt.type = type;
		pkt.code = code;
		pkt.data = sb->ibuf + sb->iscan;
		pkt.avail = avail;
		r = sb->cb(sb, SBUF_EV_PKT, &pkt);
		switch (r)
		{
			case SBUF_FORWARD:
				sb->pkt_left = pkt.total;
				break;
			case SBUF_FORWARD_LAST:
				sb->pkt_left = pkt.total;
				sb->paused = true;
				sb->want_flushed = true;
				break;
			case SBUF_SKIP:
				if (sbuf_has_pending(sb))
				{
					/* owner bug: must flush first; drop nothing silently */
					log_error("sbuf: skip with pending bytes");
					sb->cb(sb, SBUF_EV_BAD_PKT, NULL);
					return false;
				}
				if (pkt.total <= avail)
					sb->iscan += pkt.total;
				else
				{
					sb->iscan += avail;
					sb->pkt_left = pkt.total - avail;
				}
				sb->isent = sb->iscan;
				/* remaining bytes of a skipped message are dropped as read */
				sb->pkt_drop = sb->pkt_left > 0;
				break;
			case SBUF_NEED_FULL:
				if (pkt.avail >= pkt.total)
				{
					log_error("sbuf: NEED_FULL on a complete message");
					sb->cb(sb, SBUF_EV_BAD_PKT, NULL);
					return false;
				}
				if (!make_room(sb, (sb->iscan - sb->isent) + pkt.total))
				{
					sb->cb(sb, SBUF_EV_BAD_PKT, NULL);
					return false;
				}
				goto out;
			case SBUF_WAIT:
				sb->paused = true;
				goto out;
			case SBUF_CLOSED:
				return false;
		}
	}
out:
	if (!send_pending(sb))
		return false;
	if (sb->closed)
		return false;
	if (!sb->blocked && sb->want_flushed)
	{
		sb->want_flushed = false;
		if (sb->cb(sb, SBUF_EV_FLUSHED, NULL) == SBUF_CLOSED)
			return false;
	}
	after_process(sb);
	return true;
}

static void
sbuf_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sbuf *sb = arg;
	ssize_t		n;

	(void) what;
	now_update();
	if (sb->closed)
		return;
	if (sb->paused && !sb->wakeup)
	{
		/* data during a lazy pause: stop reading for now */
		sb->lazy_pause = false;
		update_read(sb);
		return;
	}
	if (sb->ilen > sb->isent || sb->want_flushed)
	{
		if (!sbuf_process(sb))
			return;
	}
	if (sb->paused || sb->blocked || sb->closed || sb->connecting)
	{
		update_read(sb);
		return;
	}
	if (sb->wakeup)
	{
		/* not a readiness event: the read event fires if data is waiting */
		sb->wakeup = false;
		update_read(sb);
		return;
	}
	if (!make_room(sb, 1024 < std_size ? 1024 : std_size))
	{
		sb->cb(sb, SBUF_EV_RECV_FAILED, NULL);
		return;
	}
	if (sb->ilen == sb->icap)
	{
		/* full of bytes nobody decided on yet: wait until they move */
		update_read(sb);
		return;
	}
	n = recv(fd, sb->ibuf + sb->ilen, sb->icap - sb->ilen, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
	{
		sb->cb(sb, SBUF_EV_RECV_FAILED, NULL);
		return;
	}
	if (n < 0)
	{
		after_process(sb);
		return;
	}
	sb->ilen += (uint32_t) n;
	sb->bytes_recv += (uint64_t) n;
	sbuf_process(sb);
}

static void
sbuf_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sbuf *sb = arg;
	struct sbuf *src;

	(void) what;
	now_update();
	sb->write_on = false;
	if (sb->closed)
		return;
	if (sb->connecting)
	{
		int			err = 0;
		socklen_t	elen = sizeof(err);

		sb->connecting = false;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0)
		{
			sb->cb(sb, SBUF_EV_CONNECT_FAILED, NULL);
			return;
		}
		if (sb->cb(sb, SBUF_EV_CONNECT_OK, NULL) == SBUF_CLOSED)
			return;
		update_read(sb);
	}
	if (!flush_obuf(sb))
	{
		sb->cb(sb, SBUF_EV_SEND_FAILED, NULL);
		return;
	}
	if (sb->opos < sb->obuf.len)
		return;
	src = sb->waiting_src;
	if (src && src->dst == sb && src->blocked)
	{
		sb->waiting_src = NULL;
		if (!send_pending(src))
			return;
		if (!src->blocked)
		{
			src->wakeup = true;
			event_active(&src->ev_read, EV_READ, 0);
		}
	}
}

void
sbuf_continue(struct sbuf *sb)
{
	if (sb->closed)
		return;
	sb->paused = false;
	sb->lazy_pause = false;
	sb->wakeup = true;
	event_active(&sb->ev_read, EV_READ, 0);
}

void
sbuf_pause_lazy(struct sbuf *sb)
{
	sb->lazy_pause = true;
}

void
sbuf_pause(struct sbuf *sb)
{
	sb->paused = true;
	update_read(sb);
}
