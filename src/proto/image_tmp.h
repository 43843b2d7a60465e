/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The temporary directory an image is written in, DIR.tmp-XXXXXX next to
 * DIR, and the removal of those a killed writer left behind.
 *
 * Each has a lock, DIR.tmp-XXXXXX.lock next to it: the writer creates the
 * lock file first, holds an exclusive flock on it from before the directory
 * exists until after it is gone, and removes it last.  The kernel drops a
 * flock when its holder dies, so a lock that can be taken proves the writer
 * dead, in any pid namespace and after any reboot: its directory is stale.
 * A directory whose lock is held is being written; one with no lock file at
 * all was not made this way, and nothing proves its writer dead: both are
 * left alone.
 */
#pragma once

#include <limits.h>

struct image_tmp {
	char path[PATH_MAX];		/* DIR.tmp-XXXXXX */
	char lock_path[PATH_MAX];	/* DIR.tmp-XXXXXX.lock */
	int lock_fd;			/* -1 when not held */
};

/*
 * Create and lock a fresh temporary directory (0700) for the image DIR (no
 * trailing slash).  0 or -errno.
 */
int image_tmp_create(const char *dir, struct image_tmp *t);

/* Remove what is left at t->path (no-op once renamed away), then the lock. */
void image_tmp_release(struct image_tmp *t);

/*
 * Remove the stale temporary directories of DIR: names DIR.tmp-XXXXXX (six
 * letters or digits) next to DIR, directories owned by the effective uid on
 * DIR's filesystem, whose lock can be taken.  Never follows a symbolic link
 * nor enters another filesystem.  Returns how many were removed, or -errno
 * when DIR's parent cannot be read; what could not be removed is logged.
 */
int image_tmp_sweep(const char *dir);
