/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcpecho: a parent and a child talk over a TCP connection on 127.0.0.1,
 * always with messages left unread in both directions, so a checkpoint
 * finds data queued (and sent but not acknowledged).  Every message is
 * checked.  Every 25 ticks the parent also connects to its own listening
 * socket and exchanges a byte, so the listener must work after a restore.
 *
 *   tcpecho [-n TARGET] [-i INTERVAL_MS] [-6]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tc_test.h"

#define AHEAD 3

struct msg {
	uint64_t n, check;
	uint8_t pad[1000];
};

static void send_msg(int fd, uint64_t n, const char *who)
{
	struct msg m = { .n = n, .check = tc_mix(n) };
	size_t done = 0;

	memset(m.pad, (int)(n & 0xff), sizeof(m.pad));
	while (done < sizeof(m)) {
		ssize_t r = write(fd, (char *)&m + done, sizeof(m) - done);

		if (r <= 0)
			tc_bad("%s: write %llu: %s", who, (unsigned long long)n, strerror(errno));
		done += r;
	}
}

static void recv_msg(int fd, uint64_t n, const char *who)
{
	struct msg m;
	size_t got = 0;

	while (got < sizeof(m)) {
		ssize_t r = read(fd, (char *)&m + got, sizeof(m) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			tc_bad("%s: read %llu: %s", who, (unsigned long long)n,
			       r ? strerror(errno) : "EOF");
		got += r;
	}
	if (m.n != n || m.check != tc_mix(n) || m.pad[999] != (uint8_t)(n & 0xff))
		tc_bad("%s: message %llu, expected %llu", who, (unsigned long long)m.n,
		       (unsigned long long)n);
}

static void probe_listener(int lfd, const struct sockaddr_storage *addr, socklen_t alen, long n)
{
	int c = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), a;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	char b = 'x';

	if (c < 0 || connect(c, (const struct sockaddr *)addr, alen) < 0)
		tc_bad("tick %ld: connect to the listener: %s", n, strerror(errno));
	if (poll(&pfd, 1, 10000) != 1 || (a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		tc_bad("tick %ld: accept: %s", n, strerror(errno));
	if (write(c, &b, 1) != 1 || read(a, &b, 1) != 1 || b != 'x')
		tc_bad("tick %ld: no byte through the new connection", n);
	close(a);
	close(c);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct sockaddr_storage addr = { 0 };
	socklen_t alen;
	int c, lfd, fd, status, v6 = 0, one = 1;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:6")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == '6') {
			v6 = 1;
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-6]\n", argv[0]);
		return 2;
	}
	tc_proc_init("tcpecho");
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		alen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		alen = sizeof(*a);
	}
	lfd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, alen) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		tc_bad("listen: %s", strerror(errno));
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		close(lfd);
		fd = socket(addr.ss_family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, alen) < 0)
			tc_bad("child: connect: %s", strerror(errno));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (uint64_t n = 1; n <= AHEAD; n++)
			send_msg(fd, n + 1000000, "child");
		for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
			recv_msg(fd, n, "child");
			send_msg(fd, n + AHEAD + 1000000, "child");
		}
		_exit(0);
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		tc_bad("accept: %s", strerror(errno));
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		send_msg(fd, n, "parent");
		recv_msg(fd, n + 1000000, "parent");
		if (n % 25 == 0)
			probe_listener(lfd, &addr, alen, (long)n);
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	tc_pass();
}
