/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image writer.  Page contents dominate the cost, so they stream from the
 * process to the disk through a few reused, prefaulted, page-aligned buffers:
 * a reader thread fills them with mr->read and checksums them in file order
 * while the calling thread writes them with O_DIRECT (no page-cache copy,
 * and the image does not evict the rest of the machine's cache).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "proto/core.h"
#include "proto/fdkind.h"
#include "proto/image.h"
#include "proto/image_tmp.h"
#include "proto/manifest.h"
#include "proto/record.h"
#include "util/fileio.h"
#include "util/hugebuf.h"
#include "util/log.h"
#include "util/macro.h"

#define NR_BUFS 4
#define BUF_SIZE (8u << 20)

struct writer {
	const struct computation *c;
	const struct mem_reader *mr;
	char tmp[PATH_MAX];		/* DIR.tmp-XXXXXX */
	int host_fd;			/* tmp/<host> */
	uint8_t *bufs[NR_BUFS];		/* buf_size each, one mapping */
	size_t buf_size;		/* BUF_SIZE, or less for a small image */
	struct manifest man;
	const struct image_key *key;
	size_t files_cap;
	struct image_stats st;
	unsigned int keep;		/* previous images kept: DIR.1 ... DIR.<keep> */
	ZSTD_CCtx *zctx;		/* dump --compress: the cores' pages compressed */
	uint8_t *zbuf;
	size_t zbuf_size;
};

/* One core file's page stream, shared between the two threads. */
struct stream {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t filled[NR_BUFS];
	uint64_t read_upto[NR_BUFS];	/* every page below was read once this slot was */
	uint64_t produced, consumed;	/* buffers, monotonically */
	bool done, stop;
	int err;			/* reader side */
	/* The reader thread's inputs. */
	const struct mem_reader *mr;
	pid_t pid;
	const struct core_plan *plan;
	uint8_t *const *bufs;
	size_t buf_size;
	XXH3_state_t *xxh;
	bool hash_raw;			/* the file holds the pages as they are: hash them here */
	/* hash_raw: each TC_CHUNK_SIZE of the pages hashed on its own too */
	XXH3_state_t *chunk_xxh;
	uint64_t chunk_fill;
	uint64_t *chunk_sums;
	size_t nr_chunk_sums, cap_chunk_sums;
};

/* The pages in pieces of TC_CHUNK_SIZE, each one's sum (MANF_A_CHUNK_SUMS). */
static void hash_chunks(struct stream *s, const uint8_t *p, size_t len)
{
	while (len && s->nr_chunk_sums < s->cap_chunk_sums) {
		size_t take = (size_t)MIN((uint64_t)len, TC_CHUNK_SIZE - s->chunk_fill);

		XXH3_64bits_update(s->chunk_xxh, p, take);
		s->chunk_fill += take;
		p += take;
		len -= take;
		if (s->chunk_fill == TC_CHUNK_SIZE) {
			s->chunk_sums[s->nr_chunk_sums++] = XXH3_64bits_digest(s->chunk_xxh);
			XXH3_64bits_reset(s->chunk_xxh);
			s->chunk_fill = 0;
		}
	}
}

/* Each of the NR_BUFS buffers: a quarter of the pages to write, 1 to 8 MiB. */
static size_t image_buf_size(const struct computation *c)
{
	uint64_t total = 0;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_runs; k++)
			total += c->procs[i].runs[k].len;
	total = ALIGN_UP(total / NR_BUFS + 1, 1ull << 20);
	return (size_t)MIN(total, (uint64_t)BUF_SIZE);
}

