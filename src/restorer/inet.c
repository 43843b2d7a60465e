/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "restorer/inet.h"
#include "restorer/tcpdrain.h"
#include "restorer/timewait.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/netlock.h"

/* The first record of a socket that carries its queue (dup'd fds repeat it). */
static socklen_t addr_len(uint32_t family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static bool addr_set(const uint8_t *a)
{
	static const uint8_t zero[28];

	return memcmp(a, zero, sizeof(zero)) != 0;
}

static bool addr_has_port(const uint8_t *a, uint32_t family)
{
	if (family == AF_INET6)
		return ((const struct sockaddr_in6 *)(const void *)a)->sin6_port != 0;
	return ((const struct sockaddr_in *)(const void *)a)->sin_port != 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? neg_errno() : 0;
}

/* The send and receive queues saved for an established connection. */
struct tcp_queues {
	uint8_t *data[2];
	uint32_t len[2];
};

static void tcp_queues_free(struct tcp_queues *q)
{
	free(q->data[0]);
	free(q->data[1]);
}

static int read_tcp_queues(const struct fd_record *f, struct tcp_queues *q)
{
	_cleanup_close_ int src = -1;
	uint64_t start, len, off = 0;
	int r;

	memset(q, 0, sizeof(*q));
	if (!f->content)
		return 0;
	src = fd_content_open(f, &start, &len);
	if (src < 0)
		return src;
	/* [u32 length][bytes] for the send queue, then the receive queue, within the range. */
	for (int i = 0; i < 2; i++) {
		if (len - off < sizeof(q->len[i]))
			return -EBADMSG;
		r = pread_full(src, &q->len[i], sizeof(q->len[i]), (off_t)(start + off));
		if (r < 0)
			return r;
		off += sizeof(q->len[i]);
		if (q->len[i] > len - off)
			return -EBADMSG;
		q->data[i] = malloc(q->len[i] ? q->len[i] : 1);
		if (!q->data[i])
			return -ENOMEM;
		r = pread_full(src, q->data[i], q->len[i], (off_t)(start + off));
		if (r < 0)
			return r;
		off += q->len[i];
	}
	return 0;
}

/* An established connection, rebuilt in repair mode: no packet leaves until it is whole. */
static int repair_tcp(const struct fd_record *f, int fd)
{
	_cleanup_(tcp_queues_free) struct tcp_queues q = { 0 };
	struct tcp_repair_opt opts[4];
	int nopt = 0, r;

	r = read_tcp_queues(f, &q);
	if (r < 0)
		return r;
	/* Repair mode also forces address reuse: the listener holds the port. */
	r = tcp_set_repair(fd, TCP_REPAIR_ON);
	/*
	 * The saved numbers are past the queued bytes (write_seq, rcv_nxt):
	 * the queues start that much earlier and refilling them moves the
	 * numbers back to where they were.
	 */
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(f->inet.tcp_snd_seq - q.len[0]));
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(f->inet.tcp_rcv_seq - q.len[1]));
	if (r < 0)
		return r;
	if (bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family)) < 0 ||
	    connect(fd, (const struct sockaddr *)f->inet.remote, addr_len(f->inet.family)) < 0)
		return neg_errno();
	opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, f->inet.tcp_mss };
	if (f->inet.tcp_options & TCPI_OPT_WSCALE)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
							f->inet.tcp_snd_wscale | f->inet.tcp_rcv_wscale << 16 };
	if (f->inet.tcp_options & TCPI_OPT_SACK)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (f->inet.tcp_options & TCPI_OPT_TIMESTAMPS)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, nopt * sizeof(opts[0])) < 0)
		return neg_errno();
	if (f->inet.tcp_options & TCPI_OPT_TIMESTAMPS)
		set_int(fd, SOL_TCP, TCP_TIMESTAMP, (int)f->inet.tcp_timestamp);
	/* What was sent but not acknowledged, what arrived but was not read. */
	for (int i = 0; i < 2; i++) {
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, i == 0 ? TCP_SEND_QUEUE : TCP_RECV_QUEUE);
		if (r < 0)
			return r;
		for (uint32_t done = 0; done < q.len[i];) {
			ssize_t n = send(fd, q.data[i] + done, q.len[i] - done, MSG_NOSIGNAL);

			if (n <= 0)
				return n < 0 ? neg_errno() : -EIO;
			done += n;
		}
	}
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, f->inet.tcp_window, sizeof(f->inet.tcp_window)) < 0)
		return neg_errno();
	/* Repair mode ends once every socket exists (inet_repair_done): a probe sent
	 * now to a peer not yet rebuilt would be answered with a reset. */
	return 0;
}

