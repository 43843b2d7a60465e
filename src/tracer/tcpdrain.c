/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TCP connections between processes of the computation, kept without
 * TCP_REPAIR (the method of DMTCP): while everything is frozen, the bytes
 * in flight finish their way into the receivers -- the kernel moves them
 * although the processes are stopped -- and what each end has not read
 * goes into the image.  The restore connects the two ends again and sends
 * those bytes once more, from the other end (restorer/tcpdrain.c).
 *
 * A receiver whose buffer is full stops its sender's queue: its bytes are
 * read out through our handle (consumed) until the sender's queue has
 * flowed.  A program that goes on after the dump gets them back before it
 * thaws, sent again from its peer's end, in order and before anything new.
 *
 * "All arrived" is told by the kernel's counters, not by waiting: the
 * sender's bytes acknowledged plus its send queue (everything it ever
 * wrote, its FIN included) equal what the receiver took in.  The side that
 * connected counts its SYN among the bytes acknowledged; its peer's
 * pending ACKs are pushed (TCP_QUICKACK) so that its send queue empties
 * instead.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/pidns.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/sockdiag.h"

/* The states of netinet/tcp.h, whose struct tcp_info lacks the byte counters. */
enum {
	TCP_ESTABLISHED = 1,
	TCP_FIN_WAIT1 = 4,
	TCP_FIN_WAIT2 = 5,
	TCP_CLOSE_WAIT = 8,
};

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif

/* Longest the freeze may wait for the bytes in flight. */
#define DRAIN_DEADLINE_MS 2000
#define DRAIN_QUEUE_MAX (64u << 20)
/* Across hosts the others' freeze and collection are in it too. */
#define DRAIN_REMOTE_DEADLINE_MS 10000

struct drain_end {
	struct fd_record *f;	/* the first record of the socket: it carries the content */
	pid_t pid;		/* in the computation's pid namespace, for messages */
	int h;			/* our handle on the socket */
	size_t peer;		/* the other end, an index */
	bool arrived;		/* everything its peer wrote is in its receive queue */
	bool consumed;		/* bytes were read out of its receive queue */
	int peek_off;		/* the program's SO_PEEK_OFF, -1: none */
	uint8_t *rx;		/* what it had not read */
	size_t rx_len, rx_cap;
	/* Its peer is on another host: the bytes it had not read go there, and
	 * the bytes the peer had not read come here, to be sent again. */
	bool remote;
	bool listens;		/* a listener here takes connections to its address */
	bool tx_done;
	bool tx_consumed;	/* read out of the peer's queue, not only copied */
	bool handed;		/* its bytes went to its peer's host */
	uint8_t *tx;
	size_t tx_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static bool drainable_state(uint32_t state)
{
	return state == TCP_ESTABLISHED || state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 ||
	       state == TCP_CLOSE_WAIT;
}

static void read_options(struct fd_record *f, int h)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	if (getsockopt(h, IPPROTO_TCP, TCP_CORK, &v, &sl) == 0)
		f->inet.tcp_cork = (uint32_t)v;
	sl = sizeof(v);
	v = 0;
	if (getsockopt(h, SOL_SOCKET, SO_BUF_LOCK, &v, &sl) == 0)
		f->sock.buf_lock = (uint32_t)v;
}

int tcpdrain_collect_socket(struct collect_ctx *cx, struct fd_record *f, int h)
{
	if (!drainable_state(f->inet.state))
		return collect_fail(cx, -EOPNOTSUPP, "fd %d: TCP socket in state %u", f->fd,
				    f->inet.state);
	f->inet.tcp_drained = 1;
	read_options(f, h);
	/* Drained once every fd of the computation is known (tcpdrain_connections). */
	f->inet.repair_fd = dup(h);
	return f->inet.repair_fd < 0 ? collect_fail(cx, neg_errno(), "fd %d: dup", f->fd) : 0;
}

void tcpdrain_pull_peers(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind != FD_INET || f->sock.type != SOCK_STREAM || f->inet.tcp_drained ||
			    f->inet.state != TCP_ESTABLISHED || f->inet.repair_fd < 0 ||
			    !fd_record_tcp_peer(c, f))
				continue;
			f->inet.tcp_drained = 1;
			read_options(f, f->inet.repair_fd);
		}
}

static int drain_fail(const struct drain_end *e, char *err, size_t errlen, int r, const char *what)
{
	char l[INET_ADDR_STR_MAX], p[INET_ADDR_STR_MAX];

	inet_addr_str(e->f->inet.local, l, sizeof(l));
	inet_addr_str(e->f->inet.remote, p, sizeof(p));
	snprintf(err, errlen, "pid %d fd %d: TCP connection %s -> %s: %s%s%s", e->pid, e->f->fd, l,
		 p, what, r == -EIO || r == -EOPNOTSUPP || r == -ETIMEDOUT ? "" : ": ",
		 r == -EIO || r == -EOPNOTSUPP || r == -ETIMEDOUT ? "" : strerror(-r));
	return r;
}

static int tcp_info_of(int h, struct tcp_info *ti)
{
	socklen_t sl = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(h, IPPROTO_TCP, TCP_INFO, ti, &sl) < 0 ? neg_errno() : 0;
}

static int queue_len(int h, unsigned long req, uint32_t *len)
{
	int v = 0;

	if (ioctl(h, req, &v) < 0)
		return neg_errno();
	*len = (uint32_t)v;
	return 0;
}

