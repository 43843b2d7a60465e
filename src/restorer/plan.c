/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "restorer/plan.h"
#include "restorer/procfd.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define PAGE 4096ull
#define TASK_TOP 0x7ffffffff000ull

#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* The signal frame's FPU state header (uapi asm/sigcontext.h, _fpx_sw_bytes). */
#define XSTATE_MAGIC1 0x46505853u	/* FP_XSTATE_MAGIC1 */
#define XSTATE_MAGIC2 0x46505845u	/* FP_XSTATE_MAGIC2 */
#define FXSAVE_SIZE 512u
#define XSAVE_HDR_SIZE 64u
#define SW_BYTES_OFF 464u
#define XFEATURE_MASK_DYNAMIC (1ull << 18)	/* AMX tile data, enabled per process */

struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

_Static_assert(sizeof(struct fpx_sw_bytes) == FXSAVE_SIZE - SW_BYTES_OFF, "fpx_sw_bytes");
_Static_assert(sizeof(struct user_regs_struct) == STUB_NR_REGS * 8, "user_regs_struct");

/* The VMA_F_* bits of what madvise set, as the stub redoes them. */
static uint32_t madvise_of(uint32_t vma_flags)
{
	static const uint32_t map[][2] = {
		{ VMA_F_HUGEPAGE, STUB_MADV_HUGEPAGE }, { VMA_F_NOHUGEPAGE, STUB_MADV_NOHUGEPAGE },
		{ VMA_F_DONTFORK, STUB_MADV_DONTFORK }, { VMA_F_WIPEONFORK, STUB_MADV_WIPEONFORK },
		{ VMA_F_DONTDUMP, STUB_MADV_DONTDUMP }, { VMA_F_MERGEABLE, STUB_MADV_MERGEABLE },
	};
	uint32_t m = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (vma_flags & map[i][0])
			m |= map[i][1];
	return m;
}

static const char *const special_names[STUB_NR_SPECIAL] = {
	[STUB_SPECIAL_VVAR] = "[vvar]",
	[STUB_SPECIAL_VVAR_VCLOCK] = "[vvar_vclock]",
	[STUB_SPECIAL_VDSO] = "[vdso]",
};

/*
 * A relative sleep interrupted with a place for the time left (nanosleep's
 * rem, clock_nanosleep's rmtp) had the kernel write that time there before
 * it stopped (do_nanosleep's copy-out; -ERESTART_RESTARTBLOCK says it
 * succeeded), and that memory is in the image.  Asking for it, not for the
 * original time, sleeps only what was left, as the kernel's own restart
 * would.  Only the register that pointed at the request changes; glibc does
 * not look at it after the call.  Without a rem the sleep starts over.
 */
static void sleep_only_what_was_left(struct user_regs_struct *regs)
{
	switch ((long)regs->orig_rax) {
	case SYS_nanosleep:
		if (regs->rsi)
			regs->rdi = regs->rsi;
		break;
	case SYS_clock_nanosleep:
		if (regs->r10 && !(regs->rsi & TIMER_ABSTIME))
			regs->rdx = regs->r10;
		break;
	}
}

bool plan_fix_syscall_restart(struct user_regs_struct *regs)
{
	long ax = (long)regs->rax;

	if ((long)regs->orig_rax < 0)
		return false;
	if (ax != -ERESTARTSYS && ax != -ERESTARTNOINTR && ax != -ERESTARTNOHAND &&
	    ax != -ERESTART_RESTARTBLOCK)
		return false;
	if (ax == -ERESTART_RESTARTBLOCK)
		sleep_only_what_was_left(regs);
	regs->rax = regs->orig_rax;
	regs->rip -= 2;
	return true;
}

int plan_read_specials(struct stub_special sp[STUB_NR_SPECIAL])
{
	_cleanup_free_ char *buf = NULL;
	uint64_t start[STUB_NR_SPECIAL] = { 0 };
	char *line, *save = NULL;
	int r;

	memset(sp, 0, STUB_NR_SPECIAL * sizeof(*sp));
	r = read_file_at(AT_FDCWD, "/proc/self/maps", &buf, NULL);
	if (r < 0)
		return log_ret(r, "/proc/self/maps: %s", strerror(-r));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;
		size_t n = strlen(line);

		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		for (int i = 0; i < STUB_NR_SPECIAL; i++) {
			size_t k = strlen(special_names[i]);

			if (n >= k && !strcmp(line + n - k, special_names[i])) {
				start[i] = s;
				sp[i].len = e - s;
			}
		}
	}
	if (!sp[STUB_SPECIAL_VDSO].len) {
		memset(sp, 0, STUB_NR_SPECIAL * sizeof(*sp));
		return log_ret(-ENOENT, "this process has no [vdso]");
	}
	for (int i = 0; i < STUB_NR_SPECIAL; i++) {
		if (sp[i].len)
			sp[i].cur_off = (int64_t)(start[i] - start[STUB_SPECIAL_VDSO]);
	}
	return 0;
}

