/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/pagescan.h"
#include "tracer/wptrack.h"
#include "tracer/procfs.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/macro.h"

#undef PAGE_SIZE
#define PAGE_SIZE 4096ull
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)	/* file page or shared anon: not the process's own copy */
#define PAGEMAP_BATCH 65536
#define HUGETLB_ANON_PATH "/anon_hugepage"

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

static int classify(struct vma_record *v, const struct maps_entry *e)
{
	const char *path = e->path;
	size_t len = e->path_len;

	if (len && path[0] == '[') {
		if (!strncmp(path, "[vdso]", len))
			v->kind = VMA_VDSO;
		else if (!strncmp(path, "[vvar]", len))
			v->kind = VMA_VVAR;
		else if (!strncmp(path, "[vvar_vclock]", len))
			v->kind = VMA_VVAR_VCLOCK;
		else if (!strncmp(path, "[vsyscall]", len))
			return 1;	/* the kernel's, same everywhere */
		else if (!strncmp(path, "[anon_shmem:", 12))
			v->kind = VMA_ANON_SHARED;
		else
			v->kind = e->shared ? VMA_ANON_SHARED : VMA_ANON_PRIVATE;
		if (!strncmp(path, "[heap]", len))
			v->flags |= VMA_F_HEAP;
		if (!strncmp(path, "[stack]", len))
			v->flags |= VMA_F_STACK | VMA_F_GROWSDOWN;
		v->name = strndup(path, len);
		return v->name ? 0 : -ENOMEM;
	}
	if (!len) {
		v->kind = e->shared ? VMA_ANON_SHARED : VMA_ANON_PRIVATE;
		return 0;
	}
	if (ends_with(path, len, " (deleted)")) {
		v->flags |= VMA_F_DELETED;
		len -= strlen(" (deleted)");
	}
	/*
	 * MAP_ANONYMOUS|MAP_HUGETLB is a file of the kernel's own hugetlbfs;
	 * smaps confirms it ("ht", collect_vma_flags).  A private one is
	 * anonymous memory of huge pages; a shared one would need its object
	 * re-created of huge pages, which is not done.
	 */
	if ((v->flags & VMA_F_DELETED) && len == strlen(HUGETLB_ANON_PATH) &&
	    !memcmp(path, HUGETLB_ANON_PATH, len)) {
		v->flags = (v->flags & ~VMA_F_DELETED) | VMA_F_HUGETLB;
		v->kind = VMA_ANON_PRIVATE;
		return e->shared ? -EOPNOTSUPP : 0;
	}
	v->path = strndup(path, len);
	if (!v->path)
		return -ENOMEM;
	if (!e->shared) {
		v->kind = VMA_FILE_PRIVATE;
		return 0;
	}
	v->kind = VMA_FILE_SHARED;
	if (!(v->flags & VMA_F_DELETED))
		return 0;	/* left to the file */
	if (!strcmp(v->path, "/dev/zero")) {
		v->kind = VMA_ANON_SHARED;
		v->shm_kind = SHM_ANON;
	} else if (!strncmp(v->path, "/memfd:", 7)) {
		v->shm_kind = SHM_MEMFD;
	} else if (!strncmp(v->path, "/SYSV", 5)) {
		v->shm_kind = SHM_SYSV;
		v->sysv_key = strtoul(v->path + 5, NULL, 16);
	} else {
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Which pages of this VMA the image must hold, by their pagemap entry. */
static bool page_wanted(const struct vma_record *v, uint64_t pm)
{
	switch (v->kind) {
	case VMA_ANON_PRIVATE:
		return pm & (PM_PRESENT | PM_SWAPPED);
	case VMA_FILE_PRIVATE:
		/* A deleted file cannot give its pages back: keep them all. */
		if (v->flags & VMA_F_DELETED)
			return true;
		return (pm & PM_SWAPPED) || ((pm & PM_PRESENT) && !(pm & PM_FILE));
	default:
		return false;
	}
}

static int add_run(struct process_record *p, size_t *cap, uint64_t start, uint64_t end)
{
	if (p->nr_runs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct page_run *n = realloc(p->runs, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->runs = n;
		*cap = ncap;
	}
	p->runs[p->nr_runs++] = (struct page_run){ .vaddr = start, .len = end - start };
	return 0;
}

#define SCAN_REGIONS 512

static bool region_wanted(const struct vma_record *v, uint64_t cat)
{
	/* The shared zero page: never written, reads as zeros anyway. */
	if (cat & PAGE_IS_PFNZERO)
		return false;
	if (cat & PAGE_IS_SWAPPED)
		return true;
	if (v->kind == VMA_FILE_PRIVATE && !(v->flags & VMA_F_DELETED))
		return (cat & PAGE_IS_PRESENT) && !(cat & PAGE_IS_FILE);
	return cat & PAGE_IS_PRESENT;
}

/* 1: done; 0: this kernel has no PAGEMAP_SCAN; <0: error. */
static int scan_vma(struct collect_ctx *cx, struct process_record *p, int pagemap,
		    const struct vma_record *v, size_t *cap)
{
	struct page_region regions[SCAN_REGIONS];
	uint64_t run_start = 0, run_end = 0;
	uint64_t a = v->start;

	while (a < v->end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg), .start = a, .end = v->end,
			.vec = (uint64_t)(uintptr_t)regions, .vec_len = SCAN_REGIONS,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE |
				       PAGE_IS_PFNZERO,
		};
		long n = ioctl(pagemap, PM_SCAN_IOCTL, &arg);

		if (n < 0 && (errno == ENOTTY || errno == EINVAL) && a == v->start)
			return 0;
		if (n < 0)
			return collect_fail(cx, neg_errno(), "PAGEMAP_SCAN at 0x%llx",
					    (unsigned long long)a);
		for (long k = 0; k < n; k++) {
			if (!region_wanted(v, regions[k].categories))
				continue;
			if (run_end == regions[k].start) {
				run_end = regions[k].end;
				continue;
			}
			if (run_end > run_start) {
				int r = add_run(p, cap, run_start, run_end);

				if (r < 0)
					return r;
			}
			run_start = regions[k].start;
			run_end = regions[k].end;
		}
		if (arg.walk_end <= a)
			break;
		a = arg.walk_end;
	}
	if (run_end > run_start) {
		int r = add_run(p, cap, run_start, run_end);

		if (r < 0)
			return r;
	}
	return 1;
}

struct own_runs {
	struct process_record *p;
	size_t *cap;
	uint64_t start, end;	/* the run being grown */
};

static int own_flush(struct own_runs *o)
{
	int r = 0;

	if (o->end > o->start)
		r = add_run(o->p, o->cap, o->start, o->end);
	o->start = o->end = 0;
	return r;
}

static int own_add(void *arg, uint64_t a, uint64_t e)
{
	struct own_runs *o = arg;
	int r;

	if (o->end == a && o->end > o->start) {
		o->end = e;
		return 0;
	}
	r = own_flush(o);
	o->start = a;
	o->end = e;
	return r;
}

/*
 * A mapping whose written pages are tracked: what was written since the
 * previous image is stored, the rest taken from it; the same walk
 * write-protects them all again.  1: done; 0: not tracked; <0: error.
 */
static int scan_vma_tracked(struct collect_ctx *cx, struct vma_record *v, int pagemap,
			    struct own_runs *o, struct wp_bases *wb)
{
	struct page_region regions[SCAN_REGIONS];
	uint64_t a = v->start;
	int r;

	wb->vma_start = v->start;
	while (a < v->end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg), .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = a, .end = v->end,
			.vec = (uint64_t)(uintptr_t)regions, .vec_len = SCAN_REGIONS,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE |
				       PAGE_IS_PFNZERO | PAGE_IS_WRITTEN,
		};
		long n = ioctl(pagemap, PM_SCAN_IOCTL, &arg);

		if (n < 0 && (errno == EPERM || errno == ENOTTY || errno == EINVAL) &&
		    a == v->start)
			return 0;
		if (n < 0)
			return collect_fail(cx, neg_errno(), "PAGEMAP_SCAN at 0x%llx",
					    (unsigned long long)a);
		for (long k = 0; k < n; k++) {
			const struct page_region *g = &regions[k];

			if (!region_wanted(v, g->categories))
				continue;
			if (g->categories & PAGE_IS_WRITTEN)
				r = own_add(o, g->start, g->end);
			else
				r = wptrack_unwritten(wb, g->start, g->end, own_add, o);
			if (r < 0)
				return r;
		}
		if (arg.walk_end <= a)
			break;
		a = arg.walk_end;
	}
	v->wp_tracked = true;
	return 1;
}