/* Everything the sender s wrote is in r's receive queue, or read out of it. */
static int direction_arrived(const struct drain_end *s, const struct drain_end *r, bool *arrived)
{
	struct tcp_info ts, tr;
	uint32_t outq;
	int e;

	e = queue_len(s->h, SIOCOUTQ, &outq);
	if (e < 0)
		return e;
	if (outq == 0) {
		*arrived = true;
		return 0;
	}
	e = tcp_info_of(s->h, &ts);
	if (e == 0)
		e = tcp_info_of(r->h, &tr);
	if (e < 0)
		return e;
	*arrived = ts.tcpi_bytes_acked + outq == tr.tcpi_bytes_received;
	return 0;
}

/* Urgent data not read yet (a byte out of band): not kept, refused. */
static bool has_urgent(int h)
{
	char b;
	ssize_t n = recv(h, &b, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT);

	/* EAGAIN: announced, its byte not there yet; EINVAL: none (or inline). */
	return n == 1 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

static int rx_reserve(struct drain_end *e, size_t more)
{
	uint8_t *n;
	size_t cap;

	if (e->rx_len + more <= e->rx_cap)
		return 0;
	if (e->rx_len + more > DRAIN_QUEUE_MAX)
		return -E2BIG;
	cap = MAX(e->rx_cap * 2, e->rx_len + more);
	n = realloc(e->rx, cap);
	if (!n)
		return -ENOMEM;
	e->rx = n;
	e->rx_cap = cap;
	return 0;
}

/* Read (and consume) what the receive queue has now. */
static int consume(struct drain_end *e)
{
	for (;;) {
		uint32_t inq;
		ssize_t n;
		int r = queue_len(e->h, SIOCINQ, &inq);

		if (r < 0 || inq == 0)
			return r;
		r = rx_reserve(e, inq);
		if (r < 0)
			return r;
		n = recv(e->h, e->rx + e->rx_len, inq, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return n < 0 ? neg_errno() : 0;
		e->rx_len += n;
		e->consumed = true;
	}
}

/* Copy (nothing consumed) the whole receive queue, after what was consumed. */
static int peek_rest(struct drain_end *e)
{
	uint32_t inq;
	ssize_t n;
	int r = queue_len(e->h, SIOCINQ, &inq);

	if (r < 0 || inq == 0)
		return r;
	if (e->consumed)
		return consume(e);
	r = rx_reserve(e, inq);
	if (r < 0)
		return r;
	n = recv(e->h, e->rx + e->rx_len, inq, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return neg_errno();
	if ((uint32_t)n != inq)
		return -EIO;
	e->rx_len += n;
	return 0;
}

/*
 * Room in the sender's buffer for len more bytes: what the receiver's
 * window does not take waits there, as it did before the drain, but in
 * skbs of another size.  Never smaller than it was; the kernel's own
 * tuning stays on unless the program had fixed the size (SO_BUF_LOCK).
 */
static void grow_sndbuf(int h, size_t len)
{
	int cur = 0, lock = 0, want;
	socklen_t sl = sizeof(cur);

	if (getsockopt(h, SOL_SOCKET, SO_SNDBUF, &cur, &sl) < 0 || (size_t)cur >= 2 * len)
		return;
	sl = sizeof(lock);
	if (getsockopt(h, SOL_SOCKET, SO_BUF_LOCK, &lock, &sl) < 0)
		return;
	want = (int)MIN(len, (size_t)INT32_MAX / 2);
	/* The kernel doubles it, up to net.core.wmem_max twice. */
	setsockopt(h, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	setsockopt(h, SOL_SOCKET, SO_BUF_LOCK, &lock, sizeof(lock));
}

/* Bytes read out go back into e's receive queue, sent again by its peer's end. */
static int refill_original(int peer_h, const uint8_t *buf, size_t len)
{
	grow_sndbuf(peer_h, len);
	return send_all_within(peer_h, buf, len, DRAIN_DEADLINE_MS);
}

static void drain_ends_free(struct drain_end *ends, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ends[i].rx);
		free(ends[i].tx);
		if (ends[i].peek_off >= 0)
			setsockopt(ends[i].h, SOL_SOCKET, SO_PEEK_OFF, &ends[i].peek_off,
				   sizeof(ends[i].peek_off));
	}
	free(ends);
}

/*
 * The peer of f is a connection a listener of the computation has not
 * accepted yet: it has no fd to drain it through, and taking it out of the
 * accept queue could not be undone for a program that goes on.
 */
static bool waits_in_accept_queue(const struct computation *c, const struct fd_record *f,
				  pid_t *pid, int *fd)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *l = &c->procs[i].fds[k];
			struct sockaddr_in6 la, fr;

			if (l->kind != FD_INET || l->sock.type != SOCK_STREAM ||
			    l->inet.state != 10 /* TCP_LISTEN */)
				continue;
			memcpy(&la, l->inet.local, sizeof(la));
			memcpy(&fr, f->inet.remote, sizeof(fr));
			/* sin_port and sin6_port are at the same place. */
			if (la.sin6_port != fr.sin6_port)
				continue;
			*pid = c->procs[i].pid;
			*fd = l->fd;
			return true;
		}
	return false;
}

static void diag_endpoint(uint8_t family, const __be32 *addr, __be16 port, uint8_t *out)
{
	memset(out, 0, 28);
	if (family == AF_INET) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = port };

		memcpy(&a.sin_addr, addr, 4);
		memcpy(out, &a, sizeof(a));
	} else {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = port };

		memcpy(&a.sin6_addr, addr, 16);
		memcpy(out, &a, sizeof(a));
	}
}

