/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A leave-running dump whose freeze does not grow with memory: while the
 * computation is frozen each process is cloned (a remote clone(2), its
 * memory copy-on-write), the program runs on, and the image is written
 * from the clones, which never run.  Afterwards each clone is killed and
 * reaped in its parent (a stop of one thread of it, one wait4).
 *
 * While frozen only the mappings are listed (/proc/PID/maps): which pages
 * each process has, and what madvise set, are read in its clone after the
 * thaw, since both walk every page table (4 GiB: some 60 ms).  What the
 * clone does not show (MADV_DONTFORK, MADV_WIPEONFORK) is found and copied
 * while frozen.  The clone itself is made in a time that grows with memory
 * (fork copies the page tables: 14 ms per GiB of written pages here).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "proto/image.h"
#include "proto/model.h"
#include "tracer/memread.h"

struct session;

#define FORKSNAP_MAX_KEEP 8

struct forked_proc {
	pid_t real_pid;		/* the process */
	pid_t tid;		/* its thread that made the clone */
	pid_t copy;		/* the clone, stopped */
	pid_t copy_inner;	/* its pid in the process's own pid namespace */
	uint64_t syscall_insn;
	uint64_t released;	/* the clone's memory below is unmapped (written out) */
	/* What the clone keeps mapped: [start, end) each, sorted, apart. */
	uint64_t keep[FORKSNAP_MAX_KEEP][2];
	size_t nr_keep;
};

/* Pages a clone does not share: copied while frozen. */
struct frozen_seg {
	pid_t real_pid;
	uint64_t addr, len;
	uint8_t *buf;
};

struct fork_snapshot {
	struct forked_proc *procs;
	size_t nr_procs;
	struct frozen_seg *segs;
	size_t nr_segs;
	struct memread_ctx mctx;
	struct mem_reader inner;
};

/* Whether leave-running dumps clone (TRACE_CKPT_SNAPSHOT=copy: pre-copy instead). */
bool forksnap_wanted(void);
/*
 * While frozen: a clone of every process of c, and a copy of the pages
 * clones do not share (MAP_SHARED, MADV_DONTFORK, MADV_WIPEONFORK, deleted
 * files); deferred: the collectors left pages and flags to the clones.  On
 * failure nothing is left behind and the caller dumps another way.
 */
int forksnap_take(struct session *s, struct computation *c, bool deferred,
		  struct fork_snapshot *fs);
/*
 * Once the program runs again, for a dump whose collectors left the pages
 * to the clones (collect_ctx.defer_pages): each process's pages and madvise
 * flags, read in its clone.  err names the process.
 */
int forksnap_complete(struct fork_snapshot *fs, struct computation *c, char *err, size_t errlen);
/* 0 when no clone was killed (what was read from them is what they held). */
int forksnap_intact(struct fork_snapshot *fs);
/* The writer's page source: the clones. */
void forksnap_reader(struct fork_snapshot *fs, struct mem_reader *mr);
/*
 * The clones killed and reaped; frozen: the processes are still stopped
 * by us (else each is stopped for its wait4).  *stall_ns: the longest a
 * process was stopped for it.
 */
void forksnap_release(struct fork_snapshot *fs, bool frozen, uint64_t *stall_ns);
