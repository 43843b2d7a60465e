/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

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
/*
 * The trap's BPF program, as the kernel keeps it (struct sock_filter[],
 * *len bytes, malloc'd): what a dump records for it when the kernel will
 * not show filters (without root).
 */
int ssh_exec_trap_program(uint8_t **prog, size_t *len);