/* Without PAGEMAP_SCAN (before Linux 6.7): every page's pagemap entry. */
static int scan_vma_entries(struct collect_ctx *cx, struct process_record *p, int pagemap,
			    const struct vma_record *v, uint64_t *buf, size_t *cap)
{
	uint64_t run_start = 0;
	bool in_run = false;

	for (uint64_t a = v->start; a < v->end;) {
		size_t n = MIN((v->end - a) / PAGE_SIZE, (uint64_t)PAGEMAP_BATCH);
		int r = pread_full(pagemap, buf, n * 8, a / PAGE_SIZE * 8);

		if (r < 0)
			return collect_fail(cx, r, "pagemap at 0x%llx", (unsigned long long)a);
		for (size_t k = 0; k < n; k++, a += PAGE_SIZE) {
			bool want = page_wanted(v, buf[k]);

			if (want && !in_run) {
				run_start = a;
				in_run = true;
			} else if (!want && in_run) {
				/* Runs never cross VMAs: one PT_LOAD, one protection. */
				r = add_run(p, cap, run_start, a);
				if (r < 0)
					return r;
				in_run = false;
			}
		}
	}
	return in_run ? add_run(p, cap, run_start, v->end) : 0;
}

/* One private mapping's runs; *have_scan false once PAGEMAP_SCAN is found missing. */
static int scan_one(struct collect_ctx *cx, struct process_record *p, int pagemap,
		    const struct vma_record *v, uint64_t *buf, size_t *cap, bool *have_scan)
{
	if (*have_scan) {
		int r = scan_vma(cx, p, pagemap, v, cap);

		if (r != 0)
			return r < 0 ? r : 0;
		*have_scan = false;
	}
	return scan_vma_entries(cx, p, pagemap, v, buf, cap);
}

