/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>

struct session;

/*
 * Take over a running process and all its descendants: every thread is
 * seized with the session's options, so children born from then on are
 * followed by the kernel.
 */
int session_attach(struct session *s, pid_t pid);

/* Let every traced thread go, untouched; the session then ends. */
int session_detach(struct session *s);
