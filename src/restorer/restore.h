/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct session;

/*
 * Read the image in dir, rebuild every process and hand them, running, to
 * the session as its computation.  On failure nothing is left running and
 * err says what failed.
 */
#define RESTORE_NEW_PIDNS (1u << 0)	/* a fresh pid namespace even if it had none */

int restore_computation(struct session *s, const char *dir, unsigned int flags, char *err,
			size_t errlen);
