/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flood: hostile connections to a coordinator, held open while a test asks
 * the coordinator for real work.
 *
 *   flood --target 127.0.0.1:PORT [--idle 1000] [--per-source 10]
 *         [--garbage 50] [--burst 40] [--stall K SECRET] [--reopen-per-s 1000]
 *
 * Every connection comes from an address of its own choosing in 127/8
 * (bound before connect), so that the coordinator's cap per source can be
 * met or avoided on purpose:
 *   idle     connect and say nothing, per-source of them from each of
 *            127.1.x.y;
 *   garbage  from 127.2.x.y, by turns: bytes that are no frame, a header
 *            that promises 200 bytes and stops, a header of 1 MiB, a HELLO
 *            with a wrong proof, one byte of a header;
 *   stall    (--stall K SECRET) K peers that know the secret and join as
 *            commands, then send half a message header and stop;
 *   burst    that many at once from the one address 127.3.0.1: the cap
 *            applies.  Each either gets the coordinator's challenge (it was
 *            admitted) or is closed with nothing read (it was over the
 *            cap); the counts are printed:
 *              burst N from 127.3.0.1: A challenged, C closed at once
 * Then "READY idle N garbage G stalled K" once everything is connected.  Idle and
 * garbage connections the coordinator closes (a handshake's deadline, a
 * refusal) are opened again, at most reopen-per-s a second, so the load
 * stays on; burst ones are not.  Runs until stdin is closed, then prints
 * "reopened R, not connected F" and exits 0.  Exit 1: an error, said on stderr.
 *
 *   flood --target 127.0.0.1:PORT --fake-supervisor SECRET
 *
 * is something else: a supervisor that holds a checkpoint open (see
 * fake_supervisor below).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "proto/tlv.h"
#include "proto/wire.h"

enum kind { IDLE, GARBAGE, BURST, STALL };

struct conn {
	int fd;
	enum kind kind;
	unsigned int idx;	/* within its kind: picks its source and its garbage */
	bool gone;		/* closed by the coordinator, to be opened again */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void source_of(const struct conn *c, unsigned int per_source, struct in_addr *a)
{
	unsigned int s = c->kind == IDLE ? c->idx / per_source : c->idx;
	unsigned int net = c->kind == IDLE ? 1 : c->kind == GARBAGE ? 2 : c->kind == BURST ? 3 : 4;

	if (c->kind == BURST)
		s = 0;
	a->s_addr = htonl((127u << 24) | (net << 16) | ((s / 250) << 8) | (s % 250 + 1));
}

/* What a garbage connection sends, by turns. */
static size_t garbage_of(unsigned int idx, uint8_t *buf, size_t cap)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_HELLO };
	struct tlv_attr a;
	size_t n = 0;

	switch (idx % 5) {
	case 0:		/* not a frame at all */
		for (n = 0; n < 64 && n < cap; n++)
			buf[n] = (uint8_t)(idx * 31 + n * 7);
		return n;
	case 1:		/* promises 200 bytes, sends none */
		h.len = 200;
		memcpy(buf, &h, sizeof(h));
		return sizeof(h);
	case 2:		/* far more than a handshake */
		h.len = 1u << 20;
		memcpy(buf, &h, sizeof(h));
		return sizeof(h);
	case 3:		/* a well-formed HELLO with a proof that is wrong */
		h.len = 2 * (sizeof(a) + WIRE_NONCE_LEN);
		memcpy(buf, &h, sizeof(h));
		n = sizeof(h);
		for (uint32_t t = WIRE_A_NONCE; t <= WIRE_A_PROOF; t++) {
			a = (struct tlv_attr){ .len = sizeof(a) + 32, .type = t };
			memcpy(buf + n, &a, sizeof(a));
			n += sizeof(a);
			memset(buf + n, (int)(idx + t), 32);
			n += 32;
		}
		memset(buf + n, 0, WIRE_MAC_LEN);
		return n + WIRE_MAC_LEN;
	default:	/* one byte of a header */
		buf[0] = (uint8_t)WIRE_MAGIC;
		return 1;
	}
}

/*
 * A member that proved the secret and introduced itself, then sends the
 * first half of a message header and nothing more.
 */
static int stall(int fd, const uint8_t secret[SECRET_LEN])
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_STATUS };
	struct tlv_buf b = { 0 };
	struct channel ch;
	int r = channel_connect(&ch, fd, secret, 5000);

	if (r == 0) {
		tlv_put_u32(&b, WIRE_A_ROLE, WIRE_ROLE_COMMAND);
		r = channel_send(&ch, WIRE_JOIN, &b);
		tlv_buf_free(&b);
	}
	if (r == 0 && send(fd, &h, sizeof(h) / 2, MSG_NOSIGNAL) < 0)
		r = -errno;
	return r;
}

