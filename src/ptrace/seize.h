/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Holding one thread with ptrace: seize it (no stop), interrupt it, wait for
 * its stop with a deadline, resume it, let it go.  The policy (which threads,
 * in which order, what a stop means for a dump) is the caller's.  Every
 * function returns 0 or -errno; -ESRCH means the thread is gone (or, for a
 * thread not stopped, not ours to command).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines of the waits below. */
uint64_t ptrace_now_ms(void);

/* PTRACE_SEIZE with options: the thread runs on until interrupted. */
int ptrace_seize_thread(pid_t tid, unsigned long options);
/* PTRACE_INTERRUPT: a seized thread enters a PTRACE_EVENT_STOP soon. */
int ptrace_interrupt_thread(pid_t tid);
/* PTRACE_CONT of a stopped thread, delivering sig (0: none). */
int ptrace_resume_thread(pid_t tid, int sig);
/* PTRACE_DETACH of a stopped thread, delivering sig (0: none). */
int ptrace_detach_thread(pid_t tid, int sig);

/*
 * The next wait status of tid (tid -1: of any traced thread or child), by
 * waitpid(__WALL), no later than deadline_ms (ptrace_now_ms()'s clock; 0:
 * only what is there now).  Returns the tid, or 0 if nothing came in time,
 * or -errno (-ECHILD: nothing to wait for).
 */
pid_t ptrace_wait_thread(pid_t tid, int *status, uint64_t deadline_ms);

/* The thread exists and is not a zombie (a zombie never stops again). */
bool ptrace_thread_alive(pid_t tgid, pid_t tid);
/* TracerPid of tid (0: none), or -errno. */
pid_t ptrace_tracer_of(pid_t tid);
/* The process thread tid belongs to, or -errno. */
pid_t ptrace_tgid_of(pid_t tid);

/* Where a thread's rseq area is (PTRACE_GET_RSEQ_CONFIGURATION). */
struct rseq_config {
	uint64_t abi_pointer;	/* 0: none registered */
	uint32_t abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};
/*
 * The rseq configuration of a stopped thread: 0, or -errno (-EIO from a
 * kernel before 5.13, which cannot say).
 */
int ptrace_rseq_config(pid_t tid, struct rseq_config *out);
