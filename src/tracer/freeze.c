/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptrace/seize.h"
#include "tracer/cgroup.h"
#include "tracer/session.h"
#include "tracer/ssh.h"
#include "util/log.h"
#include "util/macro.h"

/*
 * The cgroup freezer's wait for "frozen 1" (200 threads: about 1 ms here).
 * A task that does not freeze in time (uninterruptible sleep) makes the dump
 * thaw it again and freeze with ptrace alone.
 */
#define CGROUP_FREEZE_TIMEOUT_MS 200
/* How long a freeze waits for a stop before it looks for a vfork parent. */
#define VFORK_LOOK_MS 20

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t now_us(void)
{
	return now_ns() / 1000;
}

static void interrupt(struct tracee *t)
{
	int r = ptrace_interrupt_thread(t->tid);

	if (r < 0 && r != -ESRCH)
		log_debug("tid %d: PTRACE_INTERRUPT: %s", t->tid, strerror(-r));
}

static size_t count_running(const struct session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nr_tracees; i++)
		n += s->tracees[i].state != TRACEE_STOPPED;
	return n;
}

/* One wait status while freezing: who is stopped now, who must go on first. */
static int freeze_handle(struct session *s, pid_t tid, int status)
{
	struct tracee *t = session_find(s, tid);
	int event = status >> 16;
	int sig = WSTOPSIG(status);

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return session_handle_wait(s, tid, status);
	if (!WIFSTOPPED(status))
		return 0;
	if (!t) {
		t = session_add(s, tid, tid);
		if (!t)
			return -ENOMEM;
	}
	if (event == PTRACE_EVENT_STOP) {
		/* Interrupt trap, group-stop, or an auto-attached child's first stop. */
		t->group_stop = !t->new_child && sig != SIGTRAP;
		t->new_child = false;
		t->vfork_released = false;
		t->state = TRACEE_STOPPED;
		return 0;
	}
	if (sig == SIGTRAP && event) {
		unsigned long msg;

		if ((event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
		     event == PTRACE_EVENT_CLONE) &&
		    ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0) {
			pid_t tgid = event == PTRACE_EVENT_CLONE ? t->tgid : (pid_t)msg;

			if (ptrace_thread_alive(tgid, (pid_t)msg) && !session_add(s, (pid_t)msg, tgid))
				return -ENOMEM;
			t = session_find(s, tid);
		}
		/* Let the event finish; the interrupt then stops it for good. */
		ptrace_resume_thread(tid, 0);
		interrupt(t);
		return 0;
	}
	/*
	 * A signal on its way in: deliver it, so the dump sees the handler's
	 * frame (or the process ends, as it would have without us).
	 */
	ptrace_resume_thread(tid, sig == (SIGTRAP | 0x80) ? 0 : sig);
	interrupt(t);
	return 0;
}

static int wait_all_stopped(struct session *s, uint64_t deadline);

int session_freeze(struct session *s, int timeout_ms, char *err, size_t errlen)
{
	uint64_t t0 = now_us(), deadline = ptrace_now_ms() + timeout_ms, t_thawed = t0;
	struct cgroup_freeze cf;
	bool cgroup_frozen;
	int walks = 1, r;

	if (err)
		err[0] = '\0';
	/*
	 * In a frozen cgroup nothing forks or clones: its list of threads is
	 * all of them, no birth races the seize, and each thread is
	 * interrupted before it could run again.  Thawed at once: the threads
	 * stay in their ptrace-stops (cgroup.c).  The walk of the tree below
	 * still runs once, with everything stopped: a process that left the
	 * cgroup is found there.
	 */
	cgroup_frozen = session_cgroup_freeze(s, &cf, MIN(timeout_ms, CGROUP_FREEZE_TIMEOUT_MS)) == 0;
	if (cgroup_frozen)
		r = session_seize_cgroup(s, err, errlen);
	else
		r = session_seize_all(s, err, errlen);
	if (r < 0) {
		if (cgroup_frozen)
			session_cgroup_thaw(s, &cf);
		return r;
	}
	for (size_t i = 0; i < s->nr_tracees; i++) {
		s->tracees[i].group_stop = s->tracees[i].state == TRACEE_GROUP_STOPPED;
		interrupt(&s->tracees[i]);
		if (s->tracees[i].state == TRACEE_GROUP_STOPPED)
			s->tracees[i].state = TRACEE_RUNNING;
	}
	if (cgroup_frozen) {
		session_cgroup_thaw(s, &cf);
		t_thawed = now_us();
	}
	for (;; walks++) {
		bool added = false;

		r = wait_all_stopped(s, deadline);
		if (r < 0)
			break;
		/*
		 * Everything seized is stopped, so nothing of it can fork now:
		 * a walk that finds nothing new found everything.
		 */
		r = session_seize_pass(s, &added, err, errlen);
		if (r < 0 || !added)
			break;
		for (size_t i = 0; i < s->nr_tracees; i++)
			if (s->tracees[i].state == TRACEE_RUNNING)
				interrupt(&s->tracees[i]);
	}
	if (r < 0 && err && !err[0])
		snprintf(err, errlen, "freezing the computation: %s", strerror(-r));
	if (r == 0 && cgroup_frozen)
		log_debug("freeze: %zu threads stopped in %llu us, %d walks; the cgroup frozen "
			  "for %llu us of it", s->nr_tracees, (unsigned long long)(now_us() - t0),
			  walks, (unsigned long long)(t_thawed - t0));
	else if (r == 0)
		log_debug("freeze: %zu threads stopped in %llu us, %d walks; ptrace alone",
			  s->nr_tracees, (unsigned long long)(now_us() - t0), walks);
	return r;
}

