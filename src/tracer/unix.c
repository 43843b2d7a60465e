/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of Unix sockets.  The supervisor takes its own handle on the
 * socket (pidfd_getfd), asks sock_diag for its peer and name, and peeks
 * the queued messages: nothing is consumed.  Connected pairs whose both
 * ends are in the computation are supported (socketpair(), the usual IPC of
 * forked workers); bound, listening and half-outside sockets are refused by
 * name.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "util/fileio.h"
#include "util/macro.h"

#define PEEK_MAX (4u << 20)

struct unix_diag_info {
	uint32_t state, peer;
	bool named;
	char name[108];
};

static int diag_unix(uint64_t ino, struct unix_diag_info *out)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			 .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME,
			 .udiag_cookie = { ~0u, ~0u } },
	};
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	uint8_t buf[8192];
	struct nlmsghdr *h;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (nl < 0)
		return neg_errno();
	if (send(nl, &msg, sizeof(msg), 0) < 0)
		return neg_errno();
	n = recv(nl, buf, sizeof(buf), 0);
	if (n < 0)
		return neg_errno();
	h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, (size_t)n))
		return -EBADMSG;
	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error ? e->error : -ENOENT;
	}
	{
		struct unix_diag_msg *m = NLMSG_DATA(h);
		struct rtattr *a = (struct rtattr *)(m + 1);
		int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

		out->state = m->udiag_state;
		for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= 4) {
				memcpy(&out->peer, RTA_DATA(a), 4);
			} else if (a->rta_type == UNIX_DIAG_NAME) {
				size_t l = MIN((size_t)RTA_PAYLOAD(a), sizeof(out->name) - 1);

				memcpy(out->name, RTA_DATA(a), l);
				out->name[l] = '\0';
				out->named = true;
			}
		}
	}
	return 0;
}

/*
 * Every queued message, peeked: a stream's bytes as one record, each
 * datagram as its own, into a memfd of [u32 length][bytes] records.
 */
static int peek_queue(struct collect_ctx *cx, struct fd_record *f, int h)
{
	_cleanup_free_ uint8_t *buf = malloc(PEEK_MAX);
	_cleanup_close_ int mem = -1;
	socklen_t sl = sizeof(int);
	int old_off = -1, off = 0, r = 0;
	uint64_t total = 0;

	if (!buf)
		return -ENOMEM;
	mem = memfd_create("trace-ckpt-sockq", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	/* The peek offset is the socket's own: put back what the program had. */
	getsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, &sl);
	if (setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: unix socket: SO_PEEK_OFF", f->fd);
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { buf, PEEK_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(h, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		uint32_t len32;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			r = collect_fail(cx, neg_errno(), "fd %d: unix socket queue", f->fd);
			break;
		}
		if (n == 0 && f->sock_type == SOCK_STREAM)
			break;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int *fds = (int *)CMSG_DATA(cm);
				size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (size_t k = 0; k < nfds; k++)
					close(fds[k]);
				r = collect_fail(cx, -EOPNOTSUPP,
						 "fd %d: unix socket with fds in flight (SCM_RIGHTS)",
						 f->fd);
			}
		}
		if (r < 0)
			break;
		if ((mh.msg_flags & MSG_TRUNC) || total + n > PEEK_MAX) {
			r = collect_fail(cx, -EOPNOTSUPP, "fd %d: unix socket queue over %u bytes",
					 f->fd, PEEK_MAX);
			break;
		}
		len32 = (uint32_t)n;
		r = write_full(mem, &len32, sizeof(len32));
		if (r == 0)
			r = write_full(mem, buf, n);
		if (r < 0)
			break;
		total += n;
	}
	setsockopt(h, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof(old_off));
	if (r < 0)
		return r;
	if (total) {
		f->size = (uint64_t)lseek(mem, 0, SEEK_CUR);
		f->content_fd = TAKE_FD(mem);
	}
	return 0;
}

int collect_unix_socket(struct collect_ctx *cx, struct fd_record *f, uint64_t ino)
{
	_cleanup_close_ int pidfd = -1, h = -1;
	struct unix_diag_info di;
	socklen_t sl = sizeof(int);
	int domain = 0, type = 0, v;
	int r;

	pidfd = syscall(SYS_pidfd_open, cx->pid, 0);
	if (pidfd < 0)
		return collect_fail(cx, neg_errno(), "fd %d: pidfd_open", f->fd);
	h = syscall(SYS_pidfd_getfd, pidfd, f->fd, 0);
	if (h < 0)
		return collect_fail(cx, neg_errno(), "fd %d: pidfd_getfd", f->fd);
	if (getsockopt(h, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0 ||
	    getsockopt(h, SOL_SOCKET, SO_TYPE, &type, &sl) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: socket", f->fd);
	if (domain == AF_INET || domain == AF_INET6)
		return collect_inet_socket(cx, f, h, domain, type);
	if (domain != AF_UNIX) {
		const char *what = domain == AF_NETLINK ? "AF_NETLINK" : domain == AF_PACKET
				 ? "AF_PACKET" : "socket";

		return collect_fail(cx, -EOPNOTSUPP, "fd %d: %s socket (family %d)", f->fd, what,
				    domain);
	}
	r = diag_unix(ino, &di);
	if (r < 0)
		return collect_fail(cx, r, "fd %d: unix socket: sock_diag", f->fd);
	if (di.named)
		return collect_fail(cx, -EOPNOTSUPP, "fd %d: unix socket bound to %s%s", f->fd,
				    di.name[0] ? "" : "@", di.name[0] ? di.name : di.name + 1);
	if (!di.peer)
		return collect_fail(cx, -EOPNOTSUPP, "fd %d: unconnected unix socket", f->fd);
	f->kind = FD_UNIX;
	f->sock_type = type;
	f->sock_ino = ino;
	f->peer_ino = di.peer;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_PASSCRED, &v, &sl) == 0)
		f->sock_passcred = v;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_SNDBUF, &v, &sl) == 0)
		f->sock_sndbuf = v;
	sl = sizeof(v);
	if (getsockopt(h, SOL_SOCKET, SO_RCVBUF, &v, &sl) == 0)
		f->sock_rcvbuf = v;
	return peek_queue(cx, f, h);
}
