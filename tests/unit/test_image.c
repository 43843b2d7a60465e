/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "check_main.h"
#include "proto/attrs.h"
#include "proto/core.h"
#include "proto/image.h"
#include "proto/manifest.h"
#include "sample.h"
#include "util/fileio.h"
#include "util/macro.h"

#define PG 4096ull

/* Runs in the sample's readable, non-special mappings; memfds for deleted files. */
static void add_runs_and_contents(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++) {
		struct process_record *p = &c->procs[i];

		p->real_pid = p->pid;
		p->runs = calloc(2 * p->nr_vmas, sizeof(*p->runs));
		for (size_t j = 0; j < p->nr_vmas; j++) {
			const struct vma_record *v = &p->vmas[j];

			if (v->kind >= VMA_VDSO)
				continue;
			p->runs[p->nr_runs++] = (struct page_run){ v->start, 2 * PG };
			p->runs[p->nr_runs++] = (struct page_run){ v->start + 8 * PG, PG };
		}
		for (size_t j = 0; j < p->nr_fds; j++) {
			struct fd_record *f = &p->fds[j];
			char data[256];

			if (!f->deleted)
				continue;
			for (size_t k = 0; k < sizeof(data); k++)
				data[k] = (char)(k + j + i);
			f->content_fd = memfd_create("deleted", MFD_CLOEXEC);
			ck_assert_int_ge(f->content_fd, 0);
			ck_assert_int_eq(write_full(f->content_fd, data, f->size), 0);
			/* The copy must not depend on, or move, the file position. */
			lseek(f->content_fd, 7, SEEK_SET);
		}
	}
}

static void close_contents(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t j = 0; j < c->procs[i].nr_fds; j++)
			if (c->procs[i].fds[j].content_fd >= 0) {
				close(c->procs[i].fds[j].content_fd);
				c->procs[i].fds[j].content_fd = -1;
			}
}

static char *image_dir(const char *tmp)
{
	char *d;

	ck_assert_int_ge(asprintf(&d, "%s/ckpt", tmp), 0);
	return d;
}

static int write_sample(struct computation *c, const char *dir, struct image_stats *st)
{
	struct fake_mem fm = { 0 };
	struct mem_reader mr = { 0 };

	fake_mem_reader(&mr, &fm);
	return image_write(c, dir, &sample_key, &mr, st);
}

static void check_pages(const struct process_record *p)
{
	int fd = open(p->core_path, O_RDONLY);
	uint8_t *buf;

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_run *r = &p->runs[i];

		ck_assert_uint_eq(r->file_off % PG, 0);
		buf = malloc(r->len);
		ck_assert_int_eq(pread_full(fd, buf, r->len, (off_t)r->file_off), 0);
		for (uint64_t k = 0; k < r->len; k += 509)
			ck_assert_msg(buf[k] == pattern_byte(p->pid, r->vaddr + k),
				      "pid %d run %zu byte %llu", p->pid, i, (unsigned long long)k);
		free(buf);
	}
	close(fd);
}

