/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/client.h"
#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "tracer/control.h"
#include "util/fileio.h"
#include "util/macro.h"

static void supervisor_info_clear(struct supervisor_info *si);

int client_request(const char *path, const struct tlv_buf *req, uint8_t **reply, size_t *len,
		   int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct pollfd pfd;
	ssize_t n;
	int r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return neg_errno();
	/*
	 * connect waits while the supervisor's backlog is full (its client
	 * slots taken by others until their deadlines): within our timeout.
	 */
	if (timeout_ms >= 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
			return neg_errno();
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno == EAGAIN ? -ETIMEDOUT : neg_errno();
	if (send(fd, req->data, req->len, MSG_NOSIGNAL) < 0)
		return neg_errno();
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	r = poll(&pfd, 1, timeout_ms);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return neg_errno();
	buf = malloc(CTL_MSG_MAX);
	if (!buf)
		return -ENOMEM;
	n = recv(fd, buf, CTL_MSG_MAX, 0);
	if (n < 0)
		return neg_errno();
	if (n == 0)
		return -ECONNRESET;
	*len = n;
	*reply = TAKE_PTR(buf);
	return 0;
}

static int ask_info(struct supervisor_info *si)
{
	struct tlv_buf req = { 0 };
	_cleanup_free_ uint8_t *reply = NULL;
	const struct tlv_attr *a;
	size_t len, rem;
	int r;

	tlv_put_u32(&req, CTL_A_CMD, CTL_CMD_INFO);
	if (req.err)
		return req.err;
	r = client_request(si->path, &req, &reply, &len, 1000);
	tlv_buf_free(&req);
	if (r < 0)
		return r;
	tlv_for_each(a, reply, len, rem) {
		uint32_t v32;

		switch (a->type) {
		case CTL_A_CMDLINE:
			tlv_get_strdup(a, &si->cmdline);
			break;
		case CTL_A_DIR:
			tlv_get_strdup(a, &si->dir);
			break;
		case CTL_A_GENERATION:
			tlv_get_u64(a, &si->generation);
			break;
		case CTL_A_PID:
			if (tlv_get_u32(a, &v32) == 0) {
				pid_t *n = realloc(si->pids, (si->nr_pids + 1) * sizeof(*n));

				if (!n)
					return -ENOMEM;
				si->pids = n;
				si->pids[si->nr_pids++] = (pid_t)v32;
			}
			break;
		}
	}
	return 0;
}

/* The supervisor tracing pid, straight from /proc: no need to ask every socket. */
static pid_t tracer_of(pid_t pid)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file_at(AT_FDCWD, path, &status, NULL) < 0)
		return 0;
	p = strstr(status, "\nTracerPid:");
	return p ? (pid_t)strtol(p + 11, NULL, 10) : 0;
}

int client_find(pid_t pid, struct supervisor_info **out, size_t *nr)
{
	struct supervisor_info *si;
	pid_t tracer = tracer_of(pid);
	char dir[108];
	int r;

	*out = NULL;
	*nr = 0;
	if (tracer <= 0)
		return client_list(out, nr);
	r = control_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	si = calloc(1, sizeof(*si));
	if (!si)
		return -ENOMEM;
	si->pid = tracer;
	snprintf(si->path, sizeof(si->path), "%s/%d.sock", dir, tracer);
	r = ask_info(si);
	if (r == -ETIMEDOUT && !si->nr_pids) {
		/* Its socket is there, /proc names it: busy, but the one. */
		si->pids = malloc(sizeof(*si->pids));
		if (si->pids) {
			si->pids[si->nr_pids++] = pid;
			si->unanswered = true;
			r = 0;
		}
	}
	if (r < 0) {
		client_list_free(si, 1);
		/* Not one of ours after all (gdb, strace...): look everywhere. */
		return client_list(out, nr);
	}
	*out = si;
	*nr = 1;
	return 0;
}

int client_list(struct supervisor_info **out, size_t *nr)
{
	char dir[108];
	struct supervisor_info *v = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int r;

	*out = NULL;
	*nr = 0;
	r = control_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : neg_errno();
	while ((de = readdir(d))) {
		struct supervisor_info si = { 0 };
		struct supervisor_info *g;
		char *end;

		si.pid = strtol(de->d_name, &end, 10);
		if (si.pid <= 0 || strcmp(end, ".sock"))
			continue;
		snprintf(si.path, sizeof(si.path), "%s/%s", dir, de->d_name);
		r = ask_info(&si);
		if (r == -ECONNREFUSED || r == -ENOENT) {
			/* Its supervisor was killed: the socket is stale. */
			unlink(si.path);
			continue;
		}
		/*
		 * One that does not answer in time is still there: counted, so
		 * that "the user's only computation" is never another one.
		 */
		if (r == -ETIMEDOUT) {
			supervisor_info_clear(&si);
			si = (struct supervisor_info){ .pid = si.pid, .unanswered = true };
			snprintf(si.path, sizeof(si.path), "%s/%s", dir, de->d_name);
		} else if (r < 0) {
			supervisor_info_clear(&si);
			continue;
		}
		g = realloc(v, (n + 1) * sizeof(*v));
		if (!g) {
			supervisor_info_clear(&si);
			break;
		}
		v = g;
		v[n++] = si;
	}
	closedir(d);
	*out = v;
	*nr = n;
	return 0;
}

static void supervisor_info_clear(struct supervisor_info *si)
{
	free(si->cmdline);
	free(si->dir);
	free(si->pids);
}

void client_list_free(struct supervisor_info *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		supervisor_info_clear(&v[i]);
	free(v);
}

const struct supervisor_info *client_pick(const struct supervisor_info *v, size_t n, pid_t pid)
{
	if (!pid)
		return n == 1 ? &v[0] : NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i].pid == pid)
			return &v[i];
		for (size_t k = 0; k < v[i].nr_pids; k++)
			if (v[i].pids[k] == pid)
				return &v[i];
	}
	return NULL;
}

void client_pick_explain(const char *cmd, const struct supervisor_info *v, size_t n, pid_t pid)
{
	(void)v;
	if (pid)
		fprintf(stderr, "trace-ckpt %s: pid %d is not in a supervised computation\n", cmd, pid);
	else if (n == 0)
		fprintf(stderr, "trace-ckpt %s: no supervised computation\n", cmd);
	else
		fprintf(stderr, "trace-ckpt %s: %zu computations: say which (trace-ckpt list)\n", cmd, n);
}
