/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A drained connection is made again the ordinary way, which needs no
 * privilege: one end listens on its old address (the program's own restored
 * listener when it has one on that port, else a listener of ours for the
 * moment), the other binds its old address and connects, and the first
 * accepts.  Nothing of the program runs before the bytes its ends had not
 * read are back in their receive queues, sent by the peer's end.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "restorer/tcpdrain.h"
#include "restorer/timewait.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#define SNDBUF_LOCK 1	/* SOCK_SNDBUF_LOCK */
#define RCVBUF_LOCK 2	/* SOCK_RCVBUF_LOCK */

/* How long a connect may meet the old connection's TIME_WAIT (tcp_tw_reuse_delay). */
#define TIMEWAIT_WAIT_MS 3000
#define REFILL_DEADLINE_MS 2000
/* The most a dump keeps of one queue (tracer/tcpdrain.c). */
#define QUEUE_MAX (64u << 20)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static socklen_t addr_len(uint32_t family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? neg_errno() : 0;
}

/* Same family, port and address (a wildcard in a matches any when any_ok). */
static bool addr_match(const uint8_t *a, const uint8_t *b, bool any_ok)
{
	struct sockaddr_in6 a6, b6;
	struct sockaddr_in a4, b4;

	memcpy(&a6, a, sizeof(a6));
	memcpy(&b6, b, sizeof(b6));
	if (a6.sin6_family != b6.sin6_family)
		return false;
	if (a6.sin6_family == AF_INET6)
		return a6.sin6_port == b6.sin6_port &&
		       (!memcmp(&a6.sin6_addr, &b6.sin6_addr, sizeof(a6.sin6_addr)) ||
			(any_ok && IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr)));
	memcpy(&a4, a, sizeof(a4));
	memcpy(&b4, b, sizeof(b4));
	return a4.sin_port == b4.sin_port &&
	       (a4.sin_addr.s_addr == b4.sin_addr.s_addr ||
		(any_ok && a4.sin_addr.s_addr == htonl(INADDR_ANY)));
}

/* The program's listener that takes connections to local, or NULL. */
static const struct fd_record *listener_for(const struct computation *c, const uint8_t *local)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *l = &c->procs[i].fds[k];

			if (l->kind == FD_INET && l->sock.type == SOCK_STREAM &&
			    l->inet.state == TCP_LISTEN && addr_match(l->inet.local, local, true))
				return l;
		}
	return NULL;
}

/* A socket for end f, its old address free to share with what the old connection left. */
static int new_socket(const struct fd_record *f)
{
	_cleanup_close_ int fd = socket((int)f->inet.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return neg_errno();
	r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r == 0 && f->inet.family == AF_INET6 && f->sock.v6only)
		r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	return r < 0 ? r : TAKE_FD(fd);
}

/* Sizes the program chose itself; others are left to the kernel's tuning. */
static void set_buffers(int fd, const struct fd_record *f)
{
	if ((f->sock.buf_lock & SNDBUF_LOCK) && f->sock.sndbuf)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)f->sock.sndbuf / 2);
	if ((f->sock.buf_lock & RCVBUF_LOCK) && f->sock.rcvbuf)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, (int)f->sock.rcvbuf / 2);
	set_int(fd, SOL_SOCKET, SO_BUF_LOCK, (int)f->sock.buf_lock);
}

static int finish_options(int fd, const struct fd_record *f)
{
	int r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, f->sock.reuseaddr ? 1 : 0);

	if (r == 0)
		r = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, f->sock.keepalive ? 1 : 0);
	if (r == 0)
		r = set_int(fd, IPPROTO_TCP, TCP_NODELAY, f->sock.nodelay ? 1 : 0);
	set_buffers(fd, f);
	return r;
}

