/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
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
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "restorer/release.h"
#include "ptrace/remote.h"
#include "ptrace/seize.h"
#include "util/fileio.h"
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
/*
 * The release is done a stage at a time over every thread of the process:
 * each stage is started in all of them before it is waited for in the
 * first, so that their work and the switches to them overlap (1,000
 * threads, one after the other: a tenth of a second, most of it waiting).
 */

/* Where thread tid stopped after an interrupt: its orig_rax. */
static int interrupted_in(pid_t tid, unsigned long long *orig_rax)
{
	struct user_regs_struct regs;
	int status, r = wait_stopped(tid, &status);

	if (r < 0)
		return r;
	if (status >> 16 != PTRACE_EVENT_STOP)
		return log_ret(-EIO, "pid %d: stub: unexpected stop (status 0x%x)", tid, status);
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_GETREGS: %m", tid);
	*orig_rax = regs.orig_rax;
	return 0;
}

/* Every thread stopped in the stub's pause; one stopped elsewhere goes on a moment more. */
static int park_all(struct stub_release_job *jobs, size_t nr, size_t *failed)
{
	size_t total = 0, left, at;
	_cleanup_free_ bool *parked = NULL;
	int r;

	for (size_t j = 0; j < nr; j++)
		total += jobs[j].n;
	parked = calloc(total ? total : 1, sizeof(*parked));
	if (!parked)
		return -ENOMEM;
	left = total;
	for (int tries = 0; left && tries < PARK_TRIES; tries++) {
		struct timespec ts = { 0, PARK_WAIT_NS };

		at = 0;
		for (size_t j = 0; j < nr; j++)
			for (size_t k = 0; k < jobs[j].n; k++, at++) {
				pid_t tid = jobs[j].outer_tids[k];

				if (parked[at] || (r = ptrace_interrupt_thread(tid)) == 0)
					continue;
				*failed = j;
				return log_ret(r, "pid %d tid %d: PTRACE_INTERRUPT: %s", jobs[j].pid,
					       tid, strerror(-r));
			}
		at = 0;
		for (size_t j = 0; j < nr; j++)
			for (size_t k = 0; k < jobs[j].n; k++, at++) {
				pid_t tid = jobs[j].outer_tids[k];
				unsigned long long orig_rax;

				if (parked[at])
					continue;
				*failed = j;
				r = interrupted_in(tid, &orig_rax);
				if (r < 0)
					return log_ret(r, "pid %d tid %d: the stub's thread does not "
						       "stop parked", jobs[j].pid, tid);
				if (orig_rax == SYS_pause) {
					parked[at] = true;
					left--;
				} else if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0) {
					return log_ret(neg_errno(), "pid %d tid %d: PTRACE_CONT: %m",
						       jobs[j].pid, tid);
				}
			}
		if (left)
			nanosleep(&ts, NULL);
	}
	at = 0;
	for (size_t j = 0; j < nr && left; j++)
		for (size_t k = 0; k < jobs[j].n; k++, at++)
			if (!parked[at]) {
				*failed = j;
				return log_ret(-ETIMEDOUT, "pid %d tid %d: the stub's thread does "
					       "not park", jobs[j].pid, jobs[j].outer_tids[k]);
			}
	return 0;
}

/* The syscall stop (op: entry or exit) of an rt_sigreturn that tid was sent into. */
static int sigreturn_stop(pid_t tid, uint8_t op)
{
	struct __ptrace_syscall_info info;
	int status, r;

	r = wait_stopped(tid, &status);
	if (r < 0)
		return r;
	if (!WIFSTOPPED(status) || (WSTOPSIG(status) & 0x7f) != SIGTRAP || status >> 16)
		return log_ret(-EIO, "pid %d: rt_sigreturn: unexpected stop (status 0x%x)", tid,
			       status);
	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) < 0)
		return log_ret(neg_errno(), "pid %d: PTRACE_GET_SYSCALL_INFO: %m", tid);
	if (info.op != op || (op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr != SYS_rt_sigreturn)) {
		siginfo_t si = { 0 };

		ptrace(PTRACE_GETSIGINFO, tid, NULL, &si);
		return log_ret(-EIO, "pid %d: rt_sigreturn: stop %u instead of %u (signal %d,"
			       " code %d, ip 0x%llx)", tid, info.op, op, si.si_signo, si.si_code,
			       (unsigned long long)info.instruction_pointer);
	}
	return 0;
}

/*
 * Each thread leaves the stub by rt_sigreturn from the frame the stub built
 * for it, through its syscall entry and exit stops (PTRACE_O_TRACESYSGOOD:
 * so PTRACE_GET_SYSCALL_INFO tells them apart), where it stays, stopped.
 */
