/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ptrace/remote.h"
#include "ptrace/seize.h"
#include "tracer/collect.h"
#include "tracer/pidns.h"
#include "tracer/procfs.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define XSTATE_MAX 8192
#define PEEK_BATCH 32

/* Every queued signal of one queue (thread's own, or the process-wide one). */
static int peek_pending(struct collect_ctx *cx, pid_t tid, bool shared,
			uint8_t (**out)[TC_SIGINFO_SIZE], uint32_t *nr)
{
	uint8_t (*all)[TC_SIGINFO_SIZE] = NULL;
	uint32_t n = 0;

	for (;;) {
		struct __ptrace_peeksiginfo_args args = {
			.off = n, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
			.nr = PEEK_BATCH,
		};
		uint8_t (*grown)[TC_SIGINFO_SIZE];
		long got;

		grown = realloc(all, (n + PEEK_BATCH) * TC_SIGINFO_SIZE);
		if (!grown) {
			free(all);
			return -ENOMEM;
		}
		all = grown;
		got = ptrace(PTRACE_PEEKSIGINFO, tid, &args, all + n);
		if (got < 0) {
			int r = neg_errno();

			free(all);
			return collect_fail(cx, r, "tid %d: pending signals", tid);
		}
		n += got;
		if (got < PEEK_BATCH)
			break;
	}
	*out = all;
	*nr = n;
	return 0;
}

/* The kernel's own code, never seen by a program (include/linux/errno.h). */
#define ERESTART_RESTARTBLOCK_ 516

/*
 * A thread stopped inside restart_syscall (a sleep interrupted once already,
 * by an earlier dump's stop, and resumed by the kernel's restart block) would
 * be rebuilt calling restart_syscall in a new process, which has no restart
 * block: EINTR.  The call it continues is the one whose number the code puts
 * in eax right before that `syscall` (mov $NR, %eax: b8 imm32 0f 05, as
 * glibc does it); its arguments are still in the registers.  Recorded as that
 * call, the restore makes it again (a sleep asks for the time left, which
 * the kernel wrote to its rem at each interruption; a futex wait may return
 * at once, which its callers allow).
 */
static void recover_restarted_call(struct collect_ctx *cx, pid_t tid,
				   struct user_regs_struct *regs)
{
	static const long restartable[] = { SYS_nanosleep, SYS_clock_nanosleep, SYS_poll,
					    SYS_futex };
	uint8_t code[7];
	int32_t nr;

	if (regs->rip >= 7 && collect_read_mem(cx, regs->rip - 7, code, sizeof(code)) == 0 &&
	    code[0] == 0xb8 && code[5] == 0x0f && code[6] == 0x05) {
		memcpy(&nr, code + 1, sizeof(nr));
		for (size_t i = 0; i < ARRAY_SIZE(restartable); i++)
			if (nr == restartable[i]) {
				regs->orig_rax = (uint64_t)nr;
				return;
			}
	}
	log_warn("pid %d tid %d: in the restart of an interrupted call trace-ckpt cannot tell: "
		 "after a restore that call returns EINTR", cx->pid, tid);
}

/*
 * What a thread's own system calls leave in its scratch memory: its
 * altstack, then its tid address.
 */
struct thread_scratch {
	stack_t ss;
	uint64_t gap;
	uint64_t tid_addr;
};
#define TID_ADDR_AT 32
_Static_assert(offsetof(struct thread_scratch, tid_addr) == TID_ADDR_AT &&
	       sizeof(struct thread_scratch) == TID_ADDR_AT + sizeof(uint64_t),
	       "the tid address lands right after the stack_t, as ever");

/* What ptrace and the kernel tell of a thread from outside it. */
static int collect_thread_regs(struct collect_ctx *cx, struct process_record *p,
			       struct thread_record *t, pid_t tid, bool leader)
{
	struct iovec iov = { &t->regs, sizeof(t->regs) };
	struct rseq_config rseq;
	size_t rlen;
	int r;

	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return collect_fail(cx, neg_errno(), "tid %d: registers", tid);
	if ((long)t->regs.orig_rax == SYS_restart_syscall &&
	    (long)t->regs.rax == -ERESTART_RESTARTBLOCK_)
		recover_restarted_call(cx, tid, &t->regs);
	t->xstate = aligned_alloc(64, XSTATE_MAX);
	if (!t->xstate)
		return -ENOMEM;
	iov = (struct iovec){ t->xstate, XSTATE_MAX };
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return collect_fail(cx, neg_errno(), "tid %d: xstate", tid);
	t->xstate_len = iov.iov_len;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(t->sigmask), &t->sigmask) < 0)
		return collect_fail(cx, neg_errno(), "tid %d: signal mask", tid);
	r = peek_pending(cx, tid, false, &t->pending, &t->nr_pending);
	if (r < 0)
		return r;
	if (leader) {
		r = peek_pending(cx, tid, true, &p->shared_pending, &p->nr_shared_pending);
		if (r < 0)
			return r;
	}
	if (syscall(SYS_get_robust_list, tid, &t->robust_list, &rlen) < 0)
		return collect_fail(cx, neg_errno(), "tid %d: robust list", tid);
	t->robust_len = rlen;
	if (ptrace_rseq_config(tid, &rseq) == 0) {
		t->rseq_addr = rseq.abi_pointer;
		t->rseq_len = rseq.abi_size;
		t->rseq_sig = rseq.signature;
	}
	t->tid = tid;
	return 0;
}