/* a's address as a socket of family gets to it (IPv4 and ::ffff:a.b.c.d). */
static socklen_t addr_for_family(const uint8_t *a, uint32_t family, struct sockaddr_storage *out)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;

	memset(out, 0, sizeof(*out));
	memcpy(&a6, a, sizeof(a6));
	memcpy(&a4, a, sizeof(a4));
	if (a6.sin6_family == (sa_family_t)family) {
		memcpy(out, a, addr_len(family));
		return addr_len(family);
	}
	if (family == AF_INET) {	/* from ::ffff:a.b.c.d */
		struct sockaddr_in *o = (void *)out;

		o->sin_family = AF_INET;
		o->sin_port = a6.sin6_port;
		memcpy(&o->sin_addr, (const uint8_t *)&a6.sin6_addr + 12, 4);
		return sizeof(*o);
	}
	{
		struct sockaddr_in6 *o = (void *)out;

		o->sin6_family = AF_INET6;
		o->sin6_port = a4.sin_port;
		o->sin6_addr.s6_addr[10] = o->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&o->sin6_addr.s6_addr[12], &a4.sin_addr, 4);
		return sizeof(*o);
	}
}

static uint16_t port_of(const uint8_t *sa)
{
	struct sockaddr_in6 a6;

	memcpy(&a6, sa, sizeof(a6));
	/* sin_port and sin6_port are at the same place. */
	return ntohs(a6.sin6_port);
}

/*
 * bind() to f's old address; a TIME_WAIT there (the old connection, closed
 * by a program that was not killed by the dump) is ended first when that
 * can be done (timewait_clear), as a restored listener's would be.
 */
