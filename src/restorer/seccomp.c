/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "restorer/seccomp.h"
#include "ptrace/remote.h"
#include "tracer/session.h"
#include "tracer/ssh.h"
#include "util/fileio.h"
#include "util/macro.h"

static int remote_call(pid_t pid, uint64_t insn, long nr, long a0, long a1, long a2)
{
	long args[6] = { a0, a1, a2, 0, 0, 0 }, ret = 0;
	int r = remote_syscall(pid, insn, nr, args, &ret);

	return r < 0 ? r : ret < 0 ? (int)ret : ret > 0 ? -ESRCH : 0;
}

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

/*
 * run --coordinator's exec trap (either form: images made before it
 * notified held SECCOMP_RET_TRACE) is installed in its notifying form with
 * a listener of its own, which comes to the session: the supervisor serves
 * it, nothing is traced.
 */
static bool is_exec_trap(const uint8_t *bpf, size_t bytes)
{
	for (int legacy = 0; legacy < 2; legacy++) {
		_cleanup_free_ uint8_t *prog = NULL;
		size_t len = 0;

		if (ssh_exec_trap_program(legacy, &prog, &len) == 0 && len == bytes &&
		    !memcmp(prog, bpf, len))
			return true;
	}
	return false;
}

/* The listener the trap returned as fd in pid: ours, and closed there. */
static int take_listener(struct session *s, pid_t pid, uint64_t insn, long fd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int mine = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	int r = mine < 0 ? neg_errno() : 0;

	remote_call(pid, insn, SYS_close, fd, 0, 0);
	if (r == 0)
		r = session_add_exec_listener(s, mine);
	return r;
}

int seccomp_restore(struct session *s, pid_t pid, uint64_t syscall_insn,
		    const struct process_record *p, char *err, size_t errlen)
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
		uint8_t *trap_prog = NULL;
		size_t trap_len = 0;
		struct sock_fprog prog;
		uint64_t addr;
		bool trap;

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
		r = 0;
		trap = is_exec_trap(p->seccomp_filters + off, bytes);
		if (trap) {
			r = ssh_exec_trap_program(false, &trap_prog, &trap_len);
			if (r == 0 && trap_len != bytes)
				r = -EINVAL;
		}
		r = r < 0 ? r : remote_scratch(pid, sizeof(prog) + bytes, &addr);
		if (r == 0) {
			memset(&prog, 0, sizeof(prog));
			prog.len = (unsigned short)n;
			prog.filter = (struct sock_filter *)(uintptr_t)(addr + sizeof(prog));
			memcpy(buf, &prog, sizeof(prog));
			memcpy(buf + sizeof(prog), trap ? trap_prog : p->seccomp_filters + off, bytes);
			r = remote_write(pid, addr, buf, sizeof(prog) + bytes);
		}
		if (r == 0 && !trap)
			r = remote_call(pid, syscall_insn, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					SECCOMP_FILTER_FLAG_TSYNC, (long)addr);
		if (r == 0 && trap) {
			long args[6] = { SECCOMP_SET_MODE_FILTER,
					 SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
					 SECCOMP_FILTER_FLAG_NEW_LISTENER, (long)addr, 0, 0, 0 };
			long ret = 0;

			r = remote_syscall(pid, syscall_insn, SYS_seccomp, args, &ret);
			if (r == 0 && ret < 0)
				r = (int)ret;
			if (r == 0)
				r = take_listener(s, pid, syscall_insn, ret);
		}
		free(trap_prog);
		trap_prog = NULL;
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