/*
 * Every thread's scratch in one process_vm_readv per IOV_MAX of them, not
 * two reads each.  A short read is read again thread by thread, to name the
 * one whose scratch could not be read.
 */
static int collect_read_scratch(struct collect_ctx *cx, struct process_record *p,
				const pid_t *tids, const uint64_t *scratch)
{
	size_t n = p->nr_threads, batch = MIN(n, (size_t)IOV_MAX);
	_cleanup_free_ struct thread_scratch *ts = calloc(n, sizeof(*ts));
	_cleanup_free_ struct iovec *local = calloc(batch, sizeof(*local));
	_cleanup_free_ struct iovec *remote = calloc(batch, sizeof(*remote));

	if (!ts || !local || !remote)
		return -ENOMEM;
	for (size_t at = 0; at < n; at += batch) {
		size_t k = MIN(batch, n - at);
		ssize_t got;

		for (size_t i = 0; i < k; i++) {
			local[i] = (struct iovec){ &ts[at + i], sizeof(*ts) };
			remote[i] = (struct iovec){ (void *)(uintptr_t)scratch[at + i], sizeof(*ts) };
		}
		got = process_vm_readv(cx->pid, local, k, remote, k, 0);
		if (got == (ssize_t)(k * sizeof(*ts)))
			continue;
		for (size_t i = at; i < at + k; i++) {
			int r = collect_read_mem(cx, scratch[i], &ts[i], sizeof(*ts));

			if (r < 0)
				return collect_fail(cx, r, "tid %d: sigaltstack and tid address",
						    tids[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct thread_record *t = &p->threads[i];

		t->altstack_sp = (uint64_t)ts[i].ss.ss_sp;
		t->altstack_size = ts[i].ss.ss_size;
		t->altstack_flags = ts[i].ss.ss_flags;
		t->clear_child_tid = ts[i].tid_addr;
	}
	return 0;
}

/*
 * What only the threads themselves can ask: altstack and tid address, two
 * calls in each thread, all threads at once (remote_syscalls_threads).
 */
static int collect_remote_part(struct collect_ctx *cx, struct process_record *p,
			       const pid_t *tids)
{
	size_t n = p->nr_threads;
	_cleanup_free_ struct remote_call *calls = calloc(n, 2 * sizeof(*calls));
	_cleanup_free_ uint64_t *scratch = calloc(n, sizeof(*scratch));
	_cleanup_free_ int *errs = calloc(n, sizeof(*errs));
	int r;

	if (!calls || !scratch || !errs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = collect_remote_scratch(cx, tids[i], sizeof(struct thread_scratch), &scratch[i]);
		if (r < 0)
			return collect_fail(cx, r, "tid %d: scratch memory", tids[i]);
		calls[2 * i] = (struct remote_call){
			.nr = SYS_sigaltstack, .args = { 0, (long)scratch[i] } };
		calls[2 * i + 1] = (struct remote_call){
			.nr = SYS_prctl,
			.args = { PR_GET_TID_ADDRESS, (long)(scratch[i] + TID_ADDR_AT) } };
	}
	collect_remote_threads(cx, tids, n, calls, 2, errs);
	for (size_t i = 0; i < n; i++) {
		if (errs[i] < 0 || calls[2 * i].ret < 0)
			return collect_fail(cx, errs[i] < 0 ? errs[i] : (int)calls[2 * i].ret,
					    "tid %d: sigaltstack", tids[i]);
		if (calls[2 * i + 1].ret < 0)
			return collect_fail(cx, (int)calls[2 * i + 1].ret, "tid %d: tid address",
					    tids[i]);
	}
	return collect_read_scratch(cx, p, tids, scratch);
}

/*
 * The status files of a process's threads, read by a thread of ours while
 * the program's threads make their remote calls: we mostly wait for them
 * then (1,000 threads: 8 ms of reads overlapped).  What is parsed of them,
 * NSpid and the credentials, no remote call changes.
 */
struct status_reads {
	pid_t pid;
	const pid_t *tids;
	size_t n;
	bool leader_too;	/* the leader's is wanted too (its NSpid) */
	char **text;		/* [n], malloc'd; NULL where not read */
	int *err;		/* [n]: 0 or -errno of the read */
};

static void *read_statuses(void *arg)
{
	struct status_reads *sr = arg;

	for (size_t i = sr->leader_too ? 0 : 1; i < sr->n; i++) {
		char path[96];

		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", sr->pid, sr->tids[i]);
		sr->err[i] = read_file_at(AT_FDCWD, path, &sr->text[i], NULL);
	}
	return NULL;
}

/* From its status: its tid as the program knows it, its credentials. */
static int collect_thread_status(struct collect_ctx *cx, struct process_record *p,
				 struct thread_record *t, pid_t tid, bool leader,
				 const char *status, int err)
{
	uint64_t v;

	if (!cx->s->init_pid && leader)
		return 0;
	if (err < 0)
		return collect_fail(cx, err, "/proc/%d/task/%d/status", cx->pid, tid);
	if (cx->s->init_pid) {
		if (parse_status_last_u64(status, "NSpid", &v) < 0)
			return collect_fail(cx, -ESRCH, "tid %d: NSpid", tid);
		t->tid = (pid_t)v;
	}
	/* A name it gave itself (pthread_setname_np); not worth failing a dump for. */
	if (!leader && parse_status_name(status, t->comm) < 0)
		t->comm[0] = '\0';
	if (!leader && p->creds.valid)
		return collect_thread_creds(cx, p, tid, status);
	return 0;
}

/* The remote part and the status files, overlapped (struct status_reads). */
static int collect_remote_and_status(struct collect_ctx *cx, struct process_record *p,
				     const pid_t *tids)
{
	size_t n = p->nr_threads;
	struct status_reads sr = {
		.pid = cx->pid, .tids = tids, .n = n, .leader_too = cx->s->init_pid != 0,
		.text = calloc(n, sizeof(char *)), .err = calloc(n, sizeof(int)),
	};
	bool reader = false;
	pthread_t th;
	int r;

	if (!sr.text || !sr.err) {
		r = -ENOMEM;
		goto out;
	}
	if (n > 1) {
		r = pthread_create(&th, NULL, read_statuses, &sr);
		if (r)
			log_debug("pid %d: status reader thread: %s; read after the calls", cx->pid,
				  strerror(r));
		reader = r == 0;
	}
	r = collect_remote_part(cx, p, tids);
	if (reader)
		pthread_join(th, NULL);
	else if (r == 0)
		read_statuses(&sr);
	for (size_t i = 0; i < n && r == 0; i++)
		r = collect_thread_status(cx, p, &p->threads[i], tids[i], i == 0, sr.text[i],
					  sr.err[i]);
out:
	for (size_t i = 0; sr.text && i < n; i++)
		free(sr.text[i]);
	free(sr.text);
	free(sr.err);
	return r;
}

static int cmp_tid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

int collect_threads(struct collect_ctx *cx, struct process_record *p)
{
	char path[64];
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", cx->pid);
	d = opendir(path);
	if (!d)
		return collect_fail(cx, neg_errno(), "%s", path);
	while ((de = readdir(d))) {
		pid_t tid = strtol(de->d_name, NULL, 10);
		struct tracee *t;

		if (tid <= 0)
			continue;
		t = session_find(cx->s, tid);
		if (!t || t->state != TRACEE_STOPPED) {
			r = collect_fail(cx, -ESRCH, "thread %d: not frozen", tid);
			break;
		}
		if (n == cap) {
			pid_t *g = realloc(tids, (cap = cap ? cap * 2 : 8) * sizeof(*g));

			if (!g) {
				r = -ENOMEM;
				break;
			}
			tids = g;
		}
		tids[n++] = tid;
	}
	closedir(d);
	if (r < 0)
		return r;
	/* The leader first: it carries the process-wide state. */
	qsort(tids, n, sizeof(*tids), cmp_tid);
	for (size_t i = 0; i < n; i++)
		if (tids[i] == cx->pid) {
			tids[i] = tids[0];
			tids[0] = cx->pid;
		}
	p->threads = calloc(n, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	p->nr_threads = n;
	for (size_t i = 0; i < n; i++) {
		r = collect_thread_regs(cx, p, &p->threads[i], tids[i], i == 0);
		if (r < 0)
			return r;
	}
	return collect_remote_and_status(cx, p, tids);
}