static int special_index(uint32_t kind)
{
	switch (kind) {
	case VMA_VVAR:
		return STUB_SPECIAL_VVAR;
	case VMA_VVAR_VCLOCK:
		return STUB_SPECIAL_VVAR_VCLOCK;
	case VMA_VDSO:
		return STUB_SPECIAL_VDSO;
	}
	return -1;
}

int plan_match_specials(const struct process_record *p, struct stub_special sp[STUB_NR_SPECIAL])
{
	uint64_t start[STUB_NR_SPECIAL] = { 0 }, len[STUB_NR_SPECIAL] = { 0 };
	bool any = false;

	for (size_t i = 0; i < p->nr_vmas; i++) {
		int k = special_index(p->vmas[i].kind);

		if (k < 0)
			continue;
		if (len[k])
			return log_ret(-EINVAL, "pid %d: two %s mappings", p->pid, special_names[k]);
		start[k] = p->vmas[i].start;
		len[k] = p->vmas[i].end - p->vmas[i].start;
		any = true;
	}
	for (int k = 0; k < STUB_NR_SPECIAL; k++)
		sp[k].target = 0;
	if (!any)
		return 0;	/* the stub unmaps its own */
	/* The vdso finds its data pages at fixed offsets from itself. */
	for (int k = 0; k < STUB_NR_SPECIAL; k++) {
		if (len[k] != sp[k].len)
			return log_ret(-EOPNOTSUPP, "pid %d: %s of %" PRIu64 " bytes in the image, %"
				       PRIu64 " on this kernel: the kernel differs", p->pid,
				       special_names[k], len[k], sp[k].len);
		if (len[k] && start[k] - start[STUB_SPECIAL_VDSO] != (uint64_t)sp[k].cur_off)
			return log_ret(-EOPNOTSUPP, "pid %d: %s at %+" PRId64 " from [vdso] in the"
				       " image, %+" PRId64 " on this kernel", p->pid,
				       special_names[k],
				       (int64_t)(start[k] - start[STUB_SPECIAL_VDSO]),
				       sp[k].cur_off);
	}
	for (int k = 0; k < STUB_NR_SPECIAL; k++)
		sp[k].target = start[k];
	return 0;
}

/*
 * What prctl(PR_SET_MM_MAP) checks (kernel/sys.c, validate_prctl_map_addr):
 * every address in [mmap_min_addr, TASK_SIZE), and the pairs ordered.  The
 * RLIMIT_DATA check is left to the kernel.
 */
static int check_mm(const struct process_record *p)
{
	const struct mm_record *m = &p->mm;
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{ "start_code", m->start_code }, { "end_code", m->end_code },
		{ "start_data", m->start_data }, { "end_data", m->end_data },
		{ "start_brk", m->start_brk }, { "brk", m->brk },
		{ "start_stack", m->start_stack }, { "arg_start", m->arg_start },
		{ "arg_end", m->arg_end }, { "env_start", m->env_start },
		{ "env_end", m->env_end },
	};
	_cleanup_free_ char *buf = NULL;
	uint64_t min_addr = PAGE;

	if (read_file_at(AT_FDCWD, "/proc/sys/vm/mmap_min_addr", &buf, NULL) == 0)
		min_addr = strtoull(buf, NULL, 10);
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (f[i].v < min_addr || f[i].v >= TASK_TOP)
			return log_ret(-EINVAL, "pid %d: mm %s 0x%" PRIx64 " out of range", p->pid,
				       f[i].name, f[i].v);
	}
	if (m->start_code >= m->end_code || m->start_data > m->end_data ||
	    m->start_brk > m->brk || m->arg_start > m->arg_end || m->env_start > m->env_end)
		return log_ret(-EINVAL, "pid %d: mm code, data, brk, arg or env bounds out of order",
			       p->pid);
	return 0;
}

/* Offsets into the blob, handed out in order. */
struct layout {
	uint64_t size;
};

static uint64_t reserve(struct layout *l, uint64_t len, uint64_t align)
{
	uint64_t off = ALIGN_UP(l->size, align);

	l->size = off + len;
	return off;
}

static int check_vmas(const struct process_record *p, const struct plan_fds *fds)
{
	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];

		if (v->start % PAGE || v->end % PAGE || v->start >= v->end ||
		    (i && v->start < p->vmas[i - 1].end))
			return log_ret(-EINVAL, "pid %d: mapping 0x%" PRIx64 "-0x%" PRIx64
				       ": unaligned, empty or out of order", p->pid, v->start,
				       v->end);
		if (v->kind == VMA_FILE_SHARED && (!fds->vma_fds || fds->vma_fds[i] < 0) &&
		    !(v->shm_kind == SHM_SYSV && v->sysv_id >= 0))
			return log_ret(-EBADF, "pid %d: shared mapping 0x%" PRIx64 " of %s: no fd",
				       p->pid, v->start, v->path ? v->path : "?");
		if (v->kind < VMA_ANON_PRIVATE || v->kind > VMA_VVAR_VCLOCK)
			return log_ret(-EINVAL, "pid %d: mapping 0x%" PRIx64 ": unknown kind %u",
				       p->pid, v->start, v->kind);
		if ((v->flags & VMA_F_HUGETLB) && v->kind != VMA_ANON_PRIVATE)
			return log_ret(-EINVAL, "pid %d: hugetlb mapping 0x%" PRIx64 ": not private "
				       "anonymous", p->pid, v->start);
		/* x86-64 has pages of 2 MiB and 1 GiB; flags of mmap hold up to 2^31. */
		if ((v->flags & VMA_F_HUGETLB) &&
		    (v->huge_shift < HUGE_SHIFT_MIN || v->huge_shift > HUGE_SHIFT_MAX ||
		     v->start % (1ull << v->huge_shift) || v->end % (1ull << v->huge_shift)))
			return log_ret(-EINVAL, "pid %d: hugetlb mapping 0x%" PRIx64 "-0x%" PRIx64
				       ": pages of 2^%u bytes, not a size of huge pages or not "
				       "aligned to", p->pid, v->start, v->end, v->huge_shift);
	}
	return 0;
}

