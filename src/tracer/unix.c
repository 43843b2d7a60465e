/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of Unix sockets.  The supervisor takes its own handle on the
 * socket (pidfd_getfd), asks sock_diag for its peer and name, and peeks
 * the queued messages: nothing is consumed.  Connected pairs whose both
 * ends are in the computation are supported (socketpair(), the usual IPC of
 * forked workers), and so are sockets bound to a path or an abstract name,
 * listeners with the connections they have not accepted yet, and datagram
 * sockets connected by name to a socket outside.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <stddef.h>
#include <unistd.h>

#include "proto/sockq.h"
#include "tracer/collect.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/sockdiag.h"
#include "util/unixname.h"

#define PEEK_MAX (4u << 20)
#define SCM_PIDFD_TYPE 0x04	/* SCM_PIDFD, not in older headers */
#define MAX_PENDING 4096

struct unix_diag_info {
	uint32_t ino;
	uint32_t state, peer;
	bool named;
	uint32_t name_len;	/* bytes of name, as bound (abstract: leading NUL) */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	uint32_t vfs_ino;	/* the socket file's inode, for names in the filesystem */
	uint32_t rqueue, wqueue;	/* listener: pending, backlog; else queued bytes */
	uint32_t *icons;	/* listener: connections not accepted yet */
	size_t nr_icons;
};

static void unix_diag_info_clear(struct unix_diag_info *di)
{
	free(di->icons);
	di->icons = NULL;
}

static void parse_unix_diag(const struct nlmsghdr *h, struct unix_diag_info *out)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct rtattr *a = (struct rtattr *)(m + 1);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

	out->ino = m->udiag_ino;
	out->state = m->udiag_state;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t l = RTA_PAYLOAD(a);

		switch (a->rta_type) {
		case UNIX_DIAG_PEER:
			if (l >= 4)
				memcpy(&out->peer, RTA_DATA(a), 4);
			break;
		case UNIX_DIAG_NAME:
			l = MIN(l, sizeof(out->name) - 1);
			memcpy(out->name, RTA_DATA(a), l);
			out->name[l] = '\0';
			out->name_len = (uint32_t)l;
			out->named = true;
			break;
		case UNIX_DIAG_VFS:
			if (l >= sizeof(struct unix_diag_vfs))
				out->vfs_ino = ((struct unix_diag_vfs *)RTA_DATA(a))->udiag_vfs_ino;
			break;
		case UNIX_DIAG_RQLEN:
			if (l >= sizeof(struct unix_diag_rqlen)) {
				struct unix_diag_rqlen *q = RTA_DATA(a);

				out->rqueue = q->udiag_rqueue;
				out->wqueue = q->udiag_wqueue;
			}
			break;
		case UNIX_DIAG_ICONS:
			free(out->icons);
			out->nr_icons = MIN(l / 4, (size_t)MAX_PENDING);
			out->icons = malloc(out->nr_icons * 4 + 1);
			if (out->icons)
				memcpy(out->icons, RTA_DATA(a), out->nr_icons * 4);
			else
				out->nr_icons = 0;
			break;
		}
	}
}

#define UNIX_DIAG_SHOW (UDIAG_SHOW_PEER | UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN | \
			UDIAG_SHOW_ICONS)

/* One socket by inode: the kernel looks through every unix socket for it. */
static int diag_unix_one(uint64_t ino, struct unix_diag_info *out)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			 .udiag_show = UNIX_DIAG_SHOW, .udiag_cookie = { ~0u, ~0u } },
	};
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_cleanup_free_ uint8_t *buf = malloc(65536);
	struct nlmsghdr *h;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (nl < 0)
		return neg_errno();
	if (!buf)
		return -ENOMEM;
	if (send(nl, &msg, sizeof(msg), 0) < 0)
		return neg_errno();
	n = recv(nl, buf, 65536, 0);
	if (n < 0)
		return neg_errno();
	h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, (size_t)n))
		return -EBADMSG;
	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error ? e->error : -ENOENT;
	}
	parse_unix_diag(h, out);
	return 0;
}