/* One TCP socket of this network namespace, as sock_diag tells it. */
struct diag_sock {
	uint8_t src[28], dst[28];
	uint32_t inode;
	uint8_t state;
};

struct diag_socks {
	struct diag_sock **v;
	size_t *n;
};

static int diag_sock_add(const struct nlmsghdr *h, void *arg)
{
	struct diag_socks *ds = arg;
	const struct inet_diag_msg *d = NLMSG_DATA(h);
	struct diag_sock *grown;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*d)))
		return -EBADMSG;
	grown = realloc(*ds->v, (*ds->n + 1) * sizeof(**ds->v));
	if (!grown)
		return -ENOMEM;
	*ds->v = grown;
	diag_endpoint(d->idiag_family, d->id.idiag_src, d->id.idiag_sport, grown[*ds->n].src);
	diag_endpoint(d->idiag_family, d->id.idiag_dst, d->id.idiag_dport, grown[*ds->n].dst);
	grown[*ds->n].inode = d->idiag_inode;
	grown[*ds->n].state = d->idiag_state;
	(*ds->n)++;
	return 0;
}

static int diag_all(uint8_t family, struct diag_sock **v, size_t *n)
{
	const struct inet_diag_req_v2 req = { .sdiag_family = family,
					      .sdiag_protocol = IPPROTO_TCP,
					      .idiag_states = ~0u };
	struct diag_socks ds = { v, n };

	return sock_diag_dump(-1, &req, sizeof(req), diag_sock_add, &ds);
}

/* Whether f's peer is among socks, and whether a process holds it (its inode). */
static void find_peer_socket(const struct diag_sock *socks, size_t n, const struct fd_record *f,
			     bool *found, bool *held)
{
	for (size_t i = 0; i < n; i++)
		if (inet_same_endpoint(socks[i].src, f->inet.remote) &&
		    inet_same_endpoint(socks[i].dst, f->inet.local)) {
			*found = true;
			*held |= socks[i].inode != 0;
		}
}

/*
 * f received its peer's FIN and the peer's socket is held by no process
 * (an orphan closing, or gone): nothing more can come, and no one would
 * read what f sends.  A process outside that only shut its writing still
 * holds its socket: that connection is refused like any other to outside.
 * found: the peer's socket is on this host (its network namespace).
 */
static int peer_closed(const struct fd_record *f, bool found, bool held)
{
	if (held)
		return 0;
	if (f->inet.state == TCP_CLOSE_WAIT)
		return 1;
	/* Closed, its last bytes and FIN still on their way: a moment later. */
	return found && f->inet.state == TCP_ESTABLISHED ? -EAGAIN : 0;
}

/* -EAGAIN: the dump is tried again once the program has had a moment to accept it. */
static int drain_fail_pending(const struct drain_end *e, char *err, size_t errlen, pid_t lpid,
			      int lfd)
{
	char what[160];

	snprintf(what, sizeof(what), "its peer waits in the accept queue of pid %d fd %d, not "
		 "accepted yet: not supported without TCP_REPAIR", lpid, lfd);
	drain_fail(e, err, errlen, -EIO, what);
	return -EAGAIN;
}

/* The drained sockets of c, each once, paired with their peers. */
static int find_ends(struct computation *c, bool remote_ok, struct drain_end **out, size_t *nr,
		     char *err, size_t errlen)
{
	_cleanup_free_ struct diag_sock *socks = NULL;
	struct drain_end *ends;
	size_t total = 0, n = 0, nr_socks = 0;
	bool listed = false;

	for (size_t i = 0; i < c->nr_procs; i++)
		total += c->procs[i].nr_fds;
	ends = calloc(total ? total : 1, sizeof(*ends));
	if (!ends)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			bool seen = false;
			socklen_t sl = sizeof(int);

			if (f->kind != FD_INET || !f->inet.tcp_drained || f->inet.repair_fd < 0)
				continue;
			for (size_t m = 0; m < n && !seen; m++)
				seen = !memcmp(ends[m].f->inet.local, f->inet.local, sizeof(f->inet.local)) &&
				       !memcmp(ends[m].f->inet.remote, f->inet.remote, sizeof(f->inet.remote));
			if (seen)
				continue;
			ends[n] = (struct drain_end){ .f = f, .pid = c->procs[i].pid, .h = f->inet.repair_fd,
						      .peer = SIZE_MAX, .peek_off = -1 };
			/* Our peeks must start at the queue's head, not at the program's offset. */
			if (getsockopt(f->inet.repair_fd, SOL_SOCKET, SO_PEEK_OFF, &ends[n].peek_off, &sl) < 0)
				ends[n].peek_off = -1;
			if (ends[n].peek_off >= 0) {
				int off = -1;

				setsockopt(f->inet.repair_fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
			}
			n++;
		}
	*out = ends;
	*nr = n;
	for (size_t i = 0; i < n; i++) {
		bool found = false, held = false;
		pid_t lp = 0;
		int lfd = -1, closed = 0;

		for (size_t m = 0; m < n && ends[i].peer == SIZE_MAX; m++)
			if (m != i && inet_same_endpoint(ends[m].f->inet.local, ends[i].f->inet.remote) &&
			    inet_same_endpoint(ends[m].f->inet.remote, ends[i].f->inet.local))
				ends[i].peer = m;
		if (ends[i].peer != SIZE_MAX)
			continue;
		/* Not found here: on another host (or in another network namespace).
		 * The host's TCP sockets are listed once, for every such end. */
		if (!listed) {
			listed = true;
			if (diag_all(AF_INET, &socks, &nr_socks) < 0 ||
			    diag_all(AF_INET6, &socks, &nr_socks) < 0)
				nr_socks = 0;
		}
		find_peer_socket(socks, nr_socks, ends[i].f, &found, &held);
		if (found && !held && waits_in_accept_queue(c, ends[i].f, &lp, &lfd))
			return drain_fail_pending(&ends[i], err, errlen, lp, lfd);
		/* Its bytes are all in; the restore plays the closed peer. */
		closed = found || !remote_ok ? peer_closed(ends[i].f, found, held) : 0;
		if (closed == -EAGAIN)
			return drain_fail(&ends[i], err, errlen, -EAGAIN,
					  "its peer closed, its last bytes on their way");
		if (closed > 0) {
			ends[i].f->inet.tcp_peer_gone = 1;
			ends[i].arrived = true;
			continue;
		}
		/* Paired (or found closed) once the other hosts have said what they hold. */
		if (!found && remote_ok) {
			ends[i].remote = true;
			ends[i].arrived = true;	/* not by drain_all */
			continue;
		}
		return drain_fail(&ends[i], err, errlen, -EOPNOTSUPP,
				  "its peer is not in the computation; without TCP_REPAIR "
				  "(CAP_NET_ADMIN on the host) only connections between its "
				  "processes are kept (README, \"Without root\")");
	}
	return 0;
}

