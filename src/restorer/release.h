/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Releasing a stub that reported STUB_READY: the supervisor takes the parked
 * process over, unmaps the stub's own area from outside and makes every
 * thread run rt_sigreturn on the frame the stub built for it, so it continues
 * with exactly its saved registers, signal mask and FPU state.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "restorer/stub/plan.h"

/*
 * PTRACE_SEIZE pid with ptrace_options, wait until the stub is parked in
 * pause(), munmap(st->unmap_start, st->unmap_len) at st->syscall_insn,
 * then rt_sigreturn with rsp = st->frame_sp.
 *
 * On success the thread is seized and in the syscall-exit-stop of that
 * rt_sigreturn: PTRACE_GETREGS gives the saved registers (orig_rax is -1,
 * as after any rt_sigreturn; rax/rip as fixed up for a syscall restart).
 * Resume it with PTRACE_CONT, signal 0.  Signals that were pending at the
 * dump are queued and not blocked any more: they come next, as
 * signal-delivery-stops.
 *
 * On error the process is seized and in some ptrace-stop, half built; the
 * caller kills it.
 */
int stub_release(pid_t pid, const struct stub_status *st, unsigned long ptrace_options);

/*
 * After a STUB_READY status: the st->nr_threads struct stub_thread_status
 * the stub left at st->threads_addr in its area ([0] the leader), read from
 * pid's memory into *out (malloc'd).  Call before stub_release_threads()
 * (which unmaps that area).  Returns 0 or -errno (-EINVAL for a report that
 * makes no sense), logged.
 */
int stub_read_threads(pid_t pid, const struct stub_status *st, struct stub_thread_status **out);

/*
 * What the caller has the process do itself once every thread of it is
 * parked, before the stub goes away: fn(pid, syscall_insn, arg) may make
 * remote calls in pid (the leader, in an interrupt stop, its stack the
 * stub's).  Its error fails the release.
 */
struct release_hook {
	int (*fn)(pid_t pid, uint64_t syscall_insn, void *arg);
	void *arg;
};

/*
 * stub_release() for every thread of pid: ts[0..n) as stub_read_threads()
 * gave them, ts[0] the leader.  Finds each thread's tid in our pid namespace
 * through /proc/pid/task and the NSpid of each (matched against ts[i].tid,
 * the tid inside the program's namespace), seizes them all with
 * ptrace_options, waits until every one is parked, unmaps the stub's area
 * once (through the leader) and makes each thread run rt_sigreturn on its
 * frame; hook (may be NULL) runs before the unmap.  outer_tids[i] gets the tid of ts[i] in our namespace
 * (outer_tids[0] == pid); with n == 1 no /proc lookup is done.
 *
 * On success every thread is seized and in the syscall-exit-stop of its
 * rt_sigreturn, as stub_release() leaves the leader: add each to the session
 * (tgid pid) and resume it with signal 0.
 *
 * On error (-errno, logged, naming the thread): with n > 1 the process has
 * been killed and every thread but the leader reaped; with n == 1 it is as
 * stub_release() leaves it.  Either way the caller kills and reaps pid.
 */
int stub_release_threads(pid_t pid, const struct stub_status *st,
			 const struct stub_thread_status *ts, size_t n,
			 unsigned long ptrace_options, pid_t *outer_tids,
			 const struct release_hook *hook);

/*
 * stub_release_threads() for many processes at once, each stage over all
 * their threads before the next (the switches to them overlap): every
 * thread of every job seized, all parked, each stub unmapped (its hook
 * first), then every thread's rt_sigreturn.  On error (-errno, logged,
 * naming the thread) *failed is the job it failed in; the processes are
 * as stub_release() leaves them on error (the caller kills them all).
 */
struct stub_release_job {
	pid_t pid;				/* the leader, in our pid namespace */
	const struct stub_status *st;
	const struct stub_thread_status *ts;	/* n of them, as stub_read_threads() gave */
	size_t n;
	pid_t *outer_tids;			/* n, filled in: as stub_release_threads() */
	const struct release_hook *hook;	/* or NULL */
	size_t nr_seized;			/* out */
};

int stub_release_processes(struct stub_release_job *jobs, size_t nr,
			   unsigned long ptrace_options, size_t *failed);
