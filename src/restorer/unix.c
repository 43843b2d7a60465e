/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of Unix sockets.  Everything is made by the restoring supervisor
 * before any process exists, in an order that lets sockets reach each other
 * by name: listeners and bound sockets first, then connections (an accepted
 * one by connect() to the restored listener and accept(), so both ends keep
 * their addresses), then the connections a listener had not accepted yet,
 * in their queue's order.  Queued messages are sent again from the peer, or
 * to the socket's name from an unbound socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "proto/fdindex.h"
#include "proto/sockq.h"
#include "restorer/fdtable.h"
#include "restorer/unix.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/unixname.h"

/* The record of socket ino that holds its queue, else its first. */
static const struct fd_record *socket_record(const struct computation *c, uint64_t ino)
{
	const struct fd_ino_entry *e;
	size_t n = fd_index_find(c, FD_UNIX, ino, &e);

	for (size_t i = 0; i < n; i++)
		if (e[i].f->content)
			return e[i].f;
	return n ? e[0].f : NULL;
}

static bool same_name(const struct fd_record *a, const struct fd_record *b)
{
	return a->sock.name_len && a->sock.name_len == b->sock.name_len &&
	       !memcmp(a->sock.name, b->sock.name, a->sock.name_len);
}

/* The listener whose address an accepted socket f carries. */
static const struct fd_record *listener_of(const struct computation *c,
					   const struct fd_record *f)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_UNIX && o->sock.state == TCP_LISTEN &&
			    o->sock.type == f->sock.type && same_name(o, f))
				return o;
		}
	return NULL;
}

int unix_pass(const struct computation *c, const struct fd_record *f)
{
	const struct fd_record *p;

	if (f->kind != FD_UNIX)
		return 1;
	if (f->sock.state == TCP_LISTEN || (!f->sock.peer_ino && f->sock.name_len))
		return 0;
	if (fd_index_pending(c, f->sock.ino))
		return 2;
	if (!f->sock.peer_ino)
		return 1;
	p = socket_record(c, f->sock.peer_ino);
	return p && p->sock.peer_ino != f->sock.ino ? 2 : 1;
}

static socklen_t make_addr(const uint8_t *name, uint32_t len, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	len = MIN(len, (uint32_t)sizeof(sun->sun_path));
	memcpy(sun->sun_path, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static void socket_options(const struct fd_record *f, int fd)
{
	int v;

	if (f->sock.passcred) {
		v = 1;
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v));
	}
	/* The kernel doubles what it is given: give back half of what it said. */
	if (f->sock.sndbuf) {
		v = f->sock.sndbuf / 2;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (f->sock.rcvbuf) {
		v = f->sock.rcvbuf / 2;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
}

/* The socket file's path: the name, or the name in the directory it was bound in. */
static int name_path(const struct fd_record *f, char *path, size_t len)
{
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = "";

	memcpy(name, f->sock.name, MIN((size_t)f->sock.name_len, sizeof(name) - 1));
	if ((size_t)snprintf(path, len, "%s%s%s", name[0] == '/' ? "" : f->sock.dir ? f->sock.dir : ".",
			     name[0] == '/' ? "" : "/", name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* An address that reaches the socket of f from here: a relative name through its directory. */
static int reach_addr(const struct fd_record *f, struct sockaddr_un *sun, socklen_t *sl)
{
	char path[PATH_MAX + 128];
	int r;

	if (!f->sock.name_len)
		return -EDESTADDRREQ;
	if (!f->sock.name[0] || f->sock.name[0] == '/') {
		*sl = make_addr(f->sock.name, f->sock.name_len, sun);
		return 0;
	}
	r = name_path(f, path, sizeof(path));
	if (r < 0)
		return r;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	*sl = make_addr((const uint8_t *)path, (uint32_t)strlen(path) + 1, sun);
	return 0;
}

/*
 * Bind to the saved name.  The file the dump left behind is a stale socket
 * nobody listens on any more: it goes, or bind would fail.
 */
static int bind_name(int fd, const struct fd_record *f)
{
	char path[PATH_MAX + 128];
	struct sockaddr_un sun;
	socklen_t sl = make_addr(f->sock.name, f->sock.name_len, &sun);
	_cleanup_close_ int cwd = -1;
	struct stat st;
	int r = 0;

	if (!f->sock.name[0])
		return bind(fd, (struct sockaddr *)&sun, sl) < 0 ? neg_errno() : 0;
	r = name_path(f, path, sizeof(path));
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (f->sock.name[0] != '/') {
		/* A relative name is bound as it was, from its directory. */
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(f->sock.dir ? f->sock.dir : ".") < 0)
			return neg_errno();
	}
	if (bind(fd, (struct sockaddr *)&sun, sl) < 0)
		r = neg_errno();
	if (cwd >= 0 && fchdir(cwd) < 0 && r == 0)
		r = neg_errno();
	if (r < 0)
		return r;
	if (f->sock.file_mode && chmod(path, f->sock.file_mode) < 0)
		log_warn("unix socket %s: chmod: %m", path);
	if (f->sock.unlinked)
		unlink(path);
	return 0;
}

/* Each queued message of `to`, from its content file. */
static int for_each_message(const struct fd_record *to,
			    int (*send_one)(const struct sockq_msg *, void *), void *arg)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct sockq_msg m;
	size_t len = 0, off = 0;
	int r;

	if (!to->content || !to->content_len)
		return 0;
	r = fd_content_read(to, &buf, &len);
	if (r < 0)
		return r;
	while ((r = sockq_next(buf, len, &off, SOCKQ_FLAGS(to), &m)) > 0) {
		r = send_one(&m, arg);
		if (r < 0)
			return r;
	}
	return r;
}

/* One message from fd, with the files it carries (fds), to a name or its peer. */
static int send_message(int fd, const struct sockq_msg *m, const int *fds, uint32_t nr_fds,
			const struct sockaddr_un *sun, socklen_t sl)
{
	struct iovec iov = { (void *)m->data, m->len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * SOCKQ_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_name = (void *)sun,
			     .msg_namelen = sun ? sl : 0 };

	if (nr_fds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr_fds);
	}
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)m->len)
		return errno ? neg_errno() : -EIO;
	return 0;
}

