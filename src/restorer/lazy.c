// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "restorer/lazy.h"
#include "restorer/pages.h"
#include "restorer/plan.h"
#include "restorer/stub/uffd_new.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

#define LAZY_PAGE 4096ull
/* Brought in on a fault: the page and what follows it in its run. */
#define LAZY_FAULT_WINDOW (64ull << 10)
/* Brought in per step of the background fetch, between two looks at faults. */
#define LAZY_BATCH (1ull << 20)
_Static_assert(LAZY_BATCH >= TC_CHUNK_SIZE, "a checked piece fits the buffer");
#define LAZY_MSGS 32
#define LAZY_MAX_FILES (TC_MAX_BASE_FILES + 1)

/*
 * A file pages come from.  With chunk sums (a plain core), each piece of
 * TC_CHUNK_SIZE is checked before a page of it is used; without (compressed,
 * or older), the whole file was checked before the program ran.
 */
struct chunked_file {
	uint64_t id;		/* for the cache: never the same twice in a server */
	int fd;
	uint64_t size, head_len;
	uint64_t *sums;		/* [nr_sums], or NULL */
	uint32_t nr_sums;
	uint8_t *checked;	/* a bit per piece */
};

/* Which checked piece buf holds now (a fault often lands in the last one). */
struct chunk_cache {
	uint64_t id;		/* the chunked_file's; 0: nothing */
	uint64_t k;
};

/* Where a restored process's pages are; shared with the children it forks. */
struct lazy_source {
	unsigned int refs;
	pid_t pid;		/* the restored process, for a kill */
	struct chunked_file file[LAZY_MAX_FILES];	/* its core, then earlier generations' */
	uint32_t nr_files;
	bool reported;		/* a failure was logged */
};

/* Pages still to come: [vaddr, vaddr + len) at file_off of file. */
struct lazy_run {
	uint64_t vaddr, len, file_off;
	uint32_t file;
};

/* One address space: a restored process, or a child forked since. */
struct lazy_mm {
	int uffd;
	struct lazy_source *src;
	struct lazy_run *runs;	/* sorted by vaddr, disjoint */
	size_t nr, cap;
	uint64_t deferred[LAZY_MSGS];	/* faults to serve once events are read */
	size_t nr_deferred;
	bool dead;
};

/* The page server process's own state. */
struct lazy_state {
	const struct computation *c;	/* our copy, from the fork */
	int ctl;		/* to the supervisor; -1 once it is gone */
	bool settle_wanted;	/* it waits for every page to be in */
	bool idle;		/* nothing left to bring in */
	struct lazy_stats stats;
	struct lazy_mm **mms;
	size_t nr_mms, cap_mms;
	uint8_t *buf;		/* LAZY_BATCH, page aligned */
	struct chunk_cache cache;	/* what buf holds */
	uint64_t next_file_id;
	uint64_t start_ns;	/* CLOCK_MONOTONIC when serving began */
	pid_t supervisor;	/* whose log we write to, once it has one */
	int log_fd;
};

/* The supervisor's handle on it. */
struct lazy_server {
	int sock;		/* SOCK_SEQPACKET */
	pid_t pid;
};

/* Between the two, one datagram each way per request. */
enum { LAZY_ADD = 1, LAZY_ADDED, LAZY_SETTLE, LAZY_SETTLED };

struct lazy_msg {
	uint32_t type;
	uint32_t proc;		/* LAZY_ADD: index in the computation */
	int32_t pid;		/* LAZY_ADD: the process, as the supervisor sees it */
	int32_t r;		/* replies: 0 or -errno */
	char err[512];
};


static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void chunked_file_close(struct chunked_file *f)
{
	closep(&f->fd);
	free(f->sums);
	free(f->checked);
	f->sums = NULL;
	f->checked = NULL;
}

