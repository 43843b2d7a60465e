/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A computation restored on other hosts, with other addresses: every socket
 * address of the image that names an old host is changed to the new one.
 * Connections between processes of the computation are made again on the
 * new addresses, both ends with the same sequence numbers and queues (every
 * end moves by the same map); a TCP connection to a peer outside the map
 * cannot follow and is refused by name.
 */
#pragma once

#include <stddef.h>

#include "proto/model.h"

/* map: "OLD=NEW[,OLD=NEW...]", numeric IPv4 or IPv6 addresses. */
int computation_map_addrs(struct computation *c, const char *map, char *err, size_t errlen);
