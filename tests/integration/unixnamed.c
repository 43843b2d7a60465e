/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unixnamed: Unix sockets with names.  A server child holds a stream
 * listener bound to a path, a seqpacket listener with an abstract name, a
 * listener bound to a relative name whose one connection is accepted only
 * half-way through (so a checkpoint finds it not accepted yet), a datagram
 * socket bound to a relative name that always has one datagram queued, and a
 * datagram socket whose file was removed.  The parent is the client of each.
 * Every message is numbered and checked, and so are the addresses
 * (getsockname, getpeername) and the socket files.
 *
 *   unixnamed [-n TARGET] [-i INTERVAL_MS]
 */
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "tc_test.h"

struct msg {
	uint64_t n;
	uint64_t check;
};

static void send_msg(int fd, uint64_t n, const char *who)
{
	struct msg m = { .n = n, .check = tc_mix(n) };

	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		tc_bad("%s: send %llu: %s", who, (unsigned long long)n, strerror(errno));
}

static void recv_msg(int fd, uint64_t n, const char *who)
{
	struct msg m;
	size_t got = 0;

	while (got < sizeof(m)) {
		ssize_t r = recv(fd, (char *)&m + got, sizeof(m) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			tc_bad("%s: recv %llu: %s", who, (unsigned long long)n,
			       r ? strerror(errno) : "EOF");
		got += (size_t)r;
	}
	if (m.n != n || m.check != tc_mix(n))
		tc_bad("%s: message %llu, expected %llu", who, (unsigned long long)m.n,
		       (unsigned long long)n);
}

static socklen_t make_addr(struct sockaddr_un *sun, const char *name, size_t len)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static int bound(int type, const char *name, size_t len, int backlog)
{
	struct sockaddr_un sun;
	socklen_t sl = make_addr(&sun, name, len);
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sl) < 0)
		tc_bad("bind %s: %s", name[0] ? name : name + 1, strerror(errno));
	if (backlog && listen(fd, backlog) < 0)
		tc_bad("listen %s: %s", name[0] ? name : name + 1, strerror(errno));
	return fd;
}

static int connected(int type, const char *name, size_t len)
{
	struct sockaddr_un sun;
	socklen_t sl = make_addr(&sun, name, len);
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sl) < 0)
		tc_bad("connect %s: %s", name[0] ? name : name + 1, strerror(errno));
	return fd;
}

/* The address of fd (or its peer) is exactly name[0..len). */
static void check_addr(int fd, int peer, const char *name, size_t len, const char *what)
{
	struct sockaddr_un sun;
	socklen_t sl = sizeof(sun);
	size_t got;
	int r = peer ? getpeername(fd, (struct sockaddr *)&sun, &sl)
		     : getsockname(fd, (struct sockaddr *)&sun, &sl);

	if (r < 0)
		tc_bad("%s: %s: %s", what, peer ? "getpeername" : "getsockname", strerror(errno));
	got = sl - offsetof(struct sockaddr_un, sun_path);
	/* A path comes back with its NUL, an abstract name without one. */
	if (name[0] && got == len + 1)
		got--;
	if (got != len || memcmp(sun.sun_path, name, len))
		tc_bad("%s: address is %.*s (%zu bytes), expected %s", what, (int)got,
		       sun.sun_path[0] ? sun.sun_path : sun.sun_path + 1, got,
		       name[0] ? name : name + 1);
}

