/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ptrace/mem.h"
#include "util/fileio.h"
#include "util/macro.h"

void ptrace_mem_init(struct ptrace_mem *m)
{
	m->pid = 0;
	m->mem_fd = -1;
}

static int read_via_mem_file(struct ptrace_mem *m, pid_t pid, uint64_t addr, void *buf,
			     size_t len)
{
	if (m->pid != pid || m->mem_fd < 0) {
		char path[64];

		closep(&m->mem_fd);
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		m->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (m->mem_fd < 0)
			return neg_errno();
		m->pid = pid;
	}
	return pread_full(m->mem_fd, buf, len, (off_t)addr);
}

int ptrace_mem_read(struct ptrace_mem *m, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		n = 0;
	return read_via_mem_file(m, pid, addr + n, (char *)buf + n, len - n);
}

void ptrace_mem_done(struct ptrace_mem *m)
{
	closep(&m->mem_fd);
}