static int open_conn(struct conn *c, const struct sockaddr_in *target, unsigned int per_source,
		     const uint8_t *secret)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 2 };
	uint8_t buf[256];
	size_t len;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	source_of(c, per_source, &src.sin_addr);
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* connect gives up after this, should the accept queue be full */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(c->fd, (const struct sockaddr *)target, sizeof(*target)) < 0) {
		int e = errno;

		close(c->fd);
		c->fd = -1;
		return -e;
	}
	c->gone = false;
	if (c->kind == STALL) {
		int r = stall(c->fd, secret);

		if (r < 0) {
			close(c->fd);
			c->fd = -1;
			return r;
		}
	}
	if (c->kind == GARBAGE) {
		len = garbage_of(c->idx, buf, sizeof(buf));
		if (send(c->fd, buf, len, MSG_NOSIGNAL) < 0)
			c->gone = true;
	}
	return 0;
}

/* The burst: admitted (a challenge came) or closed with nothing read. */
static int burst_outcome(int fd, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[512];

	while (now_ms() < deadline) {
		int r = poll(&p, 1, (int)(deadline - now_ms()));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		r = (int)read(fd, b, sizeof(b));
		if (r > 0)
			return 1;
		if (r == 0 || errno == ECONNRESET)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return 0;
	}
	return -1;
}

/*
 * --fake-supervisor: a supervisor that joins (host "fake-host") and, told
 * to FREEZE, says "FREEZE" and waits for a line on stdin before it answers
 * FAILED ("the test said so"); it says "ABORT" when the checkpoint is
 * called off.  So a test holds a checkpoint open as long as it likes.
 * Ends at EOF on stdin.
 */
