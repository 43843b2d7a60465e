/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of descriptions opened by path or inherited: regular files
 * (deleted ones brought back from the image), devices, the restorer's own
 * stdio, pipes and FIFOs with the bytes they held.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"
#include "restorer/fdtable.h"

/* Both ends of one pipe, made when its first end is asked for. */
struct pipe_pair {
	uint64_t ino;
	int rfd, wfd;
};

struct pipe_state {
	struct pipe_pair *v;
	size_t n;
};

/* Each returns a new fd (FD_CLOEXEC) on a new description for f. */
int file_open_regular(const struct desc_table *t, const struct fd_record *f);
int file_open_device(const struct fd_record *f);
int file_open_stdio(const struct fd_record *f);
/* Its end of the pipe, with the record's flags; the pipe is made (and refilled) once. */
int pipe_open(const struct computation *c, struct pipe_state *ps, const struct fd_record *f);
void pipe_state_clear(struct pipe_state *ps);
