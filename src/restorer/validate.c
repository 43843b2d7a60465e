/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/fileid.h"
#include "restorer/validate.h"
#include "util/log.h"
#include "util/macro.h"

int validate_cpu(const struct computation *c, char *err, size_t errlen)
{
	struct cpu_record here;
	char missing[1024], then[96], now[96];

	cpu_record_host(&here);
	if (!cpu_record_missing(&c->cpu, &here, missing, sizeof(missing)))
		return 0;
	cpu_record_describe(&c->cpu, then, sizeof(then));
	cpu_record_describe(&here, now, sizeof(now));
	snprintf(err, errlen, "this CPU lacks %s (the image was made on %s; this is %s): restore it on a CPU that has them",
		 missing, then, now);
	return -ENOEXEC;
}

/* An unsigned number in /sys/kernel/mm/hugepages/hugepages-<kb>kB/<name>; -errno. */
static long hugepages_count(unsigned long long kb, const char *name)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/%s", kb, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Huge pages of 2^shift bytes a mapping could have here: those free and
 * not promised to a mapping yet, and the surplus the kernel may still make
 * (nr_overcommit_hugepages); -errno.
 */
static long huge_pages_available(uint32_t shift)
{
	unsigned long long kb = 1ull << (shift - 10);
	long free_ = hugepages_count(kb, "free_hugepages");
	long resv = hugepages_count(kb, "resv_hugepages");
	long over = hugepages_count(kb, "nr_overcommit_hugepages");
	long surplus = hugepages_count(kb, "surplus_hugepages");

	if (free_ < 0)
		return free_;
	free_ -= resv > 0 ? MIN(resv, free_) : 0;
	if (over > 0 && surplus >= 0 && over > surplus)
		free_ += over - surplus;
	return free_;
}

/* Huge pages of v the restore takes: all when reserved, else those its runs fill. */
static uint64_t huge_pages_taken(const struct process_record *p, const struct vma_record *v)
{
	uint64_t n = 0, last = UINT64_MAX;

	if (!(v->flags & VMA_F_NORESERVE))
		return (v->end - v->start) >> v->huge_shift;
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_run *r = &p->runs[i];

		uint64_t first, end;

		if (!r->len || r->vaddr < v->start || r->vaddr >= v->end ||
		    r->len > v->end - r->vaddr)
			continue;
		/* Runs are sorted: a page two of them fill is counted once. */
		first = r->vaddr >> v->huge_shift;
		end = (r->vaddr + r->len - 1) >> v->huge_shift;
		n += end - first + (first != last);
		last = end;
	}
	return n;
}

int validate_huge_pages(const struct computation *c, char *err, size_t errlen)
{
	uint64_t wanted[HUGE_SHIFT_MAX + 1] = { 0 };	/* pages, by log2 of their size */

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_vmas; k++) {
			const struct vma_record *v = &c->procs[i].vmas[k];

			/* Out of range: refused by the plan (check_vmas). */
			if (!(v->flags & VMA_F_HUGETLB) || v->huge_shift < HUGE_SHIFT_MIN ||
			    v->huge_shift > HUGE_SHIFT_MAX || v->end < v->start)
				continue;
			wanted[v->huge_shift] += huge_pages_taken(&c->procs[i], v);
		}
	for (uint32_t shift = HUGE_SHIFT_MIN; shift <= HUGE_SHIFT_MAX; shift++) {
		long have;

		if (!wanted[shift])
			continue;
		have = huge_pages_available(shift);
		if (have >= 0 && (uint64_t)have >= wanted[shift])
			continue;
		if (have < 0)
			snprintf(err, errlen, "the image holds hugetlb memory of %llu kB pages, which "
				 "this system does not offer (/sys/kernel/mm/hugepages: %s)",
				 1ull << (shift - 10), strerror((int)-have));
		else
			snprintf(err, errlen, "the image holds %llu hugetlb pages of %llu kB; this "
				 "system has %ld free (raise /sys/kernel/mm/hugepages/"
				 "hugepages-%llukB/nr_hugepages)", (unsigned long long)wanted[shift],
				 1ull << (shift - 10), have, 1ull << (shift - 10));
		return -ENOMEM;
	}
	return 0;
}

