/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "proto/image.h"
#include "restorer/fds.h"
#include "restorer/plan.h"
#include "restorer/release.h"
#include "restorer/restore.h"
#include "restorer/stub/plan.h"
#include "tracer/pidns.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define STUB_TIMEOUT_MS 120000
#define PID_BUSY_WAIT_MS 3000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int find_stub(char *out, size_t len)
{
	const char *env = getenv("TRACE_CKPT_STUB");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) == 0 ? 0 : neg_errno();
	}
	/* Uninstalled: the build tree has the stub beside src/cli. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(out, len, "%s/../restorer/stub/trace-ckpt-stub", self);
		if (access(out, X_OK) == 0)
			return 0;
	}
	snprintf(out, len, "%s/trace-ckpt-stub", TC_LIBEXECDIR);
	return access(out, X_OK) == 0 ? 0 : neg_errno();
}

/* clone3 with the saved pid; the old one may still be a zombie for a moment. */
static pid_t fork_with_pid(pid_t want)
{
	uint64_t deadline = now_ms() + PID_BUSY_WAIT_MS;

	for (;;) {
		struct clone_args args = {
			.exit_signal = SIGCHLD,
			.set_tid = (uint64_t)(uintptr_t)&want,
			.set_tid_size = 1,
		};
		long r = syscall(SYS_clone3, &args, sizeof(args));

		if (r >= 0 || errno != EEXIST || now_ms() >= deadline)
			return r < 0 ? -errno : (pid_t)r;
		usleep(10000);
	}
}

static int highest_fd(const struct process_record *p)
{
	int max = 2;

	for (size_t i = 0; i < p->nr_fds; i++)
		max = MAX(max, p->fds[i].fd);
	return max;
}

static int dup_high(int fd, int base)
{
	int n = fcntl(fd, F_DUPFD, base);

	return n < 0 ? neg_errno() : n;
}

struct child_fds {
	int image, exe, status, plan;
	int *vma;		/* per VMA of the process, -1 when anonymous */
	int *keep;		/* every fd the stub is handed */
	size_t nr_keep;
};

static int open_mapped_files(const struct process_record *p, struct child_fds *cf, int base,
			     char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];
		bool writable = v->kind == VMA_FILE_SHARED && (v->prot & 2 /* PROT_WRITE */);
		int fd;

		cf->vma[i] = -1;
		if (v->kind != VMA_FILE_SHARED &&
		    (v->kind != VMA_FILE_PRIVATE || (v->flags & VMA_F_DELETED)))
			continue;
		/* One fd per file is enough: reuse an earlier VMA's. */
		for (size_t k = 0; k < i; k++)
			if (cf->vma[k] >= 0 && !strcmp(p->vmas[k].path, v->path) &&
			    (p->vmas[k].kind == v->kind || !writable)) {
				cf->vma[i] = cf->vma[k];
				break;
			}
		if (cf->vma[i] >= 0 && !writable)
			continue;
		fd = open(v->path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "pid %d mapping 0x%llx-0x%llx: %s: %m", p->pid,
				 (unsigned long long)v->start, (unsigned long long)v->end,
				 v->path);
			return neg_errno();
		}
		cf->vma[i] = dup_high(fd, base);
		close(fd);
		if (cf->vma[i] < 0)
			return cf->vma[i];
		cf->keep[cf->nr_keep++] = cf->vma[i];
	}
	return 0;
}

static void close_all_but(const struct process_record *p, const struct child_fds *cf)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool keep = fd == dirfd(d) || de->d_name[0] == '.';

		for (size_t i = 0; !keep && i < p->nr_fds; i++)
			keep = p->fds[i].fd == fd;
		for (size_t i = 0; !keep && i < cf->nr_keep; i++)
			keep = cf->keep[i] == fd;
		if (!keep)
			close(fd);
	}
	closedir(d);
}

static void __attribute__((noreturn))
child_fail(int status_fd, int stderr_fd, uint32_t stage, int err, uint64_t addr, const char *msg)
{
	struct stub_status st = { .stage = stage, .err = err, .addr = addr };

	if (msg && stderr_fd >= 0)
		dprintf(stderr_fd, "trace-ckpt: error: %s\n", msg);
	(void)!write(status_fd, &st, sizeof(st));
	_exit(127);
}

