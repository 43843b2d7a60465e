/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of TCP and UDP sockets, IPv4 and IPv6.  A listening socket is
 * its address and backlog.  An established connection is put in repair
 * mode (TCP_REPAIR) through the supervisor's own handle, which freezes it
 * for the kernel too: its sequence numbers, options, window and both queues
 * are read without a packet sent.  The handle stays open in the record so
 * the dump can take the socket out of repair mode (the program goes on) or
 * leave it there (the program is killed: its socket then closes silently,
 * and the peer never sees a FIN or a reset).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/macro.h"

#define QUEUE_MAX (64u << 20)

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

static int collect_established(struct collect_ctx *cx, struct fd_record *f, int h)
{
	_cleanup_close_ int mem = -1;
	struct tcp_info ti;
	struct tcp_repair_window win;
	socklen_t sl;
	int on = TCP_REPAIR_ON, r;

	if (setsockopt(h, SOL_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: TCP_REPAIR", f->fd);
	f->repair_fd = dup(h);
	if (f->repair_fd < 0)
		return neg_errno();
	sl = sizeof(ti);
	if (getsockopt(h, SOL_TCP, TCP_INFO, &ti, &sl) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: TCP_INFO", f->fd);
	f->tcp_options = ti.tcpi_options;
	f->tcp_snd_wscale = ti.tcpi_snd_wscale;
	f->tcp_rcv_wscale = ti.tcpi_rcv_wscale;
	r = get_int(h, SOL_TCP, TCP_MAXSEG, &f->tcp_mss);
	if (r == 0)
		r = get_int(h, SOL_TCP, TCP_TIMESTAMP, &f->tcp_timestamp);
	sl = sizeof(win);
	if (r == 0 && getsockopt(h, SOL_TCP, TCP_REPAIR_WINDOW, &win, &sl) < 0)
		r = neg_errno();
	if (r < 0)
		return collect_fail(cx, r, "fd %d: TCP connection state", f->fd);
	memcpy(f->tcp_window, &win, sizeof(f->tcp_window));
	mem = memfd_create("trace-ckpt-tcpq", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	r = peek_tcp_queue(h, TCP_SEND_QUEUE, SIOCOUTQ, &f->tcp_snd_seq, mem);
	if (r == 0)
		r = peek_tcp_queue(h, TCP_RECV_QUEUE, SIOCINQ, &f->tcp_rcv_seq, mem);
	if (r < 0)
		return collect_fail(cx, r, "fd %d: TCP queues", f->fd);
	f->size = (uint64_t)lseek(mem, 0, SEEK_CUR);
	f->content_fd = TAKE_FD(mem);
	return 0;
}

int collect_inet_socket(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint32_t state = 0;
	int r;

	/* Its command went to another host and is restored there on its own. */
	if (type == SOCK_STREAM && session_is_carried_ssh(cx->s, cx->pid)) {
		f->kind = FD_DEAD_END;
		return 0;
	}
	f->kind = FD_INET;
	f->inet_family = domain;
	f->sock_type = type;
	sl = sizeof(ss);
	if (getsockname(h, (struct sockaddr *)&ss, &sl) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: getsockname", f->fd);
	memcpy(f->inet_local, &ss, MIN((size_t)sl, sizeof(f->inet_local)));
	sl = sizeof(ss);
	if (getpeername(h, (struct sockaddr *)&ss, &sl) == 0)
		memcpy(f->inet_remote, &ss, MIN((size_t)sl, sizeof(f->inet_remote)));
	get_int(h, SOL_SOCKET, SO_REUSEADDR, &f->sock_reuseaddr);
	get_int(h, SOL_SOCKET, SO_KEEPALIVE, &f->sock_keepalive);
	if (domain == AF_INET6)
		get_int(h, IPPROTO_IPV6, IPV6_V6ONLY, &f->sock_v6only);
	get_int(h, SOL_SOCKET, SO_SNDBUF, &f->sock_sndbuf);
	get_int(h, SOL_SOCKET, SO_RCVBUF, &f->sock_rcvbuf);
	if (type == SOCK_DGRAM) {
		int pending = 0;

		/* Their senders' addresses cannot be sent from again: the dump is
		 * tried again once the program has read them (-EAGAIN). */
		if (ioctl(h, SIOCINQ, &pending) == 0 && pending > 0)
			return collect_fail(cx, -EAGAIN, "fd %d: UDP socket with datagrams not read yet",
					    f->fd);
		return 0;
	}
	if (type != SOCK_STREAM)
		return collect_fail(cx, -EOPNOTSUPP, "fd %d: inet socket of type %d", f->fd, type);
	get_int(h, SOL_TCP, TCP_NODELAY, &f->sock_nodelay);
	{
		struct tcp_info ti;

		sl = sizeof(ti);
		if (getsockopt(h, SOL_TCP, TCP_INFO, &ti, &sl) < 0)
			return collect_fail(cx, neg_errno(), "fd %d: TCP_INFO", f->fd);
		state = ti.tcpi_state;
	}
	f->inet_state = state;
	switch (state) {
	case TCP_CLOSE:
		return 0;	/* created, maybe bound, never connected */
	case TCP_LISTEN:
		/* The accept queue is not kept: connections not yet accepted are refused. */
		f->inet_backlog = 128;
		return 0;
	case TCP_ESTABLISHED:
		r = collect_established(cx, f, h);
		return r;
	default:
		return collect_fail(cx, -EOPNOTSUPP, "fd %d: TCP socket in state %u", f->fd, state);
	}
}
