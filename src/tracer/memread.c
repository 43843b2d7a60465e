/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tracer/memread.h"
#include "util/fileio.h"
#include "util/macro.h"

static int read_via_mem(struct memread_ctx *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	if (ctx->pid != pid || ctx->mem_fd < 0) {
		char path[64];

		closep(&ctx->mem_fd);
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		ctx->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ctx->mem_fd < 0)
			return neg_errno();
		ctx->pid = pid;
	}
	return pread_full(ctx->mem_fd, buf, len, (off_t)addr);
}

static int memread_read(void *opaque, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct memread_ctx *ctx = opaque;
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		n = 0;
	/* Unreadable pages (PROT_NONE...): /proc/PID/mem reads through protections. */
	return read_via_mem(ctx, pid, addr + n, (char *)buf + n, len - n);
}

void memread_init(struct memread_ctx *ctx, struct mem_reader *mr)
{
	ctx->pid = 0;
	ctx->mem_fd = -1;
	mr->read = memread_read;
	mr->ctx = ctx;
}

void memread_done(struct memread_ctx *ctx)
{
	closep(&ctx->mem_fd);
	ctx->mem_fd = -1;
}
