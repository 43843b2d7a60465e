/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's control socket: other trace-ckpt commands of the same
 * user ask it for its processes or for a dump.  One request per connection,
 * SOCK_SEQPACKET, TLV-encoded (src/proto/ctlmsg.h); the peer's uid is checked
 * with SO_PEERCRED.
 *
 * The same loop serves the program's ptrace stops, so no client may make it
 * wait: clients are non-blocking, each has a deadline to send its request
 * and one to take its reply, and requests are queued and answered one per
 * turn of the loop, in the order they arrived.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct pollfd;
struct session;

/* Clients at once; more wait in the listen backlog. */
#define CONTROL_MAX_CONNS 16
/* To send the request, and to take the reply once it is ready. */
#define CONTROL_IO_TIMEOUT_MS 5000

/* runtime_dir(): where the control sockets are (not created here). */
int control_dir(char *buf, size_t len);
int control_listen(struct session *s);
void control_close(struct session *s);

/*
 * The event loop's part: control_pollfds fills pfd (room for
 * 1 + CONTROL_MAX_CONNS entries) and returns how many; control_handle takes
 * the same entries back after poll (accepts, reads requests, writes replies,
 * drops clients past their deadline).  Errors are logged, never returned.
 */
size_t control_pollfds(const struct session *s, struct pollfd *pfd);
void control_handle(struct session *s, const struct pollfd *pfd, size_t npfd);
/* Milliseconds poll may sleep for the nearest deadline: -1 none, 0 a request waits. */
int control_poll_timeout(const struct session *s);
/* Answer the oldest queued request, if any (a dump runs here); true if one ran. */
bool control_run_queued(struct session *s);
