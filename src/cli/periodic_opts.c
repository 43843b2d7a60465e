/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --interval S, --keep N and --incremental, shared by run, attach and restore. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tracer/periodic.h"
#include "tracer/session.h"

/* Every checkpoint renames them all one step: a bound keeps that cheap. */
#define KEEP_MAX 1000

static int parse_count(const char *v, unsigned int *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n == 0 || n > UINT_MAX || v[0] == '-')
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

int periodic_opt(const char *cmd, int argc, char **argv, int *i, struct periodic_opts *o)
{
	unsigned int *dst;

	(void)argc;
	if (!strcmp(argv[*i], "--incremental")) {
		o->incremental = true;
		return 1;
	}
	if (!strcmp(argv[*i], "--compress")) {
		o->compress = true;
		return 1;
	}
	if (!strcmp(argv[*i], "--interval"))
		dst = &o->interval_s;
	else if (!strcmp(argv[*i], "--keep"))
		dst = &o->keep;
	else
		return 0;
	if (*i + 1 >= argc || parse_count(argv[*i + 1], dst) < 0 ||
	    (dst == &o->keep && *dst > KEEP_MAX)) {
		fprintf(stderr, "trace-ckpt %s: %s takes a whole number above 0%s\n", cmd, argv[*i],
			dst == &o->keep ? " and at most 1000" : "");
		return -1;
	}
	(*i)++;
	return 1;
}

int periodic_apply(struct session *s, const struct periodic_opts *o, const char *cmd)
{
	int r;

	if ((o->incremental || o->compress) && s->coord) {
		fprintf(stderr, "trace-ckpt %s: --incremental and --compress are for one host's "
			"computation today; a checkpoint of several hosts stores everything as it "
			"is\n", cmd);
		return -EINVAL;
	}
	s->incremental = o->incremental;
	s->compress = o->compress;
	if (!o->interval_s) {
		if (o->keep > 1)
			s->keep = o->keep - 1;
		return 0;
	}
	if (s->coord) {
		fprintf(stderr, "trace-ckpt %s: a computation on several hosts is checkpointed "
			"by its coordinator: trace-ckpt coordinator --interval\n", cmd);
		return -EINVAL;
	}
	r = periodic_start(s, o->interval_s, o->keep ? o->keep : 1);
	if (r < 0)
		fprintf(stderr, "trace-ckpt %s: checkpoints every %u s: %s\n", cmd, o->interval_s,
			strerror(-r));
	return r;
}
