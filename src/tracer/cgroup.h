/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The computation's cgroup v2 directory, where the system lets us make one:
 * <our own cgroup>/trace-ckpt-<supervisor pid>, holding every process of the
 * computation (children inherit it).  A dump freezes it (cgroup.freeze)
 * before it seizes: frozen, nothing forks or clones, so one walk of the tree
 * finds every thread and no fork races the seize.  Without one (no cgroup2
 * mount, not ours to write, TRACE_CKPT_CGROUP=off, attach) a dump freezes
 * with ptrace alone, as it always could; nothing here is ever an error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct session;

/*
 * Make the directory (s->cgroup_fd) and remove what a killed supervisor
 * left empty; says once, at -v, why it does not if it does not.
 */
void session_cgroup_create(struct session *s);
/* Move process pid (all its threads) in; on failure the cgroup is given up. */
int session_cgroup_add(struct session *s, pid_t pid);
/* Remove the directory, once the computation in it has ended. */
void session_cgroup_remove(struct session *s);

/*
 * A freeze in progress: its guard, a process of its own session that thaws
 * the cgroup should the freezer (supervisor or dump worker) die before
 * session_cgroup_thaw.
 */
struct cgroup_freeze {
	pid_t guard;
	int guard_fd;	/* the guard reads it: a byte means thawed, EOF the freezer died */
	int freeze_fd;	/* cgroup.freeze */
	uint64_t thawed_ns;	/* CLOCK_MONOTONIC when the thaw let its tasks go */
};

/*
 * Freeze the cgroup and wait, up to timeout_ms, until the kernel says it is
 * frozen.  -ENOENT without a cgroup; otherwise on failure it is thawed again.
 * A timeout of 0 waits for nothing: the write itself marks every task in the
 * cgroup to stop in the freezer the next time it runs, and that is all a
 * caller whose threads are all in ptrace-stops needs.
 */
int session_cgroup_freeze(struct session *s, struct cgroup_freeze *cf, int timeout_ms);
/* Thaw it and let the guard go.  Threads in a ptrace-stop stay in it. */
void session_cgroup_thaw(struct session *s, struct cgroup_freeze *cf);