/* snprintf that reports truncation instead of silently naming another file. */
static int __attribute__((format(printf, 3, 4)))
path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int publish(struct stream *s, unsigned int slot, size_t len, uint64_t read_upto)
{
	bool stop;

	if (s->hash_raw) {
		XXH3_64bits_update(s->xxh, s->bufs[slot], len);
		hash_chunks(s, s->bufs[slot], len);
	}
	pthread_mutex_lock(&s->lock);
	s->filled[slot] = len;
	s->read_upto[slot] = read_upto;
	s->produced++;
	pthread_cond_broadcast(&s->cond);
	/* Wait for a free buffer before the next fill. */
	while (s->produced - s->consumed == NR_BUFS && !s->stop)
		pthread_cond_wait(&s->cond, &s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop ? -ECANCELED : 0;
}

static void *reader_main(void *arg)
{
	struct stream *s = arg;
	const struct core_plan *plan = s->plan;
	size_t fill = 0;
	unsigned int slot = 0;
	uint64_t upto = 0;
	int r = 0;

	for (size_t i = 0; i < plan->nr_pieces && r == 0; i++) {
		const struct core_piece *pc = &plan->pieces[i];
		uint64_t done = 0;

		while (done < pc->len) {
			size_t n = MIN(pc->len - done, (uint64_t)(s->buf_size - fill));
			uint8_t *dst = s->bufs[slot] + fill;

			if (pc->zero)
				memset(dst, 0, n);
			else
				r = s->mr->read(s->mr->ctx, s->pid, pc->vaddr + done, dst, n);
			if (r < 0) {
				log_err("pid %d: reading memory at 0x%llx (%zu bytes): %s", s->pid,
					(unsigned long long)(pc->vaddr + done), n, strerror(-r));
				break;
			}
			done += n;
			fill += n;
			/* The plan's pieces rise (core_plan_build): all below is read. */
			if (!pc->zero)
				upto = pc->vaddr + done;
			if (fill == s->buf_size) {
				r = publish(s, slot, fill, upto);
				if (r < 0)
					break;
				slot = (slot + 1) % NR_BUFS;
				fill = 0;
			}
		}
	}
	if (r == 0 && fill)
		r = publish(s, slot, fill, upto);
	pthread_mutex_lock(&s->lock);
	s->err = r;
	s->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * O_DIRECT is refused (EINVAL) by some filesystems at open and by some only
 * at the first write; either way fall back to the page cache.
 */
static int pwrite_direct(int fd, const void *buf, size_t len, off_t off)
{
	int r = pwrite_full(fd, buf, len, off);

	if (r == -EINVAL && (fcntl(fd, F_GETFL) & O_DIRECT)) {
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0)
			return neg_errno();
		r = pwrite_full(fd, buf, len, off);
	}
	return r;
}

/*
 * One buffer of pages into the zstd stream (end: and close the stream),
 * written at *off and hashed as written.
 */
static int write_compressed(struct writer *w, struct stream *s, int fd, const void *buf,
			    size_t len, bool end, off_t *off)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { w->zbuf, w->zbuf_size, 0 };
		int r;

		left = ZSTD_compressStream2(w->zctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left))
			return log_ret(-EIO, "zstd: %s", ZSTD_getErrorName(left));
		r = pwrite_full(fd, w->zbuf, out.pos, *off);
		if (r < 0)
			return r;
		XXH3_64bits_update(s->xxh, w->zbuf, out.pos);
		*off += (off_t)out.pos;
	} while (end ? left != 0 : in.pos < in.size);
	return 0;
}

static int stream_pages(struct writer *w, struct stream *s, int fd, off_t *offp)
{
	off_t off = *offp;
	pthread_t th;
	int r = 0, e;

	e = pthread_create(&th, NULL, reader_main, s);
	if (e)
		return -e;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		unsigned int slot;
		size_t len;

		while (s->consumed == s->produced && !s->done)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->consumed == s->produced)
			break;
		slot = s->consumed % NR_BUFS;
		len = s->filled[slot];
		pthread_mutex_unlock(&s->lock);
		/*
		 * Here, not in the reader: the source may need its tracer, the
		 * calling thread (a clone's pages are let go by a remote munmap).
		 */
		if (s->mr->release)
			s->mr->release(s->mr->ctx, s->pid, s->read_upto[slot]);
		/* A short last buffer: the plan's lengths are whole pages, so still aligned. */
		if (w->zctx) {
			r = write_compressed(w, s, fd, w->bufs[slot], len, false, &off);
		} else {
			r = pwrite_direct(fd, w->bufs[slot], len, off);
			off += len;
		}
		pthread_mutex_lock(&s->lock);
		if (r < 0) {
			s->stop = true;
			pthread_cond_broadcast(&s->cond);
			break;
		}
		s->consumed++;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_join(th, NULL);
	if (r == 0 && s->err == 0 && w->zctx)
		r = write_compressed(w, s, fd, NULL, 0, true, &off);
	*offp = off;
	return r < 0 ? r : s->err;
}

/* ELF header and program headers, laid out by libelf in a memfd and copied out. */
static int elf_headers(const struct core_plan *plan, uint64_t note_off, uint64_t note_len,
		       uint64_t data_off, uint8_t *out, size_t out_len)
{
	_cleanup_close_ int fd = memfd_create("tc-core-hdr", MFD_CLOEXEC);
	GElf_Ehdr eh;
	GElf_Phdr ph;
	Elf *e = NULL;
	int r = -EIO;

	if (fd < 0)
		return neg_errno();
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	e = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!e)
		goto out;
	elf_flagelf(e, ELF_C_SET, ELF_F_LAYOUT);
	if (!gelf_newehdr(e, ELFCLASS64) || !gelf_getehdr(e, &eh))
		goto out;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = gelf_fsize(e, ELF_T_EHDR, 1, EV_CURRENT);
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = SHN_UNDEF;
	if (!gelf_update_ehdr(e, &eh) || !gelf_newphdr(e, plan->nr_segs + 1))
		goto out;
	ph = (GElf_Phdr){ .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = note_len,
			  .p_align = 4 };
	if (!gelf_update_phdr(e, 0, &ph))
		goto out;
	for (size_t i = 0; i < plan->nr_segs; i++) {
		const struct core_seg *s = &plan->segs[i];

		ph = (GElf_Phdr){
			.p_type = PT_LOAD,
			.p_flags = s->pflags,
			.p_offset = data_off + s->off,
			.p_vaddr = s->vaddr,
			.p_filesz = s->len,
			.p_memsz = s->len,
			.p_align = CORE_PAGE,
		};
		if (!gelf_update_phdr(e, i + 1, &ph))
			goto out;
	}
	if (elf_update(e, ELF_C_WRITE) < 0)
		goto out;
	r = pread_full(fd, out, out_len, 0);