/* A sender that shut its writing cannot send again what would be read out. */
static bool may_consume(const struct drain_end *ends, const struct drain_end *e)
{
	return e->peer != SIZE_MAX && !ends[e->peer].f->inet.tcp_shut_wr;
}

static int drain_all(struct drain_end *ends, size_t n, char *err, size_t errlen)
{
	_cleanup_free_ struct pollfd *pfds = calloc(n ? n : 1, sizeof(*pfds));
	uint64_t deadline = now_ms() + DRAIN_DEADLINE_MS;
	int r;

	if (!pfds)
		return -ENOMEM;
	for (unsigned int round = 0;; round++) {
		size_t waiting = 0;

		for (size_t i = 0; i < n; i++) {
			struct drain_end *e = &ends[i];

			if (e->arrived)
				continue;
			/* The sender is stopped: once all there, it stays so. */
			r = direction_arrived(&ends[e->peer], e, &e->arrived);
			if (r < 0)
				return drain_fail(e, err, errlen, r, "its queues");
			if (!e->arrived)
				waiting++;
		}
		if (!waiting)
			return 0;
		if (now_ms() >= deadline) {
			for (size_t i = 0; i < n; i++)
				if (!ends[i].arrived) {
					uint32_t outq = 0;
					char what[160];

					queue_len(ends[ends[i].peer].h, SIOCOUTQ, &outq);
					snprintf(what, sizeof(what),
						 "%u bytes its peer sent did not arrive within %d ms%s",
						 outq, DRAIN_DEADLINE_MS,
						 may_consume(ends, &ends[i]) ? "" :
						 " (its peer had shut its writing: nothing could be read out)");
					return drain_fail(&ends[i], err, errlen, -ETIMEDOUT, what);
				}
		}
		waiting = 0;
		for (size_t i = 0; i < n; i++) {
			struct drain_end *e = &ends[i];
			int one = 1;

			if (e->arrived)
				continue;
			if (has_urgent(e->h))
				return drain_fail(e, err, errlen, -EOPNOTSUPP,
						  "urgent data (MSG_OOB) not read: not supported");
			/* An ACK held back (delayed) is sent now: the sender's queue can empty. */
			setsockopt(e->h, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			/* Still there after that: a full buffer holds the sender back. */
			if (round > 0 && may_consume(ends, e)) {
				r = consume(e);
				if (r < 0)
					return drain_fail(e, err, errlen, r, "reading its receive queue");
			}
			pfds[waiting++] = (struct pollfd){ .fd = e->h, .events = POLLIN };
		}
		if (round > 0)
			poll(pfds, waiting, 1);
	}
}

/* Put back what was read out, before anything else can come. */
static void refill_all(struct drain_end *ends, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct drain_end *e = &ends[i];
		int r;

		/* Its peer's host read them out, and they came here: sent again. */
		if (e->remote && e->tx_consumed && e->tx_len) {
			r = refill_original(e->h, e->tx, e->tx_len);
			if (r < 0)
				log_err("pid %d fd %d: TCP connection to another host: %zu bytes read "
					"out by its peer's host could not be put back: %s", e->pid,
					e->f->fd, e->tx_len, strerror(-r));
			e->tx_consumed = false;
		}
		/* Read out here and not handed over: without TCP_REPAIR they are gone. */
		if (e->remote && e->consumed && e->rx_len && !e->handed)
			log_err("pid %d fd %d: TCP connection to another host: %zu bytes read out "
				"for a checkpoint that failed are lost", e->pid, e->f->fd, e->rx_len);
		if (!e->consumed || e->peer == SIZE_MAX)
			continue;
		r = refill_original(ends[e->peer].h, e->rx, e->rx_len);
		if (r < 0)
			log_err("pid %d fd %d: TCP connection: %zu bytes read out could not be put back: %s",
				  e->pid, e->f->fd, e->rx_len, strerror(-r));
		e->consumed = false;
	}
}