static int sigreturn_start(pid_t pid, pid_t tid, uint64_t frame_sp, uint64_t insn,
			   unsigned long ptrace_options)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_GETREGS: %m", pid, tid);
	regs.rsp = frame_sp;
	regs.rip = insn;
	regs.rax = SYS_rt_sigreturn;
	/* No restart of the call it was stopped in (the stub's pause). */
	regs.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_SETREGS: %m", pid, tid);
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL,
		   (void *)(ptrace_options | PTRACE_O_TRACESYSGOOD)) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_SETOPTIONS: %m", pid, tid);
	if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_SYSCALL: %m", pid, tid);
	return 0;
}

static int sigreturn_entered(pid_t tid)
{
	int r = sigreturn_stop(tid, PTRACE_SYSCALL_INFO_ENTRY);

	if (r == 0 && ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
		r = log_ret(neg_errno(), "pid %d: PTRACE_SYSCALL: %m", tid);
	return r;
}

static int sigreturn_done(pid_t pid, pid_t tid, uint64_t frame_sp, uint64_t insn,
			  unsigned long ptrace_options)
{
	struct user_regs_struct regs;
	int r = sigreturn_stop(tid, PTRACE_SYSCALL_INFO_EXIT);

	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)ptrace_options) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_SETOPTIONS: %m", pid, tid);
	/* A bad frame leaves the registers as they were and queues SIGSEGV. */
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return log_ret(neg_errno(), "pid %d tid %d: PTRACE_GETREGS: %m", pid, tid);
	if (regs.rsp == frame_sp && regs.rip == insn + 2)
		return log_ret(-EFAULT, "pid %d tid %d: rt_sigreturn refused the frame at 0x%"
			       PRIx64, pid, tid, frame_sp);
	return 0;
}

int stub_read_threads(pid_t pid, const struct stub_status *st, struct stub_thread_status **out)
{
	struct stub_thread_status *ts;
	int r;

	*out = NULL;
	if (st->stage != STUB_READY)
		return -EINVAL;
	if (!st->nr_threads || st->nr_threads > STUB_MAX_THREADS || !st->threads_addr)
		return log_ret(-EINVAL, "pid %d: the stub reported %u threads at 0x%" PRIx64, pid,
			       st->nr_threads, st->threads_addr);
	ts = calloc(st->nr_threads, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	r = remote_read(pid, st->threads_addr, ts, st->nr_threads * sizeof(*ts));
	if (r < 0) {
		free(ts);
		return log_ret(r, "pid %d: the stub's report of its %u threads: %s", pid,
			       st->nr_threads, strerror(-r));
	}
	for (uint32_t i = 0; i < st->nr_threads; i++) {
		if (ts[i].tid <= 0 || !ts[i].frame_sp) {
			log_err("pid %d: the stub's thread %u reported tid %d, frame 0x%" PRIx64,
				pid, i, ts[i].tid, ts[i].frame_sp);
			free(ts);
			return -EINVAL;
		}
	}
	*out = ts;
	return 0;
}

/* The innermost NSpid of /proc/pid/task/tid, or tid itself without one. */
static int inner_tid(pid_t pid, pid_t tid, pid_t *inner)
{
	_cleanup_free_ char *buf = NULL;
	char path[64], *line;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return log_ret(r, "%s: %s", path, strerror(-r));
	*inner = tid;
	line = strstr(buf, "\nNSpid:");
	if (line) {
		char *end = strchr(line + 1, '\n'), *last;

		if (end)
			*end = '\0';
		last = strrchr(line, '\t');
		if (!last)
			last = strrchr(line, ' ');
		if (last)
			*inner = (pid_t)strtol(last + 1, NULL, 10);
	}
	return 0;
}

/*
 * outer[i]: the tid, in our pid namespace, of the thread the stub reported
 * as ts[i]; every thread of pid must be one of them.
 */
static int match_threads(pid_t pid, const struct stub_thread_status *ts, size_t n, pid_t *outer)
{
	char path[64];
	struct dirent *de;
	size_t found = 0;
	DIR *d;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		outer[i] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return log_ret(neg_errno(), "%s: %m", path);
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10), in;
		size_t i;

		if (tid <= 0)
			continue;
		r = inner_tid(pid, tid, &in);
		if (r < 0)
			break;
		for (i = 0; i < n && ts[i].tid != in; i++)
			;
		if (i == n || outer[i]) {
			r = log_ret(-ESRCH, "pid %d: thread %d (tid %d inside) is not one the stub"
				    " reported", pid, tid, in);
			break;
		}
		outer[i] = tid;
		found++;
	}
	closedir(d);
	if (r < 0)
		return r;
	for (size_t i = 0; found < n && i < n; i++) {
		if (!outer[i])
			return log_ret(-ESRCH, "pid %d: thread %d, reported by the stub, is gone",
				       pid, ts[i].tid);
	}
	if (outer[0] != pid)
		return log_ret(-EINVAL, "pid %d: the stub's first thread is %d, not the leader",
			       pid, outer[0]);
	return 0;
}

