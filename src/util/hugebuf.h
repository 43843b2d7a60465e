/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/*
 * A buffer of the supervisor's own, in transparent huge pages where the
 * system allows them (its "madvise" mode included), faulted in and written
 * to once before use.  NULL when it cannot be mapped.
 */
void *hugebuf_map(size_t len);
void hugebuf_unmap(void *buf, size_t len);
