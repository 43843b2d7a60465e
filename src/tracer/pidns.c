/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer/pidns.h"
#include "tracer/procfs.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

/* All but 0-2 and keep (the child's own copy of the list: sorted in place). */
static void close_others(const int *keep)
{
	size_t n = 0;

	while (keep && keep[n] >= 0)
		n++;
	close_all_except(3, (int *)keep, n);
}

static long clone3_flags(uint64_t flags, pid_t *set_tid)
{
	struct clone_args args = {
		.flags = flags,
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)set_tid,
		.set_tid_size = set_tid ? 1 : 0,
	};

	return syscall(SYS_clone3, &args, sizeof(args));
}

pid_t clone_with_pid(pid_t want)
{
	PRIV_SCOPE(CAP_CHECKPOINT_RESTORE);
	long r = clone3_flags(0, want > 0 ? &want : NULL);

	return r < 0 ? -errno : (pid_t)r;
}

/* pid 1: reap everything; leave with the main child's status. */
static void __attribute__((noreturn)) init_main(pid_t (*spawn)(void *), void *arg)
{
	sigset_t all;
	pid_t child;
	int status;

	prctl(PR_SET_NAME, "trace-ckpt-init");
	/* Our own /proc, so the program's pids and /proc agree. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		log_warn("pid namespace: mounting /proc: %m");
	/* What init does from here needs no capability of the host. */
	priv_lower_all();
	child = spawn(arg);
	if (child < 0)
		_exit(127);
	/* Init holds nothing: pipes it kept for the children must see EOF. */
	close_others(NULL);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			_exit(0);
		if (pid != child)
			continue;
		/* pid 1 cannot die of a signal from inside; say which it was. */
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

int pidns_start(pid_t (*spawn)(void *arg), void *arg, const int *keep_fds, pid_t *init_pid)
{
	PRIV_SCOPE(CAP_SYS_ADMIN);
	long pid = clone3_flags(CLONE_NEWPID | CLONE_NEWNS, NULL);

	if (pid < 0)
		return log_ret(neg_errno(), "new pid namespace: clone3: %m");
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close_others(keep_fds);
		init_main(spawn, arg);
	}
	*init_pid = pid;
	return 0;
}

static int find_outer(pid_t parent, pid_t inner, pid_t *outer, int depth)
{
	_cleanup_free_ char *children = NULL;
	char path[96];
	char *p, *end;

	if (depth > 64)
		return -ELOOP;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	if (read_file_at(AT_FDCWD, path, &children, NULL) < 0)
		return -ENOENT;
	for (p = children;; p = end) {
		pid_t child = strtol(p, &end, 10), in;

		if (end == p)
			break;
		if (pidns_inner_pid(child, &in) == 0 && in == inner) {
			*outer = child;
			return 0;
		}
		if (find_outer(child, inner, outer, depth + 1) == 0)
			return 0;
	}
	return -ENOENT;
}

int pidns_outer_pid(pid_t init_pid, pid_t inner, pid_t *outer)
{
	return find_outer(init_pid, inner, outer, 0);
}

int pidns_first_child(pid_t init_pid, pid_t *child, int timeout_ms)
{
	char path[96];
	struct timespec ts = { 0, 1000000 };

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", init_pid, init_pid);
	for (int waited = 0; waited <= timeout_ms; waited++) {
		_cleanup_free_ char *buf = NULL;
		int r = read_file_at(AT_FDCWD, path, &buf, NULL);

		if (r < 0)
			return r;
		if (buf[0]) {
			*child = strtol(buf, NULL, 10);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int pidns_inner_pid(pid_t pid, pid_t *inner)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	uint64_t v;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	r = read_file_at(AT_FDCWD, path, &status, NULL);
	if (r < 0)
		return r;
	r = parse_status_last_u64(status, "NSpid", &v);
	if (r < 0)
		return r;
	*inner = (pid_t)v;
	return 0;
}
