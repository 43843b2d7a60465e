/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/*
 * The local address (a struct sockaddr_in or _in6) is taken by connections
 * in TIME_WAIT: closed by the program itself before the dump, they would
 * keep a listener without SO_REUSEADDR from binding again for a minute.
 * They are gone for good (nothing will ever use them): destroy them
 * (SOCK_DESTROY), or without CAP_NET_ADMIN end them with a reset from
 * their peer's address when that is on this host.  Returns how many were
 * ended, or -errno.
 */
int timewait_clear(const uint8_t *local);

/* How many TCP connections in TIME_WAIT hold the local address (no privilege needed), or -errno. */
int timewait_count(const uint8_t *local);

/*
 * How many TCP sockets in any other state (listening, connected, closing)
 * hold it, or -errno: a port some TIME_WAIT connections hold may still be
 * held by a live socket as well, which no wait frees.
 */
int tcp_live_count(const uint8_t *local);
