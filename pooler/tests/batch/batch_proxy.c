/*
 * batch_proxy.c -- a test relay that drives pooler/batch.c over real
 * sockets until the rewriter is wired into pgplumb-pooler: one forked child
 * per client, one server connection per client, blocking I/O with poll().
 * Startup and authentication bytes are relayed untouched; after the server's
 * first ReadyForQuery every complete message goes through the batch state
 * machine.  It is a test tool (no pooling, no timeouts), not the pooler.
 *
 *     batch_proxy LISTEN_PORT SERVER_HOST SERVER_PORT [MAX_ROWS] [STATS_FILE]
 *
 * Loopback only.  Each child appends "batches rows segments fallbacks
 * cpu_seconds" to STATS_FILE when its client leaves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"

struct side
{
	int			fd;
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
	size_t		off;			/* bytes of buf already handled */
};

static int	max_rows = 1000;
static bool trace;				/* BATCH_PROXY_TRACE set: message types to
								 * stderr */
static const char *stats_file;

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0)
	{
		ssize_t		w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

static void compact(struct side *s);

static int
fill(struct side *s)
{
	ssize_t		r;

	compact(s);
	if (s->cap - s->len < 65536)
	{
		size_t		ncap = s->cap ? s->cap * 2 : 131072;
		uint8_t    *p = realloc(s->buf, ncap);

		if (!p)
			return -1;
		s->buf = p;
		s->cap = ncap;
	}
	do
		r = read(s->fd, s->buf + s->len, s->cap - s->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	s->len += (size_t) r;
	return 0;
}

/* Mark n bytes handled; compact once everything read so far is. */
static void
consume(struct side *s, size_t n)
{
	s->off += n;
	if (s->off == s->len)
		s->off = s->len = 0;
}

/* Move unhandled bytes to the front before reading more. */
static void
compact(struct side *s)
{
	if (s->off > 0)
	{
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
}

static int
flush_out(struct batch *b, int cfd, int sfd)
{
	struct proto_buf *c = batch_to_client(b),
			   *s = batch_to_server(b);
	int			rc = 0;

	if (c->len && write_all(cfd, c->data, c->len) < 0)
		rc = -1;
	if (s->len && write_all(sfd, s->data, s->len) < 0)
		rc = -1;
	proto_buf_reset(c);
	proto_buf_reset(s);
	return rc;
}

static int
connect_server(const char *host, int port)
{
	struct sockaddr_in sa = {0};
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	int			one = 1;

	if (fd < 0)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
		connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
	{
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Relay one client until either side closes. */
static void
serve(int cfd, const char *host, int port)
{
	struct side cl = {.fd = cfd},
				sv = {.fd = -1};
	struct batch_settings set = {.max_rows = max_rows,.max_bytes = 64u << 20,
		.max_statements = 256,.check_tables = true,
	.literal_params = true};
	struct batch *b = batch_new(&set);
	bool		started = false;	/* server sent its first ReadyForQuery */
	bool		startup_done = false;	/* client's startup packet relayed */

	sv.fd = connect_server(host, port);
	if (sv.fd < 0 || !b)
		goto done;
	for (;;)
	{
		struct pollfd p[2] = {{.fd = cl.fd,.events = POLLIN}, {.fd = sv.fd,.events = POLLIN}};

		if (poll(p, 2, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (p[0].revents)
		{
			if (fill(&cl) < 0)
				goto done;
			if (!startup_done)
			{
				uint32_t	len,
							code;

				if (proto_peek_startup(cl.buf + cl.off, cl.len - cl.off, &len, &code) != PROTO_FRAME_OK ||
					cl.len - cl.off < len)
					continue;
				if (code == PROTO_SSL_CODE || code == PROTO_GSSENC_CODE)
				{
					if (write_all(cl.fd, (const uint8_t *) "N", 1) < 0)
						goto done;
					consume(&cl, len);
					continue;
				}
				if (write_all(sv.fd, cl.buf + cl.off, len) < 0)
					goto done;
				consume(&cl, len);
				startup_done = true;
			}
			for (;;)
			{
				uint8_t		type;
				uint32_t	mlen;

				if (proto_peek_header(cl.buf + cl.off, cl.len - cl.off, 0, &type, &mlen) != PROTO_FRAME_OK ||
					cl.len - cl.off < 1 + (size_t) mlen)
					break;
				if (!started)
				{
					/* authentication exchange: relay as is */
					if (write_all(sv.fd, cl.buf + cl.off, 1 + mlen) < 0)
						goto done;
				}
				else
				{
					enum batch_action a = batch_client_message(b, cl.buf + cl.off, 1 + mlen);

					if (trace)
						fprintf(stderr, "C>%c%s", type, a == BATCH_FORWARD ? "f " : " ");

					if (a == BATCH_FAILED)
						goto done;
					if (a == BATCH_FORWARD && write_all(sv.fd, cl.buf + cl.off, 1 + mlen) < 0)
						goto done;
					if (flush_out(b, cl.fd, sv.fd) < 0)
						goto done;
				}
				if (type == PQMSG_Terminate)
					goto done;
				consume(&cl, 1 + mlen);
			}
		}
		if (p[1].revents)
		{
			if (fill(&sv) < 0)
				goto done;
			for (;;)
			{
				uint8_t		type;
				uint32_t	mlen;

				if (proto_peek_header(sv.buf + sv.off, sv.len - sv.off, 0, &type, &mlen) != PROTO_FRAME_OK ||
					sv.len - sv.off < 1 + (size_t) mlen)
					break;
				if (!started)
				{
					if (write_all(cl.fd, sv.buf + sv.off, 1 + mlen) < 0)
						goto done;
					if (type == PQMSG_ReadyForQuery)
						started = true;
				}
				else
				{
					enum batch_action a = batch_server_message(b, sv.buf + sv.off, 1 + mlen);

					if (trace)
						fprintf(stderr, "S>%c%s", type, a == BATCH_FORWARD ? "f " : " ");

					if (a == BATCH_FAILED)
						goto done;
					if (flush_out(b, cl.fd, sv.fd) < 0)
						goto done;
					if (a == BATCH_FORWARD && write_all(cl.fd, sv.buf + sv.off, 1 + mlen) < 0)
						goto done;
				}
				consume(&sv, 1 + mlen);
			}
		}
	}
done:
	if (b && stats_file)
	{
		FILE	   *f = fopen(stats_file, "a");

		if (f)
		{
			const struct batch_stats *st = batch_stats(b);
			struct rusage ru;

			getrusage(RUSAGE_SELF, &ru);
			fprintf(f, "%llu %llu %llu %llu %.3f\n", (unsigned long long) st->batches,
					(unsigned long long) st->rows, (unsigned long long) st->segments,
					(unsigned long long) st->fallbacks,
					ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
					(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
			fclose(f);
		}
	}
	batch_free(b);
	if (sv.fd >= 0)
		close(sv.fd);
	close(cl.fd);
	free(cl.buf);
	free(sv.buf);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = {0};
	int			lfd,
				one = 1;

	if (argc < 4)
	{
		fprintf(stderr, "usage: %s LISTEN_PORT SERVER_HOST SERVER_PORT [MAX_ROWS] [STATS_FILE]\n",
				argv[0]);
		return 2;
	}
	if (argc > 4)
		max_rows = atoi(argv[4]);
	if (argc > 5)
		stats_file = argv[5];
	trace = getenv("BATCH_PROXY_TRACE") != NULL;

	signal(SIGCHLD, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
	{
		perror("batch_proxy: listen");
		return 1;
	}
	for (;;)
	{
		int			cfd = accept(lfd, NULL, NULL);

		if (cfd < 0)
		{
			if (errno == EINTR)
				continue;
			perror("batch_proxy: accept");
			return 1;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fork() == 0)
		{
			close(lfd);
			serve(cfd, argv[2], atoi(argv[3]));
			_exit(0);
		}
		close(cfd);
	}
}
