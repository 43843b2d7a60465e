/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "restorer/addrmap.h"
#include "util/macro.h"

#define MAX_PAIRS 256

struct addr_pair {
	int family;
	uint8_t from[16], to[16];
};

static int parse_map(const char *map, struct addr_pair *v, size_t *n)
{
	_cleanup_free_ char *copy = strdup(map);
	char *save = NULL;

	*n = 0;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		struct addr_pair *p = &v[*n];

		if (!eq || *n == MAX_PAIRS)
			return -EINVAL;
		*eq = '\0';
		p->family = strchr(tok, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(p->family, tok, p->from) != 1 || inet_pton(p->family, eq + 1, p->to) != 1)
			return -EINVAL;
		(*n)++;
	}
	return 0;
}

/* The address bytes inside a saved sockaddr. */
static uint8_t *addr_bytes(uint8_t *sa, uint32_t family, size_t *len)
{
	if (family == AF_INET) {
		*len = 4;
		return sa + offsetof(struct sockaddr_in, sin_addr);
	}
	*len = 16;
	return sa + offsetof(struct sockaddr_in6, sin6_addr);
}

static bool map_one(uint8_t *sa, uint32_t family, const struct addr_pair *v, size_t n)
{
	size_t len;
	uint8_t *a = addr_bytes(sa, family, &len);

	for (size_t i = 0; i < n; i++)
		if ((uint32_t)v[i].family == family && !memcmp(a, v[i].from, len)) {
			memcpy(a, v[i].to, len);
			return true;
		}
	return false;
}

static bool is_wildcard_or_loopback(const uint8_t *sa, uint32_t family)
{
	if (family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		uint32_t a = ntohl(in->sin_addr.s_addr);

		return a == INADDR_ANY || (a >> 24) == 127;
	}
	{
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
}

int computation_map_addrs(struct computation *c, const char *map, char *err, size_t errlen)
{
	struct addr_pair *v = calloc(MAX_PAIRS, sizeof(*v));
	size_t n = 0;
	int r;

	if (!v)
		return -ENOMEM;
	r = parse_map(map, v, &n);
	if (r < 0) {
		snprintf(err, errlen, "address map \"%s\": OLD=NEW[,OLD=NEW...], numeric addresses",
			 map);
		free(v);
		return r;
	}
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			bool local_moved, remote_moved;
			char addr[INET6_ADDRSTRLEN] = "?";
			size_t len;

			if (f->kind != FD_INET)
				continue;
			local_moved = map_one(f->inet.local, f->inet.family, v, n);
			remote_moved = map_one(f->inet.remote, f->inet.family, v, n);
			(void)local_moved;
			if (f->sock.type != SOCK_STREAM || f->inet.state != TCP_ESTABLISHED ||
			    remote_moved || is_wildcard_or_loopback(f->inet.remote, f->inet.family))
				continue;
			/* A peer outside: it would not know the connection on the new address. */
			inet_ntop((int)f->inet.family, addr_bytes(f->inet.remote, f->inet.family, &len),
				  addr, sizeof(addr));
			snprintf(err, errlen,
				 "pid %d fd %d: TCP connection to %s, outside the computation, cannot follow to another host",
				 c->procs[i].pid, f->fd, addr);
			free(v);
			return -EOPNOTSUPP;
		}
	free(v);
	return 0;
}