/* A listener of c takes connections to local (its address, or the wildcard). */
static bool listens_on(const struct computation *c, const uint8_t *local)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *l = &c->procs[i].fds[k];
			struct sockaddr_in6 la6, lo6;
			struct sockaddr_in la4, lo4;

			if (l->kind != FD_INET || l->sock.type != SOCK_STREAM ||
			    l->inet.state != 10 /* TCP_LISTEN */)
				continue;
			memcpy(&la6, l->inet.local, sizeof(la6));
			memcpy(&lo6, local, sizeof(lo6));
			if (la6.sin6_port != lo6.sin6_port)
				continue;
			if (la6.sin6_family == AF_INET6 &&
			    (IN6_IS_ADDR_UNSPECIFIED(&la6.sin6_addr) ||
			     (lo6.sin6_family == AF_INET6 &&
			      !memcmp(&la6.sin6_addr, &lo6.sin6_addr, sizeof(la6.sin6_addr)))))
				return true;
			memcpy(&la4, l->inet.local, sizeof(la4));
			memcpy(&lo4, local, sizeof(lo4));
			if (la4.sin_family == AF_INET && lo4.sin_family == AF_INET &&
			    (la4.sin_addr.s_addr == htonl(INADDR_ANY) ||
			     la4.sin_addr.s_addr == lo4.sin_addr.s_addr))
				return true;
		}
	return false;
}

static const struct wire_tcp_end *peer_end(const struct wire_tcp_end *all, size_t n,
					   const struct fd_record *f)
{
	for (size_t i = 0; i < n; i++)
		if (inet_same_endpoint(all[i].local, f->inet.remote) &&
		    inet_same_endpoint(all[i].remote, f->inet.local))
			return &all[i];
	return NULL;
}

/*
 * Every host names its ends; an end whose peer no host has is refused (or,
 * its peer having closed, played by the restore); the end on a listener's
 * port is accepted at restore, else the lower address: both hosts decide
 * alike from the same list.
 */
static int pair_remote(struct computation *c, struct drain_end *ends, size_t n,
		       const struct tcp_exchange *x, char *err, size_t errlen)
{
	_cleanup_free_ struct wire_tcp_end *mine = calloc(n ? n : 1, sizeof(*mine));
	_cleanup_free_ struct wire_tcp_end *all = NULL;
	size_t nm = 0, nr_all = 0;
	int r;

	if (!mine)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!ends[i].remote)
			continue;
		ends[i].listens = listens_on(c, ends[i].f->inet.local);
		memcpy(mine[nm].local, ends[i].f->inet.local, WIRE_ADDR_LEN);
		memcpy(mine[nm].remote, ends[i].f->inet.remote, WIRE_ADDR_LEN);
		mine[nm++].listens = ends[i].listens;
	}
	r = x->ends(x->arg, mine, nm, &all, &nr_all);
	if (r < 0) {
		snprintf(err, errlen, "the TCP connections of the other hosts: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct drain_end *e = &ends[i];
		const struct wire_tcp_end *p;
		bool accepts;

		if (!e->remote)
			continue;
		p = peer_end(all, nr_all, e->f);
		if (!p && e->f->inet.state == TCP_CLOSE_WAIT) {
			e->remote = false;
			e->f->inet.tcp_peer_gone = 1;
			continue;
		}
		if (!p)
			return drain_fail(e, err, errlen, -EOPNOTSUPP,
					  "its peer is on no host of the computation; without "
					  "TCP_REPAIR (CAP_NET_ADMIN on the host) only connections "
					  "between its processes are kept (README, \"Without root\")");
		accepts = e->listens != !!p->listens ? e->listens
						     : memcmp(e->f->inet.local, e->f->inet.remote,
							      WIRE_ADDR_LEN) < 0;
		e->f->inet.tcp_remote = accepts ? TCP_REMOTE_ACCEPTS : TCP_REMOTE_CONNECTS;
	}
	return 0;
}

/* The piece p for one of our ends, appended to what it sends again. */
static int take_piece(struct drain_end *ends, size_t n, const struct tcp_bytes_piece *p,
		      size_t *done, char *err, size_t errlen)
{
	struct drain_end *e = NULL;
	char l[INET_ADDR_STR_MAX], rm[INET_ADDR_STR_MAX];
	uint8_t *grown;

	for (size_t i = 0; i < n && !e; i++)
		if (ends[i].remote && !ends[i].tx_done &&
		    inet_same_endpoint(ends[i].f->inet.local, p->remote) &&
		    inet_same_endpoint(ends[i].f->inet.remote, p->local))
			e = &ends[i];
	if (!e) {
		inet_addr_str(p->local, l, sizeof(l));
		inet_addr_str(p->remote, rm, sizeof(rm));
		snprintf(err, errlen, "bytes from another host for a TCP connection %s -> %s: not "
			 "one of ours", rm, l);
		return -EBADMSG;
	}
	if (e->tx_len + p->len > DRAIN_QUEUE_MAX)
		return drain_fail(e, err, errlen, -E2BIG, "the bytes its peer had not read");
	if (p->len) {
		grown = realloc(e->tx, e->tx_len + p->len);
		if (!grown)
			return -ENOMEM;
		e->tx = grown;
		memcpy(e->tx + e->tx_len, p->data, p->len);
		e->tx_len += p->len;
	}
	/* Read out by the peer's host: a program that goes on needs them again. */
	e->tx_consumed |= !p->peeked && p->len;
	if (p->last) {
		e->tx_done = true;
		(*done)++;
	}
	return 0;
}

/* Pieces that fit a frame with room for the addresses and the MAC. */
#define TCP_PIECE (512u << 10)