/* Is the mapping rebuilt by the stub (not a special one, not above the
 * user address space like [vsyscall])? */
static bool plan_vma(const struct vma_record *v)
{
	return special_index(v->kind) < 0 && v->end <= TASK_TOP;
}

static bool overlaps(const struct vma_record *v, uint64_t start, uint64_t end)
{
	return start < end && start < v->end && end > v->start;
}

bool plan_vma_lazy(const struct process_record *p, const struct vma_record *v)
{
	return plan_vma(v) && v->kind == VMA_ANON_PRIVATE && !(v->flags & VMA_F_HUGETLB) &&
	       (v->prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) &&
	       !(v->flags & (VMA_F_HUGEPAGE | VMA_F_WIPEONFORK | VMA_F_MERGEABLE)) &&
	       !overlaps(v, p->mm.arg_start, p->mm.arg_end) &&
	       !overlaps(v, p->mm.env_start, p->mm.env_end);
}

static int fill_vmas(const struct process_record *p, const struct plan_fds *fds,
		     struct stub_vma *out, uint32_t *nr)
{
	uint32_t n = 0;

	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];
		struct stub_vma *s = &out[n];
		int fd = fds->vma_fds ? fds->vma_fds[i] : -1;

		if (!plan_vma(v))
			continue;
		s->start = v->start;
		s->end = v->end;
		s->prot = v->prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
		s->fd = -1;
		if (v->flags & VMA_F_GROWSDOWN)
			s->flags |= STUB_VMA_GROWSDOWN;
		if ((v->flags & VMA_F_NORESERVE) &&
		    (v->kind == VMA_ANON_PRIVATE || v->kind == VMA_FILE_PRIVATE))
			s->flags |= STUB_VMA_NORESERVE;
		s->madv = madvise_of(v->flags);
		switch (v->kind) {
		case VMA_ANON_SHARED:
			/* The restorer re-created the object: map it, shared again. */
			s->flags |= STUB_VMA_SHARED;
			if (fd >= 0) {
				s->fd = fd;
				s->pgoff = v->pgoff;
			} else {
				s->flags |= STUB_VMA_ANON;
			}
			break;
		case VMA_FILE_SHARED:
			s->flags |= STUB_VMA_SHARED;
			s->fd = fd;
			s->pgoff = v->pgoff;
			/* Without an fd on it (no map_files), by its id. */
			if (fd < 0 && v->shm_kind == SHM_SYSV) {
				s->flags |= STUB_VMA_SYSV;
				s->shmid = v->sysv_id;
				s->shm_size = v->shm_size;
			}
			break;
		case VMA_FILE_PRIVATE:
			if (fd >= 0) {
				s->fd = fd;
				s->pgoff = v->pgoff;
			} else {
				s->flags |= STUB_VMA_ANON;
			}
			break;
		default:
			s->flags |= STUB_VMA_ANON;
			if (v->flags & VMA_F_HUGETLB) {
				s->flags |= STUB_VMA_HUGETLB;
				s->huge_shift = v->huge_shift;
			}
			if (fds->lazy && plan_vma_lazy(p, v))
				s->flags |= STUB_VMA_LAZY;
			break;
		}
		n++;
	}
	*nr = n;
	return 0;
}

static int check_run(const struct process_record *p, const struct stub_vma *vmas, uint32_t nr_vmas,
		     uint32_t *j, uint64_t vaddr, uint64_t len, uint64_t prev_end)
{
	if (vaddr % PAGE || len % PAGE || !len || vaddr < prev_end)
		return log_ret(-EINVAL, "pid %d: pages at 0x%" PRIx64 ": unaligned, out of order"
			       " or twice", p->pid, vaddr);
	while (*j < nr_vmas && vmas[*j].end <= vaddr)
		(*j)++;
	if (*j == nr_vmas || vaddr < vmas[*j].start || vaddr + len > vmas[*j].end)
		return log_ret(-EINVAL, "pid %d: pages at 0x%" PRIx64 "-0x%" PRIx64
			       " are in no mapping", p->pid, vaddr, vaddr + len);
	return 0;
}

