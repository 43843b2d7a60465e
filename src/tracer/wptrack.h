/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Incremental checkpoints: the pages each process wrote since the last
 * image.  The first dump that asks registers every private mapping of each
 * process with a userfaultfd in asynchronous write-protect mode, which the
 * supervisor holds (the program never sees it); a later dump's PAGEMAP_SCAN
 * tells written pages from the others and write-protects them again in the
 * same walk.  Pages not written since are taken from the previous image:
 * its core files are hard-linked into the new one (image.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/model.h"

struct collect_ctx;
struct image_key;
struct session;

/* A chain of incremental images is cut (a process's pages all stored again) at this length. */
#define WP_MAX_CHAIN 8

/* One process's pages of the previous image, while its mappings are scanned. */
struct wp_bases {
	const struct process_record *pp;	/* the previous image's record, or NULL */
	uint64_t parent_gen;
	struct process_record *p;
	size_t i, b;				/* cursors in pp->runs and pp->base_runs */
	uint64_t vma_start;			/* runs never cross mappings: merged above it only */
	int map[TC_MAX_BASE_FILES + 1];		/* pp's core (0), its bases -> p->base_files */
	uint32_t cap;
};

/*
 * Before the freeze: whether this dump scans (and arms) written-page
 * tracking, and the image the pages count from if dir holds it.
 */
void wptrack_prepare(struct session *s, const char *dir, const struct image_key *key, int mode,
		     bool incremental);
/* After the dump: the previous image read above is let go. */
void wptrack_finish(struct session *s);

void wptrack_bases_begin(struct collect_ctx *cx, struct process_record *p, struct wp_bases *wb);
/*
 * [a, e) was not written since the previous image: base runs where that
 * image holds the pages, own(arg, from, to) for the rest (stored anew).
 */
int wptrack_unwritten(struct wp_bases *wb, uint64_t a, uint64_t e,
		      int (*own)(void *arg, uint64_t a, uint64_t e), void *arg);

/*
 * While frozen, after its mappings were scanned: register the process's
 * private mappings that are not tracked yet and write-protect them.  A
 * failure only leaves them untracked (logged): the next dump stores them.
 */
void wptrack_arm(struct collect_ctx *cx, struct process_record *p);

/* A dump's worker hands the tracked processes to the supervisor (SCM_RIGHTS on sock). */
int wptrack_send(struct session *s, int sock);
/* The supervisor: the worker's list replaces its own (valid), or nothing changes. */
void wptrack_receive(struct session *s, int sock, bool valid);
/* Every userfaultfd closed: the kernel lets go of the write protection. */
void wptrack_forget(struct session *s);