START_TEST(round_trip)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct computation c, *r = NULL;
	struct image_stats st;
	uint64_t pages = 0;
	char err[256] = "", why[64] = "";

	sample_computation(&c, 3);
	c.procs[0].fds[1].deleted = true;	/* two fds' contents in one file */
	c.procs[2].fds[3].deleted = false;	/* none: no file */
	add_runs_and_contents(&c);
	ck_assert_int_eq(write_sample(&c, dir, &st), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_msg(r, "%s", err);
	ck_assert_uint_eq(r->version, c.version);
	ck_assert_uint_eq(r->generation, c.generation);
	ck_assert_uint_eq(r->time_ns, c.time_ns);
	ck_assert_str_eq(r->host, c.host);
	ck_assert_str_eq(r->cmdline, c.cmdline);
	ck_assert_mem_eq(&r->cpu, &c.cpu, sizeof(c.cpu));
	ck_assert_uint_eq(r->nr_procs, c.nr_procs);
	for (size_t i = 0; i < c.nr_procs; i++) {
		const struct process_record *a = &c.procs[i], *b = &r->procs[i];
		uint64_t packed = 0;
		char *pack = NULL;

		ck_assert_msg(process_equal(a, b, false, why, sizeof(why)), "pid %d: %s", a->pid, why);
		ck_assert_ptr_nonnull(b->core_path);
		ck_assert_int_eq(b->core_path[0], '/');
		ck_assert_int_eq(access(b->core_path, R_OK), 0);
		ck_assert_uint_eq(b->nr_runs, a->nr_runs);
		for (size_t j = 0; j < a->nr_runs; j++) {
			ck_assert_uint_eq(b->runs[j].vaddr, a->runs[j].vaddr);
			ck_assert_uint_eq(b->runs[j].len, a->runs[j].len);
			pages += a->runs[j].len / PG;
		}
		check_pages(b);
		ck_assert_int_ge(asprintf(&pack, "%s/node-a/shared/fds-%d", dir, b->pid), 0);
		for (size_t j = 0; j < b->nr_fds; j++) {
			const struct fd_record *f = &b->fds[j];
			char want[256], got[256];
			int fd;

			if (!f->deleted) {
				ck_assert_ptr_null(f->content);
				continue;
			}
			ck_assert_ptr_nonnull(f->content);
			ck_assert_int_eq(f->content[0], '/');
			ck_assert_ptr_nonnull(strstr(f->content, "/node-a/shared/fds-"));
			/* Appended in fd order, each at the end of the ones before. */
			ck_assert_uint_eq(f->content_off, packed);
			ck_assert_uint_eq(f->content_len, f->size);
			packed += f->content_len;
			fd = open(f->content, O_RDONLY);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_ge(lseek(fd, 0, SEEK_END), (off_t)packed);
			ck_assert_int_eq(pread_full(fd, got, f->content_len, (off_t)f->content_off), 0);
			ck_assert_int_eq(pread_full(a->fds[j].content_fd, want, f->size, 0), 0);
			ck_assert_mem_eq(got, want, f->size);
			ck_assert_int_eq(lseek(a->fds[j].content_fd, 0, SEEK_CUR), 7);
			close(fd);
		}
		/* One file for all of them, exactly their bytes; none without any. */
		if (packed) {
			struct stat sb;

			ck_assert_int_eq(stat(pack, &sb), 0);
			ck_assert_uint_eq((uint64_t)sb.st_size, packed);
		} else {
			ck_assert_int_eq(access(pack, F_OK), -1);
		}
		free(pack);
	}
	ck_assert_uint_eq(st.pages_dumped, pages);
	ck_assert_uint_gt(st.bytes_written, pages * PG);
	computation_destroy(r);
	close_contents(&c);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

/*
 * A reader that holds the writer to its word in mem_reader.release.  In
 * lockstep: the reader may not run ahead (each read of the one big run
 * waits for the release of the buffer before), so a release of more than
 * was read shows every time, not when the reader happens to be slow.
 */
struct release_check {
	struct fake_mem fm;
	struct mem_reader inner;
	pid_t pid;
	pthread_t writer;		/* the thread that called image_write */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t read_end, released;
	unsigned int reads, releases, violations;
};

static int checked_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct release_check *rc = ctx;
	struct timespec deadline;

	if (pid != rc->pid)
		return rc->inner.read(rc->inner.ctx, pid, addr, buf, len);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&rc->lock);
	while (rc->releases < rc->reads &&
	       pthread_cond_timedwait(&rc->cond, &rc->lock, &deadline) == 0)
		;
	rc->violations += addr < rc->released;	/* read again after its release */
	rc->read_end = MAX(rc->read_end, addr + len);
	rc->reads++;
	pthread_mutex_unlock(&rc->lock);
	return rc->inner.read(rc->inner.ctx, pid, addr, buf, len);
}

static void checked_release(void *ctx, pid_t pid, uint64_t addr)
{
	struct release_check *rc = ctx;

	if (pid != rc->pid)
		return;
	pthread_mutex_lock(&rc->lock);
	/* By the writing thread, rising, and nothing that was not read. */
	rc->violations += !pthread_equal(pthread_self(), rc->writer) || addr < rc->released ||
			  addr > rc->read_end;
	rc->released = addr;
	rc->releases++;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
}

START_TEST(release_only_what_was_read)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct release_check rc = { .writer = pthread_self(),
				    .lock = PTHREAD_MUTEX_INITIALIZER,
				    .cond = PTHREAD_COND_INITIALIZER };
	struct mem_reader mr;
	struct computation c, *r = NULL;
	struct process_record *p;
	struct image_stats st;
	char err[256] = "";

	sample_computation(&c, 2);
	add_runs_and_contents(&c);
	/* One run of 16 MiB: buffers of 5 MiB, four reads of it. */
	p = &c.procs[0];
	free(p->runs);
	p->nr_runs = 1;
	p->runs = calloc(1, sizeof(*p->runs));
	p->runs[0] = (struct page_run){ 0x10000000ull, 16ull << 20 };
	/* No argv read before the pages (read_psargs): reads are the stream's. */
	p->mm.arg_start = p->mm.arg_end = 0;
	fake_mem_reader(&rc.inner, &rc.fm);
	rc.pid = p->real_pid;
	mr = (struct mem_reader){ .read = checked_read, .release = checked_release, .ctx = &rc };
	ck_assert_int_eq(image_write(&c, dir, &sample_key, &mr, &st), 0);
	ck_assert_uint_eq(rc.violations, 0);
	ck_assert_uint_eq(rc.reads, 4);
	ck_assert_uint_ge(rc.releases, 3);
	ck_assert_uint_le(rc.released, rc.read_end);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_msg(r, "%s", err);
	check_pages(&r->procs[0]);
	computation_destroy(r);
	close_contents(&c);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

