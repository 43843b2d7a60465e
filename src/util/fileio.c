/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <sys/socket.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/macro.h"

int read_file_at(int dirfd, const char *path, char **out, size_t *len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, n = 0;

	if (fd < 0)
		return neg_errno();
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return neg_errno();
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return neg_errno();
		if (r == 0)
			return -EPIPE;
		p += r;
		len -= r;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return neg_errno();
		p += r;
		len -= r;
	}
	return 0;
}

int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return neg_errno();
		if (r == 0)
			return -ENODATA;
		p += r;
		len -= r;
		off += r;
	}
	return 0;
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t r = pwrite(fd, p, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return neg_errno();
		p += r;
		len -= r;
		off += r;
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return neg_errno();
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return neg_errno();
	return 0;
}

/* Which filesystem, and which mount of it, an open file is on. */
struct fs_id {
	dev_t dev;
	uint64_t mnt;		/* 0 where statx does not tell */
};

static int fs_id_of(int fd, struct fs_id *id)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
		return neg_errno();
	id->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	id->mnt = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	return 0;
}

static bool fs_id_eq(const struct fs_id *a, const struct fs_id *b)
{
	return a->dev == b->dev && a->mnt == b->mnt;
}

#define RM_TREE_MAX_DEPTH 64

/*
 * Empty the directory dir_fd (which is on fs).  A symbolic link is removed,
 * never followed; a directory on another filesystem or mount is left whole
 * (-EXDEV), and so is everything above it.
 */
static int rm_tree_in(int dir_fd, const struct fs_id *fs, int depth)
{
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	if (depth > RM_TREE_MAX_DEPTH)
		return -ELOOP;
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	d = fdopendir(fd);
	if (!d) {
		r = neg_errno();
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -1;
		struct fs_id sub_fs;
		int q;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = r ? r : neg_errno();
			continue;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = r ? r : neg_errno();
			continue;
		}
		q = fs_id_of(sub, &sub_fs);
		if (q == 0 && !fs_id_eq(&sub_fs, fs))
			q = -EXDEV;
		if (q == 0)
			q = rm_tree_in(sub, fs, depth + 1);
		if (q == 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			q = neg_errno();
		if (q < 0 && !r)
			r = q;
	}
	closedir(d);
	return r;
}

int rm_tree_at(int parent, const char *name)
{
	_cleanup_close_ int fd = -1, up = -1;
	struct fs_id fs, up_fs;
	int r;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return neg_errno();
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : neg_errno();
	/* A mount point itself is another filesystem's root: not ours to empty. */
	up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0)
		return neg_errno();
	if ((r = fs_id_of(fd, &fs)) < 0 || (r = fs_id_of(up, &up_fs)) < 0)
		return r;
	if (!fs_id_eq(&fs, &up_fs))
		return -EXDEV;
	r = rm_tree_in(fd, &fs, 0);
	if (r < 0)
		return r;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return neg_errno();
	return 0;
}

int rm_rf(const char *path)
{
	return rm_tree_at(AT_FDCWD, path);
}

int send_all_within(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	struct timespec ts;
	uint64_t now, deadline;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000 + (uint64_t)timeout_ms;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
		if (now >= deadline)
			return -ETIMEDOUT;
		poll(&pfd, 1, 10);
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void close_all_except(unsigned int from, int *keep, size_t n)
{
	if (n)
		qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < from)
			continue;
		if ((unsigned int)keep[i] > from)
			close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	close_range(from, ~0u, 0);
}