static int bind_old(int fd, const struct fd_record *f)
{
	int n;

	if (bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -1;
	n = timewait_clear(f->inet.local);
	log_debug("tcp drain: %d TIME_WAIT on port %u ended", n, port_of(f->inet.local));
	if (n <= 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return bind(fd, (const struct sockaddr *)f->inet.local, addr_len(f->inet.family));
}

/*
 * The old connection left a TIME_WAIT on b's address (its program was not
 * killed by the dump, and closed it), which bind() refuses to share when
 * the old socket had no SO_REUSEADDR.  connect() may take such a port over
 * (tcp_tw_reuse, on loopback): it picks the port itself, from a range of
 * this one port only.
 */
static int new_socket_port_by_connect(const struct fd_record *b)
{
	_cleanup_close_ int fd = new_socket(b);
	uint8_t any_port[28];
	uint32_t range = port_of(b->inet.local) | (uint32_t)port_of(b->inet.local) << 16;
	int r;

	if (fd < 0)
		return fd;
	memcpy(any_port, b->inet.local, sizeof(any_port));
	memset(any_port + 2, 0, 2);	/* the port, in either family */
	r = set_int(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
	if (r == 0 && setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) < 0)
		r = neg_errno();
	if (r == 0 && bind(fd, (const struct sockaddr *)any_port, addr_len(b->inet.family)) < 0)
		r = neg_errno();
	return r < 0 ? r : TAKE_FD(fd);
}

/* b binds its old address and connects to a's. */
static int connect_from(const struct fd_record *b, const struct fd_record *a, int *out,
			const char **step)
{
	_cleanup_close_ int fd = new_socket(b);
	uint64_t deadline = now_ms() + TIMEWAIT_WAIT_MS;
	uint8_t got[28] = { 0 };
	socklen_t sl = sizeof(got), to_len;
	struct sockaddr_storage to;

	if (fd < 0)
		return fd;
	*step = "binding its old address";
	if (bind_old(fd, b) < 0) {
		if (errno != EADDRINUSE)
			return neg_errno();
		closep(&fd);
		fd = new_socket_port_by_connect(b);
		if (fd < 0)
			return fd;
	}
	set_buffers(fd, b);	/* before the handshake: the window scale follows it */
	*step = "connecting";
	/*
	 * The old connection's TIME_WAIT holds these very addresses until the
	 * kernel lets a new connection reuse them, a second after its last
	 * packet (net.ipv4.tcp_tw_reuse_delay).
	 */
	to_len = addr_for_family(a->inet.local, b->inet.family, &to);
	while (connect(fd, (const struct sockaddr *)&to, to_len) < 0) {
		struct timespec ts = { 0, 20 * 1000000L };

		log_debug("tcp drain: connect from port %u to %u: %m", port_of(b->inet.local),
			  port_of(a->inet.local));
		if (errno == EINTR)
			continue;
		if (errno != EADDRNOTAVAIL || now_ms() >= deadline)
			return errno == EADDRNOTAVAIL ? -EADDRINUSE : neg_errno();
		nanosleep(&ts, NULL);
	}
	if (getsockname(fd, (struct sockaddr *)got, &sl) < 0)
		return neg_errno();
	if (!addr_match(got, b->inet.local, false))
		return -EADDRINUSE;
	*out = TAKE_FD(fd);
	return 0;
}

/* The connection from want out of listener lfd's queue (others there are not ours). */
static int accept_from(int lfd, const uint8_t *want, int *out)
{
	uint64_t deadline = now_ms() + REFILL_DEADLINE_MS;

	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		struct sockaddr_storage ss = { 0 };
		socklen_t sl = sizeof(ss);
		uint8_t peer[28] = { 0 };
		int left = (int)(deadline - MIN(deadline, now_ms())), fd;

		if (poll(&pfd, 1, left) <= 0)
			return -ETIMEDOUT;
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return neg_errno();
		memcpy(peer, &ss, MIN((size_t)sl, sizeof(peer)));
		if (inet_same_endpoint(peer, want)) {
			*out = fd;
			return 0;
		}
		log_warn("a connection to a restored listener before the program runs: closed");
		close(fd);
	}
}

static int conn_fail(pid_t pid, const struct fd_record *f, char *err, size_t errlen, int r,
		     const char *step)
{
	char l[INET_ADDR_STR_MAX], p[INET_ADDR_STR_MAX];

	inet_addr_str(f->inet.local, l, sizeof(l));
	inet_addr_str(f->inet.remote, p, sizeof(p));
	snprintf(err, errlen, "pid %d fd %d: TCP connection %s -> %s (drained): %s: %s%s", pid,
		 f->fd, l, p, step, strerror(-r),
		 r == -EADDRINUSE ? " (the port is taken by another socket now)" : "");
	return r;
}

static int read_queue(const struct fd_record *f, uint8_t **buf, uint32_t *len);

/* The image is untrusted: addresses of one of the two families, as the record says. */
static bool family_ok(const struct fd_record *f)
{
	struct sockaddr_in6 l, r;

	memcpy(&l, f->inet.local, sizeof(l));
	memcpy(&r, f->inet.remote, sizeof(r));
	return (f->inet.family == AF_INET || f->inet.family == AF_INET6) &&
	       l.sin6_family == f->inet.family &&
	       (r.sin6_family == AF_INET || r.sin6_family == AF_INET6);
}
static int send_all(int fd, const struct fd_record *sender, const uint8_t *buf, uint32_t len);

/* The record of f's socket that carries its queue (its other fds repeat only the rest). */
static const struct fd_record *with_queue(const struct computation *c, const struct fd_record *f)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_INET && o->desc_id == f->desc_id && o->content)
				return o;
		}
	return f;
}

/* What f had not read, then the FIN: sent by our socket in the closed peer's place. */
static int refill_closed(const struct computation *c, const struct fd_record *f, int peer_fd)
{
	static const struct fd_record no_options = { .kind = FD_INET };
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t len = 0;
	int r = read_queue(with_queue(c, f), &buf, &len);

	if (r == 0)
		r = send_all(peer_fd, &no_options, buf, len);
	/* Closed with the bytes still on their way: the kernel sends them, then the FIN. */
	return r;
}

