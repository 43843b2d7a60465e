/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of Unix sockets: pairs, bound and listening sockets, accepted
 * and not-yet-accepted connections, datagram sockets connected by name.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"

struct desc_table;

/* Sockets made ahead of their turn (the other end of a pair, a listener's
 * pending connections), by inode, until their own record asks for them. */
struct unix_made {
	uint64_t ino;
	int fd;
};

struct unix_state {
	struct unix_made *v;
	size_t n;
	/* The other ends of widowed sockets whose queues wait for unix_refill_deferred. */
	struct unix_made *held;
	size_t nr_held;
};

/*
 * In which pass of descs_open() f is opened: 0 for listeners and bound
 * unconnected sockets (others connect to them), 2 for connections a
 * listener has not accepted yet (after the accepted ones), 1 otherwise.
 */
int unix_pass(const struct computation *c, const struct fd_record *f);

/* A new fd on the re-created socket of f; FD_CLOEXEC set, flags not. */
int unix_open(const struct computation *c, const struct desc_table *t,
	      const struct fd_record *f, struct unix_state *us);

/*
 * Once every socket and file exists: the messages queued for each socket
 * whose records carry senders or files, sent again in order, with the
 * files they carry (SCM_RIGHTS), each datagram from its sender (the pair's
 * other end, the socket of the computation bound to its name, or one of
 * ours bound to it for a moment) so that the program reads the same sender.
 */
int unix_refill_deferred(const struct computation *c, const struct desc_table *t,
			 struct unix_state *us, char *err, size_t errlen);

void unix_state_clear(struct unix_state *us);
