/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The table of open file descriptions a restore has opened, by desc_id,
 * and the helpers every builder of a kind shares.  It calls no builder:
 * the builders (file.c, anonfd.c, inet.c, unix.c, tty.c, udp.c, shm.c...)
 * call it, and fds.c calls them.
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
	size_t n, cap;
	uint32_t *slots;	/* open addressing by desc_id: index in v + 1, 0 free */
	size_t nr_slots;	/* a power of two, at least twice n */
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

/* The fd of the description desc_id, or -1. */
int descs_lookup(const struct desc_table *t, uint32_t desc_id);
/* fd (consumed) moved above t->base and kept as description id. */
int descs_add(struct desc_table *t, uint32_t id, int fd);

/* The highest fd number any process of c uses. */
int descs_highest_fd(const struct computation *c);

/* For the builders of each kind: sendfile size bytes from offset off; fd moved to >= base, cloexec. */
int copy_contents(int from, uint64_t off, int to, uint64_t size);
int move_above(int fd, int base);
/* A new open file description (flags, FD_CLOEXEC) of the file fd is open on. */
int fd_reopen(int fd, int flags);
/* A dup of fd (FD_CLOEXEC) with the saved status flags (O_NONBLOCK...) of its description. */
int dup_with_flags(int fd, uint32_t flags);
