/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading another process's pages: through /proc/PID/mem, which reads
 * through protections (PROT_NONE mappings too) and leaves copy-on-write
 * pages shared (process_vm_readv would unshare them: mem.c).  The caller
 * must be allowed to ptrace pid.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The mem file of the last process read, kept open for the next read. */
struct ptrace_mem {
	pid_t pid;
	int mem_fd;
};

void ptrace_mem_init(struct ptrace_mem *m);
/* All len bytes at addr of pid into buf, or -errno (-EIO: not mapped; -ENODATA: no mm any more). */
int ptrace_mem_read(struct ptrace_mem *m, pid_t pid, uint64_t addr, void *buf, size_t len);
void ptrace_mem_done(struct ptrace_mem *m);