/* After a failure: nothing of pid may run on; the caller reaps the leader. */
static void kill_threads(pid_t pid, const pid_t *outer, size_t nr_seized)
{
	kill(pid, SIGKILL);
	for (size_t i = 1; i < nr_seized; i++) {
		int status;
		pid_t r;

		do {
			r = waitpid(outer[i], &status, __WALL);
		} while ((r < 0 && errno == EINTR) ||
			 (r == outer[i] && !WIFEXITED(status) && !WIFSIGNALED(status)));
	}
}

/* The leader unmaps the stub, after what the caller has it do (hook). */
static int unmap_stub(const struct stub_release_job *job)
{
	const struct stub_status *st = job->st;
	long args[6] = { (long)st->unmap_start, (long)st->unmap_len };
	long ret;
	int r;

	if (job->hook && (r = job->hook->fn(job->pid, st->syscall_insn, job->hook->arg)) < 0)
		return r;
	r = remote_syscall(job->pid, st->syscall_insn, SYS_munmap, args, &ret);
	if (r < 0)
		return r;
	if (ret < 0)
		return log_ret((int)ret, "pid %d: munmap of the stub at 0x%" PRIx64 ": %s",
			       job->pid, st->unmap_start, strerror((int)-ret));
	return 0;
}

int stub_release_processes(struct stub_release_job *jobs, size_t nr,
			   unsigned long ptrace_options, size_t *failed)
{
	int r = 0;

	*failed = 0;
	for (size_t j = 0; j < nr; j++) {
		struct stub_release_job *job = &jobs[j];

		*failed = j;
		job->nr_seized = 0;
		if (job->st->stage != STUB_READY || !job->n)
			return -EINVAL;
		if (!job->st->syscall_insn)
			return log_ret(-ENOENT, "pid %d: no syscall instruction in the restored "
				       "[vdso]", job->pid);
		if (job->n == 1) {
			/* Without a pid namespace lookup: the stub may run outside any. */
			job->outer_tids[0] = job->pid;
		} else {
			r = match_threads(job->pid, job->ts, job->n, job->outer_tids);
			if (r < 0)
				return r;
		}
	}
	/* Every thread parked before anything of any stub goes away. */
	for (size_t j = 0; j < nr; j++) {
		struct stub_release_job *job = &jobs[j];

		*failed = j;
		for (size_t k = 0; k < job->n; k++) {
			r = ptrace_seize_thread(job->outer_tids[k], ptrace_options);
			if (r < 0)
				return log_ret(r, "pid %d tid %d: PTRACE_SEIZE: %s", job->pid,
					       job->outer_tids[k], strerror(-r));
			job->nr_seized++;
		}
	}
	r = park_all(jobs, nr, failed);
	for (size_t j = 0; j < nr && r == 0; j++) {
		*failed = j;
		r = unmap_stub(&jobs[j]);
	}
	if (r < 0)
		return r;
	for (size_t j = 0; j < nr && r == 0; j++)
		for (size_t k = 0; k < jobs[j].n && r == 0; k++) {
			*failed = j;
			r = sigreturn_start(jobs[j].pid, jobs[j].outer_tids[k], jobs[j].ts[k].frame_sp,
					    jobs[j].st->syscall_insn, ptrace_options);
		}
	for (size_t j = 0; j < nr && r == 0; j++)
		for (size_t k = 0; k < jobs[j].n && r == 0; k++) {
			*failed = j;
			r = sigreturn_entered(jobs[j].outer_tids[k]);
		}
	for (size_t j = 0; j < nr && r == 0; j++)
		for (size_t k = 0; k < jobs[j].n && r == 0; k++) {
			*failed = j;
			r = sigreturn_done(jobs[j].pid, jobs[j].outer_tids[k], jobs[j].ts[k].frame_sp,
					   jobs[j].st->syscall_insn, ptrace_options);
		}
	return r;
}

int stub_release_threads(pid_t pid, const struct stub_status *st,
			 const struct stub_thread_status *ts, size_t n,
			 unsigned long ptrace_options, pid_t *outer_tids,
			 const struct release_hook *hook)
{
	struct stub_release_job job = { .pid = pid, .st = st, .ts = ts, .n = n,
					.outer_tids = outer_tids, .hook = hook };
	size_t failed;
	int r = stub_release_processes(&job, 1, ptrace_options, &failed);

	if (r < 0 && n > 1)
		kill_threads(pid, outer_tids, job.nr_seized);
	return r;
}

int stub_release(pid_t pid, const struct stub_status *st, unsigned long ptrace_options)
{
	struct stub_thread_status ts = { .frame_sp = st->frame_sp };
	pid_t outer;

	return stub_release_threads(pid, st, &ts, 1, ptrace_options, &outer, NULL);
}
