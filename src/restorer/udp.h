/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of UDP receive queues: the datagrams a socket had not read, sent
 * again to it from their senders' addresses.
 */
#pragma once

#include <stddef.h>

#include "proto/model.h"

struct desc_table;

/*
 * Once every socket exists: each UDP socket's queued datagrams, in order,
 * as raw IPv4/IPv6 packets whose source is the original sender's address,
 * to the socket's own address (loopback for a wildcard one).  Returns when
 * all have arrived.
 */
int udp_refill_queues(const struct computation *c, const struct desc_table *t, char *err,
		      size_t errlen);
