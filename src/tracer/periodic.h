/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

struct session;

/*
 * A checkpoint into the session's directory every interval_s seconds, the
 * program left running; the keep latest images are kept (DIR, DIR.1, ...).
 * 0 or -errno.
 */
int periodic_start(struct session *s, unsigned int interval_s, unsigned int keep);
/* The timer (session.periodic_fd) is readable: take the checkpoint. */
void periodic_fire(struct session *s);
