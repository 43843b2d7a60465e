/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's control socket: other trace-ckpt commands of the same
 * user ask it for its processes or for a dump.  One request per connection,
 * SOCK_SEQPACKET, TLV-encoded (src/proto/ctlmsg.h); the peer's uid is checked
 * with SO_PEERCRED.
 */
#pragma once

#include <stddef.h>

struct session;

/* runtime_dir(): where the control sockets are (not created here). */
int control_dir(char *buf, size_t len);
int control_listen(struct session *s);
void control_close(struct session *s);
/* Accept one connection and answer its request; errors are logged. */
void control_serve_one(struct session *s);
