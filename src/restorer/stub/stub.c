/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * trace-ckpt-stub PLAN_FD: turns the process it runs in into the saved one.
 *
 * The restore driver has set up the fds, cwd and credentials and opened every
 * file the plan names; this program, freestanding and position independent,
 * then
 *   1. moves itself (image, a copy of the plan, a stack) into a hole of the
 *      saved address space,
 *   2. unmaps everything else of its own and moves [vvar], [vvar_vclock] and
 *      [vdso] to their saved addresses,
 *   3. recreates the saved mappings and reads the dumped pages into them,
 *   4. sets the mm fields and /proc/PID/exe, signal handlers, timers,
 *      limits, the per-thread kernel state, queues the pending signals,
 *   5. re-creates the other threads with their saved tids (clone3 set_tid),
 *      each on a small stack of the stub's area; each sets its own kernel
 *      state and queues its own pending signals,
 *   6. every thread builds an rt_sigframe holding its saved registers on its
 *      own stack and parks in pause(); once all are parked the leader
 *      reports where the frames are on the status fd and parks too.
 * The supervisor then unmaps the stub's area and makes every thread run
 * rt_sigreturn (src/restorer/release.c), so no byte of the stub remains.
 *
 * Rules of this file: no libc, no writable globals, no relocations (the
 * image is copied to an address the linker never saw), no TLS (fs_base is
 * the program's as soon as it is set).
 */
#pragma GCC visibility push(hidden)

#include <elf.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "sys.h"
#include "uffd_new.h"
#include "vdso_scan.h"

#define HOLE_LOW	0x10000ul		/* leave low memory alone */
#define TASK_TOP	0x7ffffffff000ul	/* 47-bit user address space */
#define GROWSDOWN_GAP	(1ul << 20)		/* keep clear below a stack */
#define HOLE_TRIES	100000

#define ALIGN_UP(x, a)	(((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define PAGE_UP(x)	ALIGN_UP((uint64_t)(x), PAGE_SIZE)
#define SIGKILL		9
#define SIGSTOP		19
#define SS_AUTODISARM	(1u << 31)
#define AT_SYSINFO_EHDR	33

#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4

extern const Elf64_Ehdr __ehdr_start;

/* The x86_64 signal frame, as arch/x86 lays it out (uapi asm/sigcontext.h). */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

struct k_ucontext {
	uint64_t flags;
	uint64_t link;
	struct k_stack stack;
	struct k_sigcontext mcontext;
	uint64_t sigmask;
};

struct k_rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	uint8_t info[128];
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext layout");
_Static_assert(sizeof(struct k_ucontext) == 304, "ucontext layout");
_Static_assert(sizeof(struct k_rt_sigframe) == 440, "rt_sigframe layout");

struct k_prctl_mm_map {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

_Static_assert(sizeof(struct k_prctl_mm_map) == 104, "prctl_mm_map layout");

/* Everything stage two needs; it lives on the new stack. */
struct ctx {
	const struct stub_plan *plan;	/* the copy inside the area */
	uint64_t area, area_len;
	uint64_t park;			/* parking room for the special mappings */
	uint64_t vdso;			/* where the kernel put our [vdso] */
	uint64_t stacks;		/* nr_threads - 1 stacks of the other threads */
	struct stub_thread_status *report;	/* [nr_threads], in the area */
	uint32_t nr_parked;		/* other threads with their frame built; futex */
	int status_fd;
};

/* What a new thread starts with, at the top of its stack. */
struct thread_start {
	struct ctx *c;
	uint32_t idx;			/* in the plan's threads */
};

#define THREAD_START_ROOM 64ul
_Static_assert(sizeof(struct thread_start) <= THREAD_START_ROOM, "thread_start");

/* A saved tid may still belong to a thread the kernel is releasing. */
#define TID_BUSY_TRIES	200
#define TID_BUSY_WAIT_NS 10000000l

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n >= 8) {
		*(uint64_t *)(void *)d = *(const uint64_t *)(const void *)s;
		d += 8;
		s += 8;
		n -= 8;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

/*
 * One message (smaller than PIPE_BUF: written at once even when two threads
 * fail together), then the whole process goes.
 */
static __attribute__((noreturn)) void report_fail_tid(int status_fd, uint32_t stage, long err,
						      uint64_t addr, int32_t tid)
{
	struct stub_status st;

	memset(&st, 0, sizeof(st));
	st.stage = stage;
	st.err = (int32_t)err;
	st.addr = addr;
	st.failed_tid = tid;
	if (status_fd >= 0)
		sys3(__NR_write, status_fd, &st, sizeof(st));
	sys_exit_group(127);
}

static __attribute__((noreturn)) void report_fail(int status_fd, uint32_t stage, long err,
						  uint64_t addr)
{
	report_fail_tid(status_fd, stage, err, addr, 0);
}

static __attribute__((noreturn)) void thread_fail(struct ctx *c, const struct stub_thread *t,
						  long err, uint64_t addr)
{
	report_fail_tid(c->status_fd, STUB_ERR_THREAD, err, addr, t->tid);
}

static const void *plan_at(const struct stub_plan *p, uint64_t off)
{
	return (const uint8_t *)p + off;
}

#define PLAN_ARRAY(p, off, type) ((const type *)plan_at(p, off))

static int array_ok(const struct stub_plan *p, uint64_t off, uint64_t n, uint64_t size)
{
	if (n == 0)
		return 1;
	if (off % 8 || off > p->size || n > (p->size - off) / size)
		return 0;
	return 1;
}

static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * The restorer checked all of this already; the stub checks again what would
 * otherwise make it destroy itself or touch memory outside the plan.
 * Returns 0, or -EINVAL and the offending address (or plan offset) in *bad.
 */
static long check_plan(const struct stub_plan *p, uint64_t *bad)
{
	const struct stub_vma *v = PLAN_ARRAY(p, p->vmas_off, struct stub_vma);
	const struct stub_run *r = PLAN_ARRAY(p, p->runs_off, struct stub_run);
	const struct stub_thread *t;
	uint32_t i, j, nr_targets = 0, nr_specials = 0;

	*bad = 0;
	if (!array_ok(p, p->creds.groups_off, p->creds.nr_groups, sizeof(uint32_t)) ||
	    !array_ok(p, p->close_off, p->nr_close, sizeof(int32_t)) ||
	    !array_ok(p, p->cloexec_off, p->nr_cloexec, sizeof(int32_t)) ||
	    !array_ok(p, p->vmas_off, p->nr_vmas, sizeof(struct stub_vma)) ||
	    !array_ok(p, p->runs_off, p->nr_runs, sizeof(struct stub_run)) ||
	    !array_ok(p, p->siginfo_off, p->nr_siginfo, sizeof(struct stub_siginfo)) ||
	    !array_ok(p, p->threads_off, p->nr_threads, sizeof(struct stub_thread)) ||
	    !array_ok(p, p->timers_off, p->nr_timers, sizeof(struct stub_timer)) ||
	    !array_ok(p, p->mm.auxv_off, p->mm.auxv_size, 1) || p->nr_rlimits > 16)
		return -EINVAL;

	for (i = 0; i < p->nr_vmas; i++) {
		*bad = v[i].start;
		if (v[i].start % PAGE_SIZE || v[i].end % PAGE_SIZE || v[i].start >= v[i].end ||
		    v[i].start < PAGE_SIZE || v[i].end > TASK_TOP)
			return -EINVAL;
		if (i && v[i].start < v[i - 1].end)
			return -EINVAL;
		if (!(v[i].flags & (STUB_VMA_ANON | STUB_VMA_SYSV)) && v[i].fd < 0)
			return -EINVAL;
		if ((v[i].flags & STUB_VMA_SYSV) && (v[i].shmid < 0 || !(v[i].flags & STUB_VMA_SHARED)))
			return -EINVAL;
		/* A userfaultfd serves private anonymous memory only. */
		if ((v[i].flags & STUB_VMA_LAZY) &&
		    (v[i].flags & (STUB_VMA_SHARED | STUB_VMA_SYSV) || !(v[i].flags & STUB_VMA_ANON)))
			return -EINVAL;
	}
	/* Runs are sorted and each lies inside one mapping. */
	for (i = 0, j = 0; i < p->nr_runs; i++) {
		*bad = r[i].vaddr;
		if (r[i].len == 0 || r[i].vaddr + r[i].len < r[i].vaddr)
			return -EINVAL;
		if (i && r[i].vaddr < r[i - 1].vaddr + r[i - 1].len)
			return -EINVAL;
		if (r[i].file > p->nr_base_fds || p->nr_base_fds > STUB_MAX_FILES - 1)
			return -EINVAL;
		while (j < p->nr_vmas && v[j].end <= r[i].vaddr)
			j++;
		if (j == p->nr_vmas || r[i].vaddr < v[j].start || r[i].vaddr + r[i].len > v[j].end)
			return -EINVAL;
	}
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		const struct stub_special *s = &p->special[i];

		*bad = s->target;
		if (!s->len)
			continue;
		nr_specials++;
		if (s->len % PAGE_SIZE || s->cur_off % (int64_t)PAGE_SIZE)
			return -EINVAL;
		if (!s->target)
			continue;
		nr_targets++;
		if (s->target % PAGE_SIZE || s->target < PAGE_SIZE || s->target > TASK_TOP - s->len)
			return -EINVAL;
		for (j = 0; j < p->nr_vmas; j++) {
			if (ranges_overlap(s->target, s->len, v[j].start, v[j].end - v[j].start))
				return -EINVAL;
		}
	}
	/* All special mappings move, or none is kept. */
	*bad = 0;
	if (nr_targets && nr_targets != nr_specials)
		return -EINVAL;
	*bad = p->nr_threads;
	if (!p->nr_threads)
		return -EINVAL;
	if (p->nr_threads > STUB_MAX_THREADS)
		return -EOPNOTSUPP;
	t = PLAN_ARRAY(p, p->threads_off, struct stub_thread);
	for (i = 0; i < p->nr_threads; i++) {
		*bad = p->threads_off + i * sizeof(*t);
		if (t[i].tid <= 0)
			return -EINVAL;
		if (t[i].xstate_off && (t[i].xstate_off % 64 || t[i].xstate_len < 512 ||
					!array_ok(p, t[i].xstate_off, t[i].xstate_len + 4ull, 1)))
			return -EINVAL;
		if (!array_ok(p, t[i].siginfo_off, t[i].nr_siginfo, sizeof(struct stub_siginfo)))
			return -EINVAL;
	}
	return 0;
}

static void special_span(const struct stub_plan *p, int64_t *lo, uint64_t *len)
{
	int64_t min = 0, max = 0;
	int i, any = 0;

	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		const struct stub_special *s = &p->special[i];

		if (!s->len)
			continue;
		if (!any || s->cur_off < min)
			min = s->cur_off;
		if (!any || s->cur_off + (int64_t)s->len > max)
			max = s->cur_off + (int64_t)s->len;
		any = 1;
	}
	*lo = min;
	*len = (uint64_t)(max - min);
}

