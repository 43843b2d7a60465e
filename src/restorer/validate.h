/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Will this image run right on this host?  Checked before any process of
 * it is created; each check can also be run alone (a `check DIR` command).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/model.h"

/*
 * This CPU has every feature the image's CPU had that a program may have
 * chosen to use, and its kernel enables every xsave component the image's
 * did.  -ENOEXEC and err names what is lacking.
 */
int validate_cpu(const struct computation *c, char *err, size_t errlen);

/*
 * Every executable, mapped file and file open read-only by path is, by
 * name, still the file of the dump (build-id and size, else size and
 * mtime).  Files the program itself writes (open for writing, mapped shared
 * and writable) are expected to change and are not compared.  A changed or
 * missing file: -ESTALE and err names each one ("pid 12: /usr/lib/libfoo.so.1
 * changed since the dump (build-id 1a2b... now 3c4d...)").  With
 * ignore_changed, one warning per file instead, and 0.
 */
int validate_files(const struct computation *c, bool ignore_changed, char *err, size_t errlen);

/*
 * This host has free huge pages of each size for the hugetlb memory of
 * the image (private anonymous, reserved when mapped).  -ENOMEM and err
 * says how many pages of which size are missing.
 */
int validate_huge_pages(const struct computation *c, char *err, size_t errlen);
