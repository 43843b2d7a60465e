/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto/ctlmsg.h"
#include "proto/image.h"
#include "tracer/collect.h"
#include "tracer/pagescan.h"
#include "tracer/session.h"
#include "tracer/wptrack.h"
#include "util/fdpass.h"
#include "util/log.h"
#include "util/macro.h"

#define SCAN_REGIONS 512

void wptrack_prepare(struct session *s, const char *dir, const struct image_key *key, int mode,
		     bool incremental)
{
	struct computation *c = NULL;
	struct stat st;
	char err[1024];

	s->incr_parent = NULL;
	s->wp_mode = 0;
	if (mode == CTL_DUMP_CHECK || (!incremental && !s->nr_tracks))
		return;
	/* Once scanned, the pages written so far count from this dump on. */
	s->wp_mode = mode == CTL_DUMP_LEAVE_RUNNING ? 2 : 1;
	/* Each image is a new directory (image.h): its inode says which one this is. */
	if (!incremental || !s->incr_generation || stat(dir, &st) < 0 ||
	    st.st_dev != s->incr_dev || st.st_ino != s->incr_ino)
		return;
	if (image_read_flags(dir, key, &c, IMAGE_READ_SIZES_ONLY, err, sizeof(err)) < 0) {
		log_warn("incremental: the previous image is not usable (%s): everything is stored",
			 err);
		return;
	}
	/* Not the image the tracking counts from (replaced meanwhile): everything again. */
	if (c->generation != s->incr_generation || c->time_ns != s->incr_time_ns) {
		log_warn("incremental: %s is not generation %llu any more: everything is stored",
			 dir, (unsigned long long)s->incr_generation);
		computation_destroy(c);
		return;
	}
	s->incr_parent = c;
}

void wptrack_finish(struct session *s)
{
	if (s->incr_parent)
		computation_destroy(s->incr_parent);
	s->incr_parent = NULL;
}

void wptrack_bases_begin(struct collect_ctx *cx, struct process_record *p, struct wp_bases *wb)
{
	const struct computation *c = cx->s->incr_parent;

	memset(wb, 0, sizeof(*wb));
	wb->p = p;
	for (size_t i = 0; i < ARRAY_SIZE(wb->map); i++)
		wb->map[i] = -1;
	for (size_t i = 0; c && i < c->nr_procs; i++) {
		const struct process_record *pp = &c->procs[i];

		if (pp->pid != p->pid || pp->zombie)
			continue;
		/* A chain this long is cut: this process's pages all stored again. */
		if (pp->nr_base_files >= WP_MAX_CHAIN || !pp->core_path)
			return;
		wb->pp = pp;
		wb->parent_gen = c->generation;
		return;
	}
}