/* End of the special target that [a, a + len) runs into, or 0. */
static uint64_t special_clash(const struct stub_plan *p, uint64_t a, uint64_t len)
{
	int i;

	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		const struct stub_special *s = &p->special[i];

		if (s->len && s->target && ranges_overlap(a, len, s->target, s->len))
			return s->target + s->len;
	}
	return 0;
}

/*
 * Map len bytes, read-write-execute, in a gap of the saved address space.
 * Our own mappings may sit in such a gap (MAP_FIXED_NOREPLACE says EEXIST):
 * slide on by the length, they are few and small.
 */
static long map_hole(const struct stub_plan *p, uint64_t len, uint64_t *out)
{
	const struct stub_vma *v = PLAN_ARRAY(p, p->vmas_off, struct stub_vma);
	uint64_t lo = HOLE_LOW, hi, c, clash;
	uint32_t i;
	int tries = 0;
	long ret;

	for (i = 0; i <= p->nr_vmas; i++) {
		hi = i < p->nr_vmas ? v[i].start : TASK_TOP;
		if (i < p->nr_vmas && (v[i].flags & STUB_VMA_GROWSDOWN))
			hi = hi > GROWSDOWN_GAP ? hi - GROWSDOWN_GAP : 0;
		c = lo;
		while (hi > c && hi - c >= len && tries < HOLE_TRIES) {
			clash = special_clash(p, c, len);
			if (clash) {
				c = clash;
				continue;
			}
			ret = sys_mmap(c, len, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (!is_err(ret) && (uint64_t)ret == c) {
				*out = c;
				return 0;
			}
			if (!is_err(ret)) {
				/* A kernel without MAP_FIXED_NOREPLACE put it elsewhere. */
				sys2(__NR_munmap, ret, len);
				return -EOPNOTSUPP;
			}
			if (ret != -EEXIST)
				return ret;
			tries++;
			c += len;
		}
		if (i < p->nr_vmas && v[i].end > lo)
			lo = v[i].end;
	}
	return -ENOSPC;
}

/* The extent of our own image, from its program headers; the first PT_LOAD
 * holds the ELF header at offset 0. */
static uint64_t image_len(void)
{
	const Elf64_Ehdr *eh = &__ehdr_start;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const uint8_t *)eh + eh->e_phoff);
	uint64_t end = 0;
	int i;

	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end)
			end = ph[i].p_vaddr + ph[i].p_memsz;
	}
	return PAGE_UP(end);
}

static void copy_image(uint64_t to)
{
	const Elf64_Ehdr *eh = &__ehdr_start;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const uint8_t *)eh + eh->e_phoff);
	const uint8_t *base = (const uint8_t *)eh;
	int i;

	/* Segment by segment: there may be unmapped pages between them. */
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD)
			memcpy((void *)(to + ph[i].p_vaddr), base + ph[i].p_vaddr, ph[i].p_memsz);
	}
}

