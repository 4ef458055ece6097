/*
 * check_sbuf.c -- unit tests for sbuf.c over socketpairs: framing across
 * fragmented reads, streaming a large message without buffering it whole,
 * NEED_FULL buffering, SKIP, bad lengths, and back-pressure when the
 * destination does not read.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbuf.h"

static struct event_base *base;
static struct sbuf src,
			dst;
static int	peer_in,			/* we write what src reads */
			peer_out;			/* we read what dst sends */

/* what the callback saw and should do */
static char seen_types[64];
static int	nseen;
static int	bad_events;
static bool full_for_big;		/* ask NEED_FULL for messages > 1000 bytes */
static bool skip_x;
static bool hold_on_src;		/* C / N: hold a reply for dst, then forward /
								 * skip */
static bool wait_on_w;			/* W: hold a reply for dst, then pause
								 * (SBUF_WAIT) */
static uint32_t max_avail_seen;

static enum sbuf_ret
src_cb(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt)
{
	if (ev == SBUF_EV_BAD_PKT || ev == SBUF_EV_RECV_FAILED)
	{
		bad_events++;
		sbuf_close(sb);
		return SBUF_CLOSED;
	}
	if (ev != SBUF_EV_PKT)
		return SBUF_OK;
	if (full_for_big && pkt->total > 1000 && !sbuf_pkt_complete(pkt))
		return SBUF_NEED_FULL;
	if (pkt->avail > max_avail_seen)
		max_avail_seen = pkt->avail;
	if (nseen < (int) sizeof(seen_types) - 1)
		seen_types[nseen++] = (char) pkt->type;
	if (hold_on_src && (pkt->type == 'C' || pkt->type == 'N'))
	{
		/* the pooler's own reply ahead of what follows, held for dst */
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		if (!sbuf_flush_pending(sb))
			return SBUF_WAIT;
		ck_assert(sbuf_send_held(&dst, "1\0\0\0\4", 5));
		ck_assert(dst.held);
		return pkt->type == 'N' ? SBUF_SKIP : SBUF_FORWARD;
	}
	if (wait_on_w && pkt->type == 'W')
	{
		if (!sbuf_flush_pending(sb))
			return SBUF_WAIT;
		ck_assert(sbuf_send_held(&dst, "1\0\0\0\4", 5));
		return SBUF_WAIT;
	}
	if (skip_x && pkt->type == 'X')
	{
		if (!sbuf_flush_pending(sb))
			return SBUF_WAIT;
		if (!sbuf_pkt_complete(pkt))
			return SBUF_NEED_FULL;
		return SBUF_SKIP;
	}
	return SBUF_FORWARD;
}

static bool answer_on_sync;		/* dst: a Sync it reads promises an answer */
static bool wait_on_bind;		/* dst: a Bind waits (SBUF_WAIT) */
static bool hold_on_parse;		/* dst: a Parse is answered (held) and skipped */
static bool wait_on_sync;		/* dst: a Sync waits (lazily), then is skipped */
static int	dst_pkts;

static enum sbuf_ret
dst_cb(struct sbuf *sb, enum sbuf_event ev, struct sbuf_pkt *pkt)
{
	if (ev != SBUF_EV_PKT)
		return SBUF_OK;
	if (wait_on_bind && pkt->type == 'B')
		return SBUF_WAIT;
	if (wait_on_sync && pkt->type == 'S')
	{
		sbuf_pause_lazy(sb);
		return SBUF_WAIT;
	}
	dst_pkts++;
	if (hold_on_parse && pkt->type == 'P')
	{
		if (!sbuf_flush_pending(sb))
			return SBUF_WAIT;
		ck_assert(sbuf_send_held(sb, "1\0\0\0\4", 5));
		return SBUF_SKIP;
	}
	if (answer_on_sync && pkt->type == 'S')
		sbuf_answer_coming(sb);
	return SBUF_FORWARD;		/* dst has no peer: dropped */
}