static int send_connected(const struct sockq_msg *m, void *arg)
{
	return send_message(*(int *)arg, m, NULL, 0, NULL, 0);
}

struct send_to {
	int fd;
	struct sockaddr_un sun;
	socklen_t sl;
};

static int send_to_name(const struct sockq_msg *m, void *arg)
{
	struct send_to *st = arg;

	return send_message(st->fd, m, NULL, 0, &st->sun, st->sl);
}

/*
 * Messages queued for `to` are sent again from its connected peer `from`.
 * Datagrams that carry their senders and messages that carry files wait
 * for unix_refill_deferred(), once every socket and file exists.
 */
static bool refill_deferred(const struct fd_record *to)
{
	return to->sock.queue_from || to->sock.queue_fds;
}

static int refill_from_peer(const struct fd_record *to, int from)
{
	if (refill_deferred(to))
		return 0;
	return for_each_message(to, send_connected, &from);
}

/* An unconnected datagram socket's queue: sent to its name from an unbound socket. */
static int refill_by_name(const struct fd_record *to)
{
	struct send_to st;
	int r;

	if (!to->content || !to->content_len || refill_deferred(to))
		return 0;
	r = reach_addr(to, &st.sun, &st.sl);
	if (r < 0)
		return r == -EDESTADDRREQ ? -EOPNOTSUPP : r;
	st.fd = socket(AF_UNIX, (int)to->sock.type | SOCK_CLOEXEC, 0);
	if (st.fd < 0)
		return neg_errno();
	r = for_each_message(to, send_to_name, &st);
	close(st.fd);
	return r;
}

/* Append (ino, fd) to a list; fd is the list's from then on, even on failure. */
static int made_add(struct unix_made **v, size_t *n, uint64_t ino, int fd)
{
	struct unix_made *nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv) {
		close(fd);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = (struct unix_made){ ino, fd };
	return 0;
}

static int remember(struct unix_state *us, uint64_t ino, int fd)
{
	return made_add(&us->v, &us->n, ino, fd);
}

static int take(struct unix_state *us, uint64_t ino)
{
	for (size_t i = 0; i < us->n; i++) {
		int fd = us->v[i].fd;

		if (us->v[i].ino != ino)
			continue;
		us->v[i] = us->v[--us->n];
		return fd;
	}
	return -1;
}

/* The other end of a widowed socket, kept for its refill. */
static int hold(struct unix_state *us, uint64_t ino, int fd)
{
	return made_add(&us->held, &us->nr_held, ino, fd);
}

static int held_peer(const struct unix_state *us, uint64_t ino)
{
	for (size_t i = 0; i < us->nr_held; i++)
		if (us->held[i].ino == ino)
			return us->held[i].fd;
	return -1;
}

