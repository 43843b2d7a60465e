/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "proto/model.h"

struct collect_ctx;

/* A character device that is a terminal: a pty end, or a terminal outside. */
int collect_tty(struct collect_ctx *cx, struct fd_record *f, const struct stat *st,
		const char *link);
/* The supervisor's own terminal in the program (FD_STDIO): its termios and foreground. */
int collect_tty_state(struct collect_ctx *cx, struct fd_record *f);

/*
 * Once the whole computation is collected: which slaves have their master
 * in it (the others are "the terminal"), foreground groups that are ours,
 * and the bytes waiting in each pty, taken out (finish_ttys puts them back).
 */
int collect_ttys(struct computation *c, char *err, size_t errlen);
/* After the dump: the taken bytes back into the ptys, unless they are gone. */
void finish_ttys(struct computation *c, bool killed);
