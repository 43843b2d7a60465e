/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/field.h"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

static int field_encode(struct tlv_buf *b, const struct field *f, const uint8_t *obj)
{
	const void *m = obj + f->off;

	switch (f->kind) {
	case FK_U32:
	case FK_U64:
	case FK_BOOL:
	case FK_BYTES:
		if (f->kind == FK_U32 && f->size != 4)
			return -EINVAL;
		if (f->kind == FK_U64 && f->size != 8)
			return -EINVAL;
		if (all_zero(m, f->size))
			return 0;
		if (f->kind == FK_BOOL)
			return tlv_put_u32(b, f->type, 1);
		return tlv_put(b, f->type, m, f->size);
	case FK_STR: {
		const char *s;

		memcpy(&s, m, sizeof(s));
		return s ? tlv_put_str(b, f->type, s) : 0;
	}
	case FK_BLOB: {
		const uint8_t *p;
		uint32_t len;

		memcpy(&p, m, sizeof(p));
		memcpy(&len, obj + f->size, sizeof(len));
		return p && len ? tlv_put(b, f->type, p, len) : 0;
	}
	}
	return -EINVAL;
}

int fields_encode(struct tlv_buf *b, const struct field *f, size_t n, const void *obj)
{
	for (size_t i = 0; i < n; i++) {
		int r = field_encode(b, &f[i], obj);

		if (r < 0)
			return r;
	}
	return b->err;
}

int fields_encode_nest(struct tlv_buf *b, uint32_t type, const struct field *f, size_t n,
		       const void *obj)
{
	long nest = tlv_nest_start(b, type);
	int r;

	if (nest < 0)
		return (int)nest;
	r = fields_encode(b, f, n, obj);
	if (r < 0)
		return r;
	return tlv_nest_end(b, nest);
}

static int field_decode(const struct tlv_attr *a, const struct field *f, uint8_t *obj)
{
	void *m = obj + f->off;

	switch (f->kind) {
	case FK_U32:
	case FK_U64:
	case FK_BYTES:
		if (tlv_len(a) != f->size)
			return -EBADMSG;
		memcpy(m, tlv_data(a), f->size);
		return 0;
	case FK_BOOL: {
		uint32_t v;
		bool bv;

		if (tlv_get_u32(a, &v) < 0 || v > 1)
			return -EBADMSG;
		bv = v;
		memcpy(m, &bv, sizeof(bv));
		return 0;
	}
	case FK_STR: {
		char *s = NULL;
		int r = tlv_get_strdup(a, &s);

		if (r < 0)
			return r;
		memcpy(m, &s, sizeof(s));
		return 0;
	}
	case FK_BLOB: {
		size_t len = tlv_len(a);
		uint32_t len32 = (uint32_t)len;
		uint8_t *p;

		if (len == 0)
			return 0;
		p = malloc(len);
		if (!p)
			return -ENOMEM;
		memcpy(p, tlv_data(a), len);
		memcpy(m, &p, sizeof(p));
		memcpy(obj + f->size, &len32, sizeof(len32));
		return 0;
	}
	}
	return -EINVAL;
}

int fields_decode(const struct tlv_attr *const *tb, const struct field *f, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++) {
		int r;

		if (!tb[f[i].type])
			continue;
		r = field_decode(tb[f[i].type], &f[i], obj);
		if (r < 0)
			return r;
	}
	return 0;
}

size_t tlv_count(const void *buf, size_t len, uint32_t type)
{
	const struct tlv_attr *a;
	size_t rem, n = 0;

	tlv_for_each(a, buf, len, rem)
		if (a->type == type)
			n++;
	return n;
}

int tlv_collect_fixed(const void *buf, size_t len, uint32_t type, size_t item_size,
		      void **out, uint32_t *nr)
{
	const struct tlv_attr *a;
	size_t rem, n = tlv_count(buf, len, type), i = 0;
	uint8_t *items;

	*out = NULL;
	*nr = 0;
	if (n == 0)
		return 0;
	if (n > UINT32_MAX)
		return -EBADMSG;
	items = calloc(n, item_size);
	if (!items)
		return -ENOMEM;
	tlv_for_each(a, buf, len, rem) {
		if (a->type != type)
			continue;
		if (tlv_len(a) != item_size) {
			free(items);
			return -EBADMSG;
		}
		memcpy(items + i++ * item_size, tlv_data(a), item_size);
	}
	*out = items;
	*nr = (uint32_t)n;
	return 0;
}
