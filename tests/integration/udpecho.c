/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udpecho: UDP sockets, IPv4 and IPv6.  A child holds a server socket bound
 * to a port on loopback and answers every datagram to whoever sent it
 * (recvfrom/sendto); the parent has one socket connected to the server and
 * one unconnected, bound to a port of its own, that names the server on
 * every sendto.  Each tick both ask, and the answers are checked: number,
 * contents, size, and the addresses (getsockname, getpeername, the source
 * recvfrom reports).  With -6 it also holds one port twice: [::] for IPv6
 * only (IPV6_V6ONLY) and 0.0.0.0 for IPv4.
 *
 *   udpecho [-n TARGET] [-i INTERVAL_MS] [-6]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tc_test.h"

struct dgram {
	uint64_t n;
	uint64_t check;
	uint8_t pad[100];
};

static socklen_t loopback(struct sockaddr_storage *ss, int v6, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof(*a);
	}
	{
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		return sizeof(*a);
	}
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

static int bound_socket(int v6, uint16_t port, struct sockaddr_storage *got)
{
	struct sockaddr_storage ss;
	socklen_t sl = loopback(&ss, v6, port);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0)
		tc_bad("bind: %s", strerror(errno));
	sl = sizeof(*got);
	if (getsockname(fd, (struct sockaddr *)got, &sl) < 0)
		tc_bad("getsockname: %s", strerror(errno));
	return fd;
}

static void fill(struct dgram *d, uint64_t n)
{
	d->n = n;
	d->check = tc_mix(n);
	memset(d->pad, (int)(n & 0xff), sizeof(d->pad));
}

static void check(const struct dgram *d, ssize_t len, uint64_t n, const char *who)
{
	if (len != (ssize_t)sizeof(*d) || d->n != n || d->check != tc_mix(n) ||
	    d->pad[99] != (uint8_t)(n & 0xff))
		tc_bad("%s: datagram %llu of %zd bytes holds %llu", who, (unsigned long long)n, len,
		       (unsigned long long)d->n);
}

/* One datagram within 10 s: a lost one must end the test, not hang it. */
static ssize_t recv_within(int fd, struct dgram *d, struct sockaddr_storage *from, const char *who)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	socklen_t sl = sizeof(*from);
	int r;

	do {
		r = poll(&pfd, 1, 10000);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		tc_bad("%s: no datagram in 10 s", who);
	return recvfrom(fd, d, sizeof(*d), 0, (struct sockaddr *)from, &sl);
}

static void same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
		      const char *what)
{
	if (a->ss_family != b->ss_family || port_of(a) != port_of(b))
		tc_bad("%s: port %u, expected %u", what, port_of(a), port_of(b));
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct sockaddr_storage srv, mine, got, from;
	socklen_t sl;
	int c, sfd, cfd, ufd, status, v6 = 0, only6 = -1, any4 = -1;
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
	tc_proc_init("udpecho");
	sfd = bound_socket(v6, 0, &srv);
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		/* The server: each datagram back to its sender, number + 1000000. */
		for (uint64_t k = 0; k < 2 * (uint64_t)o.target; k++) {
			struct dgram d;
			ssize_t len = recv_within(sfd, &d, &from, "server");

			if (len != (ssize_t)sizeof(d) || d.check != tc_mix(d.n))
				tc_bad("server: bad datagram of %zd bytes", len);
			fill(&d, d.n + 1000000);
			sl = from.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							: sizeof(struct sockaddr_in);
			if (sendto(sfd, &d, sizeof(d), 0, (struct sockaddr *)&from, sl) != sizeof(d))
				tc_bad("server: sendto: %s", strerror(errno));
		}
		_exit(0);
	}
	close(sfd);
	/* Connected to the server, and bound-unconnected with a port of its own. */
	cfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sl = srv.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&srv, sl) < 0)
		tc_bad("connect: %s", strerror(errno));
	ufd = bound_socket(v6, 0, &mine);
	/* -6: one port twice, [::] only for IPv6 (IPV6_V6ONLY) and 0.0.0.0 for IPv4. */
	if (v6) {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any };
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
		socklen_t l6 = sizeof(a6);
		int one = 1;

		only6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		any4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (only6 < 0 || any4 < 0 ||
		    setsockopt(only6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		    bind(only6, (struct sockaddr *)&a6, sizeof(a6)) < 0 ||
		    getsockname(only6, (struct sockaddr *)&a6, &l6) < 0)
			tc_bad("v6only socket: %s", strerror(errno));
		a4.sin_port = a6.sin6_port;
		if (bind(any4, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			tc_bad("the same port for IPv4: %s", strerror(errno));
	}
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		struct dgram d;
		ssize_t len;

		fill(&d, n);
		if (send(cfd, &d, sizeof(d), 0) != sizeof(d))
			tc_bad("send: %s", strerror(errno));
		len = recv_within(cfd, &d, &from, "connected");
		check(&d, len, n + 1000000, "connected");
		same_addr(&from, &srv, "connected: the answer's source");
		fill(&d, n + 500000);
		if (sendto(ufd, &d, sizeof(d), 0, (struct sockaddr *)&srv, sl) != sizeof(d))
			tc_bad("sendto: %s", strerror(errno));
		len = recv_within(ufd, &d, &from, "bound");
		check(&d, len, n + 1500000, "bound");
		same_addr(&from, &srv, "bound: the answer's source");
		sl = sizeof(got);
		if (getpeername(cfd, (struct sockaddr *)&got, &sl) < 0)
			tc_bad("getpeername: %s", strerror(errno));
		same_addr(&got, &srv, "connected: its peer");
		sl = sizeof(got);
		if (getsockname(ufd, (struct sockaddr *)&got, &sl) < 0)
			tc_bad("getsockname: %s", strerror(errno));
		same_addr(&got, &mine, "bound: its own address");
		if (only6 >= 0) {
			int v = 0;
			socklen_t vl = sizeof(v);

			if (getsockopt(only6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) < 0 || v != 1)
				tc_bad("the [::] socket is not IPV6_V6ONLY any more");
		}
		sl = srv.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("server ended badly");
	tc_pass();
}
