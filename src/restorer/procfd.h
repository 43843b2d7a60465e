/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Files of /proc/PID: opened by the restored process itself, at release.
 *
 * An fd on /proc/2/status or /proc/2/task/3/stat names a process by its pid
 * in the program's own pid namespace, and the file it stands for is that
 * process's.  The restorer cannot open it where the other descriptions are
 * made: that runs before any process of the computation exists, outside its
 * pid namespace and its /proc (where /proc/2 is some other process of the
 * host, or none), and a thread's /proc/PID/task/TID appears only once the
 * stub has made the thread.  So such an fd is left out of the fd table the
 * stub inherits and opened in the process, by remote system calls, when
 * every thread is parked and the stub has not yet been unmapped: in its
 * mount namespace, through its /proc.
 *
 * What is lost: two processes (or two fds of one process after a dup) that
 * shared one description of such a file share its offset no more, except
 * fds of one process that shared it: those share it again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/model.h"

/*
 * Mark the fds of c that are files of /proc/PID (or /proc/PID/task/TID) of
 * a process or thread of c (fd_record.proc_own).  A pid outside the
 * computation (an attached program's parent) is opened like any file.
 */
void procfd_mark(struct computation *c);

/* Whether f is such a file, opened at release rather than with the others. */
static inline bool procfd_deferred(const struct fd_record *f)
{
	return f->proc_own;
}

/*
 * Open p's deferred fds in pid (its leader, seized and parked in the
 * stub, which is still mapped) through the syscall instruction at insn:
 * each at its number with its flags, FD_CLOEXEC and offset, and the watches
 * of p's epoll fds on them.  Returns 0 or -errno, with err naming the fd
 * and path.
 */
int procfd_open_in(pid_t pid, uint64_t insn, const struct process_record *p, char *err,
		   size_t errlen);

/* Whether fd number fd of p is one of its deferred fds. */
static inline bool procfd_deferred_fd(const struct process_record *p, int fd)
{
	for (size_t i = 0; i < p->nr_fds; i++)
		if (p->fds[i].fd == fd)
			return procfd_deferred(&p->fds[i]);
	return false;
}
