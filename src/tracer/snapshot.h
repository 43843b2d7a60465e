/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/image.h"
#include "proto/model.h"

struct snap_seg {
	pid_t pid;
	uint64_t addr, len;
	size_t off;	/* in buf */
};

struct snapshot {
	uint8_t *buf;
	size_t cap, used;
	struct snap_seg *segs;
	size_t nr_segs, hint;
	/*
	 * The runs are pages written since the last dump (snapshot_reserve_exact),
	 * the program's own unless it forked since: read in batches.
	 */
	bool written_only;
};

/* Before the freeze: a faulted-in buffer for the processes' anonymous
 * memory, when the machine has room for it (else buf stays NULL). */
void snapshot_reserve(struct snapshot *sn, const pid_t *pids, size_t n);
/* While frozen, when the runs are known: a buffer of exactly bytes, faulted in. */
int snapshot_reserve_exact(struct snapshot *sn, uint64_t bytes);
/* While frozen: copy every page run of c.  -ENOSPC: it does not fit. */
int snapshot_take(struct snapshot *sn, const struct computation *c);
/* The writer's page source once the program runs again. */
void snapshot_reader(struct snapshot *sn, struct mem_reader *mr);
void snapshot_release(struct snapshot *sn);