/* Unmap everything but keep[0..n): our area and the special mappings. */
static long unmap_others(uint64_t keep[][2], int n)
{
	uint64_t at = 0, tmp0, tmp1;
	int i, j;
	long ret;

	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && keep[j][0] < keep[j - 1][0]; j--) {
			tmp0 = keep[j][0];
			tmp1 = keep[j][1];
			keep[j][0] = keep[j - 1][0];
			keep[j][1] = keep[j - 1][1];
			keep[j - 1][0] = tmp0;
			keep[j - 1][1] = tmp1;
		}
	}
	for (i = 0; i <= n; i++) {
		uint64_t end = i < n ? keep[i][0] : TASK_TOP;

		if (end > at) {
			ret = sys2(__NR_munmap, at, end - at);
			if (is_err(ret))
				return ret;
		}
		if (i < n && keep[i][1] > at)
			at = keep[i][1];
	}
	return 0;
}

static void move_specials(struct ctx *c, uint64_t *syscall_insn)
{
	const struct stub_plan *p = c->plan;
	int64_t lo;
	uint64_t span;
	long ret, off;
	int i;

	*syscall_insn = 0;
	special_span(p, &lo, &span);
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		const struct stub_special *s = &p->special[i];
		uint64_t cur = c->vdso + (uint64_t)s->cur_off;

		if (!s->len)
			continue;
		if (!s->target)
			ret = sys2(__NR_munmap, cur, s->len);
		else
			ret = sys6(__NR_mremap, (long)cur, (long)s->len, (long)s->len,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   (long)(c->park + (uint64_t)(s->cur_off - lo)), 0);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_SPECIAL, ret, cur);
	}
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		const struct stub_special *s = &p->special[i];

		if (!s->len || !s->target)
			continue;
		ret = sys6(__NR_mremap, (long)(c->park + (uint64_t)(s->cur_off - lo)),
			   (long)s->len, (long)s->len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (long)s->target, 0);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_SPECIAL, ret, s->target);
	}

	if (p->special[STUB_SPECIAL_VDSO].len && p->special[STUB_SPECIAL_VDSO].target) {
		const struct stub_special *s = &p->special[STUB_SPECIAL_VDSO];

		off = vdso_find_syscall((const uint8_t *)s->target, s->len);
		if (off >= 0)
			*syscall_insn = s->target + (uint64_t)off;
	}
}

static long read_full_at(int fd, uint64_t addr, uint64_t len, uint64_t off)
{
	long n;

	while (len) {
		n = sys4(__NR_pread64, fd, addr, len > (1ul << 30) ? (1ul << 30) : len, off);
		if (n == -4 /* EINTR */)
			continue;
		if (is_err(n))
			return n;
		if (n == 0)
			return -EIO;
		addr += (uint64_t)n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The madvise calls of m among bits, in this order; a failure is reported. */
static void redo_madvise(struct ctx *c, const struct stub_vma *v, uint32_t bits)
{
	static const struct {
		uint32_t bit;
		int advice;
	} order[] = {
		{ STUB_MADV_HUGEPAGE, 14 /* MADV_HUGEPAGE */ },
		{ STUB_MADV_NOHUGEPAGE, 15 /* MADV_NOHUGEPAGE */ },
		{ STUB_MADV_DONTFORK, 10 /* MADV_DONTFORK */ },
		{ STUB_MADV_WIPEONFORK, 18 /* MADV_WIPEONFORK */ },
		{ STUB_MADV_DONTDUMP, 16 /* MADV_DONTDUMP */ },
		{ STUB_MADV_MERGEABLE, 12 /* MADV_MERGEABLE */ },
	};
	uint32_t i;
	long ret;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(v->madv & bits & order[i].bit))
			continue;
		ret = sys3(__NR_madvise, v->start, v->end - v->start, order[i].advice);
		/* Huge pages and KSM are hints a kernel built without them refuses. */
		if (ret == -EINVAL && (order[i].bit & (STUB_MADV_HUGEPAGE | STUB_MADV_NOHUGEPAGE |
						       STUB_MADV_MERGEABLE)))
			continue;
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_MADVISE, ret, v->start);
	}
}

/*
 * Pages for anonymous private memory go in by UFFDIO_COPY from the image
 * mapped read-only: the kernel fills each new page straight from the page
 * cache, where a read() into fresh memory first zeroes every page it faults
 * in (half the time of a big restore).  Not for memory the program wanted
 * in huge pages (the copy makes small ones), nor where userfaultfd or the
 * image mapping are refused: there read() it is.
 */
struct loader {
	long uffd;		/* -1: read() only */
	int32_t fd[STUB_MAX_FILES];		/* the core, then earlier generations' */
	uint64_t image[STUB_MAX_FILES];		/* each file mapped read-only, 0: not */
	uint64_t image_len[STUB_MAX_FILES];
};

static void loader_open(struct loader *l, const struct stub_plan *p)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint32_t i;
	long ret;

	l->uffd = -1;
	l->fd[0] = p->image_fd;
	for (i = 1; i < STUB_MAX_FILES; i++)
		l->fd[i] = i <= p->nr_base_fds ? p->base_fds[i - 1] : -1;
	for (i = 0; i < STUB_MAX_FILES; i++)
		l->image[i] = 0;
	/* User-mode faults only: all it needs for copying, and allowed unprivileged. */
	ret = sys1(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (is_err(ret))
		return;
	if (is_err(sys3(__NR_ioctl, ret, (long)UFFDIO_API, (long)&api))) {
		sys1(__NR_close, ret);
		return;
	}
	l->uffd = ret;
	/* Placed by the kernel now that every mapping of the program exists: it meets none. */
	for (i = 0; i < STUB_MAX_FILES; i++) {
		if (!l->image_len[i] || l->fd[i] < 0)
			continue;
		ret = sys_mmap(0, l->image_len[i], PROT_READ, MAP_PRIVATE, l->fd[i], 0);
		if (!is_err(ret))
			l->image[i] = (uint64_t)ret;
	}
}

static void loader_close(struct loader *l)
{
	uint32_t i;

	for (i = 0; i < STUB_MAX_FILES; i++)
		if (l->image[i])
			sys2(__NR_munmap, l->image[i], l->image_len[i]);
	if (l->uffd >= 0)
		sys1(__NR_close, l->uffd);
}

/* Copy a run by userfaultfd; returns the bytes done (the rest is read()). */
static uint64_t copy_run(const struct loader *l, const struct stub_run *r)
{
	uint64_t done = 0;

	if (!l->image[r->file] || r->file_off + r->len > l->image_len[r->file])
		return 0;
	while (done < r->len) {
		struct uffdio_copy cp = {
			.dst = r->vaddr + done, .src = l->image[r->file] + r->file_off + done,
			.len = r->len - done, .mode = 0,
		};
		long ret = sys3(__NR_ioctl, l->uffd, (long)UFFDIO_COPY, (long)&cp);

		if (cp.copy > 0)
			done += (uint64_t)cp.copy;
		if (is_err(ret) && (ret != -EAGAIN || cp.copy <= 0))
			break;
	}
	return done;
}

