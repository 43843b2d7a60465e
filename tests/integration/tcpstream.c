/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcpstream: a parent and a child each send the other a deterministic byte
 * stream over one TCP connection on 127.0.0.1, and both directions are
 * full most of the time: every tick each side first writes SIZE bytes
 * without reading (until its buffers are full, or SIZE is queued), waits
 * INTERVAL ms with them in flight, then reads the other's SIZE bytes while
 * writing what is left.  Every byte read is checked against its position in
 * the stream: a byte lost, duplicated or reordered by a checkpoint is BAD.
 *
 * Each side also checks that its connection keeps its addresses and the
 * options it set.  -6: over ::1; -m: a dual-stack listener on [::] and a
 * child that connects over IPv4 (the parent's end sees ::ffff:127.0.0.1).
 * Between two hosts, one process each: -L IPV4:PORT listens there and plays
 * the parent, -C IPV4:PORT connects there and plays the child; both tick.
 *
 *   tcpstream [-n TARGET] [-i INTERVAL_MS] [-s SIZE] [-6 | -m | -L A:P | -C A:P]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "tc_test.h"

#define IO_TIMEOUT_MS 30000
#define CHUNK (64u << 10)

struct stream {
	int fd;
	uint64_t dir;		/* 0: parent to child, 1: child to parent */
	uint64_t sent, received;
	const char *who;
	uint8_t buf[CHUNK];
};

/* Byte i of the stream of direction dir. */
static uint8_t stream_byte(uint64_t dir, uint64_t i)
{
	return (uint8_t)(tc_mix((i >> 3) ^ (dir << 62)) >> ((i & 7) * 8));
}

static void fill(uint8_t *p, uint64_t dir, uint64_t from, size_t len)
{
	for (size_t k = 0; k < len; k++)
		p[k] = stream_byte(dir, from + k);
}

/* Write up to until bytes of our stream without blocking; false: the buffers are full. */
static bool write_some(struct stream *s, uint64_t until)
{
	while (s->sent < until) {
		size_t len = (size_t)(until - s->sent < CHUNK ? until - s->sent : CHUNK);
		ssize_t n;

		fill(s->buf, s->dir, s->sent, len);
		n = send(s->fd, s->buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tc_bad("%s: send at byte %llu: %s", s->who, (unsigned long long)s->sent,
			       n ? strerror(errno) : "0");
		s->sent += n;
	}
	return true;
}

/* Read what is there of the other's stream, up to until, checking every byte. */
static void read_some(struct stream *s, uint64_t until)
{
	while (s->received < until) {
		size_t len = (size_t)(until - s->received < CHUNK ? until - s->received : CHUNK);
		ssize_t n = recv(s->fd, s->buf, len, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tc_bad("%s: recv at byte %llu: %s", s->who, (unsigned long long)s->received,
			       n ? strerror(errno) : "EOF");
		for (ssize_t k = 0; k < n; k++)
			if (s->buf[k] != stream_byte(!s->dir, s->received + k))
				tc_bad("%s: byte %llu is %#x, expected %#x", s->who,
				       (unsigned long long)(s->received + k), s->buf[k],
				       stream_byte(!s->dir, s->received + k));
		s->received += n;
	}
}

static void one_round(struct stream *s, uint64_t size, long interval_ms)
{
	uint64_t goal = s->sent + size, deadline = tc_now_ns() + IO_TIMEOUT_MS * 1000000ull;

	write_some(s, goal);
	/* Both directions in flight, nobody reading: the moment to be checkpointed. */
	tc_sleep_ms(interval_ms, 0);
	while (s->sent < goal || s->received < goal) {
		struct pollfd p = { .fd = s->fd,
				    .events = POLLIN | (s->sent < goal ? POLLOUT : 0) };

		if (tc_now_ns() > deadline)
			tc_bad("%s: round stuck: sent %llu received %llu of %llu", s->who,
			       (unsigned long long)s->sent, (unsigned long long)s->received,
			       (unsigned long long)goal);
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			tc_bad("%s: poll: %s", s->who, strerror(errno));
		read_some(s, goal);
		write_some(s, goal);
	}
}

/* What a restore must give back: both addresses and the options each side set. */
struct sock_facts {
	struct sockaddr_storage local, peer;
	int nodelay, keepalive, rcvbuf;
};

static void sock_facts_get(int fd, struct sock_facts *f)
{
	socklen_t sl = sizeof(f->local);

	memset(f, 0, sizeof(*f));
	if (getsockname(fd, (struct sockaddr *)&f->local, &sl) < 0)
		tc_bad("getsockname: %s", strerror(errno));
	sl = sizeof(f->peer);
	if (getpeername(fd, (struct sockaddr *)&f->peer, &sl) < 0)
		tc_bad("getpeername: %s", strerror(errno));
	sl = sizeof(int);
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &f->nodelay, &sl);
	sl = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &f->keepalive, &sl);
	sl = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &f->rcvbuf, &sl);
}

