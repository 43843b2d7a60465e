/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The coordinator: the rendezvous of the supervisors of one computation on
 * every host.  It runs a global checkpoint as a two-phase commit -- all
 * freeze, then all write their part, then the top manifest is written (the
 * commit point), then all are let go (or killed); any failure, timeout or
 * host lost on the way calls it off and every host thaws -- and it releases
 * a restored computation on every host at once (a barrier).
 */
#pragma once

#include <stdint.h>

struct coordinator_options {
	const char *listen;		/* ADDR:PORT */
	const char *secret_path;
	int freeze_timeout_ms;		/* until every host is frozen */
	int dump_timeout_ms;		/* until every host has written its part */
	/* A checkpoint into dir every interval_s seconds (0: none), the keep
	 * latest generations kept on each host. */
	unsigned int interval_s, keep;
	const char *dir;
};

/* Serve until SIGINT or SIGTERM; 0 or -errno (said on stderr). */
int coordinator_run(const struct coordinator_options *o);