/* The runs [first, end) of a mapping, into memory. */
static void load_runs(struct ctx *c, const struct loader *l, const struct stub_vma *v,
		      const struct stub_run *r, uint32_t first, uint32_t end)
{
	struct uffdio_range range = { .start = v->start, .len = v->end - v->start };
	struct uffdio_register reg = { .range = range, .mode = UFFDIO_REGISTER_MODE_MISSING };
	int by_copy = l->uffd >= 0 && (v->flags & STUB_VMA_ANON) && !(v->flags & STUB_VMA_SHARED) &&
		      !(v->madv & STUB_MADV_HUGEPAGE) && !(v->flags & STUB_VMA_HUGETLB);
	uint32_t k;
	long ret;

	if (v->flags & STUB_VMA_LAZY)
		return;		/* served on first touch (lazy_register) */
	if (by_copy && is_err(sys3(__NR_ioctl, l->uffd, (long)UFFDIO_REGISTER, (long)&reg)))
		by_copy = 0;
	for (k = first; k < end; k++) {
		uint64_t done = by_copy ? copy_run(l, &r[k]) : 0;

		if (done == r[k].len)
			continue;
		/* Registered, a fault in read() would not be served: unregistered first. */
		if (by_copy) {
			sys3(__NR_ioctl, l->uffd, (long)UFFDIO_UNREGISTER, (long)&range);
			by_copy = 0;
		}
		ret = read_full_at(l->fd[r[k].file], r[k].vaddr + done, r[k].len - done,
				   r[k].file_off + done);
		if (ret)
			report_fail(c->status_fd, STUB_ERR_READ, ret, r[k].vaddr);
	}
	if (by_copy)
		sys3(__NR_ioctl, l->uffd, (long)UFFDIO_UNREGISTER, (long)&range);
}

/*
 * A SysV segment there is no fd on (restored without root, where no
 * map_files turns a mapping into one): attach it whole by its id, move the
 * part this VMA shows into its place, drop the rest.  The place is taken
 * first so that, as for every other mapping, nothing there is replaced.
 */
static long map_sysv(const struct stub_vma *v, int prot)
{
	uint64_t len = v->end - v->start;
	uint64_t size = (v->shm_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	int shmflg = ((prot & PROT_WRITE) ? 0 : SHM_RDONLY) | ((prot & PROT_EXEC) ? SHM_EXEC : 0);
	int given = PROT_READ | (prot & (PROT_WRITE | PROT_EXEC));
	long base, ret;

	if (v->pgoff > size || len > size - v->pgoff)
		return -EINVAL;
	ret = sys_mmap(v->start, len, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (is_err(ret) || (uint64_t)ret != v->start)
		return ret;
	base = sys3(__NR_shmat, v->shmid, 0, shmflg);
	if (is_err(base))
		return base;
	ret = sys6(__NR_mremap, base + (long)v->pgoff, (long)len, (long)len,
		   MREMAP_MAYMOVE | MREMAP_FIXED, (long)v->start, 0);
	sys2(__NR_munmap, base, size);
	if (is_err(ret))
		return ret;
	if (prot != given) {
		long r = sys3(__NR_mprotect, v->start, len, prot);

		if (is_err(r))
			return r;
	}
	return ret;
}

/* struct msghdr and a cmsghdr with one fd, as the kernel reads them (x86-64). */
struct stub_msghdr {
	void *name;
	int32_t namelen, pad0;
	void *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	int32_t flags, pad1;
};

struct stub_iovec {
	void *base;
	uint64_t len;
};

struct stub_cmsg_fd {
	uint64_t len;
	int32_t level, type;
	int32_t fd, pad;
};

#define STUB_SOL_SOCKET 1
#define STUB_SCM_RIGHTS 1

/*
 * restore --lazy: the mappings whose pages were left out get a userfaultfd
 * that sees the kernel's faults too (a read() into such a page) and the
 * program's forks, mremaps, madvise(DONTNEED)s and munmaps, so the
 * restorer always knows which pages are still to come, in which process,
 * where.  It goes to the restorer before anything touches those pages.
 */
static void lazy_register(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_vma *v = PLAN_ARRAY(p, p->vmas_off, struct stub_vma);
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			    UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
			    UFFD_FEATURE_POISON,
	};
	struct stub_status st;
	struct stub_iovec iov = { &st, sizeof(st) };
	struct stub_cmsg_fd cm = { sizeof(struct stub_cmsg_fd) - sizeof(int32_t),
				   STUB_SOL_SOCKET, STUB_SCM_RIGHTS, -1, 0 };
	struct stub_msghdr mh = { .iov = &iov, .iovlen = 1, .control = &cm,
				  .controllen = sizeof(cm) };
	uint32_t i, nr = 0;
	long uffd, ret;

	for (i = 0; i < p->nr_vmas; i++)
		nr += !!(v[i].flags & STUB_VMA_LAZY);
	if (!nr)
		return;
	uffd = sys1(__NR_userfaultfd, O_CLOEXEC);
	if (is_err(uffd))
		report_fail(c->status_fd, STUB_ERR_LAZY, uffd, 0);
	ret = sys3(__NR_ioctl, uffd, (long)UFFDIO_API, (long)&api);
	if (is_err(ret))
		report_fail(c->status_fd, STUB_ERR_LAZY, ret, 0);
	for (i = 0; i < p->nr_vmas; i++) {
		struct uffdio_register reg = {
			.range = { .start = v[i].start, .len = v[i].end - v[i].start },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (!(v[i].flags & STUB_VMA_LAZY))
			continue;
		ret = sys3(__NR_ioctl, uffd, (long)UFFDIO_REGISTER, (long)&reg);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_LAZY, ret, v[i].start);
	}
	memset(&st, 0, sizeof(st));
	st.stage = STUB_LAZY_FD;
	cm.fd = (int32_t)uffd;
	ret = sys3(__NR_sendmsg, c->status_fd, (long)&mh, 0);
	if (ret != (long)sizeof(st))
		report_fail(c->status_fd, STUB_ERR_LAZY, is_err(ret) ? ret : -EIO, 0);
	/* The restorer holds it now: ours would only keep the program's faults waiting. */
	sys1(__NR_close, uffd);
}

static void build_memory(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_vma *v = PLAN_ARRAY(p, p->vmas_off, struct stub_vma);
	const struct stub_run *r = PLAN_ARRAY(p, p->runs_off, struct stub_run);
	struct loader l;
	uint32_t i, j, k;
	long ret;

	for (i = 0; i < STUB_MAX_FILES; i++)
		l.image_len[i] = 0;
	/* Every mapping first, writable where pages go in. */
	for (i = 0, j = 0; i < p->nr_vmas; i++) {
		int flags = MAP_FIXED_NOREPLACE, fd = -1;
		uint64_t off = 0, len = v[i].end - v[i].start;
		int prot = (int)v[i].prot;

		for (k = j; k < p->nr_runs && r[k].vaddr < v[i].end; k++)
			if (r[k].file_off + r[k].len > l.image_len[r[k].file])
				l.image_len[r[k].file] = r[k].file_off + r[k].len;
		if (k > j)
			prot |= PROT_READ | PROT_WRITE;
		j = k;
		flags |= (v[i].flags & STUB_VMA_SHARED) ? MAP_SHARED : MAP_PRIVATE;
		if (v[i].flags & STUB_VMA_GROWSDOWN)
			flags |= MAP_GROWSDOWN;
		if (v[i].flags & STUB_VMA_NORESERVE)
			flags |= MAP_NORESERVE;
		if (v[i].flags & STUB_VMA_ANON) {
			flags |= MAP_ANONYMOUS;
			if (v[i].flags & STUB_VMA_HUGETLB)
				flags |= MAP_HUGETLB | (int)(v[i].huge_shift << MAP_HUGE_SHIFT);
		} else {
			fd = v[i].fd;
			off = v[i].pgoff;
		}
		if (v[i].flags & STUB_VMA_SYSV)
			ret = map_sysv(&v[i], prot);
		else
			ret = sys_mmap(v[i].start, len, prot, flags, fd, off);
		/*
		 * A huge sparse reservation (a sanitizer's shadow, a JIT heap)
		 * was made with MAP_NORESERVE, which an image made before
		 * smaps' "nr" was kept does not say: the overcommit heuristic
		 * refuses it without.  Not hugetlb memory: without its huge
		 * pages reserved the program would die of SIGBUS later.
		 */
		if (ret == -ENOMEM && (flags & MAP_PRIVATE) && (prot & PROT_WRITE) &&
		    !(flags & (MAP_HUGETLB | MAP_NORESERVE)))
			ret = sys_mmap(v[i].start, len, prot, flags | MAP_NORESERVE, fd, off);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_MMAP, ret, v[i].start);
		if ((uint64_t)ret != v[i].start)
			report_fail(c->status_fd, STUB_ERR_MMAP, -EEXIST, v[i].start);
		/* Huge pages as the program asked: fewer faults while reading, too. */
		redo_madvise(c, &v[i], STUB_MADV_HUGEPAGE | STUB_MADV_NOHUGEPAGE);
	}

	loader_open(&l, p);
	for (i = 0, j = 0; i < p->nr_vmas; i++) {
		for (k = j; k < p->nr_runs && r[k].vaddr < v[i].end; k++)
			;
		load_runs(c, &l, &v[i], r, j, k);
		j = k;
	}
	loader_close(&l);
	lazy_register(c);

	for (i = 0, j = 0; i < p->nr_vmas; i++) {
		uint64_t len = v[i].end - v[i].start;
		int has_runs = j < p->nr_runs && r[j].vaddr < v[i].end;

		for (; j < p->nr_runs && r[j].vaddr < v[i].end; j++)
			;
		redo_madvise(c, &v[i], STUB_MADV_DONTFORK | STUB_MADV_WIPEONFORK |
					       STUB_MADV_DONTDUMP | STUB_MADV_MERGEABLE);
		if (has_runs && (v[i].prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE)) {
			ret = sys3(__NR_mprotect, v[i].start, len, v[i].prot);
			if (is_err(ret))
				report_fail(c->status_fd, STUB_ERR_MPROTECT, ret, v[i].start);
		}
	}
}