/* In the new process: fds, cwd, then become the stub. */
static void __attribute__((noreturn))
child_build(const struct process_record *p, const char *stub, int status_fd)
{
	int base = highest_fd(p) + 1, stdio[3], r;
	char err[PATH_MAX + 256] = "";
	struct child_fds cf = { .image = -1, .exe = -1, .plan = -1 };
	struct plan_fds pf;
	char plan_arg[16];
	char *argv[] = { "trace-ckpt-stub", plan_arg, NULL };
	char *envp[] = { NULL };

	status_fd = dup_high(status_fd, base);
	if (status_fd < 0)
		_exit(127);
	for (int i = 0; i < 3; i++)
		stdio[i] = dup_high(i, base);
	cf.status = status_fd;
	cf.vma = malloc((p->nr_vmas + 1) * sizeof(int));
	cf.keep = malloc((p->nr_vmas + 8) * sizeof(int));
	if (!cf.vma || !cf.keep)
		child_fail(status_fd, stdio[2], STUB_ERR_FD, -ENOMEM, 0, "out of memory");

	r = restore_fds(p, stdio, err, sizeof(err));
	if (r < 0)
		child_fail(status_fd, stdio[2], STUB_ERR_FD, r, 0, err);
	if (chdir(p->cwd) < 0) {
		snprintf(err, sizeof(err), "pid %d: working directory %s: %m", p->pid, p->cwd);
		child_fail(status_fd, stdio[2], STUB_ERR_FD, neg_errno(), 0, err);
	}
	cf.image = open(p->core_path, O_RDONLY | O_CLOEXEC);
	cf.exe = open(p->mm.exe, O_RDONLY | O_CLOEXEC);
	if (cf.image < 0 || cf.exe < 0) {
		snprintf(err, sizeof(err), "pid %d: %s: %m", p->pid,
			 cf.image < 0 ? p->core_path : p->mm.exe);
		child_fail(status_fd, stdio[2], STUB_ERR_FD, neg_errno(), 0, err);
	}
	cf.image = dup_high(cf.image, base);
	cf.exe = dup_high(cf.exe, base);
	cf.keep[cf.nr_keep++] = status_fd;
	cf.keep[cf.nr_keep++] = cf.image;
	cf.keep[cf.nr_keep++] = cf.exe;
	r = open_mapped_files(p, &cf, base, err, sizeof(err));
	if (r < 0)
		child_fail(status_fd, stdio[2], STUB_ERR_FD, r, 0, err);

	pf = (struct plan_fds){
		.image_fd = cf.image,
		.status_fd = status_fd,
		.exe_fd = cf.exe,
		.vma_fds = cf.vma,
	};
	r = plan_build(p, &pf, &cf.plan);
	if (r < 0) {
		snprintf(err, sizeof(err), "pid %d: restore plan: %s", p->pid, strerror(-r));
		child_fail(status_fd, stdio[2], STUB_ERR_PLAN, r, 0, err);
	}
	cf.keep[cf.nr_keep++] = cf.plan;
	snprintf(plan_arg, sizeof(plan_arg), "%d", cf.plan);
	close_all_but(p, &cf);
	umask(p->umask);
	execve(stub, argv, envp);
	snprintf(err, sizeof(err), "pid %d: exec %s: %m", p->pid, stub);
	child_fail(status_fd, -1, STUB_ERR_PLAN, neg_errno(), 0, NULL);
}

static const char *stage_name(uint32_t stage)
{
	static const char *const names[] = {
		[STUB_READY] = "ready", [STUB_ERR_PLAN] = "plan",
		[STUB_ERR_HOLE] = "finding a hole for the stub",
		[STUB_ERR_SPECIAL] = "moving vdso/vvar", [STUB_ERR_MMAP] = "mapping",
		[STUB_ERR_READ] = "reading pages", [STUB_ERR_MPROTECT] = "mprotect",
		[STUB_ERR_MM] = "prctl(PR_SET_MM_MAP)", [STUB_ERR_SIGACTION] = "sigaction",
		[STUB_ERR_ITIMER] = "itimer", [STUB_ERR_RLIMIT] = "rlimit",
		[STUB_ERR_SIGNAL] = "pending signals", [STUB_ERR_FD] = "fds",
		[STUB_ERR_THREAD] = "threads", [STUB_ERR_PROC] = "comm/umask",
	};

	return stage < ARRAY_SIZE(names) && names[stage] ? names[stage] : "?";
}

static int wait_stub(pid_t pid, int status_fd, struct stub_status *st)
{
	struct pollfd pfd = { .fd = status_fd, .events = POLLIN };
	int r = poll(&pfd, 1, STUB_TIMEOUT_MS);

	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return neg_errno();
	r = read_full(status_fd, st, sizeof(*st));
	if (r < 0) {
		log_debug("pid %d: stub status: %s", pid, strerror(-r));
		return -ECHILD;
	}
	return 0;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, __WALL);
}

struct build_args {
	const struct process_record *p;
	const char *stub;
	int status_fd;
};