static void sock_facts_check(int fd, const struct sock_facts *was, bool fixed_rcvbuf,
			     const char *who)
{
	struct sock_facts now;

	sock_facts_get(fd, &now);
	if (memcmp(&now.local, &was->local, sizeof(now.local)) ||
	    memcmp(&now.peer, &was->peer, sizeof(now.peer)))
		tc_bad("%s: the connection's addresses changed", who);
	if (!now.nodelay != !was->nodelay || !now.keepalive != !was->keepalive)
		tc_bad("%s: TCP_NODELAY %d SO_KEEPALIVE %d, were %d %d", who, now.nodelay,
		       now.keepalive, was->nodelay, was->keepalive);
	if (fixed_rcvbuf && now.rcvbuf != was->rcvbuf)
		tc_bad("%s: SO_RCVBUF %d, was %d", who, now.rcvbuf, was->rcvbuf);
}

static struct stream parent_s, child_s;
static struct sock_facts parent_f, child_f;

static void parse_addr(const char *arg, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(arg, ':');

	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		tc_bad("%s: not IPV4:PORT", arg);
	memcpy(host, arg, colon - arg);
	host[colon - arg] = 0;
	*a = (struct sockaddr_in){ .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)tc_parse_long(colon + 1, "port")) };
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		tc_bad("%s: not an IPv4 address", host);
}

/* One side of a stream between two hosts: the parent's part (-L) or the child's (-C). */
static __attribute__((noreturn)) void two_hosts(const struct tc_opts *o, uint64_t size,
						const char *listen_at, const char *connect_to)
{
	struct sockaddr_in a;
	struct stream *s = listen_at ? &parent_s : &child_s;
	struct sock_facts *f = listen_at ? &parent_f : &child_f;
	int fd;

	parse_addr(listen_at ? listen_at : connect_to, &a);
	if (listen_at) {
		int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0)
			tc_bad("listen on %s: %s", listen_at, strerror(errno));
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		close(lfd);
		*s = (struct stream){ .fd = fd, .dir = 0, .who = "listener's end" };
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	} else {
		uint64_t deadline = tc_now_ns() + IO_TIMEOUT_MS * 1000000ull;

		/* The other host's program may not listen yet. */
		for (;;) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
				break;
			if (tc_now_ns() > deadline)
				tc_bad("connect to %s: %s", connect_to, strerror(errno));
			close(fd);
			tc_sleep_ms(50, 0);
		}
		*s = (struct stream){ .fd = fd, .dir = 1, .who = "connecting end" };
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int));
	}
	if (fd < 0)
		tc_bad("accept: %s", strerror(errno));
	sock_facts_get(fd, f);
	tc_ready();
	for (long n = 1; n <= o->target; n++) {
		one_round(s, size, o->interval_ms);
		sock_facts_check(fd, f, !listen_at, s->who);
		tc_proc_check();
		tc_tick(n);
	}
	tc_pass();
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct sockaddr_storage addr = { 0 };
	uint64_t size = 1u << 20;
	socklen_t alen;
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c, lfd, fd, status, v6 = 0, mixed = 0;
	const char *listen_at = NULL, *connect_to = NULL;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:s:6mL:C:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			size = (uint64_t)tc_parse_long(optarg, "-s");
			continue;
		}
		if (c == 'L' || c == 'C') {
			*(c == 'L' ? &listen_at : &connect_to) = optarg;
			continue;
		}
		if (c == '6' || c == 'm') {
			v6 = 1;
			mixed = c == 'm';
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-s SIZE] [-6 | -m | -L A:P | -C A:P]\n", argv[0]);
		return 2;
	}
	tc_proc_init("tcpstream");
	if (listen_at || connect_to)
		two_hosts(&o, size, listen_at, connect_to);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = mixed ? in6addr_any : in6addr_loopback;
		alen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		alen = sizeof(*a);
	}
	lfd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (mixed)
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, alen) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		tc_bad("listen: %s", strerror(errno));
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		close(lfd);
		to4.sin_port = ((struct sockaddr_in6 *)&addr)->sin6_port;
		fd = socket(mixed ? AF_INET : addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || (mixed ? connect(fd, (struct sockaddr *)&to4, sizeof(to4))
				     : connect(fd, (struct sockaddr *)&addr, alen)) < 0)
			tc_bad("child: connect: %s", strerror(errno));
		child_s = (struct stream){ .fd = fd, .dir = 1, .who = "child" };
		/* A receive buffer of its own size (no autotuning) and keepalive. */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int));
		sock_facts_get(fd, &child_f);
		for (long n = 1; n <= o.target; n++) {
			one_round(&child_s, size, o.interval_ms);
			sock_facts_check(fd, &child_f, true, "child");
		}
		_exit(0);
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		tc_bad("accept: %s", strerror(errno));
	close(lfd);
	parent_s = (struct stream){ .fd = fd, .dir = 0, .who = "parent" };
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	sock_facts_get(fd, &parent_f);
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		one_round(&parent_s, size, o.interval_ms);
		sock_facts_check(fd, &parent_f, false, "parent");
		tc_proc_check();
		tc_tick(n);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	tc_pass();
}