static int fake_supervisor(const struct sockaddr_in *target, const uint8_t secret[SECRET_LEN])
{
	struct channel ch;
	struct tlv_buf b = { 0 };
	char addr[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0 || connect(fd, (const struct sockaddr *)target, sizeof(*target)) < 0)
		return -errno;
	r = channel_connect(&ch, fd, secret, 5000);
	if (r < 0)
		return r;
	inet_ntop(AF_INET, &target->sin_addr, addr, sizeof(addr));
	tlv_put_u32(&b, WIRE_A_ROLE, WIRE_ROLE_SUPERVISOR);
	tlv_put_str(&b, WIRE_A_HOST, "fake-host");
	tlv_put_str(&b, WIRE_A_ADDR, addr);
	tlv_put_u32(&b, WIRE_A_PID, (uint32_t)getpid());
	tlv_put_str(&b, WIRE_A_CMDLINE, "fake supervisor");
	r = channel_send(&ch, WIRE_JOIN, &b);
	tlv_buf_free(&b);
	if (r < 0)
		return r;
	printf("JOINED\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
		struct wire_in in;
		char line[64];

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents && (!fgets(line, sizeof(line), stdin)))
			break;
		if (!p[1].revents)
			continue;
		r = channel_recv(&ch, &in, 5000);
		if (r < 0)
			return r;
		if (in.type == WIRE_ABORT) {
			printf("ABORT\n");
			fflush(stdout);
		}
		if (in.type == WIRE_FREEZE) {
			printf("FREEZE\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				break;
			tlv_put_str(&b, WIRE_A_MSG, "the test said so");
			r = channel_send(&ch, WIRE_FAILED, &b);
			tlv_buf_free(&b);
			if (r < 0)
				return r;
		}
		wire_in_free(&in);
	}
	channel_close(&ch);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int idle = 1000, per_source = 10, garbage = 50, burst = 40, reopen_per_s = 1000;
	unsigned int stalled = 0;
	uint8_t secret[SECRET_LEN];
	bool secret_ok = false, fake = false;
	unsigned int challenged = 0, capped = 0, undecided = 0, failed = 0;
	unsigned long reopened = 0;
	struct sockaddr_in target = { .sin_family = AF_INET };
	struct conn *c;
	struct pollfd *pfd;
	struct rlimit rl;
	size_t n;
	char host[64];
	int port = 0;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (!strcmp(argv[i], "--target") && sscanf(v, "%63[^:]:%d", host, &port) == 2)
			i++;
		else if (!strcmp(argv[i], "--idle"))
			idle = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--per-source"))
			per_source = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--garbage"))
			garbage = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--burst"))
			burst = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--fake-supervisor")) {
			if (secret_load(argv[++i], secret) < 0) {
				fprintf(stderr, "flood: the secret %s: %m\n", argv[i]);
				return 1;
			}
			fake = true;
		} else if (!strcmp(argv[i], "--stall") && i + 2 < argc) {
			stalled = (unsigned int)atoi(argv[++i]);
			if (secret_load(argv[++i], secret) < 0) {
				fprintf(stderr, "flood: the secret %s: %m\n", argv[i]);
				return 1;
			}
			secret_ok = true;
		} else if (!strcmp(argv[i], "--reopen-per-s"))
			reopen_per_s = (unsigned int)atoi(argv[++i]);
		else
			goto usage;
	}
	if (!port || inet_pton(AF_INET, host, &target.sin_addr) != 1 || !per_source)
		goto usage;
	target.sin_port = htons((uint16_t)port);
	if (fake) {
		int r = fake_supervisor(&target, secret);

		if (r < 0)
			fprintf(stderr, "flood: the fake supervisor: %s\n", strerror(-r));
		return r < 0 ? 1 : 0;
	}
	n = idle + garbage + burst + stalled;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	c = calloc(n, sizeof(*c));
	pfd = calloc(n + 1, sizeof(*pfd));
	if (!c || !pfd)
		return 1;
	for (size_t i = 0; i < n; i++) {
		c[i].kind = i < idle ? IDLE : i < idle + garbage ? GARBAGE :
			    i < idle + garbage + burst ? BURST : STALL;
		c[i].idx = (unsigned int)(i < idle ? i : i < idle + garbage ? i - idle :
					 i < idle + garbage + burst ? i - idle - garbage :
					 i - idle - garbage - burst);
		c[i].fd = -1;
	}

	/* The burst first, alone, so its outcome is the cap's and nothing else's. */
	for (size_t i = idle + garbage; i < idle + garbage + burst; i++) {
		int r = open_conn(&c[i], &target, per_source, secret_ok ? secret : NULL);

		if (r < 0) {
			fprintf(stderr, "flood: connecting from 127.3.0.1: %s\n", strerror(-r));
			return 1;
		}
	}
	for (size_t i = idle + garbage; i < idle + garbage + burst; i++) {
		int r = burst_outcome(c[i].fd, now_ms() + 10000);

		if (r > 0)
			challenged++;
		else if (r == 0)
			capped++;
		else
			undecided++;
	}
	printf("burst %u from 127.3.0.1: %u challenged, %u closed at once, %u neither\n", burst,
	       challenged, capped, undecided);
	fflush(stdout);

	for (size_t i = 0; i < n; i++) {
		int r;

		if (c[i].kind == BURST)
			continue;
		r = open_conn(&c[i], &target, per_source, secret_ok ? secret : NULL);
		if (r < 0) {
			fprintf(stderr, "flood: connection %zu of %zu: %s\n", i + 1, n, strerror(-r));
			return 1;
		}
	}
	printf("READY idle %u garbage %u stalled %u\n", idle, garbage, stalled);
	fflush(stdout);

	/* A bucket of reopen tokens, filled at reopen_per_s, holding a tenth of a second's. */
	double tokens = 0;
	int64_t filled = now_ms();

	for (;;) {
		int64_t t;
		int r;

		pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = c[i].gone ? -1 : c[i].fd, .events = POLLIN };
		r = poll(pfd, n + 1, 10);
		if (r < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents) {
			char b[64];

			if (read(0, b, sizeof(b)) <= 0)
				break;
		}
		for (size_t i = 0; r > 0 && i < n; i++) {
			uint8_t b[512];
			ssize_t k;

			if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(c[i].fd, b, sizeof(b));
			if (k > 0 || (k < 0 && errno == EAGAIN))
				continue;	/* a challenge: not answered */
			close(c[i].fd);
			c[i].fd = -1;
			c[i].gone = c[i].kind != BURST;
		}
		/* Open again what was closed, within the rate. */
		t = now_ms();
		tokens += (double)(t - filled) * reopen_per_s / 1000.0;
		tokens = tokens > reopen_per_s / 10.0 + 1 ? reopen_per_s / 10.0 + 1 : tokens;
		filled = t;
		for (size_t i = 0; i < n && tokens >= 1; i++) {
			if (!c[i].gone)
				continue;
			tokens -= 1;
			if (open_conn(&c[i], &target, per_source, secret_ok ? secret : NULL) == 0)
				reopened++;
			else
				failed++;
		}
	}
	printf("reopened %lu, not connected %u\n", reopened, failed);
	for (size_t i = 0; i < n; i++)
		if (c[i].fd >= 0)
			close(c[i].fd);
	free(c);
	free(pfd);
	return 0;
usage:
	fprintf(stderr, "usage: flood --target IPV4:PORT [--idle N] [--per-source K] [--garbage G] [--burst B] [--stall K SECRET] [--reopen-per-s R]\n"
			"       flood --target IPV4:PORT --fake-supervisor SECRET\n");
	return 2;
}