int tcpdrain_connect(const struct computation *c, const struct desc_table *t, pid_t pid,
		     const struct fd_record *f, const struct fd_record **peer, int *fd,
		     int *peer_fd, char *err, size_t errlen)
{
	const struct fd_record *a = f, *b = fd_record_tcp_peer(c, f), *other, *l;
	_cleanup_close_ int own_listener = -1, afd = -1, bfd = -1;
	const char *step = "its peer";
	struct fd_record closed_peer = { .kind = FD_INET, .sock.type = SOCK_STREAM };
	bool swapped = false;
	int lfd, r;

	if (!family_ok(f) || (b && !family_ok(b)))
		return conn_fail(pid, f, err, errlen, -EBADMSG, "its addresses");
	/* A peer that had closed: a socket of ours in its place, closed again after the bytes. */
	if (!b && f->inet.tcp_peer_gone) {
		struct sockaddr_in6 sa;

		memcpy(&sa, f->inet.remote, sizeof(sa));
		closed_peer.inet.family = sa.sin6_family;
		memcpy(closed_peer.inet.local, f->inet.remote, sizeof(closed_peer.inet.local));
		memcpy(closed_peer.inet.remote, f->inet.local, sizeof(closed_peer.inet.remote));
		b = &closed_peer;
	}
	if (!b)
		return conn_fail(pid, f, err, errlen, -ENOENT, "its peer is not in the image");
	other = b;
	/*
	 * The old connection's TIME_WAIT, on either side, ended while both
	 * addresses are still free: ending it takes a reset from the other
	 * address (timewait_clear without CAP_NET_ADMIN).
	 */
	timewait_clear(f->inet.local);
	timewait_clear(b->inet.local);
	/* The end on a port the program listens on is the accepted one. */
	if (!listener_for(c, a->inet.local) && listener_for(c, b->inet.local)) {
		a = b;
		b = f;
	}
again:
	l = listener_for(c, a->inet.local);
	if (l) {
		step = "the program's listener on its port";
		lfd = descs_lookup(t, l->desc_id);
		if (lfd < 0)
			return conn_fail(pid, f, err, errlen, -ENOENT, step);
	} else {
		step = "listening on its old address";
		own_listener = new_socket(a);
		if (own_listener < 0)
			return conn_fail(pid, f, err, errlen, own_listener, step);
		r = bind_old(own_listener, a) < 0 ? neg_errno() : 0;
		/* The old connection's TIME_WAIT there: this end connects instead. */
		if (r == -EADDRINUSE && !swapped && !listener_for(c, b->inet.local)) {
			closep(&own_listener);
			swapped = true;
			a = a == f ? other : f;
			b = b == f ? other : f;
			goto again;
		}
		if (r == 0 && listen(own_listener, 1) < 0)
			r = neg_errno();
		if (r < 0)
			return conn_fail(pid, f, err, errlen, r, step);
		lfd = own_listener;
	}
	r = connect_from(b, a, &bfd, &step);
	if (r < 0)
		return conn_fail(pid, f, err, errlen, r, step);
	r = accept_from(lfd, b->inet.local, &afd);
	if (r < 0)
		return conn_fail(pid, f, err, errlen, r, "accepting it");
	r = finish_options(afd, a);
	if (r == 0)
		r = finish_options(bfd, b);
	if (r < 0)
		return conn_fail(pid, f, err, errlen, r, "its options");
	*fd = a == f ? TAKE_FD(afd) : TAKE_FD(bfd);
	*peer_fd = a == f ? TAKE_FD(bfd) : TAKE_FD(afd);
	*peer = other;
	if (other == &closed_peer) {
		r = refill_closed(c, f, *peer_fd);
		closep(peer_fd);
		*peer = NULL;
		if (r < 0) {
			closep(fd);
			return conn_fail(pid, f, err, errlen, r, "the bytes it had not read");
		}
	}
	return 0;
}