/* A socket, bound if it was, its queue refilled: not connected yet. */
static int open_bound(const struct fd_record *f)
{
	_cleanup_close_ int fd = socket(AF_UNIX, (int)f->sock.type | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return neg_errno();
	socket_options(f, fd);
	if (f->sock.name_len && (r = bind_name(fd, f)) < 0)
		return r;
	if (f->sock.type == SOCK_DGRAM && (r = refill_by_name(f)) < 0)
		return r;
	return TAKE_FD(fd);
}

/* Connect fd to the socket of record to. */
static int connect_to(int fd, const struct fd_record *to)
{
	struct sockaddr_un sun;
	socklen_t sl;
	int r = reach_addr(to, &sun, &sl);

	if (r < 0)
		return r;
	return connect(fd, (struct sockaddr *)&sun, sl) < 0 ? neg_errno() : 0;
}

static int open_listener(const struct fd_record *f)
{
	_cleanup_close_ int fd = open_bound(f);

	if (fd < 0)
		return fd;
	if (listen(fd, f->sock.backlog ? (int)f->sock.backlog : SOMAXCONN) < 0)
		return neg_errno();
	return TAKE_FD(fd);
}

/* Connected to a socket that is not its pair: `to`, or a name outside. */
static int open_connected_to(const struct fd_record *f, const struct fd_record *to)
{
	_cleanup_close_ int fd = open_bound(f);
	int r;

	if (fd < 0)
		return fd;
	if (to) {
		r = connect_to(fd, to);
	} else {
		struct sockaddr_un sun;
		socklen_t sl = make_addr(f->sock.peer_name, f->sock.peer_name_len, &sun);

		r = connect(fd, (struct sockaddr *)&sun, sl) < 0 ? neg_errno() : 0;
	}
	return r < 0 ? r : TAKE_FD(fd);
}

/*
 * Both ends of a connection: accepted from the restored listener when one
 * end carries a listener's address, else a socketpair (datagram ends bound
 * to their names afterwards; an accepted stream end whose listener is gone
 * loses its address).
 */
static int make_pair(const struct computation *c, const struct desc_table *t,
		     const struct fd_record *e[2], int fd[2])
{
	const struct fd_record *l = NULL;
	int srv = -1, r;

	fd[0] = fd[1] = -1;
	if (e[0]->sock.type != SOCK_DGRAM) {
		for (int i = 0; i < 2 && !l; i++)
			if ((l = listener_of(c, e[i])) && descs_lookup(t, l->desc_id) >= 0)
				srv = i;
			else
				l = NULL;
	}
	if (l) {
		int cl = 1 - srv, lfd = descs_lookup(t, l->desc_id), fl;

		fd[cl] = socket(AF_UNIX, (int)e[cl]->sock.type | SOCK_CLOEXEC, 0);
		if (fd[cl] < 0)
			return neg_errno();
		if (e[cl]->sock.name_len && !same_name(e[cl], l) && (r = bind_name(fd[cl], e[cl])) < 0)
			return r;
		if ((r = connect_to(fd[cl], l)) < 0)
			return r;
		fl = fcntl(lfd, F_GETFL);
		fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
		fd[srv] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		r = fd[srv] < 0 ? neg_errno() : 0;
		fcntl(lfd, F_SETFL, fl);
		if (r < 0)
			return r;
	} else {
		if (socketpair(AF_UNIX, (int)e[0]->sock.type | SOCK_CLOEXEC, 0, fd) < 0)
			return neg_errno();
		for (int i = 0; i < 2 && e[0]->sock.type == SOCK_DGRAM; i++)
			if (e[i]->sock.name_len && (r = bind_name(fd[i], e[i])) < 0)
				return r;
	}
	for (int i = 0; i < 2; i++)
		socket_options(e[i], fd[i]);
	r = refill_from_peer(e[0], fd[1]);
	if (r == 0)
		r = refill_from_peer(e[1], fd[0]);
	return r;
}

static int open_pair(const struct computation *c, const struct desc_table *t,
		     const struct fd_record *f, const struct fd_record *p, struct unix_state *us)
{
	const struct fd_record *e[2] = { socket_record(c, f->sock.ino), p };
	int fd[2], r;

	r = make_pair(c, t, e, fd);
	if (r < 0) {
		closep(&fd[0]);
		closep(&fd[1]);
		return r;
	}
	r = remember(us, p->sock.ino, fd[1]);
	if (r < 0) {
		close(fd[0]);
		return r;
	}
	return fd[0];
}

/*
 * A name bound for a sender that is gone or outside the computation, for as
 * long as it sends: a path stays as it was (a stale socket file that was
 * there is not put back), a relative one is bound in a directory of our
 * own.
 */
struct sender_name {
	char path[PATH_MAX];	/* a file to remove afterwards */
	char dir[64];		/* our directory, for a relative name */
};

static void sender_name_clear(struct sender_name *sn)
{
	if (sn->path[0])
		unlink(sn->path);
	if (sn->dir[0])
		rmdir(sn->dir);
	sn->path[0] = sn->dir[0] = '\0';
}

static int bind_sender(int fd, const uint8_t *name, uint32_t len, struct sender_name *sn)
{
	struct sockaddr_un sun;
	socklen_t sl = make_addr(name, len, &sun);
	_cleanup_close_ int cwd = -1;
	char path[sizeof(sun.sun_path) + 1] = "";
	struct stat st;
	int r = 0;

	memset(sn, 0, sizeof(*sn));
	if (!name[0])
		return bind(fd, (struct sockaddr *)&sun, sl) < 0 ? neg_errno() : 0;
	memcpy(path, name, MIN((size_t)len, sizeof(path) - 1));
	if (path[0] == '/') {
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode) || unix_name_bound(name, len) != 0)
				return -EADDRINUSE;
			unlink(path);
		}
		if (bind(fd, (struct sockaddr *)&sun, sl) < 0)
			return neg_errno();
		snprintf(sn->path, sizeof(sn->path), "%s", path);
		return 0;
	}
	snprintf(sn->dir, sizeof(sn->dir), "/tmp/trace-ckpt-sender.XXXXXX");
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || !mkdtemp(sn->dir)) {
		sn->dir[0] = '\0';
		return neg_errno();
	}
	if (chdir(sn->dir) < 0 || bind(fd, (struct sockaddr *)&sun, sl) < 0)
		r = neg_errno();
	if (fchdir(cwd) < 0 && r == 0)
		r = neg_errno();
	if (r == 0)
		snprintf(sn->path, sizeof(sn->path), "%s/%s", sn->dir, path);
	else
		sender_name_clear(sn);
	return r;
}