/* Every connection is whole: out of repair mode, each sends its window probe. */
int inet_repair_done(const struct computation *c, const struct desc_table *t)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd, r;

			if (f->kind != FD_INET || f->sock.type != SOCK_STREAM ||
			    f->inet.state != TCP_ESTABLISHED || f->inet.tcp_drained)
				continue;
			fd = descs_lookup(t, f->desc_id);
			if (fd < 0)
				continue;
			/*
			 * The socket exists again: the peer's packets may come in;
			 * unless the peer is a host of ours not restored yet, whose
			 * kernel would answer with a reset: locked until all are.
			 */
			if (fd_record_peer_outside(c, f) && t->hold_netlock)
				netlock_add(f->inet.local, f->inet.remote);
			else if (fd_record_peer_outside(c, f))
				netlock_del(f->inet.local, f->inet.remote);
			r = tcp_set_repair(fd, TCP_REPAIR_OFF);
			if (r == -EINVAL)
				continue;	/* another fd of the same socket did it */
			if (r == 0)
				r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, (int)f->sock.reuseaddr);
			if (r < 0)
				return r;
		}
	return 0;
}

/*
 * Connections of the program that was dumped hold the port in TIME_WAIT,
 * and they had no SO_REUSEADDR (so ours does not help): destroyed with
 * CAP_NET_ADMIN, else waited out (a minute at most after they closed; the
 * other hosts of a restore wait as long for this one).
 */
#define TIMEWAIT_WAIT_MS 65000

static int bind_past_timewait(int fd, const struct fd_record *f)
{
	char where[INET_ADDR_STR_MAX];
	int waited = 0;

	if (timewait_clear(f->inet.local) > 0 &&
	    bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family)) == 0)
		return 0;
	inet_addr_str(f->inet.local, where, sizeof(where));
	while (timewait_count(f->inet.local) > 0 && waited < TIMEWAIT_WAIT_MS) {
		struct timespec ts = { 0, 100 * 1000000L };

		if (!waited)
			log_warn("fd %d: %s is held by the old connections' TIME_WAIT, which only "
				 "CAP_NET_ADMIN could end: waiting for it to expire (up to %d s)",
				 f->fd, where, TIMEWAIT_WAIT_MS / 1000);
		nanosleep(&ts, NULL);
		waited += 100;
		if (bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return neg_errno();
	}
	return -EADDRINUSE;
}

int inet_open(const struct fd_record *f)
{
	_cleanup_close_ int fd = socket((int)f->inet.family, (int)f->sock.type | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return neg_errno();
	if (f->sock.sndbuf)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)f->sock.sndbuf / 2);
	if (f->sock.rcvbuf)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, (int)f->sock.rcvbuf / 2);
	if (f->sock.keepalive)
		set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (f->inet.family == AF_INET6 && f->sock.v6only)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (f->sock.type == SOCK_STREAM && f->sock.nodelay)
		set_int(fd, SOL_TCP, TCP_NODELAY, 1);
	if (f->sock.type == SOCK_STREAM && f->inet.state == TCP_ESTABLISHED) {
		r = repair_tcp(f, fd);
		return r < 0 ? r : TAKE_FD(fd);
	}
	/*
	 * The connections of the program that was dumped may still hold its
	 * port in TIME_WAIT (an ordinary user cannot end them: no
	 * CAP_NET_ADMIN, and their peers may be on other hosts): SO_REUSEADDR
	 * lets a TCP socket bind past them, never past a listener.  The
	 * program's own setting is put back once bound and listening.
	 */
	if (f->sock.reuseaddr || f->sock.type == SOCK_STREAM)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (addr_has_port(f->inet.local, f->inet.family) &&
	    bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family)) < 0) {
		r = neg_errno();
		if (r == -EADDRINUSE && f->sock.type == SOCK_STREAM)
			r = bind_past_timewait(fd, f);
		if (r < 0) {
			char where[INET_ADDR_STR_MAX];

			inet_addr_str(f->inet.local, where, sizeof(where));
			return log_ret(r, "fd %d: binding %s again: %s", f->fd, where, strerror(-r));
		}
	}
	if (f->sock.type == SOCK_STREAM && f->inet.state == TCP_LISTEN &&
	    listen(fd, (int)f->inet.backlog) < 0) {
		r = neg_errno();
		if (r == -EADDRINUSE && timewait_clear(f->inet.local) > 0 &&
		    listen(fd, (int)f->inet.backlog) == 0)
			r = 0;
		if (r < 0)
			return r;
	}
	if (f->sock.type == SOCK_STREAM && !f->sock.reuseaddr)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 0);
	if (f->sock.type == SOCK_DGRAM && addr_set(f->inet.remote) &&
	    connect(fd, (const struct sockaddr *)f->inet.remote, addr_len(f->inet.family)) < 0) {
		char where[INET_ADDR_STR_MAX];

		r = neg_errno();
		inet_addr_str(f->inet.remote, where, sizeof(where));
		return log_ret(r, "fd %d: UDP peer %s again: %s", f->fd, where, strerror(-r));
	}
	return r < 0 ? r : TAKE_FD(fd);
}

