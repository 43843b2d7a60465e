/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "proto/attrs.h"
#include "proto/core.h"
#include "proto/fdindex.h"
#include "proto/image.h"
#include "proto/manifest.h"
#include "proto/record.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/*
 * Read into one small buffer, warm after its first use: hashing the file
 * through a mapping of it cost a page fault (and on the VM measured, a
 * first touch) per 4 KiB page: 100 cores of 4 MiB took 257 ms mapped,
 * 57 ms read; an 82 MiB one 52 ms against 16 ms.
 */
#define HASH_CHUNK (128u << 10)

int image_file_checksum(int fd, uint64_t *sum, uint64_t *size)
{
	uint8_t buf[HASH_CHUNK];
	XXH3_state_t *st;
	struct stat sb;
	uint64_t off = 0;
	int r = 0;

	if (fstat(fd, &sb) < 0)
		return neg_errno();
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	st = XXH3_createState();
	if (!st)
		return -ENOMEM;
	XXH3_64bits_reset(st);
	while (off < (uint64_t)sb.st_size) {
		ssize_t n = pread(fd, buf, MIN((uint64_t)sb.st_size - off, (uint64_t)HASH_CHUNK),
				  (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Shorter than fstat said: what was read does not cover the file. */
			r = n < 0 ? neg_errno() : -EIO;
			break;
		}
		XXH3_64bits_update(st, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (r == 0) {
		*sum = XXH3_64bits_digest(st);
		*size = (uint64_t)sb.st_size;
	}
	XXH3_freeState(st);
	return r;
}

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A core's headers and records, alone: what is read before the pages are checked. */
static int verify_head(int fd, const struct manifest_file *f, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n;

	if (f->head_len > f->size || f->head_len > (1ull << 30)) {
		set_err(err, errlen, "%s: a head of %llu bytes in the manifest", f->path,
			(unsigned long long)f->head_len);
		return -EBADMSG;
	}
	buf = malloc(f->head_len);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, f->head_len, 0);
	if (n < 0 || (uint64_t)n != f->head_len || XXH3_64bits(buf, f->head_len) != f->head_xxh3) {
		set_err(err, errlen, "%s: checksum mismatch in its headers and records (damaged)",
			f->path);
		return -EBADMSG;
	}
	return 0;
}

static int verify_file(int dirfd, const struct manifest_file *f, bool sum_it, char *err,
		       size_t errlen)
{
	_cleanup_close_ int fd = openat(dirfd, f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t sum = f->xxh3, size;
	struct stat sb;
	int r;

	if (fd < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", f->path, r == -ENOENT ? "missing" : strerror(-r));
		return r;
	}
	if (!sum_it) {
		if (fstat(fd, &sb) < 0)
			return neg_errno();
		size = sb.st_size;
		r = 0;
	} else {
		r = image_file_checksum(fd, &sum, &size);
	}
	if (r < 0) {
		set_err(err, errlen, "%s: %s", f->path, strerror(-r));
		return r;
	}
	if (size != f->size) {
		set_err(err, errlen, "%s: %s: %llu bytes, expected %llu", f->path,
			size < f->size ? "truncated" : "too long", (unsigned long long)size,
			(unsigned long long)f->size);
		return -EBADMSG;
	}
	if (sum != f->xxh3) {
		set_err(err, errlen, "%s: checksum mismatch (damaged)", f->path);
		return -EBADMSG;
	}
	/* Not summed whole: its records are about to be read, so those now. */
	if (!sum_it)
		return verify_head(fd, f, err, errlen);
	return 0;
}

/* The TRACECKPT process note, copied out so decoding needs no alignment. */
static int find_record(Elf *e, const GElf_Phdr *ph, void **rec, size_t *len)
{
	Elf_Data *d = elf_getdata_rawchunk(e, ph->p_offset, ph->p_filesz, ELF_T_NHDR);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	if (!d)
		return -EBADMSG;
	while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const char *name = (const char *)d->d_buf + name_off;

		if (nh.n_type != TC_NT_PROCESS || nh.n_namesz != sizeof(TC_NOTE_NAME) ||
		    memcmp(name, TC_NOTE_NAME, sizeof(TC_NOTE_NAME)))
			continue;
		free(*rec);
		*rec = malloc(nh.n_descsz ? nh.n_descsz : 1);
		if (!*rec)
			return -ENOMEM;
		memcpy(*rec, (const char *)d->d_buf + desc_off, nh.n_descsz);
		*len = nh.n_descsz;
	}
	return 0;
}

static int add_run(struct process_record *p, size_t *cap, const GElf_Phdr *ph)
{
	if (p->nr_runs == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct page_run *nr = realloc(p->runs, nc * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		p->runs = nr;
		*cap = nc;
	}
	p->runs[p->nr_runs++] = (struct page_run){ ph->p_vaddr, ph->p_filesz, ph->p_offset };
	return 0;
}

static bool load_ok(const GElf_Phdr *ph, uint64_t file_size)
{
	return !((ph->p_vaddr | ph->p_offset | ph->p_filesz) % CORE_PAGE) && ph->p_filesz &&
	       ph->p_filesz == ph->p_memsz && ph->p_offset <= file_size &&
	       ph->p_filesz <= file_size - ph->p_offset && ph->p_vaddr + ph->p_filesz > ph->p_vaddr;
}

static int core_parse_elf(Elf *e, uint64_t file_size, struct process_record *p, const char *rel,
			  char *err, size_t errlen)
{
	_cleanup_free_ void *rec = NULL;
	size_t nph, rec_len = 0, cap = 0;
	GElf_Ehdr eh;
	int r;

	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) ||
	    gelf_getclass(e) != ELFCLASS64 || eh.e_type != ET_CORE ||
	    eh.e_machine != EM_X86_64 || elf_getphdrnum(e, &nph) < 0) {
		set_err(err, errlen, "%s: not an x86-64 ELF core file", rel);
		return -EBADMSG;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph)) {
			set_err(err, errlen, "%s: bad program header %zu", rel, i);
			return -EBADMSG;
		}
		if (ph.p_type == PT_NOTE) {
			r = find_record(e, &ph, &rec, &rec_len);
			if (r < 0) {
				set_err(err, errlen, "%s: bad note segment", rel);
				return r;
			}
		}
	}
	if (!rec) {
		set_err(err, errlen, "%s: no trace-ckpt process record", rel);
		return -EBADMSG;
	}
	r = process_record_decode(rec, rec_len, p);
	if (r < 0) {
		set_err(err, errlen, "%s: malformed process record", rel);
		return r;
	}
	/* Compressed: the segments lie in the file as it is uncompressed. */
	if (p->zstd_pages_off) {
		if (p->zstd_pages_off % CORE_PAGE || p->zstd_pages_off > file_size ||
		    p->zstd_pages_end < p->zstd_pages_off || p->zstd_pages_end > (1ull << 46)) {
			set_err(err, errlen, "%s: bad compressed page data bounds", rel);
			return -EBADMSG;
		}
		file_size = p->zstd_pages_end;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (!load_ok(&ph, file_size) ||
		    (p->zstd_pages_off && ph.p_offset < p->zstd_pages_off)) {
			set_err(err, errlen, "%s: bad PT_LOAD segment %zu", rel, i);
			return -EBADMSG;
		}
		r = add_run(p, &cap, &ph);
		if (r < 0)
			return r;
		if (p->nr_runs > 1 && ph.p_vaddr < p->runs[p->nr_runs - 2].vaddr +
						     p->runs[p->nr_runs - 2].len) {
			set_err(err, errlen, "%s: PT_LOAD segments overlap or are unsorted", rel);
			return -EBADMSG;
		}
	}
	return 0;
}

