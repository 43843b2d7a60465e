/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tlv.h"

/* Payloads are at most this big so len (header included) fits in 32 bits. */
#define TLV_MAX_PAYLOAD (UINT32_MAX - 7u - TLV_HDRLEN)

void tlv_buf_free(struct tlv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

static int tlv_reserve(struct tlv_buf *b, size_t need)
{
	size_t cap;
	uint8_t *nd;

	if (b->err)
		return b->err;
	if (need > SIZE_MAX - b->len) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	if (b->len + need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + need;
			break;
		}
		cap *= 2;
	}
	nd = realloc(b->data, cap);
	if (!nd) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->data = nd;
	b->cap = cap;
	return 0;
}

int tlv_put(struct tlv_buf *b, uint32_t type, const void *data, size_t len)
{
	struct tlv_attr h;
	size_t total;
	int r;

	if (b->err)
		return b->err;
	if (len > TLV_MAX_PAYLOAD) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	total = TLV_ALIGN(TLV_HDRLEN + len);
	r = tlv_reserve(b, total);
	if (r < 0)
		return r;
	h.len = (uint32_t)(TLV_HDRLEN + len);
	h.type = type;
	memcpy(b->data + b->len, &h, sizeof(h));
	if (len)
		memcpy(b->data + b->len + TLV_HDRLEN, data, len);
	/* Zeroed padding keeps images reproducible and checksums stable. */
	memset(b->data + b->len + TLV_HDRLEN + len, 0, total - TLV_HDRLEN - len);
	b->len += total;
	return 0;
}

int tlv_put_raw(struct tlv_buf *b, const void *data, size_t len)
{
	int r = tlv_reserve(b, len);

	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int tlv_put_u32(struct tlv_buf *b, uint32_t type, uint32_t v)
{
	return tlv_put(b, type, &v, sizeof(v));
}

int tlv_put_u64(struct tlv_buf *b, uint32_t type, uint64_t v)
{
	return tlv_put(b, type, &v, sizeof(v));
}

int tlv_put_str(struct tlv_buf *b, uint32_t type, const char *s)
{
	if (!s) {
		if (!b->err)
			b->err = -EINVAL;
		return -EINVAL;
	}
	return tlv_put(b, type, s, strlen(s) + 1);
}

long tlv_nest_start(struct tlv_buf *b, uint32_t type)
{
	size_t start = b->len;
	int r = tlv_put(b, type, NULL, 0);

	if (r < 0)
		return r;
	return (long)start;
}

int tlv_nest_end(struct tlv_buf *b, long start)
{
	struct tlv_attr h;
	size_t len;

	if (b->err)
		return b->err;
	if (start < 0 || (size_t)start + TLV_HDRLEN > b->len) {
		b->err = -EINVAL;
		return b->err;
	}
	len = b->len - (size_t)start;
	if (len > UINT32_MAX) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	memcpy(&h, b->data + start, sizeof(h));
	h.len = (uint32_t)len;
	memcpy(b->data + start, &h, sizeof(h));
	return 0;
}

int tlv_parse(const void *buf, size_t len, const struct tlv_attr **tb, uint32_t maxtype)
{
	const struct tlv_attr *a;
	size_t rem;

	memset(tb, 0, sizeof(*tb) * ((size_t)maxtype + 1));
	tlv_for_each(a, buf, len, rem) {
		if (a->type <= maxtype)
			tb[a->type] = a;
	}
	return rem ? -EBADMSG : 0;
}

int tlv_get_u32(const struct tlv_attr *a, uint32_t *v)
{
	if (tlv_len(a) != sizeof(*v))
		return -EBADMSG;
	memcpy(v, tlv_data(a), sizeof(*v));
	return 0;
}

int tlv_get_u64(const struct tlv_attr *a, uint64_t *v)
{
	if (tlv_len(a) != sizeof(*v))
		return -EBADMSG;
	memcpy(v, tlv_data(a), sizeof(*v));
	return 0;
}

int tlv_get_strdup(const struct tlv_attr *a, char **s)
{
	size_t n = tlv_len(a);
	const char *p = tlv_data(a);
	char *d;

	/* Exactly one NUL, at the end: anything else is not a string we wrote. */
	if (n == 0 || p[n - 1] != '\0' || memchr(p, '\0', n - 1))
		return -EBADMSG;
	d = malloc(n);
	if (!d)
		return -ENOMEM;
	memcpy(d, p, n);
	*s = d;
	return 0;
}
