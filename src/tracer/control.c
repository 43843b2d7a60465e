/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "tracer/attach.h"
#include "tracer/control.h"
#include "tracer/dump.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

int control_dir(char *buf, size_t len)
{
	char err[8];

	return runtime_dir(buf, len, false, err, sizeof(err));
}

int control_listen(struct session *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	_cleanup_close_ int fd = -1;
	int r;

	char err[PATH_MAX + 128];

	/* Only this user may reach the supervisor: runtime_dir checks it is so. */
	r = runtime_dir(dir, sizeof(dir), true, err, sizeof(err));
	if (r < 0)
		return log_ret(r, "%s", err);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", dir, getpid()) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return neg_errno();
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_ret(neg_errno(), "bind %s: %m", sa.sun_path);
	if (listen(fd, 16) < 0)
		return neg_errno();
	s->control_path = strdup(sa.sun_path);
	if (!s->control_path)
		return -ENOMEM;
	s->control_fd = TAKE_FD(fd);
	return 0;
}

void control_close(struct session *s)
{
	if (s->control_path) {
		unlink(s->control_path);
		free(s->control_path);
		s->control_path = NULL;
	}
	closep(&s->control_fd);
	s->control_fd = -1;
}

static int reply_info(struct session *s, struct tlv_buf *b)
{
	tlv_put_u32(b, CTL_A_ERR, 0);
	tlv_put_u32(b, CTL_A_SUPERVISOR, getpid());
	tlv_put_str(b, CTL_A_CMDLINE, s->cmdline);
	if (s->default_dir)
		tlv_put_str(b, CTL_A_DIR, s->default_dir);
	tlv_put_u64(b, CTL_A_GENERATION, s->generation);
	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].tid == s->tracees[i].tgid)
			tlv_put_u32(b, CTL_A_PID, s->tracees[i].tid);
	return b->err;
}

static int reply_dump(struct session *s, const struct tlv_attr **tb, struct tlv_buf *b)
{
	_cleanup_free_ char *dir = NULL;
	struct dump_request rq = { 0 };
	struct dump_result res = { 0 };
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING;
	int r;

	if (tb[CTL_A_DIR] && tlv_get_strdup(tb[CTL_A_DIR], &dir) < 0)
		return -EBADMSG;
	if (tb[CTL_A_MODE] && tlv_get_u32(tb[CTL_A_MODE], &mode) < 0)
		return -EBADMSG;
	rq.dir = dir;
	rq.mode = mode;
	r = dump_computation(s, &rq, &res);
	tlv_put_u32(b, CTL_A_ERR, r < 0 ? -r : 0);
	tlv_put_str(b, CTL_A_MSG, res.msg);
	tlv_put_str(b, CTL_A_DIR, res.dir);
	tlv_put_u64(b, CTL_A_GENERATION, res.generation);
	tlv_put_u64(b, CTL_A_FROZEN_NS, res.frozen_ns);
	tlv_put_u64(b, CTL_A_TOTAL_NS, res.total_ns);
	tlv_put_u64(b, CTL_A_BYTES, res.bytes);
	return b->err;
}

void control_serve_one(struct session *s)
{
	const struct tlv_attr *tb[CTL_A_MAX + 1];
	struct tlv_buf reply = { 0 };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *msg = NULL;
	struct pollfd pfd;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	uint32_t cmd = 0;
	ssize_t n;
	int r;

	fd = accept4(s->control_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
	    cred.uid != geteuid()) {
		log_warn("control: refused a request from uid %d", (int)cred.uid);
		return;
	}
	/* A client that connects and says nothing must not hang the supervisor. */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 5000) <= 0)
		return;
	msg = malloc(CTL_MSG_MAX);
	if (!msg)
		return;
	n = recv(fd, msg, CTL_MSG_MAX, MSG_DONTWAIT);
	if (n <= 0)
		return;
	if (tlv_parse(msg, n, tb, CTL_A_MAX) < 0 || !tb[CTL_A_CMD] ||
	    tlv_get_u32(tb[CTL_A_CMD], &cmd) < 0) {
		log_warn("control: malformed request from pid %d", cred.pid);
		return;
	}
	switch (cmd) {
	case CTL_CMD_INFO:
		r = reply_info(s, &reply);
		break;
	case CTL_CMD_DUMP:
		r = reply_dump(s, tb, &reply);
		break;
	case CTL_CMD_DETACH:
		r = session_detach(s);
		tlv_put_u32(&reply, CTL_A_ERR, r < 0 ? -r : 0);
		tlv_put_str(&reply, CTL_A_MSG, r < 0 ? "some threads could not be detached"
						     : "detached");
		r = reply.err;
		break;
	default:
		r = tlv_put_u32(&reply, CTL_A_ERR, EOPNOTSUPP);
		break;
	}
	if (r == 0 && send(fd, reply.data, reply.len, MSG_NOSIGNAL) < 0)
		log_debug("control: reply to pid %d: %m", cred.pid);
	tlv_buf_free(&reply);
}
