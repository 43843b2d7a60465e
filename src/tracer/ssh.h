/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

struct session;

/*
 * listener (an exec trap's) has a notification: an execve/execveat of the
 * computation, held.  If it runs ssh with a remote command, that command is
 * carried into the computation; the exec then goes on.
 */
void ssh_on_exec_notify(struct session *s, int listener);

/* In the child of `run --coordinator`, just before it execs the program: *listener is the trap's. */
int ssh_install_exec_trap(int *listener);
/*
 * The trap's BPF program, as the kernel keeps it (struct sock_filter[],
 * *len bytes, malloc'd): what a dump records for it when the kernel will
 * not show filters (without root).  legacy: the one of images made before
 * the trap notified (SECCOMP_RET_TRACE), which a restore replaces.
 */
int ssh_exec_trap_program(bool legacy, uint8_t **prog, size_t *len);
