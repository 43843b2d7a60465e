/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Read a whole (small, e.g. /proc) file into a NUL-terminated malloc'd buffer. */
int read_file_at(int dirfd, const char *path, char **out, size_t *len);
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/*
 * All of buf on a socket, without blocking past timeout_ms (the peer may be
 * frozen): 0, -errno, or -ETIMEDOUT.
 */
int send_all_within(int fd, const void *buf, size_t len, int timeout_ms);
int pread_full(int fd, void *buf, size_t len, off_t off);
int pwrite_full(int fd, const void *buf, size_t len, off_t off);
/* mkdir -p with the given mode for every created component. */
int mkdir_p(const char *path, mode_t mode);
/*
 * rm -rf, on one filesystem: symbolic links are removed, never followed, and
 * a directory on another filesystem or mount (a mount point, a bind mount)
 * is left with everything above it (-EXDEV).  Used on image directories only.
 */
int rm_rf(const char *path);
/* The same for name in the directory parent (a file descriptor, or AT_FDCWD). */
int rm_tree_at(int parent, const char *name);
/*
 * Close every fd from `from` up but those in keep (sorted here, in place;
 * negative entries and duplicates are allowed): a few close_range calls,
 * where a scan of /proc/self/fd against the list grows with both.
 */
void close_all_except(unsigned int from, int *keep, size_t n);
