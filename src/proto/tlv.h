/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Type-length-value attributes in the netlink style, with 32-bit lengths so
 * one attribute can hold a large blob.  Every attribute starts on an 8-byte
 * boundary; len counts the header and the payload, not the padding.  Unknown
 * types are skipped by readers, so images stay readable as the format grows.
 * Nested attributes are an attribute whose payload is a sequence of
 * attributes.  The same encoding carries the wire messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tlv_attr {
	uint32_t len;
	uint32_t type;
};

#define TLV_ALIGN(n) (((n) + 7u) & ~(size_t)7u)
#define TLV_HDRLEN sizeof(struct tlv_attr)

/* A growable output buffer; an allocation failure sticks in err. */
struct tlv_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

void tlv_buf_free(struct tlv_buf *b);
int tlv_put(struct tlv_buf *b, uint32_t type, const void *data, size_t len);
int tlv_put_u32(struct tlv_buf *b, uint32_t type, uint32_t v);
int tlv_put_u64(struct tlv_buf *b, uint32_t type, uint64_t v);
int tlv_put_str(struct tlv_buf *b, uint32_t type, const char *s);	/* with the NUL */
/* Append bytes with no header or padding (file headers, ELF notes). */
int tlv_put_raw(struct tlv_buf *b, const void *data, size_t len);
/* Returns the offset of the nest to hand to tlv_nest_end, or -errno. */
long tlv_nest_start(struct tlv_buf *b, uint32_t type);
int tlv_nest_end(struct tlv_buf *b, long start);

/* Iteration over a sequence of attributes; stops at the first malformed one. */
static inline bool tlv_ok(const struct tlv_attr *a, size_t rem)
{
	return rem >= TLV_HDRLEN && a->len >= TLV_HDRLEN && a->len <= rem;
}

static inline const struct tlv_attr *tlv_next(const struct tlv_attr *a, size_t *rem)
{
	size_t step = TLV_ALIGN(a->len);

	*rem = step >= *rem ? 0 : *rem - step;
	return (const struct tlv_attr *)((const uint8_t *)a + step);
}

static inline const void *tlv_data(const struct tlv_attr *a)
{
	return (const uint8_t *)a + TLV_HDRLEN;
}

static inline size_t tlv_len(const struct tlv_attr *a)
{
	return a->len - TLV_HDRLEN;
}

#define tlv_for_each(a, buf, buflen, rem)                                  \
	for ((rem) = (buflen), (a) = (const struct tlv_attr *)(buf);       \
	     tlv_ok((a), (rem)); (a) = tlv_next((a), &(rem)))

/*
 * Index a sequence: tb[type] = the last attribute of that type, for
 * type <= maxtype; others are skipped.  Returns -EBADMSG when the sequence
 * has trailing garbage (a truncated or damaged record).
 */
int tlv_parse(const void *buf, size_t len, const struct tlv_attr **tb, uint32_t maxtype);
/* Typed getters: -EBADMSG when the payload has the wrong size. */
int tlv_get_u32(const struct tlv_attr *a, uint32_t *v);
int tlv_get_u64(const struct tlv_attr *a, uint64_t *v);
/* A NUL-terminated string payload, duplicated with malloc. */
int tlv_get_strdup(const struct tlv_attr *a, char **s);
