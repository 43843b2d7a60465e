/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "proto/image.h"
#include "ptrace/mem.h"

/* The image writer's page source: ptrace/mem.h's reader. */
struct memread_ctx {
	struct ptrace_mem mem;
};

void memread_init(struct memread_ctx *ctx, struct mem_reader *mr);
void memread_done(struct memread_ctx *ctx);
