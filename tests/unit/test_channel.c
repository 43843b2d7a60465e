/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The coordinator's channel: the handshake with the right and a wrong
 * secret, messages both ways, and frames that were changed, replayed or
 * forged on the wire.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coord/channel.h"

static const uint8_t secret_a[SECRET_LEN] = "0123456789abcdef0123456789abcde";
static const uint8_t secret_b[SECRET_LEN] = "0123456789abcdef0123456789abcdX";

struct side {
	int fd;
	const uint8_t *secret;
	struct channel ch;
	int r;
};

static void *accept_main(void *arg)
{
	struct side *sd = arg;

	sd->r = channel_accept(&sd->ch, sd->fd, sd->secret, 2000);
	/* As the coordinator does: a refused peer is hung up on. */
	if (sd->r < 0)
		shutdown(sd->fd, SHUT_RDWR);
	return NULL;
}

/* Handshake over a socketpair: coordinator side with sa, peer side with sb. */
static void handshake(const uint8_t *sa, const uint8_t *sb, struct side *co, struct side *peer)
{
	int sv[2];
	pthread_t t;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*co = (struct side){ .fd = sv[0], .secret = sa };
	*peer = (struct side){ .fd = sv[1], .secret = sb };
	ck_assert_int_eq(pthread_create(&t, NULL, accept_main, co), 0);
	peer->r = channel_connect(&peer->ch, peer->fd, peer->secret, 2000);
	pthread_join(t, NULL);
}

START_TEST(messages_both_ways)
{
	struct side co, peer;
	struct tlv_buf b = { 0 };
	struct wire_in in;
	char *s = NULL;
	uint64_t gen = 0;

	handshake(secret_a, secret_a, &co, &peer);
	ck_assert_int_eq(co.r, 0);
	ck_assert_int_eq(peer.r, 0);
	tlv_put_str(&b, WIRE_A_DIR, "/tmp/img");
	tlv_put_u64(&b, WIRE_A_GEN, 42);
	ck_assert_int_eq(channel_send(&co.ch, WIRE_FREEZE, &b), 0);
	ck_assert_int_eq(channel_recv(&peer.ch, &in, 1000), 0);
	ck_assert_uint_eq(in.type, WIRE_FREEZE);
	ck_assert_int_eq(tlv_get_strdup(in.tb[WIRE_A_DIR], &s), 0);
	ck_assert_str_eq(s, "/tmp/img");
	ck_assert_int_eq(tlv_get_u64(in.tb[WIRE_A_GEN], &gen), 0);
	ck_assert_uint_eq(gen, 42);
	free(s);
	wire_in_free(&in);
	ck_assert_int_eq(channel_send(&peer.ch, WIRE_FROZEN, NULL), 0);
	ck_assert_int_eq(channel_send(&peer.ch, WIRE_DONE, NULL), 0);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), 0);
	ck_assert_uint_eq(in.type, WIRE_FROZEN);
	wire_in_free(&in);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), 0);
	ck_assert_uint_eq(in.type, WIRE_DONE);
	wire_in_free(&in);
	/* Nothing more: a timeout, not a hang. */
	ck_assert_int_eq(channel_recv(&co.ch, &in, 50), -ETIMEDOUT);
	tlv_buf_free(&b);
	channel_close(&co.ch);
	ck_assert_int_eq(channel_recv(&peer.ch, &in, 1000), -ECONNRESET);
	channel_close(&peer.ch);
}
END_TEST

START_TEST(wrong_secret_is_refused)
{
	struct side co, peer;

	handshake(secret_a, secret_b, &co, &peer);
	ck_assert_int_eq(co.r, -EACCES);
	ck_assert_int_eq(peer.r, -EACCES);
	close(co.fd);
	close(peer.fd);
}
END_TEST

/* Raw frames on the wire, as someone between the two could write them. */
static void raw_frame(int fd, uint32_t type, uint64_t seq, const void *payload, uint32_t len,
		      const uint8_t *mac)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = type, .len = len, .seq = seq };
	uint8_t zero[WIRE_MAC_LEN] = { 0 };

	ck_assert_int_eq(write(fd, &h, sizeof(h)), (ssize_t)sizeof(h));
	if (len)
		ck_assert_int_eq(write(fd, payload, len), (ssize_t)len);
	ck_assert_int_eq(write(fd, mac ? mac : zero, WIRE_MAC_LEN), WIRE_MAC_LEN);
}

