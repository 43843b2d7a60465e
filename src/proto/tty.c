// SPDX-License-Identifier: GPL-2.0-or-later
/* The fd record's part of a terminal (tracer/tty.c, restorer/tty.c). */
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/* FD_TTY and a terminal FD_STDIO. */
static const struct field fd_tty_fields[] = {
	F_U32(FD_A_TTY_KIND, struct fd_record, tty.kind),
	F_U32(FD_A_TTY_INDEX, struct fd_record, tty.index),
	F_BLOB(FD_A_TTY_TERMIOS, struct fd_record, tty.termios, tty.termios_len),
	F_U32(FD_A_TTY_ROWS, struct fd_record, tty.rows),
	F_U32(FD_A_TTY_COLS, struct fd_record, tty.cols),
	F_U32(FD_A_TTY_XPIXEL, struct fd_record, tty.xpixel),
	F_U32(FD_A_TTY_YPIXEL, struct fd_record, tty.ypixel),
	F_U32(FD_A_TTY_LOCKED, struct fd_record, tty.locked),
	F_U32(FD_A_TTY_PACKET, struct fd_record, tty.packet),
	F_U32(FD_A_TTY_FG_PGRP, struct fd_record, tty.fg_pgrp),
	F_U32(FD_A_TTY_SID, struct fd_record, tty.sid),
};

const struct field_table fd_tty_part = { fd_tty_fields, ARRAY_SIZE(fd_tty_fields) };
