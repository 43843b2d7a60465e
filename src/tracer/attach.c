/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "tracer/attach.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define FREEZE_TIMEOUT_MS 10000

/* Seize every thread of pid; repeat until no new thread shows up. */
static int seize_threads(struct session *s, pid_t pid, bool *added)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return neg_errno();
	while ((de = readdir(d))) {
		pid_t tid = strtol(de->d_name, NULL, 10);
		struct tracee *t;

		if (tid <= 0 || session_find(s, tid))
			continue;
		/* A zombie cannot be seized; a dump finds it through its parent. */
		if (!session_alive(pid, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, SESSION_PTRACE_OPTIONS) < 0) {
			int r = neg_errno();

			if (r == -ESRCH)
				continue;	/* exited meanwhile */
			closedir(d);
			log_err("pid %d thread %d: PTRACE_SEIZE: %s", pid, tid, strerror(-r));
			return r;
		}
		t = session_add(s, tid, pid);
		if (!t) {
			closedir(d);
			return -ENOMEM;
		}
		t->new_child = false;
		*added = true;
	}
	closedir(d);
	return 0;
}

static int seize_tree(struct session *s, pid_t pid)
{
	bool added;
	char path[64];
	struct dirent *de;
	DIR *d;
	int r;

	do {
		added = false;
		r = seize_threads(s, pid, &added);
		if (r < 0)
			return r;
	} while (added);

	/* Children listed after the parent is seized: later forks are traced. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return neg_errno();
	while ((de = readdir(d))) {
		_cleanup_free_ char *children = NULL;
		char cpath[96];
		char *p, *end;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
		if (read_file_at(AT_FDCWD, cpath, &children, NULL) < 0)
			continue;
		for (p = children;; p = end) {
			pid_t child = strtol(p, &end, 10);

			if (end == p)
				break;
			if (!session_find(s, child)) {
				r = seize_tree(s, child);
				if (r < 0 && r != -ENOENT) {
					closedir(d);
					return r;
				}
			}
		}
	}
	closedir(d);
	return 0;
}

int session_attach(struct session *s, pid_t pid)
{
	int r = seize_tree(s, pid);

	if (r < 0) {
		session_detach(s);
		return r;
	}
	s->root = pid;
	return 0;
}

int session_detach(struct session *s)
{
	int r = session_freeze(s, FREEZE_TIMEOUT_MS), ret = 0;

	if (r < 0)
		log_warn("detach: not every thread stopped: %s", strerror(-r));
	for (size_t i = 0; i < s->nr_tracees; i++) {
		if (ptrace(PTRACE_DETACH, s->tracees[i].tid, 0, 0) < 0 && errno != ESRCH) {
			log_warn("tid %d: PTRACE_DETACH: %m", s->tracees[i].tid);
			ret = neg_errno();
		}
	}
	s->nr_tracees = 0;
	s->quit = true;
	return ret;
}