/* Every unix socket of our network namespace, as one dump saw them; sorted by inode. */
struct unix_diag_table {
	struct unix_diag_info *v;
	size_t n;
};

void unix_diag_table_free(struct unix_diag_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		unix_diag_info_clear(&t->v[i]);
	free(t->v);
	free(t);
}

static int cmp_diag_ino(const void *a, const void *b)
{
	const struct unix_diag_info *x = a, *y = b;

	return (x->ino > y->ino) - (x->ino < y->ino);
}

struct diag_table_fill {
	struct unix_diag_table *t;
	size_t cap;
};

static int diag_table_add(const struct nlmsghdr *h, void *arg)
{
	struct diag_table_fill *f = arg;
	struct unix_diag_table *t = f->t;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
		return -EBADMSG;
	if (t->n == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 256;
		struct unix_diag_info *v = realloc(t->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		f->cap = ncap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	parse_unix_diag(h, &t->v[t->n++]);
	return 0;
}

/*
 * One dump for all: asked one at a time, each socket costs a netlink round
 * trip and the kernel a walk over every unix socket, n * n for thousands.
 * The program is frozen, so what it holds does not change meanwhile.
 */
static int unix_diag_table_load(struct unix_diag_table **out)
{
	const struct unix_diag_req req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u,
					   .udiag_show = UNIX_DIAG_SHOW };
	struct diag_table_fill f = { .t = calloc(1, sizeof(*f.t)) };
	int r;

	if (!f.t)
		return -ENOMEM;
	r = sock_diag_dump(-1, &req, sizeof(req), diag_table_add, &f);
	if (r < 0) {
		unix_diag_table_free(f.t);
		return r;
	}
	if (f.t->n)
		qsort(f.t->v, f.t->n, sizeof(*f.t->v), cmp_diag_ino);
	*out = f.t;
	return 0;
}

/*
 * What sock_diag says of socket ino (out is the caller's to clear): from
 * this dump's table when it has one, else asked alone.  A socket the table
 * does not have (made since?) is asked alone too.
 */
static int diag_unix(struct collect_ctx *cx, uint64_t ino, struct unix_diag_info *out)
{
	const struct unix_diag_info key = { .ino = (uint32_t)ino }, *hit = NULL;

	if (cx && cx->unix_diag && !*cx->unix_diag && unix_diag_table_load(cx->unix_diag) < 0)
		cx->unix_diag = NULL;	/* asked one at a time, then */
	if (cx && cx->unix_diag && (*cx->unix_diag)->n && ino <= UINT32_MAX)
		hit = bsearch(&key, (*cx->unix_diag)->v, (*cx->unix_diag)->n, sizeof(key),
			      cmp_diag_ino);
	if (!hit)
		return diag_unix_one(ino, out);
	*out = *hit;
	out->icons = NULL;
	if (hit->nr_icons) {
		out->icons = malloc(hit->nr_icons * sizeof(*out->icons));
		if (!out->icons)
			return -ENOMEM;
		memcpy(out->icons, hit->icons, hit->nr_icons * sizeof(*out->icons));
	}
	return 0;
}

/* "@name" for an abstract name, the path otherwise: for messages. */
static const char *printable_name(const struct unix_diag_info *di)
{
	return di->name[0] ? di->name : di->name + 1;
}

/* Rewrite the records written so far (size bytes of *mem) from one format to another. */
static int reencode(int *mem, uint64_t size, unsigned int from, unsigned int to)
{
	_cleanup_free_ uint8_t *buf = malloc(size ? size : 1);
	_cleanup_close_ int out = memfd_create("trace-ckpt-sockq", MFD_CLOEXEC);
	struct sockq_msg m;
	size_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	if (out < 0)
		return neg_errno();
	r = pread_full(*mem, buf, size, 0);
	while (r == 0 && (r = sockq_next(buf, size, &off, from, &m)) > 0)
		r = sockq_append(out, &m, to);
	if (r < 0)
		return r;
	closep(mem);
	*mem = TAKE_FD(out);
	return 0;
}

static bool has_creds(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
			return true;
	return false;
}

/* The fds a peeked message carries, kept as files in flight; nums: their fd numbers. */
static int keep_passed_fds(struct collect_ctx *cx, struct fd_record *f, struct msghdr *mh,
			   uint32_t *nums, uint32_t *nr)
{
	int r = 0;

	*nr = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		/* A pidfd the program asked for (SO_PASSPIDFD) came to us too: not kept. */
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PIDFD_TYPE &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			close(fds[0]);
			continue;
		}
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < nfds; k++) {
			int e;

			if (r < 0 || *nr == SOCKQ_FDS_MAX) {
				close(fds[k]);
				continue;
			}
			e = collect_keep_in_flight(cx, fds[k], &nums[*nr]);
			if (e == 0)
				(*nr)++;
			else
				r = collect_fail(cx, e, "fd %d: unix socket with fds in flight (SCM_RIGHTS)%s",
						 f->fd, e == -EOPNOTSUPP
						 ? ": a socket in its own queue, or too many" : "");
		}
	}
	if (r == 0 && (mh->msg_flags & MSG_CTRUNC))
		r = collect_fail(cx, -EOPNOTSUPP, "fd %d: unix socket: a message with over %d fds",
				 f->fd, SOCKQ_FDS_MAX);
	return r;
}

