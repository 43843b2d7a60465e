/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macro.h"
#include "util/netlock.h"
#include "util/privilege.h"

extern char **environ;

int tcp_set_repair(int fd, int mode)
{
	PRIV_SCOPE(CAP_NET_ADMIN);

	return setsockopt(fd, SOL_TCP, TCP_REPAIR, &mode, sizeof(mode)) < 0 ? -errno : 0;
}

/*
 * Run nft with a script on its command line; 0 or -errno.  With file
 * capabilities nft gets CAP_NET_ADMIN (ambient, for its exec alone), so
 * it is the system's by its path, with an environment of ours: nothing the
 * user sets may choose what runs with it.
 */
static int nft(const char *script)
{
	static char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char *argv[] = { "nft", (char *)script, NULL };
	bool filecaps = privilege_mode() == PRIV_FILECAPS;
	pid_t pid;
	int status, r;

	if (filecaps) {
		r = -priv_ambient_raise(CAP_NET_ADMIN);
		if (r == 0)
			r = posix_spawn(&pid, access("/usr/sbin/nft", X_OK) == 0 ? "/usr/sbin/nft"
										 : "/sbin/nft",
					NULL, NULL, argv, clean_env);
		priv_ambient_clear();
	} else {
		r = posix_spawnp(&pid, "nft", NULL, NULL, argv, environ);
	}
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

		lp = ntohs(a->sin6_port);
		rp = ntohs(b->sin6_port);
		/* A dual-stack socket talking IPv4: its packets are IPv4 ones. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && IN6_IS_ADDR_V4MAPPED(&b->sin6_addr)) {
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], la, sizeof(la));
			inet_ntop(AF_INET, &b->sin6_addr.s6_addr[12], ra, sizeof(ra));
			*v6 = false;
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, la, sizeof(la));
			inet_ntop(AF_INET6, &b->sin6_addr, ra, sizeof(ra));
			*v6 = true;
		}
	} else {
		return -EAFNOSUPPORT;
	}
	snprintf(out, len, "%s . %u . %s . %u", ra, rp, la, lp);
	return 0;
}

static const char netlock_table[] =
	"add table inet trace_ckpt; "
	"add set inet trace_ckpt conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }; "
	"add set inet trace_ckpt conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }; "
	"add chain inet trace_ckpt input { type filter hook input priority -300; }; "
	"flush chain inet trace_ckpt input; "
	"add rule inet trace_ckpt input ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop; "
	"add rule inet trace_ckpt input ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop; ";

/* Connections per nft run: its one argument stays far below MAX_ARG_STRLEN. */
#define CHUNK 256
#define ELEMENT_MAX 128

char *netlock_script(const char *prelude, const char *verb, const struct netlock_conn *conns,
		     size_t n)
{
	size_t cap = strlen(prelude) + (n + 2) * (ELEMENT_MAX + 64);
	char *script = malloc(cap);
	size_t len;

	if (!script)
		return NULL;
	len = (size_t)snprintf(script, cap, "%s", prelude);
	for (int v6 = 0; v6 < 2; v6++) {
		bool first = true;

		for (size_t i = 0; i < n; i++) {
			char el[ELEMENT_MAX];
			bool is6;

			if (element(conns[i].local, conns[i].remote, el, sizeof(el), &is6) < 0 ||
			    is6 != v6)
				continue;
			if (first)
				len += (size_t)snprintf(script + len, cap - len,
							"%s element inet trace_ckpt %s { ", verb,
							v6 ? "conns6" : "conns4");
			else
				len += (size_t)snprintf(script + len, cap - len, ", ");
			len += (size_t)snprintf(script + len, cap - len, "%s", el);
			first = false;
		}
		if (!first)
			len += (size_t)snprintf(script + len, cap - len, " }; ");
	}
	return script;
}

/* One nft run: prelude, then the verb on every connection given. */
static int netlock_run(const char *prelude, const char *verb, const struct netlock_conn *conns,
		       size_t n)
{
	_cleanup_free_ char *script = netlock_script(prelude, verb, conns, n);

	return script ? nft(script) : -ENOMEM;
}

int netlock_add_many(const struct netlock_conn *conns, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i += CHUNK)
		r = netlock_run(netlock_table, "add", conns + i, MIN(n - i, (size_t)CHUNK));
	if (r < 0)
		log_warn("no network lock for %zu TCP connection(s) (nft: %s): a peer that sends "
			 "meanwhile may meet a reset or see its data lost", n, strerror(-r));
	return r;
}

int netlock_del_many(const struct netlock_conn *conns, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i += CHUNK) {
		size_t m = MIN(n - i, (size_t)CHUNK);

		/* One missing element fails the whole batch: then one at a time. */
		if (netlock_run("", "delete", conns + i, m) == 0)
			continue;
		for (size_t k = 0; k < m; k++)
			if (netlock_run("", "delete", conns + i + k, 1) < 0)
				r = -ENOENT;
	}
	return r;
}

int netlock_add(const void *local, const void *remote)
{
	struct netlock_conn c = { local, remote };

	return netlock_add_many(&c, 1);
}

int netlock_del(const void *local, const void *remote)
{
	struct netlock_conn c = { local, remote };

	/* Usually there is none: the peer was inside, or the lock was never taken. */
	return netlock_run("", "delete", &c, 1) == 0 ? 0 : -ENOENT;
}