/*
 * A stream or seqpacket socket whose peer closed: its queue readable, then
 * end of file.  A queue refilled later (unix_refill_deferred) keeps the
 * other end until then.
 */
static int open_widowed(const struct fd_record *f, struct unix_state *us)
{
	int fd[2], r;

	if (socketpair(AF_UNIX, (int)f->sock.type | SOCK_CLOEXEC, 0, fd) < 0)
		return neg_errno();
	socket_options(f, fd[0]);
	if (refill_deferred(f) && f->content_len) {
		r = hold(us, f->sock.ino, fd[1]);
		if (r < 0)
			close(fd[0]);
		return r < 0 ? r : fd[0];
	}
	r = refill_from_peer(f, fd[1]);
	close(fd[1]);
	if (r < 0) {
		close(fd[0]);
		return r;
	}
	return fd[0];
}

/*
 * Every connection listener l had not accepted, connected again in its
 * queue's order; a client that closed its end leaves an accepted socket
 * that reads end of file, as it would have.
 */
static int open_pending(const struct computation *c, const struct desc_table *t,
			const struct fd_record *l, struct unix_state *us)
{
	const uint64_t *v = (const uint64_t *)l->sock.pending;

	if (descs_lookup(t, l->desc_id) < 0)
		return -ENOTCONN;
	for (size_t j = 0; j < l->sock.pending_len / sizeof(*v); j++) {
		const struct fd_record *cl = NULL;
		int fd, r;

		if (v[j])
			cl = socket_record(c, v[j]);
		fd = cl ? open_bound(cl) : socket(AF_UNIX, (int)l->sock.type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return cl ? fd : neg_errno();
		/* Never wait here: a full backlog is an error, not a hang. */
		fcntl(fd, F_SETFL, O_NONBLOCK);
		r = connect_to(fd, l);
		fcntl(fd, F_SETFL, 0);
		if (r < 0 || !cl) {
			close(fd);
			if (r < 0)
				return r;
			continue;
		}
		r = remember(us, cl->sock.ino, fd);
		if (r < 0)
			return r;
	}
	return 0;
}

int unix_open(const struct computation *c, const struct desc_table *t,
	      const struct fd_record *f, struct unix_state *us)
{
	const struct fd_record *p, *l;
	int fd = take(us, f->sock.ino), r;

	if (fd >= 0)
		return fd;
	if (f->sock.state == TCP_LISTEN)
		return open_listener(f);
	l = fd_index_pending(c, f->sock.ino);
	if (l) {
		r = open_pending(c, t, l, us);
		if (r < 0)
			return r;
		fd = take(us, f->sock.ino);
		return fd >= 0 ? fd : -ENOTCONN;
	}
	if (!f->sock.peer_ino) {
		if (f->sock.state == TCP_ESTABLISHED && f->sock.type != SOCK_DGRAM)
			return open_widowed(f, us);
		return open_bound(f);
	}
	p = socket_record(c, f->sock.peer_ino);
	if (p && p->sock.peer_ino == f->sock.ino)
		return open_pair(c, t, f, p, us);
	if (p)
		return open_connected_to(f, p);
	if (f->sock.peer_name_len)
		return open_connected_to(f, NULL);
	return -ENOTCONN;
}

/* The socket of the computation bound to a name, of a type. */
static const struct fd_record *named_socket(const struct computation *c, const uint8_t *name,
					     uint32_t len, uint32_t type)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_UNIX && o->sock.type == type && o->sock.state != TCP_LISTEN &&
			    o->sock.name_len == len && !memcmp(o->sock.name, name, len))
				return o;
		}
	return NULL;
}