/*
 * Every queued message, peeked: a stream's bytes as one record per run of
 * bytes the kernel hands over at once, each datagram as its own with its
 * sender's name, with the fds each carries (kept as files in flight), into
 * a memfd (proto/sockq.h).
 */
static int peek_queue(struct collect_ctx *cx, struct fd_record *f, int h)
{
	_cleanup_free_ uint8_t *buf = malloc(PEEK_MAX);
	const size_t cbuf_len = CMSG_SPACE(sizeof(int) * SOCKQ_FDS_MAX) +
				CMSG_SPACE(sizeof(struct ucred));
	_cleanup_free_ char *cbuf = malloc(cbuf_len);
	int on = 1;
	_cleanup_close_ int mem = -1;
	socklen_t sl = sizeof(int);
	int old_off = -1, off = 0, r = 0;
	unsigned int flags = f->sock.type != SOCK_STREAM ? SOCKQ_FROM : 0;
	uint64_t total = 0, nr = 0, total_bytes = 0;

	if (!buf || !cbuf)
		return -ENOMEM;
	mem = memfd_create("trace-ckpt-sockq", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	/* The peek offset is the socket's own: put back what the program had. */
	getsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, &sl);
	if (setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: unix socket: SO_PEEK_OFF", f->fd);
	/*
	 * A seqpacket socket whose peer is gone reads 0 bytes at the end of its
	 * queue, as a message of no bytes does: only a message comes with
	 * credentials.  Put back as the program had it (f->sock.passcred).
	 */
	if (f->sock.type == SOCK_SEQPACKET)
		setsockopt(h, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	for (;;) {
		struct iovec iov = { buf, PEEK_MAX };
		struct sockaddr_un from;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = cbuf_len,
				     .msg_name = &from, .msg_namelen = sizeof(from) };
		ssize_t n = recvmsg(h, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		uint32_t nums[SOCKQ_FDS_MAX], nr_fds = 0;
		struct sockq_msg m;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			r = collect_fail(cx, neg_errno(), "fd %d: unix socket queue", f->fd);
			break;
		}
		if (n == 0 && f->sock.type == SOCK_SEQPACKET && !has_creds(&mh))
			break;
		r = keep_passed_fds(cx, f, &mh, nums, &nr_fds);
		if (r < 0)
			break;
		if (n == 0 && f->sock.type == SOCK_STREAM && !nr_fds)
			break;
		if ((mh.msg_flags & MSG_TRUNC) || total + n > PEEK_MAX) {
			r = collect_fail(cx, -EOPNOTSUPP, "fd %d: unix socket queue over %u bytes",
					 f->fd, PEEK_MAX);
			break;
		}
		/* A datagram's sender is whatever it is bound to when it is read. */
		m = (struct sockq_msg){ .data = buf, .len = (uint32_t)n, .fds = (uint8_t *)nums,
					.nr_fds = nr_fds };
		if ((flags & SOCKQ_FROM) && mh.msg_namelen > offsetof(struct sockaddr_un, sun_path)) {
			m.from = (const uint8_t *)from.sun_path;
			m.from_len = mh.msg_namelen - offsetof(struct sockaddr_un, sun_path);
		}
		/* Most queues carry no fds: their records stay without fd lists. */
		if (nr_fds && !(flags & SOCKQ_FDS)) {
			r = reencode(&mem, total_bytes, flags, flags | SOCKQ_FDS);
			if (r < 0)
				break;
			flags |= SOCKQ_FDS;
			total_bytes = (uint64_t)lseek(mem, 0, SEEK_END);
		}
		r = sockq_append(mem, &m, flags);
		if (r < 0)
			break;
		total_bytes += sockq_record_len(&m, flags);
		total += n;
		nr++;
	}
	setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof(old_off));
	if (f->sock.type == SOCK_SEQPACKET && !f->sock.passcred) {
		on = 0;
		setsockopt(h, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	}
	if (r < 0)
		return r;
	if (!nr)
		return 0;
	f->size = total_bytes;
	f->content_fd = TAKE_FD(mem);
	f->sock.queue_from = !!(flags & SOCKQ_FROM);
	f->sock.queue_fds = !!(flags & SOCKQ_FDS);
	return 0;
}

/*
 * The bound name; for a name in the filesystem, the socket file's mode, or
 * that it was removed, and for a relative name, the directory it resolves in.
 */
static int collect_unix_name(struct collect_ctx *cx, struct fd_record *f,
			     const struct unix_diag_info *di)
{
	/* A socket in flight is the receiving process's: its names resolve there. */
	pid_t names_pid = cx->names_pid ? cx->names_pid : cx->pid;
	char path[PATH_MAX + 64];
	struct stat st;

	if (!di->named)
		return 0;
	f->sock.name = malloc(di->name_len + 1);
	if (!f->sock.name)
		return -ENOMEM;
	memcpy(f->sock.name, di->name, di->name_len);
	f->sock.name_len = di->name_len;
	if (!di->name[0])
		return 0;
	if (di->name[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", names_pid, di->name);
	} else {
		char cwd[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/cwd", names_pid);
		n = readlink(path, cwd, sizeof(cwd) - 1);
		if (n < 0)
			return collect_fail(cx, neg_errno(), "fd %d: unix socket %s: cwd", f->fd,
					    di->name);
		cwd[n] = '\0';
		f->sock.dir = strdup(cwd);
		if (!f->sock.dir)
			return -ENOMEM;
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", names_pid, di->name);
	}
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == di->vfs_ino) {
		f->sock.file_mode = st.st_mode & 07777;
	} else {
		/*
		 * Removed, or (relative) bound from another directory than its
		 * cwd: either way nothing reaches it by that path from here.
		 */
		f->sock.unlinked = 1;
	}
	return 0;
}

/*
 * A listener's connections not accepted yet, by their clients' inodes (0: a
 * client that closed), connected again in order at restore; bytes a client
 * sent into one cannot be read without accepting it.
 */
static int collect_pending(struct collect_ctx *cx, struct fd_record *f,
			   const struct unix_diag_info *di)
{
	uint64_t *v;

	f->sock.backlog = di->wqueue;
	if (!di->nr_icons)
		return 0;
	v = calloc(di->nr_icons, sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->sock.pending = (uint8_t *)v;
	f->sock.pending_len = (uint32_t)(di->nr_icons * sizeof(*v));
	for (size_t i = 0; i < di->nr_icons; i++) {
		struct unix_diag_info e;
		int r;

		v[i] = di->icons[i];
		if (!di->icons[i])
			continue;
		/* What a client sent into its connection is charged to it. */
		r = diag_unix(cx, di->icons[i], &e);
		unix_diag_info_clear(&e);
		if (r == 0 && e.wqueue)
			return collect_fail(cx, -EOPNOTSUPP,
					    "fd %d: unix socket %s: a connection not accepted yet holds %u bytes",
					    f->fd, printable_name(di), e.wqueue);
	}
	return 0;
}

/* Connected to a socket outside the computation: by name, datagrams only. */
static int collect_peer_name(struct collect_ctx *cx, struct fd_record *f, uint32_t peer)
{
	struct unix_diag_info pd;
	int r;

	if (f->sock.type != SOCK_DGRAM)
		return 0;
	r = diag_unix(cx, peer, &pd);
	if (r == 0 && pd.named) {
		f->sock.peer_name = malloc(pd.name_len + 1);
		if (!f->sock.peer_name)
			r = -ENOMEM;
		else
			memcpy(f->sock.peer_name, pd.name, pd.name_len);
		f->sock.peer_name_len = pd.name_len;
	}
	unix_diag_info_clear(&pd);
	return r == -ENOENT ? 0 : r;
}

int collect_unix_socket(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type,
			uint64_t ino)
{
	struct unix_diag_info di;
	socklen_t sl;
	int v, r;

	(void)domain;
	if (session_is_dead_end(cx->s, ino)) {
		f->kind = FD_DEAD_END;
		return 0;
	}
	r = diag_unix(cx, ino, &di);
	if (r < 0)
		return collect_fail(cx, r, "fd %d: unix socket: sock_diag", f->fd);
	f->kind = FD_UNIX;
	f->sock.type = type;
	f->sock.ino = ino;
	f->sock.peer_ino = di.peer;
	f->sock.state = di.state;
	r = collect_unix_name(cx, f, &di);
	if (r == 0 && di.state == TCP_LISTEN)
		r = collect_pending(cx, f, &di);
	if (r == 0 && di.peer)
		r = collect_peer_name(cx, f, di.peer);
	unix_diag_info_clear(&di);
	if (r < 0)
		return r;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_PASSCRED, &v, &sl) == 0)
		f->sock.passcred = v;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_SNDBUF, &v, &sl) == 0)
		f->sock.sndbuf = v;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_RCVBUF, &v, &sl) == 0)
		f->sock.rcvbuf = v;
	/* A listener's queue holds connections, not bytes. */
	return f->sock.state == TCP_LISTEN ? 0 : peek_queue(cx, f, h);
}

