/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
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
#include "tracer/attach.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define FREEZE_TIMEOUT_MS 10000

int session_attach(struct session *s, pid_t pid, size_t *nr_threads)
{
	char err[512];
	int r;

	s->root = pid;
	s->attached = true;
	s->root_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->root_pidfd < 0)
		return neg_errno();
	/* Seized once now, to learn that we can (and refuse what we cannot). */
	r = session_seize_all(s, err, sizeof(err));
	*nr_threads = s->nr_tracees;
	if (r < 0) {
		log_err("%s", err);
		session_thaw(s);
		return r;
	}
	session_thaw(s);
	/*
	 * Its processes stay in the cgroup they are in: moved into one of
	 * ours they would leave the limits and accounting someone gave them,
	 * and a fork during the move would stay behind anyway.
	 */
	log_info("cgroup freezer: not used for attach (pid %d keeps its own cgroup); a dump "
		 "freezes with ptrace alone", pid);
	return 0;
}

int session_detach(struct session *s)
{
	int r = 0;

	if (s->nr_tracees) {
		char err[512];

		r = session_freeze(s, FREEZE_TIMEOUT_MS, err, sizeof(err));
		if (r < 0)
			log_warn("detach: not every thread stopped: %s", err);
		r = 0;
	}
	for (size_t i = 0; i < s->nr_tracees; i++) {
		int d = ptrace_detach_thread(s->tracees[i].tid, 0);

		if (d < 0 && d != -ESRCH) {
			log_warn("tid %d: PTRACE_DETACH: %s", s->tracees[i].tid, strerror(-d));
			r = d;
		}
	}
	s->nr_tracees = 0;
	s->quit = true;
	return r;
}