static void
setup(void)
{
	int			a[2],
				b[2];

	base = event_base_new();
	sbuf_global_init(base, 0, false);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	peer_in = a[0];
	peer_out = b[0];
	fcntl(peer_in, F_SETFL, O_NONBLOCK);
	fcntl(peer_out, F_SETFL, O_NONBLOCK);
	sbuf_init(&src, src_cb, NULL);
	sbuf_init(&dst, dst_cb, NULL);
	ck_assert_int_eq(sbuf_accept(&src, a[1], true), 0);
	ck_assert_int_eq(sbuf_accept(&dst, b[1], true), 0);
	sbuf_set_dst(&src, &dst);
	nseen = 0;
	memset(seen_types, 0, sizeof(seen_types));
	bad_events = 0;
	full_for_big = false;
	skip_x = false;
	hold_on_src = false;
	wait_on_w = false;
	max_avail_seen = 0;
	answer_on_sync = false;
	wait_on_bind = false;
	hold_on_parse = false;
	wait_on_sync = false;
	dst_pkts = 0;
}

static void
teardown(void)
{
	sbuf_close(&src);
	sbuf_close(&dst);
	close(peer_in);
	close(peer_out);
	sbuf_global_cleanup();
	event_base_free(base);
}

/* Append one message to buf. */
static size_t
put_msg(uint8_t *buf, char type, const void *body, uint32_t len)
{
	buf[0] = (uint8_t) type;
	proto_put_u32(buf + 1, len + 4);
	memcpy(buf + 5, body, len);
	return 5 + len;
}

/*
 * Feed `in` (in chunks of `chunk` bytes) and collect what comes out of dst
 * until `want` bytes arrived or the iteration bound is hit.
 */
