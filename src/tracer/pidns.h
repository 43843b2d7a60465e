/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The computation's own pid namespace, so that pids are the same after a
 * restore: pid 1 is a minimal init of ours that reaps orphans; the
 * computation's first process is its child.
 */
#pragma once

#include <sys/types.h>

/*
 * Start a new pid (and mount, for a /proc that matches) namespace whose
 * init runs first_child(arg) in a child of its own, created with
 * clone3(set_tid = first_pid) when first_pid > 0.  first_child must not
 * return (it execs or _exits).  keep_fds (-1 terminated) stay open in init
 * and the child; every other fd above 2 is closed in init.
 * On success *init_pid is init's pid in the caller's namespace.
 */
int pidns_start(pid_t first_pid, void (*first_child)(void *arg), void *arg,
		const int *keep_fds, pid_t *init_pid);

/* The pid, in the caller's namespace, of init's first child (waits for it). */
int pidns_first_child(pid_t init_pid, pid_t *child, int timeout_ms);

/* The pid of a process in the innermost namespace it belongs to (NSpid). */
int pidns_inner_pid(pid_t pid, pid_t *inner);
