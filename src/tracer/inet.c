/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of TCP and UDP sockets, IPv4 and IPv6.  A listening socket is
 * its address and backlog; a UDP socket, its addresses and the datagrams
 * it has not read.  An established connection is read once the
 * network lock drops what its peer sends, in repair mode (TCP_REPAIR)
 * through the supervisor's own handle: sequence numbers, options, window
 * and both queues, without a packet sent.  The handle stays open in the
 * record so the dump can take the socket out of repair mode (the program
 * goes on) or leave it there (the program is killed: its socket then closes
 * silently, and the peer never sees a FIN or a reset).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/sockq.h"
#include "tracer/collect.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/netlock.h"

#define QUEUE_MAX (64u << 20)
#define UDP_DGRAM_MAX (64u << 10)

static int get_int(int h, int level, int opt, uint32_t *out)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	if (getsockopt(h, level, opt, &v, &sl) < 0)
		return neg_errno();
	*out = (uint32_t)v;
	return 0;
}

/* One queue, peeked in repair mode, appended to mem as [u32 len][bytes]. */
static int peek_tcp_queue(int h, int queue, int ioctl_req, uint32_t *seq, int mem)
{
	_cleanup_free_ uint8_t *buf = NULL;
	int q = queue, len = 0;
	uint32_t len32;
	ssize_t n = 0;
	int r;

	if (setsockopt(h, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0)
		return neg_errno();
	r = get_int(h, SOL_TCP, TCP_QUEUE_SEQ, seq);
	if (r < 0)
		return r;
	if (ioctl(h, ioctl_req, &len) < 0)
		return neg_errno();
	if ((unsigned int)len > QUEUE_MAX)
		return -E2BIG;
	if (len > 0) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		n = recv(h, buf, len, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0)
			return neg_errno();
	}
	len32 = (uint32_t)n;
	r = write_full(mem, &len32, sizeof(len32));
	if (r == 0 && n > 0)
		r = write_full(mem, buf, n);
	return r;
}

/* Everything of an established connection, read in repair mode through our handle h. */
static int read_established(struct fd_record *f, int h)
{
	_cleanup_close_ int mem = -1;
	struct tcp_info ti;
	struct tcp_repair_window win;
	socklen_t sl;
	int on = TCP_REPAIR_ON, r;

	r = tcp_set_repair(h, on);
	if (r < 0)
		return r;
	sl = sizeof(ti);
	if (getsockopt(h, SOL_TCP, TCP_INFO, &ti, &sl) < 0)
		return neg_errno();
	/* A FIN or a reset came in before the lock: the dump is tried again. */
	if (ti.tcpi_state != TCP_ESTABLISHED)
		return -EAGAIN;
	f->inet.tcp_options = ti.tcpi_options;
	f->inet.tcp_snd_wscale = ti.tcpi_snd_wscale;
	f->inet.tcp_rcv_wscale = ti.tcpi_rcv_wscale;
	r = get_int(h, SOL_TCP, TCP_MAXSEG, &f->inet.tcp_mss);
	if (r == 0)
		r = get_int(h, SOL_TCP, TCP_TIMESTAMP, &f->inet.tcp_timestamp);
	sl = sizeof(win);
	if (r == 0 && getsockopt(h, SOL_TCP, TCP_REPAIR_WINDOW, &win, &sl) < 0)
		r = neg_errno();
	if (r < 0)
		return r;
	memcpy(f->inet.tcp_window, &win, sizeof(f->inet.tcp_window));
	mem = memfd_create("trace-ckpt-tcpq", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	r = peek_tcp_queue(h, TCP_SEND_QUEUE, SIOCOUTQ, &f->inet.tcp_snd_seq, mem);
	if (r == 0)
		r = peek_tcp_queue(h, TCP_RECV_QUEUE, SIOCINQ, &f->inet.tcp_rcv_seq, mem);
	if (r < 0)
		return r;
	f->size = (uint64_t)lseek(mem, 0, SEEK_CUR);
	f->content_fd = TAKE_FD(mem);
	return 0;
}

/*
 * Every datagram not read yet, with its sender, peeked (nothing consumed);
 * the restore sends each again from its sender's address.  A datagram of
 * no bytes that was peeked before (by the program or an earlier dump) is
 * passed over by the kernel and not seen here.
 */
static int peek_udp_queue(struct collect_ctx *cx, struct fd_record *f, int h)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int mem = -1;
	socklen_t sl = sizeof(int);
	int old_off = -1, off = 0, pending = 0, r = 0;
	uint64_t total = 0, nr = 0;

	if (ioctl(h, SIOCINQ, &pending) == 0 && pending == 0) {
		struct pollfd pfd = { .fd = h, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0)
			return 0;	/* nothing queued (a first datagram of no bytes polls in) */
	}
	buf = malloc(UDP_DGRAM_MAX);
	if (!buf)
		return -ENOMEM;
	mem = memfd_create("trace-ckpt-udpq", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	/* The peek offset is the socket's own: put back what the program had. */
	getsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, &sl);
	if (setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: UDP socket: SO_PEEK_OFF", f->fd);
	for (;;) {
		struct sockaddr_in6 from;
		struct iovec iov = { buf, UDP_DGRAM_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_name = &from,
				     .msg_namelen = sizeof(from) };
		ssize_t n = recvmsg(h, &mh, MSG_PEEK | MSG_DONTWAIT);
		struct sockq_msg m;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			r = collect_fail(cx, neg_errno(), "fd %d: UDP socket queue", f->fd);
			break;
		}
		if ((mh.msg_flags & MSG_TRUNC) || total + n > QUEUE_MAX) {
			r = collect_fail(cx, -EOPNOTSUPP, "fd %d: UDP socket queue: %s", f->fd,
					 (mh.msg_flags & MSG_TRUNC) ? "a datagram over 64 KiB"
								   : "over 64 MiB");
			break;
		}
		m = (struct sockq_msg){ .data = buf, .len = (uint32_t)n, .from = (uint8_t *)&from,
					.from_len = mh.msg_namelen };
		r = sockq_append(mem, &m, SOCKQ_FROM);
		if (r < 0)
			break;
		total += n;
		nr++;
	}
	setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof(old_off));
	if (r < 0 || !nr)
		return r;
	f->size = (uint64_t)lseek(mem, 0, SEEK_CUR);
	f->content_fd = TAKE_FD(mem);
	f->sock.queue_from = 1;
	return 0;
}

