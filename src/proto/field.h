/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Table-driven encoding of a record's scalar members: one table per record
 * lists attribute type, kind and member offset, so encoder and decoder cannot
 * drift apart.  Internal to src/proto.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/tlv.h"

enum field_kind {
	FK_U32,		/* any 4-byte integer member */
	FK_U64,		/* any 8-byte integer member */
	FK_BOOL,
	FK_BYTES,	/* a fixed-size array member, stored whole */
	FK_STR,		/* char *, NUL-terminated; NULL: no attribute */
	FK_BLOB,	/* uint8_t * with a uint32_t length member */
};

struct field {
	uint32_t type;
	uint32_t kind;
	size_t off;
	size_t size;	/* of the member; FK_BLOB: offset of the length member */
};

#define FIELD(t, k, st, m) { (t), (k), offsetof(st, m), sizeof(((st *)0)->m) }
#define F_U32(t, st, m) FIELD(t, FK_U32, st, m)
#define F_U64(t, st, m) FIELD(t, FK_U64, st, m)
#define F_BOOL(t, st, m) FIELD(t, FK_BOOL, st, m)
#define F_BYTES(t, st, m) FIELD(t, FK_BYTES, st, m)
#define F_STR(t, st, m) FIELD(t, FK_STR, st, m)
#define F_BLOB(t, st, m, lenm) { (t), FK_BLOB, offsetof(st, m), offsetof(st, lenm) }

/* One table of a record made of several (its parts). */
struct field_table {
	const struct field *fields;
	size_t n;
};

/* The tables of the records that are nests of fields only (tests cover every field). */
const struct field_table *const *fd_record_parts(size_t *n);
/* The fd record's parts, each in the proto file of its kind. */
extern const struct field_table fd_pipe_part, fd_eventfd_part, fd_signalfd_part, fd_timerfd_part,
	fd_epoll_part, fd_inotify_part, fd_sock_part, fd_inet_part, fd_tty_part;
const struct field *vma_record_fields(size_t *n);
const struct field *thread_record_fields(size_t *n);

/* Zero scalars and NULL pointers are left out: absent decodes as zero. */
int fields_encode(struct tlv_buf *b, const struct field *f, size_t n, const void *obj);
/*
 * Fill obj's members from tb (indexed by tlv_parse).  Pointers are stored
 * in obj as soon as they are allocated, so on error the caller frees obj
 * with its record's free function.
 */
int fields_decode(const struct tlv_attr *const *tb, const struct field *f, size_t n, void *obj);

/* How many attributes of this type the sequence holds. */
size_t tlv_count(const void *buf, size_t len, uint32_t type);

/* Encode a nest of fields as one attribute of the given type. */
int fields_encode_nest(struct tlv_buf *b, uint32_t type, const struct field *f, size_t n,
		       const void *obj);

/*
 * Gather every attribute of this type in buf (a TLV sequence) into a new
 * array of item_size-byte items (siginfo queues), in order.  *out is NULL
 * when there are none; -EBADMSG when one has another size.
 */
int tlv_collect_fixed(const void *buf, size_t len, uint32_t type, size_t item_size,
		      void **out, uint32_t *nr);
