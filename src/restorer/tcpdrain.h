/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drained TCP connections (tracer/tcpdrain.c) made again between the
 * restored processes, with their old addresses, and given back the bytes
 * their ends had not read.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "proto/model.h"
#include "restorer/fdtable.h"

/*
 * Both ends of the drained connection f (of process pid) is one end of,
 * connected again: *fd is f's end, *peer_fd the other's, whose record is
 * *peer (NULL and -1 when the peer had closed: a socket of ours took its
 * place, sent what f had not read and closed).  The program's listeners are in t already: a connection to one of
 * their ports is accepted from it.  On failure err names f and what failed
 * (a port taken: EADDRINUSE).
 */
int tcpdrain_connect(const struct computation *c, const struct desc_table *t, pid_t pid,
		     const struct fd_record *f, const struct fd_record **peer, int *fd,
		     int *peer_fd, char *err, size_t errlen);

/*
 * Every description is open: each end's unread bytes sent again from its
 * peer's end, then the shutdowns and TCP_CORK, so that each receiver reads
 * what it would have read, in order, before anything new.
 */
int tcpdrain_refill(const struct computation *c, const struct desc_table *t, char *err,
		    size_t errlen);

/* A connection made again, for f of process pid, to be installed. */
struct tcpdrain_made {
	const struct fd_record *f;
	pid_t pid;
	int fd;
};

/*
 * Every drained connection whose peer is on another host (inet.tcp_remote),
 * made again with that host's restore, which runs at the same time: *out
 * (malloc'd) holds one socket per description.  The program's listeners
 * are in t already.
 */
int tcpdrain_connect_remote(const struct computation *c, const struct desc_table *t,
			    struct tcpdrain_made **out, size_t *nr_out, char *err, size_t errlen);