/* What gdb relies on, read back with libelf. */
START_TEST(core_notes)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp), *core = NULL;
	struct computation c;
	const struct process_record *p;
	size_t nph, prstatus = 0, xstate = 0, fpregs = 0, file = 0, auxv = 0, psinfo = 0, ours = 0;
	GElf_Ehdr eh;
	Elf *e;
	int fd;

	sample_computation(&c, 2);
	add_runs_and_contents(&c);
	p = &c.procs[1];
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	ck_assert_int_ge(asprintf(&core, "%s/node-a/proc-%d.core", dir, p->pid), 0);
	fd = open(core, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(gelf_getehdr(e, &eh));
	ck_assert_uint_eq(eh.e_type, ET_CORE);
	ck_assert_uint_eq(eh.e_machine, EM_X86_64);
	ck_assert_int_eq(elf_getphdrnum(e, &nph), 0);
	ck_assert_uint_eq(nph, 1 + p->nr_runs);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		ck_assert_ptr_nonnull(gelf_getphdr(e, (int)i, &ph));
		if (ph.p_type == PT_LOAD) {
			ck_assert_uint_eq(ph.p_offset % PG, 0);
			ck_assert_uint_eq(ph.p_align, PG);
			ck_assert_uint_eq(ph.p_filesz, ph.p_memsz);
			ck_assert_uint_eq(ph.p_vaddr, p->runs[i - 1].vaddr);
			continue;
		}
		ck_assert_uint_eq(ph.p_type, PT_NOTE);
		Elf_Data *d = elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		size_t off = 0, no, doff;
		GElf_Nhdr nh;

		ck_assert_ptr_nonnull(d);
		while ((off = gelf_getnote(d, off, &nh, &no, &doff)) > 0) {
			const char *name = (const char *)d->d_buf + no;
			const uint8_t *desc = (const uint8_t *)d->d_buf + doff;

			if (!strcmp(name, "CORE") && nh.n_type == NT_PRSTATUS) {
				struct elf_prstatus st;

				ck_assert_uint_eq(nh.n_descsz, sizeof(st));
				memcpy(&st, desc, sizeof(st));
				ck_assert_int_eq(st.pr_pid, p->threads[prstatus].tid);
				ck_assert_mem_eq(&st.pr_reg, &p->threads[prstatus].regs, sizeof(st.pr_reg));
				prstatus++;
			} else if (!strcmp(name, "CORE") && nh.n_type == NT_FPREGSET) {
				ck_assert_uint_eq(nh.n_descsz, 512);
				fpregs++;
			} else if (!strcmp(name, "LINUX") && nh.n_type == NT_X86_XSTATE) {
				ck_assert_uint_eq(nh.n_descsz, p->threads[xstate].xstate_len);
				ck_assert_mem_eq(desc, p->threads[xstate].xstate, nh.n_descsz);
				xstate++;
			} else if (!strcmp(name, "CORE") && nh.n_type == NT_FILE) {
				uint64_t count;

				memcpy(&count, desc, 8);
				ck_assert_uint_gt(count, 0);
				file++;
			} else if (!strcmp(name, "CORE") && nh.n_type == NT_AUXV) {
				ck_assert_uint_eq(nh.n_descsz, p->mm.auxv_len);
				auxv++;
			} else if (!strcmp(name, "CORE") && nh.n_type == NT_PRPSINFO) {
				struct elf_prpsinfo ps;

				memcpy(&ps, desc, sizeof(ps));
				ck_assert_str_eq(ps.pr_fname, p->comm);
				psinfo++;
			} else if (!strcmp(name, TC_NOTE_NAME) && nh.n_type == TC_NT_PROCESS) {
				ours++;
			}
		}
	}
	ck_assert_uint_eq(prstatus, p->nr_threads);
	ck_assert_uint_eq(fpregs, p->nr_threads);
	ck_assert_uint_eq(xstate, p->nr_threads);
	ck_assert_uint_eq(file, 1);
	ck_assert_uint_eq(auxv, 1);
	ck_assert_uint_eq(psinfo, 1);
	ck_assert_uint_eq(ours, 1);
	elf_end(e);
	close(fd);
	close_contents(&c);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

static void write_fixture(const char *dir, uint64_t generation)
{
	struct computation c;

	sample_computation(&c, 2);
	c.generation = generation;
	add_runs_and_contents(&c);
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	close_contents(&c);
	computation_free(&c);
}

static void expect_damage(const char *dir, const char *what)
{
	struct computation *r = NULL;
	char err[256] = "";

	ck_assert_int_lt(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, what), "error \"%s\" does not say \"%s\"", err, what);
}