/*
 * Connections to other hosts.  Every host restores at the same time, each
 * end as the dump decided (inet.tcp_remote): first every accepting end listens
 * (the program's listener, restored already, or one of ours on its old
 * address), then every connecting end connects -- again and again while
 * the other host is not listening yet -- and what comes in is accepted,
 * all in one loop, so that no host waits on another that waits on it.
 */
#define REMOTE_DEADLINE_MS 30000
#define REMOTE_RETRY_MS 50
/* tcp_fin_timeout's TIME_WAIT (60 s), and some. */
#define TIMEWAIT_MAX_MS 70000

struct remote_end {
	const struct fd_record *f;
	pid_t pid;
	int lfd;		/* accepting: the listener it comes in on */
	int fd;			/* connecting: in progress; then the connection */
	uint64_t retry_at;	/* connecting, refused: when to try again */
	bool timewait;		/* connecting: the old connection's TIME_WAIT holds the addresses */
	bool done;
};

static int remote_connect_start(struct remote_end *e)
{
	_cleanup_close_ int fd = new_socket(e->f);
	struct sockaddr_storage to;
	socklen_t to_len;

	if (fd < 0)
		return fd;
	if (bind_old(fd, e->f) < 0) {
		if (errno != EADDRINUSE)
			return neg_errno();
		closep(&fd);
		fd = new_socket_port_by_connect(e->f);
		if (fd < 0)
			return fd;
	}
	set_buffers(fd, e->f);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return neg_errno();
	to_len = addr_for_family(e->f->inet.remote, e->f->inet.family, &to);
	if (connect(fd, (const struct sockaddr *)&to, to_len) < 0 && errno != EINPROGRESS) {
		/* The old connection's TIME_WAIT, or nobody listening yet: again. */
		e->timewait = errno == EADDRNOTAVAIL;
		if (errno == EADDRNOTAVAIL || errno == ECONNREFUSED)
			return -EAGAIN;
		return neg_errno();
	}
	e->timewait = false;
	e->fd = TAKE_FD(fd);
	return 0;
}

/* A connect in progress has ended: 1 connected, 0 to be tried again, or -errno. */
static int remote_connect_end(struct remote_end *e)
{
	uint8_t got[28] = { 0 };
	socklen_t sl = sizeof(int);
	int soerr = 0;

	if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return neg_errno();
	if (soerr == ECONNREFUSED || soerr == ETIMEDOUT || soerr == EHOSTUNREACH ||
	    soerr == ENETUNREACH || soerr == ECONNRESET) {
		closep(&e->fd);
		e->retry_at = now_ms() + REMOTE_RETRY_MS;
		return 0;
	}
	if (soerr)
		return -soerr;
	sl = sizeof(got);
	if (getsockname(e->fd, (struct sockaddr *)got, &sl) < 0)
		return neg_errno();
	if (!addr_match(got, e->f->inet.local, false))
		return -EADDRINUSE;
	e->done = true;
	return 1;
}

/* One connection on listener lfd: to the accepting end it is the other end of. */
static int remote_accept(struct remote_end *ends, size_t n, int lfd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	uint8_t peer[28] = { 0 }, local[28] = { 0 };
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : neg_errno();
	memcpy(peer, &ss, MIN((size_t)sl, sizeof(peer)));
	sl = sizeof(local);
	getsockname(fd, (struct sockaddr *)local, &sl);
	for (size_t i = 0; i < n; i++) {
		struct remote_end *e = &ends[i];

		if (e->done || e->lfd != lfd || !inet_same_endpoint(peer, e->f->inet.remote) ||
		    !inet_same_endpoint(local, e->f->inet.local))
			continue;
		e->fd = fd;
		e->done = true;
		return 1;
	}
	log_warn("a connection to a restored listener before the program runs: closed");
	close(fd);
	return 0;
}

