/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <limits.h>
#include <stdint.h>

struct session;

struct dump_request {
	const char *dir;	/* NULL: the session's default */
	int mode;		/* enum ctl_dump_mode */
};

struct dump_result {
	uint64_t generation;
	uint64_t frozen_ns, total_ns;
	uint64_t bytes;
	char dir[PATH_MAX];
	char msg[1024];		/* on failure: what failed (process, object, errno) */
};

/*
 * Checkpoint every process of the session: freeze, collect, write, then thaw
 * (or kill).  On any failure every process is thawed exactly as it was.
 */
int dump_computation(struct session *s, const struct dump_request *rq, struct dump_result *res);
