/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of fd tables.  Every open file description of the computation is
 * opened once, by the restoring supervisor, before any process exists; the
 * processes inherit them through fork and each moves its own to their
 * numbers.  So descriptions shared at dump time (one offset, one pipe) are
 * shared again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"

struct desc_entry {
	uint32_t desc_id;
	int fd;
};

/* A shared memory object, re-created once for every process that maps it. */
struct shm_entry {
	uint64_t dev, ino;	/* as saved */
	int fd;			/* -1: a SysV segment the processes attach by id */
	int sysv_id;
	void *attached;		/* our attach of a SysV segment, held until descs_close */
};

struct desc_table {
	struct desc_entry *v;
	size_t n;
	struct shm_entry *shm;
	size_t nr_shm;
	int base;	/* every fd here is >= base, above every saved fd */
	/* Part of a computation on several hosts: TCP connections to the other
	 * hosts stay locked (nftables) until every host is released. */
	bool hold_netlock;
	/* Without root: the IPC namespace we made, where SysV ids are ours to set. */
	bool own_ipcns;
	/* Our ends of the FD_DEAD_END sockets, to be kept while we supervise,
	 * and the inodes of the program's ends. */
	int *dead_ends;
	uint64_t *dead_end_inos;
	size_t nr_dead_ends;
};

/* Open every description of c; stdio: the restorer's own 0-2. */
int descs_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen);
void descs_close(struct desc_table *t);
int descs_lookup(const struct desc_table *t, uint32_t desc_id);

/*
 * In the new process: put every fd of p at its number, without FD_CLOEXEC
 * (the stub sets it back where it was).
 */
int restore_fds(const struct process_record *p, const struct desc_table *t, char *err,
		size_t errlen);

/* The fd of the re-created shared memory object a VMA maps, or -1. */
int descs_shm_lookup(const struct desc_table *t, const struct vma_record *v);

/*
 * The VMA maps a SysV segment that has no fd here (restored without root):
 * the stub attaches it by its id, v->sysv_id.
 */
bool descs_shm_by_id(const struct desc_table *t, const struct vma_record *v);

/* For the builders of each kind: sendfile size bytes; fd moved to >= base, cloexec. */
int copy_contents(int from, int to, uint64_t size);
int move_above(int fd, int base);

/*
 * A restore called off: its TCP connections back in repair mode, so that
 * closing them sends nothing (no FIN to a peer that waits for the real one,
 * no lingering state on the addresses a next attempt needs).
 */
void descs_quiesce(const struct computation *c, const struct desc_table *t);

/* Every host is released: the peers' packets may come in (see hold_netlock). */
void descs_unlock_peers(const struct computation *c);

/* The highest fd number any process of c uses. */
int descs_highest_fd(const struct computation *c);
