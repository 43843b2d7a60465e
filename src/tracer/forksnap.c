/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Copy-on-write snapshots by remote clone.  The clone shares the process's
 * fd table (CLONE_FILES: it holds no extra reference to any file, so a
 * connection the program closes meanwhile closes at once), has no exit
 * signal (its parent gets no SIGCHLD, and a wait(2) without __WALL does not
 * see it), all signals blocked, and registers that exit at once should it
 * ever run.  Its pages are the process's as they were at the freeze; the
 * process pays a page copy for each page it writes before the clone goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/forksnap.h"
#include "tracer/procfs.h"
#include "tracer/pidns.h"
#include "ptrace/remote.h"
#include "ptrace/seize.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool forksnap_wanted(void)
{
	const char *v = getenv("TRACE_CKPT_SNAPSHOT");

	return !v || strcmp(v, "copy");
}

/* A thread of pid that we hold in a ptrace-stop. */
static pid_t stopped_thread(const struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].tgid == pid && s->tracees[i].state == TRACEE_STOPPED)
			return s->tracees[i].tid;
	return 0;
}

/*
 * A deleted file's private mapping is copied too: where the program has no
 * page of its own, the clone has no page table either, and reading it later
 * would give the file as the program may have changed it meanwhile.  And
 * hugetlb memory, which the clone lets go of (unmap_hugetlb_in_clone).
 */
static bool clone_misses(const struct vma_record *v)
{
	return v->kind == VMA_ANON_SHARED || v->kind == VMA_FILE_SHARED || v->copied_frozen ||
	       (v->flags & (VMA_F_DONTFORK | VMA_F_WIPEONFORK | VMA_F_DELETED | VMA_F_HUGETLB));
}

/* The start addresses of the clone's mappings, in order. */
static int clone_starts(pid_t copy, uint64_t **starts, size_t *n)
{
	_cleanup_free_ char *maps = NULL;
	char path[64], *line, *save = NULL;
	size_t cap = 0;
	int r;

	*starts = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", copy);
	r = read_file_at(AT_FDCWD, path, &maps, NULL);
	if (r < 0)
		return r;
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_entry e;

		if (parse_maps_line(line, &e) < 0)
			return -EINVAL;
		if (*n == cap) {
			uint64_t *grown = realloc(*starts, (cap = cap ? cap * 2 : 64) * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			*starts = grown;
		}
		(*starts)[(*n)++] = e.start;
	}
	return 0;
}

