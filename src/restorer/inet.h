/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of TCP and UDP sockets (tracer/inet.c collects them): listeners
 * and bound sockets, established connections rebuilt in repair mode,
 * drained connections made again through tcpdrain.c, connected UDP
 * sockets.  udp.c refills the UDP queues.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "proto/model.h"
#include "restorer/fdtable.h"

/* A new fd (FD_CLOEXEC, flags not set) for the FD_INET record f, not drained. */
int inet_open(const struct fd_record *f);
/* The pass of descs_open f is opened in: 0 for a listener, whose
 * connections share its port; else 1. */
int inet_pass(const struct computation *c, const struct fd_record *f);
/* Its local port, to name it when it is taken. */
unsigned int inet_port(const struct fd_record *f);

/* Both ends of the drained connection f of process pid, put in t. */
int inet_open_drained(const struct computation *c, struct desc_table *t, pid_t pid,
		      const struct fd_record *f, char *err, size_t errlen);
/* The drained connections to other hosts, made with their restores, put in t. */
int inet_open_remote(const struct computation *c, struct desc_table *t, char *err,
		     size_t errlen);

/* Every connection is whole: out of repair mode, each sends its window probe. */
int inet_repair_done(const struct computation *c, const struct desc_table *t);

/*
 * A restore called off: its TCP connections back in repair mode, so that
 * closing them sends nothing (no FIN to a peer that waits for the real one,
 * no lingering state on the addresses a next attempt needs).
 */
void inet_quiesce(const struct computation *c, const struct desc_table *t);

/* Every host is released: the peers' packets may come in (see hold_netlock). */
void inet_unlock_peers(const struct computation *c);
