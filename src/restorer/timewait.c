/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "restorer/timewait.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

struct diag_msg {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

static int send_req(int nl, uint16_t type, uint16_t flags, const struct inet_diag_req_v2 *req)
{
	struct diag_msg m = {
		.nlh = { .nlmsg_len = sizeof(m), .nlmsg_type = type,
			 .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags) },
		.req = *req,
	};

	return send(nl, &m, sizeof(m), 0) == sizeof(m) ? 0 : neg_errno();
}

/* Our local address: the port, and the address unless it is the wildcard. */
static bool same_local(const struct inet_diag_msg *d, const uint8_t *local)
{
	const struct sockaddr *sa = (const void *)local;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)local;

		return d->id.idiag_sport == in->sin_port &&
		       (in->sin_addr.s_addr == htonl(INADDR_ANY) ||
			d->id.idiag_src[0] == in->sin_addr.s_addr);
	}
	{
		const struct sockaddr_in6 *in6 = (const void *)local;

		return d->id.idiag_sport == in6->sin6_port &&
		       (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) ||
			!memcmp(d->id.idiag_src, &in6->sin6_addr, 16));
	}
}

int timewait_clear(const uint8_t *local)
{
	/* SOCK_DESTROY: CAP_NET_ADMIN, when the socket is made and when it is used. */
	PRIV_SCOPE(CAP_NET_ADMIN);
	const struct sockaddr *sa = (const void *)local;
	struct inet_diag_req_v2 req = { .sdiag_family = (uint8_t)sa->sa_family,
					.sdiag_protocol = IPPROTO_TCP,
					.idiag_states = 1u << TCP_TIME_WAIT };
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_cleanup_close_ int kill_nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
					     NETLINK_SOCK_DIAG);
	_cleanup_free_ uint8_t *buf = malloc(65536);
	int done = 0, r;

	if (nl < 0 || kill_nl < 0)
		return neg_errno();
	if (!buf)
		return -ENOMEM;
	r = send_req(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = recv(nl, buf, 65536, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			return neg_errno();
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *d = NLMSG_DATA(h);
			struct inet_diag_req_v2 kill_req = req;
			uint8_t ack[512];

			if (h->nlmsg_type == NLMSG_DONE)
				return done;
			if (h->nlmsg_type == NLMSG_ERROR)
				return done ? done : -EIO;
			if (d->idiag_state != TCP_TIME_WAIT || !same_local(d, local))
				continue;
			kill_req.id = d->id;
			if (send_req(kill_nl, SOCK_DESTROY, NLM_F_ACK, &kill_req) == 0 &&
			    recv(kill_nl, ack, sizeof(ack), 0) > 0)
				done++;
		}
	}
}
