/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pre-copy: the pages go into the supervisor's memory while the program is
 * frozen (two threads, through /proc/PID/mem), the program is
 * thawed, and only then is the image written.  The buffer is reserved and
 * written once before the freeze (util/hugebuf.c), since first touches cost
 * more than the copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ptrace/mem.h"
#include "tracer/procfs.h"
#include "tracer/snapshot.h"
#include "util/fileio.h"
#include "util/hugebuf.h"
#include "util/log.h"
#include "util/macro.h"

#define MIN_PRECOPY (8ull << 20)	/* below this, writing while frozen is as quick */
#define IOV_BATCH 512
/*
 * Runs are cut into segments no longer than this, so that the two copying
 * threads get halves within one segment of each other: one 1 GiB run went
 * whole to one thread, and the other idled.
 */
#define SEG_MAX (32ull << 20)

static uint64_t status_kib(pid_t pid, const char *key)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file_at(AT_FDCWD, path, &status, NULL) == 0)
		parse_status_u64(status, key, 10, &v);
	return v;
}

static uint64_t mem_available(void)
{
	_cleanup_free_ char *mi = NULL;
	uint64_t v = 0;

	if (read_file_at(AT_FDCWD, "/proc/meminfo", &mi, NULL) == 0)
		parse_status_u64(mi, "MemAvailable", 10, &v);
	return v * 1024;
}

void snapshot_reserve(struct snapshot *sn, const pid_t *pids, size_t n)
{
	uint64_t want = 0, avail;

	memset(sn, 0, sizeof(*sn));
	for (size_t i = 0; i < n; i++)
		want += status_kib(pids[i], "RssAnon") * 1024;
	/* Pages touched between now and the freeze, and rounding. */
	want += want / 8 + (4ull << 20);
	avail = mem_available();
	if (want < MIN_PRECOPY || want * 2 > avail) {
		log_debug("snapshot: %llu bytes wanted, %llu available: no pre-copy",
			  (unsigned long long)want, (unsigned long long)avail);
		return;
	}
	sn->buf = hugebuf_map(want);
	if (sn->buf)
		sn->cap = want;
}

int snapshot_reserve_exact(struct snapshot *sn, uint64_t bytes)
{
	memset(sn, 0, sizeof(*sn));
	/* Not at the cost of reclaim while the program stands still. */
	if (bytes * 2 > mem_available())
		return -ENOMEM;
	sn->buf = hugebuf_map(bytes);
	if (!sn->buf)
		return -ENOMEM;
	sn->cap = bytes ? bytes : 1;
	sn->written_only = true;
	return 0;
}

struct copy_job {
	const struct snapshot *sn;
	size_t first, last;	/* segments [first, last) */
	int r;
};

/*
 * Segments [i, i + n) of one process, adjacent in the buffer, in one
 * process_vm_readv: an incremental dump's written pages are thousands of
 * single pages.  Returns how many were read whole.  Only for those:
 * process_vm_readv unshares a copy-on-write page it reads (ptrace/mem.c),
 * and a page written since the last dump is the program's own unless it
 * forked since; the whole memory of a pre-copy goes through the mem file,
 * which leaves what the program shares with its children shared.
 */
static size_t copy_batch(const struct snapshot *sn, size_t i, size_t n)
{
	struct iovec remote[IOV_BATCH], local;
	size_t len = 0;
	ssize_t got;

	for (size_t k = 0; k < n; k++) {
		remote[k].iov_base = (void *)(uintptr_t)sn->segs[i + k].addr;
		remote[k].iov_len = sn->segs[i + k].len;
		len += sn->segs[i + k].len;
	}
	local.iov_base = sn->buf + sn->segs[i].off;
	local.iov_len = len;
	got = process_vm_readv(sn->segs[i].pid, &local, 1, remote, n, 0);
	if (got < 0)
		return 0;
	for (size_t k = 0; k < n; k++) {
		if ((size_t)got < sn->segs[i + k].len)
			return k;
		got -= sn->segs[i + k].len;
	}
	return n;
}

