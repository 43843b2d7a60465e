/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Releasing a stub that reported STUB_READY: the supervisor takes the parked
 * process over, unmaps the stub's own area from outside and makes the thread
 * run rt_sigreturn on the frame the stub built, so it continues with exactly
 * its saved registers, signal mask and FPU state.
 */
#pragma once

#include <sys/types.h>

#include "restorer/stub/plan.h"

/*
 * PTRACE_SEIZE pid with ptrace_options, wait until the stub is parked in
 * pause(), munmap(st->unmap_start, st->unmap_len) at st->syscall_insn,
 * then rt_sigreturn with rsp = st->frame_sp.
 *
 * On success the thread is seized and in the syscall-exit-stop of that
 * rt_sigreturn: PTRACE_GETREGS gives the saved registers (orig_rax is -1,
 * as after any rt_sigreturn; rax/rip as fixed up for a syscall restart).
 * Resume it with PTRACE_CONT, signal 0.  Signals that were pending at the
 * dump are queued and not blocked any more: they come next, as
 * signal-delivery-stops.
 *
 * On error the process is seized and in some ptrace-stop, half built; the
 * caller kills it.
 */
int stub_release(pid_t pid, const struct stub_status *st, unsigned long ptrace_options);
