/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct session;

/*
 * Take over a running process and all its descendants.  Nothing stays
 * traced: every thread is seized once, to know that a dump can, and let go;
 * a dump seizes the tree from pid again.  *nr_threads: how many there were.
 */
int session_attach(struct session *s, pid_t pid, size_t *nr_threads);

/* Let every traced thread go, untouched; the session then ends. */
int session_detach(struct session *s);
