/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run --resume, --checkpoint-on SIG, --requeue (run_job.c). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct job_opts {
	bool resume;		/* restore DIR when it holds a checkpoint, else start CMD */
	int signo;		/* --checkpoint-on: 0 or the signal */
	bool requeue;		/* scontrol requeue $SLURM_JOB_ID after that checkpoint */
	const char *fetch_from;	/* --fetch-from HOST: the checkpoint is on HOST's disk */
};

/* argv[*i] is one of them: 1 (taken, *i moved past its value); 0: not ours; -1: bad (said). */
int job_opt(int argc, char **argv, int *i, struct job_opts *o);
/* Options that do not go together, or --requeue outside a Slurm job: -1 (said). */
int job_opts_check(const struct job_opts *o, bool dir_given, bool coord);

struct image_key;
/* The part of a checkpoint of several hosts that this task of a Slurm job restores. */
struct job_part {
	char dir[PATH_MAX];	/* DIR/<host>.g<N> */
	char old_addr[256];	/* the address its host had */
	uint32_t count;		/* the parts of the checkpoint */
};
/*
 * DIR/manifest: 0 when there is none; 1 when it verifies under key (its
 * generation in *generation); -1 when it does not, or is not the user's (said).
 * part: the checkpoint must be of several hosts, and *part is this task's
 * (SLURM_PROCID); NULL: of one host.  fetch_from: a node-local DIR not here
 * is fetched from that host first, and a part not here from its old host.
 */
int job_find_checkpoint(const char *dir, const struct image_key *key, uint64_t *generation,
			struct job_part *part, const char *fetch_from);
/* scontrol requeue $SLURM_JOB_ID, by argv.  0 or -errno (said). */
int job_requeue(void);