/* A file named in an image goes into a terminal: no control characters. */
static void printable(const char *s, char *out, size_t len)
{
	size_t i = 0;

	for (; *s && i + 1 < len; s++, i++)
		out[i] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[i] = '\0';
}

struct file_key {
	uint64_t dev, ino;
};

/* A file to compare: each name once, at its first process. */
struct candidate {
	const char *path;
	const struct file_id *then;
	pid_t pid;
	bool again;	/* a later record of a name already compared */
};

struct file_checks {
	const struct computation *c;
	bool ignore;
	/* Files the program writes, sorted: their changes are its own. */
	struct file_key *written;
	size_t nr_written;
	struct candidate *cand;
	size_t nr_cand;
	size_t nr_bad;
	char *err;
	size_t errlen, errpos;
};

static int cmp_key(const void *a, const void *b)
{
	const struct file_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static bool written(const struct file_checks *fc, uint64_t dev, uint64_t ino)
{
	struct file_key k = { dev, ino };

	return fc->nr_written &&
	       bsearch(&k, fc->written, fc->nr_written, sizeof(k), cmp_key) != NULL;
}

static size_t nr_records(const struct computation *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nr_procs; i++)
		n += 1 + c->procs[i].nr_fds + c->procs[i].nr_vmas;
	return n;
}

static int collect_written(struct file_checks *fc)
{
	const struct computation *c = fc->c;

	fc->written = calloc(nr_records(c) + 1, sizeof(*fc->written));
	if (!fc->written)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_fds; k++)
			if (p->fds[k].kind == FD_REGULAR && (p->fds[k].flags & O_ACCMODE) != O_RDONLY)
				fc->written[fc->nr_written++] =
					(struct file_key){ p->fds[k].dev, p->fds[k].ino };
		for (size_t k = 0; k < p->nr_vmas; k++)
			if (p->vmas[k].kind == VMA_FILE_SHARED && (p->vmas[k].prot & PROT_WRITE))
				fc->written[fc->nr_written++] =
					(struct file_key){ p->vmas[k].dev, p->vmas[k].ino };
	}
	qsort(fc->written, fc->nr_written, sizeof(*fc->written), cmp_key);
	return 0;
}

static void add_candidate(struct file_checks *fc, pid_t pid, const char *path,
			  const struct file_id *then)
{
	if (!path || path[0] != '/' || !(then->flags & FILE_ID_F_KNOWN))
		return;
	fc->cand[fc->nr_cand++] = (struct candidate){ .path = path, .then = then, .pid = pid };
}

static void collect_candidates(struct file_checks *fc, const struct process_record *p)
{
	if (p->zombie)
		return;
	add_candidate(fc, p->pid, p->mm.exe, &p->mm.exe_id);
	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];

		if (v->kind != VMA_FILE_PRIVATE && v->kind != VMA_FILE_SHARED)
			continue;
		if (!(v->flags & VMA_F_DELETED) && !written(fc, v->dev, v->ino))
			add_candidate(fc, p->pid, v->path, &v->file_id);
	}
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];

		if (f->kind == FD_REGULAR && !f->deleted && !written(fc, f->dev, f->ino))
			add_candidate(fc, p->pid, f->path, &f->file_id);
	}
}

static int cmp_cand(const void *a, const void *b)
{
	const struct candidate *x = *(const struct candidate *const *)a;
	const struct candidate *y = *(const struct candidate *const *)b;
	int r = strcmp(x->path, y->path);

	/* The same name: the first in the image's order first. */
	return r ? r : (x < y ? -1 : x > y);
}