/* Index in p->base_files of the previous image's file k (0: its core), added if new. */
static int base_file_index(struct wp_bases *wb, uint32_t k)
{
	const struct process_record *pp = wb->pp;
	struct process_record *p = wb->p;
	struct base_file *nb, *bf;
	const struct base_file *src;
	char name[64];

	if (wb->map[k] >= 0)
		return wb->map[k];
	if (p->nr_base_files >= TC_MAX_BASE_FILES)
		return -E2BIG;
	nb = realloc(p->base_files, (p->nr_base_files + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	p->base_files = nb;
	bf = &nb[p->nr_base_files];
	memset(bf, 0, sizeof(*bf));
	if (k == 0) {
		snprintf(name, sizeof(name), "proc-%d.g%llu.core", p->pid,
			 (unsigned long long)wb->parent_gen);
		src = &pp->core_entry;
		bf->path = strdup(pp->core_path);
	} else {
		snprintf(name, sizeof(name), "%s", pp->base_files[k - 1].name);
		src = &pp->base_files[k - 1];
		bf->path = strdup(src->path);
	}
	bf->name = strdup(name);
	if (!bf->name || !bf->path) {
		free(bf->name);
		free(bf->path);
		return -ENOMEM;
	}
	bf->size = src->size;
	bf->xxh3 = src->xxh3;
	bf->head_len = src->head_len;
	bf->head_xxh3 = src->head_xxh3;
	if (base_file_set_sums(bf, src->chunk_sums, src->nr_chunk_sums) < 0) {
		free(bf->name);
		free(bf->path);
		return -ENOMEM;
	}
	wb->map[k] = (int)p->nr_base_files++;
	return wb->map[k];
}

static int add_base_run(struct wp_bases *wb, uint64_t a, uint64_t e, uint32_t k, uint64_t off)
{
	struct process_record *p = wb->p;
	int idx = base_file_index(wb, k);

	if (idx < 0)
		return idx;
	if (p->nr_base_runs) {
		struct base_run *last = &p->base_runs[p->nr_base_runs - 1];

		if (last->file == (uint32_t)idx && last->vaddr >= wb->vma_start &&
		    last->vaddr + last->len == a &&
		    last->file_off + last->len == off) {
			last->len += e - a;
			return 0;
		}
	}
	if (p->nr_base_runs == wb->cap) {
		uint32_t nc = wb->cap ? wb->cap * 2 : 64;
		struct base_run *n = realloc(p->base_runs, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->base_runs = n;
		wb->cap = nc;
	}
	p->base_runs[p->nr_base_runs++] = (struct base_run){ a, e - a, off, (uint32_t)idx, 0 };
	return 0;
}

int wptrack_unwritten(struct wp_bases *wb, uint64_t a, uint64_t e,
		      int (*own)(void *arg, uint64_t a, uint64_t e), void *arg)
{
	const struct process_record *pp = wb->pp;

	if (!pp)
		return own(arg, a, e);
	while (a < e) {
		const struct page_run *r;
		const struct base_run *br;
		uint64_t next = e, to;
		int ret;

		while (wb->i < pp->nr_runs && pp->runs[wb->i].vaddr + pp->runs[wb->i].len <= a)
			wb->i++;
		while (wb->b < pp->nr_base_runs &&
		       pp->base_runs[wb->b].vaddr + pp->base_runs[wb->b].len <= a)
			wb->b++;
		r = wb->i < pp->nr_runs ? &pp->runs[wb->i] : NULL;
		br = wb->b < pp->nr_base_runs ? &pp->base_runs[wb->b] : NULL;
		if (r && r->vaddr <= a) {
			to = MIN(e, r->vaddr + r->len);
			ret = add_base_run(wb, a, to, 0, r->file_off + (a - r->vaddr));
		} else if (br && br->vaddr <= a) {
			to = MIN(e, br->vaddr + br->len);
			ret = add_base_run(wb, a, to, br->file + 1, br->file_off + (a - br->vaddr));
		} else {
			/* Not in the previous image (it could not be, or this is no
			 * longer the process it held): stored anew, never guessed. */
			if (r)
				next = MIN(next, r->vaddr);
			if (br)
				next = MIN(next, br->vaddr);
			to = next;
			ret = own(arg, a, to);
		}
		if (ret == -E2BIG)
			ret = own(arg, a, to);
		if (ret < 0)
			return ret;
		a = to;
	}
	return 0;
}

static struct wp_track *find_track(struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nr_tracks; i++)
		if (s->tracks[i].pid == pid)
			return &s->tracks[i];
	return NULL;
}

static void drop_track(struct session *s, struct wp_track *t)
{
	closep(&t->uffd);
	*t = s->tracks[--s->nr_tracks];
}

/*
 * A userfaultfd made in the process (it is bound to the mm of its maker),
 * taken into our hands and closed there: the program never sees it.
 */
static int new_uffd(struct collect_ctx *cx, int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC_ };
	_cleanup_close_ int pidfd = -1;
	long fd, ret;
	int h, r;

	r = collect_remote(cx, cx->pid, SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY, 0, 0, 0,
			   &fd);
	if (r < 0)
		return r;
	if (fd < 0)
		return (int)fd;
	pidfd = syscall(SYS_pidfd_open, cx->pid, 0);
	h = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	r = h < 0 ? neg_errno() : 0;
	collect_remote(cx, cx->pid, SYS_close, fd, 0, 0, 0, &ret);
	if (r < 0)
		return r;
	if (ioctl(h, UFFDIO_API, &api) < 0) {
		r = neg_errno();
		close(h);
		return r;
	}
	*out = h;
	return 0;
}

static int protect_present(int pagemap, const struct vma_record *v)
{
	struct page_region regions[SCAN_REGIONS];
	uint64_t a = v->start;

	while (a < v->end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg), .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = a, .end = v->end,
			.vec = (uint64_t)(uintptr_t)regions, .vec_len = SCAN_REGIONS,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT,
		};

		if (ioctl(pagemap, PM_SCAN_IOCTL, &arg) < 0)
			return neg_errno();
		if (arg.walk_end <= a)
			break;
		a = arg.walk_end;
	}
	return 0;
}

