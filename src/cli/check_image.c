/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check DIR: would `restore DIR` start here?  Everything a restore checks
 * before it creates a process, and what it would meet after: one line per
 * problem, with what to do about it; nothing is started or changed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/image.h"
#include "proto/imagekey.h"
#include "restorer/creds.h"
#include "restorer/timewait.h"
#include "restorer/validate.h"
#include "util/macro.h"
#include "util/privilege.h"

struct report {
	unsigned int problems;
};

static void __attribute__((format(printf, 2, 3))) problem(struct report *rep, const char *fmt, ...)
{
	va_list ap;

	printf("problem: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	rep->problems++;
}

/* Every line of a message that may hold several (validate_files). */
static void problems_of(struct report *rep, const char *msg, const char *advice)
{
	const char *p = msg;

	while (*p) {
		size_t n = strcspn(p, "\n");

		/* A line in parentheses explains the ones before it: not a problem. */
		if (n && *p != '(')
			problem(rep, "%.*s%s", (int)n, p, advice);
		p += n + (p[n] == '\n');
	}
}

static const char *port_kind(const struct fd_record *f)
{
	return f->sock.type == SOCK_STREAM ? "tcp" : "udp";
}

/* Can this address be bound here now (SO_REUSEADDR, as the restore does)? */
static int try_bind(const struct fd_record *f)
{
	const struct sockaddr *sa = (const void *)f->inet.local;
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int fd = socket(sa->sa_family, (int)f->sock.type | SOCK_CLOEXEC, 0), one = 1, r = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static uint16_t port_of(const struct fd_record *f)
{
	const struct sockaddr *sa = (const void *)f->inet.local;

	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

static void check_ports(struct report *rep, const struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int r, tw;

			if (f->kind != FD_INET || !port_of(f))
				continue;
			/* The connecting side of a connection may get its port back later;
			 * a drained one takes over its old connection's TIME_WAIT. */
			if (f->inet.state == TCP_ESTABLISHED || f->inet.tcp_drained)
				continue;
			r = try_bind(f);
			/* Old connections of its own, and nothing else: the restore ends them,
			 * or waits them out. */
			if (r == -EADDRINUSE && f->sock.type == SOCK_STREAM &&
			    tcp_live_count(f->inet.local) == 0 &&
			    (tw = timewait_count(f->inet.local)) > 0) {
				printf("note: pid %d fd %d: port %u/%s is held by %d connection%s in "
				       "TIME_WAIT, which a restore ends (as root) or waits for (up to "
				       "65 s)\n", c->procs[i].pid, f->fd, port_of(f), port_kind(f), tw,
				       tw == 1 ? "" : "s");
				continue;
			}
			if (r == -EADDRINUSE)
				problem(rep, "pid %d fd %d: port %u/%s is in use on this host: free it "
					"(ss -ltnup shows by whom)", c->procs[i].pid, f->fd, port_of(f),
					port_kind(f));
			else if (r == -EACCES)
				problem(rep, "pid %d fd %d: port %u/%s needs a privilege to bind here",
					c->procs[i].pid, f->fd, port_of(f), port_kind(f));
		}
}

static void check_pids(struct report *rep, const struct computation *c, bool new_pidns)
{
	if ((c->flags & TC_COMP_F_PIDNS) || new_pidns)
		return;	/* a pid namespace of its own: every pid is free there */
	for (size_t i = 0; i < c->nr_procs; i++) {
		pid_t pid = c->procs[i].pid;

		if (kill(pid, 0) == 0 || errno == EPERM)
			problem(rep, "pid %d is in use on this host: restore --new-pidns puts the "
				"computation in a pid namespace of its own", pid);
	}
}

static void check_owner(struct report *rep, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0 && st.st_uid != geteuid() && st.st_uid != 0) {
		struct passwd *pw = getpwuid(st.st_uid);

		problem(rep, "%s is owned by uid %u (%s), not by you: restore --trust-owner if you "
			"trust them", dir, st.st_uid, pw ? pw->pw_name : "?");
	}
}

static void check_tcp_privilege(struct report *rep, const struct computation *c)
{
	if (privilege_mode() != PRIV_ROOTLESS)
		return;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			/* A drained connection is made again the ordinary way. */
			if (f->kind == FD_INET && f->inet.state == TCP_ESTABLISHED && !f->inet.tcp_drained)
				problem(rep, "pid %d fd %d: a TCP connection kept by TCP_REPAIR: its "
					"restore needs CAP_NET_ADMIN on the host (root, or the file-"
					"capability install)", c->procs[i].pid, f->fd);
		}
}

int check_image(const char *arg, const char *key_file, bool new_pidns)
{
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	struct computation *c = NULL;
	struct report rep = { 0 };
	enum privilege_mode mode = privilege_mode();
	char dir[PATH_MAX], err[8192] = "";
	const uint32_t *groups;
	size_t nr_groups;
	uid_t uid;
	gid_t gid;
	int r;

	if (!realpath(arg, dir)) {
		fprintf(stderr, "trace-ckpt check: %s: %m\n", arg);
		return 2;
	}
	if (cli_image_key("check", key_file, NULL, &key) < 0)
		return 2;
	printf("image %s, mode %s\n", dir, privilege_mode_name(mode));
	check_owner(&rep, dir);
	/* Every byte, as a restore would before the program runs. */
	r = image_read_flags(dir, &key, &c, 0, err, sizeof(err));
	if (r < 0) {
		problem(&rep, "%s", err[0] ? err : strerror(-r));
		printf("a restore would not start (%u problem%s)\n", rep.problems,
		       rep.problems == 1 ? "" : "s");
		return 1;
	}
	printf("generation %llu of %s, %zu process%s, made on %s\n",
	       (unsigned long long)c->generation, c->cmdline && c->cmdline[0] ? c->cmdline : "?",
	       c->nr_procs, c->nr_procs == 1 ? "" : "es", c->host ? c->host : "?");
	err[0] = '\0';
	if (validate_cpu(c, err, sizeof(err)) < 0)
		problems_of(&rep, err, "");
	err[0] = '\0';
	if (validate_files(c, false, err, sizeof(err)) < 0)
		problems_of(&rep, err, " (restore --ignore-changed-files goes on anyway)");
	err[0] = '\0';
	if (validate_huge_pages(c, err, sizeof(err)) < 0)
		problem(&rep, "%s", err);
	if (mode == PRIV_ROOT && creds_single_user(c, &uid, &gid, &groups, &nr_groups)) {
		printf("note: every process is uid %u: root restores it as that user\n", uid);
	} else {
		err[0] = '\0';
		if (creds_check_restorable(c, mode == PRIV_ROOT, getuid(), getgid(),
					   creds_restore_bounding_set(mode), err, sizeof(err)) < 0)
			problem(&rep, "%s", err);
	}
	check_pids(&rep, c, new_pidns || mode == PRIV_ROOTLESS);
	check_ports(&rep, c);
	check_tcp_privilege(&rep, c);
	computation_destroy(c);
	if (rep.problems)
		printf("a restore would not start here (%u problem%s)\n", rep.problems,
		       rep.problems == 1 ? "" : "s");
	else
		printf("a restore would start here\n");
	return rep.problems ? 1 : 0;
}