static int read_core(int dirfd, const char *rel, struct process_record *p, char *err,
		     size_t errlen)
{
	_cleanup_close_ int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	Elf *e;
	int r;

	memset(p, 0, sizeof(*p));
	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", rel, strerror(-r));
		return r;
	}
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e) {
		set_err(err, errlen, "%s: %s", rel, elf_errmsg(-1));
		return -EBADMSG;
	}
	r = core_parse_elf(e, (uint64_t)sb.st_size, p, rel, err, errlen);
	elf_end(e);
	if (r < 0)
		process_record_free(p);
	return r;
}

int core_parse_buffer(void *buf, size_t len, struct process_record *p, char *err, size_t errlen)
{
	Elf *e;
	int r;

	memset(p, 0, sizeof(*p));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	e = elf_memory(buf, len);
	if (!e) {
		set_err(err, errlen, "core: %s", elf_errmsg(-1));
		return -EBADMSG;
	}
	r = core_parse_elf(e, len, p, "core", err, errlen);
	elf_end(e);
	if (r < 0)
		process_record_free(p);
	return r;
}

static const struct manifest_file *file_entry(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->nr_files; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

static bool file_listed(const struct manifest *m, const char *path)
{
	return file_entry(m, path) != NULL;
}

static int take_entry(struct base_file *b, const struct manifest_file *f)
{
	b->size = f->size;
	b->xxh3 = f->xxh3;
	b->head_len = f->head_len;
	b->head_xxh3 = f->head_xxh3;
	return base_file_set_sums(b, f->chunk_sums, f->chunk_sums_len / sizeof(uint64_t));
}

/*
 * An incremental image's pages of earlier generations: files of this
 * host's directory that the manifest lists, runs inside them, sorted and
 * clear of each other and of the core's own.
 */
static int load_bases(int dirfd, const char *absdir, const struct manifest *m, const char *host,
		      struct process_record *p, char *err, size_t errlen)
{
	const char *core = p->core_path;
	size_t k = 0;

	if (p->nr_base_files > TC_MAX_BASE_FILES) {
		set_err(err, errlen, "%s: %zu earlier generations (at most %d)", core,
			p->nr_base_files, TC_MAX_BASE_FILES);
		return -EBADMSG;
	}
	for (size_t i = 0; i < p->nr_base_files; i++) {
		struct base_file *b = &p->base_files[i];
		const struct manifest_file *f;
		char rel[PATH_MAX];

		if (!b->name || strchr(b->name, '/') || !image_path_is_safe(b->name) ||
		    snprintf(rel, sizeof(rel), "%s/%s", host, b->name) >= (int)sizeof(rel) ||
		    !(f = file_entry(m, rel))) {
			set_err(err, errlen, "%s: earlier generation's file %zu: bad name or no "
				"checksum", core, i);
			return -EBADMSG;
		}
		if (take_entry(b, f) < 0)
			return -ENOMEM;
		if (asprintf(&b->path, "%s/%s", absdir, rel) < 0) {
			b->path = NULL;
			return -ENOMEM;
		}
		/* A compressed core says so in its own record; its runs count uncompressed. */
		{
			struct process_record bp;
			char why[512];
			int r = read_core(dirfd, rel, &bp, why, sizeof(why));

			if (r < 0) {
				set_err(err, errlen, "%s: earlier generation's file %s: %s", core,
					b->name, why);
				return r == -ENOMEM ? r : -EBADMSG;
			}
			b->zstd_pages_off = bp.zstd_pages_off;
			b->zstd_pages_end = bp.zstd_pages_end;
			process_record_free(&bp);
		}
	}
	for (uint32_t i = 0; i < p->nr_base_runs; i++) {
		const struct base_run *r = &p->base_runs[i];
		bool bad = r->file >= p->nr_base_files || !r->len || r->vaddr % 4096 ||
			   r->len % 4096 || r->file_off % 4096 || r->vaddr + r->len < r->vaddr ||
			   (i && r->vaddr < p->base_runs[i - 1].vaddr + p->base_runs[i - 1].len);

		if (!bad) {
			const struct base_file *bf = &p->base_files[r->file];
			uint64_t lim = bf->zstd_pages_off ? bf->zstd_pages_end : bf->size;

			bad = r->file_off > lim || r->len > lim - r->file_off;
		}
		while (!bad && k < p->nr_runs && p->runs[k].vaddr + p->runs[k].len <= r->vaddr)
			k++;
		if (!bad && k < p->nr_runs && p->runs[k].vaddr < r->vaddr + r->len)
			bad = true;
		if (bad) {
			set_err(err, errlen, "%s: earlier generation's pages at 0x%llx: bad run",
				core, (unsigned long long)r->vaddr);
			return -EBADMSG;
		}
	}
	return 0;
}

static int absolutize(const char *absdir, const char *host, char **content)
{
	char *abs;

	if (!image_path_is_safe(*content))
		return -EBADMSG;
	if (asprintf(&abs, "%s/%s/%s", absdir, host, *content) < 0)
		return -ENOMEM;
	free(*content);
	*content = abs;
	return 0;
}

/* The size of the last content file looked at: a process's fds share one. */
struct content_size {
	const char *path;
	uint64_t size;
};

/*
 * An fd's range of its content file, which a hostile image may put
 * anywhere: readers read only within it, so it must lie in the file.
 * Images of version 1 had a file per fd, read whole.
 */
static int check_content(uint32_t version, const char *core, struct fd_record *f,
			 struct content_size *last, char *err, size_t errlen)
{
	struct stat st;

	if (!last->path || strcmp(last->path, f->content)) {
		if (stat(f->content, &st) < 0) {
			int r = neg_errno();

			set_err(err, errlen, "%s: fd %d: content %s: %s", core, f->fd, f->content,
				strerror(-r));
			return r;
		}
		if (!S_ISREG(st.st_mode)) {
			set_err(err, errlen, "%s: fd %d: content %s: not a regular file", core,
				f->fd, f->content);
			return -EBADMSG;
		}
		last->path = f->content;
		last->size = (uint64_t)st.st_size;
	}
	if (version < 2) {
		f->content_off = 0;
		f->content_len = last->size;
	}
	if (f->content_off > last->size || f->content_len > last->size - f->content_off) {
		set_err(err, errlen,
			"%s: fd %d: content bytes %llu+%llu past the end of %s (%llu bytes)", core,
			f->fd, (unsigned long long)f->content_off,
			(unsigned long long)f->content_len, f->content,
			(unsigned long long)last->size);
		return -EBADMSG;
	}
	return 0;
}

static int load_proc(int dirfd, const char *absdir, const struct manifest *m, size_t i,
		     const char *image_host, struct process_record *p, char *err, size_t errlen)
{
	const struct manifest_proc *mp = &m->procs[i];
	const char *host = mp->host ? mp->host : image_host;
	struct content_size last = { 0 };
	int r;

	if (!file_listed(m, mp->core)) {
		set_err(err, errlen, "manifest: %s has no checksum", mp->core);
		return -EBADMSG;
	}
	r = read_core(dirfd, mp->core, p, err, errlen);
	if (r < 0)
		return r;
	r = take_entry(&p->core_entry, file_entry(m, mp->core));
	if (r < 0)
		return r;
	if (p->pid != mp->pid) {
		set_err(err, errlen, "%s: holds pid %d, manifest says %d", mp->core, p->pid,
			mp->pid);
		return -EBADMSG;
	}
	if (asprintf(&p->core_path, "%s/%s", absdir, mp->core) < 0) {
		p->core_path = NULL;
		return -ENOMEM;
	}
	if (!image_path_is_safe(host) || strchr(host, '/')) {
		set_err(err, errlen, "manifest: bad host name for pid %d", mp->pid);
		return -EBADMSG;
	}
	r = load_bases(dirfd, absdir, m, host, p, err, errlen);
	if (r < 0)
		return r;
	for (size_t j = 0; j < p->nr_vmas; j++) {
		struct vma_record *v = &p->vmas[j];

		if (!v->content)
			continue;
		r = absolutize(absdir, host, &v->content);
		if (r < 0) {
			set_err(err, errlen, "%s: mapping 0x%llx: bad content path", mp->core,
				(unsigned long long)v->start);
			return r;
		}
	}
	for (size_t j = 0; j < p->nr_fds; j++) {
		struct fd_record *f = &p->fds[j];

		if (!f->content)
			continue;
		r = absolutize(absdir, host, &f->content);
		if (r < 0) {
			set_err(err, errlen, "%s: fd %d: bad content path", mp->core, f->fd);
			return r;
		}
		r = check_content(m->version, mp->core, f, &last, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Its errors name it by its path: DIR/manifest. */
static int read_manifest(int dirfd, const char *dir, const struct image_key *key,
			 struct manifest *m, char *err, size_t errlen)
{
	char why[1024] = "";
	int r = manifest_read_at(dirfd, dir, "manifest", key, m, why, sizeof(why));

	if (r < 0)
		set_err(err, errlen, "%s", why);
	return r;
}

int image_read(const char *dir, const struct image_key *key, struct computation **out, char *err,
	       size_t errlen)
{
	return image_read_flags(dir, key, out, 0, err, errlen);
}

int image_verify(const char *dir, const struct image_key *key, char *err, size_t errlen)
{
	return image_verify_flags(dir, key, 0, err, errlen);
}

int image_verify_flags(const char *dir, const struct image_key *key, unsigned int flags, char *err,
		       size_t errlen)
{
	struct manifest m = { 0 };
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dirfd < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	r = read_manifest(dirfd, dir, key, &m, err, errlen);
	for (size_t i = 0; r == 0 && i < m.nr_files; i++)
		r = verify_file(dirfd, &m.files[i],
				!((flags & IMAGE_VERIFY_SKIP_CHUNKED) && m.files[i].chunk_sums), err,
				errlen);
	manifest_free(&m);
	return r;
}

int image_read_flags(const char *dir, const struct image_key *key, struct computation **out,
		     unsigned int flags, char *err, size_t errlen)
{
	struct manifest m = { 0 };
	struct computation *c = NULL;
	_cleanup_close_ int dirfd = -1;
	char absdir[PATH_MAX];
	int r;

	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	if (!realpath(dir, absdir)) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	dirfd = open(absdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", absdir, strerror(-r));
		return r;
	}
	r = read_manifest(dirfd, absdir, key, &m, err, errlen);
	if (r < 0)
		return r;
	/* What a newer writer changed is not known here; an older image is read as it was. */
	if (m.version > TC_FORMAT_VERSION) {
		set_err(err, errlen,
			"%s/manifest: image format version %u, newer than this trace-ckpt reads (%u)",
			absdir, m.version, TC_FORMAT_VERSION);
		r = -EPROTONOSUPPORT;
		goto out;
	}
	for (size_t i = 0; i < m.nr_files; i++) {
		/*
		 * Big cores are checked while they load (the restore's verifier)
		 * but their records now; any other file is used as soon as it is
		 * read, so all of it now.
		 */
		bool sum_it = !(flags & IMAGE_READ_SIZES_ONLY) || m.files[i].size <= (1u << 20) ||
			      !m.files[i].head_len;

		r = verify_file(dirfd, &m.files[i], sum_it, err, errlen);
		if (r < 0)
			goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	c->version = m.version;
	c->generation = m.generation;
	c->time_ns = m.time_ns;
	c->host = TAKE_PTR(m.host);
	c->cmdline = TAKE_PTR(m.cmdline);
	c->flags = m.flags;
	c->cpu = m.cpu;
	c->cpu.vendor[sizeof(c->cpu.vendor) - 1] = '\0';
	if (m.nr_procs) {
		c->procs = calloc(m.nr_procs, sizeof(*c->procs));
		if (!c->procs) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < m.nr_procs; i++) {
		c->nr_procs = i + 1;
		r = load_proc(dirfd, absdir, &m, i, c->host, &c->procs[i], err, errlen);
		if (r < 0)
			goto out;
	}
	r = fd_index_build(c);
	if (r < 0)
		goto out;
	*out = TAKE_PTR(c);
out:
	if (r == -ENOMEM && err && errlen && !err[0])
		set_err(err, errlen, "out of memory");
	if (r < 0)
		log_debug("image %s: %s", absdir, err ? err : "");
	computation_destroy(c);
	manifest_free(&m);
	return r;
}
