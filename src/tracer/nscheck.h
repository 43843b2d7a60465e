/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct session;

/*
 * Every process of the session in the root process's namespaces (pid,
 * user, mount, uts, ipc, net), and none that made a pid namespace for its
 * children?  Nested namespaces cannot be dumped yet (two processes with the
 * same inner pid would collide in the image): -EOPNOTSUPP and err names the
 * first such process.  Reads /proc only: nothing needs to be stopped.
 */
int check_namespaces(const struct session *s, char *err, size_t errlen);
