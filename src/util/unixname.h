/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether a unix socket name (sun_path bytes; abstract: a leading NUL) is
 * bound by a socket of this network namespace now, by /proc/net/unix: no
 * probe connection, which a live listener would take into its backlog.
 */
#pragma once

#include <stdint.h>

/* 1: bound, 0: not (a stale socket file counts as not), -errno. */
int unix_name_bound(const uint8_t *name, uint32_t len);