static bool is_connection(const struct fd_record *f)
{
	return f->kind == FD_INET && f->sock.type == SOCK_STREAM &&
	       f->inet.state == TCP_ESTABLISHED && f->inet.repair_fd >= 0 && !f->inet.tcp_drained;
}

/* The computation's connections, each socket once (a shared one has several fds). */
static struct netlock_conn *connections(const struct computation *c, size_t *n, bool killed)
{
	struct netlock_conn *conns;
	size_t total = 0;

	for (size_t i = 0; i < c->nr_procs; i++)
		total += c->procs[i].nr_fds;
	conns = calloc(total ? total : 1, sizeof(*conns));
	if (!conns)
		return NULL;
	*n = 0;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			bool seen = false;

			if (!is_connection(f) || !f->inet.tcp_locked)
				continue;
			/* A killed program's peer outside must meet no reset until the restore. */
			if (killed && fd_record_peer_outside(c, f))
				continue;
			for (size_t m = 0; m < *n && !seen; m++)
				seen = !memcmp(conns[m].local, f->inet.local, sizeof(f->inet.local)) &&
				       !memcmp(conns[m].remote, f->inet.remote, sizeof(f->inet.remote));
			if (!seen)
				conns[(*n)++] = (struct netlock_conn){ f->inet.local, f->inet.remote };
		}
	return conns;
}

int collect_tcp_connections(struct computation *c, const struct tcp_exchange *x, char *err,
			    size_t errlen)
{
	_cleanup_free_ struct netlock_conn *conns = NULL;
	size_t n = 0;

	tcpdrain_pull_peers(c);
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++)
			if (is_connection(&c->procs[i].fds[k]))
				c->procs[i].fds[k].inet.tcp_locked = true;
	conns = connections(c, &n, false);
	if (!conns)
		return -ENOMEM;
	/*
	 * A socket in repair mode still takes in and acknowledges what its peer
	 * sends: the lock comes first, or the peer would count as delivered
	 * bytes the image does not have.
	 */
	if (n)
		netlock_add_many(conns, n);
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			int r;

			if (!is_connection(f))
				continue;
			r = read_established(f, f->inet.repair_fd);
			if (r < 0) {
				struct collect_ctx cx = { .pid = c->procs[i].real_pid, .err = err,
							  .errlen = errlen };

				return collect_fail(&cx, r, "fd %d: TCP connection state", f->fd);
			}
		}
	return tcpdrain_connections(c, x, err, errlen);
}

