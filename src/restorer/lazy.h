/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore --lazy: the program runs before its private anonymous memory is
 * in.  Each stub registers those mappings with a userfaultfd and hands it
 * over (STUB_LAZY_FD); a process the restoring supervisor forks serves a
 * page on its first touch, from the image, and fetches the others
 * meanwhile, in address order.  The userfaultfd reports the program's forks (the child
 * gets one of its own, with the same pages to come), mremaps (the pages to
 * come move), madvise(DONTNEED)s and munmaps (those pages are no longer to
 * come: a touch gets a zero page, as it would have).  A page that cannot be
 * read is poisoned (a touch is SIGBUS), never replaced, and the process
 * killed with the reason in the log.  Once a process has all its pages its
 * userfaultfd is closed: it runs as if restored the usual way.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/model.h"

struct lazy_server;

/*
 * Fork the page server for c's processes (c as it is now: the server keeps
 * its copy), before any thread of ours starts.  It is a process of its own:
 * a supervisor killed while pages are still to come leaves it serving them
 * until every page is in.  0 or -errno.
 */
int lazy_server_new(struct lazy_server **out, const struct computation *c);
/*
 * Serve c->procs[proc] (pid: as the supervisor sees it) through uffd, which
 * is closed here; 0 or -errno with err set.
 */
int lazy_server_add(struct lazy_server *ls, size_t proc, pid_t pid, int uffd, char *err,
		    size_t errlen);
/*
 * Wait until every page of every process is in (a dump must see them all),
 * at most timeout_ms; 0 or -ETIMEDOUT.
 */
int lazy_server_settle(struct lazy_server *ls, int timeout_ms);
/* Let go of the server (it finishes on its own, then exits); NULL is fine. */
void lazy_server_free(struct lazy_server *ls);

struct lazy_stats {
	uint64_t faults;	/* pages served on first touch */
	uint64_t fetched;	/* bytes brought in */
	uint64_t zero;		/* pages served as zeros (not in the image, or dropped) */
	uint64_t poisoned;	/* pages that could not be read */
	uint64_t done_ns;	/* CLOCK_MONOTONIC when the last page was in; 0: not yet */
};

/*
 * Check the pieces of p's plain cores that its stub loaded itself (the
 * server checks the rest as it serves them); 0, or -errno with err naming
 * the file ("damaged").
 */
int lazy_verify_loaded(const struct process_record *p, char *err, size_t errlen);

/* Whether this process may restore --lazy here; 0, or -errno and err says why. */
int lazy_check_possible(char *err, size_t errlen);
