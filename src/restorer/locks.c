/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "restorer/locks.h"
#include "ptrace/remote.h"
#include "util/macro.h"

static size_t nr_locks(const struct fd_record *f)
{
	return f->locks_len / sizeof(struct file_lock_record);
}

int locks_take_on_desc(const struct fd_record *f, int fd)
{
	const struct file_lock_record *l = (const void *)f->locks;

	for (size_t i = 0; i < nr_locks(f); i++) {
		struct flock fl = { .l_type = (short)l[i].type, .l_whence = SEEK_SET,
				    .l_start = (off_t)l[i].start, .l_len = (off_t)l[i].len };
		int r = 0;

		if (l[i].kind == FILE_LOCK_FLOCK)
			r = flock(fd, (l[i].type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
		else if (l[i].kind == FILE_LOCK_OFD)
			r = fcntl(fd, F_OFD_SETLK, &fl);
		/* EAGAIN: someone else holds it now. */
		if (r < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
	}
	return 0;
}

int locks_take_posix(pid_t pid, uint64_t syscall_insn, const struct process_record *p,
		     char *err, size_t errlen)
{
	for (size_t k = 0; k < p->nr_fds; k++) {
		const struct fd_record *f = &p->fds[k];
		const struct file_lock_record *l = (const void *)f->locks;

		/* A POSIX lock belongs to a process and a file, not to a file in flight. */
		for (size_t i = 0; !f->in_flight && i < nr_locks(f); i++) {
			struct flock fl = { .l_type = (short)l[i].type, .l_whence = SEEK_SET,
					    .l_start = (off_t)l[i].start, .l_len = (off_t)l[i].len };
			uint64_t addr;
			long args[6] = { f->fd, F_SETLK, 0, 0, 0, 0 }, ret = 0;
			int r;

			if (l[i].kind != FILE_LOCK_POSIX)
				continue;
			r = remote_scratch(pid, sizeof(fl), &addr);
			if (r == 0)
				r = remote_write(pid, addr, &fl, sizeof(fl));
			args[2] = (long)addr;
			if (r == 0)
				r = remote_syscall(pid, syscall_insn, SYS_fcntl, args, &ret);
			if (r == 0 && ret < 0)
				r = (int)ret;
			if (r < 0) {
				snprintf(err, errlen, "pid %d fd %d: %s lock on %s: %s", p->pid, f->fd,
					 l[i].type == F_WRLCK ? "write" : "read",
					 f->path ? f->path : "?",
					 r == -EAGAIN ? "held by another process" : strerror(-r));
				return r;
			}
		}
	}
	return 0;
}