static void build_in_pidns(void *opaque)
{
	const struct build_args *a = opaque;

	child_build(a->p, a->stub, a->status_fd);
}

/* The process as the first one of a new pid namespace, under our init. */
static pid_t fork_in_pidns(struct session *s, const struct process_record *p, const char *stub,
			   int status_fd)
{
	struct build_args args = { .p = p, .stub = stub, .status_fd = status_fd };
	int keep[] = { status_fd, -1 };
	pid_t pid;
	int r;

	r = pidns_start(p->pid, build_in_pidns, &args, keep, &s->init_pid);
	if (r < 0)
		return r;
	r = pidns_first_child(s->init_pid, &pid, 5000);
	if (r < 0) {
		kill(s->init_pid, SIGKILL);
		waitpid(s->init_pid, NULL, 0);
		s->init_pid = 0;
		return r;
	}
	return pid;
}

static int restore_process(struct session *s, const struct computation *c,
			   const struct process_record *p, const char *stub, char *err,
			   size_t errlen)
{
	struct stub_status st;
	int pipefd[2], r;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return neg_errno();
	if (c->flags & TC_COMP_F_PIDNS) {
		pid = fork_in_pidns(s, p, stub, pipefd[1]);
		if (pid < 0) {
			close(pipefd[0]);
			close(pipefd[1]);
			snprintf(err, errlen, "pid %d: new pid namespace: %s", p->pid, strerror(-pid));
			return pid;
		}
	} else {
		pid = fork_with_pid(p->pid);
	}
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		if (pid == -EEXIST)
			snprintf(err, errlen, "pid %d is in use", p->pid);
		else
			snprintf(err, errlen, "pid %d: clone3: %s", p->pid, strerror(-pid));
		return pid;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_build(p, stub, pipefd[1]);
	}
	close(pipefd[1]);
	r = wait_stub(pid, pipefd[0], &st);
	close(pipefd[0]);
	if (r == 0 && st.stage != STUB_READY) {
		r = st.err < 0 ? st.err : -EIO;
		if (st.stage == STUB_ERR_FD || !err[0])
			snprintf(err, errlen, "pid %d: %s at 0x%llx: %s", p->pid,
				 stage_name(st.stage), (unsigned long long)st.addr, strerror(-r));
	} else if (r < 0) {
		snprintf(err, errlen, "pid %d: the stub %s", p->pid,
			 r == -ETIMEDOUT ? "timed out" : "died before it was ready");
	}
	if (r < 0) {
		kill_and_reap(pid);
		return r;
	}
	r = stub_release(pid, &st, SESSION_PTRACE_OPTIONS);
	if (r < 0) {
		snprintf(err, errlen, "pid %d: releasing the restored process: %s", p->pid,
			 strerror(-r));
		kill_and_reap(pid);
		return r;
	}
	if (!session_add(s, pid, pid)) {
		kill_and_reap(pid);
		return -ENOMEM;
	}
	session_find(s, pid)->new_child = false;
	session_find(s, pid)->state = TRACEE_STOPPED;
	if (!s->root)
		s->root = pid;
	return 0;
}

int restore_computation(struct session *s, const char *dir, char *err, size_t errlen)
{
	struct computation *c = NULL;
	char stub[PATH_MAX];
	int r;

	err[0] = '\0';
	r = find_stub(stub, sizeof(stub));
	if (r < 0) {
		snprintf(err, errlen, "cannot find trace-ckpt-stub (set TRACE_CKPT_STUB): %s",
			 strerror(-r));
		return r;
	}
	r = image_read(dir, &c, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	if (c->nr_procs != 1) {
		snprintf(err, errlen, "%s: %zu processes: only single-process images can be restored yet",
			 dir, c->nr_procs);
		r = -EOPNOTSUPP;
		goto out;
	}
	for (size_t i = 0; i < c->nr_procs; i++) {
		r = restore_process(s, c, &c->procs[i], stub, err, errlen);
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* Nothing half-built stays behind. */
		for (size_t i = 0; i < s->nr_tracees; i++)
			kill(s->tracees[i].tid, SIGKILL);
		for (size_t i = 0; i < s->nr_tracees; i++)
			waitpid(s->tracees[i].tid, NULL, __WALL);
		s->nr_tracees = 0;
		s->root = 0;
		if (s->init_pid) {
			kill(s->init_pid, SIGKILL);
			waitpid(s->init_pid, NULL, 0);
			s->init_pid = 0;
		}
		goto out;
	}
	s->generation = c->generation;
	free(s->cmdline);
	s->cmdline = strdup(c->cmdline ? c->cmdline : "");
	/* Everything is in place: let the computation go on. */
	session_thaw(s);
out:
	computation_destroy(c);
	return r;
}