out:
	if (r == -EIO)
		log_err("building the ELF headers: %s", elf_errmsg(-1));
	elf_end(e);
	return r;
}

/* argv as `ps` shows it, for NT_PRPSINFO; best effort, comm otherwise. */
static void read_psargs(const struct writer *w, const struct process_record *p, char *out,
			size_t len)
{
	uint64_t start = p->mm.arg_start, end = MIN(p->mm.arg_end, start + len - 1);
	uint64_t page = ALIGN_DOWN(start, (uint64_t)CORE_PAGE);
	uint8_t *buf = w->bufs[0];

	out[0] = '\0';
	if (!start || end <= start || !p->real_pid)
		return;
	if (w->mr->read(w->mr->ctx, p->real_pid, page, buf,
			ALIGN_UP(end, (uint64_t)CORE_PAGE) - page) < 0)
		return;
	memcpy(out, buf + (start - page), end - start);
	out[end - start] = '\0';
	for (size_t i = 0; i + 1 < end - start; i++)
		if (!out[i])
			out[i] = ' ';
}

static int add_file_head(struct writer *w, const char *path, uint64_t size, uint64_t sum,
			 uint64_t head_len, uint64_t head_sum, const uint64_t *chunk_sums,
			 uint32_t nr_chunk_sums)
{
	struct manifest *m = &w->man;
	uint64_t *sums = NULL;
	char *dup;

	if (m->nr_files == w->files_cap) {
		size_t nc = w->files_cap ? w->files_cap * 2 : 16;
		struct manifest_file *nf = realloc(m->files, nc * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		m->files = nf;
		w->files_cap = nc;
	}
	dup = strdup(path);
	if (nr_chunk_sums)
		sums = malloc(nr_chunk_sums * sizeof(*sums));
	if (!dup || (nr_chunk_sums && !sums)) {
		free(dup);
		free(sums);
		return -ENOMEM;
	}
	if (nr_chunk_sums)
		memcpy(sums, chunk_sums, nr_chunk_sums * sizeof(*sums));
	m->files[m->nr_files++] = (struct manifest_file){ dup, size, sum, head_len, head_sum, sums,
							 nr_chunk_sums * (uint32_t)sizeof(*sums) };
	w->st.bytes_written += size;
	return 0;
}

static int add_file(struct writer *w, const char *path, uint64_t size, uint64_t sum)
{
	return add_file_head(w, path, size, sum, 0, 0, NULL, 0);
}

static void shm_name(const struct vma_record *v, char *out, size_t len)
{
	snprintf(out, len, "shared/shm-%llx-%llu", (unsigned long long)v->dev,
		 (unsigned long long)v->ino);
}

/* Where a process's fd contents went: the one file, and each fd's range of it. */
struct fd_pack {
	char name[64];
	int fd;
	uint64_t end;
	struct fd_range {
		bool has;
		uint64_t off, len;
	} *at;			/* one per fd of the record */
};

static int encode_record(const struct process_record *p, const struct fd_pack *pack,
			 uint64_t zoff, uint64_t zend, struct tlv_buf *b)
{
	_cleanup_free_ struct fd_record *fds = NULL;
	_cleanup_free_ struct vma_record *vmas = NULL;
	_cleanup_free_ char (*shm)[64] = NULL;
	struct process_record copy = *p;

	copy.zstd_pages_off = zoff;
	copy.zstd_pages_end = zend;

	if (p->nr_vmas) {
		vmas = malloc(p->nr_vmas * sizeof(*vmas));
		shm = calloc(p->nr_vmas, sizeof(*shm));
		if (!vmas || !shm)
			return -ENOMEM;
		memcpy(vmas, p->vmas, p->nr_vmas * sizeof(*vmas));
		for (size_t i = 0; i < p->nr_vmas; i++) {
			if (!vmas[i].shm_kind)
				continue;
			shm_name(&vmas[i], shm[i], sizeof(shm[i]));
			vmas[i].content = shm[i];
		}
		copy.vmas = vmas;
	}

	/* The writer decides where fd contents go: a shallow copy says so. */
	if (p->nr_fds) {
		fds = malloc(p->nr_fds * sizeof(*fds));
		if (!fds)
			return -ENOMEM;
		memcpy(fds, p->fds, p->nr_fds * sizeof(*fds));
		for (size_t i = 0; i < p->nr_fds; i++) {
			if (!pack->at || !pack->at[i].has)
				continue;
			fds[i].content = (char *)pack->name;
			fds[i].content_off = pack->at[i].off;
			fds[i].content_len = pack->at[i].len;
		}
		copy.fds = fds;
	}
	return process_record_encode(b, &copy);
}

/* Read-write: deleted files' copies are mapped back to checksum them. */
static int open_new(struct writer *w, const char *name, int extra)
{
	int fd = openat(w->host_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | extra, 0600);

	if (fd < 0 && errno == EINVAL && (extra & O_DIRECT))
		fd = openat(w->host_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_ret(neg_errno(), "%s/%s/%s: %m", w->tmp, w->c->host, name);
	return fd;
}

/* size bytes of in from offset 0 (at most: it may be shorter) to out at out_off. */
static int copy_range(int in, int out, uint64_t out_off, uint64_t size, uint8_t *buf,
		      size_t buf_size, uint64_t *copied)
{
	loff_t off_in = 0, off_out = (loff_t)out_off;
	/* A queue's few bytes: one read and one write (copy_file_range from a memfd fails first). */
	bool fallback = size <= MIN((uint64_t)buf_size, 65536);

	*copied = 0;
	while (*copied < size) {
		size_t n = MIN(size - *copied, (uint64_t)buf_size);
		ssize_t k = -1;

		if (!fallback) {
			k = copy_file_range(in, &off_in, out, &off_out, n, 0);
			if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP || errno == EBADF)) {
				fallback = true;
				continue;
			}
		} else {
			k = pread(in, buf, n, (off_t)*copied);
			if (k > 0 && pwrite_full(out, buf, k, (off_t)(out_off + *copied)) < 0)
				return neg_errno();
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return neg_errno();
		if (k == 0)
			break;
		*copied += k;
		off_in = (loff_t)*copied;
		off_out = (loff_t)(out_off + *copied);
	}
	return 0;
}

/* A shared memory object, once for all the processes that map it. */
static int write_shm(struct writer *w, const struct process_record *p, const struct vma_record *v)
{
	char name[64], path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	uint64_t copied, sum, size;
	int r;

	shm_name(v, name, sizeof(name));
	fd = open_new(w, name, 0);
	if (fd == -EEXIST)
		return 0;
	if (fd < 0)
		return fd;
	r = copy_range(v->content_fd, fd, 0, v->shm_size, w->bufs[0], w->buf_size, &copied);
	if (r < 0)
		return log_ret(r, "pid %d: shared memory at 0x%llx: %s", p->pid,
			       (unsigned long long)v->start, strerror(-r));
	/* Made durable with everything else by one syncfs in write_all. */
	r = image_file_checksum(fd, &sum, &size);
	if (r < 0)
		return r;
	path_fmt(path, sizeof(path), "%s/%s", w->c->host, name);
	return add_file(w, path, size, sum);
}

/*
 * What an fd holds that exists only in the process (a deleted file's
 * contents, a pipe's or a socket's queued bytes), appended to the
 * process's one content file: one file per process, not per fd, as a
 * program of thousands of pipes would otherwise make thousands of files.
 */
static int write_fd_content(struct writer *w, const struct process_record *p, size_t i,
			    struct fd_pack *pack)
{
	const struct fd_record *f = &p->fds[i];
	uint64_t copied;
	int r;

	if (f->content_fd < 0)
		return log_ret(-EBADF, "pid %d fd %d: deleted file %s: no handle on its contents",
			       p->pid, f->fd, f->path ? f->path : "?");
	if (pack->fd < 0) {
		snprintf(pack->name, sizeof(pack->name), "shared/fds-%d", p->pid);
		pack->fd = open_new(w, pack->name, 0);
		if (pack->fd < 0)
			return pack->fd;
	}
	r = copy_range(f->content_fd, pack->fd, pack->end, f->size, w->bufs[0], w->buf_size,
		       &copied);
	if (r < 0)
		return log_ret(r, "pid %d fd %d: copying deleted file %s into %s/%s/%s: %s", p->pid,
			       f->fd, f->path ? f->path : "?", w->tmp, w->c->host, pack->name,
			       strerror(-r));
	if (copied < f->size)
		log_warn("pid %d fd %d: deleted file %s: %llu of %llu bytes", p->pid, f->fd,
			 f->path ? f->path : "?", (unsigned long long)copied,
			 (unsigned long long)f->size);
	pack->at[i] = (struct fd_range){ true, pack->end, copied };
	pack->end += copied;
	return 0;
}

/* Every fd content of p, in one file listed once in the manifest. */
static int write_fd_contents(struct writer *w, const struct process_record *p,
			     struct fd_pack *pack)
{
	char path[PATH_MAX];
	uint64_t sum, size;
	int r;

	for (size_t i = 0; i < p->nr_fds; i++) {
		if (!fd_record_has_content(&p->fds[i]))
			continue;
		if (!pack->at) {
			pack->at = calloc(p->nr_fds, sizeof(*pack->at));
			if (!pack->at)
				return -ENOMEM;
		}
		r = write_fd_content(w, p, i, pack);
		if (r < 0)
			return r;
	}
	if (pack->fd < 0)
		return 0;
	/* Made durable with everything else by one syncfs in write_all. */
	r = image_file_checksum(pack->fd, &sum, &size);
	if (r < 0)
		return log_ret(r, "%s/%s/%s: checksum: %s", w->tmp, w->c->host, pack->name,
			       strerror(-r));
	path_fmt(path, sizeof(path), "%s/%s", w->c->host, pack->name);
	return add_file(w, path, size, sum);
}

static int write_core(struct writer *w, const struct process_record *p)
{
	struct fd_pack pack = { .fd = -1 };
	struct tlv_buf rec = { 0 }, notes = { 0 };
	struct core_plan plan;
	struct stream s;
	char name[64], path[PATH_MAX], psargs[81];
	_cleanup_close_ int fd = -1;
	uint64_t note_off, data_off, hdr_len;
	uint8_t *head = MAP_FAILED;
	size_t head_len = 0;
	off_t end;
	bool zstd;
	int r;

	snprintf(name, sizeof(name), "proc-%d.core", p->pid);
	r = core_plan_build(p, CORE_MAX_LOADS, &plan);
	if (r < 0)
		return log_ret(r, "pid %d: %s", p->pid, r == -E2BIG ?
			       "too many page runs to merge under the PT_LOAD limit" :
			       "page runs unsorted or unaligned");
	r = write_fd_contents(w, p, &pack);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p->nr_vmas; i++) {
		if (!p->vmas[i].shm_kind || p->vmas[i].content_fd < 0)
			continue;
		r = write_shm(w, p, &p->vmas[i]);
		if (r < 0)
			goto out;
	}
	/* Compressed, where the pages start goes in the record: same size whatever the value. */
	zstd = w->zctx != NULL;
	r = encode_record(p, &pack, zstd, zstd, &rec);
	read_psargs(w, p, psargs, sizeof(psargs));
	if (r == 0)
		r = core_notes_build(&notes, p, psargs[0] ? psargs : NULL, rec.data, rec.len);
	if (r < 0) {
		log_err("pid %d: encoding the process record: %s", p->pid, strerror(-r));
		goto out;
	}

	hdr_len = 64 + 56 * (plan.nr_segs + 1);
	note_off = ALIGN_UP(hdr_len, 8);
	data_off = ALIGN_UP(note_off + notes.len, (uint64_t)CORE_PAGE);
	if (zstd) {
		size_t len = notes.len;

		tlv_buf_free(&rec);
		tlv_buf_free(&notes);
		r = encode_record(p, &pack, data_off, data_off + plan.data_bytes, &rec);
		if (r == 0)
			r = core_notes_build(&notes, p, psargs[0] ? psargs : NULL, rec.data,
					     rec.len);
		if (r == 0 && notes.len != len)
			r = -EINVAL;
		if (r < 0) {
			log_err("pid %d: encoding the process record: %s", p->pid, strerror(-r));
			goto out;
		}
	}
	head_len = data_off;
	head = mmap(NULL, head_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (head == MAP_FAILED) {
		r = neg_errno();
		goto out;
	}
	r = elf_headers(&plan, note_off, notes.len, data_off, head, hdr_len);
	if (r < 0)
		goto out;
	memcpy(head + note_off, notes.data, notes.len);

	fd = open_new(w, name, zstd ? 0 : O_DIRECT);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	/* A full disk shows here, before gigabytes are copied; no speed is gained or lost. */
	if (!zstd && fallocate(fd, 0, 0, data_off + plan.data_bytes) < 0 && errno == ENOSPC) {
		r = log_ret(-ENOSPC, "%s/%s/%s: %llu bytes: %m", w->tmp, w->c->host, name,
			    (unsigned long long)(data_off + plan.data_bytes));
		goto out;
	}
	s = (struct stream){
		.mr = w->mr, .pid = p->real_pid, .plan = &plan, .bufs = w->bufs,
		.buf_size = w->buf_size,
		.xxh = XXH3_createState(),
		.hash_raw = !zstd,
	};
	if (!zstd) {
		s.chunk_xxh = XXH3_createState();
		s.cap_chunk_sums = (plan.data_bytes + TC_CHUNK_SIZE - 1) / TC_CHUNK_SIZE;
		s.chunk_sums = calloc(MAX(s.cap_chunk_sums, (size_t)1), sizeof(*s.chunk_sums));
		if (s.chunk_xxh)
			XXH3_64bits_reset(s.chunk_xxh);
	}
	if (!s.xxh || (!zstd && (!s.chunk_xxh || !s.chunk_sums))) {
		XXH3_freeState(s.xxh);
		XXH3_freeState(s.chunk_xxh);
		free(s.chunk_sums);
		r = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	XXH3_64bits_reset(s.xxh);
	XXH3_64bits_update(s.xxh, head, head_len);
	r = pwrite_direct(fd, head, head_len, 0);
	end = (off_t)data_off;
	if (r == 0 && zstd && ZSTD_isError(ZSTD_CCtx_reset(w->zctx, ZSTD_reset_session_only)))
		r = -EIO;
	if (r == 0)
		r = stream_pages(w, &s, fd, &end);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	/* Made durable with everything else by one syncfs in write_all. */
	if (r == 0 && s.hash_raw && s.chunk_fill)
		s.chunk_sums[s.nr_chunk_sums++] = XXH3_64bits_digest(s.chunk_xxh);
	/* A sum for every piece of the file's pages, or none. */
	if (r == 0 && s.hash_raw &&
	    s.nr_chunk_sums != ((uint64_t)end - head_len + TC_CHUNK_SIZE - 1) / TC_CHUNK_SIZE)
		s.nr_chunk_sums = 0;
	if (r == 0) {
		path_fmt(path, sizeof(path), "%s/%s", w->c->host, name);
		r = add_file_head(w, path, (uint64_t)end, XXH3_64bits_digest(s.xxh), head_len,
				  XXH3_64bits(head, head_len), s.chunk_sums,
				  (uint32_t)s.nr_chunk_sums);
		w->st.pages_dumped += plan.data_bytes / CORE_PAGE;
	} else {
		log_err("%s/%s/%s: writing the core file: %s", w->tmp, w->c->host, name,
			strerror(-r));
	}
	XXH3_freeState(s.xxh);
	XXH3_freeState(s.chunk_xxh);
	free(s.chunk_sums);
out:
	if (pack.fd >= 0)
		close(pack.fd);
	free(pack.at);
	if (head != MAP_FAILED)
		munmap(head, head_len);
	tlv_buf_free(&rec);
	tlv_buf_free(&notes);
	core_plan_free(&plan);
	return r;
}

/*
 * An incremental image holds the earlier generations' cores it takes pages
 * from as hard links: deleting an older image (--keep) never takes pages a
 * newer one needs, and each image stands on its own.
 */
static int link_bases(struct writer *w, const struct process_record *p)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < p->nr_base_files; i++) {
		const struct base_file *b = &p->base_files[i];
		int r;

		if (!b->name || !b->path || strchr(b->name, '/'))
			return -EINVAL;
		if (linkat(AT_FDCWD, b->path, w->host_fd, b->name, 0) < 0)
			return log_ret(neg_errno(), "pid %d: linking %s into %s/%s: %m", p->pid,
				       b->path, w->tmp, w->c->host);
		path_fmt(path, sizeof(path), "%s/%s", w->c->host, b->name);
		r = add_file_head(w, path, b->size, b->xxh3, b->head_len, b->head_xxh3,
				  b->chunk_sums, b->nr_chunk_sums);
		if (r < 0)
			return r;
		w->st.bytes_written -= b->size;
		w->st.bytes_linked += b->size;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return log_ret(neg_errno(), "%s: fsync: %m", path);
	return 0;
}

static int write_manifest(struct writer *w)
{
	const struct computation *c = w->c;
	struct manifest *m = &w->man;
	_cleanup_close_ int dirfd = open(w->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char err[PATH_MAX + 64];
	uint64_t bytes = 0;
	int r;

	if (dirfd < 0)
		return log_ret(neg_errno(), "%s: %m", w->tmp);
	/* The layout is this writer's, whatever image the computation came from. */
	m->version = TC_FORMAT_VERSION;
	m->generation = c->generation;
	m->time_ns = c->time_ns;
	/* Borrowed for the encoding: manifest_free must not free them. */
	m->host = c->host;
	m->cmdline = c->cmdline;
	m->flags = c->flags;
	m->cpu = c->cpu;
	r = manifest_write_at(dirfd, w->tmp, "manifest", NULL, m, w->key, MANIFEST_NO_SYNC,
			      &bytes, err, sizeof(err));
	m->host = m->cmdline = NULL;
	if (r < 0)
		return log_ret(r, "%s", err);
	w->st.bytes_written += bytes;
	return 0;
}

static int init_procs(struct writer *w)
{
	const struct computation *c = w->c;
	struct manifest *m = &w->man;

	m->procs = calloc(c->nr_procs ? c->nr_procs : 1, sizeof(*m->procs));
	if (!m->procs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];
		struct manifest_proc *mp = &m->procs[m->nr_procs++];

		*mp = (struct manifest_proc){ p->pid, p->ppid, p->pgid, p->sid };
		mp->host = strdup(c->host);
		if (!mp->host || asprintf(&mp->core, "%s/proc-%d.core", c->host, p->pid) < 0) {
			mp->core = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The image DIR had until now becomes DIR.1, DIR.1 becomes DIR.2, ... and
 * what would become DIR.<keep+1> goes.  0 or -errno (then the previous
 * image is left at old, for the caller to remove).
 */
static int keep_previous(const char *old, const char *dir, unsigned int keep)
{
	char from[PATH_MAX], to[PATH_MAX];

	int r;

	path_fmt(to, sizeof(to), "%s.%u", dir, keep);
	r = rm_rf(to);
	if (r < 0)
		return log_ret(r, "%s: could not remove the oldest image: %s", to, strerror(-r));
	for (unsigned int i = keep - 1; i >= 1; i--) {
		path_fmt(from, sizeof(from), "%s.%u", dir, i);
		path_fmt(to, sizeof(to), "%s.%u", dir, i + 1);
		if (rename(from, to) < 0 && errno != ENOENT)
			return log_ret(neg_errno(), "rename %s to %s: %m", from, to);
	}
	path_fmt(to, sizeof(to), "%s.1", dir);
	if (rename(old, to) < 0)
		return log_ret(neg_errno(), "rename %s to %s: %m", old, to);
	return 0;
}

/*
 * Swap the new image in.  RENAME_EXCHANGE keeps a complete image at DIR at
 * every instant; where it is not supported the old image is first renamed
 * to DIR.old-XXXXXX, so a crash in between still leaves one complete image.
 * The image replaced is removed, or kept as DIR.1 (keep: how many kept).
 */
static int install(const char *tmp, const char *dir, unsigned int keep)
{
	char old[PATH_MAX], parent[PATH_MAX];
	const char *victim = tmp;
	char *slash;
	int r;

	path_fmt(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash)
		path_fmt(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';

	/* One fsync of the parent at the end: a crash before it leaves either image at dir. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) == 0)
		return fsync_dir(parent);
	if (errno != EEXIST && errno != ENOTEMPTY && errno != EINVAL)
		return log_ret(neg_errno(), "rename %s to %s: %m", tmp, dir);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) < 0) {
		if (errno != EINVAL && errno != ENOSYS)
			return log_ret(neg_errno(), "exchange %s and %s: %m", tmp, dir);
		path_fmt(old, sizeof(old), "%s.old-XXXXXX", dir);
		if (!mkdtemp(old))
			return log_ret(neg_errno(), "%s: %m", old);
		/* A directory renames over an empty one. */
		if (rename(dir, old) < 0) {
			r = neg_errno();
			rmdir(old);
			if (r != -ENOENT)
				return log_ret(r, "rename %s to %s: %s", dir, old, strerror(-r));
			old[0] = '\0';
		}
		if (rename(tmp, dir) < 0) {
			r = log_ret(neg_errno(), "rename %s to %s: %m", tmp, dir);

			if (old[0] && rename(old, dir) < 0)
				log_err("previous image left in %s: %m", old);
			return r;
		}
		if (!old[0])
			return fsync_dir(parent);
		victim = old;
	}
	if (keep && keep_previous(victim, dir, keep) == 0)
		return fsync_dir(parent);
	r = fsync_dir(parent);
	/* After the sync: a crash before it keeps a whole image at dir either way. */
	if (rm_rf(victim) < 0)
		log_warn("%s: could not remove the previous image: %m", victim);
	return r;
}

static int write_all(struct writer *w, const char *dir)
{
	const struct computation *c = w->c;
	char path[PATH_MAX];
	int r;

	path_fmt(path, sizeof(path), "%s/%s", w->tmp, c->host);
	if (mkdir(path, 0700) < 0)
		return log_ret(neg_errno(), "%s: %m", path);
	path_fmt(path, sizeof(path), "%s/%s/shared", w->tmp, c->host);
	if (mkdir(path, 0700) < 0)
		return log_ret(neg_errno(), "%s: %m", path);
	path_fmt(path, sizeof(path), "%s/%s", w->tmp, c->host);
	w->host_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->host_fd < 0)
		return log_ret(neg_errno(), "%s: %m", path);
	r = init_procs(w);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->nr_procs; i++) {
		r = write_core(w, &c->procs[i]);
		if (r == 0)
			r = link_bases(w, &c->procs[i]);
		if (r < 0)
			return r;
	}
	/* Nothing of it counts yet: a source that died meanwhile fails the dump here. */
	if (w->mr->intact && (r = w->mr->intact(w->mr->ctx)) < 0)
		return r;
	r = write_manifest(w);
	if (r < 0)
		return r;
	/*
	 * One syncfs makes every file and directory of the image durable: the
	 * core files, the small files of the shared directory (a pipe's or a
	 * socket's bytes each: 10,000 fsyncs cost more than the dump itself),
	 * the manifest.  Each fsync was a journal commit of its own: an
	 * incremental generation spent 30 of its 70 ms in eight of them.  The
	 * image counts only once renamed into place (install), after this.
	 */
	if (syncfs(w->host_fd) < 0)
		return log_ret(neg_errno(), "%s/%s: syncfs: %m", w->tmp, c->host);
	return install(w->tmp, dir, w->keep);
}

static bool host_name_ok(const char *host)
{
	return host && *host && strlen(host) <= NAME_MAX && !strchr(host, '/') &&
	       strcmp(host, ".") && strcmp(host, "..");
}

int image_write(const struct computation *c, const char *dir, const struct image_key *key,
		const struct mem_reader *mr, struct image_stats *st)
{
	return image_write_keep(c, dir, 0, key, mr, st);
}

int image_write_keep(const struct computation *c, const char *dir, unsigned int keep,
		     const struct image_key *key, const struct mem_reader *mr,
		     struct image_stats *st)
{
	struct writer w = { .c = c, .mr = mr, .host_fd = -1, .keep = keep, .key = key };
	struct image_tmp tmp;
	char clean[PATH_MAX];
	uint8_t *mem;
	uint64_t t0 = now_ns();
	size_t n;
	int r;

	if (!c || !dir || !key || !mr || !mr->read || !host_name_ok(c->host))
		return log_ret(-EINVAL, "image_write: bad arguments (host name \"%s\")",
			       c && c->host ? c->host : "(null)");
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	/* Room for every name built below, so none of them can be truncated. */
	if (n == 0 || n + strlen(c->host) + 64 >= sizeof(clean))
		return log_ret(-ENAMETOOLONG, "image directory \"%s\": name too long", dir);
	memcpy(clean, dir, n);
	clean[n] = '\0';
	/* What a writer killed earlier left here would fill the disk by and by. */
	image_tmp_sweep(clean);
	r = image_tmp_create(clean, &tmp);
	if (r < 0)
		return r;
	path_fmt(w.tmp, sizeof(w.tmp), "%s", tmp.path);

	/*
	 * Faulted in once here rather than page by page in the reader thread;
	 * no bigger than the image needs: 32 MiB faulted in for a tiny
	 * program was half of its frozen time.
	 */
	w.buf_size = image_buf_size(c);
	mem = hugebuf_map((size_t)NR_BUFS * w.buf_size);
	if (!mem) {
		r = log_ret(neg_errno(), "image buffers: %m");
		goto out;
	}
	for (unsigned int i = 0; i < NR_BUFS; i++)
		w.bufs[i] = mem + (size_t)i * w.buf_size;
	if (c->zstd_level) {
		/* Two workers: the machine's cores compress while memory is read. */
		w.zctx = ZSTD_createCCtx();
		w.zbuf_size = ZSTD_CStreamOutSize();
		w.zbuf = malloc(w.zbuf_size);
		if (!w.zctx || !w.zbuf ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w.zctx, ZSTD_c_compressionLevel,
							c->zstd_level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w.zctx, ZSTD_c_checksumFlag, 0))) {
			r = log_ret(-ENOMEM, "zstd: no compression context");
			hugebuf_unmap(mem, (size_t)NR_BUFS * w.buf_size);
			goto out;
		}
		ZSTD_CCtx_setParameter(w.zctx, ZSTD_c_nbWorkers, 2);
	}
	r = write_all(&w, clean);
	hugebuf_unmap(mem, (size_t)NR_BUFS * w.buf_size);
out:
	ZSTD_freeCCtx(w.zctx);
	free(w.zbuf);
	if (w.host_fd >= 0)
		close(w.host_fd);
	manifest_free(&w.man);
	/* After a failure the directory, after success the image replaced (or nothing). */
	image_tmp_release(&tmp);
	w.st.write_ns = now_ns() - t0;
	if (st)
		*st = w.st;
	return r;
}