static void set_mm(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_mm *m = &p->mm;
	struct k_prctl_mm_map map;
	long ret;

	if (!m->start_code && m->exe_fd < 0)
		return;
	map.start_code = m->start_code;
	map.end_code = m->end_code;
	map.start_data = m->start_data;
	map.end_data = m->end_data;
	map.start_brk = m->start_brk;
	map.brk = m->brk;
	map.start_stack = m->start_stack;
	map.arg_start = m->arg_start;
	map.arg_end = m->arg_end;
	map.env_start = m->env_start;
	map.env_end = m->env_end;
	map.auxv = m->auxv_size ? (uint64_t)plan_at(p, m->auxv_off) : 0;
	map.auxv_size = m->auxv_size;
	map.exe_fd = (uint32_t)m->exe_fd;	/* -1: keep */
	ret = sys5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0);
	if (is_err(ret))
		report_fail(c->status_fd, STUB_ERR_MM, ret, 0);
}

static void set_process_state(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	char comm[16];
	uint32_t i;
	long ret;

	for (i = 1; i <= 64; i++) {
		if (i == SIGKILL || i == SIGSTOP)
			continue;
		ret = sys4(__NR_rt_sigaction, i, &p->sigactions[i - 1], 0, 8);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_SIGACTION, ret, i);
	}
	for (i = 0; i < 3; i++) {
		ret = sys3(__NR_setitimer, i, &p->itimers[i], 0);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_ITIMER, ret, i);
	}
	for (i = 0; i < p->nr_rlimits; i++) {
		ret = sys4(__NR_prlimit64, 0, i, &p->rlimits[i], 0);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_RLIMIT, ret, i);
	}
	memcpy(comm, p->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = 0;
	ret = sys2(__NR_prctl, PR_SET_NAME, comm);
	if (is_err(ret))
		report_fail(c->status_fd, STUB_ERR_PROC, ret, 0);
	sys1(__NR_umask, p->umask);
}

