/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of dead ends (FD_DEAD_END): an ssh client's connection to the
 * host its command was carried to becomes a socket nobody writes to; our
 * end is kept in the desc_table while we supervise.
 */
#pragma once

#include "proto/model.h"
#include "restorer/fdtable.h"

/* The program's end, a new fd with f's flags; ours goes in t->dead_ends. */
int dead_end_open(struct desc_table *t, const struct fd_record *f);
