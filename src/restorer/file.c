/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "proto/fdindex.h"
#include "restorer/file.h"
#include "restorer/shm.h"
#include "util/log.h"
#include "util/macro.h"

/* Flags that only matter at open time or that we set ourselves. */
#define OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW)

/*
 * A file deleted while open: bring back its contents under its old name
 * just long enough to open it, so /proc shows "PATH (deleted)" again.
 */
static int open_deleted(const struct fd_record *f, int flags)
{
	_cleanup_close_ int src = -1, tmp = -1;
	char dir[PATH_MAX];
	uint64_t off, len;
	int r;

	src = fd_content_open(f, &off, &len);
	if (src < 0)
		return src;
	/* What was saved: the file may have shrunk while it was copied (the dump warned). */
	len = MIN(len, f->size);
	/* A memfd has no directory to come back in: a new memfd of that name. */
	if (!strncmp(f->path, "/memfd:", 7)) {
		tmp = memfd_create(f->path + 7, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (tmp < 0)
			return neg_errno();
		r = copy_contents(src, off, tmp, len);
		return r < 0 ? r : fd_reopen(tmp, flags);
	}
	tmp = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, f->mode & 07777);
	if (tmp >= 0) {
		r = copy_contents(src, off, tmp, len);
		if (r == 0)
			r = fd_reopen(tmp, flags);
		unlink(f->path);
		return r;
	}
	/* The name is taken again: an unnamed file in the same directory. */
	snprintf(dir, sizeof(dir), "%s", f->path);
	tmp = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, f->mode & 07777);
	if (tmp < 0)
		return neg_errno();
	r = copy_contents(src, off, tmp, len);
	if (r < 0)
		return r;
	/* O_TMPFILE gave O_RDWR; the access mode can only be narrowed by a reopen. */
	return fd_reopen(tmp, flags);
}

int file_open_regular(const struct desc_table *t, const struct fd_record *f)
{
	int flags = f->flags & ~OPEN_ONLY_FLAGS;
	int fd, r;

	if (f->deleted && !strncmp(f->path, "/memfd:", 7)) {
		fd = shm_open_memfd(t, f, flags);
		if (fd < 0)
			return fd;
	} else if (f->deleted) {
		fd = open_deleted(f, flags);
		if (fd < 0)
			return fd;
	} else {
		fd = open(f->path, flags | O_CLOEXEC);
		if (fd < 0)
			return neg_errno();
	}
	if (!(flags & O_PATH) && S_ISREG(f->mode) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
		r = neg_errno();
		close(fd);
		return r;
	}
	return fd;
}

/* The pipe's saved bytes go back in before anyone can read. */
static int refill_pipe(const struct fd_record *f, int wfd)
{
	_cleanup_close_ int src = -1;
	int fl = fcntl(wfd, F_GETFL), r;
	uint64_t off, len;

	if (f->pipe.size && fcntl(wfd, F_SETPIPE_SZ, f->pipe.size) < 0)
		log_warn("pipe:[%llu]: size %u: %m", (unsigned long long)f->pipe.ino, f->pipe.size);
	if (!f->content || !f->content_len)
		return 0;
	src = fd_content_open(f, &off, &len);
	if (src < 0)
		return src;
	/* Never block: the buffer was at most this big when it was saved. */
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	r = copy_contents(src, off, wfd, len);
	fcntl(wfd, F_SETFL, fl);
	return r;
}

/* Both ends of a pipe are made at once; a FIFO is opened through its path. */
static int open_pipe(const struct computation *c, const struct fd_record *f,
		     struct pipe_pair *pp)
{
	const struct fd_record *with_content = f;
	const struct fd_ino_entry *e;
	size_t n = fd_index_find(c, FD_PIPE, f->pipe.ino, &e);
	int p[2], r;

	/* the last record that holds the bytes, as the dump left them */
	for (size_t i = 0; i < n; i++)
		if (e[i].f->content)
			with_content = e[i].f;
	pp->ino = f->pipe.ino;
	if (f->path) {
		/* O_RDWR never blocks on a FIFO and keeps it open while we fill it. */
		int holder = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (holder < 0)
			return neg_errno();
		pp->rfd = fd_reopen(holder, O_RDONLY | O_NONBLOCK);
		pp->wfd = fd_reopen(holder, O_WRONLY | O_NONBLOCK);
		close(holder);
		if (pp->rfd < 0 || pp->wfd < 0)
			return pp->rfd < 0 ? pp->rfd : pp->wfd;
	} else {
		if (pipe2(p, O_CLOEXEC) < 0)
			return neg_errno();
		pp->rfd = p[0];
		pp->wfd = p[1];
	}
	r = refill_pipe(with_content, pp->wfd);
	return r;
}

int pipe_open(const struct computation *c, struct pipe_state *ps, const struct fd_record *f)
{
	struct pipe_pair *pp = NULL;
	int want, r;

	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].ino == f->pipe.ino)
			pp = &ps->v[i];
	if (!pp) {
		struct pipe_pair *n = realloc(ps->v, (ps->n + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ps->v = n;
		pp = &n[ps->n++];
		*pp = (struct pipe_pair){ .rfd = -1, .wfd = -1 };
		r = open_pipe(c, f, pp);
		if (r < 0)
			return r;
	}
	want = (f->flags & O_ACCMODE) == O_RDONLY ? pp->rfd : pp->wfd;
	return dup_with_flags(want, f->flags);
}

void pipe_state_clear(struct pipe_state *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		closep(&ps->v[i].rfd);
		closep(&ps->v[i].wfd);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

int file_open_device(const struct fd_record *f)
{
	int fd = open(f->path, (f->flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC);

	return fd < 0 ? neg_errno() : fd;
}

int file_open_stdio(const struct fd_record *f)
{
	int fd = fcntl(f->stdio_index, F_DUPFD_CLOEXEC, 0);

	return fd < 0 ? neg_errno() : fd;
}