START_TEST(forged_and_replayed_frames)
{
	struct side co, peer;
	struct wire_in in;
	uint8_t frame[512];
	ssize_t n;
	int sv[2];

	handshake(secret_a, secret_a, &co, &peer);
	ck_assert_int_eq(co.r, 0);
	ck_assert_int_eq(peer.r, 0);
	/* A frame without a valid MAC (seq 1, as the next one would be). */
	raw_frame(peer.fd, WIRE_CHECKPOINT, 1, NULL, 0, NULL);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), -EBADMSG);
	channel_close(&co.ch);
	channel_close(&peer.ch);

	/* A real frame, captured, flipped or sent twice. */
	handshake(secret_a, secret_a, &co, &peer);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	{
		struct channel tap = peer.ch;

		tap.fd = sv[0];
		ck_assert_int_eq(channel_send(&tap, WIRE_FROZEN, NULL), 0);
		peer.ch.send_seq = tap.send_seq;
	}
	n = read(sv[1], frame, sizeof(frame));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(write(peer.fd, frame, (size_t)n), n);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), 0);
	wire_in_free(&in);
	ck_assert_int_eq(write(peer.fd, frame, (size_t)n), n);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), -EBADMSG);
	channel_close(&co.ch);
	channel_close(&peer.ch);

	handshake(secret_a, secret_a, &co, &peer);
	frame[offsetof(struct wire_hdr, type)] ^= WIRE_DONE ^ WIRE_FROZEN;
	ck_assert_int_eq(write(peer.fd, frame, (size_t)n), n);
	ck_assert_int_eq(channel_recv(&co.ch, &in, 1000), -EBADMSG);
	channel_close(&co.ch);
	channel_close(&peer.ch);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * The coordinator's side without blocking: a challenge, then -EAGAIN for
 * every piece of the answer until it is whole; the peer on a thread with
 * the ordinary blocking channel_connect.
 */
struct peer_side {
	int fd;
	int r;
	struct channel ch;
};

static void *connect_main(void *arg)
{
	struct peer_side *p = arg;

	p->r = channel_connect(&p->ch, p->fd, secret_a, 2000);
	return NULL;
}

START_TEST(accept_without_blocking)
{
	struct peer_side peer;
	struct channel co;
	struct wire_in in;
	pthread_t t;
	int sv[2], r, turns = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(channel_accept_start(&co, sv[0]), 0);
	/* Nothing has come: not a wait, an answer. */
	ck_assert_int_eq(channel_accept_continue(&co, secret_a), -EAGAIN);
	peer = (struct peer_side){ .fd = sv[1] };
	ck_assert_int_eq(pthread_create(&t, NULL, connect_main, &peer), 0);
	while ((r = channel_accept_continue(&co, secret_a)) == -EAGAIN) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };

		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		turns++;
	}
	ck_assert_int_eq(r, 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(peer.r, 0);
	/* The session works both ways, and the reader takes one message at a time. */
	ck_assert_int_eq(channel_send(&peer.ch, WIRE_FROZEN, NULL), 0);
	ck_assert_int_eq(channel_send(&peer.ch, WIRE_DONE, NULL), 0);
	ck_assert_int_eq(channel_recv_nowait(&co, &in), 0);
	ck_assert_uint_eq(in.type, WIRE_FROZEN);
	wire_in_free(&in);
	{
		/* ...and leaves the next one in the socket, where poll sees it. */
		struct pollfd p = { .fd = sv[0], .events = POLLIN };

		ck_assert_int_eq(poll(&p, 1, 0), 1);
	}
	ck_assert_int_eq(channel_recv_nowait(&co, &in), 0);
	ck_assert_uint_eq(in.type, WIRE_DONE);
	wire_in_free(&in);
	ck_assert_int_eq(channel_recv_nowait(&co, &in), -EAGAIN);
	ck_assert_int_eq(channel_send(&co, WIRE_FREEZE, NULL), 0);
	ck_assert_int_eq(channel_recv(&peer.ch, &in, 1000), 0);
	ck_assert_uint_eq(in.type, WIRE_FREEZE);
	wire_in_free(&in);
	channel_close(&co);
	channel_close(&peer.ch);
}
END_TEST

