/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "check_main.h"
#include "proto/attrs.h"
#include "proto/manifest.h"
#include "proto/imagekey.h"
#include "proto/model.h"
#include "sample.h"
#include "util/macro.h"
#include "util/shellword.h"

/* The MAC attribute and the checksum attribute at the end of a manifest. */
#define MAC_TAIL (8 + IMAGE_MAC_LEN + 16)

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
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	ck_assert_mem_eq(buf.data, "TCKPMAN1", 8);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), 0);
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
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), 0);
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
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), -EBADMSG);
	tlv_buf_free(&buf);
	mm[1].subdir = (char *)"x/h2.g4";
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), -EBADMSG);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(every_byte_is_covered)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[128];

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	for (size_t i = 0; i < buf.len; i++) {
		buf.data[i] ^= 0x20;
		err[0] = '\0';
		ck_assert_msg(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)) < 0,
			      "flip at %zu accepted", i);
		ck_assert_msg(strstr(err, "manifest"), "byte %zu: \"%s\"", i, err);
		ck_assert_ptr_null(b.procs);
		buf.data[i] ^= 0x20;
	}
	for (size_t len = 0; len < buf.len; len++)
		ck_assert_msg(manifest_parse(buf.data, len, &sample_key, &b, err, sizeof(err)) < 0,
			      "truncation to %zu accepted", len);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

/* A plain core's chunk sums go through; one sum per piece exactly, or refused. */
START_TEST(chunk_sums)
{
	/* head 4096, then 2.5 MiB of pages: 3 pieces */
	uint64_t size = 4096 + (5ull << 19), sums[4] = { 0xa1, 0xb2, 0xc3, 0xd4 };
	static const uint32_t counts[] = { 3, 2, 4, 1 };
	char err[128] = "";

	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		struct manifest a, b;
		struct tlv_buf buf = { 0 };
		struct manifest_file *f;
		int r;

		sample_manifest(&a);
		f = &a.files[0];
		f->size = size;
		f->head_len = 4096;
		f->chunk_sums = malloc(sizeof(sums));
		memcpy(f->chunk_sums, sums, sizeof(sums));
		f->chunk_sums_len = counts[i] * sizeof(uint64_t);
		ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
		r = manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err));
		if (counts[i] == 3) {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(b.files[0].chunk_sums_len, 3 * sizeof(uint64_t));
			ck_assert_mem_eq(b.files[0].chunk_sums, sums, 3 * sizeof(uint64_t));
			ck_assert_ptr_null(b.files[1].chunk_sums);
			manifest_free(&b);
		} else {
			ck_assert_msg(r == -EBADMSG, "%u sums for 3 pieces accepted", counts[i]);
		}
		manifest_free(&a);
		tlv_buf_free(&buf);
	}
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
		ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
		ck_assert_msg(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)) == -EBADMSG,
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

	uint8_t mac[IMAGE_MAC_LEN];

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	/* Insert an unknown attribute before the MAC, and re-seal. */
	buf.len -= MAC_TAIL;
	tlv_put_str(&buf, MAN_A_MAX + 10, "from the future");
	image_mac(&sample_key, buf.data, buf.len, mac);
	tlv_put(&buf, MAN_A_MAC, mac, sizeof(mac));
	sum = XXH3_64bits(buf.data, buf.len);
	tlv_put_u64(&buf, MAN_A_CHECKSUM, sum);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), 0);
	assert_manifest_eq(&a, &b);
	manifest_free(&b);
	/* A newer header layout is refused by name. */
	buf.data[8] = 2;
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), -EPROTONOSUPPORT);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

/* The checksum made right again over a change, as anyone can: only the MAC stops it. */
static void reseal_checksum(struct tlv_buf *buf)
{
	uint64_t sum = XXH3_64bits(buf->data, buf->len - 16);

	memcpy(buf->data + buf->len - 8, &sum, sizeof(sum));
}

