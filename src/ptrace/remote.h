/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Remote system calls: make a stopped thread run one system call at a
 * `syscall` instruction that is already mapped in it (in its [vdso]), with its
 * registers and signal mask saved and put back exactly.
 *
 * Every function here wants a thread attached with PTRACE_SEIZE (or
 * PTRACE_ATTACH) and in a ptrace-stop that is not a syscall-enter-stop: an
 * interrupt or group stop (PTRACE_EVENT_STOP), a signal-delivery-stop, an
 * event stop or a syscall-exit-stop.
 *
 * State the thread is left in by remote_syscall(), success or not (unless it
 * died): registers and signal mask as they were, but now in a
 * signal-delivery-stop for SIGTRAP (the single-step trap).  Resume it with
 * signal 0 (PTRACE_CONT, PTRACE_SYSCALL, PTRACE_DETACH ..., data 0) so the
 * trap is discarded.  If the thread was stopped in an interrupted system call
 * it restarts it on resume exactly as it would have, since the kernel's
 * restart logic sees the saved orig_rax and rax again.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Run syscall nr(args[0..5]) in tid at syscall_insn.  *ret gets the raw
 * return value (-4095..-1 are -errno of the remote call).  Returns 0, or
 * -errno of the ptrace work: -ESRCH if the thread died, -EINTR if another
 * stop came first (a SIGSTOP, or a fault: that signal is then dropped when
 * the caller resumes the thread with 0).
 */
int remote_syscall(pid_t tid, uint64_t syscall_insn, long nr, const long args[6], long *ret);

/* Several in a row, the thread's state saved and put back once; each ret as above. */
struct remote_call {
	long nr;
	long args[6];
	long ret;
};
int remote_syscalls(pid_t tid, uint64_t syscall_insn, struct remote_call *calls, size_t n);
/*
 * The same in nt threads at once, each stage started in all of them before
 * it is waited for: calls holds n calls for each thread, thread i's at
 * calls[i * n].  errs[i] gets thread i's 0 or -errno (of the ptrace work,
 * as above); every thread's state is put back whatever the others did.
 * Returns the first thread's error in tids' order, or 0.
 */
int remote_syscalls_threads(const pid_t *tids, size_t nt, uint64_t syscall_insn,
			    struct remote_call *calls, size_t n, int *errs);

/*
 * clone(flags) in tid, its child left in its first stop, traced by us (tid
 * must have PTRACE_O_TRACECLONE, or TRACEFORK for an exit signal of
 * SIGCHLD), its registers set to exit at once should it ever be resumed.
 */
int remote_clone_stopped(pid_t tid, uint64_t syscall_insn, unsigned long flags, pid_t *child);

/* Address of a `syscall` instruction in pid's [vdso]; -ENOENT if none. */
int remote_find_syscall_insn(pid_t pid, uint64_t *addr);

/*
 * Scratch memory for the arguments of a remote call: len bytes on tid's
 * stack below its red zone (rsp - 128), 16-byte aligned.  The thread does
 * not use it while stopped; what it held was dead (below rsp), as for a
 * signal frame.  -ENOSPC if that is not inside a writable mapping.
 */
int remote_scratch(pid_t tid, size_t len, uint64_t *addr);
/* Where remote_scratch would put len bytes, unchecked against the mappings. */
int remote_scratch_range(pid_t tid, size_t len, uint64_t *start, uint64_t *end);

/* process_vm_readv/writev of the whole range, or -EFAULT. */
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