/* A message that comes a byte at a time is put together across calls. */
START_TEST(message_in_pieces)
{
	struct side co, peer;
	struct wire_in in;
	uint8_t frame[512];
	struct tlv_buf b = { 0 };
	ssize_t n;
	int sv[2];

	handshake(secret_a, secret_a, &co, &peer);
	ck_assert_int_eq(co.r, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	{
		struct channel tap = peer.ch;

		tap.fd = sv[0];
		tlv_put_str(&b, WIRE_A_DIR, "/tmp/x");
		ck_assert_int_eq(channel_send(&tap, WIRE_CHECKPOINT, &b), 0);
		tlv_buf_free(&b);
	}
	n = read(sv[1], frame, sizeof(frame));
	ck_assert_int_gt(n, 0);
	for (ssize_t i = 0; i < n - 1; i++) {
		ck_assert_int_eq(write(peer.fd, frame + i, 1), 1);
		ck_assert_int_eq(channel_recv_nowait(&co.ch, &in), -EAGAIN);
	}
	ck_assert_uint_gt(co.ch.rx.have, 0);
	ck_assert_int_eq(write(peer.fd, frame + n - 1, 1), 1);
	ck_assert_int_eq(channel_recv_nowait(&co.ch, &in), 0);
	ck_assert_uint_eq(in.type, WIRE_CHECKPOINT);
	ck_assert_ptr_nonnull(in.tb[WIRE_A_DIR]);
	wire_in_free(&in);
	ck_assert_uint_eq(co.ch.rx.have, 0);
	/* Closed in the middle of one: the end, not a wait. */
	ck_assert_int_eq(write(peer.fd, frame, 10), 10);
	ck_assert_int_eq(channel_recv_nowait(&co.ch, &in), -EAGAIN);
	channel_close(&peer.ch);
	ck_assert_int_eq(channel_recv_nowait(&co.ch, &in), -ECONNRESET);
	channel_close(&co.ch);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Before the secret is proved, a header that promises much is refused at once. */
START_TEST(big_hello_refused_at_once)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_HELLO, .len = 1u << 20 };
	struct channel co;
	uint8_t challenge[256];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(channel_accept_start(&co, sv[0]), 0);
	ck_assert_int_gt(read(sv[1], challenge, sizeof(challenge)), 0);
	ck_assert_int_eq(write(sv[1], &h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(channel_accept_continue(&co, secret_a), -EBADMSG);
	channel_close(&co);
	/* Not a frame at all. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv + 0), 0);
	ck_assert_int_eq(channel_accept_start(&co, sv[0]), 0);
	ck_assert_int_eq(write(sv[1], "GET / HTTP/1.0\r\n\r\n.....", 24), 24);
	ck_assert_int_eq(channel_accept_continue(&co, secret_a), -EBADMSG);
	channel_close(&co);
	close(sv[1]);
}
END_TEST

/* A peer that does not read: sends queue instead of blocking, up to a bound. */
START_TEST(sends_queue_for_a_slow_reader)
{
	struct side co, peer;
	struct tlv_buf b = { 0 };
	static uint8_t big[60000];
	struct wire_in in;
	int r = 0, sent = 0, got = 0;

	handshake(secret_a, secret_a, &co, &peer);
	ck_assert_int_eq(co.r, 0);
	co.ch.queue_sends = true;
	tlv_put(&b, WIRE_A_MSG, big, sizeof(big));
	while (!channel_has_output(&co.ch)) {
		ck_assert_int_eq(channel_send(&co.ch, WIRE_STATUS, &b), 0);
		sent++;
	}
	/* Over the bound: refused, the peer is as good as gone. */
	while ((r = channel_send(&co.ch, WIRE_STATUS, &b)) == 0)
		sent++;
	ck_assert_int_eq(r, -ENOBUFS);
	/* What was refused took no number: what was queued still arrives in order. */
	ck_assert_int_eq(co.ch.send_seq, (uint64_t)sent);
	/* The peer reads; flushing lets the queue go, every message whole. */
	while (got < sent) {
		ck_assert_int_ne(channel_flush(&co.ch), -EPIPE);
		ck_assert_int_eq(channel_recv(&peer.ch, &in, 1000), 0);
		ck_assert_uint_eq(in.type, WIRE_STATUS);
		wire_in_free(&in);
		got++;
	}
	ck_assert_int_eq(channel_flush(&co.ch), 0);
	ck_assert(!channel_has_output(&co.ch));
	tlv_buf_free(&b);
	channel_close(&co.ch);
	channel_close(&peer.ch);
}
END_TEST

START_TEST(host_port)
{
	char h[64], p[16];

	ck_assert_int_eq(split_host_port("10.1.0.1:7780", h, sizeof(h), p, sizeof(p)), 0);
	ck_assert_str_eq(h, "10.1.0.1");
	ck_assert_str_eq(p, "7780");
	ck_assert_int_eq(split_host_port("[::1]:99", h, sizeof(h), p, sizeof(p)), 0);
	ck_assert_str_eq(h, "::1");
	ck_assert_str_eq(p, "99");
	ck_assert_int_lt(split_host_port("nohost", h, sizeof(h), p, sizeof(p)), 0);
	ck_assert_int_lt(split_host_port(":80", h, sizeof(h), p, sizeof(p)), 0);
	ck_assert_int_lt(split_host_port("[::1]80", h, sizeof(h), p, sizeof(p)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("channel");
	TCase *tc = tcase_create("channel");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, messages_both_ways);
	tcase_add_test(tc, wrong_secret_is_refused);
	tcase_add_test(tc, forged_and_replayed_frames);
	tcase_add_test(tc, accept_without_blocking);
	tcase_add_test(tc, message_in_pieces);
	tcase_add_test(tc, big_hello_refused_at_once);
	tcase_add_test(tc, sends_queue_for_a_slow_reader);
	tcase_add_test(tc, host_port);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