START_TEST(mac_refuses_a_change_under_a_good_checksum)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[256];

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	/*
	 * Every byte after the header (magic and layout version are refused
	 * before the MAC) up to the checksum, the MAC's own bytes included.
	 */
	for (size_t i = 16; i < buf.len - 16; i++) {
		buf.data[i] ^= 0x01;
		reseal_checksum(&buf);
		err[0] = '\0';
		ck_assert_msg(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)) ==
			      -EKEYREJECTED, "change at %zu: %s", i, err);
		ck_assert_ptr_null(b.procs);
		buf.data[i] ^= 0x01;
	}
	reseal_checksum(&buf);
	/* A byte of the body: refused for the MAC, by name, with the key's path. */
	buf.data[24] ^= 0x01;
	reseal_checksum(&buf);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)),
			 -EKEYREJECTED);
	ck_assert_msg(strstr(err, "MAC does not match") && strstr(err, sample_key.path), "%s", err);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(mac_of_another_key_refused)
{
	struct image_key other = sample_key;
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[256];

	other.bytes[31] ^= 0x80;
	snprintf(other.path, sizeof(other.path), "/somewhere/else/image.key");
	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &other, &b, err, sizeof(err)),
			 -EKEYREJECTED);
	ck_assert_msg(strstr(err, "MAC does not match") && strstr(err, "/somewhere/else/image.key"),
		      "%s", err);
	/* Without a key (show --no-verify) the same bytes parse. */
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, NULL, &b, err, sizeof(err)), 0);
	assert_manifest_eq(&a, &b);
	manifest_free(&b);
	/* And with the right one. */
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)), 0);
	manifest_free(&b);
	ck_assert_int_eq(manifest_encode(&buf, &a, NULL), -EINVAL);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

/* A manifest from before the MAC: the checksum holds, and it is refused all the same. */
START_TEST(manifest_without_mac_refused)
{
	struct manifest a, b;
	struct tlv_buf buf = { 0 };
	char err[256];
	uint64_t sum;

	sample_manifest(&a);
	ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
	buf.len -= MAC_TAIL;
	sum = XXH3_64bits(buf.data, buf.len);
	tlv_put_u64(&buf, MAN_A_CHECKSUM, sum);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)),
			 -EKEYREJECTED);
	ck_assert_msg(strstr(err, "no MAC"), "%s", err);
	ck_assert_int_eq(manifest_parse(buf.data, buf.len, NULL, &b, err, sizeof(err)), 0);
	manifest_free(&b);
	manifest_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

/* Even signed, a member whose host or address would reach ssh as an option or shell text. */
START_TEST(member_hosts_checked)
{
	static const char *const bad[] = {
		"-oProxyCommand=x", "x'$(touch /tmp/pwned2)'", "a b", "h;id", "", "[::1", "h\n",
	};
	struct manifest_member mm = { (char *)"h1", (char *)"10.0.0.1", (char *)"h1.g1", 1, 1,
				      (char *)"ring" };
	struct manifest a, b;
	char err[256];

	for (size_t i = 0; i < 2 * ARRAY_SIZE(bad); i++) {
		struct tlv_buf buf = { 0 };
		const char *v = bad[i / 2];

		sample_manifest(&a);
		a.members = &mm;
		a.nr_members = 1;
		mm.host = i % 2 ? (char *)"h1" : (char *)v;
		mm.addr = i % 2 ? (char *)v : (char *)"10.0.0.1";
		ck_assert_int_eq(manifest_encode(&buf, &a, &sample_key), 0);
		ck_assert_msg(manifest_parse(buf.data, buf.len, &sample_key, &b, err, sizeof(err)) ==
			      -EBADMSG, "host '%s' accepted", v);
		ck_assert_msg(*v == '\0' || strstr(err, "not a host name"), "%s", err);
		a.members = NULL;
		a.nr_members = 0;
		manifest_free(&a);
		tlv_buf_free(&buf);
	}
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
	tcase_add_test(tc, chunk_sums);
	tcase_add_test(tc, future_attributes_skipped);
	tcase_add_test(tc, mac_refuses_a_change_under_a_good_checksum);
	tcase_add_test(tc, mac_of_another_key_refused);
	tcase_add_test(tc, manifest_without_mac_refused);
	tcase_add_test(tc, member_hosts_checked);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(manifest_suite)