static int check_senders(const struct computation *c, const struct process_record *p,
			 const struct fd_record *f, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = malloc(f->size ? f->size : 1);
	struct sockq_msg m, cleared = { 0 };
	size_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = pread_full(f->content_fd, buf, f->size, 0);
	if (r < 0)
		return r;
	while ((r = sockq_next(buf, f->size, &off, SOCKQ_FLAGS(f), &m)) > 0) {
		bool abstract;

		/* A relative name can always be bound again, in a directory of our own. */
		if (!m.from_len || (m.from[0] && m.from[0] != '/'))
			continue;
		/* Runs of datagrams from one sender: /proc/net/unix is read once for them. */
		if (m.from_len == cleared.from_len && !memcmp(m.from, cleared.from, m.from_len))
			continue;
		if (computation_holds_unix_name(c, m.from, m.from_len) ||
		    unix_name_bound(m.from, m.from_len) <= 0) {
			cleared = m;
			continue;
		}
		abstract = !m.from[0];
		snprintf(err, errlen,
			 "pid %d fd %d: unix socket: a queued datagram from %s%.*s, a socket outside "
			 "the computation: not supported", p->pid, f->fd, abstract ? "@" : "",
			 (int)strnlen((const char *)m.from + abstract, m.from_len - abstract),
			 (const char *)m.from + abstract);
		return -EOPNOTSUPP;
	}
	return r;
}

int check_unix_senders(const struct computation *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int r;

			if (f->kind != FD_UNIX || !f->sock.queue_from || f->content_fd < 0)
				continue;
			r = check_senders(c, &c->procs[i], f, err, errlen);
			if (r < 0)
				return r;
		}
	return 0;
}