static int chunked_file_open(struct chunked_file *f, const char *path, const struct base_file *e,
			     uint64_t zoff, uint64_t zend, char *err, size_t errlen)
{
	f->fd = pages_open(path, zoff, zend, err, errlen);
	if (f->fd < 0)
		return f->fd;
	f->size = e->size;
	f->head_len = e->head_len;
	/* A compressed core is read uncompressed, from a memfd: its sums do not apply. */
	if (!e->chunk_sums || zoff)
		return 0;
	f->sums = malloc(e->nr_chunk_sums * sizeof(*f->sums));
	f->checked = calloc((e->nr_chunk_sums + 7) / 8, 1);
	if (!f->sums || !f->checked)
		return -ENOMEM;
	memcpy(f->sums, e->chunk_sums, e->nr_chunk_sums * sizeof(*f->sums));
	f->nr_sums = e->nr_chunk_sums;
	return 0;
}

/*
 * The bytes [off, off + *len) of f, checked: *len is cut to the end of the
 * piece off is in, *data points into buf (TC_CHUNK_SIZE) or at the bytes
 * read there.  0, or -EBADMSG (damaged) / -errno.  cache (may be NULL)
 * says what buf holds.
 */
static int chunked_read(struct chunked_file *f, uint64_t off, uint64_t *len, uint8_t *buf,
			struct chunk_cache *cache, const uint8_t **data)
{
	uint64_t k, start, n;
	ssize_t got;

	if (!f->sums || off < f->head_len) {
		if (cache)
			cache->id = 0;
		got = pread(f->fd, buf, *len, (off_t)off);
		if (got < 0)
			return -errno;
		if ((uint64_t)got != *len)
			return -EIO;
		*data = buf;
		return 0;
	}
	k = (off - f->head_len) / TC_CHUNK_SIZE;
	if (k >= f->nr_sums)
		return -EBADMSG;
	start = f->head_len + k * TC_CHUNK_SIZE;
	n = MIN(TC_CHUNK_SIZE, f->size - start);
	if (cache && f->id && cache->id == f->id && cache->k == k)
		goto checked;
	if (cache)
		cache->id = 0;
	got = pread(f->fd, buf, n, (off_t)start);
	if (got < 0)
		return -errno;
	/* Read whole and checked in our own buffer: what is served is what was checked. */
	if ((uint64_t)got != n || XXH3_64bits(buf, n) != f->sums[k])
		return -EBADMSG;
	f->checked[k / 8] |= 1u << (k % 8);
	if (cache) {
		cache->id = f->id;
		cache->k = k;
	}
checked:
	*len = MIN(*len, start + n - off);
	*data = buf + (off - start);
	return 0;
}

static void source_put(struct lazy_source *src)
{
	if (!src || --src->refs)
		return;
	for (int i = 0; i < LAZY_MAX_FILES; i++)
		chunked_file_close(&src->file[i]);
	free(src);
}

static void mm_free(struct lazy_mm *mm)
{
	if (!mm)
		return;
	closep(&mm->uffd);
	source_put(mm->src);
	free(mm->runs);
	free(mm);
}

