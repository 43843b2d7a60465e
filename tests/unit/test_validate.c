/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/fileid.h"
#include "restorer/validate.h"
#include "util/fileio.h"
#include "util/macro.h"

static char dir[] = "/tmp/tc-validate-XXXXXX";

static char *path_of(const char *name)
{
	char *p = NULL;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void id_of(const char *path, struct file_id *id, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(file_id_read(fd, id), 0);
	*dev = st.st_dev;
	*ino = st.st_ino;
	close(fd);
}

/* One process with an fd on each path, read-only, as a dump records them. */
static void make(struct computation *c, const char *const *paths, size_t n)
{
	struct process_record *p;

	memset(c, 0, sizeof(*c));
	c->nr_procs = 1;
	c->procs = calloc(1, sizeof(*c->procs));
	p = &c->procs[0];
	p->pid = 7;
	p->nr_fds = n;
	p->fds = calloc(n, sizeof(*p->fds));
	for (size_t i = 0; i < n; i++) {
		struct fd_record *f = &p->fds[i];

		f->fd = 3 + (int)i;
		f->kind = FD_REGULAR;
		f->flags = O_RDONLY;
		f->mode = S_IFREG | 0644;
		f->content_fd = -1;
		f->path = strdup(paths[i]);
		id_of(paths[i], &f->file_id, &f->dev, &f->ino);
	}
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	ck_assert_int_eq(rm_rf(dir), 0);
	strcpy(dir, "/tmp/tc-validate-XXXXXX");
}

START_TEST(unchanged_passes_changed_is_named)
{
	_cleanup_free_ char *a = path_of("input.dat");
	const char *paths[] = { a, a };
	struct computation c;
	char err[1024], want[600];

	put(a, "1234567890");
	make(&c, paths, 2);
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");

	put(a, "12345");
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), -ESTALE);
	snprintf(want, sizeof(want), "pid 7: %s changed since the dump (size 10 now 5)", a);
	ck_assert_msg(strstr(err, want), "%s", err);
	/* Two fds on it: still one line. */
	ck_assert_uint_eq(count(err, "changed since the dump"), 1);
	ck_assert_msg(strstr(err, "--ignore-changed-files"), "%s", err);

	/* Told to go on: a warning, and 0. */
	ck_assert_int_eq(validate_files(&c, true, err, sizeof(err)), 0);

	unlink(a);
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), -ESTALE);
	snprintf(want, sizeof(want), "pid 7: %s is gone since the dump", a);
	ck_assert_msg(strstr(err, want), "%s", err);
	computation_free(&c);
}
END_TEST

START_TEST(files_the_program_writes_may_change)
{
	_cleanup_free_ char *log = path_of("out.log"), *map = path_of("shared.map");
	const char *paths[] = { log, map };
	struct computation c;
	struct process_record *p;
	char err[1024];

	put(log, "line 1\n");
	put(map, "xxxxxxxx");
	make(&c, paths, 2);
	p = &c.procs[0];
	p->fds[0].flags = O_WRONLY | O_APPEND;
	/* The second is mapped shared and writable (its fd is read-only). */
	p->nr_vmas = 1;
	p->vmas = calloc(1, sizeof(*p->vmas));
	p->vmas[0].kind = VMA_FILE_SHARED;
	p->vmas[0].prot = PROT_READ | PROT_WRITE;
	p->vmas[0].path = strdup(map);
	p->vmas[0].dev = p->fds[1].dev;
	p->vmas[0].ino = p->fds[1].ino;
	p->vmas[0].file_id = p->fds[1].file_id;
	p->vmas[0].content_fd = -1;

	put(log, "line 1\nline 2\n");
	put(map, "yyyyyyyyyyyy");
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), 0);

	/* Read-only and mapped read-only: compared. */
	p->fds[0].flags = O_RDONLY;
	p->vmas[0].prot = PROT_READ;
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), -ESTALE);
	ck_assert_uint_eq(count(err, "changed since the dump"), 2);
	computation_free(&c);
}
END_TEST

START_TEST(older_images_and_hostile_names)
{
	_cleanup_free_ char *a = path_of("a"), *evil = path_of("evil\x1b[2J");
	const char *paths[] = { a, evil };
	struct computation c;
	char err[1024];

	put(a, "a");
	put(evil, "b");
	make(&c, paths, 2);
	/* Nothing recorded (an image from before): nothing compared. */
	memset(&c.procs[0].fds[0].file_id, 0, sizeof(struct file_id));
	unlink(a);
	unlink(evil);
	ck_assert_int_eq(validate_files(&c, false, err, sizeof(err)), -ESTALE);
	ck_assert_uint_eq(count(err, "is gone since the dump"), 1);
	/* The name goes to a terminal: no escape sequence. */
	ck_assert_ptr_null(strchr(err, '\x1b'));
	ck_assert_msg(strstr(err, "evil?[2J is gone"), "%s", err);
	computation_free(&c);
}
END_TEST

