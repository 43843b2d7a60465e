/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The coordinator's channel: the handshake with the right and a wrong
 * secret, messages both ways, and frames that were changed, replayed or
 * forged on the wire.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
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
	tcase_add_test(tc, host_port);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