START_TEST(corruption_detected)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp), *core = NULL,
			    *shared = NULL, *man = NULL;
	struct stat sb;
	uint8_t b;
	int fd;

	write_fixture(dir, 1);
	ck_assert_int_ge(asprintf(&core, "%s/node-a/proc-101.core", dir), 0);
	ck_assert_int_ge(asprintf(&shared, "%s/node-a/shared/fds-101", dir), 0);
	ck_assert_int_ge(asprintf(&man, "%s/manifest", dir), 0);

	/* One flipped bit in the page data. */
	fd = open(core, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_int_eq(pread_full(fd, &b, 1, sb.st_size - 100), 0);
	b ^= 1;
	ck_assert_int_eq(pwrite_full(fd, &b, 1, sb.st_size - 100), 0);
	expect_damage(dir, "node-a/proc-101.core: checksum mismatch");
	b ^= 1;
	ck_assert_int_eq(pwrite_full(fd, &b, 1, sb.st_size - 100), 0);
	/* Cut short. */
	ck_assert_int_eq(ftruncate(fd, sb.st_size - 4096), 0);
	expect_damage(dir, "node-a/proc-101.core: truncated");
	close(fd);

	write_fixture(dir, 2);
	ck_assert_int_eq(unlink(shared), 0);
	expect_damage(dir, "node-a/shared/fds-101: missing");

	write_fixture(dir, 3);
	fd = open(man, O_RDWR);
	ck_assert_int_eq(pread_full(fd, &b, 1, 40), 0);
	b ^= 0x80;
	ck_assert_int_eq(pwrite_full(fd, &b, 1, 40), 0);
	close(fd);
	expect_damage(dir, "manifest");
	ck_assert_int_eq(unlink(man), 0);
	expect_damage(dir, "manifest: missing");
	expect_damage("/nonexistent/tc", "/nonexistent/tc");
	rm_rf(tmp);
}
END_TEST

/* The manifest of dir rewritten as an attacker with the key would: f changes it, then signed. */
static void resign(const char *dir, void (*f)(const char *dir, struct manifest *m))
{
	struct manifest m = { 0 };
	char err[256] = "";
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(dirfd, 0);
	ck_assert_msg(manifest_read_at(dirfd, dir, "manifest", &sample_key, &m, err,
				       sizeof(err)) == 0, "%s", err);
	f(dir, &m);
	ck_assert_msg(manifest_write_at(dirfd, dir, "manifest", NULL, &m, &sample_key, 0, NULL,
					err, sizeof(err)) == 0, "%s", err);
	manifest_free(&m);
	close(dirfd);
}

/* Every file's size and checksum as it is now. */
static void sum_again(const char *dir, struct manifest *m)
{
	for (size_t i = 0; i < m->nr_files; i++) {
		char *path;
		int fd;

		ck_assert_int_ge(asprintf(&path, "%s/%s", dir, m->files[i].path), 0);
		fd = open(path, O_RDONLY);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(image_file_checksum(fd, &m->files[i].xxh3, &m->files[i].size), 0);
		close(fd);
		free(path);
	}
}

static void version_3(const char *dir, struct manifest *m)
{
	(void)dir;
	m->version = 3;
}

static void version_1(const char *dir, struct manifest *m)
{
	(void)dir;
	m->version = 1;
}

static void expect_refusal(const char *dir, int want, const char *what, const char *what2)
{
	struct computation *r = NULL;
	char err[512] = "";

	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), want);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, what), "error \"%s\" does not say \"%s\"", err, what);
	ck_assert_msg(strstr(err, what2), "error \"%s\" does not say \"%s\"", err, what2);
}

/*
 * Images are hostile input: an fd's range past the end of its process's
 * content file, and a format newer than the reader's, are refused by name
 * before anything reads them, even with a good MAC.
 */
START_TEST(crafted_contents_refused)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp), *pack = NULL;
	struct computation *r = NULL;
	char err[512] = "";
	struct stat sb;

	write_fixture(dir, 1);
	ck_assert_int_ge(asprintf(&pack, "%s/node-a/shared/fds-101", dir), 0);
	ck_assert_int_eq(stat(pack, &sb), 0);
	ck_assert_int_gt(sb.st_size, 1);
	ck_assert_int_eq(truncate(pack, sb.st_size - 1), 0);
	resign(dir, sum_again);
	expect_refusal(dir, -EBADMSG, "node-a/proc-101.core: fd 9: content bytes 0+",
		       "past the end of");

	/* Newer than this reader: refused, naming both versions. */
	rm_rf(dir);
	write_fixture(dir, 1);
	resign(dir, version_3);
	snprintf(err, sizeof(err), "newer than this trace-ckpt reads (%u)", TC_FORMAT_VERSION);
	expect_refusal(dir, -EPROTONOSUPPORT, "format version 3", err);

	/* Older (version 1, a file per fd): each fd's content is its whole file. */
	rm_rf(dir);
	write_fixture(dir, 1);
	resign(dir, version_1);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_msg(r, "%s", err);
	ck_assert_uint_eq(r->version, 1);
	for (size_t i = 0; i < r->nr_procs; i++)
		for (size_t j = 0; j < r->procs[i].nr_fds; j++) {
			const struct fd_record *f = &r->procs[i].fds[j];

			if (!f->content)
				continue;
			ck_assert_int_eq(stat(f->content, &sb), 0);
			ck_assert_uint_eq(f->content_off, 0);
			ck_assert_uint_eq(f->content_len, (uint64_t)sb.st_size);
		}
	computation_destroy(r);
	rm_rf(tmp);
}
END_TEST

static size_t leftovers(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp-") || strstr(de->d_name, ".old-"))
			n++;
	closedir(d);
	return n;
}