static int collect_pages(struct collect_ctx *cx, struct process_record *p, int pagemap,
			 uint64_t *buf, size_t *cap)
{
	bool have_scan = true;

	if (cx->s && cx->s->wp_mode && !cx->refused) {
		struct own_runs o = { .p = p, .cap = cap };
		struct wp_bases wb;

		wptrack_bases_begin(cx, p, &wb);
		for (size_t i = 0; i < p->nr_vmas; i++) {
			struct vma_record *v = &p->vmas[i];
			int r;

			if (v->kind != VMA_ANON_PRIVATE && v->kind != VMA_FILE_PRIVATE)
				continue;
			r = scan_vma_tracked(cx, v, pagemap, &o, &wb);
			/* Runs never cross VMAs: one PT_LOAD, one protection. */
			if (r > 0)
				r = own_flush(&o);
			else if (r == 0 && (r = scan_vma(cx, p, pagemap, v, cap)) == 0)
				r = collect_fail(cx, -EOPNOTSUPP, "incremental dumps need "
						 "PAGEMAP_SCAN (Linux 6.7)");
			if (r < 0)
				return r;
		}
		wptrack_arm(cx, p);
		return 0;
	}

	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];
		int r;

		if (v->kind != VMA_ANON_PRIVATE && v->kind != VMA_FILE_PRIVATE)
			continue;
		r = scan_one(cx, p, pagemap, v, buf, cap, &have_scan);
		if (r < 0)
			return r;
	}
	return 0;
}

/* log2 of a "KernelPageSize:" value ("   2048 kB"), 0 if not a power of two. */
static uint32_t page_shift_of(const char *value)
{
	unsigned long long kb = strtoull(value, NULL, 10);

	if (!kb || (kb & (kb - 1)) || kb > (1ull << (HUGE_SHIFT_MAX - 10)))
		return 0;
	return (uint32_t)__builtin_ctzll(kb) + 10;
}

/*
 * What smaps says of one VMA: what madvise set on it (huge pages, fork and
 * core-dump behaviour), whether it is hugetlb memory and of which page
 * size.  Hugetlb memory other than private anonymous is refused by name.
 */