void release_tcp_connections(struct computation *c, bool killed)
{
	_cleanup_free_ struct netlock_conn *conns = NULL;
	int off = TCP_REPAIR_OFF_NO_WP;
	size_t n = 0;

	tcpdrain_release(c, killed);
	conns = connections(c, &n, killed);
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];

			if (f->inet.repair_fd < 0)
				continue;
			/* A program that goes on gets them back as they were (no window probe). */
			if (!killed && f->inet.tcp_locked &&
			    tcp_set_repair(f->inet.repair_fd, off) < 0)
				log_warn("pid %d fd %d: leaving TCP repair mode: %m",
					 c->procs[i].pid, f->fd);
		}
	if (conns && n)
		netlock_del_many(conns, n);
	/* No memory for one batch: one at a time, a lock left would cut the peer off. */
	for (size_t i = 0; !conns && i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (is_connection(f) && f->inet.tcp_locked &&
			    !(killed && fd_record_peer_outside(c, f)))
				netlock_del(f->inet.local, f->inet.remote);
		}
	/*
	 * Only now: a killed program's sockets close in repair mode, without a
	 * FIN or a reset, and their peers wait for the restore.
	 */
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			c->procs[i].fds[k].inet.tcp_locked = false;
			closep(&c->procs[i].fds[k].inet.repair_fd);
		}
}

int collect_inet_socket(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type,
			uint64_t ino)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint32_t state = 0;

	(void)ino;	/* the family table's signature: unix sockets are found by it */

	/* Its command went to another host and is restored there on its own. */
	if (type == SOCK_STREAM && session_is_carried_ssh(cx->s, cx->pid)) {
		f->kind = FD_DEAD_END;
		return 0;
	}
	f->kind = FD_INET;
	f->inet.family = domain;
	f->sock.type = type;
	sl = sizeof(ss);
	if (getsockname(h, (struct sockaddr *)&ss, &sl) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: getsockname", f->fd);
	memcpy(f->inet.local, &ss, MIN((size_t)sl, sizeof(f->inet.local)));
	sl = sizeof(ss);
	if (getpeername(h, (struct sockaddr *)&ss, &sl) == 0)
		memcpy(f->inet.remote, &ss, MIN((size_t)sl, sizeof(f->inet.remote)));
	get_int(h, SOL_SOCKET, SO_REUSEADDR, &f->sock.reuseaddr);
	get_int(h, SOL_SOCKET, SO_KEEPALIVE, &f->sock.keepalive);
	if (domain == AF_INET6)
		get_int(h, IPPROTO_IPV6, IPV6_V6ONLY, &f->sock.v6only);
	get_int(h, SOL_SOCKET, SO_SNDBUF, &f->sock.sndbuf);
	get_int(h, SOL_SOCKET, SO_RCVBUF, &f->sock.rcvbuf);
	if (type == SOCK_DGRAM)
		return peek_udp_queue(cx, f, h);
	if (type != SOCK_STREAM)
		return collect_refuse(cx, "of IP sockets TCP and UDP are kept, not raw, SCTP or "
				      "others; " CLOSE_IT, "fd %d: inet socket of type %d", f->fd, type);
	get_int(h, SOL_TCP, TCP_NODELAY, &f->sock.nodelay);
	{
		struct tcp_info ti;

		sl = sizeof(ti);
		if (getsockopt(h, SOL_TCP, TCP_INFO, &ti, &sl) < 0)
			return collect_fail(cx, neg_errno(), "fd %d: TCP_INFO", f->fd);
		state = ti.tcpi_state;
	}
	f->inet.state = state;
	/*
	 * Without TCP_REPAIR (or asked to): drained, between processes of the
	 * computation.  So is a connection shut in one direction, which repair
	 * mode cannot rebuild.
	 */
	if ((cx->s->tcp_drain || state != TCP_ESTABLISHED) && state != TCP_CLOSE &&
	    state != TCP_LISTEN)
		return tcpdrain_collect_socket(cx, f, h);
	switch (state) {
	case TCP_CLOSE:
		return 0;	/* created, maybe bound, never connected */
	case TCP_LISTEN:
		/* The accept queue is not kept: connections not yet accepted are refused. */
		f->inet.backlog = 128;
		return 0;
	case TCP_ESTABLISHED:
		if (!cx->s->can_repair_tcp)
			return collect_fail(cx, -EPERM,
					    "fd %d: established TCP connection: keeping it needs "
					    "TCP_REPAIR, that is CAP_NET_ADMIN on the host, which "
					    "trace-ckpt without root does not have (README, "
					    "\"Without root\")", f->fd);
		/* Read once every connection is locked (collect_tcp_connections). */
		f->inet.repair_fd = dup(h);
		return f->inet.repair_fd < 0 ? neg_errno() : 0;
	default:
		return collect_refuse(cx, "a connection being opened or closed; dump again in a "
				      "moment", "fd %d: TCP socket in state %u", f->fd, state);
	}
}
