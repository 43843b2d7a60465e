/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of shared memory objects (MAP_SHARED|MAP_ANONYMOUS memory, memfd,
 * SysV segments): each is made once, with its contents, before any process
 * exists; every process that maps it gets it from the desc_table.
 */
#pragma once

#include <stddef.h>

#include "proto/model.h"
#include "restorer/fdtable.h"

int shms_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen);
void shms_close(struct desc_table *t);

/*
 * A new open file description (flags) of the memfd that fd record f was
 * open on: the object its mappings share when there is one, else a new
 * memfd with the saved contents.
 */
int shm_open_memfd(const struct desc_table *t, const struct fd_record *f, int flags);

/* The fd of the re-created shared memory object a VMA maps, or -1. */
int descs_shm_lookup(const struct desc_table *t, const struct vma_record *v);

/*
 * The VMA maps a SysV segment that has no fd here (restored without root):
 * the stub attaches it by its id, v->sysv_id.
 */
bool descs_shm_by_id(const struct desc_table *t, const struct vma_record *v);
