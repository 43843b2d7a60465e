/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every field of every record kept as a nest of fields, driven by the
 * records' own tables: each member gets a value of its own, the record goes
 * through its encoder and decoder, and each member must come back as it
 * was.  A field added to a table is covered without a line here.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/field.h"
#include "proto/model.h"
#include "proto/record.h"
#include "proto/tlv.h"

typedef int (*encode_fn)(struct tlv_buf *b, uint32_t type, const void *obj);
typedef int (*decode_fn)(const struct tlv_attr *nest, void *obj);
typedef void (*free_fn)(void *obj);

/* Distinct per field: no two members can be swapped unnoticed. */
static void fill(const struct field *f, size_t i, uint8_t *obj)
{
	uint8_t *m = obj + f->off;

	switch (f->kind) {
	case FK_U32: {
		uint32_t v = 0x01000000u + (uint32_t)i * 7 + 1;

		memcpy(m, &v, sizeof(v));
		break;
	}
	case FK_U64: {
		uint64_t v = ((uint64_t)(i + 1) << 33) | (i * 3 + 1);

		memcpy(m, &v, sizeof(v));
		break;
	}
	case FK_BOOL:
		*(bool *)m = true;
		break;
	case FK_BYTES:
		for (size_t k = 0; k < f->size; k++)
			m[k] = (uint8_t)(i * 13 + k + 1);
		break;
	case FK_STR: {
		char *s = malloc(32);

		ck_assert_ptr_nonnull(s);
		snprintf(s, 32, "field %zu", i);
		memcpy(m, &s, sizeof(s));
		break;
	}
	case FK_BLOB: {
		uint8_t *b = malloc(5);
		uint32_t len = 5;

		ck_assert_ptr_nonnull(b);
		for (int k = 0; k < 5; k++)
			b[k] = (uint8_t)(i + k + 1);
		memcpy(m, &b, sizeof(b));
		memcpy(obj + f->size, &len, sizeof(len));
		break;
	}
	default:
		ck_abort_msg("field %zu: kind %u", i, f->kind);
	}
}

static void same(const struct field *f, size_t i, const uint8_t *a, const uint8_t *b)
{
	const uint8_t *ma = a + f->off, *mb = b + f->off;

	switch (f->kind) {
	case FK_STR: {
		const char *sa, *sb;

		memcpy(&sa, ma, sizeof(sa));
		memcpy(&sb, mb, sizeof(sb));
		ck_assert_msg(sb && !strcmp(sa, sb), "field %zu (attribute %u): string", i, f->type);
		break;
	}
	case FK_BLOB: {
		const uint8_t *ba, *bb;
		uint32_t la, lb;

		memcpy(&ba, ma, sizeof(ba));
		memcpy(&bb, mb, sizeof(bb));
		memcpy(&la, a + f->size, sizeof(la));
		memcpy(&lb, b + f->size, sizeof(lb));
		ck_assert_msg(la == lb && bb && !memcmp(ba, bb, la), "field %zu (attribute %u): blob",
			      i, f->type);
		break;
	}
	case FK_BOOL:
		ck_assert_msg(*(const bool *)mb, "field %zu (attribute %u): bool", i, f->type);
		break;
	default:
		ck_assert_msg(!memcmp(ma, mb, f->size), "field %zu (attribute %u): %zu bytes", i,
			      f->type, f->size);
	}
}

static void round_trip(const struct field *f, size_t n, size_t obj_size, encode_fn enc,
		       decode_fn dec, free_fn fr)
{
	uint8_t *in = calloc(1, obj_size), *out = calloc(1, obj_size);
	struct tlv_buf b = { 0 };

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		/* Each attribute type once, each member inside the record. */
		for (size_t k = 0; k < i; k++)
			ck_assert_msg(f[k].type != f[i].type, "attribute %u twice", f[i].type);
		ck_assert_uint_le(f[i].off + (f[i].kind == FK_STR || f[i].kind == FK_BLOB ?
					      sizeof(void *) : f[i].size), obj_size);
		fill(&f[i], i, in);
	}
	ck_assert_int_eq(enc(&b, 1, in), 0);
	ck_assert_int_eq(dec((const struct tlv_attr *)b.data, out), 0);
	for (size_t i = 0; i < n; i++)
		same(&f[i], i, in, out);
	tlv_buf_free(&b);
	fr(in);
	fr(out);
	free(in);
	free(out);
}

/* The records' functions, with the generic signatures round_trip calls. */
#define RECORD_OPS(name)                                                           \
	static int name##_enc(struct tlv_buf *b, uint32_t type, const void *obj)   \
	{                                                                          \
		return name##_encode(b, type, obj);                                \
	}                                                                          \
	static int name##_dec(const struct tlv_attr *nest, void *obj)              \
	{                                                                          \
		return name##_decode(nest, obj);                                   \
	}                                                                          \
	static void name##_fr(void *obj)                                           \
	{                                                                          \
		name##_free(obj);                                                  \
	}
RECORD_OPS(fd_record)
RECORD_OPS(vma_record)
RECORD_OPS(thread_record)

/* The fd record's parts (common, pipe, sock, inet, tty...) as one table. */
START_TEST(every_fd_field)
{
	size_t nr_parts, n = 0;
	const struct field_table *const *parts = fd_record_parts(&nr_parts);
	struct field *all;

	for (size_t i = 0; i < nr_parts; i++)
		n += parts[i]->n;
	all = calloc(n, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	n = 0;
	for (size_t i = 0; i < nr_parts; i++) {
		ck_assert_uint_gt(parts[i]->n, 0);
		memcpy(all + n, parts[i]->fields, parts[i]->n * sizeof(*all));
		n += parts[i]->n;
	}
	round_trip(all, n, sizeof(struct fd_record), fd_record_enc, fd_record_dec, fd_record_fr);
	free(all);
}
END_TEST

START_TEST(every_vma_field)
{
	size_t n;
	const struct field *f = vma_record_fields(&n);

	round_trip(f, n, sizeof(struct vma_record), vma_record_enc, vma_record_dec, vma_record_fr);
}
END_TEST

START_TEST(every_thread_field)
{
	size_t n;
	const struct field *f = thread_record_fields(&n);

	round_trip(f, n, sizeof(struct thread_record), thread_record_enc, thread_record_dec,
		   thread_record_fr);
}
END_TEST

static Suite *fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *tc = tcase_create("round trip");

	tcase_add_test(tc, every_fd_field);
	tcase_add_test(tc, every_vma_field);
	tcase_add_test(tc, every_thread_field);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fields_suite)
