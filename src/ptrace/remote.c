/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "ptrace/vdso_scan.h"
#include "ptrace/remote.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define RED_ZONE 128
#define VDSO_MAX (1u << 20)

int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return neg_errno();
	return (size_t)n == len ? 0 : -EFAULT;
}

int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return neg_errno();
	return (size_t)n == len ? 0 : -EFAULT;
}

#define STEP_TRIES 8

/*
 * Wait for the single-step trap of a step already started.  A
 * PTRACE_INTERRUPT stop that was still due may come first: it is consumed
 * and the step resumed (the trap of a completed step is pending then, so it
 * stops the thread before any further instruction).  Any other stop is
 * somebody else's.
 */
/* cloned: where a child the call makes goes (its PTRACE_EVENT_CLONE/FORK stop); NULL: none expected. */
static int step_wait(pid_t tid, pid_t *cloned)
{
	bool resumed = true;
	int status;
	pid_t r;

	for (int i = 0; i < STEP_TRIES; i++) {
		if (!resumed && ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0)
			return log_ret(neg_errno(), "tid %d: PTRACE_SINGLESTEP: %m", tid);
		resumed = false;
		do {
			r = waitpid(tid, &status, __WALL);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			return log_ret(neg_errno(), "tid %d: waitpid: %m", tid);
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return log_ret(-ESRCH, "tid %d: died during a remote system call", tid);
		if (WIFSTOPPED(status) && (status >> 8) == SIGTRAP)
			return 0;
		if (cloned && WIFSTOPPED(status) &&
		    ((status >> 8) == (SIGTRAP | PTRACE_EVENT_CLONE << 8) ||
		     (status >> 8) == (SIGTRAP | PTRACE_EVENT_FORK << 8))) {
			unsigned long msg = 0;

			if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) < 0)
				return log_ret(neg_errno(), "tid %d: PTRACE_GETEVENTMSG: %m", tid);
			*cloned = (pid_t)msg;
			/* The step goes on to the call's return. */
			i--;
			continue;
		}
		if (!WIFSTOPPED(status) || status >> 8 != (SIGTRAP | PTRACE_EVENT_STOP << 8))
			break;
	}
	log_err("tid %d: remote system call: unexpected stop (status 0x%x)", tid, status);
	return -EINTR;
}

/*
 * After a single-step the trap flag stays armed until the thread is resumed:
 * a tracer that dies now (SIGKILL) leaves the kernel to let it go, and it
 * would take a SIGTRAP at its next instruction.  Only a resume disarms it,
 * so resume it into a stop: the interrupt asked first is taken in the same
 * pass through the signal code, before any instruction of the program runs.
 * Started here, waited for in disarm_wait: many threads at once.
 */
static int disarm_start(pid_t tid)
{
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		return log_ret(neg_errno(), "tid %d: PTRACE_INTERRUPT: %m", tid);
	if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
		return log_ret(neg_errno(), "tid %d: PTRACE_CONT: %m", tid);
	return 0;
}

static int disarm_wait(pid_t tid)
{
	int status;
	pid_t r;

	do {
		r = waitpid(tid, &status, __WALL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return log_ret(neg_errno(), "tid %d: waitpid: %m", tid);
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return log_ret(-ESRCH, "tid %d: died after a remote system call", tid);
	if (!WIFSTOPPED(status) || status >> 16 != PTRACE_EVENT_STOP) {
		log_err("tid %d: after a remote system call: unexpected stop (status 0x%x)", tid,
			status);
		return -EINTR;
	}
	return 0;
}

/* One thread of remote_calls: what it had, and how far it got. */
struct call_thread {
	struct user_regs_struct saved;
	uint64_t mask;
	int r;			/* the first failure of its ptrace work */
	bool touched;		/* registers or mask changed: to be put back */
	bool stepping;		/* a single-step under way */
	bool disarming;		/* a disarm under way */
	bool dead;		/* nothing to put back */
};

static void call_failed(struct call_thread *c, int r)
{
	if (!c->r)
		c->r = r;
}

/* Set up call k in a thread and start its step. */
static void call_start(pid_t tid, struct call_thread *c, uint64_t syscall_insn,
		       const struct remote_call *call)
{
	struct user_regs_struct regs = c->saved;
	const long *args = call->args;

	regs.rip = syscall_insn;
	regs.rax = (uint64_t)call->nr;
	/* No restart fix-up of the call the thread was stopped in. */
	regs.orig_rax = (uint64_t)-1;
	regs.rdi = (uint64_t)args[0];
	regs.rsi = (uint64_t)args[1];
	regs.rdx = (uint64_t)args[2];
	regs.r10 = (uint64_t)args[3];
	regs.r8 = (uint64_t)args[4];
	regs.r9 = (uint64_t)args[5];
	if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
		call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_SETREGS: %m", tid));
	else if (ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0)
		call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_SINGLESTEP: %m", tid));
	else
		c->stepping = true;
}

static void call_finish(pid_t tid, struct call_thread *c, uint64_t syscall_insn,
			struct remote_call *call, pid_t *cloned)
{
	struct user_regs_struct regs;
	int r = step_wait(tid, cloned);

	c->stepping = false;
	/* -ESRCH: it died, nothing to put back. */
	c->dead = r == -ESRCH;
	if (r < 0)
		call_failed(c, r);
	else if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_GETREGS: %m", tid));
	else if (regs.rip != syscall_insn + 2)
		call_failed(c, log_ret(-EIO, "tid %d: remote system call %ld at 0x%" PRIx64
				       " stopped at 0x%llx", tid, call->nr, syscall_insn, regs.rip));
	else
		call->ret = (long)regs.rax;
}

static void call_restore(pid_t tid, struct call_thread *c)
{
	int r = 0;

	if (!c->touched || c->dead)
		return;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &c->saved) < 0)
		r = log_ret(neg_errno(), "tid %d: restoring registers: %m", tid);
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(c->mask), &c->mask) < 0)
		r = log_ret(neg_errno(), "tid %d: restoring the signal mask: %m", tid);
	if (r == 0)
		r = disarm_start(tid);
	if (r < 0)
		call_failed(c, r);
	else
		c->disarming = true;
}