static int runs_reserve(struct lazy_mm *mm, size_t n)
{
	struct lazy_run *r;
	size_t cap;

	if (n <= mm->cap)
		return 0;
	cap = MAX(n, mm->cap * 2 + 16);
	r = realloc(mm->runs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	mm->runs = r;
	mm->cap = cap;
	return 0;
}

/* The run holding addr, or the index where one starting at addr would go. */
static size_t run_find(const struct lazy_mm *mm, uint64_t addr, bool *inside)
{
	size_t lo = 0, hi = mm->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->runs[mid].vaddr + mm->runs[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	*inside = lo < mm->nr && mm->runs[lo].vaddr <= addr;
	return lo;
}

/* [start, end) is no longer to come: it arrived, or is gone from the program. */
static int runs_cut(struct lazy_mm *mm, uint64_t start, uint64_t end)
{
	bool inside;
	size_t i = run_find(mm, start, &inside);

	while (i < mm->nr && mm->runs[i].vaddr < end) {
		struct lazy_run *r = &mm->runs[i];
		uint64_t r_end = r->vaddr + r->len;

		if (r->vaddr < start && r_end > end) {
			/* The middle goes: the run becomes two. */
			struct lazy_run tail = { end, r_end - end, r->file_off + (end - r->vaddr),
						 r->file };

			if (runs_reserve(mm, mm->nr + 1) < 0)
				return -ENOMEM;
			r = &mm->runs[i];
			r->len = start - r->vaddr;
			memmove(&mm->runs[i + 2], &mm->runs[i + 1],
				(mm->nr - i - 1) * sizeof(*r));
			mm->runs[i + 1] = tail;
			mm->nr++;
			return 0;
		}
		if (r->vaddr < start) {
			r->len = start - r->vaddr;
			i++;
		} else if (r_end > end) {
			r->file_off += end - r->vaddr;
			r->len = r_end - end;
			r->vaddr = end;
			i++;
		} else {
			memmove(r, r + 1, (mm->nr - i - 1) * sizeof(*r));
			mm->nr--;
		}
	}
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct lazy_run *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* mremap moved [from, from + len) to to: so did its pages to come. */
static int runs_move(struct lazy_mm *mm, uint64_t from, uint64_t to, uint64_t len)
{
	_cleanup_free_ struct lazy_run *moved = NULL;
	size_t n = 0;
	bool inside;
	int r;

	moved = calloc(mm->nr + 2, sizeof(*moved));
	if (!moved)
		return -ENOMEM;
	for (size_t i = run_find(mm, from, &inside); i < mm->nr && mm->runs[i].vaddr < from + len;
	     i++) {
		struct lazy_run x = mm->runs[i];
		uint64_t s = MAX(x.vaddr, from), e = MIN(x.vaddr + x.len, from + len);

		moved[n++] = (struct lazy_run){ s - from + to, e - s, x.file_off + (s - x.vaddr),
						x.file };
	}
	r = runs_cut(mm, from, from + len);
	if (r == 0)
		r = runs_cut(mm, to, to + len);
	if (r == 0)
		r = runs_reserve(mm, mm->nr + n);
	if (r < 0)
		return r;
	memcpy(&mm->runs[mm->nr], moved, n * sizeof(*moved));
	mm->nr += n;
	qsort(mm->runs, mm->nr, sizeof(*mm->runs), run_cmp);
	return 0;
}

static void pick_log(struct lazy_state *ls);

/* Never 0 or -1: kill(2) would take our process group, or everything. */
static void kill_source(const struct lazy_source *src)
{
	if (src->pid > 0)
		kill(src->pid, SIGKILL);
}

/* A page that cannot be read: a touch of it is SIGBUS, and the process is killed. */
static void poison(struct lazy_state *ls, struct lazy_mm *mm, uint64_t addr, uint64_t len,
		   const struct lazy_run *from, int err)
{
	struct uffdio_poison_ p = { .range = { addr, len } };

	if (ioctl(mm->uffd, UFFDIO_POISON_, &p) < 0 && errno != EEXIST)
		log_warn("pid %d: restore --lazy: poisoning 0x%llx: %m", mm->src->pid,
			 (unsigned long long)addr);
	ls->stats.poisoned += len / LAZY_PAGE;
	if (mm->src->reported)
		return;
	mm->src->reported = true;
	pick_log(ls);
	log_err("pid %d: restore --lazy: the pages at 0x%llx could not be read from the image "
		"(file %u at %llu): %s; killed, never given a wrong page", mm->src->pid,
		(unsigned long long)addr, from->file, (unsigned long long)from->file_off,
		err == -EBADMSG ? "checksum mismatch (damaged)" : strerror(-err));
	kill_source(mm->src);
}

/*
 * Bring in [addr, addr + len) of the run at index i (addr inside it):
 * read, then UFFDIO_COPY.  0, -EAGAIN (the program's mappings are changing:
 * read its events first), -ESRCH (its memory is gone).
 */
static int bring_in(struct lazy_state *ls, struct lazy_mm *mm, size_t i, uint64_t addr,
		    uint64_t len)
{
	struct lazy_run r = mm->runs[i];
	uint64_t off = r.file_off + (addr - r.vaddr), done = 0;
	const uint8_t *data;
	int err;

	len = MIN(len, MIN(LAZY_BATCH, r.vaddr + r.len - addr));
	err = r.file < mm->src->nr_files ? chunked_read(&mm->src->file[r.file], off, &len, ls->buf,
							&ls->cache, &data)
					 : -EBADMSG;
	if (err < 0) {
		poison(ls, mm, addr, len, &r, err);
		return runs_cut(mm, addr, addr + len);
	}
	while (done < len) {
		struct uffdio_copy cp = {
			.dst = addr + done, .src = (uint64_t)data + done, .len = len - done,
		};
		int ret = ioctl(mm->uffd, UFFDIO_COPY, &cp);
		int e = errno;

		if (cp.copy > 0)
			done += (uint64_t)cp.copy;
		if (ret == 0)
			continue;
		if (e == EAGAIN && cp.copy > 0)
			continue;
		if (e == EEXIST || cp.copy == -EEXIST) {
			/* Already there: a zero page a fault put there first. */
			done += LAZY_PAGE;
			continue;
		}
		runs_cut(mm, addr, addr + done);
		ls->stats.fetched += done;
		if (e == EAGAIN)
			return -EAGAIN;
		if (e == ESRCH || e == ENOENT || e == EFAULT)
			return -ESRCH;
		log_warn("pid %d: restore --lazy: UFFDIO_COPY at 0x%llx: %s", mm->src->pid,
			 (unsigned long long)(addr + done), strerror(e));
		return -e;
	}
	ls->stats.fetched += len;
	return runs_cut(mm, addr, addr + len);
}

/* The program touched addr: the page and a little after it, or a zero page. */
static int serve_fault(struct lazy_state *ls, struct lazy_mm *mm, uint64_t addr)
{
	bool inside;
	size_t i;

	addr &= ~(LAZY_PAGE - 1);
	i = run_find(mm, addr, &inside);
	if (!inside) {
		struct uffdio_zeropage z = { .range = { addr, LAZY_PAGE } };

		if (ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z) == 0 || errno == EEXIST) {
			ls->stats.zero += 1;
			return 0;
		}
		if (errno == EAGAIN)
			return -EAGAIN;
		return -ESRCH;
	}
	ls->stats.faults += 1;
	return bring_in(ls, mm, i, addr, LAZY_FAULT_WINDOW);
}

static int add_mm(struct lazy_state *ls, struct lazy_mm *mm)
{
	if (ls->nr_mms == ls->cap_mms) {
		size_t cap = ls->cap_mms * 2 + 8;
		struct lazy_mm **v = realloc(ls->mms, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ls->mms = v;
		ls->cap_mms = cap;
	}
	ls->mms[ls->nr_mms++] = mm;
	return 0;
}

/* The program forked: the child has the same pages to come, in its own uffd. */
static int on_fork(struct lazy_state *ls, struct lazy_mm *parent, int uffd)
{
	struct lazy_mm *mm = calloc(1, sizeof(*mm));
	int r;

	if (!mm) {
		close(uffd);
		return -ENOMEM;
	}
	mm->uffd = uffd;
	mm->src = parent->src;
	mm->src->refs++;
	r = runs_reserve(mm, parent->nr);
	if (r == 0) {
		memcpy(mm->runs, parent->runs, parent->nr * sizeof(*mm->runs));
		mm->nr = parent->nr;
		fcntl(uffd, F_SETFL, O_NONBLOCK);
		r = add_mm(ls, mm);
	}
	if (r < 0) {
		/* Its pages would be zeros: never run on that. */
		log_err("pid %d: restore --lazy: a forked child cannot be served: %s",
			parent->src->pid, strerror(-r));
		mm_free(mm);
	}
	return r;
}

static void defer(struct lazy_mm *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->nr_deferred; i++)
		if (mm->deferred[i] == addr)
			return;
	if (mm->nr_deferred < LAZY_MSGS)
		mm->deferred[mm->nr_deferred++] = addr;
}

/* Read what the kernel has for mm: faults and the program's changes. */
static void read_events(struct lazy_state *ls, struct lazy_mm *mm)
{
	struct uffd_msg msg[LAZY_MSGS];
	ssize_t n;

	while (!mm->dead) {
		n = read(mm->uffd, msg, sizeof(msg));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t k = 0; k < (size_t)n / sizeof(msg[0]); k++) {
			const struct uffd_msg *m = &msg[k];
			int r = 0;

			switch (m->event) {
			case UFFD_EVENT_PAGEFAULT:
				defer(mm, m->arg.pagefault.address);
				break;
			case UFFD_EVENT_FORK:
				r = on_fork(ls, mm, (int)m->arg.fork.ufd);
				break;
			case UFFD_EVENT_REMAP:
				r = runs_move(mm, m->arg.remap.from, m->arg.remap.to,
					      m->arg.remap.len);
				break;
			case UFFD_EVENT_REMOVE:
			case UFFD_EVENT_UNMAP:
				log_debug("pid %d: restore --lazy: %s 0x%llx-0x%llx", mm->src->pid,
					  m->event == UFFD_EVENT_REMOVE ? "dropped" : "unmapped",
					  (unsigned long long)m->arg.remove.start,
					  (unsigned long long)m->arg.remove.end);
				r = runs_cut(mm, m->arg.remove.start, m->arg.remove.end);
				break;
			default:
				break;
			}
			if (r == -ENOMEM) {
				log_err("pid %d: restore --lazy: out of memory; killed",
					mm->src->pid);
				kill_source(mm->src);
				mm->dead = true;
			}
		}
		if ((size_t)n < sizeof(msg))
			break;
	}
}

static void serve_deferred(struct lazy_state *ls, struct lazy_mm *mm)
{
	size_t kept = 0;

	for (size_t i = 0; i < mm->nr_deferred && !mm->dead; i++) {
		int r = serve_fault(ls, mm, mm->deferred[i]);

		if (r == -EAGAIN)
			mm->deferred[kept++] = mm->deferred[i];
		else if (r == -ESRCH)
			mm->dead = true;
	}
	mm->nr_deferred = mm->dead ? 0 : kept;
}

/* One step of the background fetch; whether anything was left to do. */
static bool fetch_some(struct lazy_state *ls)
{
	for (size_t i = 0; i < ls->nr_mms; i++) {
		struct lazy_mm *mm = ls->mms[i];
		int r;

		if (mm->dead || !mm->nr || mm->nr_deferred)
			continue;
		r = bring_in(ls, mm, 0, mm->runs[0].vaddr, LAZY_BATCH);
		if (r == -ESRCH)
			mm->dead = true;
		return true;
	}
	return false;
}

/* Done with an address space: all in, or gone. Its uffd closes: it runs as usual. */
static void drop_finished(struct lazy_state *ls)
{
	size_t kept = 0;

	for (size_t i = 0; i < ls->nr_mms; i++) {
		struct lazy_mm *mm = ls->mms[i];

		if (mm->dead || (!mm->nr && !mm->nr_deferred))
			mm_free(mm);
		else
			ls->mms[kept++] = mm;
	}
	ls->nr_mms = kept;
}

/* p's pages in the mappings the stub left to us, in address order, with their file. */
static int collect_runs(const struct process_record *p, struct lazy_mm *mm)
{
	size_t i = 0, b = 0, v = 0;

	while (i < p->nr_runs || b < p->nr_base_runs) {
		bool own = b == p->nr_base_runs ||
			   (i < p->nr_runs && p->runs[i].vaddr < p->base_runs[b].vaddr);
		struct lazy_run r;

		if (own) {
			r = (struct lazy_run){ p->runs[i].vaddr, p->runs[i].len,
					       p->runs[i].file_off, 0 };
			i++;
		} else {
			const struct base_run *br = &p->base_runs[b++];

			if (br->file >= p->nr_base_files)
				return -EINVAL;
			r = (struct lazy_run){ br->vaddr, br->len, br->file_off, br->file + 1 };
		}
		while (v < p->nr_vmas && p->vmas[v].end <= r.vaddr)
			v++;
		if (v == p->nr_vmas || r.vaddr < p->vmas[v].start ||
		    r.vaddr + r.len > p->vmas[v].end)
			return -EINVAL;
		if (!plan_vma_lazy(p, &p->vmas[v]))
			continue;
		if (runs_reserve(mm, mm->nr + 1) < 0)
			return -ENOMEM;
		mm->runs[mm->nr++] = r;
	}
	return 0;
}

static int open_source(const struct process_record *p, pid_t pid, struct lazy_source **out,
		       char *err, size_t errlen)
{
	struct lazy_source *src = calloc(1, sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	src->refs = 1;
	src->pid = pid;
	for (int i = 0; i < LAZY_MAX_FILES; i++)
		src->file[i].fd = -1;
	if (p->nr_base_files + 1 > LAZY_MAX_FILES) {
		source_put(src);
		return -E2BIG;
	}
	/* Our own fds: a compressed core is one more memfd, uncompressed. */
	r = chunked_file_open(&src->file[0], p->core_path, &p->core_entry, p->zstd_pages_off,
			      p->zstd_pages_end, err, errlen);
	for (size_t k = 0; r == 0 && k < p->nr_base_files; k++) {
		const struct base_file *b = &p->base_files[k];

		r = chunked_file_open(&src->file[k + 1], b->path, b, b->zstd_pages_off,
				      b->zstd_pages_end, err, errlen);
	}
	if (r < 0) {
		source_put(src);
		return r;
	}
	src->nr_files = (uint32_t)p->nr_base_files + 1;
	*out = src;
	return 0;
}

/*
 * Our messages go to the supervisor's log once it has one (it opens it
 * after the restore), before that to stderr, as the restore's own.
 */
static void pick_log(struct lazy_state *ls)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], err[16];

	if (ls->log_fd >= 0 || runtime_dir(dir, sizeof(dir), false, err, sizeof(err)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/%d.log", dir, ls->supervisor);
	ls->log_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	log_to_fd(ls->log_fd);
}

static void note_idle(struct lazy_state *ls)
{
	bool idle = ls->nr_mms == 0;

	if (idle && !ls->idle) {
		ls->stats.done_ns = mono_ns();
		pick_log(ls);
		if (ls->next_file_id)	/* something was served */
			log_info("restore --lazy: every page is in, %llu ms after serving began: %llu MiB, "
				 "%llu pages on first touch, %llu zero pages, %llu poisoned",
				 (unsigned long long)((ls->stats.done_ns - ls->start_ns) / 1000000),
				 (unsigned long long)(ls->stats.fetched >> 20),
				 (unsigned long long)ls->stats.faults, (unsigned long long)ls->stats.zero,
				 (unsigned long long)ls->stats.poisoned);
	}
	ls->idle = idle;
	if (idle && ls->settle_wanted && ls->ctl >= 0) {
		struct lazy_msg m = { .type = LAZY_SETTLED };

		ls->settle_wanted = false;
		(void)send(ls->ctl, &m, sizeof(m), MSG_NOSIGNAL);
	}
}

/* A restored process's userfaultfd, with what it stands for. */
static int take_process(struct lazy_state *ls, const struct lazy_msg *in, int uffd,
			struct lazy_msg *out)
{
	const struct process_record *p;
	struct lazy_mm *mm;
	int r;

	if (uffd < 0 || in->proc >= ls->c->nr_procs) {
		closep(&uffd);
		snprintf(out->err, sizeof(out->err), "restore --lazy: a malformed request");
		return -EINVAL;
	}
	p = &ls->c->procs[in->proc];
	mm = calloc(1, sizeof(*mm));
	if (!mm) {
		close(uffd);
		return -ENOMEM;
	}
	mm->uffd = uffd;
	fcntl(uffd, F_SETFL, O_NONBLOCK);
	r = collect_runs(p, mm);
	if (r < 0)
		snprintf(out->err, sizeof(out->err), "pid %d: restore --lazy: its pages: %s", p->pid,
			 strerror(-r));
	if (r == 0)
		r = open_source(p, in->pid, &mm->src, out->err, sizeof(out->err));
	if (r == 0) {
		for (uint32_t k = 0; k < mm->src->nr_files; k++)
			mm->src->file[k].id = ++ls->next_file_id;
		r = add_mm(ls, mm);
	}
	if (r < 0)
		mm_free(mm);
	return r;
}

/* A request of the supervisor's; false once it is gone. */
static bool serve_request(struct lazy_state *ls)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct lazy_msg in, out = { 0 };
	struct iovec iov = { &in, sizeof(in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
			     .msg_controllen = sizeof(cm) };
	struct cmsghdr *c;
	int fd = -1;
	ssize_t n = recvmsg(ls->ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	for (c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n != (ssize_t)sizeof(in)) {
		closep(&fd);
		return false;
	}
	if (in.type == LAZY_ADD) {
		out.type = LAZY_ADDED;
		out.r = take_process(ls, &in, fd, &out);
		(void)send(ls->ctl, &out, sizeof(out), MSG_NOSIGNAL);
	} else if (in.type == LAZY_SETTLE) {
		closep(&fd);
		ls->settle_wanted = true;
		ls->idle = false;	/* answered at the next look */
	} else {
		closep(&fd);
	}
	return true;
}

/* The server process: until every page of every process is in and the supervisor let go. */
static void serve(struct lazy_state *ls)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	ls->start_ns = mono_ns();
	while (ls->ctl >= 0 || ls->nr_mms) {
		bool busy = false;
		size_t n = 0, nr;
		int r;

		drop_finished(ls);
		note_idle(ls);
		/* The last address space just finished, the supervisor long gone: done. */
		if (ls->ctl < 0 && !ls->nr_mms)
			break;
		if (cap < ls->nr_mms + 1) {
			struct pollfd *v = realloc(pfd, (ls->nr_mms + 1) * sizeof(*v));

			if (!v) {
				usleep(1000);
				continue;
			}
			pfd = v;
			cap = ls->nr_mms + 1;
		}
		pfd[n++] = (struct pollfd){ .fd = ls->ctl, .events = POLLIN };
		nr = ls->nr_mms;	/* a fork below may add one: it is looked at next time */
		for (size_t i = 0; i < nr; i++) {
			pfd[n++] = (struct pollfd){ .fd = ls->mms[i]->uffd, .events = POLLIN };
			busy |= ls->mms[i]->nr > 0 || ls->mms[i]->nr_deferred > 0;
		}
		/* Faults first; while pages are left, look again at once after a batch. */
		r = poll(pfd, n, busy ? 0 : -1);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && !serve_request(ls))
			closep(&ls->ctl);
		for (size_t i = 0; i < nr && r > 0; i++) {
			struct lazy_mm *mm = ls->mms[i];

			if (pfd[i + 1].revents & POLLIN)
				read_events(ls, mm);
			else if (pfd[i + 1].revents & (POLLERR | POLLHUP))
				mm->dead = true;
		}
		for (size_t i = 0; i < ls->nr_mms; i++)
			if (ls->mms[i]->nr_deferred)
				serve_deferred(ls, ls->mms[i]);
		if (r == 0)
			fetch_some(ls);
	}
	free(pfd);
}

int lazy_server_new(struct lazy_server **out, const struct computation *c)
{
	struct lazy_server *ls = calloc(1, sizeof(*ls));
	pid_t supervisor = getpid();
	int sv[2];

	if (!ls)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(ls);
		return -errno;
	}
	ls->pid = fork();
	if (ls->pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		free(ls);
		return r;
	}
	if (ls->pid == 0) {
		struct lazy_state st = { .c = c, .supervisor = supervisor, .log_fd = -1 };

		/*
		 * A process of its own: it outlives a supervisor killed while
		 * pages are still to come, which would otherwise be zeros.  It
		 * keeps only its socket and stdio: the program's descriptors the
		 * restore holds must close when the program closes them.
		 */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0);
		st.ctl = 3;
		setsid();
		prctl(PR_SET_NAME, "tc-lazy-pages");
		st.buf = mmap(NULL, LAZY_BATCH, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (st.buf == MAP_FAILED)
			_exit(1);
		serve(&st);
		_exit(0);
	}
	close(sv[1]);
	ls->sock = sv[0];
	*out = ls;
	return 0;
}

