/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/tlv.h"

START_TEST(put_and_get)
{
	struct tlv_buf b = { 0 };
	const struct tlv_attr *tb[5];
	uint32_t u32;
	uint64_t u64;
	char *s = NULL;

	ck_assert_int_eq(tlv_put_u32(&b, 1, 0xdeadbeef), 0);
	ck_assert_int_eq(tlv_put_u64(&b, 2, 0x0123456789abcdefull), 0);
	ck_assert_int_eq(tlv_put_str(&b, 3, "hello"), 0);
	ck_assert_int_eq(tlv_put(&b, 4, NULL, 0), 0);
	ck_assert_int_eq(b.len % 8, 0);
	ck_assert_int_eq(b.len, 16 + 16 + 16 + 8);

	ck_assert_int_eq(tlv_parse(b.data, b.len, tb, 4), 0);
	ck_assert_ptr_nonnull(tb[1]);
	ck_assert_ptr_null(tb[0]);
	ck_assert_int_eq(tlv_get_u32(tb[1], &u32), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(tlv_get_u64(tb[2], &u64), 0);
	ck_assert_uint_eq(u64, 0x0123456789abcdefull);
	ck_assert_int_eq(tlv_get_strdup(tb[3], &s), 0);
	ck_assert_str_eq(s, "hello");
	ck_assert_uint_eq(tlv_len(tb[4]), 0);
	/* Wrong sizes are refused, not truncated or widened. */
	ck_assert_int_eq(tlv_get_u64(tb[1], &u64), -EBADMSG);
	ck_assert_int_eq(tlv_get_u32(tb[2], &u32), -EBADMSG);
	free(s);
	tlv_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(layout_and_padding)
{
	struct tlv_buf b = { 0 };
	struct tlv_attr h;

	ck_assert_int_eq(tlv_put(&b, 9, "abc", 3), 0);
	ck_assert_int_eq(tlv_put_u32(&b, 10, 7), 0);
	memcpy(&h, b.data, sizeof(h));
	/* len counts header and payload, not the padding. */
	ck_assert_uint_eq(h.len, 11);
	ck_assert_uint_eq(h.type, 9);
	for (int i = 11; i < 16; i++)
		ck_assert_uint_eq(b.data[i], 0);
	memcpy(&h, b.data + 16, sizeof(h));
	ck_assert_uint_eq(h.len, 12);
	ck_assert_uint_eq(h.type, 10);
	ck_assert_uint_eq(b.len, 32);
	tlv_buf_free(&b);
}
END_TEST

START_TEST(nesting)
{
	struct tlv_buf b = { 0 };
	const struct tlv_attr *tb[4], *nb[4], *deep[4];
	long outer, inner;
	uint32_t v;

	ck_assert_int_eq(tlv_put_u32(&b, 1, 11), 0);
	outer = tlv_nest_start(&b, 2);
	ck_assert_int_ge(outer, 0);
	ck_assert_int_eq(tlv_put_u32(&b, 1, 21), 0);
	inner = tlv_nest_start(&b, 3);
	ck_assert_int_eq(tlv_put_str(&b, 2, "deep"), 0);
	ck_assert_int_eq(tlv_nest_end(&b, inner), 0);
	ck_assert_int_eq(tlv_put_u32(&b, 2, 22), 0);
	ck_assert_int_eq(tlv_nest_end(&b, outer), 0);
	ck_assert_int_eq(tlv_put_u32(&b, 3, 33), 0);

	ck_assert_int_eq(tlv_parse(b.data, b.len, tb, 3), 0);
	ck_assert_int_eq(tlv_get_u32(tb[1], &v), 0);
	ck_assert_uint_eq(v, 11);
	ck_assert_int_eq(tlv_get_u32(tb[3], &v), 0);
	ck_assert_uint_eq(v, 33);
	ck_assert_int_eq(tlv_parse(tlv_data(tb[2]), tlv_len(tb[2]), nb, 3), 0);
	ck_assert_int_eq(tlv_get_u32(nb[1], &v), 0);
	ck_assert_uint_eq(v, 21);
	ck_assert_int_eq(tlv_get_u32(nb[2], &v), 0);
	ck_assert_uint_eq(v, 22);
	ck_assert_int_eq(tlv_parse(tlv_data(nb[3]), tlv_len(nb[3]), deep, 3), 0);
	ck_assert_str_eq((const char *)tlv_data(deep[2]), "deep");
	tlv_buf_free(&b);
}
END_TEST

START_TEST(unknown_types_skipped)
{
	struct tlv_buf b = { 0 };
	const struct tlv_attr *tb[3], *a;
	size_t rem, n = 0;

	tlv_put_u32(&b, 1, 1);
	tlv_put(&b, 1000, "future", 6);
	tlv_put_u32(&b, 2, 2);
	tlv_put_u32(&b, 1, 3);
	ck_assert_int_eq(b.err, 0);
	ck_assert_int_eq(tlv_parse(b.data, b.len, tb, 2), 0);
	/* The last of a repeated type wins. */
	ck_assert_uint_eq(*(const uint32_t *)tlv_data(tb[1]), 3);
	ck_assert_uint_eq(*(const uint32_t *)tlv_data(tb[2]), 2);
	tlv_for_each(a, b.data, b.len, rem)
		n++;
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(rem, 0);
	tlv_buf_free(&b);
}
END_TEST

START_TEST(malformed)
{
	uint64_t buf[8];
	struct tlv_attr h;
	const struct tlv_attr *tb[4];
	char *s = NULL;

	/* len below the header size */
	memset(buf, 0, sizeof(buf));
	h = (struct tlv_attr){ 4, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(tlv_parse(buf, 16, tb, 3), -EBADMSG);
	/* len past the end */
	h = (struct tlv_attr){ 40, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(tlv_parse(buf, 32, tb, 3), -EBADMSG);
	/* trailing bytes shorter than a header */
	h = (struct tlv_attr){ 12, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(tlv_parse(buf, 20, tb, 3), -EBADMSG);
	ck_assert_int_eq(tlv_parse(buf, 16, tb, 3), 0);
	/* an unpadded last attribute is fine */
	ck_assert_int_eq(tlv_parse(buf, 12, tb, 3), 0);
	ck_assert_int_eq(tlv_parse(buf, 0, tb, 3), 0);

	/* strings: NUL at the end and nowhere else */
	h = (struct tlv_attr){ 8 + 3, 1 };
	memcpy(buf, &h, sizeof(h));
	memcpy((char *)buf + 8, "abc", 3);
	ck_assert_int_eq(tlv_get_strdup((const struct tlv_attr *)buf, &s), -EBADMSG);
	memcpy((char *)buf + 8, "a\0c", 3);
	ck_assert_int_eq(tlv_get_strdup((const struct tlv_attr *)buf, &s), -EBADMSG);
	h = (struct tlv_attr){ 8, 1 };
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(tlv_get_strdup((const struct tlv_attr *)buf, &s), -EBADMSG);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(truncated)
{
	struct tlv_buf b = { 0 };
	const struct tlv_attr *tb[4];
	long n;

	tlv_put_u64(&b, 1, 1);
	n = tlv_nest_start(&b, 2);
	tlv_put_str(&b, 1, "a somewhat longer string");
	tlv_nest_end(&b, n);
	tlv_put_u32(&b, 3, 3);
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(b.len, 16 + 48 + 16);
	for (size_t len = 0; len <= b.len; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		int r;

		memcpy(copy, b.data, len);
		r = tlv_parse(copy, len, tb, 3);
		/* Cuts between attributes parse; cuts inside one are damage. */
		if (len == 0 || len == 16 || len == 16 + 48 || len >= 16 + 48 + 12)
			ck_assert_msg(r == 0, "len %zu", len);
		else
			ck_assert_msg(r == -EBADMSG, "len %zu: %d", len, r);
		free(copy);
	}
	tlv_buf_free(&b);
}
END_TEST

START_TEST(errors_stick)
{
	struct tlv_buf b = { 0 };
	char c = 0;

	ck_assert_int_eq(tlv_put_str(&b, 1, NULL), -EINVAL);
	ck_assert_int_eq(b.err, -EINVAL);
	ck_assert_int_eq(tlv_put_u32(&b, 1, 1), -EINVAL);
	ck_assert_uint_eq(b.len, 0);
	tlv_buf_free(&b);
	ck_assert_int_eq(tlv_put(&b, 1, &c, (size_t)UINT32_MAX), -EMSGSIZE);
	ck_assert_int_eq(tlv_nest_end(&b, 0), -EMSGSIZE);
	tlv_buf_free(&b);
	ck_assert_int_eq(tlv_nest_end(&b, 0), -EINVAL);
	tlv_buf_free(&b);
}
END_TEST

START_TEST(raw_and_growth)
{
	struct tlv_buf b = { 0 };
	const struct tlv_attr *a;
	size_t rem, n = 0;

	ck_assert_int_eq(tlv_put_raw(&b, "12345678", 8), 0);
	for (uint32_t i = 0; i < 10000; i++)
		ck_assert_int_eq(tlv_put_u32(&b, i % 7, i), 0);
	ck_assert_uint_eq(b.len, 8 + 10000 * 16);
	tlv_for_each(a, b.data + 8, b.len - 8, rem) {
		ck_assert_uint_eq(*(const uint32_t *)tlv_data(a), n);
		n++;
	}
	ck_assert_uint_eq(n, 10000);
	tlv_buf_free(&b);
}
END_TEST

static Suite *tlv_suite(void)
{
	Suite *s = suite_create("tlv");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, put_and_get);
	tcase_add_test(tc, layout_and_padding);
	tcase_add_test(tc, nesting);
	tcase_add_test(tc, unknown_types_skipped);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, errors_stick);
	tcase_add_test(tc, raw_and_growth);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tlv_suite)
