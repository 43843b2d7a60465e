/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "restorer/release.h"
#include "tracer/remote.h"
#include "util/log.h"
#include "util/macro.h"

/* The stub reports before it closes the status fd and parks: give it time. */
#define PARK_TRIES 2000
#define PARK_WAIT_NS 1000000

static int wait_stopped(pid_t pid, int *status)
{
	pid_t r;

	do {
		r = waitpid(pid, status, __WALL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return log_ret(neg_errno(), "pid %d: waitpid: %m", pid);
	if (WIFEXITED(*status))
		return log_ret(-ESRCH, "pid %d: the stub exited with %d", pid, WEXITSTATUS(*status));
	if (WIFSIGNALED(*status))
		return log_ret(-ESRCH, "pid %d: the stub was killed by signal %d", pid,
			       WTERMSIG(*status));
	return 0;
}

/* Interrupt the stub until the stop finds it parked in pause(). */
static int stop_parked(pid_t pid)
{
	struct timespec ts = { 0, PARK_WAIT_NS };
	struct user_regs_struct regs;
	int status, r;

	for (int i = 0; i < PARK_TRIES; i++) {
		if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0)
			return log_ret(neg_errno(), "pid %d: PTRACE_INTERRUPT: %m", pid);
		r = wait_stopped(pid, &status);
		if (r < 0)
			return r;
		if (status >> 16 != PTRACE_EVENT_STOP)
			return log_ret(-EIO, "pid %d: stub: unexpected stop (status 0x%x)", pid,
				       status);
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
			return log_ret(neg_errno(), "pid %d: PTRACE_GETREGS: %m", pid);
		if (regs.orig_rax == SYS_pause)
			return 0;
		if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
			return log_ret(neg_errno(), "pid %d: PTRACE_CONT: %m", pid);
		nanosleep(&ts, NULL);
	}
	return log_ret(-ETIMEDOUT, "pid %d: the stub does not park", pid);
}

/* Resume to the next syscall stop and check it is the one expected. */
static int syscall_stop(pid_t pid, uint8_t op)
{
	struct __ptrace_syscall_info info;
	int status, r;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_SYSCALL: %m", pid);
	r = wait_stopped(pid, &status);
	if (r < 0)
		return r;
	if (!WIFSTOPPED(status) || (WSTOPSIG(status) & 0x7f) != SIGTRAP || status >> 16)
		return log_ret(-EIO, "pid %d: rt_sigreturn: unexpected stop (status 0x%x)", pid,
			       status);
	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_GET_SYSCALL_INFO: %m", pid);
	if (info.op != op || (op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr != SYS_rt_sigreturn)) {
		siginfo_t si = { 0 };

		ptrace(PTRACE_GETSIGINFO, pid, NULL, &si);
		return log_ret(-EIO, "pid %d: rt_sigreturn: stop %u instead of %u (signal %d,"
			       " code %d, ip 0x%llx)", pid, info.op, op, si.si_signo, si.si_code,
			       (unsigned long long)info.instruction_pointer);
	}
	return 0;
}

int stub_release(pid_t pid, const struct stub_status *st, unsigned long ptrace_options)
{
	long args[6] = { (long)st->unmap_start, (long)st->unmap_len };
	struct user_regs_struct regs;
	long ret;
	int r;

	if (st->stage != STUB_READY)
		return -EINVAL;
	if (!st->syscall_insn)
		return log_ret(-ENOENT, "pid %d: no syscall instruction in the restored [vdso]", pid);
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)ptrace_options) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_SEIZE: %m", pid);
	r = stop_parked(pid);
	if (r < 0)
		return r;

	r = remote_syscall(pid, st->syscall_insn, SYS_munmap, args, &ret);
	if (r < 0)
		return r;
	if (ret < 0)
		return log_ret((int)ret, "pid %d: munmap of the stub at 0x%" PRIx64 ": %s", pid,
			       st->unmap_start, strerror((int)-ret));

	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_GETREGS: %m", pid);
	regs.rsp = st->frame_sp;
	regs.rip = st->syscall_insn;
	regs.rax = SYS_rt_sigreturn;
	regs.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_SETREGS: %m", pid);
	/* PTRACE_GET_SYSCALL_INFO tells syscall stops apart only with it. */
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(ptrace_options | PTRACE_O_TRACESYSGOOD)) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_SETOPTIONS: %m", pid);
	r = syscall_stop(pid, PTRACE_SYSCALL_INFO_ENTRY);
	if (r < 0)
		return r;
	r = syscall_stop(pid, PTRACE_SYSCALL_INFO_EXIT);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)ptrace_options) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_SETOPTIONS: %m", pid);

	/* A bad frame leaves the registers as they were and queues SIGSEGV. */
	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_GETREGS: %m", pid);
	if (regs.rsp == st->frame_sp && regs.rip == st->syscall_insn + 2)
		return log_ret(-EFAULT, "pid %d: rt_sigreturn refused the frame at 0x%" PRIx64,
			       pid, st->frame_sp);
	return 0;
}