int inet_pass(const struct computation *c, const struct fd_record *f)
{
	(void)c;
	return f->inet.state == TCP_LISTEN ? 0 : 1;
}

unsigned int inet_port(const struct fd_record *f)
{
	const struct sockaddr *sa = (const void *)f->inet.local;

	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* Both ends of a drained connection at once, each in the table under its description. */
int inet_open_drained(const struct computation *c, struct desc_table *t, pid_t pid,
			const struct fd_record *f, char *err, size_t errlen)
{
	const struct fd_record *peer = NULL;
	int a = -1, b = -1, r;

	r = tcpdrain_connect(c, t, pid, f, &peer, &a, &b, err, errlen);
	if (r < 0)
		return r;
	r = dup_with_flags(a, f->flags);
	close(a);
	if (r >= 0)
		r = descs_add(t, f->desc_id, r);
	/* No peer: it had closed, and the restore played its part. */
	if (r >= 0 && peer && descs_lookup(t, peer->desc_id) < 0) {
		r = dup_with_flags(b, peer->flags);
		if (r >= 0)
			r = descs_add(t, peer->desc_id, r);
	}
	if (b >= 0)
		close(b);
	if (r < 0)
		snprintf(err, errlen, "pid %d fd %d: TCP connection: %s", pid, f->fd, strerror(-r));
	return r < 0 ? r : 0;
}

/* The drained connections to other hosts, made with their restores. */
int inet_open_remote(const struct computation *c, struct desc_table *t, char *err,
		       size_t errlen)
{
	_cleanup_free_ struct tcpdrain_made *made = NULL;
	size_t n = 0;
	int r = tcpdrain_connect_remote(c, t, &made, &n, err, errlen);

	for (size_t i = 0; i < n; i++) {
		int fd = r < 0 ? -1 : dup_with_flags(made[i].fd, made[i].f->flags);

		close(made[i].fd);
		if (r < 0)
			continue;
		r = fd < 0 ? fd : descs_add(t, made[i].f->desc_id, fd);
		if (r < 0)
			snprintf(err, errlen, "pid %d fd %d: TCP connection: %s", made[i].pid,
				 made[i].f->fd, strerror(-r));
	}
	return r;
}

void inet_quiesce(const struct computation *c, const struct desc_table *t)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd;

			if (f->kind != FD_INET || f->sock.type != SOCK_STREAM ||
			    f->inet.state != TCP_ESTABLISHED || f->inet.tcp_drained ||
			    (fd = descs_lookup(t, f->desc_id)) < 0)
				continue;
			tcp_set_repair(fd, TCP_REPAIR_ON);
		}
}

void inet_unlock_peers(const struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind == FD_INET && f->sock.type == SOCK_STREAM &&
			    f->inet.state == TCP_ESTABLISHED && !f->inet.tcp_drained &&
			    fd_record_peer_outside(c, f))
				netlock_del(f->inet.local, f->inet.remote);
		}
}
