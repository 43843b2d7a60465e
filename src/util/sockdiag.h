/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>

/*
 * One sock_diag dump: req (the request that follows the netlink header,
 * req_len bytes) sent with NLM_F_DUMP on nl, or on a socket of its own when
 * nl < 0, and each(h, arg) called for every message up to NLMSG_DONE.
 * Returns 0, the first negative value each returned, or -errno (a netlink
 * error: its errno).
 */
int sock_diag_dump(int nl, const void *req, size_t req_len,
		   int (*each)(const struct nlmsghdr *h, void *arg), void *arg);
