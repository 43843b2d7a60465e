/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The table of the threads a dump holds (seized while the computation is
 * frozen, let go at the thaw) and what their ptrace stops ask for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptrace/seize.h"
#include "tracer/session.h"
#include "util/log.h"
#include "util/macro.h"

struct tracee *session_find(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].tid == tid)
			return &s->tracees[i];
	return NULL;
}

struct tracee *session_add(struct session *s, pid_t tid, pid_t tgid)
{
	struct tracee *t = session_find(s, tid);

	if (t)
		return t;
	if (s->nr_tracees == s->cap_tracees) {
		size_t cap = s->cap_tracees ? s->cap_tracees * 2 : 16;
		struct tracee *n = realloc(s->tracees, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->tracees = n;
		s->cap_tracees = cap;
	}
	t = &s->tracees[s->nr_tracees++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->tgid = tgid;
	t->state = TRACEE_RUNNING;
	t->new_child = true;
	return t;
}

void session_remove(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nr_tracees; i++) {
		if (s->tracees[i].tid != tid)
			continue;
		s->tracees[i] = s->tracees[--s->nr_tracees];
		return;
	}
}

static void resume(pid_t tid, int sig)
{
	int r = ptrace_resume_thread(tid, sig);

	if (r < 0 && r != -ESRCH)
		log_debug("tid %d: PTRACE_CONT: %s", tid, strerror(-r));
}

int session_handle_wait(struct session *s, pid_t tid, int status)
{
	struct tracee *t = session_find(s, tid);
	int event = status >> 16;
	int sig;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		/* init leaves with the root's status (pidns.c): the computation ended. */
		if (tid == s->root || (s->init_pid && tid == s->init_pid)) {
			s->root_status = status;
			s->root_gone = true;
		}
		session_remove(s, tid);
		return 0;
	}
	if (!WIFSTOPPED(status))
		return 0;
	if (!t) {
		/* Not one of ours any more (let go at a thaw): let it go again. */
		int r = ptrace_detach_thread(tid, 0);

		if (r < 0 && r != -ESRCH)
			log_debug("tid %d: PTRACE_DETACH: %s", tid, strerror(-r));
		return 0;
	}
	sig = WSTOPSIG(status);

	if (sig == SIGTRAP && event) {
		unsigned long msg = 0;

		switch (event) {
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE:
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0) {
				pid_t child = (pid_t)msg;
				pid_t tgid = event == PTRACE_EVENT_CLONE ? t->tgid : child;

				/* It may have exited, and been reaped, before this event. */
				if (ptrace_thread_alive(tgid, child) && !session_add(s, child, tgid))
					return -ENOMEM;
			}
			break;
		case PTRACE_EVENT_EXEC:
			/* A non-leader thread that execs takes the leader's tid. */
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0 &&
			    (pid_t)msg != tid)
				session_remove(s, (pid_t)msg);
			break;
		default:
			break;
		}
		resume(tid, 0);
		return 0;
	}
	if (event == PTRACE_EVENT_STOP && t->new_child) {
		/* The first stop of an auto-attached child. */
		t->new_child = false;
		resume(tid, 0);
		return 0;
	}
	if (event == PTRACE_EVENT_STOP) {
		/* Group-stop: keep the job-control stop, but stay notified. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			t->state = TRACEE_GROUP_STOPPED;
			if (ptrace(PTRACE_LISTEN, tid, 0, 0) < 0 && errno != ESRCH)
				log_debug("tid %d: PTRACE_LISTEN: %m", tid);
			return 0;
		}
		t->state = TRACEE_RUNNING;
		resume(tid, 0);
		return 0;
	}
	if (sig == (SIGTRAP | 0x80)) {
		resume(tid, 0);
		return 0;
	}
	/* Signal-delivery-stop: the signal was meant for the program. */
	t->state = TRACEE_RUNNING;
	resume(tid, sig);
	return 0;
}

int session_drain_waits(struct session *s)
{
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid == 0)
			return 0;
		if (tid < 0)
			return errno == ECHILD ? 0 : neg_errno();
		if (session_handle_wait(s, tid, status) < 0)
			return -ENOMEM;
	}
}