static bool sent_by(const struct sockq_msg *m, const struct fd_record *s)
{
	return m->from_len == s->sock.name_len && (!m->from_len || !memcmp(m->from, s->sock.name,
									    m->from_len));
}

struct deferred_refill {
	const struct computation *c;
	const struct process_record *proc;	/* whose in-flight records the fd numbers name */
	const struct desc_table *t;
	const struct fd_record *to, *peer;
	int peer_fd;		/* the other end: of a pair, or held for a widowed socket; -1 */
	bool widowed, widowed_named;	/* widowed_named: its name was tried */
	struct sender_name widowed_name;	/* the name the widowed end took */
	struct send_to dst;	/* to's name; dst.sl 0: it has none */
	int unbound;		/* an unbound socket of ours, made on first use */
	char *err;
	size_t errlen;
};

/* The files a message carries, as the restorer's fds on their descriptions. */
static int resolve_fds(const struct deferred_refill *d, const struct sockq_msg *m, int *fds)
{
	for (uint32_t i = 0; i < m->nr_fds; i++) {
		uint32_t num;

		memcpy(&num, m->fds + 4 * i, 4);
		fds[i] = -1;
		for (size_t k = 0; k < d->proc->nr_fds && fds[i] < 0; k++)
			if (d->proc->fds[k].in_flight && (uint32_t)d->proc->fds[k].fd == num)
				fds[i] = descs_lookup(d->t, d->proc->fds[k].desc_id);
		if (fds[i] < 0) {
			snprintf(d->err, d->errlen, "a message carries file %u, which is not in the image",
				 num);
			return -EBADMSG;
		}
	}
	return 0;
}