struct cap_header {
	uint32_t version;
	int pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static long set_caps(uint64_t inh, uint64_t prm, uint64_t eff)
{
	struct cap_header h = { LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};

	return sys2(__NR_capset, &h, d);
}

static void caps_now(uint64_t *inh, uint64_t *prm)
{
	struct cap_header h = { LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data d[2];

	*inh = *prm = 0;
	if (is_err(sys2(__NR_capget, &h, d)))
		return;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
}

static __attribute__((noreturn)) void creds_fail(struct ctx *c, long ret,
						 enum stub_creds_step step, int32_t tid)
{
	report_fail_tid(c->status_fd, STUB_ERR_CREDS, ret, step, tid);
}

/*
 * Become who the process was: groups and ids with the capabilities kept
 * across the uid change (KEEPCAPS), then the capability sets themselves,
 * securebits, ambient and dumpable (a uid change clears dumpable).
 * Credentials belong to each thread: every thread calls this for itself,
 * once it exists (making it with its tid needs the capabilities).  tid: 0
 * for the leader, else the thread's, for the report.
 */
static void set_creds(struct ctx *c, int32_t tid)
{
	const struct stub_creds *cr = &c->plan->creds;
	const uint32_t *u = cr->uid, *g = cr->gid;
	long ret;
	int i;

	if (!cr->valid)
		return;
	if (cr->set_personality) {
		ret = sys1(__NR_personality, cr->personality);
		if (is_err(ret))
			creds_fail(c, ret, STUB_CREDS_PERSONALITY, tid);
	}
	for (i = 0; i < 64; i++) {
		if (cr->cap_bnd & (1ull << i))
			continue;
		ret = sys2(__NR_prctl, PR_CAPBSET_READ, i);
		if (is_err(ret))
			break;		/* past the last capability this kernel has */
		if (ret == 1 && is_err(ret = sys2(__NR_prctl, PR_CAPBSET_DROP, i)))
			creds_fail(c, ret, STUB_CREDS_BOUNDING, tid);
	}
	ret = sys2(__NR_prctl, PR_SET_KEEPCAPS, 1);
	if (is_err(ret))
		creds_fail(c, ret, STUB_CREDS_KEEPCAPS, tid);
	if (cr->set_groups) {
		ret = sys2(__NR_setgroups, cr->nr_groups, plan_at(c->plan, cr->groups_off));
		if (is_err(ret))
			creds_fail(c, ret, STUB_CREDS_GROUPS, tid);
	}
	ret = sys3(__NR_setresgid, g[0], g[1], g[2]);
	if (!is_err(ret)) {
		sys1(__NR_setfsgid, g[3]);
		ret = sys1(__NR_setfsgid, -1) == (long)g[3] ? 0 : -EPERM;
	}
	if (is_err(ret))
		creds_fail(c, ret, STUB_CREDS_GIDS, tid);
	ret = sys3(__NR_setresuid, u[0], u[1], u[2]);
	if (!is_err(ret)) {
		sys1(__NR_setfsuid, u[3]);
		ret = sys1(__NR_setfsuid, -1) == (long)u[3] ? 0 : -EPERM;
	}
	if (is_err(ret))
		creds_fail(c, ret, STUB_CREDS_UIDS, tid);
	/* Effective again, for the securebits (CAP_SETPCAP); the uid change cleared it. */
	{
		uint64_t inh, prm;

		caps_now(&inh, &prm);
		set_caps(inh, prm, prm);
	}
	/* KEEP_CAPS alone is ours to change without CAP_SETPCAP. */
	if (((uint32_t)sys1(__NR_prctl, PR_GET_SECUREBITS) & ~SECBIT_KEEP_CAPS) !=
	    (cr->securebits & ~SECBIT_KEEP_CAPS)) {
		ret = sys2(__NR_prctl, PR_SET_SECUREBITS, cr->securebits);
		if (is_err(ret))
			creds_fail(c, ret, STUB_CREDS_SECUREBITS, tid);
	} else {
		ret = sys2(__NR_prctl, PR_SET_KEEPCAPS, !!(cr->securebits & SECBIT_KEEP_CAPS));
		if (is_err(ret))
			creds_fail(c, ret, STUB_CREDS_KEEPCAPS, tid);
	}
	ret = set_caps(cr->cap_inh, cr->cap_prm, cr->cap_eff);
	if (is_err(ret))
		creds_fail(c, ret, STUB_CREDS_CAPS, tid);
	ret = sys2(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
	for (i = 0; i < 64 && !is_err(ret); i++)
		if (cr->cap_amb & (1ull << i))
			ret = sys3(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i);
	if (is_err(ret))
		creds_fail(c, ret, STUB_CREDS_AMBIENT, tid);
	if (cr->dumpable <= 1 && sys1(__NR_prctl, PR_GET_DUMPABLE) != (long)cr->dumpable) {
		ret = sys2(__NR_prctl, PR_SET_DUMPABLE, cr->dumpable);
		if (is_err(ret))
			creds_fail(c, ret, STUB_CREDS_DUMPABLE, tid);
	}
}

static void set_thread_state(struct ctx *c, const struct stub_thread *t)
{
	struct k_stack ss;
	long ret;

	memset(&ss, 0, sizeof(ss));
	if (t->altstack_flags & SS_DISABLE) {
		ss.flags = SS_DISABLE;
	} else {
		ss.sp = t->altstack_sp;
		ss.size = t->altstack_size;
		ss.flags = (int32_t)(t->altstack_flags & SS_AUTODISARM);
	}
	ret = sys2(__NR_sigaltstack, &ss, 0);
	if (is_err(ret))
		thread_fail(c, t, ret, t->altstack_sp);
	if (t->robust_len) {
		ret = sys2(__NR_set_robust_list, t->robust_list, t->robust_len);
		if (is_err(ret))
			thread_fail(c, t, ret, t->robust_list);
	}
	sys1(__NR_set_tid_address, t->clear_child_tid);
	if (t->rseq_addr) {
		ret = sys4(__NR_rseq, t->rseq_addr, t->rseq_len, 0, t->rseq_sig);
		if (is_err(ret))
			thread_fail(c, t, ret, t->rseq_addr);
	}
	if (t->comm[0]) {
		ret = sys2(__NR_prctl, PR_SET_NAME, t->comm);
		if (is_err(ret))
			thread_fail(c, t, ret, 0);
	}
	/* rt_sigreturn leaves the segment bases alone. */
	ret = sys2(__NR_arch_prctl, ARCH_SET_FS, t->regs[STUB_FS_BASE]);
	if (is_err(ret))
		thread_fail(c, t, ret, t->regs[STUB_FS_BASE]);
	ret = sys2(__NR_arch_prctl, ARCH_SET_GS, t->regs[STUB_GS_BASE]);
	if (is_err(ret))
		thread_fail(c, t, ret, t->regs[STUB_GS_BASE]);
}

/* The signals pending on this thread only; it must send them itself. */
static void queue_own_signals(struct ctx *c, const struct stub_thread *t)
{
	const struct stub_siginfo *si = PLAN_ARRAY(c->plan, t->siginfo_off, struct stub_siginfo);
	long pid = sys0(__NR_getpid), tid = sys0(__NR_gettid), ret;
	uint32_t i;

	for (i = 0; i < t->nr_siginfo; i++) {
		ret = sys4(__NR_rt_tgsigqueueinfo, pid, tid, si[i].signo, si[i].info);
		if (is_err(ret))
			report_fail_tid(c->status_fd, STUB_ERR_SIGNAL, ret, si[i].signo, t->tid);
	}
}

static void set_fds_and_signals(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const int32_t *cloexec = PLAN_ARRAY(p, p->cloexec_off, int32_t);
	const struct stub_siginfo *si = PLAN_ARRAY(p, p->siginfo_off, struct stub_siginfo);
	long pid = sys0(__NR_getpid), tid = sys0(__NR_gettid), ret;
	uint32_t i;

	for (i = 0; i < p->nr_cloexec; i++) {
		ret = sys3(__NR_fcntl, cloexec[i], F_SETFD, FD_CLOEXEC);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_FD, ret, (uint64_t)cloexec[i]);
	}
	/* Everything is blocked: they stay queued until rt_sigreturn sets the
	 * saved mask.  Sent to ourselves, any si_code is accepted. */
	for (i = 0; i < p->nr_siginfo; i++) {
		if (si[i].shared)
			ret = sys3(__NR_rt_sigqueueinfo, pid, si[i].signo, si[i].info);
		else
			ret = sys4(__NR_rt_tgsigqueueinfo, pid, tid, si[i].signo, si[i].info);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_SIGNAL, ret, si[i].signo);
	}
}

/* Is [a, b) inside one writable mapping of the plan (or just below a stack
 * that grows down onto it)? */
static int stack_room(const struct stub_plan *p, uint64_t a, uint64_t b)
{
	const struct stub_vma *v = PLAN_ARRAY(p, p->vmas_off, struct stub_vma);
	uint32_t i;

	for (i = 0; i < p->nr_vmas; i++) {
		if (!(v[i].prot & PROT_WRITE) || b > v[i].end)
			continue;
		if (a >= v[i].start)
			return 1;
		if ((v[i].flags & STUB_VMA_GROWSDOWN) && v[i].start - a < GROWSDOWN_GAP &&
		    (!i || v[i - 1].end <= a))
			return 1;
	}
	return 0;
}

/*
 * Put an rt_sigframe below the thread's red zone the way the kernel places
 * one when it delivers a signal: xstate 64-byte aligned on top, the frame
 * under it with (frame + 8) 16-byte aligned.  Returns the rsp rt_sigreturn
 * wants: the address of the frame's ucontext.
 */
static uint64_t build_frame(struct ctx *c, const struct stub_thread *t)
{
	const uint64_t *regs = t->regs;
	struct k_rt_sigframe *f;
	struct k_sigcontext *mc;
	uint64_t sp = regs[STUB_RSP] - 128, fp = 0, fp_len = 0;

	if (t->xstate_off) {
		fp_len = t->xstate_len + (t->xstate_len > 512 ? 4 : 0);
		sp = (sp - fp_len) & ~63ul;
		fp = sp;
	}
	sp -= sizeof(*f);
	sp = (sp & ~15ul) - 8;
	if (!stack_room(c->plan, sp, regs[STUB_RSP]))
		thread_fail(c, t, -EFAULT, sp);
	if (fp)
		memcpy((void *)fp, plan_at(c->plan, t->xstate_off), fp_len);

	f = (struct k_rt_sigframe *)sp;
	memset(f, 0, sizeof(*f));
	f->uc.flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* rt_sigreturn sets the alternate stack from uc_stack as well. */
	if (t->altstack_flags & SS_DISABLE) {
		f->uc.stack.flags = SS_DISABLE;
	} else {
		f->uc.stack.sp = t->altstack_sp;
		f->uc.stack.size = t->altstack_size;
		f->uc.stack.flags = (int32_t)(t->altstack_flags & SS_AUTODISARM);
	}
	mc = &f->uc.mcontext;
	mc->r8 = regs[STUB_R8];
	mc->r9 = regs[STUB_R9];
	mc->r10 = regs[STUB_R10];
	mc->r11 = regs[STUB_R11];
	mc->r12 = regs[STUB_R12];
	mc->r13 = regs[STUB_R13];
	mc->r14 = regs[STUB_R14];
	mc->r15 = regs[STUB_R15];
	mc->rdi = regs[STUB_RDI];
	mc->rsi = regs[STUB_RSI];
	mc->rbp = regs[STUB_RBP];
	mc->rbx = regs[STUB_RBX];
	mc->rdx = regs[STUB_RDX];
	mc->rax = regs[STUB_RAX];
	mc->rcx = regs[STUB_RCX];
	mc->rsp = regs[STUB_RSP];
	mc->rip = regs[STUB_RIP];
	mc->eflags = regs[STUB_EFLAGS];
	mc->cs = (uint16_t)regs[STUB_CS];
	mc->ss = (uint16_t)regs[STUB_SS];
	mc->fpstate = fp;
	f->uc.sigmask = t->sigmask;
	return sp + 8;
}

static void close_fds(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const int32_t *fds = PLAN_ARRAY(p, p->close_off, int32_t);
	uint32_t i;

	for (i = 0; i < p->nr_close; i++)
		sys1(__NR_close, fds[i]);
}

/*
 * clone3(args, size), the child calling fn(arg) on the stack args gave it:
 * the child must not touch the parent's stack, so this is assembly.
 */
long stub_clone3(void *args, uint64_t size, void (*fn)(struct thread_start *),
		 struct thread_start *arg);
__asm__(".text\n"
	".type stub_clone3, @function\n"
	"stub_clone3:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n"	/* __NR_clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	ud2\n"
	"1:	ret\n"
	".size stub_clone3, . - stub_clone3\n");

struct k_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/* A thread the leader created: its own state, its own frame, then park. */
static __attribute__((noreturn, used)) void thread_main(struct thread_start *s)
{
	struct ctx *c = s->c;
	const struct stub_thread *t = PLAN_ARRAY(c->plan, c->plan->threads_off,
						 struct stub_thread) + s->idx;
	long tid = sys0(__NR_gettid);

	/* A pid namespace level we did not expect would make this differ. */
	if (tid != t->tid)
		thread_fail(c, t, -EINVAL, (uint64_t)tid);
	set_thread_state(c, t);
	set_creds(c, t->tid);
	queue_own_signals(c, t);
	c->report[s->idx].tid = t->tid;
	c->report[s->idx].frame_sp = build_frame(c, t);
	__atomic_add_fetch(&c->nr_parked, 1, __ATOMIC_RELEASE);
	sys3(__NR_futex, &c->nr_parked, FUTEX_WAKE_PRIVATE, 1);
	for (;;)
		sys0(__NR_pause);
}

static void create_threads(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_thread *t = PLAN_ARRAY(p, p->threads_off, struct stub_thread);
	struct k_timespec { long sec, nsec; } busy = { 0, TID_BUSY_WAIT_NS };
	uint32_t i, parked;
	long ret;

	for (i = 1; i < p->nr_threads; i++) {
		uint64_t top = c->stacks + (uint64_t)i * STUB_THREAD_STACK_SIZE;
		struct thread_start *s = (struct thread_start *)(top - THREAD_START_ROOM);
		int32_t set_tid = t[i].tid;
		struct k_clone_args args;
		int tries = 0;

		s->c = c;
		s->idx = i;
		memset(&args, 0, sizeof(args));
		args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			     CLONE_SYSVSEM;
		args.stack = top - STUB_THREAD_STACK_SIZE;
		args.stack_size = STUB_THREAD_STACK_SIZE - THREAD_START_ROOM;
		/* Only the innermost level: the tid the program knows. */
		args.set_tid = (uint64_t)&set_tid;
		args.set_tid_size = 1;
		for (;;) {
			ret = stub_clone3(&args, sizeof(args), thread_main, s);
			if (ret != -EEXIST || ++tries >= TID_BUSY_TRIES)
				break;
			sys2(__NR_nanosleep, &busy, 0);
		}
		if (is_err(ret))
			thread_fail(c, &t[i], ret, (uint64_t)t[i].tid);
	}
	/* A thread that fails ends the whole process, so this wait ends. */
	for (;;) {
		parked = __atomic_load_n(&c->nr_parked, __ATOMIC_ACQUIRE);
		if (parked >= p->nr_threads - 1)
			break;
		sys4(__NR_futex, &c->nr_parked, FUTEX_WAIT_PRIVATE, parked, 0);
	}
}

static long write_all(int fd, const void *buf, uint64_t len)
{
	const uint8_t *b = buf;
	long n;

	while (len) {
		n = sys3(__NR_write, fd, b, len);
		if (n == -EINTR)
			continue;
		if (is_err(n))
			return n;
		if (n == 0)
			return -EIO;
		b += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Runs from the copy in the hole, on the new stack; never returns. */
/*
 * POSIX timers under the ids the program holds; after the threads exist,
 * since a timer may signal one of them.
 */
static void set_posix_timers(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_timer *t = PLAN_ARRAY(p, p->timers_off, struct stub_timer);
	uint32_t i;
	long ret;

	if (!p->nr_timers)
		return;
	ret = sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON);
	if (is_err(ret))
		report_fail(c->status_fd, STUB_ERR_ITIMER, ret, 0);
	for (i = 0; i < p->nr_timers; i++) {
		struct {
			uint64_t value;
			int32_t signo, notify;
			int32_t tid;
			int32_t pad[11];
		} sev = { t[i].sigval, t[i].signo, t[i].notify, t[i].notify_tid, { 0 } };
		struct {
			uint64_t isec, insec, vsec, vnsec;
		} its = { t[i].interval_sec, t[i].interval_nsec, t[i].value_sec, t[i].value_nsec };
		long id = t[i].id;

		ret = sys3(__NR_timer_create, t[i].clock, &sev, &id);
		if (!is_err(ret) && id != t[i].id)
			ret = -EINVAL;
		if (!is_err(ret) && (its.vsec || its.vnsec))
			ret = sys4(__NR_timer_settime, t[i].id, 0, &its, 0);
		if (is_err(ret))
			report_fail(c->status_fd, STUB_ERR_ITIMER, ret, (uint64_t)t[i].id);
	}
	sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF);
}

static __attribute__((noreturn, used)) void stage_two(struct ctx *c)
{
	const struct stub_plan *p = c->plan;
	const struct stub_thread *t = PLAN_ARRAY(p, p->threads_off, struct stub_thread);
	uint64_t keep[1 + STUB_NR_SPECIAL][2];
	struct stub_status st;
	int i, n = 0;
	long ret;

	keep[n][0] = c->area;
	keep[n++][1] = c->area + c->area_len;
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		if (!p->special[i].len)
			continue;
		keep[n][0] = c->vdso + (uint64_t)p->special[i].cur_off;
		keep[n][1] = keep[n][0] + p->special[i].len;
		n++;
	}
	ret = unmap_others(keep, n);
	if (ret)
		report_fail(c->status_fd, STUB_ERR_HOLE, ret, c->area);

	memset(&st, 0, sizeof(st));
	move_specials(c, &st.syscall_insn);
	build_memory(c);
	set_mm(c);
	set_process_state(c);
	set_thread_state(c, t);
	/* The others start with our signal mask: everything blocked. */
	create_threads(c);
	set_creds(c, 0);
	set_posix_timers(c);
	set_fds_and_signals(c);
	queue_own_signals(c, t);
	st.frame_sp = build_frame(c, t);
	c->report[0].tid = t->tid;
	c->report[0].frame_sp = st.frame_sp;
	close_fds(c);

	st.stage = STUB_READY;
	st.unmap_start = c->area;
	st.unmap_len = c->area_len;
	st.nr_threads = p->nr_threads;
	st.threads_addr = (uint64_t)c->report;
	if (write_all(c->status_fd, &st, sizeof(st)))
		sys_exit_group(127);
	sys1(__NR_close, c->status_fd);
	for (;;)
		sys0(__NR_pause);
}

static __attribute__((noreturn)) void jump(uint64_t sp, uint64_t fn, struct ctx *c)
{
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "call *%1\n\t"
			 "ud2"
			 :
			 : "r"(sp), "r"(fn), "D"(c)
			 : "memory");
	__builtin_unreachable();
}