static size_t
pump(const uint8_t *in, size_t inlen, size_t chunk, uint8_t *out, size_t want, int max_iter)
{
	size_t		sent = 0,
				got = 0;

	for (int i = 0; i < max_iter && got < want; i++)
	{
		if (sent < inlen)
		{
			size_t		n = inlen - sent < chunk ? inlen - sent : chunk;
			ssize_t		w = write(peer_in, in + sent, n);

			if (w > 0)
				sent += (size_t) w;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (;;)
		{
			ssize_t		r = read(peer_out, out + got, want - got);

			if (r <= 0)
				break;
			got += (size_t) r;
		}
	}
	return got;
}

START_TEST(test_fragmented_framing)
{
	uint8_t		in[256],
				out[256];
	size_t		n = 0;

	setup();
	n += put_msg(in + n, 'P', "\0select 1\0\0\0", 12);
	n += put_msg(in + n, 'B', "\0\0\0\0\0\0\0\0\0\0", 10);
	n += put_msg(in + n, 'S', "", 0);
	n += put_msg(in + n, 'Q', "select 2", 9);
	/* one byte at a time: headers split across reads */
	ck_assert_uint_eq(pump(in, n, 1, out, n, 5000), n);
	ck_assert_int_eq(memcmp(in, out, n), 0);
	ck_assert_str_eq(seen_types, "PBSQ");
	teardown();
}

END_TEST

START_TEST(test_large_message_streamed)
{
	size_t		big = 300000;
	uint8_t    *in = malloc(big + 16),
			   *out = malloc(big + 16),
			   *body = malloc(big);
	size_t		n;

	setup();
	memset(body, 'x', big);
	body[big - 1] = 'y';
	n = put_msg(in, 'd', body, (uint32_t) big);
	n += put_msg(in + n, 'c', "", 0);
	ck_assert_uint_eq(pump(in, n, 65536, out, n, 20000), n);
	ck_assert_int_eq(memcmp(in, out, n), 0);
	/* one decision per message, and never the whole 300 kB in the buffer */
	ck_assert_str_eq(seen_types, "dc");
	ck_assert_uint_lt(max_avail_seen, 70000);
	teardown();
	free(in);
	free(out);
	free(body);
}

END_TEST

START_TEST(test_need_full_and_skip)
{
	size_t		big = 100000;
	uint8_t    *in = malloc(big + 64),
			   *out = malloc(big + 64),
			   *body = malloc(big);
	size_t		n,
				xstart;

	setup();
	full_for_big = true;
	skip_x = true;
	memset(body, 'z', big);
	n = put_msg(in, 'Q', body, (uint32_t) big);
	xstart = n;
	n += put_msg(in + n, 'X', "", 0);
	n += put_msg(in + n, 'S', "", 0);
	/* everything but the skipped X arrives */
	ck_assert_uint_eq(pump(in, n, 4096, out, n - 5, 20000), n - 5);
	ck_assert_int_eq(memcmp(in, out, xstart), 0);
	ck_assert_int_eq(out[xstart], 'S');
	ck_assert_uint_ge(max_avail_seen, big + 5); /* got it whole */
	ck_assert_str_eq(seen_types, "QXS");
	teardown();
	free(in);
	free(out);
	free(body);
}

END_TEST

START_TEST(test_bad_length)
{
	uint8_t		in[8] = {'Q', 0, 0, 0, 2};
	uint8_t		out[8];

	setup();
	(void) pump(in, 5, 5, out, 1, 50);
	ck_assert_int_eq(bad_events, 1);
	ck_assert(src.closed);
	teardown();
}

END_TEST

START_TEST(test_back_pressure)
{
	size_t		total = 4 * 1024 * 1024;
	uint8_t    *in = malloc(total),
			   *out = malloc(total);
	size_t		n = 0,
				sent = 0,
				got = 0;
	int			sz = 4096;
	uint8_t		body[8192];

	setup();
	setsockopt(dst.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(body, 'b', sizeof(body));
	while (n + sizeof(body) + 5 <= total)
		n += put_msg(in + n, 'd', body, sizeof(body));
	/* write while nobody reads dst: src must stop reading (blocked) */
	for (int i = 0; i < 2000; i++)
	{
		ssize_t		w = sent < n ? write(peer_in, in + sent, n - sent) : 0;

		if (w > 0)
			sent += (size_t) w;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	ck_assert(sent < n);		/* the writer was pushed back */
	ck_assert(src.blocked);
	ck_assert(!src.read_on);
	/* now drain: everything arrives, in order */
	for (int i = 0; i < 200000 && got < n; i++)
	{
		ssize_t		w = sent < n ? write(peer_in, in + sent, n - sent) : 0;

		if (w > 0)
			sent += (size_t) w;
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (;;)
		{
			ssize_t		r = read(peer_out, out + got, n - got);

			if (r <= 0)
				break;
			got += (size_t) r;
		}
	}
	ck_assert_uint_eq(got, n);
	ck_assert_int_eq(memcmp(in, out, n), 0);
	teardown();
	free(in);
	free(out);
}

END_TEST

/*
 * Pooler-generated bytes a full socket cannot take wait in an output buffer
 * that exists only while they wait: none before, none once drained, and
 * forwarded bytes queue behind them, in order.
 */
/* Read what dst sent so far (after running the loop a few times). */
static size_t
drain_out(uint8_t *out, size_t cap)
{
	return pump(NULL, 0, 1, out, cap, 20);
}

/* The pooler holds a ParseComplete for dst's client, which then sends P + S;
 * returns what dst wrote meanwhile. */
static size_t
hold_then_parse_sync(uint8_t *out, size_t cap)
{
	uint8_t		in[32];
	size_t		n;

	hold_on_parse = true;
	n = put_msg(in, 'P', "x", 1);
	n += put_msg(in + n, 'S', "", 0);
	ck_assert_int_eq(write(peer_out, in, n), (ssize_t) n);
	return drain_out(out, cap);
}

/* src relays `type` and a ReadyForQuery: what dst's peer reads is the held
 * ParseComplete first, then both, and nothing stays held. */
static void
relay_after_held(char type)
{
	uint8_t		in[32],
				want[64],
				out[64];
	size_t		n,
				w;

	n = put_msg(in, type, "", 0);
	n += put_msg(in + n, 'Z', "I", 1);
	w = put_msg(want, '1', "", 0);
	memcpy(want + w, in, n);
	w += n;
	ck_assert_uint_eq(pump(in, n, n, out, w, 50), w);
	ck_assert_int_eq(memcmp(out, want, w), 0);
	ck_assert(!dst.held && sbuf_is_empty(&dst));
}

/*
 * Held output (sbuf_send_held): it waits while dst's own round promised an
 * answer, then leaves ahead of the forwarded bytes; a round without such a
 * promise writes it at the end of the round; sbuf_send() writes it first.
 */
START_TEST(test_held_output)
{
	uint8_t		in[64],
				out[256];
	size_t		n;

	setup();
	/* 1: dst reads P + S (the Sync promises an answer): '1' is held... */
	answer_on_sync = true;
	ck_assert_uint_eq(hold_then_parse_sync(out, sizeof(out)), 0);
	ck_assert_int_eq(dst_pkts, 2);
	ck_assert(dst.held);
	/* ...until src forwards the answer: held bytes first, same order */
	relay_after_held('2');

	/* 2: a round without a promise writes held bytes when it ends */
	answer_on_sync = false;
	ck_assert_uint_eq(hold_then_parse_sync(out, sizeof(out)), 5);
	ck_assert_int_eq(out[0], '1');
	ck_assert(!dst.held);

	/*
	 * 3: a round paused before its Sync (the client waits for a server) keeps
	 * them until it resumes and promises an answer
	 */
	answer_on_sync = true;
	wait_on_bind = true;
	n = put_msg(in, 'P', "x", 1);
	n += put_msg(in + n, 'B', "", 0);
	n += put_msg(in + n, 'S', "", 0);
	ck_assert_int_eq(write(peer_out, in, n), (ssize_t) n);
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 0);
	wait_on_bind = false;
	sbuf_continue(&dst);
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 0);
	ck_assert(dst.held);
	n = put_msg(in, '2', "", 0);
	ck_assert_uint_eq(pump(in, n, n, out, 10, 50), 10);
	ck_assert_int_eq(memcmp(out, "1\0\0\0\0042\0\0\0\4", 10), 0);

	/* 4: sbuf_send() after held bytes: both at once, in order */
	answer_on_sync = true;
	hold_on_parse = true;
	n = put_msg(in, 'P', "x", 1);
	n += put_msg(in + n, 'S', "", 0);
	ck_assert_int_eq(write(peer_out, in, n), (ssize_t) n);
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 0);
	ck_assert(dst.held);
	ck_assert(sbuf_send(&dst, "3\0\0\0\4", 5));
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 10);
	ck_assert_int_eq(memcmp(out, "1\0\0\0\0043\0\0\0\4", 10), 0);
	ck_assert(!dst.held && sbuf_is_empty(&dst));

	/* 5: outside any round nothing would release them: written at once */
	ck_assert(sbuf_send_held(&dst, "1\0\0\0\4", 5));
	ck_assert(!dst.held);
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 5);
	teardown();
}

