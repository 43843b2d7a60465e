/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "proto/model.h"

/*
 * Re-create every fd of p at its number, without FD_CLOEXEC (the stub sets
 * it back where it was).  stdio: the restorer's own 0-2, moved out of the
 * way.  Every fd the caller still needs must be above p's highest fd.
 */
int restore_fds(const struct process_record *p, const int stdio[3], char *err, size_t errlen);
