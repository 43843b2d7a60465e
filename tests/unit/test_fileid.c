/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/fileid.h"

struct mem_note {
	uint8_t id[TC_BUILD_ID_MAX];
	size_t len;
};

/* The build-id as the loader mapped it: a path that does not go through libelf. */
static int main_program_note(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mem_note *m = arg;

	(void)size;
	if (info->dlpi_name && info->dlpi_name[0])
		return 0;	/* not the main program */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == 3 && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
			    nh->n_descsz <= sizeof(m->id)) {
				memcpy(m->id, desc, nh->n_descsz);
				m->len = nh->n_descsz;
				return 1;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

START_TEST(build_id_of_this_test_binary)
{
	struct mem_note mem = { 0 };
	uint8_t id[TC_BUILD_ID_MAX];
	size_t len = 0;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	dl_iterate_phdr(main_program_note, &mem);
	ck_assert_msg(mem.len > 0, "this test binary was linked without a build-id");
	ck_assert_int_eq(elf_build_id(fd, id, sizeof(id), &len), 0);
	ck_assert_uint_eq(len, mem.len);
	ck_assert_mem_eq(id, mem.id, len);
	/* Too small a buffer is said so, not cut. */
	ck_assert_int_eq(elf_build_id(fd, id, len - 1, &len), -EMSGSIZE);
	close(fd);
}
END_TEST

START_TEST(file_id_of_this_test_binary)
{
	struct file_id fid;
	struct stat st;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(file_id_read(fd, &fid), 0);
	ck_assert_uint_eq(fid.flags, FILE_ID_F_KNOWN | FILE_ID_F_BUILD_ID);
	ck_assert_uint_eq(fid.size, (uint64_t)st.st_size);
	ck_assert_uint_eq(fid.mtime_ns, st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
	ck_assert_uint_ge(fid.build_id_len, 16);
	close(fd);
}
END_TEST

static int temp_with(const void *data, size_t len)
{
	char path[] = "/tmp/tc-fileid-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

START_TEST(no_build_id_in_other_files)
{
	static const char text[] = "#!/bin/sh\necho this is no ELF file at all, but long enough\n";
	uint8_t id[TC_BUILD_ID_MAX], elfish[128] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct file_id fid;
	size_t len = 0;
	int fd = temp_with(text, sizeof(text));

	ck_assert_int_eq(elf_build_id(fd, id, sizeof(id), &len), -ENOENT);
	ck_assert_int_eq(file_id_read(fd, &fid), 0);
	ck_assert_uint_eq(fid.flags, FILE_ID_F_KNOWN);
	ck_assert_uint_eq(fid.size, sizeof(text));
	close(fd);
	/* An ELF magic with garbage after it: no note, no crash. */
	fd = temp_with(elfish, sizeof(elfish));
	ck_assert_int_eq(elf_build_id(fd, id, sizeof(id), &len), -ENOENT);
	close(fd);
	fd = temp_with("", 0);
	ck_assert_int_eq(file_id_read(fd, &fid), 0);
	ck_assert_uint_eq(fid.flags, FILE_ID_F_KNOWN);
	close(fd);
}
END_TEST

static struct file_id made(uint64_t size, uint64_t mtime, const char *id)
{
	struct file_id f = { .flags = FILE_ID_F_KNOWN, .size = size, .mtime_ns = mtime };

	if (id) {
		f.flags |= FILE_ID_F_BUILD_ID;
		f.build_id_len = (uint32_t)strlen(id);
		memcpy(f.build_id, id, f.build_id_len);
	}
	return f;
}

START_TEST(same_or_changed)
{
	struct file_id then = made(1234, 1000000000ull, "\x1a\x2b"), now;
	char why[256];

	/* A copy elsewhere: same contents, another mtime. */
	now = made(1234, 2000000000ull, "\x1a\x2b");
	ck_assert(file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "");
	now = made(1234, 1000000000ull, "\x3c\x4d");
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "build-id 1a2b now 3c4d");
	now = made(1234, 1000000000ull, NULL);
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "build-id 1a2b now none");
	/* Same build-id, another size: not the same file after all. */
	now = made(1200, 1000000000ull, "\x1a\x2b");
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "size 1234 now 1200");

	/* Without a build-id: size, then mtime. */
	then = made(1234, 1000000000ull, NULL);
	now = made(1200, 1000000000ull, NULL);
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "size 1234 now 1200");
	now = made(1234, 1000000001ull, NULL);
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	ck_assert_str_eq(why, "mtime 1970-01-01 00:00:01.000000000 UTC now 1970-01-01 00:00:01.000000001 UTC");
	now = made(1234, 1000000000ull, "\x1a");
	ck_assert(file_id_same(&then, &now, why, sizeof(why)));

	/* Nothing recorded (an older image): nothing to refuse. */
	then = (struct file_id){ 0 };
	ck_assert(file_id_same(&then, &now, why, sizeof(why)));
}
END_TEST

START_TEST(hostile_build_id_length)
{
	struct file_id then = made(1, 1, "\x01"), now = made(1, 1, "\x02");
	char why[512];

	then.build_id_len = 0xffffffffu;
	memset(then.build_id, 0xab, sizeof(then.build_id));
	ck_assert(!file_id_same(&then, &now, why, sizeof(why)));
	/* Clamped to the array: 64 bytes, 128 hex digits. */
	ck_assert_uint_eq(strlen(why), strlen("build-id ") + 2 * TC_BUILD_ID_MAX + strlen(" now 02"));
}
END_TEST

static Suite *fileid_suite(void)
{
	Suite *s = suite_create("fileid");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, build_id_of_this_test_binary);
	tcase_add_test(tc, file_id_of_this_test_binary);
	tcase_add_test(tc, no_build_id_in_other_files);
	tcase_add_test(tc, same_or_changed);
	tcase_add_test(tc, hostile_build_id_length);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fileid_suite)