/* The core's runs and the earlier generations' in one list by address. */
static int fill_runs(const struct process_record *p, const struct stub_vma *vmas, uint32_t nr_vmas,
		     struct stub_run *out)
{
	uint64_t prev_end = 0;
	uint32_t j = 0, b = 0, n = 0;
	size_t i = 0;

	while (i < p->nr_runs || b < p->nr_base_runs) {
		bool own = b == p->nr_base_runs ||
			   (i < p->nr_runs && p->runs[i].vaddr < p->base_runs[b].vaddr);
		struct stub_run sr;
		int r;

		if (own) {
			sr = (struct stub_run){ p->runs[i].vaddr, p->runs[i].len,
						p->runs[i].file_off, 0, 0 };
			i++;
		} else {
			const struct base_run *br = &p->base_runs[b++];

			if (br->file >= p->nr_base_files)
				return log_ret(-EINVAL, "pid %d: pages at 0x%" PRIx64 ": no file %u",
					       p->pid, br->vaddr, br->file);
			sr = (struct stub_run){ br->vaddr, br->len, br->file_off, br->file + 1, 0 };
		}
		r = check_run(p, vmas, nr_vmas, &j, sr.vaddr, sr.len, prev_end);
		if (r < 0)
			return r;
		prev_end = sr.vaddr + sr.len;
		out[n++] = sr;
	}
	return 0;
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* Bytes of the standard-format xsave image up to the last of features. */
static uint32_t xstate_size_for(uint64_t features)
{
	uint32_t size = FXSAVE_SIZE + XSAVE_HDR_SIZE;
	unsigned int a, b, c, d;

	for (int i = 2; i < 63; i++) {
		if (!(features & (1ull << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		size = MAX(size, b + a);
	}
	return size;
}

/*
 * The size of a thread's xstate in the signal frame: the saved image may be
 * the full NT_X86_XSTATE regset, sized for every feature of XCR0, but the
 * kernel takes a frame's xstate only up to the size of the thread's own
 * state (without the dynamically enabled features like AMX tile data), and
 * silently restores nothing but x87/SSE from a larger one.  So: just what
 * the components present need.
 */
static int xstate_frame_size(pid_t pid, const struct thread_record *t, uint32_t *size)
{
	unsigned int a, b, c, d;
	uint64_t xstate_bv, xcomp_bv, xcr0;

	if (t->xstate_len == FXSAVE_SIZE) {
		*size = FXSAVE_SIZE;
		return 0;
	}
	memcpy(&xstate_bv, t->xstate + FXSAVE_SIZE, 8);
	memcpy(&xcomp_bv, t->xstate + FXSAVE_SIZE + 8, 8);
	if (xcomp_bv & (1ull << 63))
		return log_ret(-EINVAL, "pid %d tid %d: xstate in compacted format", pid, t->tid);
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return log_ret(-EOPNOTSUPP, "pid %d tid %d: xstate saved, no xsave here", pid,
			       t->tid);
	xcr0 = xgetbv0();
	if (xstate_bv & ~xcr0)
		return log_ret(-EOPNOTSUPP, "pid %d tid %d: FPU state components 0x%" PRIx64
			       " are not enabled on this CPU", pid, t->tid, xstate_bv & ~xcr0);
	if (xstate_bv & XFEATURE_MASK_DYNAMIC)
		return log_ret(-EOPNOTSUPP, "pid %d tid %d: AMX tile data in use", pid, t->tid);
	*size = xstate_size_for(xstate_bv);
	if (*size > t->xstate_len)
		return log_ret(-EINVAL, "pid %d tid %d: xstate of %u bytes, components 0x%" PRIx64
			       " need %u", pid, t->tid, t->xstate_len, xstate_bv, *size);
	return 0;
}

/*
 * Copy size bytes of a thread's xsave image and give it the software header
 * the kernel checks in a signal frame, and FP_XSTATE_MAGIC2 after it.
 */
static void fill_xstate(const struct thread_record *t, uint32_t size, uint8_t *out)
{
	uint32_t magic2 = XSTATE_MAGIC2;
	struct fpx_sw_bytes sw;
	uint64_t xstate_bv;

	memcpy(out, t->xstate, size);
	memset(&sw, 0, sizeof(sw));
	if (size > FXSAVE_SIZE) {
		memcpy(&xstate_bv, t->xstate + FXSAVE_SIZE, 8);
		sw.magic1 = XSTATE_MAGIC1;
		sw.extended_size = size + sizeof(magic2);
		sw.xfeatures = xstate_bv | 3;	/* x87 and SSE are always there */
		sw.xstate_size = size;
		memcpy(out + size, &magic2, sizeof(magic2));
	}
	/* fxsave only: no magic1 makes the kernel take it as such */
	memcpy(out + SW_BYTES_OFF, &sw, sizeof(sw));
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int signo_of(const uint8_t *info)
{
	int32_t signo;

	memcpy(&signo, info, sizeof(signo));
	return signo;
}

/* Pending signals worth queueing again; SIGKILL/SIGSTOP cannot be. */
static bool queueable(pid_t pid, const uint8_t *info)
{
	int signo = signo_of(info);

	if (signo < 1 || signo > TC_NSIG)
		return log_ret(false, "pid %d: pending signal %d: invalid", pid, signo);
	if (signo == SIGKILL || signo == SIGSTOP) {
		log_warn("pid %d: pending signal %d is not restored", pid, signo);
		return false;
	}
	return true;
}

static uint32_t fill_siginfo(struct stub_siginfo *out, pid_t pid, uint32_t n,
			     const uint8_t (*infos)[TC_SIGINFO_SIZE], bool shared)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!queueable(pid, infos[i]))
			continue;
		out[k].shared = shared;
		out[k].signo = (uint32_t)signo_of(infos[i]);
		memcpy(out[k].info, infos[i], TC_SIGINFO_SIZE);
		k++;
	}
	return k;
}

/*
 * The xstate of every thread, as it will go into its frame; sizes[i] 0: none.
 * Refuses what the stub could not give back exactly, naming the thread.
 */
static int check_threads(const struct process_record *p, uint32_t *sizes)
{
	_cleanup_free_ pid_t *tids = NULL;

	if (!p->nr_threads || !p->threads)
		return log_ret(-EINVAL, "pid %d: no threads", p->pid);
	if (p->nr_threads > STUB_MAX_THREADS)
		return log_ret(-EOPNOTSUPP, "pid %d: %zu threads: at most %u can be restored",
			       p->pid, p->nr_threads, STUB_MAX_THREADS);
	tids = malloc(p->nr_threads * sizeof(*tids));
	if (!tids)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr_threads; i++) {
		const struct thread_record *t = &p->threads[i];
		int r;

		if (t->tid <= 0)
			return log_ret(-EINVAL, "pid %d: thread %zu has tid %d", p->pid, i, t->tid);
		if (t->xstate_len && (!t->xstate || (t->xstate_len != FXSAVE_SIZE &&
						     t->xstate_len < FXSAVE_SIZE + XSAVE_HDR_SIZE)))
			return log_ret(-EINVAL, "pid %d tid %d: xstate of %u bytes", p->pid, t->tid,
				       t->xstate_len);
		sizes[i] = 0;
		if (t->xstate_len) {
			r = xstate_frame_size(p->pid, t, &sizes[i]);
			if (r < 0)
				return r;
		}
		tids[i] = t->tid;
	}
	qsort(tids, p->nr_threads, sizeof(*tids), cmp_tid);
	for (size_t i = 1; i < p->nr_threads; i++) {
		if (tids[i] == tids[i - 1])
			return log_ret(-EINVAL, "pid %d: two threads with tid %d", p->pid, tids[i]);
	}
	return 0;
}

static void fill_thread(const struct thread_record *t, struct stub_thread *s)
{
	struct user_regs_struct regs = t->regs;

	plan_fix_syscall_restart(&regs);
	s->tid = t->tid;
	memcpy(s->regs, &regs, sizeof(regs));
	s->sigmask = t->sigmask;
	s->altstack_sp = t->altstack_sp;
	s->altstack_size = t->altstack_size;
	s->altstack_flags = t->altstack_flags;
	s->clear_child_tid = t->clear_child_tid;
	s->robust_list = t->robust_list;
	s->robust_len = t->robust_len;
	s->rseq_addr = t->rseq_addr;
	s->rseq_len = t->rseq_len;
	s->rseq_sig = t->rseq_sig;
	memcpy(s->comm, t->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = '\0';
}

/* A hard limit we cannot raise (no CAP_SYS_RESOURCE) is kept as it is here. */
static void fill_creds(const struct process_record *p, const struct plan_fds *fds,
		       struct stub_plan *plan, uint8_t *blob, uint64_t groups_off)
{
	const struct creds_record *c = &p->creds;
	struct stub_creds *sc = &plan->creds;

	if (!c->valid) {
		uid_t u[3];
		gid_t g[3];

		/*
		 * An image from before credentials were kept: who we are, without
		 * the capabilities the stub started with (not uid 0: it had none
		 * to lose, and root's programs keep theirs as before).
		 */
		if (getuid() == 0 || getresuid(&u[0], &u[1], &u[2]) < 0 ||
		    getresgid(&g[0], &g[1], &g[2]) < 0)
			return;
		sc->valid = 1;
		for (int i = 0; i < 3; i++) {
			sc->uid[i] = u[i];
			sc->gid[i] = g[i];
		}
		sc->uid[3] = u[1];
		sc->gid[3] = g[1];
		sc->cap_bnd = ~0ull;
		sc->dumpable = 1;
		return;
	}
	sc->valid = 1;
	/* Where setgroups is denied, the restore checked ours are the image's. */
	sc->set_groups = fds->can_setgroups;
	memcpy(sc->uid, c->uid, sizeof(sc->uid));
	memcpy(sc->gid, c->gid, sizeof(sc->gid));
	sc->nr_groups = c->groups_len / sizeof(uint32_t);
	sc->groups_off = groups_off;
	if (c->groups_len)
		memcpy(blob + groups_off, c->groups, c->groups_len);
	sc->securebits = c->securebits;
	sc->cap_inh = c->cap_inh;
	sc->cap_prm = c->cap_prm;
	sc->cap_eff = c->cap_eff;
	sc->cap_bnd = c->cap_bnd;
	sc->cap_amb = c->cap_amb;
	sc->personality = p->personality;
	sc->set_personality = 1;
	sc->dumpable = c->dumpable;
}

static void fill_rlimits(const struct process_record *p, struct stub_plan *plan)
{
	for (int i = 0; i < TC_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
		struct rlimit now;

		plan->rlimits[i].cur = p->rlimits[i].cur;
		plan->rlimits[i].max = p->rlimits[i].max;
		if (getrlimit(i, &now) == 0 && p->rlimits[i].max > now.rlim_max) {
			log_warn("pid %d: rlimit %d: hard limit %" PRIu64 " lowered to %llu:"
				 " cannot raise it", p->pid, i, p->rlimits[i].max,
				 (unsigned long long)now.rlim_max);
			plan->rlimits[i].max = now.rlim_max;
			plan->rlimits[i].cur = MIN(plan->rlimits[i].cur, (uint64_t)now.rlim_max);
		}
		plan->nr_rlimits = i + 1;
	}
}

static void add_fd(int32_t *list, uint32_t *n, int fd)
{
	if (fd < 0)
		return;
	for (uint32_t i = 0; i < *n; i++) {
		if (list[i] == fd)
			return;
	}
	list[(*n)++] = fd;
}

/* The stub must not close an fd of the program's own. */
static int check_close_list(const struct process_record *p, const int32_t *list, uint32_t n,
			    int status_fd)
{
	for (uint32_t i = 0; i < n; i++) {
		if (list[i] == status_fd)
			return log_ret(-EINVAL, "pid %d: fd %d is the status fd", p->pid, list[i]);
		for (size_t k = 0; k < p->nr_fds; k++) {
			if (p->fds[k].fd == list[i])
				return log_ret(-EINVAL, "pid %d: fd %d is both the program's and"
					       " the stub's", p->pid, list[i]);
		}
	}
	return 0;
}

/* Where each part of the blob goes (plan_build's first phase). */
struct plan_layout {
	uint64_t size;
	uint64_t close, cloexec, vmas, runs, auxv, siginfo, threads, timers, groups;
	uint32_t *xstate_sizes;	/* per thread; 0: no xstate */
	uint64_t *xstate, *tsig;	/* per thread */
};

static void plan_layout_free(struct plan_layout *l)
{
	free(l->xstate_sizes);
	free(l->xstate);
	free(l->tsig);
}

/* Check what the stub cannot, and lay the blob out. */
static int lay_out(const struct process_record *p, const struct plan_fds *fds,
		   struct plan_layout *pl)
{
	struct layout l = { 0 };
	uint32_t nr_close_max = 3 + p->nr_vmas + fds->nr_close + p->nr_base_files;
	uint32_t nr_cloexec_max = fds->cloexec_fds ? fds->nr_cloexec : p->nr_fds;
	int r;

	pl->xstate_sizes = calloc(MAX(p->nr_threads, 1), sizeof(*pl->xstate_sizes));
	pl->xstate = calloc(MAX(p->nr_threads, 1), sizeof(*pl->xstate));
	pl->tsig = calloc(MAX(p->nr_threads, 1), sizeof(*pl->tsig));
	if (!pl->xstate_sizes || !pl->xstate || !pl->tsig)
		return -ENOMEM;
	r = check_threads(p, pl->xstate_sizes);
	if (r < 0)
		return r;
	if (p->mm.auxv_len % 16)
		return log_ret(-EINVAL, "pid %d: auxv of %u bytes", p->pid, p->mm.auxv_len);
	r = check_mm(p);
	if (r < 0)
		return r;
	r = check_vmas(p, fds);
	if (r < 0)
		return r;
	if (p->nr_base_files > STUB_MAX_FILES - 1)
		return log_ret(-E2BIG, "pid %d: pages from %zu earlier generations (at most %d)",
			       p->pid, p->nr_base_files, STUB_MAX_FILES - 1);

	reserve(&l, sizeof(struct stub_plan), 64);
	pl->close = reserve(&l, nr_close_max * sizeof(int32_t), 8);
	pl->cloexec = reserve(&l, nr_cloexec_max * sizeof(int32_t), 8);
	pl->vmas = reserve(&l, p->nr_vmas * sizeof(struct stub_vma), 8);
	pl->runs = reserve(&l, (p->nr_runs + p->nr_base_runs) * sizeof(struct stub_run), 8);
	pl->auxv = reserve(&l, p->mm.auxv_len, 16);
	pl->siginfo = reserve(&l, p->nr_shared_pending * sizeof(struct stub_siginfo), 8);
	pl->threads = reserve(&l, p->nr_threads * sizeof(struct stub_thread), 64);
	pl->timers = reserve(&l, p->posix_timers_len / sizeof(struct posix_timer_record) *
				      sizeof(struct stub_timer), 8);
	pl->groups = reserve(&l, p->creds.groups_len, 8);
	for (size_t i = 0; i < p->nr_threads; i++) {
		pl->tsig[i] = reserve(&l, p->threads[i].nr_pending * sizeof(struct stub_siginfo), 8);
		if (pl->xstate_sizes[i])
			pl->xstate[i] = reserve(&l, pl->xstate_sizes[i] + sizeof(uint32_t), 64);
	}
	pl->size = l.size;
	return 0;
}

/* What the stub closes before it reports, and what it makes close-on-exec. */
static int fill_fd_lists(const struct process_record *p, const struct plan_fds *fds, int memfd,
			 const struct plan_layout *pl, uint8_t *blob)
{
	struct stub_plan *plan = (struct stub_plan *)blob;
	int32_t *close_list = (int32_t *)(blob + pl->close);
	int32_t *cloexec_list = (int32_t *)(blob + pl->cloexec);

	add_fd(close_list, &plan->nr_close, fds->image_fd);
	add_fd(close_list, &plan->nr_close, memfd);
	add_fd(close_list, &plan->nr_close, fds->exe_fd);
	for (size_t i = 0; fds->vma_fds && i < p->nr_vmas; i++)
		add_fd(close_list, &plan->nr_close, fds->vma_fds[i]);
	for (size_t i = 0; i < fds->nr_close; i++)
		add_fd(close_list, &plan->nr_close, fds->close_fds[i]);
	for (size_t i = 0; i < p->nr_base_files; i++) {
		plan->base_fds[i] = fds->base_fds[i];
		add_fd(close_list, &plan->nr_close, fds->base_fds[i]);
	}
	plan->nr_base_fds = p->nr_base_files;
	plan->close_off = pl->close;

	if (fds->cloexec_fds) {
		for (size_t i = 0; i < fds->nr_cloexec; i++)
			add_fd(cloexec_list, &plan->nr_cloexec, fds->cloexec_fds[i]);
	} else {
		for (size_t i = 0; i < p->nr_fds; i++) {
			if (p->fds[i].cloexec && !p->fds[i].in_flight &&
			    !procfd_deferred(&p->fds[i]))
				add_fd(cloexec_list, &plan->nr_cloexec, p->fds[i].fd);
		}
	}
	plan->cloexec_off = pl->cloexec;
	return check_close_list(p, close_list, plan->nr_close, fds->status_fd);
}

/* The mappings, their pages, this kernel's special mappings and where they go. */
static int fill_memory(const struct process_record *p, const struct plan_fds *fds,
		       const struct plan_layout *pl, uint8_t *blob)
{
	struct stub_plan *plan = (struct stub_plan *)blob;
	const struct stub_vma *vmas = (const struct stub_vma *)(blob + pl->vmas);
	uint32_t nr_vmas;
	int r;

	r = fill_vmas(p, fds, (struct stub_vma *)(blob + pl->vmas), &nr_vmas);
	if (r < 0)
		return r;
	plan->nr_vmas = nr_vmas;
	plan->vmas_off = pl->vmas;
	r = fill_runs(p, vmas, nr_vmas, (struct stub_run *)(blob + pl->runs));
	if (r < 0)
		return r;
	plan->nr_runs = p->nr_runs + p->nr_base_runs;
	plan->runs_off = pl->runs;

	r = plan_read_specials(plan->special);
	if (r < 0)
		return r;
	r = plan_match_specials(p, plan->special);
	if (r < 0)
		return r;
	for (int k = 0; k < STUB_NR_SPECIAL; k++) {
		for (uint32_t i = 0; plan->special[k].target && i < nr_vmas; i++) {
			if (plan->special[k].target < vmas[i].end &&
			    vmas[i].start < plan->special[k].target + plan->special[k].len)
				return log_ret(-EINVAL, "pid %d: mapping 0x%" PRIx64 " overlaps %s",
					       p->pid, vmas[i].start, special_names[k]);
		}
	}
	return 0;
}

/* The mm fields, with auxv, for PR_SET_MM_MAP. */
static void fill_mm(const struct process_record *p, const struct plan_fds *fds,
		    const struct plan_layout *pl, uint8_t *blob)
{
	struct stub_plan *plan = (struct stub_plan *)blob;

	plan->mm.start_code = p->mm.start_code;
	plan->mm.end_code = p->mm.end_code;
	plan->mm.start_data = p->mm.start_data;
	plan->mm.end_data = p->mm.end_data;
	plan->mm.start_brk = p->mm.start_brk;
	plan->mm.brk = p->mm.brk;
	plan->mm.start_stack = p->mm.start_stack;
	plan->mm.arg_start = p->mm.arg_start;
	plan->mm.arg_end = p->mm.arg_end;
	plan->mm.env_start = p->mm.env_start;
	plan->mm.env_end = p->mm.env_end;
	plan->mm.auxv_off = pl->auxv;
	plan->mm.auxv_size = p->mm.auxv_len;
	if (p->mm.auxv_len)
		memcpy(blob + pl->auxv, p->mm.auxv, p->mm.auxv_len);
	plan->mm.exe_fd = fds->exe_fd;
}

/* Signal handlers, itimers, rlimits, umask, comm, process-wide signals, POSIX timers. */
static void fill_process_state(const struct process_record *p, const struct plan_layout *pl,
			       uint8_t *blob)
{
	struct stub_plan *plan = (struct stub_plan *)blob;
	const struct posix_timer_record *pt = (const void *)p->posix_timers;
	struct stub_timer *stt = (struct stub_timer *)(blob + pl->timers);

	for (int i = 0; i < TC_NSIG; i++) {
		plan->sigactions[i].handler = p->sigactions[i].handler;
		plan->sigactions[i].flags = p->sigactions[i].flags;
		plan->sigactions[i].restorer = p->sigactions[i].restorer;
		plan->sigactions[i].mask = p->sigactions[i].mask;
	}
	for (int i = 0; i < 3; i++) {
		plan->itimers[i].interval_sec = p->itimers[i].interval_us / 1000000;
		plan->itimers[i].interval_usec = p->itimers[i].interval_us % 1000000;
		plan->itimers[i].value_sec = p->itimers[i].value_us / 1000000;
		plan->itimers[i].value_usec = p->itimers[i].value_us % 1000000;
	}
	fill_rlimits(p, plan);
	plan->umask = p->umask;
	memcpy(plan->comm, p->comm, sizeof(plan->comm));
	plan->comm[sizeof(plan->comm) - 1] = '\0';

	plan->nr_siginfo = fill_siginfo((struct stub_siginfo *)(blob + pl->siginfo), p->pid,
					p->nr_shared_pending, p->shared_pending, true);
	plan->siginfo_off = pl->siginfo;
	plan->nr_timers = p->posix_timers_len / sizeof(*pt);
	plan->timers_off = pl->timers;
	for (uint32_t i = 0; i < plan->nr_timers; i++)
		stt[i] = (struct stub_timer){
			.id = pt[i].id, .clock = pt[i].clock, .signo = pt[i].signo,
			.notify = pt[i].notify, .notify_tid = pt[i].notify_tid,
			.sigval = pt[i].sigval,
			.interval_sec = pt[i].interval_ns / 1000000000,
			.interval_nsec = pt[i].interval_ns % 1000000000,
			.value_sec = pt[i].value_ns / 1000000000,
			.value_nsec = pt[i].value_ns % 1000000000,
		};
}

/* Every thread: registers, signals pending on it, its xstate. */
static void fill_threads(const struct process_record *p, const struct plan_layout *pl,
			 uint8_t *blob)
{
	struct stub_plan *plan = (struct stub_plan *)blob;
	struct stub_thread *st = (struct stub_thread *)(blob + pl->threads);

	for (size_t i = 0; i < p->nr_threads; i++) {
		const struct thread_record *t = &p->threads[i];

		fill_thread(t, &st[i]);
		st[i].nr_siginfo = fill_siginfo((struct stub_siginfo *)(blob + pl->tsig[i]),
						p->pid, t->nr_pending, t->pending, false);
		st[i].siginfo_off = pl->tsig[i];
		if (pl->xstate_sizes[i]) {
			fill_xstate(t, pl->xstate_sizes[i], blob + pl->xstate[i]);
			st[i].xstate_off = pl->xstate[i];
			st[i].xstate_len = pl->xstate_sizes[i];
		}
	}
	plan->nr_threads = (uint32_t)p->nr_threads;
	plan->threads_off = pl->threads;
}

int plan_build(const struct process_record *p, const struct plan_fds *fds, int *memfd_out)
{
	_cleanup_close_ int memfd = -1;
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_(plan_layout_free) struct plan_layout pl = { 0 };
	struct stub_plan *plan;
	int r;

	r = lay_out(p, fds, &pl);
	if (r < 0)
		return r;
	memfd = memfd_create("trace-ckpt-plan", 0);
	if (memfd < 0)
		return log_ret(neg_errno(), "pid %d: memfd_create: %m", p->pid);
	blob = calloc(1, pl.size);
	if (!blob)
		return -ENOMEM;
	plan = (struct stub_plan *)blob;
	plan->magic = STUB_PLAN_MAGIC;
	plan->size = pl.size;
	plan->image_fd = fds->image_fd;
	plan->status_fd = fds->status_fd;
	plan->plan_fd = memfd;

	r = fill_fd_lists(p, fds, memfd, &pl, blob);
	if (r == 0)
		r = fill_memory(p, fds, &pl, blob);
	if (r < 0)
		return r;
	fill_mm(p, fds, &pl, blob);
	fill_process_state(p, &pl, blob);
	fill_threads(p, &pl, blob);
	fill_creds(p, fds, plan, blob, pl.groups);

	r = write_full(memfd, blob, pl.size);
	if (r < 0)
		return log_ret(r, "pid %d: writing the plan: %s", p->pid, strerror(-r));
	*memfd_out = TAKE_FD(memfd);
	return 0;
}
