/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "proto/image.h"

/*
 * The image writer's page source: process_vm_readv, and /proc/PID/mem for
 * what it cannot read (PROT_NONE and other unreadable mappings).
 */
struct memread_ctx {
	pid_t pid;	/* last process whose mem file is open */
	int mem_fd;
};

void memread_init(struct memread_ctx *ctx, struct mem_reader *mr);
void memread_done(struct memread_ctx *ctx);