START_TEST(replace_and_fail_atomically)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct computation c, *r = NULL;
	struct fake_mem fm = { .fail_at_call = 3 };
	struct mem_reader mr = { 0 };
	struct stat sb;
	char err[256];

	write_fixture(dir, 1);
	write_fixture(dir, 2);
	ck_assert_uint_eq(leftovers(tmp), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r->generation, 2);
	computation_destroy(r);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0700);

	/* A read failure midway: the previous image stays, no temporary is left. */
	sample_computation(&c, 2);
	c.generation = 3;
	add_runs_and_contents(&c);
	fake_mem_reader(&mr, &fm);
	ck_assert_int_eq(image_write(&c, dir, &sample_key, &mr, NULL), -EFAULT);
	ck_assert_uint_eq(leftovers(tmp), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r->generation, 2);
	computation_destroy(r);

	/* No host directory name can escape the image. */
	free(c.host);
	c.host = strdup("../evil");
	ck_assert_int_eq(write_sample(&c, dir, NULL), -EINVAL);
	ck_assert_uint_eq(leftovers(tmp), 0);
	close_contents(&c);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

static uint64_t generation_of(const char *dir)
{
	struct computation *r = NULL;
	char err[256];
	uint64_t g;

	ck_assert_msg(image_read(dir, &sample_key, &r, err, sizeof(err)) == 0, "%s: %s", dir, err);
	g = r->generation;
	computation_destroy(r);
	return g;
}

/* run --keep 3: DIR is the latest, DIR.1 and DIR.2 the two before, no more. */
START_TEST(keep_previous_images)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	char path[PATH_MAX];
	struct stat sb;

	for (uint64_t g = 1; g <= 5; g++) {
		struct computation c;
		struct fake_mem fm = { 0 };
		struct mem_reader mr = { 0 };

		sample_computation(&c, 2);
		c.generation = g;
		add_runs_and_contents(&c);
		fake_mem_reader(&mr, &fm);
		ck_assert_int_eq(image_write_keep(&c, dir, 2, &sample_key, &mr, NULL), 0);
		close_contents(&c);
		computation_free(&c);
	}
	ck_assert_uint_eq(leftovers(tmp), 0);
	ck_assert_uint_eq(generation_of(dir), 5);
	snprintf(path, sizeof(path), "%s.1", dir);
	ck_assert_uint_eq(generation_of(path), 4);
	snprintf(path, sizeof(path), "%s.2", dir);
	ck_assert_uint_eq(generation_of(path), 3);
	snprintf(path, sizeof(path), "%s.3", dir);
	ck_assert_int_eq(stat(path, &sb), -1);

	/* Without keep, the image replaced goes and the kept ones stay as they are. */
	write_fixture(dir, 6);
	ck_assert_uint_eq(generation_of(dir), 6);
	snprintf(path, sizeof(path), "%s.1", dir);
	ck_assert_uint_eq(generation_of(path), 4);
	rm_rf(tmp);
}
END_TEST

START_TEST(file_modes)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp), *p = NULL;
	struct stat sb;

	write_fixture(dir, 1);
	ck_assert_int_ge(asprintf(&p, "%s/node-a/proc-100.core", dir), 0);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	free(p);
	ck_assert_int_ge(asprintf(&p, "%s/node-a", dir), 0);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0700);
	free(p);
	ck_assert_int_ge(asprintf(&p, "%s/manifest", dir), 0);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	rm_rf(tmp);
}
END_TEST

START_TEST(empty_computation)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct computation c = { .version = 1, .generation = 1 }, *r = NULL;
	char err[256];

	c.host = strdup("h");
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r->nr_procs, 0);
	ck_assert_ptr_null(r->cmdline);
	computation_destroy(r);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

/* A process of one anonymous and one file mapping for the planner. */
static void plan_process(struct process_record *p, size_t nr_runs)
{
	memset(p, 0, sizeof(*p));
	p->nr_vmas = 3;
	p->vmas = calloc(3, sizeof(*p->vmas));
	p->vmas[0] = (struct vma_record){ .start = 0x10000000, .end = 0x10000000 + 4096 * PG,
					  .prot = 3, .kind = VMA_ANON_PRIVATE };
	/* Adjacent: a gap may run from one mapping into the next. */
	p->vmas[1] = (struct vma_record){ .start = 0x10000000 + 4096 * PG,
					  .end = 0x10000000 + 8192 * PG, .prot = 5,
					  .kind = VMA_FILE_PRIVATE };
	/* After a hole. */
	p->vmas[2] = (struct vma_record){ .start = 0x20000000, .end = 0x20000000 + 16 * PG,
					  .prot = 1, .kind = VMA_ANON_PRIVATE };
	p->runs = calloc(nr_runs, sizeof(*p->runs));
	p->nr_runs = nr_runs;
}