/*
 * Our ends' bytes out, the peers' in, a piece at a time both ways, so that
 * the coordinator never holds much for a host that is busy sending.
 */
static int swap_bytes(struct drain_end *ends, size_t n, const struct tcp_exchange *x,
		      uint64_t deadline, char *err, size_t errlen)
{
	size_t expected = 0, done = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		expected += ends[i].remote;
	for (size_t i = 0; i <= n; i++) {
		struct drain_end *e = i < n ? &ends[i] : NULL;
		size_t off = 0;

		if (e && !e->remote)
			continue;
		do {
			struct tcp_bytes_piece p = { 0 };
			int timeout = 0;

			if (e) {
				size_t len = MIN(e->rx_len - off, (size_t)TCP_PIECE);

				p = (struct tcp_bytes_piece){ .data = e->rx + off, .len = len,
							      .last = off + len == e->rx_len,
							      .peeked = !e->consumed };
				memcpy(p.local, e->f->inet.local, WIRE_ADDR_LEN);
				memcpy(p.remote, e->f->inet.remote, WIRE_ADDR_LEN);
				r = x->give(x->arg, &p);
				if (r < 0)
					return drain_fail(e, err, errlen, r,
							  "handing its bytes to its peer's host");
				off += len;
			}
			/* What has come meanwhile; once all ours are out, the rest. */
			for (;;) {
				if (!e) {
					uint64_t now = now_ms();

					if (done == expected)
						break;
					if (now >= deadline) {
						snprintf(err, errlen, "the bytes of the TCP connections "
							 "of the other hosts did not all come within %d ms",
							 DRAIN_REMOTE_DEADLINE_MS);
						return -ETIMEDOUT;
					}
					timeout = (int)(deadline - now);
				}
				r = x->take(x->arg, &p, timeout);
				if (r < 0) {
					snprintf(err, errlen, "the bytes of the TCP connections of the "
						 "other hosts: %s", strerror(-r));
					return r;
				}
				if (r == 0 && e)
					break;
				if (r > 0 && (r = take_piece(ends, n, &p, &done, err, errlen)) < 0)
					return r;
			}
		} while (e && off < e->rx_len);
		if (e)
			e->handed = true;
	}
	return 0;
}

/*
 * Connections to other hosts.  Everything that comes in is read out (it
 * goes to the peer's host, which sends it again) until our own send queues
 * are empty -- taken in by the peers' kernels -- and everybody's are; then
 * the rest, and the bytes change hosts.  An end whose peer had shut its
 * writing (CLOSE_WAIT) has it all already: it is only copied, its peer
 * could not send it again to a program that goes on.
 */
static int drain_remote(struct computation *c, struct drain_end *ends, size_t n,
			const struct tcp_exchange *x, char *err, size_t errlen)
{
	_cleanup_free_ struct pollfd *pfds = calloc(n + 1, sizeof(*pfds));
	uint64_t deadline;
	bool said_sent = false;
	int r;

	if (!pfds)
		return -ENOMEM;
	r = pair_remote(c, ends, n, x, err, errlen);
	if (r < 0)
		return r;
	/* From here on every host is frozen and collected. */
	deadline = now_ms() + DRAIN_REMOTE_DEADLINE_MS;
	/*
	 * Reading goes on after ours are all sent: a peer whose host is not
	 * done yet may still be waiting for room in our receive queues.
	 */
	for (;;) {
		struct drain_end *late = NULL;
		size_t np = 0;

		for (size_t i = 0; i < n; i++) {
			struct drain_end *e = &ends[i];
			uint32_t outq = 0;
			int one = 1;

			if (!e->remote)
				continue;
			if (has_urgent(e->h))
				return drain_fail(e, err, errlen, -EOPNOTSUPP,
						  "urgent data (MSG_OOB) not read: not supported");
			setsockopt(e->h, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			r = e->f->inet.state == TCP_CLOSE_WAIT ? 0 : consume(e);
			if (r == 0)
				r = queue_len(e->h, SIOCOUTQ, &outq);
			if (r < 0)
				return drain_fail(e, err, errlen, r, "its queues");
			if (outq && !late)
				late = e;
			pfds[np++] = (struct pollfd){ .fd = e->h, .events = POLLIN };
		}
		if (!late && !said_sent) {
			r = x->sent(x->arg);
			said_sent = true;
		}
		if (r == 0 && said_sent)
			r = x->arrived(x->arg);
		if (r < 0) {
			snprintf(err, errlen, "the other hosts' TCP connections: %s", strerror(-r));
			return r;
		}
		if (r > 0)
			break;
		if (now_ms() >= deadline) {
			char what[160];
			uint32_t outq = 0;

			if (!late) {
				snprintf(err, errlen, "the other hosts' TCP connections: their bytes "
					 "in flight did not arrive within %d ms", DRAIN_REMOTE_DEADLINE_MS);
				return -ETIMEDOUT;
			}
			queue_len(late->h, SIOCOUTQ, &outq);
			snprintf(what, sizeof(what),
				 "%u bytes it sent were not taken in by its peer's host within %d ms",
				 outq, DRAIN_REMOTE_DEADLINE_MS);
			return drain_fail(late, err, errlen, -ETIMEDOUT, what);
		}
		pfds[np++] = (struct pollfd){ .fd = x->fd, .events = POLLIN };
		poll(pfds, np, 1);
	}
	/* Everything the peers sent is in our queues now. */
	for (size_t i = 0; i < n; i++) {
		struct drain_end *e = &ends[i];

		if (!e->remote)
			continue;
		r = e->f->inet.state == TCP_CLOSE_WAIT ? peek_rest(e) : consume(e);
		if (r < 0)
			return drain_fail(e, err, errlen, r, "reading its receive queue");
	}
	return swap_bytes(ends, n, x, deadline + DRAIN_REMOTE_DEADLINE_MS, err, errlen);
}

/* [u32 1][u32 length][what the peer on another host had not read]: sent again from here. */
static int keep_remote_queue(struct drain_end *e)
{
	_cleanup_close_ int mem = memfd_create("trace-ckpt-tcpdrain", MFD_CLOEXEC);
	uint32_t hdr[2] = { 1, (uint32_t)e->tx_len };
	int r;

	if (mem < 0)
		return neg_errno();
	r = write_full(mem, hdr, sizeof(hdr));
	if (r == 0 && e->tx_len)
		r = write_full(mem, e->tx, e->tx_len);
	if (r < 0)
		return r;
	closep(&e->f->content_fd);
	e->f->size = sizeof(hdr) + e->tx_len;
	e->f->content_fd = TAKE_FD(mem);
	/* What the peer read out: a program that goes on gets it again from here. */
	e->f->inet.tcp_consumed = e->tx_consumed;
	return 0;
}

static int keep_queue(struct drain_end *e)
{
	_cleanup_close_ int mem = memfd_create("trace-ckpt-tcpdrain", MFD_CLOEXEC);
	uint32_t hdr[2] = { 0, (uint32_t)e->rx_len };
	int r;

	if (mem < 0)
		return neg_errno();
	r = write_full(mem, hdr, sizeof(hdr));
	if (r == 0 && e->rx_len)
		r = write_full(mem, e->rx, e->rx_len);
	if (r < 0)
		return r;
	closep(&e->f->content_fd);
	e->f->size = sizeof(hdr) + e->rx_len;
	e->f->content_fd = TAKE_FD(mem);
	e->f->inet.tcp_consumed = e->consumed;
	return 0;
}

/* The half-closed state and the counters of the other records of e's socket. */
static void mark_socket(struct computation *c, const struct drain_end *e, bool shut_wr)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind == FD_INET && f->inet.tcp_drained &&
			    !memcmp(f->inet.local, e->f->inet.local, sizeof(f->inet.local)) &&
			    !memcmp(f->inet.remote, e->f->inet.remote, sizeof(f->inet.remote))) {
				f->inet.tcp_shut_wr = shut_wr;
				f->inet.tcp_peer_gone = e->f->inet.tcp_peer_gone;
			}
		}
}