static void *copy_main(void *opaque)
{
	struct copy_job *j = opaque;
	struct ptrace_mem pm;	/* each copying thread reads with a mem file of its own */

	ptrace_mem_init(&pm);
	for (size_t i = j->first; i < j->last && j->r == 0;) {
		size_t n = 1, done;

		while (j->sn->written_only && i + n < j->last && n < IOV_BATCH &&
		       j->sn->segs[i + n].pid == j->sn->segs[i].pid)
			n++;
		done = n > 1 ? copy_batch(j->sn, i, n) : 0;
		/* Alone, or what the batch could not read whole (the mem file reads PROT_NONE). */
		if (done == 0) {
			const struct snap_seg *seg = &j->sn->segs[i];

			j->r = ptrace_mem_read(&pm, seg->pid, seg->addr, j->sn->buf + seg->off, seg->len);
			done = 1;
		}
		i += done;
	}
	ptrace_mem_done(&pm);
	return NULL;
}

int snapshot_take(struct snapshot *sn, const struct computation *c)
{
	struct copy_job jobs[2];
	pthread_t helper;
	uint64_t total = 0, half = 0;
	size_t n = 0, split = 0;
	bool threaded;

	if (!sn->buf)
		return -ENOSPC;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_runs; k++) {
			total += c->procs[i].runs[k].len;
			n += DIV_ROUND_UP(c->procs[i].runs[k].len, SEG_MAX);
		}
	if (total > sn->cap)
		return -ENOSPC;
	sn->segs = calloc(n ? n : 1, sizeof(*sn->segs));
	if (!sn->segs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_runs; k++) {
			const struct page_run *run = &c->procs[i].runs[k];

			for (uint64_t at = 0; at < run->len; at += SEG_MAX) {
				uint64_t len = MIN(SEG_MAX, run->len - at);

				sn->segs[sn->nr_segs] = (struct snap_seg){
					.pid = c->procs[i].real_pid, .addr = run->vaddr + at,
					.len = len, .off = sn->used,
				};
				sn->used += len;
				if (half < total / 2) {
					half += len;
					split = sn->nr_segs + 1;
				}
				sn->nr_segs++;
			}
		}
	jobs[0] = (struct copy_job){ sn, 0, split, 0 };
	jobs[1] = (struct copy_job){ sn, split, sn->nr_segs, 0 };
	threaded = pthread_create(&helper, NULL, copy_main, &jobs[1]) == 0;
	copy_main(&jobs[0]);
	if (threaded)
		pthread_join(helper, NULL);
	else
		copy_main(&jobs[1]);
	return jobs[0].r < 0 ? jobs[0].r : jobs[1].r;
}

static const struct snap_seg *find_seg(struct snapshot *sn, pid_t pid, uint64_t addr)
{
	/* The writer asks in segment order: start where the last one was found. */
	for (size_t k = 0; k < sn->nr_segs; k++) {
		size_t i = (sn->hint + k) % sn->nr_segs;
		const struct snap_seg *s = &sn->segs[i];

		if (s->pid == pid && addr >= s->addr && addr < s->addr + s->len) {
			sn->hint = i;
			return s;
		}
	}
	return NULL;
}

/* A read may span runs that touch (the writer merges adjacent ones). */
static int snapshot_read(void *opaque, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct snapshot *sn = opaque;
	uint8_t *dst = buf;

	while (len) {
		const struct snap_seg *s = find_seg(sn, pid, addr);
		size_t n;

		if (!s)
			return -EFAULT;
		n = MIN(len, s->addr + s->len - addr);
		memcpy(dst, sn->buf + s->off + (addr - s->addr), n);
		dst += n;
		addr += n;
		len -= n;
	}
	return 0;
}

void snapshot_reader(struct snapshot *sn, struct mem_reader *mr)
{
	*mr = (struct mem_reader){ .read = snapshot_read, .ctx = sn };
}

void snapshot_release(struct snapshot *sn)
{
	hugebuf_unmap(sn->buf, sn->cap);
	free(sn->segs);
	memset(sn, 0, sizeof(*sn));
}
