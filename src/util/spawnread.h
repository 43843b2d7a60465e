/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helper programs (ssh, scontrol) whose output a command reads.  Not <spawn.h>: a name of its own. */
#pragma once

#include <sys/types.h>

/*
 * argv[0], found in PATH, started with stdin on /dev/null, no signal
 * blocked and its stdout into a pipe whose read end (close-on-exec) goes
 * to *out: its pid, or -errno.  One that cannot be run exits 127, said on
 * stderr.
 */
pid_t spawn_reader(char *const argv[], int *out);

/* pid's end as a shell says it (its exit status, or 128 + its signal), or -errno. */
int wait_exit_status(pid_t pid);
