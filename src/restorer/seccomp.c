/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "restorer/seccomp.h"
#include "tracer/remote.h"
#include "util/macro.h"

static int remote_call(pid_t pid, uint64_t insn, long nr, long a0, long a1, long a2)
{
	long args[6] = { a0, a1, a2, 0, 0, 0 }, ret = 0;
	int r = remote_syscall(pid, insn, nr, args, &ret);

	return r < 0 ? r : ret < 0 ? (int)ret : ret > 0 ? -ESRCH : 0;
}

int seccomp_restore(pid_t pid, uint64_t syscall_insn, const struct process_record *p,
		    char *err, size_t errlen)
{
	size_t off = 0, k = 0;
	int r;

	if (p->no_new_privs &&
	    (r = remote_call(pid, syscall_insn, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0)) < 0) {
		snprintf(err, errlen, "pid %d: no_new_privs: %s", p->pid, strerror(-r));
		return r;
	}
	while (off + sizeof(uint32_t) <= p->seccomp_filters_len) {
		uint32_t n;
		size_t bytes;
		_cleanup_free_ uint8_t *buf = NULL;
		struct sock_fprog prog;
		uint64_t addr;

		memcpy(&n, p->seccomp_filters + off, sizeof(n));
		off += sizeof(n);
		bytes = (size_t)n * sizeof(struct sock_filter);
		if (!n || n > BPF_MAXINSNS || off + bytes > p->seccomp_filters_len) {
			snprintf(err, errlen, "pid %d: seccomp filter %zu: damaged", p->pid, k);
			return -EBADMSG;
		}
		/* struct sock_fprog, then the program, on the stack below the red zone. */
		buf = malloc(sizeof(prog) + bytes);
		if (!buf)
			return -ENOMEM;
		r = remote_scratch(pid, sizeof(prog) + bytes, &addr);
		if (r == 0) {
			memset(&prog, 0, sizeof(prog));
			prog.len = (unsigned short)n;
			prog.filter = (struct sock_filter *)(uintptr_t)(addr + sizeof(prog));
			memcpy(buf, &prog, sizeof(prog));
			memcpy(buf + sizeof(prog), p->seccomp_filters + off, bytes);
			r = remote_write(pid, addr, buf, sizeof(prog) + bytes);
		}
		if (r == 0)
			r = remote_call(pid, syscall_insn, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					SECCOMP_FILTER_FLAG_TSYNC, (long)addr);
		if (r < 0) {
			snprintf(err, errlen, "pid %d: seccomp filter %zu: %s", p->pid, k,
				 strerror(-r));
			return r;
		}
		off += bytes;
		k++;
	}
	return 0;
}
