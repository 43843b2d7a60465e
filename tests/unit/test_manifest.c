/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "check_main.h"
#include "proto/attrs.h"
#include "proto/manifest.h"
#include "proto/model.h"

static void sample_manifest(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->version = TC_FORMAT_VERSION;
	m->generation = 3;
	m->time_ns = 123456789;
	m->host = strdup("hostA");
	m->cmdline = strdup("prog --flag");
	m->nr_procs = 2;
	m->procs = calloc(2, sizeof(*m->procs));
	m->procs[0] = (struct manifest_proc){ 1, 0, 1, 1, strdup("hostA"), strdup("hostA/proc-1.core") };
	m->procs[1] = (struct manifest_proc){ 7, 1, 1, 1, strdup("hostA"), strdup("hostA/proc-7.core") };
	m->nr_files = 3;
	m->files = calloc(3, sizeof(*m->files));
	m->files[0] = (struct manifest_file){ strdup("hostA/proc-1.core"), 8192, 0x1111 };
	m->files[1] = (struct manifest_file){ strdup("hostA/proc-7.core"), 4096, 0x2222 };
	m->files[2] = (struct manifest_file){ strdup("hostA/shared/file-7-3"), 5, 0x3333 };
}

static void assert_manifest_eq(const struct manifest *a, const struct manifest *b)
{
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_uint_eq(a->generation, b->generation);
	ck_assert_uint_eq(a->time_ns, b->time_ns);
	ck_assert_str_eq(a->host, b->host);
	ck_assert_str_eq(a->cmdline, b->cmdline);
	ck_assert_uint_eq(a->nr_procs, b->nr_procs);
	for (size_t i = 0; i < a->nr_procs; i++) {
		ck_assert_int_eq(a->procs[i].pid, b->procs[i].pid);
		ck_assert_int_eq(a->procs[i].ppid, b->procs[i].ppid);
		ck_assert_int_eq(a->procs[i].pgid, b->procs[i].pgid);
		ck_assert_int_eq(a->procs[i].sid, b->procs[i].sid);
		ck_assert_str_eq(a->procs[i].host, b->procs[i].host);
		ck_assert_str_eq(a->procs[i].core, b->procs[i].core);
	}
	ck_assert_uint_eq(a->nr_files, b->nr_files);
	for (size_t i = 0; i < a->nr_files; i++) {
		ck_assert_str_eq(a->files[i].path, b->files[i].path);
		ck_assert_uint_eq(a->files[i].size, b->files[i].size);
		ck_assert_uint_eq(a->files[i].xxh3, b->files[i].xxh3);
	}
}

START_TEST(round_trip)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[128] = "";

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	ck_assert_mem_eq(buf.data, "TCKPMAN1", 8);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), 0);
	assert_manifest_eq(&a, &b);
	manifest_free(&a);
	manifest_free(&b);
	tlv_buf_free(&buf);
}
END_TEST

/* The top manifest of a checkpoint of several hosts: its members, and bad subdirs. */
START_TEST(members_round_trip)
{
	struct manifest a = { .version = TC_FORMAT_VERSION, .generation = 4,
			      .flags = TC_COMP_F_MULTIHOST }, b;
	struct manifest_member mm[2] = {
		{ "h1", "10.0.0.1", "h1.g4", 4096, 3, "ring --id 0" },
		{ "h2", "10.0.0.2", "h2.g4", 8192, 1, "ring --id 1" },
	};
	struct tlv_buf buf = { 0 };
	char err[128] = "";

	a.host = (char *)"h1";
	a.members = mm;
	a.nr_members = 2;
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.flags, TC_COMP_F_MULTIHOST);
	ck_assert_uint_eq(b.nr_members, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_str_eq(b.members[i].host, mm[i].host);
		ck_assert_str_eq(b.members[i].addr, mm[i].addr);
		ck_assert_str_eq(b.members[i].subdir, mm[i].subdir);
		ck_assert_str_eq(b.members[i].cmdline, mm[i].cmdline);
		ck_assert_uint_eq(b.members[i].bytes, mm[i].bytes);
		ck_assert_uint_eq(b.members[i].nr_procs, mm[i].nr_procs);
	}
	manifest_free(&b);
	tlv_buf_free(&buf);
	/* A host's part is one directory right below DIR, nothing else. */
	mm[1].subdir = (char *)"../h2.g4";
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), -EBADMSG);
	tlv_buf_free(&buf);
	mm[1].subdir = (char *)"x/h2.g4";
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), -EBADMSG);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(every_byte_is_covered)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[128];

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	for (size_t i = 0; i < buf.len; i++) {
		buf.data[i] ^= 0x20;
		err[0] = '\0';
		ck_assert_msg(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)) < 0,
			      "flip at %zu accepted", i);
		ck_assert_msg(strstr(err, "manifest"), "byte %zu: \"%s\"", i, err);
		ck_assert_ptr_null(b.procs);
		buf.data[i] ^= 0x20;
	}
	for (size_t len = 0; len < buf.len; len++)
		ck_assert_msg(manifest_parse(buf.data, len, &b, err, sizeof(err)) < 0,
			      "truncation to %zu accepted", len);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(unsafe_paths_refused)
{
	static const char *const bad[] = {
		"/etc/passwd", "../x", "a/../../x", "a/./b", "", "a//b", "a/", "..", ".",
	};
	struct manifest a, b;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tlv_buf buf = { 0 };

		sample_manifest(&a);
		free(a.files[2].path);
		a.files[2].path = strdup(bad[i]);
		ck_assert_int_eq(manifest_encode(&buf, &a), 0);
		ck_assert_msg(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)) == -EBADMSG,
			      "path \"%s\" accepted", bad[i]);
		manifest_free(&a);
		tlv_buf_free(&buf);
	}
	ck_assert(image_path_is_safe("host/proc-1.core"));
	ck_assert(image_path_is_safe("a"));
	ck_assert(image_path_is_safe("..a/b..c/.d"));
}
END_TEST

START_TEST(future_attributes_skipped)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[128];
	uint64_t sum;

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a), 0);
	/* Insert an unknown attribute before the checksum, and re-seal. */
	buf.len -= 16;
	tlv_put_str(&buf, MAN_A_MAX + 10, "from the future");
	sum = XXH3_64bits(buf.data, buf.len);
	tlv_put_u64(&buf, MAN_A_CHECKSUM, sum);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), 0);
	assert_manifest_eq(&a, &b);
	manifest_free(&b);
	/* A newer header layout is refused by name. */
	buf.data[8] = 2;
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &b, err, sizeof(err)), -EPROTONOSUPPORT);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

static Suite *manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, members_round_trip);
	tcase_add_test(tc, every_byte_is_covered);
	tcase_add_test(tc, unsafe_paths_refused);
	tcase_add_test(tc, future_attributes_skipped);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(manifest_suite)