END_TEST

/*
 * Output held for dst by src's round (the server relaying to the client,
 * e.g. replies the pooler makes ahead of a relayed ReadyForQuery): it goes
 * out in the same write as the next message src forwards, and when src's
 * round forwards nothing after it (skips, pauses, or ends) it is written
 * when that round ends: it never waits for bytes that do not come.
 */
START_TEST(test_held_by_peer_round)
{
	uint8_t		in[64],
				out[256];
	size_t		n;

	setup();
	hold_on_src = true;
	wait_on_w = true;
	/* 1: held, then the ReadyForQuery forwarded: one run, held bytes first */
	relay_after_held('C');

	/* 2: held, and the message skipped with nothing after it */
	n = put_msg(in, 'N', "", 0);
	ck_assert_uint_eq(pump(in, n, n, out, 5, 50), 5);
	ck_assert_int_eq(memcmp(out, "1\0\0\0\4", 5), 0);
	ck_assert(!dst.held && sbuf_is_empty(&dst));
	/* ...and nothing more comes later */
	ck_assert_uint_eq(drain_out(out, sizeof(out)), 0);

	/* 3: held, then only the first bytes of the next message arrive */
	n = put_msg(in, 'N', "", 0);
	in[n++] = 'Z';
	ck_assert_uint_eq(pump(in, n, n, out, 6, 50), 5);
	ck_assert_int_eq(memcmp(out, "1\0\0\0\4", 5), 0);
	ck_assert(!dst.held);
	/* the rest of it follows, relayed as usual */
	n = put_msg(in, 'Z', "I", 1);
	ck_assert_uint_eq(pump(in + 1, n - 1, n - 1, out, n, 50), n);
	ck_assert_int_eq(memcmp(out, in, n), 0);

	/* 4: held, then src's round pauses */
	n = put_msg(in, 'W', "", 0);
	ck_assert_uint_eq(pump(in, n, n, out, 5, 50), 5);
	ck_assert_int_eq(memcmp(out, "1\0\0\0\4", 5), 0);
	ck_assert(!dst.held && src.paused);
	teardown();
}

END_TEST