START_TEST(plan_merges_smallest_gaps)
{
	struct process_record p;
	struct core_plan plan;
	uint64_t total = 0, covered = 0;
	size_t n = 0;

	plan_process(&p, 100);
	/* 99 runs across the two adjacent mappings, gaps of 1..3 pages; one in the far one. */
	for (uint64_t a = 0x10000000; n < 99; n++) {
		p.runs[n] = (struct page_run){ a, PG * (1 + n % 2) };
		a += p.runs[n].len + PG * (1 + n % 3);
	}
	p.runs[99] = (struct page_run){ 0x20000000 + 4 * PG, PG };

	ck_assert_int_eq(core_plan_build(&p, 1000, &plan), 0);
	ck_assert_uint_eq(plan.nr_segs, 100);
	core_plan_free(&plan);

	ck_assert_int_eq(core_plan_build(&p, 10, &plan), 0);
	ck_assert_uint_eq(plan.nr_segs, 10);
	for (size_t i = 0; i < plan.nr_segs; i++) {
		const struct core_seg *s = &plan.segs[i];

		ck_assert_uint_eq(s->off, total);
		total += s->len;
		if (i)
			ck_assert_uint_gt(s->vaddr, plan.segs[i - 1].vaddr);
	}
	ck_assert_uint_eq(plan.data_bytes, total);
	/* The far run is alone: the hole before it is not mapped. */
	ck_assert_uint_eq(plan.segs[9].vaddr, 0x20000000 + 4 * PG);
	ck_assert_uint_eq(plan.segs[9].pflags, PF_R);
	/* Pieces cover the segments exactly, zeros only in anonymous memory. */
	for (size_t i = 0; i < plan.nr_pieces; i++) {
		const struct core_piece *pc = &plan.pieces[i];

		covered += pc->len;
		if (pc->zero) {
			ck_assert_uint_lt(pc->vaddr, p.vmas[0].end);
			ck_assert_uint_le(pc->vaddr + pc->len, p.vmas[0].end);
		}
		if (i)
			ck_assert_uint_ge(pc->vaddr, plan.pieces[i - 1].vaddr + plan.pieces[i - 1].len);
	}
	ck_assert_uint_eq(covered, total);
	/* A segment spanning both mappings gets both protections. */
	for (size_t i = 0; i < plan.nr_segs; i++)
		if (plan.segs[i].vaddr < p.vmas[0].end &&
		    plan.segs[i].vaddr + plan.segs[i].len > p.vmas[1].start)
			ck_assert_uint_eq(plan.segs[i].pflags, PF_R | PF_W | PF_X);
	core_plan_free(&plan);

	/* Two segments are too few: the hole cannot be bridged. */
	ck_assert_int_eq(core_plan_build(&p, 1, &plan), -E2BIG);
	ck_assert_int_eq(core_plan_build(&p, 2, &plan), 0);
	core_plan_free(&plan);

	/* Unsorted or unaligned runs are the collector's bug, not silently fixed. */
	p.runs[5].vaddr += 17;
	ck_assert_int_eq(core_plan_build(&p, 10, &plan), -EINVAL);
	p.runs[5].vaddr -= 17;
	p.runs[6].vaddr = p.runs[5].vaddr;
	ck_assert_int_eq(core_plan_build(&p, 10, &plan), -EINVAL);
	process_record_free(&p);
}
END_TEST

/* More runs than PT_LOADs allowed: written merged, read back with zeros in the gaps. */
START_TEST(too_many_runs)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct computation c = { .version = 1, .generation = 1 }, *r = NULL;
	const size_t nr = CORE_MAX_LOADS + 20;
	struct process_record *p;
	char err[256] = "";
	uint64_t data = 0;
	uint8_t page[PG];
	int fd;

	c.host = strdup("h");
	c.nr_procs = 1;
	c.procs = calloc(1, sizeof(*c.procs));
	p = &c.procs[0];
	plan_process(p, nr);
	p->pid = p->real_pid = 42;
	p->nr_vmas = 1;
	/* Gaps of two pages, except one page after every 1000th run: those merge. */
	for (size_t i = 0, a = p->vmas[0].start; i < nr; i++) {
		p->runs[i] = (struct page_run){ a, PG };
		a += PG + (i % 1000 == 999 ? PG : 2 * PG);
	}
	p->vmas[0].end = p->runs[nr - 1].vaddr + PG;
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_msg(r, "%s", err);
	p = &r->procs[0];
	ck_assert_uint_eq(p->nr_runs, CORE_MAX_LOADS);
	fd = open(p->core_path, O_RDONLY);
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_run *run = &p->runs[i];

		data += run->len;
		if (run->len == PG)
			continue;
		/* A merged run: its first page is data, the second a zero gap. */
		ck_assert_uint_eq(run->len, 3 * PG);
		ck_assert_int_eq(pread_full(fd, page, PG, (off_t)run->file_off + PG), 0);
		for (size_t k = 0; k < PG; k++)
			ck_assert_uint_eq(page[k], 0);
		ck_assert_int_eq(pread_full(fd, page, PG, (off_t)run->file_off + 2 * PG), 0);
		ck_assert_uint_eq(page[100], pattern_byte(42, run->vaddr + 2 * PG + 100));
	}
	ck_assert_uint_eq(data, (nr + 20) * PG);
	close(fd);
	computation_destroy(r);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