/* One request and its answer (deadline: timeout_ms, -1 none). */
static int ask(struct lazy_server *ls, struct lazy_msg *m, int fd, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm = { 0 };
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = ls->sock, .events = POLLIN };
	uint32_t want = m->type + 1;
	ssize_t n;
	int r;

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = &cm;
		mh.msg_controllen = sizeof(cm);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(ls->sock, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -errno ? -errno : -EIO;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	n = recv(ls->sock, m, sizeof(*m), 0);
	if (n != (ssize_t)sizeof(*m) || m->type != want)
		return -EPROTO;
	m->err[sizeof(m->err) - 1] = '\0';
	return m->r;
}

int lazy_server_add(struct lazy_server *ls, size_t proc, pid_t pid, int uffd, char *err,
		    size_t errlen)
{
	struct lazy_msg m = { .type = LAZY_ADD, .proc = (uint32_t)proc, .pid = pid };
	int r = ask(ls, &m, uffd, -1);

	close(uffd);
	if (r < 0)
		snprintf(err, errlen, "%s", m.err[0] ? m.err : "restore --lazy: the page server");
	if (r < 0 && !m.err[0])
		snprintf(err, errlen, "restore --lazy: the page server: %s", strerror(-r));
	return r;
}

int lazy_server_settle(struct lazy_server *ls, int timeout_ms)
{
	struct lazy_msg m = { .type = LAZY_SETTLE };

	return ask(ls, &m, -1, timeout_ms);
}

