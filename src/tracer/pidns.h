/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The computation's own pid namespace, so that pids are the same after a
 * restore: pid 1 is a minimal init of ours that reaps orphans; the
 * computation's first process is its child.
 */
#pragma once

#include <sys/types.h>

/*
 * Start a new pid (and mount, for a /proc that matches) namespace.  Its
 * init calls spawn(arg), which forks init's children and returns the one
 * whose exit ends the namespace (or -errno).  keep_fds (-1 terminated) stay
 * open in init until spawn returns; every other fd above 2 is closed.
 * On success *init_pid is init's pid in the caller's namespace.
 */
int pidns_start(pid_t (*spawn)(void *arg), void *arg, const int *keep_fds, pid_t *init_pid);

/* fork() with the given pid in the current pid namespace (0: any). */
pid_t clone_with_pid(pid_t want);

/* The pid in the caller's namespace of a descendant of init, by its inner pid. */
int pidns_outer_pid(pid_t init_pid, pid_t inner, pid_t *outer);

/* The pid, in the caller's namespace, of init's first child (waits for it). */
int pidns_first_child(pid_t init_pid, pid_t *child, int timeout_ms);

/* The pid of a process in the innermost namespace it belongs to (NSpid). */
int pidns_inner_pid(pid_t pid, pid_t *inner);