/* tmpfs: O_DIRECT may be refused there, and the writer falls back to the page cache. */
START_TEST(other_filesystem)
{
	char tmp[] = "/dev/shm/tc-unit-XXXXXX", *dir = NULL;
	struct computation *r = NULL;
	char err[256];

	if (!mkdtemp(tmp))
		return;
	dir = image_dir(tmp);
	write_fixture(dir, 5);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r->generation, 5);
	check_pages(&r->procs[1]);
	computation_destroy(r);
	free(dir);
	rm_rf(tmp);
}
END_TEST

/*
 * An image that takes pages from an earlier one: the first image's core
 * is linked into it, the base runs point into that core; deleting the first
 * image takes nothing from the second.
 */
static void take_from(struct process_record *p, const struct process_record *old, uint64_t gen,
		      size_t run)
{
	p->base_files = calloc(1, sizeof(*p->base_files));
	p->nr_base_files = 1;
	ck_assert_int_ge(asprintf(&p->base_files[0].name, "proc-%d.g%llu.core", p->pid,
				  (unsigned long long)gen), 0);
	p->base_files[0].path = strdup(old->core_path);
	p->base_files[0].size = old->core_entry.size;
	p->base_files[0].xxh3 = old->core_entry.xxh3;
	p->base_files[0].head_len = old->core_entry.head_len;
	p->base_files[0].head_xxh3 = old->core_entry.head_xxh3;
	p->base_runs = calloc(1, sizeof(*p->base_runs));
	p->nr_base_runs = 1;
	p->base_runs[0] = (struct base_run){ old->runs[run].vaddr, old->runs[run].len,
					     old->runs[run].file_off, 0, 0 };
}

START_TEST(incremental_bases)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *first = NULL, *second = NULL, *bad = NULL;
	struct computation c, c2, *r1 = NULL, *r2 = NULL, *r3 = NULL;
	struct process_record *p;
	char err[512] = "";
	uint8_t buf[PG];
	int fd;

	ck_assert_int_ge(asprintf(&first, "%s/first", tmp), 0);
	ck_assert_int_ge(asprintf(&second, "%s/second", tmp), 0);
	ck_assert_int_ge(asprintf(&bad, "%s/bad", tmp), 0);
	sample_computation(&c, 1);
	add_runs_and_contents(&c);
	ck_assert_int_eq(write_sample(&c, first, NULL), 0);
	ck_assert_int_eq(image_read(first, &sample_key, &r1, err, sizeof(err)), 0);
	ck_assert_uint_ge(r1->procs[0].nr_runs, 2);

	/* The second image stores its first run and takes the second from the first image. */
	sample_computation(&c2, 1);
	add_runs_and_contents(&c2);
	p = &c2.procs[0];
	take_from(p, &r1->procs[0], r1->generation, 1);
	memmove(&p->runs[1], &p->runs[2], (p->nr_runs - 2) * sizeof(*p->runs));
	p->nr_runs--;
	ck_assert_int_eq(write_sample(&c2, second, NULL), 0);
	ck_assert_int_eq(rm_rf(first), 0);
	ck_assert_int_eq(image_read(second, &sample_key, &r2, err, sizeof(err)), 0);
	ck_assert_msg(r2, "%s", err);
	ck_assert_uint_eq(r2->procs[0].nr_base_files, 1);
	ck_assert_uint_eq(r2->procs[0].nr_base_runs, 1);
	ck_assert_mem_eq(&r2->procs[0].base_runs[0], &p->base_runs[0], sizeof(struct base_run));
	fd = open(r2->procs[0].base_files[0].path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread_full(fd, buf, PG, (off_t)p->base_runs[0].file_off), 0);
	close(fd);
	for (size_t k = 0; k < PG; k += 97)
		ck_assert_uint_eq(buf[k], pattern_byte(p->pid, p->base_runs[0].vaddr + k));

	/* Crafted base runs are refused by name, before anything uses them. */
	for (int variant = 0; variant < 4; variant++) {
		struct base_run saved = p->base_runs[0];

		p->base_files[0].path = (free(p->base_files[0].path),
					 strdup(r2->procs[0].base_files[0].path));
		if (variant == 0)		/* past the end of the file */
			p->base_runs[0].file_off = p->base_files[0].size;
		else if (variant == 1)		/* a file the image does not have */
			p->base_runs[0].file = 1;
		else if (variant == 2)		/* over one of the core's own runs */
			p->base_runs[0].vaddr = p->runs[0].vaddr;
		else				/* unaligned */
			p->base_runs[0].file_off += 8;
		rm_rf(bad);
		ck_assert_int_eq(write_sample(&c2, bad, NULL), 0);
		err[0] = '\0';
		ck_assert_int_eq(image_read(bad, &sample_key, &r3, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, "earlier generation"), "variant %d: %s", variant, err);
		p->base_runs[0] = saved;
	}
	close_contents(&c);
	close_contents(&c2);
	computation_free(&c);
	computation_free(&c2);
	computation_destroy(r1);
	computation_destroy(r2);
	rm_rf(tmp);
}
END_TEST