static int remote_listen(const struct computation *c, const struct desc_table *t,
			 struct remote_end *ends, size_t i, int *own, size_t *nr_own)
{
	struct remote_end *e = &ends[i];
	const struct fd_record *l = listener_for(c, e->f->inet.local);
	int fd;

	if (l) {
		e->lfd = descs_lookup(t, l->desc_id);
		return e->lfd < 0 ? -ENOENT : 0;
	}
	/* Several connections accepted on one address share our listener there. */
	for (size_t k = 0; k < i; k++)
		if (ends[k].f->inet.tcp_remote == TCP_REMOTE_ACCEPTS && ends[k].lfd >= 0 &&
		    addr_match(ends[k].f->inet.local, e->f->inet.local, false)) {
			e->lfd = ends[k].lfd;
			return 0;
		}
	fd = new_socket(e->f);
	if (fd < 0)
		return fd;
	if (bind_old(fd, e->f) < 0 || listen(fd, 64) < 0) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	own[(*nr_own)++] = fd;
	e->lfd = fd;
	return 0;
}

static int remote_fail(const struct remote_end *e, char *err, size_t errlen, int r,
		       const char *step)
{
	return conn_fail(e->pid, e->f, err, errlen, r, step);
}

int tcpdrain_connect_remote(const struct computation *c, const struct desc_table *t,
			    struct tcpdrain_made **out, size_t *nr_out, char *err, size_t errlen)
{
	_cleanup_free_ struct remote_end *ends = NULL;
	_cleanup_free_ struct pollfd *pfds = NULL;
	_cleanup_free_ int *own = NULL;
	size_t n = 0, total = 0, nr_own = 0;
	uint64_t start = now_ms(), deadline = start + REMOTE_DEADLINE_MS;
	int r = 0;

	*out = NULL;
	*nr_out = 0;
	for (size_t i = 0; i < c->nr_procs; i++)
		total += c->procs[i].nr_fds;
	ends = calloc(total ? total : 1, sizeof(*ends));
	own = calloc(total ? total : 1, sizeof(*own));
	pfds = calloc(total ? total : 1, sizeof(*pfds));
	if (!ends || !own || !pfds)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			bool seen = false;

