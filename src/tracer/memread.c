/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tracer/memread.h"

static int memread_read(void *opaque, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct memread_ctx *ctx = opaque;

	return ptrace_mem_read(&ctx->mem, pid, addr, buf, len);
}

void memread_init(struct memread_ctx *ctx, struct mem_reader *mr)
{
	ptrace_mem_init(&ctx->mem);
	*mr = (struct mem_reader){ .read = memread_read, .ctx = ctx };
}

void memread_done(struct memread_ctx *ctx)
{
	ptrace_mem_done(&ctx->mem);
}