/* Mark every record of a name but the first: by sorting, not n x n. */
static int mark_again(struct file_checks *fc)
{
	_cleanup_free_ struct candidate **sorted = calloc(fc->nr_cand + 1, sizeof(*sorted));

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < fc->nr_cand; i++)
		sorted[i] = &fc->cand[i];
	qsort(sorted, fc->nr_cand, sizeof(*sorted), cmp_cand);
	for (size_t i = 1; i < fc->nr_cand; i++)
		sorted[i]->again = !strcmp(sorted[i]->path, sorted[i - 1]->path);
	return 0;
}

static void problem(struct file_checks *fc, pid_t pid, const char *path, const char *what)
{
	char name[PATH_MAX];
	int n;

	printable(path, name, sizeof(name));
	fc->nr_bad++;
	if (fc->ignore) {
		log_warn("pid %d: %s %s; going on (--ignore-changed-files)", pid, name, what);
		return;
	}
	if (fc->errpos >= fc->errlen)
		return;
	n = snprintf(fc->err + fc->errpos, fc->errlen - fc->errpos, "%spid %d: %s %s",
		     fc->errpos ? "\n" : "", pid, name, what);
	if (n > 0)
		fc->errpos = MIN(fc->errpos + (size_t)n, fc->errlen);
}

/*
 * The file at path now, as file_id_read sees it; 1: size and mtime only (we
 * may not read it: an execute-only program).
 */
static int id_now(const char *path, struct file_id *now)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	/* Never open a FIFO or a device a damaged image names: it could block. */
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == EACCES) {
		file_id_from_stat(&st, now);
		return 1;
	}
	if (fd < 0)
		return -errno;
	return file_id_read(fd, now);
}

static void check_one(struct file_checks *fc, pid_t pid, const char *path,
		      const struct file_id *then)
{
	struct file_id now;
	char why[512], what[600];
	int r;

	/* Made anew for whoever looks (images from before the dump skipped them). */
	if (!strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5))
		return;
	r = id_now(path, &now);
	if (r == -ENOENT) {
		problem(fc, pid, path, "is gone since the dump");
		return;
	}
	if (r == -EINVAL) {
		problem(fc, pid, path, "is no regular file any more");
		return;
	}
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot be compared with the dump's: %s", strerror(-r));
		problem(fc, pid, path, what);
		return;
	}
	if (r == 1) {
		/* No build-id to compare with: size and mtime must do. */
		struct file_id known = *then;

		known.flags &= ~FILE_ID_F_BUILD_ID;
		if (file_id_same(&known, &now, why, sizeof(why)))
			return;
	} else if (file_id_same(then, &now, why, sizeof(why))) {
		return;
	}
	snprintf(what, sizeof(what), "changed since the dump (%s)", why);
	problem(fc, pid, path, what);
}

int validate_files(const struct computation *c, bool ignore_changed, char *err, size_t errlen)
{
	struct file_checks fc = { .c = c, .ignore = ignore_changed, .err = err,
				  .errlen = errlen };
	int r;

	if (errlen)
		err[0] = '\0';
	r = collect_written(&fc);
	if (r == 0) {
		fc.cand = calloc(nr_records(c) + 1, sizeof(*fc.cand));
		r = fc.cand ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < c->nr_procs && r == 0; i++)
		collect_candidates(&fc, &c->procs[i]);
	if (r == 0)
		r = mark_again(&fc);
	for (size_t i = 0; i < fc.nr_cand && r == 0; i++)
		if (!fc.cand[i].again)
			check_one(&fc, fc.cand[i].pid, fc.cand[i].path, fc.cand[i].then);
	free(fc.written);
	free(fc.cand);
	if (r < 0) {
		snprintf(err, errlen, "comparing the image's files with this host's: %s",
			 strerror(-r));
		return r;
	}
	if (!fc.nr_bad || ignore_changed)
		return 0;
	if (fc.errpos < errlen)
		snprintf(err + fc.errpos, errlen - fc.errpos,
			 "\n(the program would run with other files than it was dumped with; restore --ignore-changed-files goes on anyway)");
	return -ESTALE;
}
