/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * userfaultfd of Linux 6.6 that Debian 12's headers (6.1) do not have:
 * poisoning a page, so a fault there is SIGBUS.  restore --lazy gives a page
 * it cannot read that instead of a wrong one.  Values from the kernel's ABI.
 */
#pragma once

#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif

struct uffdio_poison_ {
	struct uffdio_range range;
	uint64_t mode;
	int64_t updated;
};

#define UFFDIO_POISON_ _IOWR(UFFDIO, 0x08, struct uffdio_poison_)
