// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A socket fd: its family says which collector it goes to (one table), and
 * a family without one is refused by name.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "util/macro.h"

struct socket_family {
	int family;
	int (*collect)(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type,
		       uint64_t ino);
};

static const struct socket_family socket_families[] = {
	{ AF_UNIX, collect_unix_socket },
	{ AF_INET, collect_inet_socket },
	{ AF_INET6, collect_inet_socket },
};

static const char *family_name(int family)
{
	switch (family) {
	case AF_NETLINK:
		return "AF_NETLINK";
	case AF_PACKET:
		return "AF_PACKET";
	default:
		return "socket";
	}
}

int collect_socket(struct collect_ctx *cx, struct fd_record *f, uint64_t ino)
{
	_cleanup_close_ int h = -1;
	socklen_t sl = sizeof(int);
	int domain = 0, type = 0;

	h = collect_fd_handle(cx, f->fd);
	if (h < 0)
		return h;
	if (getsockopt(h, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0 ||
	    getsockopt(h, SOL_SOCKET, SO_TYPE, &type, &sl) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: socket", f->fd);
	for (size_t i = 0; i < ARRAY_SIZE(socket_families); i++)
		if (socket_families[i].family == domain)
			return socket_families[i].collect(cx, f, h, domain, type, ino);
	return collect_refuse(cx, "of sockets unix, TCP and UDP are kept; a program that opens "
			      "one for a moment can be dumped once it closed it",
			      "fd %d: %s socket (family %d)", f->fd, family_name(domain), domain);
}
