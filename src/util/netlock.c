/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "util/netlock.h"

extern char **environ;

/* Run nft with a script on its command line; 0 or -errno. */
static int nft(const char *script)
{
	char *argv[] = { "nft", (char *)script, NULL };
	pid_t pid;
	int status, r;

	r = posix_spawnp(&pid, "nft", NULL, NULL, argv, environ);
	if (r)
		return -r;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* "ADDR . PORT . ADDR . PORT" of a connection, from the peer's side in. */
static int element(const void *local, const void *remote, char *out, size_t len, bool *v6)
{
	const struct sockaddr *l = local;
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	unsigned int lp, rp;

	if (l->sa_family == AF_INET) {
		const struct sockaddr_in *a = local, *b = remote;

		inet_ntop(AF_INET, &a->sin_addr, la, sizeof(la));
		inet_ntop(AF_INET, &b->sin_addr, ra, sizeof(ra));
		lp = ntohs(a->sin_port);
		rp = ntohs(b->sin_port);
		*v6 = false;
	} else if (l->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = local, *b = remote;

		inet_ntop(AF_INET6, &a->sin6_addr, la, sizeof(la));
		inet_ntop(AF_INET6, &b->sin6_addr, ra, sizeof(ra));
		lp = ntohs(a->sin6_port);
		rp = ntohs(b->sin6_port);
		*v6 = true;
	} else {
		return -EAFNOSUPPORT;
	}
	snprintf(out, len, "%s . %u . %s . %u", ra, rp, la, lp);
	return 0;
}

int netlock_add(const void *local, const void *remote)
{
	static const char table[] =
		"add table inet trace_ckpt; "
		"add set inet trace_ckpt conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }; "
		"add set inet trace_ckpt conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }; "
		"add chain inet trace_ckpt input { type filter hook input priority -300; }; "
		"flush chain inet trace_ckpt input; "
		"add rule inet trace_ckpt input ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop; "
		"add rule inet trace_ckpt input ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop";
	char el[256], cmd[512];
	bool v6;
	int r = element(local, remote, el, sizeof(el), &v6);

	if (r < 0)
		return r;
	r = nft(table);
	if (r == 0) {
		snprintf(cmd, sizeof(cmd), "add element inet trace_ckpt %s { %s }",
			 v6 ? "conns6" : "conns4", el);
		r = nft(cmd);
	}
	if (r < 0)
		log_warn("no network lock for %s (nft: %s): the peer gets a reset if it sends "
			 "before the restore", el, strerror(-r));
	return r;
}

int netlock_del(const void *local, const void *remote)
{
	char el[256], cmd[512];
	bool v6;
	int r = element(local, remote, el, sizeof(el), &v6);

	if (r < 0)
		return r;
	snprintf(cmd, sizeof(cmd), "delete element inet trace_ckpt %s { %s }",
		 v6 ? "conns6" : "conns4", el);
	/* Usually there is none: the peer was inside, or the lock was never taken. */
	return nft(cmd) == 0 ? 0 : -ENOENT;
}
