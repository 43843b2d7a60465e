/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore --lazy: the program runs before its private anonymous memory is
 * in.  Each stub registers those mappings with a userfaultfd and hands it
 * over (STUB_LAZY_FD); a thread of the restoring supervisor serves a page on
 * its first touch, from the image, and fetches the others meanwhile, in
 * address order.  The userfaultfd reports the program's forks (the child
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

/* A server with no process yet, its thread not started; 0 or -errno. */
int lazy_server_new(struct lazy_server **out);
/*
 * Serve pid (p's process, pid as the supervisor sees it) through uffd, which
 * the server owns from now on (closed on error too).  Thread-safe; 0 or
 * -errno with err set.
 */
int lazy_server_add(struct lazy_server *ls, const struct process_record *p, pid_t pid, int uffd,
		    char *err, size_t errlen);
/* Start the thread: only once every fork of the restore is done. */
int lazy_server_start(struct lazy_server *ls);
/*
 * Wait until every page of every process is in (a dump must see them all),
 * at most timeout_ms; 0 or -ETIMEDOUT.
 */
int lazy_server_settle(struct lazy_server *ls, int timeout_ms);
/* Stop the thread, close every userfaultfd, free; NULL is fine. */
void lazy_server_free(struct lazy_server *ls);

struct lazy_stats {
	uint64_t faults;	/* pages served on first touch */
	uint64_t fetched;	/* bytes brought in */
	uint64_t zero;		/* pages served as zeros (not in the image, or dropped) */
	uint64_t poisoned;	/* pages that could not be read */
	uint64_t done_ns;	/* CLOCK_MONOTONIC when the last page was in; 0: not yet */
};

void lazy_server_stats(struct lazy_server *ls, struct lazy_stats *out);

/*
 * Check the pieces of p's plain cores that its stub loaded itself (the
 * server checks the rest as it serves them); 0, or -errno with err naming
 * the file ("damaged").
 */
int lazy_verify_loaded(const struct process_record *p, char *err, size_t errlen);

/* Whether this process may restore --lazy here; 0, or -errno and err says why. */
int lazy_check_possible(char *err, size_t errlen);