static int take_vmflags(struct collect_ctx *cx, struct vma_record *v, const char *value,
			uint32_t page_shift)
{
	uint32_t bits = parse_vmflags(value);

	if ((v->flags & VMA_F_HUGETLB) && !(bits & VMA_F_HUGETLB))
		return collect_fail(cx, -EINVAL, "mapping 0x%llx: %s is not hugetlb memory",
				    (unsigned long long)v->start, HUGETLB_ANON_PATH);
	if ((bits & VMA_F_HUGETLB) && v->kind != VMA_ANON_PRIVATE)
		return collect_fail(cx, -EOPNOTSUPP, "mapping 0x%llx of %s: hugetlb memory other "
				    "than private anonymous (a hugetlbfs file, a MFD_HUGETLB memfd, "
				    "a SHM_HUGETLB segment)", (unsigned long long)v->start,
				    v->path ? v->path : "?");
	if ((bits & VMA_F_HUGETLB) &&
	    (page_shift < HUGE_SHIFT_MIN || page_shift > HUGE_SHIFT_MAX ||
	     v->start % (1ull << page_shift) || v->end % (1ull << page_shift)))
		return collect_fail(cx, -EINVAL, "mapping 0x%llx-0x%llx: hugetlb memory whose "
				    "KernelPageSize in smaps is %llu kB: not a size of huge pages "
				    "it is aligned to", (unsigned long long)v->start,
				    (unsigned long long)v->end,
				    page_shift ? 1ull << (page_shift - 10) : 0ull);
	v->flags |= bits;
	if (bits & VMA_F_HUGETLB)
		v->huge_shift = page_shift;
	return 0;
}