			if (f->kind != FD_INET || !f->inet.tcp_drained || !f->inet.tcp_remote)
				continue;
			for (size_t m = 0; m < n && !seen; m++)
				seen = ends[m].f->desc_id == f->desc_id;
			if (seen)
				continue;
			if (!family_ok(f) || f->inet.tcp_remote > TCP_REMOTE_MAX)
				return conn_fail(c->procs[i].pid, f, err, errlen, -EBADMSG,
						 "its addresses");
			ends[n++] = (struct remote_end){ .f = f, .pid = c->procs[i].pid, .lfd = -1,
							 .fd = -1 };
		}
	for (size_t i = 0; i < n && r == 0; i++)
		if (ends[i].f->inet.tcp_remote == TCP_REMOTE_ACCEPTS) {
			r = remote_listen(c, t, ends, i, own, &nr_own);
			if (r < 0)
				remote_fail(&ends[i], err, errlen, r, "listening on its old address");
		}
	for (;;) {
		size_t np = 0, waiting = 0;
		uint64_t now = now_ms();
		int timeout = REMOTE_RETRY_MS;

		for (size_t i = 0; i < n && r == 0; i++) {
			struct remote_end *e = &ends[i];
			bool listed = false;

			if (e->done)
				continue;
			waiting++;
			if (e->f->inet.tcp_remote == TCP_REMOTE_ACCEPTS) {
				for (size_t k = 0; k < np && !listed; k++)
					listed = pfds[k].fd == e->lfd;
				if (!listed)
					pfds[np++] = (struct pollfd){ .fd = e->lfd, .events = POLLIN };
				continue;
			}
			if (e->fd < 0 && now >= e->retry_at) {
				r = remote_connect_start(e);
				if (r == -EAGAIN) {
					e->retry_at = now + REMOTE_RETRY_MS;
					r = 0;
				} else if (r < 0) {
					remote_fail(e, err, errlen, r, "connecting");
				}
			}
			if (e->fd >= 0)
				pfds[np++] = (struct pollfd){ .fd = e->fd, .events = POLLOUT };
		}
		if (r < 0 || !waiting)
			break;
		/*
		 * A TIME_WAIT of the old connection (its program was not killed by
		 * the dump, and closed it) holds the addresses here until it
		 * expires, 60 s after: without CAP_NET_ADMIN nothing ends it sooner.
		 * The peer's host may be waiting for one of its own (its listener's).
		 */
		for (size_t i = 0; i < n && now >= deadline && deadline < start + TIMEWAIT_MAX_MS; i++)
			if (!ends[i].done) {
				deadline = start + TIMEWAIT_MAX_MS;
				log_warn("pid %d fd %d: %s; waiting for it to expire (up to %d s)",
					 ends[i].pid, ends[i].f->fd, ends[i].timewait ?
					 "its old connection's TIME_WAIT holds the address" :
					 "its peer's host has not connected yet, maybe held by a TIME_WAIT",
					 TIMEWAIT_MAX_MS / 1000);
			}
		if (now >= deadline) {
			for (size_t i = 0; i < n; i++)
				if (!ends[i].done) {
					r = remote_fail(&ends[i], err, errlen, -ETIMEDOUT,
							ends[i].timewait ?
							"the old connection's TIME_WAIT still holds its address" :
							ends[i].f->inet.tcp_remote == TCP_REMOTE_ACCEPTS ?
							"its peer's host did not connect again" :
							"its peer's host did not take the connection again");
					break;
				}
			break;
		}
		if (poll(pfds, np, timeout) < 0 && errno != EINTR) {
			r = neg_errno();
			snprintf(err, errlen, "TCP connections to other hosts: poll: %s", strerror(-r));
			break;
		}
		for (size_t k = 0; k < np && r >= 0; k++) {
			if (!pfds[k].revents)
				continue;
			for (size_t i = 0; i < n && r >= 0; i++) {
				struct remote_end *e = &ends[i];

				if (e->done)
					continue;
				if (e->f->inet.tcp_remote == TCP_REMOTE_CONNECTS && e->fd == pfds[k].fd) {
					r = remote_connect_end(e);
					if (r < 0)
						remote_fail(e, err, errlen, r, "connecting");
					break;
				}
				if (e->f->inet.tcp_remote == TCP_REMOTE_ACCEPTS && e->lfd == pfds[k].fd) {
					r = remote_accept(ends, n, e->lfd);
					if (r < 0)
						remote_fail(e, err, errlen, r, "accepting it");
					break;
				}
			}
		}
		if (r > 0)
			r = 0;
	}
	for (size_t i = 0; i < nr_own; i++)
		close(own[i]);
	if (r == 0 && !(*out = calloc(n ? n : 1, sizeof(**out)))) {
		r = -ENOMEM;
		snprintf(err, errlen, "TCP connections to other hosts: %s", strerror(-r));
	}
	for (size_t i = 0; i < n; i++) {
		if (r == 0) {
			r = fcntl(ends[i].fd, F_SETFL, 0) < 0 ? neg_errno()
							      : finish_options(ends[i].fd, ends[i].f);
			if (r < 0)
				remote_fail(&ends[i], err, errlen, r, "its options");
		}
		if (r == 0)
			(*out)[(*nr_out)++] = (struct tcpdrain_made){ ends[i].f, ends[i].pid, ends[i].fd };
		else
			closep(&ends[i].fd);
	}
	if (r == 0 && n)
		log_debug("tcp drain: %zu connections to other hosts made again", n);
	return r;
}

