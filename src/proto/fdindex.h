/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fd records of a computation read from an image, by the inode of the
 * pipe or unix socket they are on, and unix listeners by the connections
 * pending on them: a restore looks one up for each of thousands of fds.
 * Built by image_read; read only after.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct computation;
struct fd_record;

struct fd_ino_entry {
	uint64_t ino;
	uint32_t kind;		/* FD_PIPE or FD_UNIX */
	uint32_t order;		/* the record's place in procs[].fds[], in turn */
	const struct fd_record *f;
};

struct fd_index {
	struct fd_ino_entry *by_ino;	/* sorted by kind, inode, order */
	size_t nr_by_ino;
	struct fd_ino_entry *pending;	/* ino: a connection pending on f; sorted the same way */
	size_t nr_pending;
};

int fd_index_build(struct computation *c);
void fd_index_free(struct fd_index *x);

/* The records of kind on inode ino, in the computation's order: how many, *first the first. */
size_t fd_index_find(const struct computation *c, uint32_t kind, uint64_t ino,
		     const struct fd_ino_entry **first);
/* The first unix socket (in the computation's order) with ino pending on it, or NULL. */
const struct fd_record *fd_index_pending(const struct computation *c, uint64_t ino);