/* smaps, whose VMAs come in the order of maps, onto p's VMAs (take_vmflags). */
int collect_vma_flags(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *smaps = NULL;
	char path[64], *line, *save = NULL;
	size_t k = 0;
	bool have = false;
	uint64_t start = 0;
	uint32_t page_shift = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/smaps", cx->pid);
	r = read_file_at(AT_FDCWD, path, &smaps, NULL);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	for (line = strtok_r(smaps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_entry e;

		if (!strncmp(line, "KernelPageSize:", 15)) {
			page_shift = page_shift_of(line + 15);
		} else if (!strncmp(line, "VmFlags:", 8)) {
			while (have && k < p->nr_vmas && p->vmas[k].start < start)
				k++;
			if (have && k < p->nr_vmas && p->vmas[k].start == start &&
			    (r = take_vmflags(cx, &p->vmas[k], line + 8, page_shift)) < 0)
				return r;
			have = false;
		} else if (parse_maps_line(line, &e) == 0) {
			start = e.start;
			have = true;
			page_shift = 0;
		}
	}
	return 0;
}

static bool is_private(const struct vma_record *v)
{
	return v->kind == VMA_ANON_PRIVATE || v->kind == VMA_FILE_PRIVATE;
}

static int open_pagemap(struct collect_ctx *cx, int *fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", cx->pid);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? collect_fail(cx, neg_errno(), "%s", path) : 0;
}

int collect_vma_pages(struct collect_ctx *cx, struct process_record *p, struct vma_record *v)
{
	_cleanup_free_ uint64_t *buf = malloc(PAGEMAP_BATCH * sizeof(*buf));
	_cleanup_close_ int pagemap = -1;
	size_t cap = p->nr_runs;	/* grown from its exact size */
	bool have_scan = true;
	int r;

	if (!buf)
		return -ENOMEM;
	r = open_pagemap(cx, &pagemap);
	if (r == 0)
		r = scan_one(cx, p, pagemap, v, buf, &cap, &have_scan);
	if (r == 0)
		v->pages_deferred = false;
	return r;
}

/*
 * A deleted file's pages cannot come back from the file, and a clone
 * without an anonymous page in the mapping has none of them mapped: those
 * are found now.  So are hugetlb pages, which the clone lets go of
 * (unmap_hugetlb_in_clone).  The other private mappings' are found in the
 * clone.
 */
static int defer_pages(struct collect_ctx *cx, struct process_record *p)
{
	for (size_t i = 0; i < p->nr_vmas; i++) {
		struct vma_record *v = &p->vmas[i];
		int r;

		if (!is_private(v))
			continue;
		v->pages_deferred = true;
		if (v->flags & (VMA_F_DELETED | VMA_F_HUGETLB)) {
			r = collect_vma_pages(cx, p, v);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

bool pagemap_scan_works(void)
{
	static const char here[4096] __attribute__((aligned(4096)));
	struct page_region region;
	struct pm_scan_arg arg = {
		.size = sizeof(arg), .start = (uint64_t)(uintptr_t)here,
		.end = (uint64_t)(uintptr_t)here + sizeof(here),
		.vec = (uint64_t)(uintptr_t)&region, .vec_len = 1,
		.category_anyof_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT,
	};
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	return fd >= 0 && ioctl(fd, PM_SCAN_IOCTL, &arg) >= 0;
}

int vma_has_pages(int pagemap, const struct vma_record *v)
{
	struct page_region region;
	bool file = v->kind == VMA_FILE_PRIVATE && !(v->flags & VMA_F_DELETED);
	/* What region_wanted takes: present or swapped, not the zero page, not the file's. */
	struct pm_scan_arg arg = {
		.size = sizeof(arg), .start = v->start, .end = v->end,
		.vec = (uint64_t)(uintptr_t)&region, .vec_len = 1, .max_pages = 1,
		.category_inverted = PAGE_IS_PFNZERO | (file ? PAGE_IS_FILE : 0),
		.category_mask = PAGE_IS_PFNZERO | (file ? PAGE_IS_FILE : 0),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	long n = ioctl(pagemap, PM_SCAN_IOCTL, &arg);

	if (n < 0)
		return neg_errno();
	return n > 0;
}

/* Every hugetlb mapping had its page size from smaps (else the image could not be restored). */
static int check_hugetlb_sized(struct collect_ctx *cx, const struct process_record *p)
{
	for (size_t i = 0; i < p->nr_vmas; i++)
		if ((p->vmas[i].flags & VMA_F_HUGETLB) && !p->vmas[i].huge_shift)
			return collect_fail(cx, -EIO, "mapping 0x%llx: hugetlb memory that smaps "
					    "did not show", (unsigned long long)p->vmas[i].start);
	return 0;
}

int collect_vmas_finish(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ uint64_t *buf = malloc(PAGEMAP_BATCH * sizeof(*buf));
	_cleanup_free_ struct page_run *found = p->runs;
	_cleanup_close_ int pagemap = -1;
	size_t nr_found = p->nr_runs, cap = 0;
	bool have_scan = true;
	int r;

	p->runs = NULL;
	p->nr_runs = 0;
	if (!buf)
		return -ENOMEM;
	r = collect_vma_flags(cx, p);
	if (r == 0)
		r = check_hugetlb_sized(cx, p);
	if (r == 0)
		r = open_pagemap(cx, &pagemap);
	for (size_t i = 0; i < p->nr_vmas && r == 0; i++) {
		struct vma_record *v = &p->vmas[i];

		if (!is_private(v))
			continue;
		if (v->pages_deferred) {
			r = scan_one(cx, p, pagemap, v, buf, &cap, &have_scan);
			v->pages_deferred = false;
			continue;
		}
		/* Found while frozen, in no particular order. */
		for (size_t k = 0; k < nr_found && r == 0; k++)
			if (found[k].vaddr >= v->start && found[k].vaddr < v->end)
				r = add_run(p, &cap, found[k].vaddr, found[k].vaddr + found[k].len);
	}
	return r;
}

int collect_vmas(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *maps = NULL;
	_cleanup_free_ uint64_t *buf = NULL;
	_cleanup_close_ int pagemap = -1;
	char path[64];
	size_t cap = 0, run_cap = 0;
	char *line, *save = NULL;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", cx->pid);
	r = read_file_at(AT_FDCWD, path, &maps, NULL);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_entry e;
		struct vma_record *v;

		if (parse_maps_line(line, &e) < 0)
			return collect_fail(cx, -EINVAL, "%s: unparsable line '%s'", path, line);
		if (p->nr_vmas == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct vma_record *n = realloc(p->vmas, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->vmas = n;
			cap = ncap;
		}
		v = &p->vmas[p->nr_vmas];
		memset(v, 0, sizeof(*v));
		v->start = e.start;
		v->end = e.end;
		v->pgoff = e.pgoff;
		v->prot = e.prot;
		v->dev = makedev(e.dev_major, e.dev_minor);
		v->ino = e.ino;
		v->content_fd = -1;
		r = classify(v, &e);
		if (r == -EOPNOTSUPP && (v->flags & VMA_F_HUGETLB))
			return collect_fail(cx, r, "mapping 0x%llx: shared hugetlb memory "
					    "(MAP_SHARED|MAP_HUGETLB)",
					    (unsigned long long)v->start);
		if (r == -EOPNOTSUPP)
			return collect_fail(cx, r, "mapping 0x%llx: shared mapping of deleted file %s",
					    (unsigned long long)v->start, v->path);
		if (r < 0)
			return r;
		if (r == 0)
			p->nr_vmas++;
	}

	if (cx->defer_pages)
		return defer_pages(cx, p);
	r = collect_vma_flags(cx, p);
	if (r == 0)
		r = check_hugetlb_sized(cx, p);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", cx->pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		return collect_fail(cx, neg_errno(), "%s", path);
	buf = malloc(PAGEMAP_BATCH * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	return collect_pages(cx, p, pagemap, buf, &run_cap);
}
