/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ptrace/remote.h"
#include "restorer/anonfd.h"
#include "restorer/procfd.h"
#include "util/log.h"

/* Flags that only mean something to the open that made the description. */
#define OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW)

/* One remote call; its ptrace failure or its -errno, as -errno. */
static int call(pid_t pid, uint64_t insn, long nr, long a0, long a1, long a2, long a3,
		long *ret)
{
	long args[6] = { a0, a1, a2, a3 };
	int r = remote_syscall(pid, insn, nr, args, ret);

	if (r < 0)
		return r;
	return *ret < 0 && *ret > -4096 ? (int)*ret : 0;
}

/* The pid or tid that a /proc path starts with, or 0 for another path. */
static pid_t proc_path_pid(const char *path)
{
	const char *s;
	long v = 0;

	if (strncmp(path, "/proc/", 6))
		return 0;
	for (s = path + 6; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > INT_MAX)
			return 0;
	}
	return s > path + 6 && (*s == '/' || *s == '\0') ? (pid_t)v : 0;
}

static bool in_computation(const struct computation *c, pid_t pid)
{
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		if (p->pid == pid)
			return true;
		for (size_t k = 0; k < p->nr_threads; k++)
			if (p->threads[k].tid == pid)
				return true;
	}
	return false;
}

void procfd_mark(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			pid_t pid;

			f->proc_own = false;
			if (f->kind != FD_REGULAR || f->deleted || f->in_flight || !f->path ||
			    !f->desc_id)
				continue;
			pid = proc_path_pid(f->path);
			f->proc_own = pid > 0 && in_computation(c, pid);
		}
}

/* An earlier deferred fd of p on the same description (a dup), or -1. */
static int shared_with(const struct process_record *p, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (procfd_deferred(&p->fds[i]) && p->fds[i].desc_id == p->fds[k].desc_id &&
		    !strcmp(p->fds[i].path, p->fds[k].path))
			return p->fds[i].fd;
	return -1;
}

static int open_one(pid_t pid, uint64_t insn, const struct process_record *p, size_t k)
{
	const struct fd_record *f = &p->fds[k];
	int dup_flags = f->cloexec ? O_CLOEXEC : 0;
	int from = shared_with(p, k);
	size_t len = strlen(f->path) + 1;
	uint64_t addr;
	long ret;
	int r;

	if (from >= 0)
		return call(pid, insn, SYS_dup3, from, f->fd, dup_flags, 0, &ret);
	r = remote_scratch(pid, len, &addr);
	if (r < 0)
		return r;
	r = remote_write(pid, addr, f->path, len);
	if (r < 0)
		return r;
	r = call(pid, insn, SYS_openat, AT_FDCWD, (long)addr,
		 (f->flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC, 0, &ret);
	if (r < 0)
		return r;
	from = (int)ret;
	if (from != f->fd) {
		r = call(pid, insn, SYS_dup3, from, f->fd, dup_flags, 0, &ret);
		(void)call(pid, insn, SYS_close, from, 0, 0, 0, &ret);
		if (r < 0)
			return r;
	} else if (!f->cloexec) {
		r = call(pid, insn, SYS_fcntl, f->fd, F_SETFD, 0, 0, &ret);
		if (r < 0)
			return r;
	}
	if (f->pos && !(f->flags & O_PATH))
		return call(pid, insn, SYS_lseek, f->fd, (long)f->pos, SEEK_SET, 0, &ret);
	return 0;
}

struct remote_watch {
	pid_t pid;
	uint64_t insn;
};

/* In the process: epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, ev), ev in its scratch memory. */
static int add_watch_in(void *arg, int epfd, int tfd, struct epoll_event *ev)
{
	const struct remote_watch *rw = arg;
	uint64_t addr;
	long ret;
	int r;

	r = remote_scratch(rw->pid, sizeof(*ev), &addr);
	if (r == 0)
		r = remote_write(rw->pid, addr, ev, sizeof(*ev));
	if (r == 0)
		r = call(rw->pid, rw->insn, SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, tfd, (long)addr,
			 &ret);
	return r;
}

int procfd_open_in(pid_t pid, uint64_t insn, const struct process_record *p, char *err,
		   size_t errlen)
{
	bool any = false;

	for (size_t k = 0; k < p->nr_fds; k++) {
		const struct fd_record *f = &p->fds[k];
		int r;

		if (!procfd_deferred(f))
			continue;
		any = true;
		r = open_one(pid, insn, p, k);
		if (r < 0) {
			snprintf(err, errlen, "pid %d fd %d: %s, opened in the process: %s", p->pid,
				 f->fd, f->path, strerror(-r));
			return r;
		}
		log_debug("pid %d fd %d: %s opened in the process", p->pid, f->fd, f->path);
	}
	if (!any)
		return 0;
	/* The watches on them were left out before. */
	return epoll_for_each_watch(p, true, add_watch_in, &(struct remote_watch){ pid, insn },
				    err, errlen);
}
