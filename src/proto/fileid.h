/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A file's identity (struct file_id in model.h): reading it from an open
 * file, and telling whether a file is still the one an image was made with.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/model.h"

/*
 * The NT_GNU_BUILD_ID note of the ELF file open at fd, into out (cap
 * bytes).  0 and *len when found; -ENOENT when fd is no ELF file or has no
 * such note; -EMSGSIZE when it is longer than cap.  Reads with pread (no
 * mmap: a file truncated meanwhile cannot SIGBUS us).
 */
int elf_build_id(int fd, uint8_t *out, size_t cap, size_t *len);

struct stat;
/* Size and mtime only: for a file we may not read (execute-only, write-only). */
void file_id_from_stat(const struct stat *st, struct file_id *id);

/*
 * Size, mtime and build-id of the file open at fd (any file: only a
 * regular ELF file has a build-id).
 */
int file_id_read(int fd, struct file_id *id);

/*
 * Is now (the file as it is here) the file then (recorded at the dump)?
 * A matching build-id and size win over the mtime: a copy to another host
 * has the same contents and a new mtime.  When not, why says what changed:
 * "build-id 1a2b... now 3c4d...", "size 1234 now 1200", "mtime ... now ...".
 * then is from an image: its build_id_len is clamped, not trusted.
 */
bool file_id_same(const struct file_id *then, const struct file_id *now, char *why, size_t len);

/* "size 1234, mtime 2026-... UTC, build-id 1a2b...", or "not recorded". */
void file_id_describe(const struct file_id *id, char *out, size_t len);
