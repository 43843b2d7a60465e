/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/pidns.h"
#include "tracer/procfs.h"
#include "ptrace/remote.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

int collect_fd_handle(struct collect_ctx *cx, int fd)
{
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, cx->pid, 0);
	int h;

	if (pidfd < 0)
		return collect_fail(cx, neg_errno(), "fd %d: pidfd_open", fd);
	h = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (h < 0)
		return collect_fail(cx, neg_errno(), "fd %d: pidfd_getfd", fd);
	return h;
}

void refusal_list_free(struct refusal_list *rl)
{
	free(rl->text);
	rl->text = NULL;
}

int refusal_take(struct refusal_list *rl, char *err)
{
	size_t n = strlen(err);

	if (!n)
		return 0;
	if (rl->len + n + 2 > rl->cap) {
		size_t cap = (rl->len + n + 2) * 2;
		char *t = realloc(rl->text, cap);

		if (!t)
			return -ENOMEM;
		rl->text = t;
		rl->cap = cap;
	}
	memcpy(rl->text + rl->len, err, n);
	rl->len += n;
	rl->text[rl->len++] = '\n';
	rl->text[rl->len] = '\0';
	rl->n++;
	err[0] = '\0';
	return 0;
}

int collect_refuse(struct collect_ctx *cx, const char *advice, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("pid %d: %s: not supported", cx->pid, what);
	if (cx->err && !cx->err[0])
		snprintf(cx->err, cx->errlen, "pid %d %s: not supported; %s", cx->pid, what,
			 advice);
	return -EOPNOTSUPP;
}

int collect_fail(struct collect_ctx *cx, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("pid %d: %s: %s", cx->pid, what, strerror(-err));
	if (cx->err && !cx->err[0]) {
		if (err == -EOPNOTSUPP)
			snprintf(cx->err, cx->errlen, "pid %d %s: not supported", cx->pid, what);
		else
			snprintf(cx->err, cx->errlen, "pid %d %s: %s", cx->pid, what,
				 strerror(-err));
	}
	return err;
}

int collect_remote_threads(struct collect_ctx *cx, const pid_t *tids, size_t nt,
			   struct remote_call *calls, size_t n, int *errs)
{
	return remote_syscalls_threads(tids, nt, cx->syscall_insn, calls, n, errs);
}

int collect_remote(struct collect_ctx *cx, pid_t tid, long nr, long a0, long a1, long a2,
		   long a3, long *ret)
{
	long args[6] = { a0, a1, a2, a3, 0, 0 };

	return remote_syscall(tid, cx->syscall_insn, nr, args, ret);
}

/* Reading /proc/PID/maps per thread was most of the freeze of 1,000 threads. */
static int read_writable(struct collect_ctx *cx)
{
	_cleanup_free_ char *maps = NULL;
	char path[64], *line, *save = NULL;
	size_t cap = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", cx->pid);
	r = read_file_at(AT_FDCWD, path, &maps, NULL);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;
		char perms[5];

		if (sscanf(line, "%llx-%llx %4s", &s, &e, perms) != 3 || perms[1] != 'w')
			continue;
		if (cx->nr_writable == cap) {
			uint64_t (*g)[2] = realloc(cx->writable, (cap = cap ? cap * 2 : 64) *
							     sizeof(*g));

			if (!g)
				return -ENOMEM;
			cx->writable = g;
		}
		cx->writable[cx->nr_writable][0] = s;
		cx->writable[cx->nr_writable++][1] = e;
	}
	cx->writable_read = true;
	return 0;
}

int collect_remote_scratch(struct collect_ctx *cx, pid_t tid, size_t len, uint64_t *addr)
{
	uint64_t start, end;
	size_t lo = 0, hi;
	int r;

	if (!cx->writable_read && (r = read_writable(cx)) < 0)
		return r;
	r = remote_scratch_range(tid, len, &start, &end);
	if (r < 0)
		return r;
	/* The last mapping that starts at or below start must hold it all. */
	hi = cx->nr_writable;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cx->writable[mid][0] <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || end > cx->writable[lo - 1][1])
		return collect_fail(cx, -ENOSPC, "tid %d: no writable stack at 0x%llx for %zu "
				    "bytes of scratch", tid, (unsigned long long)start, len);
	*addr = start;
	return 0;
}

int collect_read_mem(struct collect_ctx *cx, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(cx->pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return neg_errno();
	return (size_t)n == len ? 0 : -EFAULT;
}

static int collect_rlimits(struct collect_ctx *cx, struct process_record *p)
{
	for (int i = 0; i < TC_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
		struct rlimit rl;

		if (prlimit(cx->pid, i, NULL, &rl) < 0)
			return collect_fail(cx, neg_errno(), "rlimit %d", i);
		p->rlimits[i].cur = rl.rlim_cur;
		p->rlimits[i].max = rl.rlim_max;
	}
	return 0;
}

static int read_proc(struct collect_ctx *cx, const char *what, char **out)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/%s", cx->pid, what);
	r = read_file_at(AT_FDCWD, path, out, NULL);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	return 0;
}

