/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "tracer/attach.h"
#include "tracer/control.h"
#include "tracer/dump.h"
#include "tracer/session.h"
#include "tracer/supervisor_log.h"
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
	/* Without a log the supervisor's lines stay on stderr: worse, not wrong. */
	r = supervisor_log_open(s);
	if (r < 0)
		log_debug("no supervisor log in %s: %s", dir, strerror(-r));
	return 0;
}

/*
 * One client of the control socket.  Nothing about it may make the
 * supervisor wait: the program's ptrace stops are served by the same loop.
 */
struct control_conn {
	int fd;
	pid_t pid;		/* the client, for messages */
	enum {
		CONN_READING,	/* until its request arrives, or its deadline */
		CONN_QUEUED,	/* request read, waiting its turn */
		CONN_WRITING,	/* reply did not fit in the socket yet */
	} state;
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC; reading and writing only */
	uint64_t seq;		/* arrival order of queued requests */
	uint8_t *req;
	size_t req_len;
	struct tlv_buf reply;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void conn_drop(struct session *s, size_t i)
{
	struct control_conn *c = &s->control_conns[i];

	closep(&c->fd);
	free(c->req);
	tlv_buf_free(&c->reply);
	/* Order does not matter: queued requests carry their own sequence. */
	s->control_conns[i] = s->control_conns[--s->nr_control_conns];
}

void control_close(struct session *s)
{
	/* A reply still unsent gets one last chance (detach answers, then quits). */
	while (s->nr_control_conns > 0) {
		struct control_conn *c = &s->control_conns[0];

		if (c->state == CONN_WRITING)
			send(c->fd, c->reply.data, c->reply.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_drop(s, 0);
	}
	free(s->control_conns);
	s->control_conns = NULL;
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
	/* Nothing is traced between checkpoints: its tree says who is in it. */
	{
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;

		if (session_list_pids(s, &pids, &n) == 0)
			for (size_t i = 0; i < n; i++)
				tlv_put_u32(b, CTL_A_PID, pids[i]);
	}
	return b->err;
}

static int reply_dump(struct session *s, const struct tlv_attr **tb, struct tlv_buf *b)
{
	_cleanup_free_ char *dir = NULL;
	struct dump_request rq = { 0 };
	struct dump_result res = { 0 };
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING, flags = 0;
	off_t mark;
	int r;

	if (tb[CTL_A_FLAGS] && tlv_get_u32(tb[CTL_A_FLAGS], &flags) < 0)
		return -EBADMSG;
	if (tb[CTL_A_DIR] && tlv_get_strdup(tb[CTL_A_DIR], &dir) < 0)
		return -EBADMSG;
	if (tb[CTL_A_MODE] && (tlv_get_u32(tb[CTL_A_MODE], &mode) < 0 || mode > CTL_DUMP_CHECK))
		return -EBADMSG;
	rq.dir = dir;
	rq.mode = mode;
	rq.incremental = flags & CTL_DUMP_F_INCREMENTAL;
	rq.compress = flags & CTL_DUMP_F_COMPRESS;
	mark = supervisor_log_mark(s);
	r = dump_computation(s, &rq, &res);
	/* What the supervisor logged meanwhile is the detail of the cause. */
	if (r < 0 && mode != CTL_DUMP_CHECK)
		supervisor_log_quote(s, mark, res.msg, sizeof(res.msg));
	tlv_put_u32(b, CTL_A_ERR, r < 0 ? -r : 0);
	tlv_put_str(b, CTL_A_MSG, res.msg);
	tlv_put_str(b, CTL_A_DIR, res.dir);
	tlv_put_u64(b, CTL_A_GENERATION, res.generation);
	tlv_put_u64(b, CTL_A_FROZEN_NS, res.frozen_ns);
	tlv_put_u64(b, CTL_A_TOTAL_NS, res.total_ns);
	tlv_put_u64(b, CTL_A_BYTES, res.bytes);
	return b->err;
}

/* 1: a client was taken from the backlog (kept or refused), 0: none left or no room. */
static int conn_accept(struct session *s)
{
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	_cleanup_close_ int fd = -1;
	struct control_conn *c;

	if (s->nr_control_conns >= CONTROL_MAX_CONNS)
		return 0;
	if (!s->control_conns) {
		s->control_conns = calloc(CONTROL_MAX_CONNS, sizeof(*s->control_conns));
		if (!s->control_conns)
			return 0;
	}
	fd = accept4(s->control_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_debug("control: accept: %m");
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) < 0 ||
	    cred.uid != geteuid()) {
		log_warn("control: refused a request from uid %d", (int)cred.uid);
		return 1;
	}
	c = &s->control_conns[s->nr_control_conns++];
	*c = (struct control_conn){
		.fd = TAKE_FD(fd),
		.pid = cred.pid,
		.state = CONN_READING,
		.deadline_ns = mono_ns() + CONTROL_IO_TIMEOUT_MS * 1000000ull,
	};
	return 1;
}

/*
 * A request is one SOCK_SEQPACKET record: it arrives whole or not at all,
 * so reading it is one non-blocking recv once poll says it is there.
 * 0: read (or nothing yet), -errno: drop the client.
 */
static int conn_read(struct session *s, struct control_conn *c)
{
	ssize_t len, n;

	len = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (len < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : neg_errno();
	if (len == 0)
		return -ECONNRESET;
	if ((size_t)len > CTL_MSG_MAX) {
		log_warn("control: request of %zd bytes from pid %d", len, c->pid);
		return -EMSGSIZE;
	}
	c->req = malloc(len);
	if (!c->req)
		return -ENOMEM;
	n = recv(c->fd, c->req, len, MSG_DONTWAIT);
	if (n != len)
		return n < 0 ? neg_errno() : -EBADMSG;
	c->req_len = n;
	c->state = CONN_QUEUED;
	c->seq = s->control_seq++;
	return 0;
}

/* 0: sent or waiting for room (state CONN_WRITING), -errno: drop the client. */
static int conn_write(struct control_conn *c)
{
	if (send(c->fd, c->reply.data, c->reply.len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
		return -ECONNRESET;	/* done: one request per connection */
	if (errno != EAGAIN && errno != EINTR) {
		log_debug("control: reply to pid %d: %m", c->pid);
		return neg_errno();
	}
	if (c->state != CONN_WRITING) {
		c->state = CONN_WRITING;
		c->deadline_ns = mono_ns() + CONTROL_IO_TIMEOUT_MS * 1000000ull;
	}
	return 0;
}

/* Run a queued request and build its reply; 0 or -errno (nothing to send). */
static int conn_answer(struct session *s, struct control_conn *c)
{
	const struct tlv_attr *tb[CTL_A_MAX + 1];
	struct tlv_buf *reply = &c->reply;
	uint32_t cmd = 0;
	int r;

	if (tlv_parse(c->req, c->req_len, tb, CTL_A_MAX) < 0 || !tb[CTL_A_CMD] ||
	    tlv_get_u32(tb[CTL_A_CMD], &cmd) < 0) {
		log_warn("control: malformed request from pid %d", c->pid);
		return -EBADMSG;
	}
	switch (cmd) {
	case CTL_CMD_INFO:
		r = reply_info(s, reply);
		break;
	case CTL_CMD_DUMP:
		r = reply_dump(s, tb, reply);
		break;
	case CTL_CMD_DETACH:
		r = session_detach(s);
		tlv_put_u32(reply, CTL_A_ERR, r < 0 ? -r : 0);
		tlv_put_str(reply, CTL_A_MSG, r < 0 ? "some threads could not be detached"
						    : "detached");
		r = reply->err;
		break;
	default:
		r = tlv_put_u32(reply, CTL_A_ERR, EOPNOTSUPP);
		break;
	}
	return r;
}

size_t control_pollfds(const struct session *s, struct pollfd *pfd)
{
	size_t n = 0;

	if (s->control_fd < 0)
		return 0;
	/* Full: further clients wait in the backlog until a deadline frees a slot. */
	pfd[n++] = (struct pollfd){
		.fd = s->control_fd,
		.events = s->nr_control_conns < CONTROL_MAX_CONNS ? POLLIN : 0,
	};
	for (size_t i = 0; i < s->nr_control_conns; i++) {
		const struct control_conn *c = &s->control_conns[i];
		short ev = c->state == CONN_READING ? POLLIN :
			   c->state == CONN_WRITING ? POLLOUT : 0;

		/* A queued client is not watched: its hang-up is found at reply time. */
		pfd[n++] = (struct pollfd){ .fd = ev ? c->fd : -1, .events = ev };
	}
	return n;
}

int control_poll_timeout(const struct session *s)
{
	uint64_t now = mono_ns(), first = UINT64_MAX;

	for (size_t i = 0; i < s->nr_control_conns; i++) {
		const struct control_conn *c = &s->control_conns[i];

		if (c->state == CONN_QUEUED)
			return 0;
		first = MIN(first, c->deadline_ns);
	}
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	/* Rounded up, or poll wakes a little early and spins until the deadline. */
	return (int)MIN((first - now + 999999) / 1000000, (uint64_t)INT_MAX);
}

void control_handle(struct session *s, const struct pollfd *pfd, size_t npfd)
{
	size_t nconn = npfd ? npfd - 1 : 0;
	uint64_t now;

	if (npfd == 0 || s->control_fd < 0)
		return;
	/*
	 * The pollfd entries follow the order of control_conns as it was when
	 * they were filled; walk backwards so a drop (the last entry moves into
	 * the hole) never moves an entry not yet looked at.
	 */
	nconn = MIN(nconn, s->nr_control_conns);
	now = mono_ns();
	for (size_t k = nconn; k-- > 0;) {
		struct control_conn *c = &s->control_conns[k];
		short rev = pfd[1 + k].revents;
		int r = 0;

		if (c->state == CONN_READING && (rev & (POLLIN | POLLHUP | POLLERR)))
			r = conn_read(s, c);
		else if (c->state == CONN_WRITING && (rev & (POLLOUT | POLLHUP | POLLERR)))
			r = conn_write(c);
		if (r == 0 && c->state != CONN_QUEUED && c->deadline_ns <= now) {
			log_debug("control: pid %d: %s timed out", c->pid,
				  c->state == CONN_READING ? "request" : "reply");
			r = -ETIMEDOUT;
		}
		if (r < 0)
			conn_drop(s, k);
	}
	if (pfd[0].revents & POLLIN)
		while (conn_accept(s) > 0)
			;
}

bool control_run_queued(struct session *s)
{
	size_t oldest = SIZE_MAX;
	struct control_conn *c;
	int r;

	for (size_t i = 0; i < s->nr_control_conns; i++)
		if (s->control_conns[i].state == CONN_QUEUED &&
		    (oldest == SIZE_MAX || s->control_conns[i].seq < s->control_conns[oldest].seq))
			oldest = i;
	if (oldest == SIZE_MAX)
		return false;
	c = &s->control_conns[oldest];
	r = conn_answer(s, c);
	if (r == 0)
		r = conn_write(c);
	if (r < 0)
		conn_drop(s, oldest);
	return true;
}
