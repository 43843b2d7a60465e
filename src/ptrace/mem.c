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

/* mem_fd of a pid whose mem file could not be opened. */
#define MEM_FILE_REFUSED (-2)

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

/*
 * The mem file first: process_vm_readv pins what it reads (FOLL_PIN), and
 * the kernel unshares a copy-on-write page before it lets it be pinned.
 * Read that way, a program's pages shared with its children became its
 * own copies (256 MiB shared with a child: 256 MiB more used), and every
 * page of a dump's copy-on-write clone was copied once more, with a TLB
 * shootdown each, while the program ran beside it.  The mem file reads
 * without pinning, as fast here.
 */
int ptrace_mem_read(struct ptrace_mem *m, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;
	int r;

	if (m->pid != pid || m->mem_fd != MEM_FILE_REFUSED) {
		r = read_via_mem_file(m, pid, addr, buf, len);
		if (r != -EACCES && r != -EPERM)
			return r;
		/* Once: an LSM may log each refusal. */
		if (m->mem_fd < 0) {
			m->pid = pid;
			m->mem_fd = MEM_FILE_REFUSED;
		}
	}
	/* No mem file to open here (a restrictive LSM): what it can read, unshared or not. */
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? neg_errno() : -EFAULT;
}

void ptrace_mem_done(struct ptrace_mem *m)
{
	closep(&m->mem_fd);
}
