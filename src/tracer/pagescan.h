/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PAGEMAP_SCAN (Linux 6.7), on /proc/PID/pagemap: the kernel walks the page
 * tables and returns ranges of pages of the same kind, skipping empty
 * tables; it can write-protect what it finds for a userfaultfd in
 * asynchronous write-protect mode (Linux 6.7), which is how written pages
 * are told from the others between two checkpoints.  Not in Debian 12's
 * headers, hence the definitions.
 */
#pragma once

#include <stdint.h>
#include <sys/ioctl.h>

struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PM_SCAN_IOCTL _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)	/* write-protect what matches */
#define PM_SCAN_CHECK_WPASYNC (1 << 1)	/* EPERM on a mapping not so registered */

#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)

#define UFFD_FEATURE_WP_ASYNC_ (1 << 15)
