/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bytes waiting in a pty, in both directions: taken out while the
 * programs are frozen, and put back (into the same pty after a dump that
 * lets the program go on, into a new one at restore) so that nobody can
 * tell.  The line discipline has no way to peek.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <termios.h>

struct pty_queues {
	uint8_t *out;	/* written by the slave side, not read by the master yet */
	size_t out_len;
	uint8_t *in;	/* written by the master side, not read by the slave yet */
	size_t in_len;
};

/*
 * Read both queues empty.  master is the program's own description (its
 * flags are put back); slave is one of ours.  tio: the pty's termios, set
 * again afterwards.
 */
int pty_queues_take(int master, int slave, const struct termios *tio, struct pty_queues *q);

/*
 * Put q back: the master's bytes written by the slave with output
 * processing off, the slave's bytes written by the master with echo and
 * input processing off (a canonical line not finished stays unfinished);
 * then tio.
 */
int pty_queues_put(int master, int slave, const struct termios *tio, const struct pty_queues *q);

void pty_queues_free(struct pty_queues *q);