/*
 * The calls in a row in every thread of tids: each thread's registers and
 * mask saved once and put back once, its single-step trap disarmed once.
 * Each stage is started in every thread before it is waited for in the
 * first: the threads' work and the switches to them and back overlap, where
 * one thread after the other would wait for each in turn (1,000 threads:
 * most of a freeze).  calls holds n calls for each thread, one row after the
 * other; errs[i] gets thread i's 0 or -errno.  A thread that fails has its
 * state put back all the same and takes no further call.
 */
static int remote_calls(const pid_t *tids, size_t nt, uint64_t syscall_insn,
			struct remote_call *calls, size_t n, pid_t *cloned, int *errs)
{
	_cleanup_free_ struct call_thread *ct = calloc(nt, sizeof(*ct));
	uint64_t all = ~0ull;
	int first = 0;

	if (!ct) {
		for (size_t i = 0; i < nt; i++)
			errs[i] = -ENOMEM;
		return -ENOMEM;
	}
	for (size_t i = 0; i < nt; i++) {
		struct call_thread *c = &ct[i];
		pid_t tid = tids[i];

		if (ptrace(PTRACE_GETREGS, tid, NULL, &c->saved) < 0)
			call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_GETREGS: %m", tid));
		else if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(c->mask), &c->mask) < 0)
			call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_GETSIGMASK: %m", tid));
		/* Nothing may be delivered between the step and putting things back. */
		else if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all) < 0)
			call_failed(c, log_ret(neg_errno(), "tid %d: PTRACE_SETSIGMASK: %m", tid));
		else
			c->touched = true;
	}
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < nt; i++)
			if (!ct[i].r)
				call_start(tids[i], &ct[i], syscall_insn, &calls[i * n + k]);
		for (size_t i = 0; i < nt; i++)
			if (ct[i].stepping)
				call_finish(tids[i], &ct[i], syscall_insn, &calls[i * n + k], cloned);
	}
	for (size_t i = 0; i < nt; i++)
		call_restore(tids[i], &ct[i]);
	for (size_t i = 0; i < nt; i++) {
		if (ct[i].disarming) {
			int r = disarm_wait(tids[i]);

			if (r < 0)
				call_failed(&ct[i], r);
		}
		errs[i] = ct[i].r;
		if (!first)
			first = ct[i].r;
	}
	return first;
}

int remote_syscalls(pid_t tid, uint64_t syscall_insn, struct remote_call *calls, size_t n)
{
	int err;

	return remote_calls(&tid, 1, syscall_insn, calls, n, NULL, &err);
}

int remote_syscalls_threads(const pid_t *tids, size_t nt, uint64_t syscall_insn,
			    struct remote_call *calls, size_t n, int *errs)
{
	return remote_calls(tids, nt, syscall_insn, calls, n, NULL, errs);
}

int remote_syscall(pid_t tid, uint64_t syscall_insn, long nr, const long args[6], long *ret)
{
	struct remote_call c = { .nr = nr };
	int err, r;

	memcpy(c.args, args, sizeof(c.args));
	r = remote_calls(&tid, 1, syscall_insn, &c, 1, NULL, &err);
	if (r == 0)
		*ret = c.ret;
	return r;
}

