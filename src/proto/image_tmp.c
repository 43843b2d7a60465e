/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/image_tmp.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define TMP_INFIX ".tmp-"
#define TMP_RANDOM 6
#define LOCK_SUFFIX ".lock"
/* mkostemps names collide only by chance; a few tries are plenty. */
#define CREATE_TRIES 16

int image_tmp_create(const char *dir, struct image_tmp *t)
{
	size_t suffix = strlen(LOCK_SUFFIX);
	int r = -EEXIST;

	t->lock_fd = -1;
	for (int i = 0; i < CREATE_TRIES; i++) {
		_cleanup_close_ int fd = -1;
		struct stat st;
		int n;

		n = snprintf(t->lock_path, sizeof(t->lock_path), "%s" TMP_INFIX "XXXXXX" LOCK_SUFFIX,
			     dir);
		if (n < 0 || (size_t)n >= sizeof(t->lock_path))
			return -ENAMETOOLONG;
		fd = mkostemps(t->lock_path, suffix, O_CLOEXEC);
		if (fd < 0)
			return log_ret(neg_errno(), "%s: %m", t->lock_path);
		/*
		 * A sweeper may take the lock between the create and here: it
		 * then removes the file, and this name is given up.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK)
				return log_ret(neg_errno(), "%s: flock: %m", t->lock_path);
			continue;
		}
		if (fstat(fd, &st) < 0)
			return log_ret(neg_errno(), "%s: %m", t->lock_path);
		if (st.st_nlink == 0)
			continue;
		memcpy(t->path, t->lock_path, n - suffix);
		t->path[n - suffix] = '\0';
		if (mkdir(t->path, 0700) < 0) {
			r = neg_errno();
			unlink(t->lock_path);
			/* A directory of that name without a lock: not ours, try another. */
			if (r == -EEXIST)
				continue;
			return log_ret(r, "%s: %s", t->path, strerror(-r));
		}
		t->lock_fd = TAKE_FD(fd);
		return 0;
	}
	return log_ret(r, "%s: no free temporary name", dir);
}

void image_tmp_release(struct image_tmp *t)
{
	int r;

	if (t->lock_fd < 0)
		return;
	r = rm_rf(t->path);
	/* Left in place, the lock tells the next sweep the directory is stale. */
	if (r < 0)
		log_warn("%s: could not remove: %s", t->path, strerror(-r));
	else
		unlink(t->lock_path);
	closep(&t->lock_fd);
}

/* name is BASE.tmp-XXXXXX (lock false) or BASE.tmp-XXXXXX.lock (lock true). */
static bool tmp_name(const char *name, const char *base, size_t base_len, bool lock)
{
	const char *p;

	if (strncmp(name, base, base_len) || strncmp(name + base_len, TMP_INFIX, strlen(TMP_INFIX)))
		return false;
	p = name + base_len + strlen(TMP_INFIX);
	for (int i = 0; i < TMP_RANDOM; i++, p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	return !strcmp(p, lock ? LOCK_SUFFIX : "");
}

/* A directory the sweeper may remove: ours, and on the parent's filesystem. */
static bool ours(const struct stat *st, const struct stat *parent)
{
	return st->st_uid == geteuid() && st->st_dev == parent->st_dev;
}

/* 1 removed, 0 left alone (live, gone, not ours), -errno failed. */
static int sweep_one(int parent_fd, const struct stat *parent, const char *lock_name,
		     const char *parent_path)
{
	_cleanup_close_ int fd = -1;
	char dir_name[NAME_MAX + 1];
	struct stat st, at;
	size_t n = strlen(lock_name) - strlen(LOCK_SUFFIX);
	bool removed = false;
	int r;

	fd = openat(parent_fd, lock_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : neg_errno();
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (!S_ISREG(st.st_mode) || !ours(&st, parent))
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 0 : neg_errno();
	/* Taken after its writer or another sweeper removed it: nothing to do. */
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (st.st_nlink == 0 || fstatat(parent_fd, lock_name, &at, AT_SYMLINK_NOFOLLOW) < 0 ||
	    at.st_ino != st.st_ino || at.st_dev != st.st_dev)
		return 0;

	memcpy(dir_name, lock_name, n);
	dir_name[n] = '\0';
	if (fstatat(parent_fd, dir_name, &at, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(at.st_mode) || !ours(&at, parent)) {
			log_warn("%s/%s: not a directory of this user on this filesystem: left alone",
				 parent_path, dir_name);
			return 0;
		}
		r = rm_tree_at(parent_fd, dir_name);
		if (r < 0) {
			/* The lock stays: the next sweep tries again. */
			log_warn("%s/%s: stale image directory: could not remove: %s",
				 parent_path, dir_name, strerror(-r));
			return r;
		}
		log_info("%s/%s: removed the image directory of a writer that died",
			 parent_path, dir_name);
		removed = true;
	} else if (errno != ENOENT) {
		return neg_errno();
	}
	if (unlinkat(parent_fd, lock_name, 0) < 0 && errno != ENOENT)
		return neg_errno();
	return removed;
}

int image_tmp_sweep(const char *dir_arg)
{
	char parent_path[PATH_MAX], dir[PATH_MAX];
	const char *base, *slash;
	_cleanup_close_ int parent_fd = -1;
	struct stat parent;
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, base_len, n;
	int removed = 0;
	DIR *d;

	n = strlen(dir_arg);
	while (n > 1 && dir_arg[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(dir))
		return n ? -ENAMETOOLONG : 0;
	memcpy(dir, dir_arg, n);
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (!slash) {
		snprintf(parent_path, sizeof(parent_path), ".");
		base = dir;
	} else {
		size_t len = slash == dir ? 1 : (size_t)(slash - dir);

		if (len >= sizeof(parent_path))
			return -ENAMETOOLONG;
		memcpy(parent_path, dir, len);
		parent_path[len] = '\0';
		base = slash + 1;
	}
	base_len = strlen(base);
	if (base_len == 0 || base_len + strlen(TMP_INFIX) + TMP_RANDOM + strlen(LOCK_SUFFIX) > NAME_MAX)
		return 0;
	parent_fd = open(parent_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent_fd < 0)
		return errno == ENOENT ? 0 : neg_errno();
	if (fstat(parent_fd, &parent) < 0)
		return neg_errno();
	{
		int fd = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return neg_errno();
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return neg_errno();
		}
	}
	/* Names first: removing while reading the directory may skip entries. */
	while ((de = readdir(d))) {
		char **g;

		if (!tmp_name(de->d_name, base, base_len, true) &&
		    !tmp_name(de->d_name, base, base_len, false))
			continue;
		g = realloc(names, (nr + 1) * sizeof(*g));
		if (!g)
			break;
		names = g;
		names[nr] = strdup(de->d_name);
		if (names[nr])
			nr++;
	}
	closedir(d);

	for (size_t i = 0; i < nr; i++) {
		struct stat st, lst;
		char lock_name[NAME_MAX + 1];
		int r;

		if (tmp_name(names[i], base, base_len, true)) {
			r = sweep_one(parent_fd, &parent, names[i], parent_path);
			if (r > 0)
				removed++;
			continue;
		}
		/* A directory without a lock: nothing says its writer is gone. */
		snprintf(lock_name, sizeof(lock_name), "%s" LOCK_SUFFIX, names[i]);
		if (fstatat(parent_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && ours(&st, &parent) &&
		    fstatat(parent_fd, lock_name, &lst, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			log_warn("%s/%s: a temporary image directory without a writer lock: "
				 "left alone (remove it by hand if no dump writes it)",
				 parent_path, names[i]);
	}
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	return removed;
}
