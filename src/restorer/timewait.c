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
#include <time.h>
#include <unistd.h>

#include "restorer/timewait.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"
#include "util/sockdiag.h"

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

/* SOCK_DESTROY answered with no error (without CAP_NET_ADMIN it says EPERM). */
static bool nl_ack_ok(const uint8_t *ack)
{
	const struct nlmsghdr *h = (const void *)ack;
	const struct nlmsgerr *e = NLMSG_DATA(h);

	return h->nlmsg_type != NLMSG_ERROR || e->error == 0;
}

#define MAX_EVICTORS 64

/*
 * A TIME_WAIT socket whose peer address is on this host ends without
 * privilege: a socket bound to that peer address connects to it; the
 * TIME_WAIT socket answers the SYN with an ACK of its old connection,
 * which our socket (in SYN_SENT) answers with a reset of exactly the
 * sequence number it expects, and a reset ends a TIME_WAIT
 * (net.ipv4.tcp_rfc1337 = 0, the default).  Our socket is closed once the
 * exchange is done (it never connects: nothing listens there any more).
 */
static bool evict_by_reset(const struct inet_diag_msg *d, int *evictors, size_t *n)
{
	struct sockaddr_storage from = { 0 }, to = { 0 };
	socklen_t len;
	int fd, one = 1;

	if (*n >= MAX_EVICTORS)
		return false;
	if (d->idiag_family == AF_INET) {
		struct sockaddr_in *f = (void *)&from, *t = (void *)&to;

		f->sin_family = t->sin_family = AF_INET;
		f->sin_port = d->id.idiag_dport;
		f->sin_addr.s_addr = d->id.idiag_dst[0];
		t->sin_port = d->id.idiag_sport;
		t->sin_addr.s_addr = d->id.idiag_src[0];
		len = sizeof(*f);
	} else {
		struct sockaddr_in6 *f = (void *)&from, *t = (void *)&to;

		f->sin6_family = t->sin6_family = AF_INET6;
		f->sin6_port = d->id.idiag_dport;
		memcpy(&f->sin6_addr, d->id.idiag_dst, 16);
		t->sin6_port = d->id.idiag_sport;
		memcpy(&t->sin6_addr, d->id.idiag_src, 16);
		len = sizeof(*f);
	}
	fd = socket(d->idiag_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&from, len) < 0 ||
	    (connect(fd, (struct sockaddr *)&to, len) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return false;
	}
	evictors[(*n)++] = fd;
	return true;
}

struct holders {
	const struct inet_diag_req_v2 *req;
	const uint8_t *local;
	int found;
};

static int count_one(const struct nlmsghdr *h, void *arg)
{
	struct holders *c = arg;
	const struct inet_diag_msg *d = NLMSG_DATA(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*d)))
		return -EBADMSG;
	c->found += (c->req->idiag_states & (1u << d->idiag_state)) && same_local(d, c->local);
	return 0;
}

/* How many sockets in req's states hold local now, or -errno. */
static int count_holders(int nl, const struct inet_diag_req_v2 *req, const uint8_t *local)
{
	struct holders c = { req, local, 0 };
	int r = sock_diag_dump(nl, req, sizeof(*req), count_one, &c);

	return r < 0 ? r : c.found;
}

/* The resets take a moment (softirq): wait until the addresses are free. */
static void evictors_done(int nl, const struct inet_diag_req_v2 *req, const uint8_t *local,
			  int *evictors, size_t n)
{
	for (int tries = 0; n && tries < 50 && count_holders(nl, req, local) > 0; tries++) {
		struct timespec ts = { 0, 2 * 1000000L };

		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < n; i++)
		close(evictors[i]);
}

struct clearing {
	const struct inet_diag_req_v2 *req;
	const uint8_t *local;
	int kill_nl;
	int evictors[MAX_EVICTORS];
	size_t nr_evictors;
	int done;
};

static int clear_one(const struct nlmsghdr *h, void *arg)
{
	struct clearing *cl = arg;
	const struct inet_diag_msg *d = NLMSG_DATA(h);
	struct inet_diag_req_v2 kill_req = *cl->req;
	uint8_t ack[512];

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*d)))
		return -EBADMSG;
	if (d->idiag_state != TCP_TIME_WAIT || !same_local(d, cl->local))
		return 0;
	kill_req.id = d->id;
	if (send_req(cl->kill_nl, SOCK_DESTROY, NLM_F_ACK, &kill_req) == 0 &&
	    recv(cl->kill_nl, ack, sizeof(ack), 0) > 0 && nl_ack_ok(ack)) {
		cl->done++;
		return 0;
	}
	/* No CAP_NET_ADMIN: the reset of a peer of ours ends it. */
	cl->done += evict_by_reset(d, cl->evictors, &cl->nr_evictors);
	return 0;
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
	struct clearing cl = { .req = &req, .local = local, .kill_nl = kill_nl };
	int r;

	if (nl < 0 || kill_nl < 0)
		return neg_errno();
	r = sock_diag_dump(nl, &req, sizeof(req), clear_one, &cl);
	evictors_done(nl, &req, local, cl.evictors, cl.nr_evictors);
	return cl.done ? cl.done : r;
}

static int count_in_states(const uint8_t *local, uint32_t states)
{
	const struct sockaddr *sa = (const void *)local;
	struct inet_diag_req_v2 req = { .sdiag_family = (uint8_t)sa->sa_family,
					.sdiag_protocol = IPPROTO_TCP,
					.idiag_states = states };

	return count_holders(-1, &req, local);
}

int timewait_count(const uint8_t *local)
{
	return count_in_states(local, 1u << TCP_TIME_WAIT);
}

int tcp_live_count(const uint8_t *local)
{
	return count_in_states(local, ~(1u << TCP_TIME_WAIT));
}