int remote_clone_stopped(pid_t tid, uint64_t syscall_insn, unsigned long flags, pid_t *child)
{
	struct remote_call call = { .nr = SYS_clone, .args = { (long)flags } };
	struct user_regs_struct regs;
	pid_t c = 0;
	long ret;
	int err, status, r = remote_calls(&tid, 1, syscall_insn, &call, 1, &c, &err);

	ret = call.ret;

	if (r == 0 && ret < 0)
		r = (int)ret;
	if (r == 0 && c <= 0)
		r = log_ret(-EIO, "tid %d: remote clone: no PTRACE_EVENT_CLONE (returned %ld)", tid, ret);
	if (r < 0)
		return r;
	/* Seized by inheritance: it starts in a stop, before its first instruction. */
	while (waitpid(c, &status, __WALL) < 0)
		if (errno != EINTR)
			return log_ret(neg_errno(), "pid %d (a clone of %d): waitpid: %m", c, tid);
	if (!WIFSTOPPED(status)) {
		log_err("pid %d (a clone of %d): not stopped (status 0x%x)", c, tid, status);
		return -ESRCH;
	}
	/* Should it ever run (its tracer gone), its first act is to exit. */
	if (ptrace(PTRACE_GETREGS, c, NULL, &regs) == 0) {
		regs.rip = syscall_insn;
		regs.rax = SYS_exit_group;
		regs.orig_rax = (uint64_t)-1;
		regs.rdi = 0;
		ptrace(PTRACE_SETREGS, c, NULL, &regs);
	}
	*child = c;
	return 0;
}

/* [start, end) of the first line of /proc/TID/maps that satisfies want(). */
static int find_mapping(pid_t tid, bool (*want)(const char *line, uint64_t s, uint64_t e, void *arg),
			void *arg, uint64_t *start, uint64_t *end)
{
	_cleanup_free_ char *buf = NULL;
	char path[64], *line, *save = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	r = read_file_at(AT_FDCWD, path, &buf, &len);
	if (r < 0)
		return log_ret(r, "tid %d: %s: %s", tid, path, strerror(-r));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		if (want(line, s, e, arg)) {
			*start = s;
			*end = e;
			return 0;
		}
	}
	return -ENOENT;
}

static bool is_vdso(const char *line, uint64_t s, uint64_t e, void *arg)
{
	size_t n = strlen(line);

	(void)s;
	(void)e;
	(void)arg;
	return n >= 6 && !strcmp(line + n - 6, "[vdso]");
}

int remote_find_syscall_insn(pid_t pid, uint64_t *addr)
{
	_cleanup_free_ uint8_t *img = NULL;
	uint64_t start, end;
	long off;
	int r;

	r = find_mapping(pid, is_vdso, NULL, &start, &end);
	if (r == -ENOENT)
		return log_ret(r, "pid %d: no [vdso] to make system calls from", pid);
	if (r < 0)
		return r;
	if (end - start > VDSO_MAX)
		return log_ret(-EFBIG, "pid %d: [vdso] of %" PRIu64 " bytes", pid, end - start);
	img = malloc(end - start);
	if (!img)
		return -ENOMEM;
	r = remote_read(pid, start, img, end - start);
	if (r < 0)
		return log_ret(r, "pid %d: reading [vdso] at 0x%" PRIx64 ": %s", pid, start,
			       strerror(-r));
	off = vdso_find_syscall(img, end - start);
	if (off < 0)
		return log_ret(-ENOENT, "pid %d: no syscall instruction in [vdso]", pid);
	*addr = start + (uint64_t)off;
	return 0;
}

struct range {
	uint64_t start, end;
};

static bool holds_range(const char *line, uint64_t s, uint64_t e, void *arg)
{
	const struct range *want = arg;
	char perms[8];

	if (s > want->start || e < want->end)
		return false;
	return sscanf(line, "%*x-%*x %7s", perms) == 1 && perms[1] == 'w';
}

int remote_scratch_range(pid_t tid, size_t len, uint64_t *start, uint64_t *end)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "tid %d: PTRACE_GETREGS: %m", tid);
	if (regs.rsp < RED_ZONE + len + 16)
		return log_ret(-ENOSPC, "tid %d: no stack for %zu bytes of scratch", tid, len);
	*end = regs.rsp - RED_ZONE;
	*start = ALIGN_DOWN(*end - len, 16);
	return 0;
}

int remote_scratch(pid_t tid, size_t len, uint64_t *addr)
{
	struct range want;
	uint64_t s, e;
	int r;

	r = remote_scratch_range(tid, len, &want.start, &want.end);
	if (r < 0)
		return r;
	r = find_mapping(tid, holds_range, &want, &s, &e);
	if (r == -ENOENT)
		return log_ret(-ENOSPC, "tid %d: no writable stack at 0x%" PRIx64 " for %zu bytes"
			       " of scratch", tid, want.start, len);
	if (r < 0)
		return r;
	*addr = want.start;
	return 0;
}