/*
 * A thread that vforked waits in the kernel, unstoppable, until its child
 * execs or exits; with the child stopped by us it never reaches its own
 * stop.  A stopped process sharing the memory of a still-running thread of
 * another process is such a child (kcmp KCMP_VM): it runs on to its exec,
 * whose event stops it again right after (freeze_handle).  Once only such
 * children run, they are interrupted where they are: the parent is stopped
 * by then, whatever they were.
 */
static void release_vfork_children(struct session *s)
{
	bool others = false;

	for (size_t i = 0; i < s->nr_tracees; i++)
		others |= s->tracees[i].state != TRACEE_STOPPED && !s->tracees[i].vfork_released;
	for (size_t i = 0; i < s->nr_tracees; i++) {
		const struct tracee *r = &s->tracees[i];

		if (!others && r->vfork_released && r->state != TRACEE_STOPPED)
			interrupt(&s->tracees[i]);
		if (!others || r->state == TRACEE_STOPPED || r->vfork_released)
			continue;
		for (size_t k = 0; k < s->nr_tracees; k++) {
			struct tracee *c = &s->tracees[k];

			if (c->state != TRACEE_STOPPED || c->tgid == r->tgid || c->tid != c->tgid ||
			    syscall(SYS_kcmp, r->tgid, c->tgid, KCMP_VM, 0, 0) != 0)
				continue;
			if (ptrace_resume_thread(c->tid, 0) == 0) {
				log_debug("freeze: pid %d waits for its vfork child %d: let it run to "
					  "its exec", r->tgid, c->tid);
				c->state = TRACEE_RUNNING;
				c->vfork_released = true;
			}
		}
	}
}

static int wait_all_stopped(struct session *s, uint64_t deadline)
{
	uint64_t waited_since = ptrace_now_ms();

	while (count_running(s) > 0) {
		int status, r;
		pid_t tid = ptrace_wait_thread(-1, &status, 0);

		if (tid == -ECHILD)
			tid = 0;
		if (tid < 0)
			return tid;
		if (tid > 0) {
			r = freeze_handle(s, tid, status);
			if (r < 0)
				return r;
			/* New threads appear with the events above: interrupt them too. */
			for (size_t i = 0; i < s->nr_tracees; i++)
				if (s->tracees[i].state == TRACEE_RUNNING && s->tracees[i].new_child)
					interrupt(&s->tracees[i]);
			continue;
		}
		/* A thread reaped before we learnt it was born waits no longer. */
		for (size_t i = 0; i < s->nr_tracees;) {
			if (s->tracees[i].state != TRACEE_STOPPED &&
			    !ptrace_thread_alive(s->tracees[i].tgid, s->tracees[i].tid)) {
				session_remove(s, s->tracees[i].tid);
				continue;
			}
			i++;
		}
		if (ptrace_now_ms() >= deadline)
			return -ETIMEDOUT;
		/* Some 20 ms without a stop: one may wait for a vfork child we hold. */
		if (ptrace_now_ms() >= waited_since + VFORK_LOOK_MS) {
			release_vfork_children(s);
			waited_since = ptrace_now_ms();
		}
		{
			struct pollfd pfd = { .fd = s->signal_fd, .events = POLLIN };
			struct signalfd_siginfo si;

			poll(&pfd, 1, 10);
			while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP)
					kill(s->root, si.ssi_signo);
		}
	}
	return 0;
}

/*
 * Let every thread go, detached: group-stops come back by themselves (the
 * kernel reinstates a stop of the group on detach).  One still running (a
 * freeze that failed) is stopped first: only a stopped thread can be let go.
 *
 * With the cgroup frozen around the detaches, a thread let go stops in the
 * freezer at once instead of running the program, and the thaw lets them
 * all go in one write: the threads let go first no longer take the CPU from
 * the detaches of the others (1,000 threads: most of the thaw went to them).
 * Not after a dump --kill: the threads are dying, nothing is to be gained.
 */
static uint64_t detach_all(struct session *s)
{
	uint64_t deadline = ptrace_now_ms() + 1000, t0 = now_us(), let_go;
	struct cgroup_freeze cf = { .freeze_fd = -1 };
	bool cgroup_frozen = false;
	size_t kept = 0, n = s->nr_tracees;

	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].state != TRACEE_STOPPED)
			interrupt(&s->tracees[i]);
	if (count_running(s) > 0 && wait_all_stopped(s, deadline) < 0)
		log_warn("detach: not every thread stopped; those stay traced for now");
	if (!s->killed_by_dump && s->nr_tracees)
		cgroup_frozen = session_cgroup_freeze(s, &cf, 0) == 0;
	for (size_t i = 0; i < s->nr_tracees; i++) {
		struct tracee *t = &s->tracees[i];

		int r = ptrace_detach_thread(t->tid, 0);

		if (r == 0 || r == -ESRCH) {
			/* ESRCH: gone, or dying of a dump --kill. */
			continue;
		}
		log_warn("tid %d: PTRACE_DETACH: %s", t->tid, strerror(-r));
		s->tracees[kept++] = *t;
	}
	s->nr_tracees = kept;
	let_go = now_ns();
	if (cgroup_frozen) {
		session_cgroup_thaw(s, &cf);
		let_go = cf.thawed_ns;
	}
	log_debug("thaw: %zu threads let go in %llu us%s", n - kept,
		  (unsigned long long)(let_go / 1000 - t0), cgroup_frozen ? ", the cgroup frozen" : "");
	return let_go;
}

uint64_t session_thaw(struct session *s)
{
	return detach_all(s);
}