static int readlink_proc(struct collect_ctx *cx, const char *what, char **out)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", cx->pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return collect_fail(cx, neg_errno(), "readlink %s", path);
	buf[n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static void collect_ids(struct collect_ctx *cx, struct process_record *p, const char *status,
			const struct proc_stat *st)
{
	uint64_t v;

	/* Pids as the program sees them: the innermost pid namespace. */
	p->pid = parse_status_last_u64(status, "NSpid", &v) == 0 ? (pid_t)v : st->pid;
	p->ppid = st->ppid;
	/* The parent as the program sees it: pid 1 is our init in the namespace. */
	if (cx->s->init_pid && st->ppid > 0 && pidns_inner_pid(st->ppid, &p->ppid) < 0)
		p->ppid = 0;
	p->pgid = parse_status_last_u64(status, "NSpgid", &v) == 0 ? (pid_t)v : st->pgrp;
	p->sid = parse_status_last_u64(status, "NSsid", &v) == 0 ? (pid_t)v : st->session;
	p->ctty_dev = st->tty_nr;
}

int collect_zombie(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *stat = NULL, *status = NULL;
	char path[64];
	struct proc_stat st;

	snprintf(path, sizeof(path), "/proc/%d/stat", cx->pid);
	if (read_file_at(AT_FDCWD, path, &stat, NULL) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/status", cx->pid);
	if (read_file_at(AT_FDCWD, path, &status, NULL) < 0 || parse_stat(stat, &st) < 0 ||
	    st.state != 'Z')
		return -ENOENT;
	p->real_pid = cx->pid;
	collect_ids(cx, p, status, &st);
	p->zombie = 1;
	p->exit_status = st.exit_code;
	snprintf(p->comm, sizeof(p->comm), "%s", "zombie");
	return 0;
}

/* Only the process can ask whether it is a child subreaper. */
static int collect_subreaper(struct collect_ctx *cx, struct process_record *p)
{
	uint64_t scratch;
	long ret;
	int flag = 0, r;

	r = collect_remote_scratch(cx, cx->pid, sizeof(int), &scratch);
	if (r == 0)
		r = collect_remote(cx, cx->pid, SYS_prctl, PR_GET_CHILD_SUBREAPER, scratch, 0, 0,
				   &ret);
	if (r == 0 && ret < 0)
		r = (int)ret;
	if (r == 0)
		r = collect_read_mem(cx, scratch, &flag, sizeof(flag));
	if (r < 0)
		return collect_fail(cx, r, "child subreaper");
	p->child_subreaper = !!flag;
	return 0;
}

/*
 * /proc/PID/cmdline reads the arguments through the mapping at arg_start; a
 * restored program once read 0 bytes there (cause not found yet): say so
 * when the image would already have them in no mapping.
 */
static void check_args_mapped(struct collect_ctx *cx, const struct process_record *p)
{
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (p->vmas[i].start <= p->mm.arg_start && p->mm.arg_end <= p->vmas[i].end)
			return;
	log_warn("pid %d: its arguments [0x%llx, 0x%llx) are in no mapping it has", cx->pid,
		 (unsigned long long)p->mm.arg_start, (unsigned long long)p->mm.arg_end);
}

static int collect_process_parts(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *stat = NULL, *status = NULL, *comm = NULL, *pers = NULL;
	struct proc_stat st;
	uint64_t v;
	int r;

	p->real_pid = cx->pid;
	r = read_proc(cx, "stat", &stat);
	if (r < 0)
		return r;
	r = read_proc(cx, "status", &status);
	if (r < 0)
		return r;
	if (parse_stat(stat, &st) < 0)
		return collect_fail(cx, -EINVAL, "/proc/%d/stat: unparsable", cx->pid);
	collect_ids(cx, p, status, &st);
	if (parse_status_u64(status, "Umask", 8, &v) == 0)
		p->umask = v;
	r = read_proc(cx, "comm", &comm);
	if (r < 0)
		return r;
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	if (read_proc(cx, "personality", &pers) == 0)
		p->personality = strtoull(pers, NULL, 16);
	r = readlink_proc(cx, "cwd", &p->cwd);
	if (r < 0)
		return r;
	r = collect_rlimits(cx, p);
	if (r < 0)
		return r;
	r = collect_creds(cx, p, status);
	if (r < 0)
		return r;
	r = collect_threads(cx, p);
	if (r < 0)
		return r;
	r = collect_mm(cx, p);
	if (r < 0)
		return r;
	r = collect_subreaper(cx, p);
	if (r < 0)
		return r;
	r = collect_sigactions(cx, p, status);
	if (r < 0)
		return r;
	r = collect_seccomp(cx, p, status);
	if (r < 0)
		return r;
	r = collect_itimers(cx, p);
	if (r < 0)
		return r;
	r = collect_posix_timers(cx, p);
	if (r < 0)
		return r;
	r = collect_vmas(cx, p);
	if (r < 0)
		return r;
	check_args_mapped(cx, p);
	return collect_fds(cx, p);
}

int collect_process(struct collect_ctx *cx, struct process_record *p)
{
	int r = collect_process_parts(cx, p);

	free(cx->writable);
	cx->writable = NULL;
	cx->nr_writable = 0;
	cx->writable_read = false;
	return r;
}