static long parse_fd(const char *s)
{
	long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 1 << 20)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* Called from _start with the initial stack: argc, argv[], envp[], auxv[]. */
__attribute__((noreturn)) void stub_entry(uint64_t *sp);
__attribute__((noreturn)) void stub_entry(uint64_t *sp)
{
	uint64_t all = ~0ull, argc = sp[0], *auxv, vdso = 0, area, area_len, img_len, plan_len;
	uint64_t park_len, stack_top, bad, stacks_len, report_len;
	char **argv = (char **)(sp + 1);
	struct stub_plan hdr;
	const struct stub_plan *plan;
	struct ctx *c;
	int64_t park_lo;
	long plan_fd, ret;

	sys4(__NR_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);

	auxv = sp + 1 + argc + 1;
	while (*auxv)
		auxv++;
	for (auxv++; auxv[0]; auxv += 2) {
		if (auxv[0] == AT_SYSINFO_EHDR)
			vdso = auxv[1];
	}

	plan_fd = argc == 2 ? parse_fd(argv[1]) : -EINVAL;
	if (plan_fd < 0)
		sys_exit_group(127);
	ret = sys4(__NR_pread64, plan_fd, &hdr, sizeof(hdr), 0);
	if (ret != sizeof(hdr) || hdr.magic != STUB_PLAN_MAGIC)
		sys_exit_group(127);
	if (hdr.size < sizeof(hdr))
		report_fail(hdr.status_fd, STUB_ERR_PLAN, -EINVAL, 0);
	ret = sys_mmap(0, hdr.size, PROT_READ, MAP_PRIVATE, (int)plan_fd, 0);
	if (is_err(ret))
		report_fail(hdr.status_fd, STUB_ERR_PLAN, ret, 0);
	plan = (const struct stub_plan *)ret;
	/* The mapping is enough; the fd would outlive us in the program. */
	sys1(__NR_close, plan_fd);
	if (plan->size != hdr.size)
		report_fail(hdr.status_fd, STUB_ERR_PLAN, -EINVAL, 0);
	ret = check_plan(plan, &bad);
	if (ret)
		report_fail(hdr.status_fd, STUB_ERR_PLAN, ret, bad);
	if (!vdso && (plan->special[0].len || plan->special[1].len || plan->special[2].len))
		report_fail(hdr.status_fd, STUB_ERR_SPECIAL, -EINVAL, 0);

	img_len = image_len();
	plan_len = PAGE_UP(plan->size);
	special_span(plan, &park_lo, &park_len);
	stacks_len = (uint64_t)(plan->nr_threads - 1) * STUB_THREAD_STACK_SIZE;
	report_len = PAGE_UP(plan->nr_threads * sizeof(struct stub_thread_status));
	area_len = img_len + plan_len + STUB_STACK_SIZE + PAGE_UP(park_len) + stacks_len +
		   report_len;
	ret = map_hole(plan, area_len, &area);
	if (ret)
		report_fail(hdr.status_fd, STUB_ERR_HOLE, ret, area_len);

	copy_image(area);
	memcpy((void *)(area + img_len), plan, plan->size);
	stack_top = area + img_len + plan_len + STUB_STACK_SIZE;
	c = (struct ctx *)(stack_top - ALIGN_UP(sizeof(*c), 64));
	c->plan = (const struct stub_plan *)(area + img_len);
	c->area = area;
	c->area_len = area_len;
	c->park = stack_top;
	c->stacks = stack_top + PAGE_UP(park_len);
	c->report = (struct stub_thread_status *)(c->stacks + stacks_len);
	c->nr_parked = 0;
	c->vdso = vdso;
	c->status_fd = hdr.status_fd;
	jump((uint64_t)c, (uint64_t)&stage_two - (uint64_t)&__ehdr_start + area, c);
}

__asm__(".text\n"
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call stub_entry\n"
	"	ud2\n"
	".size _start, . - _start\n");
