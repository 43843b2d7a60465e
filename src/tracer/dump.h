/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct session;
struct tcp_exchange;

/*
 * A checkpoint of several hosts at once: the coordinator decides when each
 * step may go on.  A hook returning < 0 ends the dump as a failure (the
 * program thawed, what was written removed).
 */
struct dump_hooks {
	/* Every process here is frozen; may the state be collected? */
	int (*frozen)(void *arg);
	/* The image is written in dir; may the program be let go (or killed)? */
	int (*written)(void *arg, const char *dir, uint64_t bytes, size_t nr_procs);
	/* The TCP connections between hosts (collect.h) */
	const struct tcp_exchange *tcp;
	void *arg;
};

struct dump_request {
	const char *dir;	/* NULL: the session's default */
	int mode;		/* enum ctl_dump_mode */
	uint64_t generation;	/* 0: the session's next */
	const struct dump_hooks *hooks;
	/* Store only the pages written since the previous image in dir
	 * (tracer/wptrack.h); one host only. */
	bool incremental;
	bool compress;		/* the cores' pages compressed (zstd) */
};

struct dump_result {
	uint64_t generation;
	uint64_t frozen_ns, total_ns;
	uint64_t bytes;
	uint64_t base_bytes;	/* pages taken from earlier generations */
	uint64_t time_ns;	/* the image's (manifest) */
	char dir[PATH_MAX];
	char msg[8192];		/* on failure: what failed (process, object, errno) */
};

/*
 * Checkpoint every process of the session: freeze, collect, write, then thaw
 * (or kill).  On any failure every process is thawed exactly as it was.
 */
int dump_computation(struct session *s, const struct dump_request *rq, struct dump_result *res);
