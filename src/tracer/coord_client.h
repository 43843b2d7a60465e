/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A supervisor's side of the coordinator: it joins, answers a global
 * checkpoint step by step (frozen, written, done) and waits for the
 * coordinator's GO before a restored computation runs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

/*
 * Where the secret of the coordinator at addr lives by default:
 * <control dir>/coordinator-<port>.secret.
 */
int coord_default_secret(const char *addr, char *out, size_t len);

/* Connect, authenticate and join as this host's supervisor (s->coord);
 * restoring: the computation is being restored (no checkpoint until GO). */
int coord_join(struct session *s, const char *addr, const char *secret_path, bool restoring);

/* This process is task *task of a Slurm job (SLURM_PROCID); -ENOENT: not one. */
int job_task(uint32_t *task);

/* The coordinator's fd is readable: serve what it asks (a global checkpoint). */
void coord_serve(struct session *s);

/* A restored computation is built: say so, and wait for GO (-ECANCELED: called off). */
int coord_wait_go(struct session *s, int timeout_ms);