START_TEST(this_cpu_passes_a_claimed_one_not)
{
	struct computation c = { 0 };
	char err[512];

	cpu_record_host(&c.cpu);
	ck_assert_int_eq(validate_cpu(&c, err, sizeof(err)), 0);
	/* Xeon Phi's own, which no later CPU has. */
	if (!(c.cpu.leaf7_ebx & ((1u << 26) | (1u << 27)))) {
		c.cpu.leaf7_ebx |= (1u << 26) | (1u << 27);
		ck_assert_int_eq(validate_cpu(&c, err, sizeof(err)), -ENOEXEC);
		ck_assert_msg(strstr(err, "this CPU lacks avx512pf, avx512er (the image was made on "),
			      "%s", err);
	}
	/* An image from before CPUs were recorded. */
	memset(&c.cpu, 0, sizeof(c.cpu));
	ck_assert_int_eq(validate_cpu(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(huge_pages_wanted_against_free)
{
	struct vma_record vmas[2] = {
		{ .start = 0x200000, .end = 0x600000, .kind = VMA_ANON_PRIVATE,
		  .flags = VMA_F_HUGETLB, .huge_shift = 21 },
		{ .start = 0x40000000, .end = 0x80000000, .kind = VMA_ANON_PRIVATE },
	};
	struct process_record p = { .vmas = vmas, .nr_vmas = 2 };
	struct computation c = { .procs = &p, .nr_procs = 1 };
	char err[512] = "";

	/* No hugetlb memory: nothing to ask of the system. */
	vmas[0].flags = 0;
	ck_assert_int_eq(validate_huge_pages(&c, err, sizeof(err)), 0);
	/* MAP_NORESERVE: only the pages the image fills are taken. */
	vmas[0].flags = VMA_F_HUGETLB | VMA_F_NORESERVE;
	ck_assert_int_eq(validate_huge_pages(&c, err, sizeof(err)), 0);
	{
		struct page_run runs[2] = { { 0x200000, 0x1000, 0 }, { 0x3ff000, 0x1000, 0 } };
		int one_page;

		/* Two runs in one huge page take what one reserved page does, here. */
		vmas[0].flags = VMA_F_HUGETLB;
		vmas[0].end = vmas[0].start + (2ul << 20);
		one_page = validate_huge_pages(&c, err, sizeof(err));
		vmas[0].flags = VMA_F_HUGETLB | VMA_F_NORESERVE;
		vmas[0].end = vmas[0].start + (1ull << 46);
		p.runs = runs;
		p.nr_runs = 2;
		ck_assert_int_eq(validate_huge_pages(&c, err, sizeof(err)), one_page);
		p.runs = NULL;
		p.nr_runs = 0;
		vmas[0].end = vmas[0].start + (4ul << 20);
	}
	/* More 2 MiB pages than any machine here has. */
	vmas[0].flags = VMA_F_HUGETLB;
	vmas[0].end = vmas[0].start + (1ull << 46);
	ck_assert_int_eq(validate_huge_pages(&c, err, sizeof(err)), -ENOMEM);
	ck_assert_msg(strstr(err, "the image holds 33554432 hugetlb pages of 2048 kB; this system has "),
		      "%s", err);
	ck_assert_msg(strstr(err, "hugepages-2048kB/nr_hugepages"), "%s", err);
	/* A page size this system does not offer at all (x86-64: 2 MiB and 1 GiB). */
	vmas[0].huge_shift = 25;
	vmas[0].start = 1ull << 25;
	vmas[0].end = 2ull << 25;
	ck_assert_int_eq(validate_huge_pages(&c, err, sizeof(err)), -ENOMEM);
	ck_assert_msg(strstr(err, "hugetlb memory of 32768 kB pages, which this system does not offer"),
		      "%s", err);
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unchanged_passes_changed_is_named);
	tcase_add_test(tc, files_the_program_writes_may_change);
	tcase_add_test(tc, older_images_and_hostile_names);
	tcase_add_test(tc, this_cpu_passes_a_claimed_one_not);
	tcase_add_test(tc, huge_pages_wanted_against_free);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(validate_suite)