int tcpdrain_connections(struct computation *c, const struct tcp_exchange *x, char *err,
			 size_t errlen)
{
	struct drain_end *ends = NULL;
	uint64_t t0 = now_ms(), kept = 0, read_out = 0;
	size_t n = 0;
	int r;

	r = find_ends(c, x != NULL, &ends, &n, err, errlen);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct tcp_info ti;

		r = tcp_info_of(ends[i].h, &ti);
		if (r < 0)
			r = drain_fail(&ends[i], err, errlen, r, "TCP_INFO");
		else if (has_urgent(ends[i].h))
			r = drain_fail(&ends[i], err, errlen, -EOPNOTSUPP,
				       "urgent data (MSG_OOB) not read: not supported");
		else
			ends[i].f->inet.tcp_shut_wr = ti.tcpi_state == TCP_FIN_WAIT1 ||
						 ti.tcpi_state == TCP_FIN_WAIT2;
	}
	/*
	 * A corked sender holds back a partial segment for up to 200 ms: it
	 * goes now (as it would have), and the cork is put back before the
	 * program runs again.
	 */
	for (size_t i = 0; r == 0 && i < n; i++)
		if (ends[i].f->inet.tcp_cork)
			setsockopt(ends[i].h, IPPROTO_TCP, TCP_CORK, &(int){ 0 }, sizeof(int));
	if (r == 0)
		r = drain_all(ends, n, err, errlen);
	/* Every host of the checkpoint goes through it, with connections or none. */
	if (r == 0 && x)
		r = drain_remote(c, ends, n, x, err, errlen);
	for (size_t i = 0; i < n; i++)
		if (ends[i].f->inet.tcp_cork)
			setsockopt(ends[i].h, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int));
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct tcp_info ti;

		r = ends[i].remote ? 0 : peek_rest(&ends[i]);
		if (r < 0) {
			r = drain_fail(&ends[i], err, errlen, r, "reading its receive queue");
			break;
		}
		r = tcp_info_of(ends[i].h, &ti);
		if (r == 0 && !drainable_state(ti.tcpi_state))
			r = -EAGAIN;	/* closed meanwhile: tried again */
		if (r < 0) {
			drain_fail(&ends[i], err, errlen, r, "its state changed during the dump");
			break;
		}
		ends[i].f->inet.state = ti.tcpi_state;
		mark_socket(c, &ends[i], ti.tcpi_state == TCP_FIN_WAIT1 || ti.tcpi_state == TCP_FIN_WAIT2);
		r = ends[i].remote ? keep_remote_queue(&ends[i]) : keep_queue(&ends[i]);
		if (r < 0)
			drain_fail(&ends[i], err, errlen, r, "keeping its queue");
		kept += ends[i].remote ? ends[i].tx_len : ends[i].rx_len;
		read_out += ends[i].consumed ? ends[i].rx_len : 0;
	}
	if (r == 0 && n)
		log_debug("tcp drain: %zu sockets, %llu bytes kept (%llu read out) in %llu ms", n,
			  (unsigned long long)kept, (unsigned long long)read_out,
			  (unsigned long long)(now_ms() - t0));
	/* A dump that fails harms nothing: the bytes read out go back at once. */
	if (r < 0) {
		refill_all(ends, n);
		for (size_t i = 0; i < n; i++)
			ends[i].f->inet.tcp_consumed = false;
	}
	drain_ends_free(ends, n);
	return r;
}

