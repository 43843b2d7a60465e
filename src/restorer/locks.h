/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of file locks.  flock() and OFD locks belong to the open file
 * description: the supervisor takes them on the description it opened for
 * everyone.  POSIX locks belong to the process and go when it closes any fd
 * of the file, as the builder and the stub do: the restored process takes
 * them itself, by a remote fcntl() once it is built and before it runs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/model.h"

/* flock and OFD locks of f, on fd (f's re-opened description). */
int locks_take_on_desc(const struct fd_record *f, int fd);

/* POSIX locks of p, in its released leader pid (ours), by syscall_insn. */
int locks_take_posix(pid_t pid, uint64_t syscall_insn, const struct process_record *p,
		     char *err, size_t errlen);