static bool has_start(const uint64_t *starts, size_t n, uint64_t a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (starts[mid] == a)
			return true;
		if (starts[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * The collectors left p's pages to the clone: those it does not show are
 * found now, and copied while frozen.  A mapping not in the clone is
 * MADV_DONTFORK; one without a page in the clone that p has a page of
 * (MADV_WIPEONFORK, or whatever else) is copied too.  Reading the flags
 * here would take the walk of every page table that smaps does: only when
 * a mapping is missing from the clone, whose flags the clone cannot give
 * (hugetlb memory too: the clone let go of it, unmap_hugetlb_in_clone).
 */
static int find_missed(struct process_record *p, pid_t copy)
{
	struct collect_ctx cx = { .pid = p->real_pid };
	_cleanup_close_ int own_pm = -1, copy_pm = -1;
	_cleanup_free_ uint64_t *starts = NULL;
	bool missing = false;
	char path[64];
	size_t n;
	int r = clone_starts(copy, &starts, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < p->nr_vmas && !missing; i++)
		missing = !has_start(starts, n, p->vmas[i].start);
	if (missing && (r = collect_vma_flags(&cx, p)) < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", copy);
	copy_pm = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", p->real_pid);
	own_pm = open(path, O_RDONLY | O_CLOEXEC);
	if (copy_pm < 0 || own_pm < 0)
		return -errno;
	for (size_t i = 0; i < p->nr_vmas; i++) {
		struct vma_record *v = &p->vmas[i];

		if (!v->pages_deferred)
			continue;
		if (!has_start(starts, n, v->start)) {
			v->flags |= VMA_F_DONTFORK;	/* smaps says so too */
		} else {
			r = vma_has_pages(copy_pm, v);
			if (r > 0)
				continue;	/* the clone has its pages: all of them */
			if (r == 0)
				r = vma_has_pages(own_pm, v);
			if (r < 0)
				return r;
			if (r == 0)
				continue;	/* none here either */
		}
		v->copied_frozen = true;
		r = collect_vma_pages(&cx, p, v);
		log_debug("pid %d: mapping 0x%llx: %s: its pages copied while frozen", p->real_pid,
			  (unsigned long long)v->start, (v->flags & VMA_F_DONTFORK) ?
			  "not in the clone (MADV_DONTFORK)" : "no page of it in the clone");
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct vma_record *vma_of(const struct process_record *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (addr >= p->vmas[i].start && addr < p->vmas[i].end)
			return &p->vmas[i];
	return NULL;
}

/* The runs of p that its clone would not have as they are now. */
static int copy_missed(struct fork_snapshot *fs, const struct process_record *p)
{
	for (size_t k = 0; k < p->nr_runs; k++) {
		const struct page_run *run = &p->runs[k];
		const struct vma_record *v = vma_of(p, run->vaddr);
		struct frozen_seg *grown, *seg;
		int r;

		if (v && !clone_misses(v))
			continue;
		grown = realloc(fs->segs, (fs->nr_segs + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		fs->segs = grown;
		seg = &fs->segs[fs->nr_segs];
		*seg = (struct frozen_seg){ .real_pid = p->real_pid, .addr = run->vaddr,
					    .len = run->len, .buf = malloc(run->len ? run->len : 1) };
		if (!seg->buf)
			return -ENOMEM;
		fs->nr_segs++;
		r = fs->inner.read(fs->inner.ctx, p->real_pid, run->vaddr, seg->buf, run->len);
		if (r < 0)
			return log_ret(r, "pid %d: copying 0x%llx (%llu bytes) while frozen: %s",
				       p->real_pid, (unsigned long long)run->vaddr,
				       (unsigned long long)run->len, strerror(-r));
	}
	return 0;
}

/*
 * The clone lets go of p's hugetlb memory (copied while frozen) before the
 * program runs again.  Else each huge page it shares must be copied when
 * the program writes it: from the pool, which may have none free; then a
 * process that inherited the mapping by fork dies of SIGBUS (only the
 * mapping's maker has the page taken from the clone instead).
 */
static int unmap_hugetlb_in_clone(const struct process_record *p, const struct forked_proc *fp)
{
	_cleanup_free_ struct remote_call *calls = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < p->nr_vmas; i++)
		n += !!(p->vmas[i].flags & VMA_F_HUGETLB);
	if (!n)
		return 0;
	calls = calloc(n, sizeof(*calls));
	if (!calls)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (p->vmas[i].flags & VMA_F_HUGETLB)
			calls[n++] = (struct remote_call){
				.nr = SYS_munmap,
				.args = { (long)p->vmas[i].start,
					  (long)(p->vmas[i].end - p->vmas[i].start) },
			};
	r = remote_syscalls(fp->copy, fp->syscall_insn, calls, n);
	for (size_t k = 0; k < n && r == 0; k++)
		if (calls[k].ret < 0)
			r = (int)calls[k].ret;
	if (r < 0)
		return log_ret(r, "pid %d (the clone of %d): munmap of its hugetlb memory: %s",
			       fp->copy, p->real_pid, strerror(-r));
	return 0;
}

static int add_keep(struct forked_proc *fp, uint64_t start, uint64_t end)
{
	size_t i = 0;

	while (i < fp->nr_keep && fp->keep[i][0] < start)
		i++;
	if (fp->nr_keep == FORKSNAP_MAX_KEEP)
		return -E2BIG;
	memmove(&fp->keep[i + 1], &fp->keep[i], (fp->nr_keep - i) * sizeof(fp->keep[0]));
	fp->keep[i][0] = start;
	fp->keep[i][1] = end;
	fp->nr_keep++;
	/* Touching or overlapping ranges become one. */
	for (size_t k = 0; k + 1 < fp->nr_keep;) {
		if (fp->keep[k + 1][0] <= fp->keep[k][1]) {
			fp->keep[k][1] = MAX(fp->keep[k][1], fp->keep[k + 1][1]);
			memmove(&fp->keep[k + 1], &fp->keep[k + 2],
				(fp->nr_keep - k - 2) * sizeof(fp->keep[0]));
			fp->nr_keep--;
		} else {
			k++;
		}
	}
	return 0;
}

/*
 * What the clone must keep mapped while the writer has it let go of the
 * rest (forksnap_release_below), or released set so it never does:
 * - the mapping of the syscall instruction, for the remote calls;
 * - the special mappings ([vdso], [vvar]...): the kernel refuses to split
 *   them (EINVAL), and to unmap them at all where it seals them;
 * - the page of the rseq area (inherited from the thread cloned), which
 *   the kernel writes on each return to user space: unmapped, the next
 *   remote call ends in a SIGSEGV.  A kernel that cannot say where it is
 *   (PTRACE_GET_RSEQ_CONFIGURATION, 5.13) gets no release;
 * - nothing, for a process with a seccomp filter: the clone has it too,
 *   and it might kill a munmap.
 */
static void plan_keeps(const struct process_record *p, struct forked_proc *fp)
{
	struct rseq_config rseq;
	const struct vma_record *insn = vma_of(p, fp->syscall_insn);
	int r = 0;

	fp->nr_keep = 0;
	if (p->seccomp_filters_len ||
	    ptrace_rseq_config(fp->copy, &rseq) < 0) {
		fp->released = UINT64_MAX;
		return;
	}
	if (rseq.abi_pointer)
		r = add_keep(fp, rseq.abi_pointer & ~4095ull,
			     ALIGN_UP(rseq.abi_pointer + MAX(rseq.abi_size, 1u), 4096ull));
	if (r == 0)
		r = insn ? add_keep(fp, insn->start, insn->end)
			 : add_keep(fp, fp->syscall_insn & ~4095ull,
				    (fp->syscall_insn & ~4095ull) + 8192);
	for (size_t i = 0; i < p->nr_vmas && r == 0; i++)
		if (p->vmas[i].kind >= VMA_VDSO)
			r = add_keep(fp, p->vmas[i].start, p->vmas[i].end);
	if (r < 0)
		fp->released = UINT64_MAX;
}

int forksnap_take(struct session *s, struct computation *c, bool deferred,
		  struct fork_snapshot *fs)
{
	int r = 0;

	memset(fs, 0, sizeof(*fs));
	memread_init(&fs->mctx, &fs->inner);
	fs->procs = calloc(c->nr_procs ? c->nr_procs : 1, sizeof(*fs->procs));
	if (!fs->procs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs && r == 0; i++) {
		struct process_record *p = &c->procs[i];
		struct forked_proc *fp = &fs->procs[fs->nr_procs];

		/* A zombie of the tree has no memory to keep. */
		if (!p->nr_vmas)
			continue;
		*fp = (struct forked_proc){ .real_pid = p->real_pid,
					    .tid = stopped_thread(s, p->real_pid) };
		if (!fp->tid) {
			r = -ESRCH;
			break;
		}
		r = remote_find_syscall_insn(p->real_pid, &fp->syscall_insn);
		if (r == 0)
			r = remote_clone_stopped(fp->tid, fp->syscall_insn, CLONE_FILES, &fp->copy);
		if (r == 0) {
			fs->nr_procs++;
			if (pidns_inner_pid(fp->copy, &fp->copy_inner) < 0)
				fp->copy_inner = fp->copy;
		}
		if (r == 0) {
			plan_keeps(p, fp);
			r = unmap_hugetlb_in_clone(p, fp);
		}
		if (r == 0 && deferred)
			r = find_missed(p, fp->copy);
		if (r == 0)
			r = copy_missed(fs, p);
		if (r < 0)
			log_debug("pid %d: no copy-on-write clone (%s): the dump copies while frozen",
				  p->real_pid, strerror(-r));
	}
	if (r < 0)
		forksnap_release(fs, true, NULL);
	return r;
}

int forksnap_complete(struct fork_snapshot *fs, struct computation *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < fs->nr_procs; i++) {
		struct process_record *p = NULL;
		char what[512] = "";
		struct collect_ctx cx = { .pid = fs->procs[i].copy, .err = what,
					  .errlen = sizeof(what) };
		int r;

		for (size_t k = 0; k < c->nr_procs && !p; k++)
			if (c->procs[k].real_pid == fs->procs[i].real_pid)
				p = &c->procs[k];
		if (!p)
			continue;
		r = collect_vmas_finish(&cx, p);
		if (r < 0) {
			/* what names the clone: the process is the one to name. */
			snprintf(err, errlen, "pid %d: its pages, read in its copy-on-write clone: %s",
				 p->real_pid, what[0] ? what : strerror(-r));
			return r;
		}
	}
	return 0;
}

static pid_t copy_of(const struct fork_snapshot *fs, pid_t real_pid)
{
	for (size_t i = 0; i < fs->nr_procs; i++)
		if (fs->procs[i].real_pid == real_pid)
			return fs->procs[i].copy;
	return 0;
}

/* Frozen copies first; the rest from the clone (a read may span runs that touch). */
static int forksnap_read(void *opaque, pid_t real_pid, uint64_t addr, void *buf, size_t len)
{
	struct fork_snapshot *fs = opaque;
	pid_t copy = copy_of(fs, real_pid);
	uint8_t *dst = buf;

	if (!copy)
		return -ESRCH;
	while (len) {
		uint64_t next = addr + len;
		size_t n;
		int r;

		for (size_t i = 0; i < fs->nr_segs; i++) {
			const struct frozen_seg *sg = &fs->segs[i];

			if (sg->real_pid != real_pid)
				continue;
			if (addr >= sg->addr && addr < sg->addr + sg->len) {
				n = MIN(len, sg->addr + sg->len - addr);
				memcpy(dst, sg->buf + (addr - sg->addr), n);
				goto advance;
			}
			if (sg->addr > addr && sg->addr < next)
				next = sg->addr;
		}
		n = next - addr;
		r = fs->inner.read(fs->inner.ctx, copy, addr, dst, n);
		if (r < 0)
			return r;
advance:
		dst += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/*
 * Every clone still stopped, never killed: one killed (the OOM killer may
 * choose it, as big as the program) has its pages taken away while it
 * dies, and what was read from it may be zeros.  A kill is for good: a
 * clone that is neither dead nor dying now was whole for every read.
 */
int forksnap_intact(struct fork_snapshot *fs)
{
	for (size_t i = 0; i < fs->nr_procs; i++) {
		const struct forked_proc *fp = &fs->procs[i];
		_cleanup_free_ char *status = NULL;
		siginfo_t si = { 0 };
		char path[64];
		uint64_t pending = 0, shared = 0;

		if (waitid(P_PID, fp->copy, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 ||
		    si.si_pid == fp->copy)
			goto gone;
		snprintf(path, sizeof(path), "/proc/%d/status", fp->copy);
		if (read_file_at(AT_FDCWD, path, &status, NULL) < 0 ||
		    parse_status_u64(status, "SigPnd", 16, &pending) < 0 ||
		    parse_status_u64(status, "ShdPnd", 16, &shared) < 0)
			goto gone;
		if ((pending | shared) & (1ull << (SIGKILL - 1)))
			goto gone;
		continue;
gone:
		return log_ret(-ESRCH, "pid %d: its copy-on-write clone %d was killed during the "
			       "dump (the OOM killer?): what was read from it cannot be trusted",
			       fp->real_pid, fp->copy);
	}
	return 0;
}

static int forksnap_intact_of(void *ctx)
{
	return forksnap_intact(ctx);
}

/*
 * Unmapped in a remote call per this much at least: a call costs tens of
 * microseconds.  The writer's buffers hold 1 to 8 MiB: each lets go of
 * what it read, which every dump but the smallest does (and so every test
 * of a leave-running dump tries).
 */
#define RELEASE_BATCH (1ull << 20)

/*
 * The writer has read everything of the process below addr: the clone
 * unmaps it, but for what it keeps (plan_keeps).  Each page the program
 * writes from then on is its own again (mapped once): no copy-on-write
 * copy, no memory doubled for it, and a transparent huge page wholly read
 * is not split.  A failure only ends the releasing: the clone keeps the
 * rest until it is killed.
 */
/*
 * The calls, with the worker not dying with the supervisor meanwhile (it
 * does once the program runs again, dump_thaw): killed in the middle of
 * one, it would leave the clone to run on from the call, a copy of the
 * program sharing its fd table.  Between calls the clone is stopped with
 * exit_group in its registers: the worker may die then, and does if the
 * supervisor died meanwhile.
 */
static int release_calls(const struct forked_proc *fp, struct remote_call *calls, size_t n)
{
	pid_t ppid = getppid();
	int pdeathsig = 0, r;

	if (prctl(PR_GET_PDEATHSIG, &pdeathsig) == 0 && pdeathsig)
		prctl(PR_SET_PDEATHSIG, 0);
	r = remote_syscalls(fp->copy, fp->syscall_insn, calls, n);
	if (pdeathsig) {
		prctl(PR_SET_PDEATHSIG, pdeathsig);
		if (getppid() != ppid)
			raise(SIGKILL);
	}
	return r;
}

static void forksnap_release_below(void *opaque, pid_t real_pid, uint64_t addr)
{
	struct fork_snapshot *fs = opaque;
	struct forked_proc *fp = NULL;
	struct remote_call calls[FORKSNAP_MAX_KEEP + 1];
	uint64_t from;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < fs->nr_procs && !fp; i++)
		if (fs->procs[i].real_pid == real_pid && fs->procs[i].copy > 0)
			fp = &fs->procs[i];
	if (!fp || addr <= fp->released || addr - fp->released < RELEASE_BATCH)
		return;
	from = fp->released;
	for (size_t k = 0; k < fp->nr_keep; k++) {
		if (fp->keep[k][1] <= from || fp->keep[k][0] >= addr)
			continue;
		if (fp->keep[k][0] > from)
			calls[n++] = (struct remote_call){
				.nr = SYS_munmap, .args = { (long)from, (long)(fp->keep[k][0] - from) } };
		from = MAX(from, fp->keep[k][1]);
	}
	if (from < addr)
		calls[n++] = (struct remote_call){ .nr = SYS_munmap,
						   .args = { (long)from, (long)(addr - from) } };
	r = n ? release_calls(fp, calls, n) : 0;
	for (size_t k = 0; k < n && r == 0; k++)
		if (calls[k].ret < 0)
			r = (int)calls[k].ret;
	if (r < 0) {
		log_debug("pid %d (the clone of %d): munmap of 0x%llx-0x%llx: %s; it keeps its pages",
			  fp->copy, fp->real_pid, (unsigned long long)fp->released,
			  (unsigned long long)addr, strerror(-r));
		fp->released = UINT64_MAX;
		return;
	}
	fp->released = addr;
}

void forksnap_reader(struct fork_snapshot *fs, struct mem_reader *mr)
{
	*mr = (struct mem_reader){ .read = forksnap_read, .ctx = fs,
				   .intact = forksnap_intact_of,
				   .release = forksnap_release_below };
}

/*
 * The clone is a child of fp's process without an exit signal: only a
 * wait4 there reaps it.  frozen: tid is stopped by us already.
 */
static int reap_in_parent(const struct forked_proc *fp, bool frozen)
{
	const long args[6] = { fp->copy_inner, 0, __WALL | WNOHANG, 0, 0, 0 };
	int status, sig = 0, r;
	long ret = 0;

	if (!frozen) {
		r = ptrace_seize_thread(fp->tid, 0);
		if (r == 0)
			r = ptrace_interrupt_thread(fp->tid);
		if (r < 0)
			return r;
		for (;;) {
			if (waitpid(fp->tid, &status, __WALL) < 0) {
				if (errno == EINTR)
					continue;
				return neg_errno();
			}
			if (!WIFSTOPPED(status))
				return -ESRCH;
			/* A signal on its way: delivered when we let go. */
			if (status >> 16 != PTRACE_EVENT_STOP)
				sig = WSTOPSIG(status);
			break;
		}
	}
	r = remote_syscall(fp->tid, fp->syscall_insn, SYS_wait4, args, &ret);
	if (r == 0 && ret != fp->copy_inner)
		r = ret < 0 ? (int)ret : -ECHILD;
	if (!frozen) {
		int d = ptrace_detach_thread(fp->tid, sig);

		if (d < 0 && d != -ESRCH && r == 0)
			r = d;
	}
	return r;
}

void forksnap_release(struct fork_snapshot *fs, bool frozen, uint64_t *stall_ns)
{
	/*
	 * A dump's worker dies with the supervisor once the program runs
	 * again (dump_thaw), but not in the middle of a remote wait4: the
	 * thread would be left with its single-step armed, and die of the
	 * SIGTRAP (seen as a program killed with its supervisor, 1 run in 20).
	 */
	pid_t ppid = getppid();
	int pdeathsig = 0;

	if (!frozen && prctl(PR_GET_PDEATHSIG, &pdeathsig) == 0 && pdeathsig)
		prctl(PR_SET_PDEATHSIG, 0);
	for (size_t i = 0; i < fs->nr_procs; i++) {
		struct forked_proc *fp = &fs->procs[i];
		uint64_t t0;
		int status, r;

		if (fp->copy <= 0)
			continue;
		kill(fp->copy, SIGKILL);
		/* Its death, to us its tracer; then it is its parent's zombie. */
		while (waitpid(fp->copy, &status, __WALL) < 0 && errno == EINTR)
			;
		t0 = mono_ns();
		r = reap_in_parent(fp, frozen);
		if (stall_ns)
			*stall_ns = MAX(*stall_ns, mono_ns() - t0);
		if (r < 0 && r != -ESRCH)
			log_warn("pid %d: the copy-on-write clone %d of the dump could not be reaped "
				 "(%s): a zombie child until it exits", fp->real_pid, fp->copy,
				 strerror(-r));
		fp->copy = 0;
	}
	memread_done(&fs->mctx);
	for (size_t i = 0; i < fs->nr_segs; i++)
		free(fs->segs[i].buf);
	free(fs->segs);
	free(fs->procs);
	memset(fs, 0, sizeof(*fs));
	if (pdeathsig) {
		prctl(PR_SET_PDEATHSIG, pdeathsig);
		if (getppid() != ppid)
			raise(pdeathsig);	/* it died meanwhile: as it would have made us */
	}
}
