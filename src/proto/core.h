/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Layout of a process's core file, shared by the image writer and reader and
 * exposed to the unit tests.  Internal to src/proto.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "proto/tlv.h"

#define CORE_PAGE 4096u
/* Under PN_XNUM (65535) with room to spare, so no extended numbering is needed. */
#define CORE_MAX_LOADS 60000u

/* One PT_LOAD: some page runs, and the gaps between them when runs were merged. */
struct core_seg {
	uint64_t vaddr, len;
	uint64_t off;		/* in the file */
	uint32_t pflags;	/* PF_R | PF_W | PF_X */
};

/* What to put in the file, in file order: read from the process, or zeros. */
struct core_piece {
	uint64_t vaddr, len;
	bool zero;
};

struct core_plan {
	size_t nr_segs;
	struct core_seg *segs;
	size_t nr_pieces;
	struct core_piece *pieces;
	uint64_t data_bytes;	/* sum of the segments' lengths */
};

/*
 * Turn p's runs into at most max_segs PT_LOAD segments, merging the runs
 * closest together when there are too many.  Offsets are relative to the
 * start of the data area.  -EINVAL for unsorted or unaligned runs, -E2BIG
 * when they cannot be merged down far enough.
 */
int core_plan_build(const struct process_record *p, size_t max_segs, struct core_plan *plan);
void core_plan_free(struct core_plan *plan);

/*
 * The PT_NOTE contents: the standard notes gdb reads, then the process
 * record.  psargs may be NULL (comm is used).  rec is the TLV-encoded
 * process record.
 */
int core_notes_build(struct tlv_buf *out, const struct process_record *p, const char *psargs,
		     const void *rec, size_t rec_len);

/*
 * Parse a whole core file held in memory (the fuzz target's way in; the
 * reader maps the file and goes through the same code).  buf must stay
 * valid until this returns.
 */
int core_parse_buffer(void *buf, size_t len, struct process_record *p, char *err, size_t errlen);
