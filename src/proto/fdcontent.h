/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef TC_PROTO_FDCONTENT_H
#define TC_PROTO_FDCONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"

/*
 * An fd's saved bytes, as image_read leaves its record: content_len bytes
 * at content_off of the file content names (every fd of a process shares
 * one).  Readers read that range and nothing around it.
 */

/* Opens f->content: the fd (O_RDONLY), *off and *len its range; -errno. */
int fd_content_open(const struct fd_record *f, uint64_t *off, uint64_t *len);
/* The whole range in a malloc'd buffer (never NULL on success, even empty). */
int fd_content_read(const struct fd_record *f, uint8_t **buf, size_t *len);

#endif
