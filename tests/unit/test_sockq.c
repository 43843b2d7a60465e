/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/sockq.h"

/* What sockq_append wrote to a memfd, whole. */
static uint8_t *written(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *buf = malloc(end ? (size_t)end : 1);

	ck_assert_int_ge(end, 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)end, 0), end);
	*len = (size_t)end;
	return buf;
}

START_TEST(round_trip_with_senders)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(4242) };
	static const uint8_t abstract[] = "\0tc-name";
	struct sockq_msg in[4] = {
		{ .data = (const uint8_t *)"first", .len = 5, .from = (const uint8_t *)&a6,
		  .from_len = sizeof(a6) },
		{ .data = (const uint8_t *)"", .len = 0 },	/* no bytes, no sender */
		{ .data = (const uint8_t *)"third", .len = 5, .from = abstract,
		  .from_len = sizeof(abstract) - 1 },
		{ .data = (const uint8_t *)"x", .len = 1 },
	};
	int fd = memfd_create("t", MFD_CLOEXEC);
	struct sockq_msg m;
	size_t len, off = 0;
	uint8_t *buf;

	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(sockq_append(fd, &in[i], SOCKQ_FROM), 0);
	buf = written(fd, &len);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(sockq_next(buf, len, &off, SOCKQ_FROM, &m), 1);
		ck_assert_uint_eq(m.len, in[i].len);
		ck_assert_mem_eq(m.data, in[i].data, m.len);
		ck_assert_uint_eq(m.from_len, in[i].from_len);
		if (m.from_len)
			ck_assert_mem_eq(m.from, in[i].from, m.from_len);
		else
			ck_assert_ptr_null(m.from);
	}
	ck_assert_int_eq(sockq_next(buf, len, &off, SOCKQ_FROM, &m), 0);
	free(buf);
	close(fd);
}
END_TEST

/* Images from before senders were kept: [u32 length][bytes]. */
START_TEST(old_format_reads)
{
	struct sockq_msg one = { .data = (const uint8_t *)"hello", .len = 5,
				 .from = (const uint8_t *)"ignored", .from_len = 7 }, m;
	int fd = memfd_create("t", MFD_CLOEXEC);
	size_t len, off = 0;
	uint8_t *buf;

	ck_assert_int_eq(sockq_append(fd, &one, 0), 0);
	buf = written(fd, &len);
	ck_assert_uint_eq(len, 4 + 5);
	ck_assert_int_eq(sockq_next(buf, len, &off, 0, &m), 1);
	ck_assert_uint_eq(m.len, 5);
	ck_assert_uint_eq(m.from_len, 0);
	ck_assert_int_eq(sockq_next(buf, len, &off, 0, &m), 0);
	free(buf);
	close(fd);
}
END_TEST

START_TEST(damage_refused)
{
	uint8_t buf[32] = { 0 };
	uint32_t v;
	struct sockq_msg m;
	size_t off;

	/* A header cut short. */
	off = 0;
	ck_assert_int_eq(sockq_next(buf, 6, &off, SOCKQ_FROM, &m), -EBADMSG);
	/* Bytes past the end. */
	v = 100;
	memcpy(buf, &v, 4);
	off = 0;
	ck_assert_int_eq(sockq_next(buf, sizeof(buf), &off, SOCKQ_FROM, &m), -EBADMSG);
	/* A sender's address past the end, and one over the limit. */
	v = 0;
	memcpy(buf, &v, 4);
	v = 30;
	memcpy(buf + 4, &v, 4);
	off = 0;
	ck_assert_int_eq(sockq_next(buf, sizeof(buf), &off, SOCKQ_FROM, &m), -EBADMSG);
	v = SOCKQ_FROM_MAX + 1;
	memcpy(buf + 4, &v, 4);
	off = 0;
	ck_assert_int_eq(sockq_next(buf, sizeof(buf), &off, SOCKQ_FROM, &m), -EBADMSG);
	/* A length so large that adding it would wrap. */
	v = 0xffffffffu;
	memcpy(buf, &v, 4);
	v = 0;
	memcpy(buf + 4, &v, 4);
	off = 0;
	ck_assert_int_eq(sockq_next(buf, sizeof(buf), &off, SOCKQ_FROM, &m), -EBADMSG);
	/* An address over the limit is not written. */
	m = (struct sockq_msg){ .data = buf, .len = 1, .from = buf, .from_len = SOCKQ_FROM_MAX + 1 };
	ck_assert_int_eq(sockq_append(-1, &m, SOCKQ_FROM), -EINVAL);
}
END_TEST

/* Files passed with a message, and a stream queue's records (no senders). */
START_TEST(round_trip_with_fds)
{
	static const uint32_t nums[3] = { 0x40000000u, 0x40000001u, 0x40000007u };
	struct sockq_msg in[3] = {
		{ .data = (const uint8_t *)"with three", .len = 10, .fds = (const uint8_t *)nums,
		  .nr_fds = 3 },
		{ .data = (const uint8_t *)"none", .len = 4 },
		{ .data = (const uint8_t *)"one", .len = 3, .fds = (const uint8_t *)&nums[2],
		  .nr_fds = 1 },
	};
	int fd = memfd_create("t", MFD_CLOEXEC);
	struct sockq_msg m;
	size_t len, off = 0;
	uint8_t *buf;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sockq_append(fd, &in[i], SOCKQ_FDS), 0);
	buf = written(fd, &len);
	ck_assert_uint_eq(len, (8 + 10 + 12) + (8 + 4) + (8 + 3 + 4));
	ck_assert_uint_eq(len, sockq_record_len(&in[0], SOCKQ_FDS) +
			       sockq_record_len(&in[1], SOCKQ_FDS) + sockq_record_len(&in[2], SOCKQ_FDS));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sockq_next(buf, len, &off, SOCKQ_FDS, &m), 1);
		ck_assert_uint_eq(m.len, in[i].len);
		ck_assert_mem_eq(m.data, in[i].data, m.len);
		ck_assert_uint_eq(m.nr_fds, in[i].nr_fds);
		ck_assert_uint_eq(m.from_len, 0);
		if (m.nr_fds)
			ck_assert_mem_eq(m.fds, in[i].fds, 4 * m.nr_fds);
		else
			ck_assert_ptr_null(m.fds);
	}
	ck_assert_int_eq(sockq_next(buf, len, &off, SOCKQ_FDS, &m), 0);
	/* Too many fds for one message is refused both ways. */
	m = (struct sockq_msg){ .data = buf, .len = 1, .fds = buf, .nr_fds = SOCKQ_FDS_MAX + 1 };
	ck_assert_int_eq(sockq_append(fd, &m, SOCKQ_FDS), -EINVAL);
	{
		uint32_t hdr[2] = { 0, SOCKQ_FDS_MAX + 1 };

		off = 0;
		ck_assert_int_eq(sockq_next((const uint8_t *)hdr, sizeof(hdr), &off, SOCKQ_FDS, &m),
				 -EBADMSG);
	}
	free(buf);
	close(fd);
}
END_TEST

static Suite *sockq_suite(void)
{
	Suite *s = suite_create("sockq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip_with_senders);
	tcase_add_test(tc, old_format_reads);
	tcase_add_test(tc, round_trip_with_fds);
	tcase_add_test(tc, damage_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sockq_suite)
