/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * An fd on the core file at path as the stub reads it: the file itself,
 * or for a compressed one (zoff: where its zstd stream starts, zend: the
 * plain file's size) a memfd holding it uncompressed.  -errno with err set.
 */
int pages_open(const char *path, uint64_t zoff, uint64_t zend, char *err, size_t errlen);