static int refill_one(const struct sockq_msg *m, void *arg)
{
	struct deferred_refill *d = arg;
	const struct fd_record *s;
	int fds[SOCKQ_FDS_MAX];
	struct sender_name sn;
	int fd, r;

	r = resolve_fds(d, m, fds);
	if (r < 0)
		return r;
	if (d->widowed) {
		/*
		 * The closed peer's name, if it had one, comes back for its
		 * messages; not one a socket of ours holds (an accepted end
		 * carries its listener's), nor one that cannot be bound any more.
		 */
		if (m->from_len && !d->widowed_named &&
		    !computation_holds_unix_name(d->c, m->from, m->from_len)) {
			r = bind_sender(d->peer_fd, m->from, m->from_len,
					&d->widowed_name);
			if (r < 0 && r != -EINVAL)
				log_warn("unix socket %s%.*s: the closed peer's name cannot be bound "
					 "again (%s): its messages come from no name",
					 m->from[0] ? "" : "@", (int)m->from_len - !m->from[0],
					 (const char *)m->from + !m->from[0], strerror(-r));
		}
		d->widowed_named = true;
		return send_message(d->peer_fd, m, fds, m->nr_fds, NULL, 0);
	}
	if (d->peer_fd >= 0 && (d->to->sock.type != SOCK_DGRAM || sent_by(m, d->peer)))
		return send_message(d->peer_fd, m, fds, m->nr_fds, NULL, 0);
	if (!d->dst.sl) {
		snprintf(d->err, d->errlen, "a datagram from %s%.*s: the socket has no name to send it to",
			 m->from_len ? "" : "an unbound socket", (int)m->from_len,
			 m->from_len ? (const char *)m->from : "");
		return -EOPNOTSUPP;
	}
	if (!m->from_len) {
		if (d->unbound < 0)
			d->unbound = socket(AF_UNIX, (int)d->to->sock.type | SOCK_CLOEXEC, 0);
		if (d->unbound < 0)
			return neg_errno();
		return send_message(d->unbound, m, fds, m->nr_fds, &d->dst.sun, d->dst.sl);
	}
	s = named_socket(d->c, m->from, m->from_len, d->to->sock.type);
	fd = s ? descs_lookup(d->t, s->desc_id) : -1;
	if (fd >= 0)
		return send_message(fd, m, fds, m->nr_fds, &d->dst.sun, d->dst.sl);
	/* Its sender is gone or outside: a socket of ours takes its name for a moment. */
	fd = socket(AF_UNIX, (int)d->to->sock.type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return neg_errno();
	r = bind_sender(fd, m->from, m->from_len, &sn);
	if (r == -ENOENT) {
		/* Its directory is gone too: the datagram comes from no name. */
		log_warn("unix socket: a datagram from %.*s, whose directory is gone, comes from no name",
			 (int)m->from_len, (const char *)m->from);
		close(fd);
		if (d->unbound < 0)
			d->unbound = socket(AF_UNIX, (int)d->to->sock.type | SOCK_CLOEXEC, 0);
		if (d->unbound < 0)
			return neg_errno();
		return send_message(d->unbound, m, fds, m->nr_fds, &d->dst.sun, d->dst.sl);
	}
	if (r < 0) {
		bool abstract = !m->from[0];

		snprintf(d->err, d->errlen, "a datagram from %s%.*s: binding its name: %s",
			 abstract ? "@" : "", (int)m->from_len - abstract,
			 (const char *)m->from + abstract, strerror(-r));
		close(fd);
		return r;
	}
	r = send_message(fd, m, fds, m->nr_fds, &d->dst.sun, d->dst.sl);
	close(fd);
	sender_name_clear(&sn);
	return r;
}

int unix_refill_deferred(const struct computation *c, const struct desc_table *t,
			 struct unix_state *us, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			struct deferred_refill d = { .c = c, .proc = &c->procs[i], .t = t, .to = f,
						     .peer_fd = -1, .unbound = -1, .err = err,
						     .errlen = errlen };
			int r;

			if (f->kind != FD_UNIX || !refill_deferred(f) || !f->content_len ||
			    socket_record(c, f->sock.ino) != f)
				continue;	/* nothing waits, or a repeat of the socket */
			if (!f->sock.peer_ino && f->sock.state == TCP_ESTABLISHED &&
			    f->sock.type != SOCK_DGRAM) {
				d.widowed = true;
				d.peer_fd = held_peer(us, f->sock.ino);
				if (d.peer_fd < 0)
					continue;
			} else if (f->sock.peer_ino && (d.peer = socket_record(c, f->sock.peer_ino)) &&
				   d.peer->sock.peer_ino == f->sock.ino) {
				d.peer_fd = descs_lookup(t, d.peer->desc_id);
			}
			if (f->sock.name_len && reach_addr(f, &d.dst.sun, &d.dst.sl) < 0)
				d.dst.sl = 0;
			err[0] = '\0';
			r = for_each_message(f, refill_one, &d);
			closep(&d.unbound);
			sender_name_clear(&d.widowed_name);
			if (r < 0) {
				char what[256];

				snprintf(what, sizeof(what), "%s", err);
				snprintf(err, errlen, "pid %d fd %d: unix socket queue: %s", c->procs[i].pid,
					 f->fd, what[0] ? what : strerror(-r));
				return r;
			}
		}
	return 0;
}

void unix_state_clear(struct unix_state *us)
{
	for (size_t i = 0; i < us->n; i++)
		close(us->v[i].fd);
	for (size_t i = 0; i < us->nr_held; i++)
		close(us->held[i].fd);
	free(us->v);
	free(us->held);
	us->v = us->held = NULL;
	us->n = us->nr_held = 0;
}
