/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>

struct session;

/*
 * tid is in the seccomp stop of an execve/execveat (PTRACE_EVENT_SECCOMP):
 * if it runs ssh with a remote command, carry that command into the
 * computation.  The tracee is left stopped; the caller resumes it.
 */
void ssh_on_exec_trap(struct session *s, pid_t tid);

/* In the child of `run --coordinator`, just before it execs the program. */
int ssh_install_exec_trap(void);