static int register_vmas(int uffd, int pagemap, struct process_record *p, bool *mm_gone)
{
	for (size_t i = 0; i < p->nr_vmas; i++) {
		struct vma_record *v = &p->vmas[i];
		struct uffdio_register reg = {
			.range = { v->start, v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		int r;

		/* Hugetlb pages are protected whole or not at all: stored whole every time. */
		if (v->wp_tracked || (v->kind != VMA_ANON_PRIVATE && v->kind != VMA_FILE_PRIVATE) ||
		    (v->flags & VMA_F_HUGETLB))
			continue;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			r = neg_errno();
			/* Our userfaultfd belongs to a memory the process left (exec). */
			if (r == -ESRCH || r == -ENOENT || r == -EFAULT) {
				*mm_gone = true;
				return r;
			}
			/* Another userfaultfd (the program's own), a kind it refuses:
			 * left untracked, stored whole every time. */
			log_debug("pid %d: mapping 0x%llx: not tracked: %s", p->pid,
				  (unsigned long long)v->start, strerror(-r));
			continue;
		}
		r = protect_present(pagemap, v);
		if (r < 0)
			return r;
		v->wp_tracked = true;
	}
	return 0;
}

void wptrack_arm(struct collect_ctx *cx, struct process_record *p)
{
	struct session *s = cx->s;
	_cleanup_close_ int pagemap = -1;
	struct wp_track *t;
	uint64_t start = cx->start_time;
	char path[64];
	bool mm_gone = false;
	int r;

	if (s->wp_mode < 2 || p->zombie)
		return;
	t = find_track(s, cx->pid);
	if (t && t->start_time != start) {
		drop_track(s, t);
		t = NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", cx->pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap < 0) {
		r = neg_errno();
		goto fail;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!t) {
			struct wp_track *n = realloc(s->tracks, (s->nr_tracks + 1) * sizeof(*n));
			int uffd = -1;

			if (!n) {
				r = -ENOMEM;
				goto fail;
			}
			s->tracks = n;
			r = new_uffd(cx, &uffd);
			if (r < 0)
				goto fail;
			t = &s->tracks[s->nr_tracks++];
			*t = (struct wp_track){ .pid = cx->pid, .start_time = start, .uffd = uffd,
						.fresh = true };
		}
		t->seen = true;
		r = register_vmas(t->uffd, pagemap, p, &mm_gone);
		if (r == 0 || !mm_gone)
			break;
		drop_track(s, t);
		t = NULL;
		mm_gone = false;
	}
	if (r == 0)
		return;
fail:
	log_warn("pid %d: written pages not tracked (its next image is whole): %s", p->pid,
		 strerror(-r));
}

struct track_msg {
	pid_t pid;
	uint32_t fresh;
	uint64_t start_time;
};

int wptrack_send(struct session *s, int sock)
{
	for (size_t i = 0; i < s->nr_tracks; i++) {
		const struct wp_track *t = &s->tracks[i];
		struct track_msg m = { t->pid, t->fresh, t->start_time };
		int r;

		if (!t->seen)
			continue;
		r = fdpass_send(sock, &m, sizeof(m), t->fresh ? t->uffd : -1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int recv_track(int sock, struct track_msg *m, int *fd)
{
	int r = fdpass_recv(sock, m, sizeof(*m), fd);

	if (r > 0 && m->fresh && *fd < 0)
		r = -EBADMSG;
	return r;
}

void wptrack_receive(struct session *s, int sock, bool valid)
{
	struct wp_track *keep = NULL;
	size_t nr_keep = 0;
	struct track_msg m;
	int fd, r;

	while ((r = recv_track(sock, &m, &fd)) > 0) {
		struct wp_track *n, *old;

		if (!valid) {
			closep(&fd);
			continue;
		}
		n = realloc(keep, (nr_keep + 1) * sizeof(*n));
		if (!n) {
			closep(&fd);
			continue;
		}
		keep = n;
		old = find_track(s, m.pid);
		if (!m.fresh) {
			if (!old || old->start_time != m.start_time)
				continue;
			fd = old->uffd;
			old->uffd = -1;
		}
		keep[nr_keep++] = (struct wp_track){ .pid = m.pid, .start_time = m.start_time,
						     .uffd = fd };
	}
	if (!valid)
		return;
	/* What the worker did not name: gone, or out of the computation. */
	wptrack_forget(s);
	s->tracks = keep;
	s->nr_tracks = nr_keep;
}

void wptrack_forget(struct session *s)
{
	for (size_t i = 0; i < s->nr_tracks; i++)
		closep(&s->tracks[i].uffd);
	free(s->tracks);
	s->tracks = NULL;
	s->nr_tracks = 0;
}
