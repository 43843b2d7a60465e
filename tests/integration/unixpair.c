/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unixpair: a parent and a child talk over a stream and a datagram
 * socketpair, always with messages left unread in both directions, so a
 * checkpoint finds data queued.  Every message says which number it is and
 * is checked, bytes and datagram boundaries; the parent prints the ticks.
 *
 *   unixpair [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "tc_test.h"

#define AHEAD 3

struct msg {
	uint64_t n;
	uint64_t check;
	uint8_t pad[40];
};

static void send_msg(int fd, uint64_t n, const char *who)
{
	struct msg m = { .n = n, .check = tc_mix(n) };

	memset(m.pad, (int)(n & 0xff), sizeof(m.pad));
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		tc_bad("%s: write %llu: %s", who, (unsigned long long)n, strerror(errno));
}

static void recv_msg(int fd, uint64_t n, const char *who)
{
	struct msg m;
	size_t got = 0;

	while (got < sizeof(m)) {
		ssize_t r = read(fd, (char *)&m + got, sizeof(m) - got);

		if (r <= 0)
			tc_bad("%s: read %llu: %s", who, (unsigned long long)n,
			       r ? strerror(errno) : "EOF");
		got += r;
	}
	if (m.n != n || m.check != tc_mix(n) || m.pad[39] != (uint8_t)(n & 0xff))
		tc_bad("%s: message %llu, expected %llu", who, (unsigned long long)m.n,
		       (unsigned long long)n);
}

/* Datagrams of sizes that change with n: boundaries must survive. */
static void send_dgram(int fd, uint64_t n)
{
	uint8_t buf[300];
	size_t len = 9 + n % 250;

	memcpy(buf, &n, 8);
	memset(buf + 8, (int)(n * 3), len - 8);
	if (send(fd, buf, len, 0) != (ssize_t)len)
		tc_bad("child: send datagram %llu: %s", (unsigned long long)n, strerror(errno));
}

static void recv_dgram(int fd, uint64_t n)
{
	uint8_t buf[400];
	ssize_t len = recv(fd, buf, sizeof(buf), 0);
	uint64_t got;

	if (len != (ssize_t)(9 + n % 250))
		tc_bad("parent: datagram %llu is %zd bytes, expected %llu", (unsigned long long)n,
		       len, (unsigned long long)(9 + n % 250));
	memcpy(&got, buf, 8);
	if (got != n || buf[len - 1] != (uint8_t)(n * 3))
		tc_bad("parent: datagram %llu holds %llu", (unsigned long long)n,
		       (unsigned long long)got);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	int st[2], dg[2], c, status;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("unixpair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0)
		tc_bad("socketpair: %s", strerror(errno));
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		close(st[0]);
		close(dg[0]);
		/* Answers run AHEAD messages in front of what the parent asked. */
		for (uint64_t n = 1; n <= AHEAD; n++) {
			send_msg(st[1], n + 1000000, "child");
			send_dgram(dg[1], n);
		}
		for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
			recv_msg(st[1], n, "child");
			send_msg(st[1], n + AHEAD + 1000000, "child");
			send_dgram(dg[1], n + AHEAD);
		}
		_exit(0);
	}
	close(st[1]);
	close(dg[1]);
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		send_msg(st[0], n, "parent");
		recv_msg(st[0], n + 1000000, "parent");
		recv_dgram(dg[0], n);
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	tc_pass();
}