static void check_file(const char *path, mode_t mode, int want)
{
	struct stat st;

	if (!want) {
		if (lstat(path, &st) == 0)
			tc_bad("%s exists again", path);
		return;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		tc_bad("%s: not a socket file: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != mode)
		tc_bad("%s: mode %o, expected %o", path, st.st_mode & 07777, mode);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	char dir[] = "/tmp/tc-unixnamed-XXXXXX", spath[64], abstract[64];
	size_t alen;
	int l1, l2, l3, ds, us, c1, c2, c3, dc, c, status;
	uint64_t accept_at;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	if (!mkdtemp(dir) || chdir(dir) < 0)
		tc_bad("%s: %s", dir, strerror(errno));
	snprintf(spath, sizeof(spath), "%s/stream.sock", dir);
	alen = 1 + (size_t)snprintf(abstract + 1, sizeof(abstract) - 1, "tc-unixnamed-%d", getpid());
	abstract[0] = '\0';
	accept_at = (uint64_t)o.target / 2 + 1;
	tc_proc_init("unixnamed");

	l1 = bound(SOCK_STREAM, spath, strlen(spath), 8);
	l2 = bound(SOCK_SEQPACKET, abstract, alen, 8);
	l3 = bound(SOCK_STREAM, "pending.sock", 12, 4);
	ds = bound(SOCK_DGRAM, "dgram.sock", 10, 0);
	us = bound(SOCK_DGRAM, "gone.sock", 9, 0);
	if (chmod("dgram.sock", 0640) < 0 || unlink("gone.sock") < 0)
		tc_bad("dgram.sock: %s", strerror(errno));
	c1 = connected(SOCK_STREAM, spath, strlen(spath));
	c2 = connected(SOCK_SEQPACKET, abstract, alen);
	c3 = connected(SOCK_STREAM, "pending.sock", 12);
	dc = connected(SOCK_DGRAM, "dgram.sock", 10);

	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		int s1, s2, s3 = -1;
		uint64_t n;

		close(c1);
		close(c2);
		close(c3);
		close(dc);
		s1 = accept(l1, NULL, NULL);
		s2 = accept(l2, NULL, NULL);
		if (s1 < 0 || s2 < 0)
			tc_bad("child: accept: %s", strerror(errno));
		for (n = 1; n <= (uint64_t)o.target; n++) {
			recv_msg(s1, n, "child stream");
			recv_msg(s2, n + 1000000, "child seqpacket");
			/* One datagram always waits in the queue. */
			if (n > 1)
				recv_msg(ds, n - 1 + 2000000, "child dgram");
			if (n == accept_at) {
				s3 = accept(l3, NULL, NULL);
				if (s3 < 0)
					tc_bad("child: accept pending.sock: %s", strerror(errno));
				check_addr(s3, 0, "pending.sock", 12, "child: accepted pending.sock");
			}
			check_addr(s1, 0, spath, strlen(spath), "child: accepted stream");
			check_addr(l2, 0, abstract, alen, "child: seqpacket listener");
			check_addr(ds, 0, "dgram.sock", 10, "child: dgram");
			check_addr(us, 0, "gone.sock", 9, "child: removed dgram");
			check_file("dgram.sock", 0640, 1);
			check_file("gone.sock", 0, 0);
			send_msg(s1, n, "child stream");
			send_msg(s2, n + 1000000, "child seqpacket");
			/* Accepted before the parent was answered: nothing is sent
			 * into a connection that is not accepted yet. */
			if (s3 >= 0) {
				recv_msg(s3, n + 3000000, "child late");
				send_msg(s3, n + 4000000, "child late");
			}
		}
		recv_msg(ds, n - 1 + 2000000, "child dgram");
		_exit(0);
	}
	close(l1);
	close(l2);
	close(l3);
	close(ds);
	close(us);
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		send_msg(c1, n, "parent stream");
		send_msg(c2, n + 1000000, "parent seqpacket");
		send_msg(dc, n + 2000000, "parent dgram");
		recv_msg(c1, n, "parent stream");
		recv_msg(c2, n + 1000000, "parent seqpacket");
		if (n >= accept_at) {
			send_msg(c3, n + 3000000, "parent late");
			recv_msg(c3, n + 4000000, "parent late");
		}
		check_addr(c1, 1, spath, strlen(spath), "parent: stream peer");
		check_addr(c2, 1, abstract, alen, "parent: seqpacket peer");
		check_addr(dc, 1, "dgram.sock", 10, "parent: dgram peer");
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	unlink(spath);
	unlink("pending.sock");
	unlink("dgram.sock");
	if (chdir("/") == 0)
		rmdir(dir);
	tc_pass();
}
