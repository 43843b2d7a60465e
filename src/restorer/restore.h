/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct image_key;
struct session;
struct terminal_lease;

/*
 * Read the image in dir, rebuild every process and hand them, running, to
 * the session as its computation.  On failure nothing is left running and
 * err says what failed.
 */
#define RESTORE_NEW_PIDNS (1u << 0)	/* a fresh pid namespace even if it had none */
/* Files changed since the dump: a warning each, not a refusal. */
#define RESTORE_IGNORE_CHANGED_FILES (1u << 1)
/* The program runs before its memory is in: pages served on first touch (lazy.h). */
#define RESTORE_LAZY (1u << 2)

/*
 * key: what the image's manifest must be authenticated with (imagekey.h).
 * tl (may be NULL): when the program had a terminal, ours is lent to it;
 * terminal_lease_return() once it is over.
 */
/*
 * With a terminal lease, the caller tells the program of its terminal
 * (terminal_lease_started) once it has said it is ready: untraced, the
 * program redraws at once, and a message after that would scroll its screen.
 * *let_go_ns: when the program was let go (CLOCK_MONOTONIC): it runs from
 * then on, and may take the CPU from what we still do after.
 */
int restore_computation(struct session *s, const char *dir, const struct image_key *key,
			unsigned int flags, struct terminal_lease *tl, uint64_t *let_go_ns,
			char *err, size_t errlen);
