/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of terminals: ptys of the computation made again (termios, size,
 * packet mode, the bytes waiting), controlling terminals and foreground
 * groups; and the restoring command's own terminal, given the program's
 * termios and foreground group for as long as the program runs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "proto/model.h"

struct desc_table;

struct tty_made {
	uint32_t index;	/* /dev/pts/N at dump time */
	int master;
};

struct tty_state {
	struct tty_made *v;
	size_t n;
};

/* A new fd (FD_CLOEXEC) for the FD_TTY record f. */
int tty_open(const struct computation *c, const struct fd_record *f, struct tty_state *ts);
/* After every description is open: ptys that were locked are locked again. */
void tty_state_finish(const struct computation *c, struct tty_state *ts);
void tty_state_clear(struct tty_state *ts);

/*
 * In process p, built from the image, before its children: take its pty as
 * controlling terminal if it leads the session, and the foreground if its
 * group had it.
 */
void tty_join_process(const struct computation *c, const struct desc_table *t,
		      const struct process_record *p);

/* The restoring command's terminal, handed to the program and back. */
struct terminal_lease {
	int fd;			/* -1: none taken */
	struct termios saved;
	pid_t fg_pgrp;		/* the program's foreground group, our pid namespace */
	pid_t *winch;		/* processes on the terminal, told its size changed */
	size_t nr_winch;
};

/*
 * If the program had a terminal outside and ours is a terminal we hold the
 * foreground of: its termios onto ours, and the foreground to its group
 * (outer_pid: a pid of the computation as it is here, 0 for none).
 */
int terminal_lease_take(struct terminal_lease *tl, const struct computation *c,
			pid_t (*outer_pid)(pid_t inner, void *arg), void *arg);
/* Once the program runs: it redraws for the terminal it is on now. */
void terminal_lease_started(const struct terminal_lease *tl);
/* Our termios and foreground back. */
void terminal_lease_return(struct terminal_lease *tl);
