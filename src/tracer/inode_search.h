/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A path for an inode known only by device and number, found by looking
 * where the process is likely to have named it.  Needed where a file handle
 * cannot be opened (open_by_handle_at wants CAP_DAC_READ_SEARCH in the
 * initial user namespace, which a rootless supervisor never has).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Bounds of the walk below the process's cwd, its $HOME and the device's mounts. */
#define INODE_SEARCH_DEPTH 6
#define INODE_SEARCH_ENTRIES 200000

/* Paths found during one dump, so the next process or fd asks no walk for them. */
struct inode_cache;

struct inode_cache *inode_cache_new(void);
void inode_cache_free(struct inode_cache *c);
static inline void inode_cache_freep(struct inode_cache **c)
{
	inode_cache_free(*c);
}

struct inode_query {
	dev_t dev;		/* as st_dev */
	ino_t ino;
	char *path;		/* found: malloc'd, absolute in the process's root; else NULL */
	bool symlink;		/* the path names a symbolic link itself */
};

/*
 * Fill in the path of every query that can be found, in the root of pid
 * (whose cwd, files, mappings, environment and mounts are looked at): the
 * obvious places first, then one breadth-first walk for all that are left.
 * Symbolic links are never followed and no other device is entered.  A
 * found path was checked to open (in that root, not following a last
 * symbolic link) the very inode.  0 when done, whether all were found or
 * not (*entries: how many directory entries were looked at); -errno when
 * the search itself failed.  cache may be NULL.
 */
int inode_search(struct inode_cache *cache, pid_t pid, struct inode_query *q, size_t n,
		 size_t *entries);