/* dst reads `in` and pauses at its first Sync. */
static void
pause_at_sync(const uint8_t *in, size_t n)
{
	uint8_t		out[64];

	wait_on_sync = true;
	ck_assert_int_eq(write(peer_out, in, n), (ssize_t) n);
	for (int i = 0; i < 50 && !dst.paused; i++)
		drain_out(out, sizeof(out));
	ck_assert(dst.paused);
	wait_on_sync = false;
}

/*
 * sbuf_continue_now(): a socket paused at its only buffered message, of the
 * expected type, has its round run at once (no loop wake-up) and then reads
 * as before; anything more buffered, or another type, waits for the loop.
 */
START_TEST(test_continue_now)
{
	uint8_t		in[64],
				out[64];
	size_t		n;

	setup();
	/* 1: the Sync alone: consumed during the call */
	n = put_msg(in, 'S', "", 0);
	pause_at_sync(in, n);
	ck_assert_int_eq(dst_pkts, 0);
	sbuf_continue_now(&dst, 'S');
	ck_assert_int_eq(dst_pkts, 1);
	ck_assert(!dst.paused && dst.read_on && dst.ilen == 0);
	/* the next message is read as usual */
	n = put_msg(in, 'P', "x", 1);
	ck_assert_int_eq(write(peer_out, in, n), (ssize_t) n);
	drain_out(out, sizeof(out));
	ck_assert_int_eq(dst_pkts, 2);

	/* 2: another message behind the Sync: the usual wake-up, both in order */
	n = put_msg(in, 'S', "", 0);
	n += put_msg(in + n, 'P', "x", 1);
	pause_at_sync(in, n);
	sbuf_continue_now(&dst, 'S');
	ck_assert_int_eq(dst_pkts, 2);
	drain_out(out, sizeof(out));
	ck_assert_int_eq(dst_pkts, 4);
	ck_assert(!dst.paused && dst.ilen == 0);

	/* 3: not the type the caller expects: the usual wake-up */
	n = put_msg(in, 'S', "", 0);
	pause_at_sync(in, n);
	sbuf_continue_now(&dst, 'Q');
	ck_assert_int_eq(dst_pkts, 4);
	drain_out(out, sizeof(out));
	ck_assert_int_eq(dst_pkts, 5);
	teardown();
}

END_TEST

START_TEST(test_output_buffer_lazy)
{
	size_t		total = 1024 * 1024;
	uint8_t    *big = malloc(total),
			   *out = malloc(total + 64);
	uint8_t		msg[64];
	size_t		mlen,
				got = 0;
	int			sz = 4096;

	setup();
	ck_assert_ptr_null(dst.obuf);
	setsockopt(dst.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(big, 'g', total);
	ck_assert(sbuf_send(&dst, big, total));
	ck_assert_ptr_nonnull(dst.obuf);	/* the rest waits */
	ck_assert(!sbuf_is_empty(&dst));
	/* a forwarded message must wait behind the pooler's bytes */
	mlen = put_msg(msg, 'Q', "after", 5);
	ck_assert_int_eq(write(peer_in, msg, mlen), (ssize_t) mlen);
	for (int i = 0; i < 200000 && got < total + mlen; i++)
	{
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (;;)
		{
			ssize_t		r = read(peer_out, out + got, total + mlen - got);

			if (r <= 0)
				break;
			got += (size_t) r;
		}
	}
	ck_assert_uint_eq(got, total + mlen);
	ck_assert_int_eq(memcmp(out, big, total), 0);
	ck_assert_int_eq(memcmp(out + total, msg, mlen), 0);
	ck_assert_ptr_null(dst.obuf);	/* drained: freed */
	/* a send the socket takes at once allocates nothing */
	ck_assert(sbuf_send(&dst, "x", 1));
	ck_assert_ptr_null(dst.obuf);
	teardown();
	free(big);
	free(out);
}

END_TEST

static Suite *
sbuf_suite(void)
{
	Suite	   *s = suite_create("sbuf");
	TCase	   *tc = tcase_create("relay");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fragmented_framing);
	tcase_add_test(tc, test_large_message_streamed);
	tcase_add_test(tc, test_need_full_and_skip);
	tcase_add_test(tc, test_bad_length);
	tcase_add_test(tc, test_back_pressure);
	tcase_add_test(tc, test_output_buffer_lazy);
	tcase_add_test(tc, test_held_output);
	tcase_add_test(tc, test_held_by_peer_round);
	tcase_add_test(tc, test_continue_now);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(sbuf_suite());
	int			failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
