/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/*
 * The fd record's field tables, one per part of struct fd_record: its
 * members every kind has here, one per kind or family in the file of that
 * kind (proto/file.c, anonfd.c, socket.c, inet.c, tty.c, like the tracer's
 * and the restorer's).  The offsets are
 * the whole record's and the attributes of every part go in the one nest
 * of the record, as they always have: the parts are the code's, not the
 * format's.  content_fd and the other collector handles have no meaning in
 * an image.
 */
/* What every kind has. */
static const struct field fd_common_fields[] = {
	F_U32(FD_A_FD, struct fd_record, fd),
	F_U32(FD_A_KIND, struct fd_record, kind),
	F_U32(FD_A_FLAGS, struct fd_record, flags),
	F_U32(FD_A_CLOEXEC, struct fd_record, cloexec),
	F_U64(FD_A_POS, struct fd_record, pos),
	F_U32(FD_A_STDIO_INDEX, struct fd_record, stdio_index),
	F_U32(FD_A_MODE, struct fd_record, mode),
	F_U64(FD_A_DEV, struct fd_record, dev),
	F_U64(FD_A_INO, struct fd_record, ino),
	F_U64(FD_A_SIZE, struct fd_record, size),
	F_STR(FD_A_PATH, struct fd_record, path),
	F_BOOL(FD_A_DELETED, struct fd_record, deleted),
	F_STR(FD_A_CONTENT, struct fd_record, content),
	F_U32(FD_A_DESC_ID, struct fd_record, desc_id),
	F_U32(FD_A_IN_FLIGHT, struct fd_record, in_flight),
	F_BLOB(FD_A_LOCKS, struct fd_record, locks, locks_len),
	F_BYTES(FD_A_FILE_ID, struct fd_record, file_id),
	F_U64(FD_A_CONTENT_OFF, struct fd_record, content_off),
	F_U64(FD_A_CONTENT_LEN, struct fd_record, content_len),
};

static const struct field_table fd_common_part = { fd_common_fields, ARRAY_SIZE(fd_common_fields) };

/* Every part, each in the file of its kind (proto/file.c, anonfd.c, ...). */
static const struct field_table *const fd_parts[] = {
	&fd_common_part, &fd_pipe_part, &fd_eventfd_part, &fd_signalfd_part, &fd_timerfd_part,
	&fd_epoll_part, &fd_inotify_part, &fd_sock_part, &fd_inet_part, &fd_tty_part,
};

const struct field_table *const *fd_record_parts(size_t *n)
{
	*n = ARRAY_SIZE(fd_parts);
	return fd_parts;
}

int fd_record_encode(struct tlv_buf *b, uint32_t type, const struct fd_record *f)
{
	long nest = tlv_nest_start(b, type);
	int r;

	if (nest < 0)
		return (int)nest;
	for (size_t i = 0; i < ARRAY_SIZE(fd_parts); i++) {
		r = fields_encode(b, fd_parts[i]->fields, fd_parts[i]->n, f);
		if (r < 0)
			return r;
	}
	return tlv_nest_end(b, nest);
}

int fd_record_decode(const struct tlv_attr *nest, struct fd_record *f)
{
	const struct tlv_attr *tb[FD_A_MAX + 1];
	int r;

	f->content_fd = -1;
	f->inet.repair_fd = -1;
	f->tty.hold_fd = -1;
	f->flight_fd = -1;
	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, FD_A_MAX);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(fd_parts) && r == 0; i++)
		r = fields_decode(tb, fd_parts[i]->fields, fd_parts[i]->n, f);
	return r;
}

void fd_record_free(struct fd_record *f)
{
	free(f->path);
	free(f->content);
	free(f->epoll.watches);
	free(f->inotify.watches);
	free(f->sock.name);
	free(f->sock.dir);
	free(f->sock.pending);
	free(f->sock.peer_name);
	free(f->tty.termios);
	free(f->locks);
	f->locks = NULL;
	f->locks_len = 0;
	f->tty.termios = NULL;
	f->tty.termios_len = 0;
	f->sock.name = f->sock.pending = f->sock.peer_name = NULL;
	f->sock.dir = NULL;
	f->sock.name_len = f->sock.pending_len = f->sock.peer_name_len = 0;
	f->inotify.watches = NULL;
	f->inotify.watches_len = 0;
	f->path = f->content = NULL;
	f->epoll.watches = NULL;
	f->epoll.watches_len = 0;
}