void tcpdrain_release(struct computation *c, bool killed)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			const struct fd_record *peer;
			_cleanup_free_ uint8_t *buf = NULL;
			uint32_t len = 0;
			int r;

			if (f->kind != FD_INET || !f->inet.tcp_drained || f->inet.repair_fd < 0)
				continue;
			if (killed) {
				/*
				 * Closed by a reset when the program dies: no FIN and
				 * no TIME_WAIT that could hold the addresses the
				 * restore connects again.
				 */
				struct linger lg = { .l_onoff = 1, .l_linger = 0 };

				setsockopt(f->inet.repair_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				continue;
			}
			if (!f->inet.tcp_consumed)
				continue;
			f->inet.tcp_consumed = false;
			/* Its peer's bytes, on another host: sent again from this end. */
			peer = f->inet.tcp_remote ? f : fd_record_tcp_peer(c, f);
			r = peer && peer->inet.repair_fd >= 0 ? 0 : -ENOENT;
			if (r == 0)
				r = pread_full(f->content_fd, &len, sizeof(len), 4);
			if (r == 0 && !(buf = malloc(len ? len : 1)))
				r = -ENOMEM;
			if (r == 0)
				r = pread_full(f->content_fd, buf, len, 8);
			if (r == 0)
				r = refill_original(peer->inet.repair_fd, buf, len);
			if (r < 0)
				log_err("pid %d fd %d: TCP connection: %u bytes read out could not be put back: %s",
					  c->procs[i].pid, f->fd, len, strerror(-r));
		}
}

/* The socket inode fd of pid is, or 0. */
static uint64_t socket_inode(pid_t pid, const char *fd)
{
	char path[64], link[64];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len <= 0)
		return 0;
	link[len] = '\0';
	return strncmp(link, "socket:[", 8) ? 0 : strtoull(link + 8, NULL, 10);
}

struct held_socket {
	uint64_t inode;
	pid_t pid;
	int fd;
};

static const struct held_socket *held(const struct held_socket *v, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].inode == ino)
			return &v[i];
	return NULL;
}

int tcpdrain_precheck(const pid_t *pids, size_t nr_pids, bool other_hosts, char *err,
		      size_t errlen)
{
	_cleanup_free_ struct diag_sock *socks = NULL;
	_cleanup_free_ struct held_socket *ours = NULL;
	size_t nr_socks = 0, nr_ours = 0, cap = 0;
	int r = diag_all(AF_INET, &socks, &nr_socks);

	if (r == 0)
		r = diag_all(AF_INET6, &socks, &nr_socks);
	if (r < 0)
		return 0;	/* the dump looks again, frozen */
	/* The socket inodes the computation holds. */
	for (size_t i = 0; i < nr_pids; i++) {
		char dir[64];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "/proc/%d/fd", pids[i]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			uint64_t ino = de->d_name[0] == '.' ? 0 : socket_inode(pids[i], de->d_name);

			if (!ino)
				continue;
			if (nr_ours == cap) {
				struct held_socket *grown =
					realloc(ours, (cap = cap ? cap * 2 : 64) * sizeof(*ours));

				if (!grown) {
					closedir(d);
					return -ENOMEM;
				}
				ours = grown;
			}
			ours[nr_ours++] = (struct held_socket){ ino, pids[i], atoi(de->d_name) };
		}
		closedir(d);
	}
	for (size_t i = 0; i < nr_socks; i++) {
		const struct diag_sock *a = &socks[i];
		const struct diag_sock *peer = NULL;
		const struct held_socket *h = held(ours, nr_ours, a->inode);
		char l[INET_ADDR_STR_MAX], p[INET_ADDR_STR_MAX];
		pid_t inner;

		if (!h || !drainable_state(a->state))
			continue;
		for (size_t k = 0; k < nr_socks && !peer; k++)
			if (inet_same_endpoint(socks[k].src, a->dst) &&
			    inet_same_endpoint(socks[k].dst, a->src))
				peer = &socks[k];
		/*
		 * Left to the dump: a peer not on this host (another host's, under
		 * a coordinator), one in an accept queue or closing (no inode),
		 * or one of ours.
		 */
		if ((!peer && other_hosts) || (peer && (!peer->inode || held(ours, nr_ours, peer->inode))))
			continue;
		if (!peer && a->state == TCP_CLOSE_WAIT)
			continue;
		inet_addr_str(a->src, l, sizeof(l));
		inet_addr_str(a->dst, p, sizeof(p));
		/* The pid the program knows itself by. */
		if (pidns_inner_pid(h->pid, &inner) < 0)
			inner = h->pid;
		snprintf(err, errlen, "pid %d fd %d: TCP connection %s -> %s: its peer is not in the "
			 "computation (%s); without TCP_REPAIR (CAP_NET_ADMIN on the host) only "
			 "connections between its processes are kept (README, \"Without root\"); "
			 "refused before anything stopped", inner, h->fd, l, p,
			 peer ? "a process outside it" : "not on this host");
		return -EOPNOTSUPP;
	}
	return 0;
}
