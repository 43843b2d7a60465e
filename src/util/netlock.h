/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network lock: while a checkpointed TCP connection has no socket on
 * this host (between the kill after a dump and the restore), packets from
 * its peer are dropped by an nftables rule, so the kernel does not answer
 * them with a reset and the peer just retransmits until the restore.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* local and remote: struct sockaddr_in or sockaddr_in6.  0 or -errno. */
int netlock_add(const void *local, const void *remote);
int netlock_del(const void *local, const void *remote);
