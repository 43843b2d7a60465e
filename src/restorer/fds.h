/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of fd tables.  Every open file description of the computation is
 * opened once, by the restoring supervisor, before any process exists; the
 * processes inherit them through fork and each moves its own to their
 * numbers.  So descriptions shared at dump time (one offset, one pipe) are
 * shared again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "restorer/fdtable.h"

/* Open every description of c; stdio: the restorer's own 0-2. */
int descs_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen);
void descs_close(struct desc_table *t);

/*
 * In the new process: put every fd of p at its number, without FD_CLOEXEC
 * (the stub sets it back where it was).
 */
int restore_fds(const struct process_record *p, const struct desc_table *t, char *err,
		size_t errlen);
