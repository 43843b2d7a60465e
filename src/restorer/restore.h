/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct session;

/*
 * Read the image in dir, rebuild every process and hand them, running, to
 * the session as its computation.  On failure nothing is left running and
 * err says what failed.
 */
int restore_computation(struct session *s, const char *dir, char *err, size_t errlen);
