/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of the fd table, run in the new process before it execs the stub:
 * every saved fd is re-opened and moved to its number.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restorer/fds.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* Flags that only matter at open time or that we set ourselves. */
#define OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)

static int copy_contents(int from, int to, uint64_t size)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = sendfile(to, from, &off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		if (n == 0)
			return -ENODATA;
	}
	return 0;
}

/*
 * A file deleted while open: bring back its contents under its old name
 * just long enough to open it, so /proc shows "PATH (deleted)" again.
 */
static int open_deleted(const struct fd_record *f, int flags)
{
	_cleanup_close_ int src = -1, tmp = -1;
	char dir[PATH_MAX];
	int fd, r;

	src = open(f->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	tmp = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, f->mode & 07777);
	if (tmp >= 0) {
		r = copy_contents(src, tmp, f->size);
		if (r == 0) {
			fd = open(f->path, (flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC);
			r = fd < 0 ? neg_errno() : fd;
		}
		unlink(f->path);
		return r;
	}
	/* The name is taken again: an unnamed file in the same directory. */
	snprintf(dir, sizeof(dir), "%s", f->path);
	tmp = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, f->mode & 07777);
	if (tmp < 0)
		return neg_errno();
	r = copy_contents(src, tmp, f->size);
	if (r < 0)
		return r;
	/* O_TMPFILE gave O_RDWR; the access mode can only be narrowed by a reopen. */
	snprintf(dir, sizeof(dir), "/proc/self/fd/%d", tmp);
	fd = open(dir, (flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC);
	return fd < 0 ? neg_errno() : fd;
}

static int open_one(const struct fd_record *f, const int stdio[3])
{
	int flags = f->flags & ~OPEN_ONLY_FLAGS;
	int fd;

	switch (f->kind) {
	case FD_STDIO:
		fd = fcntl(stdio[f->stdio_index], F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? neg_errno() : fd;
	case FD_DEVICE:
		fd = open(f->path, flags | O_CLOEXEC);
		return fd < 0 ? neg_errno() : fd;
	case FD_REGULAR:
		if (f->deleted)
			fd = open_deleted(f, flags);
		else
			fd = open(f->path, flags | O_CLOEXEC);
		if (fd < 0)
			return fd == -1 ? neg_errno() : fd;
		if (!(flags & O_PATH) && S_ISREG(f->mode) &&
		    lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
			int r = neg_errno();

			close(fd);
			return r;
		}
		return fd;
	default:
		return -EOPNOTSUPP;
	}
}

int restore_fds(const struct process_record *p, const int stdio[3], char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];
		int fd = open_one(f, stdio);

		if (fd < 0) {
			snprintf(err, errlen, "pid %d fd %d: %s: %s", p->pid, f->fd,
				 f->path ? f->path : "?", strerror(-fd));
			return fd;
		}
		/* dup2 leaves FD_CLOEXEC clear: the stub must inherit every fd. */
		if (fd != f->fd) {
			if (dup2(fd, f->fd) < 0) {
				int r = neg_errno();

				snprintf(err, errlen, "pid %d fd %d: dup2: %s", p->pid, f->fd,
					 strerror(-r));
				close(fd);
				return r;
			}
			close(fd);
		} else if (fcntl(fd, F_SETFD, 0) < 0) {
			return neg_errno();
		}
	}
	return 0;
}