void lazy_server_free(struct lazy_server *ls)
{
	if (!ls)
		return;
	/* It ends once every page is in; whatever it still serves, it serves. */
	closep(&ls->sock);
	(void)waitpid(ls->pid, NULL, WNOHANG);
	free(ls);
}

int lazy_check_possible(char *err, size_t errlen)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			    UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
			    UFFD_FEATURE_POISON,
	};
	_cleanup_close_ int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;

		snprintf(err, errlen, "restore --lazy needs a userfaultfd that sees the kernel's "
			 "faults too (a read() into a page not yet there), which takes "
			 "CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1: %s; restore without "
			 "--lazy, or as root", strerror(-r));
		return r;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int r = -errno;

		snprintf(err, errlen, "restore --lazy needs userfaultfd's fork events (a child "
			 "forked before its pages arrived would otherwise see zeros), which take "
			 "CAP_SYS_PTRACE, and page poisoning (Linux 6.6): %s; restore without "
			 "--lazy, or as root", strerror(-r));
		return r;
	}
	return 0;
}

/*
 * The pieces of p's plain cores that the stub loaded itself (mappings not
 * left to the server): checked before the program runs, as a whole file
 * would have been.  Files without sums were checked whole (the verifier).
 */
int lazy_verify_loaded(const struct process_record *p, char *err, size_t errlen)
{
	struct lazy_source *src = NULL;
	uint8_t *buf;
	size_t i = 0, b = 0, v = 0;
	int r;

	r = open_source(p, 0, &src, err, errlen);
	if (r < 0)
		return r;
	buf = malloc(TC_CHUNK_SIZE);
	if (!buf) {
		source_put(src);
		return -ENOMEM;
	}
	while (r == 0 && (i < p->nr_runs || b < p->nr_base_runs)) {
		bool own = b == p->nr_base_runs ||
			   (i < p->nr_runs && p->runs[i].vaddr < p->base_runs[b].vaddr);
		uint64_t vaddr = own ? p->runs[i].vaddr : p->base_runs[b].vaddr;
		uint64_t len = own ? p->runs[i].len : p->base_runs[b].len;
		uint64_t off = own ? p->runs[i].file_off : p->base_runs[b].file_off;
		uint32_t file = own ? 0 : p->base_runs[b].file + 1;
		struct chunked_file *f;

		if (own)
			i++;
		else
			b++;
		while (v < p->nr_vmas && p->vmas[v].end <= vaddr)
			v++;
		if (v < p->nr_vmas && vaddr >= p->vmas[v].start && plan_vma_lazy(p, &p->vmas[v]))
			continue;
		if (file >= src->nr_files) {
			r = -EBADMSG;
			break;
		}
		f = &src->file[file];
		while (f->sums && len && r == 0) {
			uint64_t k = off >= f->head_len ? (off - f->head_len) / TC_CHUNK_SIZE : 0;
			uint64_t n = len;
			const uint8_t *data;

			if (off >= f->head_len && k < f->nr_sums && (f->checked[k / 8] & (1u << (k % 8)))) {
				n = MIN(len, f->head_len + (k + 1) * TC_CHUNK_SIZE - off);
			} else {
				r = chunked_read(f, off, &n, buf, NULL, &data);
			}
			off += n;
			len -= n;
		}
		if (r < 0)
			snprintf(err, errlen, "pid %d: pages at 0x%llx from %s: %s", p->pid,
				 (unsigned long long)vaddr,
				 file ? p->base_files[file - 1].path : p->core_path,
				 r == -EBADMSG ? "checksum mismatch (damaged)" : strerror(-r));
	}
	free(buf);
	source_put(src);
	return r;
}