/*
 * A plain core's pages are summed per TC_CHUNK_SIZE in the manifest (what
 * restore --lazy checks before it serves a page); a compressed one has none.
 */
START_TEST(chunk_sums_of_pages)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp), *zdir = NULL;
	struct computation c, *r = NULL;
	char err[256] = "";

	ck_assert_int_ge(asprintf(&zdir, "%s/z", tmp), 0);
	sample_computation(&c, 1);
	add_runs_and_contents(&c);
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct process_record *p = &r->procs[i];
		const struct base_file *e = &p->core_entry;
		uint64_t data = e->size - e->head_len;
		int fd = open(p->core_path, O_RDONLY);
		uint8_t *buf = malloc(TC_CHUNK_SIZE);

		ck_assert_int_ge(fd, 0);
		ck_assert_uint_gt(e->head_len, 0);
		ck_assert_uint_eq(e->nr_chunk_sums, (data + TC_CHUNK_SIZE - 1) / TC_CHUNK_SIZE);
		for (uint32_t k = 0; k < e->nr_chunk_sums; k++) {
			uint64_t n = data - k * TC_CHUNK_SIZE;

			n = n < TC_CHUNK_SIZE ? n : TC_CHUNK_SIZE;
			ck_assert_int_eq(pread_full(fd, buf, n, (off_t)(e->head_len + k * TC_CHUNK_SIZE)),
					 0);
			ck_assert_msg(XXH3_64bits(buf, n) == e->chunk_sums[k], "pid %d piece %u",
				      p->pid, k);
		}
		free(buf);
		close(fd);
	}
	computation_destroy(r);
	r = NULL;
	c.zstd_level = 1;
	ck_assert_int_eq(write_sample(&c, zdir, NULL), 0);
	ck_assert_int_eq(image_read(zdir, &sample_key, &r, err, sizeof(err)), 0);
	ck_assert_ptr_null(r->procs[0].core_entry.chunk_sums);
	computation_destroy(r);
	close_contents(&c);
	computation_free(&c);
	rm_rf(tmp);
}
END_TEST

/* dump --compress: the pages are one zstd stream, the segments count uncompressed. */
START_TEST(compressed_pages)
{
	_cleanup_free_ char *tmp = make_tmpdir(), *dir = image_dir(tmp);
	struct computation c, *r = NULL;
	const struct process_record *p;
	char err[256] = "";
	uint8_t *file, *plain;
	struct stat st;
	size_t n;
	int fd;

	sample_computation(&c, 1);
	add_runs_and_contents(&c);
	c.zstd_level = 1;
	ck_assert_int_eq(write_sample(&c, dir, NULL), 0);
	ck_assert_int_eq(image_read(dir, &sample_key, &r, err, sizeof(err)), 0);
	p = &r->procs[0];
	ck_assert_uint_gt(p->zstd_pages_off, 0);
	ck_assert_uint_gt(p->zstd_pages_end, p->zstd_pages_off);
	fd = open(p->core_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	/* The sample's patterned pages shrink. */
	ck_assert_uint_lt((uint64_t)st.st_size, p->zstd_pages_end);
	file = malloc((size_t)st.st_size);
	plain = malloc((size_t)p->zstd_pages_end);
	ck_assert_int_eq(pread_full(fd, file, (size_t)st.st_size, 0), 0);
	close(fd);
	n = ZSTD_decompress(plain + p->zstd_pages_off, p->zstd_pages_end - p->zstd_pages_off,
			    file + p->zstd_pages_off, (size_t)st.st_size - p->zstd_pages_off);
	ck_assert_msg(!ZSTD_isError(n), "%s", ZSTD_getErrorName(n));
	ck_assert_uint_eq(n, p->zstd_pages_end - p->zstd_pages_off);
	for (size_t i = 0; i < p->nr_runs; i++)
		for (uint64_t k = 0; k < p->runs[i].len; k += 509)
			ck_assert_uint_eq(plain[p->runs[i].file_off + k],
					  pattern_byte(p->pid, p->runs[i].vaddr + k));
	free(file);
	free(plain);
	close_contents(&c);
	computation_free(&c);
	computation_destroy(r);
	rm_rf(tmp);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, release_only_what_was_read);
	tcase_add_test(tc, core_notes);
	tcase_add_test(tc, corruption_detected);
	tcase_add_test(tc, crafted_contents_refused);
	tcase_add_test(tc, replace_and_fail_atomically);
	tcase_add_test(tc, keep_previous_images);
	tcase_add_test(tc, file_modes);
	tcase_add_test(tc, empty_computation);
	tcase_add_test(tc, plan_merges_smallest_gaps);
	tcase_add_test(tc, too_many_runs);
	tcase_add_test(tc, other_filesystem);
	tcase_add_test(tc, incremental_bases);
	tcase_add_test(tc, compressed_pages);
	tcase_add_test(tc, chunk_sums_of_pages);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(image_suite)
