// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fd record's parts of files that are not regular ones: a pipe or FIFO.
 * (tracer/fd.c collects them, restorer/file.c opens them again.)
 */
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/* FD_PIPE. */
static const struct field fd_pipe_fields[] = {
	F_U64(FD_A_PIPE_INO, struct fd_record, pipe.ino),
	F_U32(FD_A_PIPE_SIZE, struct fd_record, pipe.size),
};

const struct field_table fd_pipe_part = { fd_pipe_fields, ARRAY_SIZE(fd_pipe_fields) };
