/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/sock_diag.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/macro.h"
#include "util/sockdiag.h"

#define RECV_BUF 65536
#define REQ_MAX 256

int sock_diag_dump(int nl, const void *req, size_t req_len,
		   int (*each)(const struct nlmsghdr *h, void *arg), void *arg)
{
	_cleanup_close_ int own = -1;
	_cleanup_free_ uint8_t *buf = malloc(RECV_BUF);
	union {
		struct nlmsghdr h;
		uint8_t bytes[NLMSG_HDRLEN + REQ_MAX];
	} msg;

	if (req_len > REQ_MAX)
		return -EINVAL;
	if (!buf)
		return -ENOMEM;
	if (nl < 0) {
		own = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (own < 0)
			return neg_errno();
		nl = own;
	}
	memset(&msg, 0, sizeof(msg));
	msg.h = (struct nlmsghdr){ .nlmsg_len = (uint32_t)(NLMSG_HDRLEN + req_len),
				   .nlmsg_type = SOCK_DIAG_BY_FAMILY,
				   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP };
	memcpy(msg.bytes + NLMSG_HDRLEN, req, req_len);
	if (send(nl, &msg, msg.h.nlmsg_len, 0) != (ssize_t)msg.h.nlmsg_len)
		return neg_errno();
	for (;;) {
		ssize_t n = recv(nl, buf, RECV_BUF, 0);
		size_t len = n > 0 ? (size_t)n : 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? neg_errno() : -EBADMSG;
		for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			int r;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error < 0 ? e->error : -EBADMSG;
			}
			r = each(h, arg);
			if (r < 0)
				return r;
		}
	}
}
