/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcphalf: a TCP connection shut in one direction across checkpoints.  The
 * child sends its whole stream (SIZE bytes) at once and shuts its writing
 * (shutdown SHUT_WR); the parent reads a share of it each tick, so the
 * bytes and the FIN behind them wait in its receive queue, and it must
 * meet the end of the stream exactly after the last byte.  The other
 * direction stays open: each tick the parent sends a message the child
 * reads and checks.  At the end the parent shuts its writing too and the
 * child must see the end of the stream.  -c: the child closes its socket
 * after its stream and exits (its end is gone, no process holds it).
 *
 *   tcphalf [-n TARGET] [-i INTERVAL_MS] [-s SIZE] [-c]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tc_io.h"

struct msg {
	uint64_t n, check;
};

static uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)(tc_mix(i >> 3) >> ((i & 7) * 8));
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	uint64_t size = 60000, got = 0;
	static uint8_t buf[1u << 16];
	int c, lfd, fd, status, close_all = 0;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:s:c")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			size = (uint64_t)tc_parse_long(optarg, "-s");
			continue;
		}
		if (c == 'c') {
			close_all = 1;
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-s SIZE] [-c]\n", argv[0]);
		return 2;
	}
	if (size > sizeof(buf) || o.target < 1)
		return 2;
	tc_proc_init("tcphalf");
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, alen) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		tc_bad("listen: %s", strerror(errno));
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		close(lfd);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, alen) < 0)
			tc_bad("child: connect: %s", strerror(errno));
		for (uint64_t i = 0; i < size; i++)
			buf[i] = stream_byte(i);
		tc_write_full(fd, buf, size, "child: its stream");
		if (close_all) {
			close(fd);
			_exit(0);
		}
		if (shutdown(fd, SHUT_WR) < 0)
			tc_bad("child: shutdown: %s", strerror(errno));
		for (uint64_t n = 1;; n++) {
			struct msg m;

			if (!tc_read_full(fd, &m, sizeof(m), TC_IO_TIMEOUT_MS, "child: message")) {
				if (n != (uint64_t)o.target + 1)
					tc_bad("child: end of stream after %llu messages, expected %ld",
					       (unsigned long long)n - 1, o.target);
				_exit(0);
			}
			if (m.n != n || m.check != tc_mix(n))
				tc_bad("child: message %llu, expected %llu", (unsigned long long)m.n,
				       (unsigned long long)n);
		}
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		tc_bad("accept: %s", strerror(errno));
	close(lfd);
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		/* Tick n reads the stream up to its n-th share: the rest waits, with the FIN. */
		uint64_t upto = size * (uint64_t)n / (uint64_t)o.target;
		struct msg m = { .n = (uint64_t)n, .check = tc_mix((uint64_t)n) };

		if (upto > got) {
			if (tc_read_full(fd, buf, upto - got, TC_IO_TIMEOUT_MS, "parent: stream") !=
			    upto - got)
				tc_bad("parent: stream ended at byte %llu of %llu",
				       (unsigned long long)got, (unsigned long long)size);
			for (uint64_t i = 0; i < upto - got; i++)
				if (buf[i] != stream_byte(got + i))
					tc_bad("parent: byte %llu is %#x, expected %#x",
					       (unsigned long long)(got + i), buf[i],
					       stream_byte(got + i));
			got = upto;
		}
		if (!close_all)
			tc_write_full(fd, &m, sizeof(m), "parent: message");
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	/* All of the stream read: the next read must be its end, not a byte more. */
	if (tc_read_full(fd, buf, 1, TC_IO_TIMEOUT_MS, "parent: end of stream") != 0)
		tc_bad("parent: a byte after the child's %llu", (unsigned long long)size);
	if (!close_all && shutdown(fd, SHUT_WR) < 0)
		tc_bad("parent: shutdown: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	tc_pass();
}