/* The bytes f's end had not read: [u32 0][u32 length][bytes] (tracer/tcpdrain.c);
 * or, its peer on another host, what the peer had not read: [u32 1]... */
static int read_queue(const struct fd_record *f, uint8_t **buf, uint32_t *len)
{
	_cleanup_close_ int src = -1;
	uint64_t off, clen;
	uint32_t hdr[2];
	int r;

	*buf = NULL;
	*len = 0;
	if (!f->content)
		return 0;
	src = fd_content_open(f, &off, &clen);
	if (src < 0)
		return src;
	if (clen < sizeof(hdr))
		return -EBADMSG;
	r = pread_full(src, hdr, sizeof(hdr), (off_t)off);
	if (r < 0)
		return r;
	if (hdr[0] != (f->inet.tcp_remote ? 1u : 0u) || (uint64_t)hdr[1] + sizeof(hdr) > clen ||
	    hdr[1] > QUEUE_MAX)
		return -EBADMSG;
	*buf = malloc(hdr[1] ? hdr[1] : 1);
	if (!*buf)
		return -ENOMEM;
	*len = hdr[1];
	return pread_full(src, *buf, hdr[1], (off_t)(off + sizeof(hdr)));
}

/*
 * Room in our end's send buffer for what the peer's window does not take
 * (the old connection's buffers had grown while running); the kernel's
 * tuning stays on unless the program had fixed the size.
 */
static void grow_sndbuf(int fd, const struct fd_record *f, uint32_t len)
{
	int cur = 0;
	socklen_t sl = sizeof(cur);

	if ((f->sock.buf_lock & SNDBUF_LOCK) ||
	    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl) < 0 || (uint64_t)cur >= 2ull * len)
		return;
	set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)MIN(len, (uint32_t)INT32_MAX / 2));
	set_int(fd, SOL_SOCKET, SO_BUF_LOCK, (int)f->sock.buf_lock);
}

/* Into the receive queue of the peer, through our end: nothing reads it yet. */
static int send_all(int fd, const struct fd_record *sender, const uint8_t *buf, uint32_t len)
{
	int r;

	grow_sndbuf(fd, sender, len);
	r = send_all_within(fd, buf, len, REFILL_DEADLINE_MS);
	/* Not sent in time: the receiver's buffer cannot take it. */
	return r == -ETIMEDOUT ? -ENOBUFS : r;
}

int tcpdrain_refill(const struct computation *c, const struct desc_table *t, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k], *peer;
			_cleanup_free_ uint8_t *buf = NULL;
			uint32_t len;
			int r, sfd;

			/* A closed peer's part was played at connect time. */
			if (f->kind != FD_INET || !f->inet.tcp_drained || !f->content || f->inet.tcp_peer_gone)
				continue;
			/* The peer on another host: what it had not read goes from here. */
			peer = f->inet.tcp_remote ? f : fd_record_tcp_peer(c, f);
			sfd = peer ? descs_lookup(t, peer->desc_id) : -1;
			r = sfd < 0 ? -ENOENT : read_queue(f, &buf, &len);
			if (r == 0)
				r = send_all(sfd, peer, buf, len);
			if (r < 0)
				return conn_fail(c->procs[i].pid, f, err, errlen, r,
						 r == -ENOBUFS ? "the bytes it had not read do not fit in the new connection's buffers"
							       : "the bytes it had not read");
		}
	/* After the bytes: a FIN behind them, and corked ends hold what comes next. */
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd;

			if (f->kind != FD_INET || !f->inet.tcp_drained ||
			    (fd = descs_lookup(t, f->desc_id)) < 0)
				continue;
			if (f->inet.tcp_shut_wr && shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN)
				return conn_fail(c->procs[i].pid, f, err, errlen, neg_errno(),
						 "shutdown(SHUT_WR)");
			if (f->inet.tcp_cork)
				set_int(fd, IPPROTO_TCP, TCP_CORK, 1);
		}
	return 0;
}
