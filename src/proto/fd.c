/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/*
 * The fd record's field tables, one per part of struct fd_record (its
 * members every kind has, then one per kind or family).  The offsets are
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
};

/* FD_PIPE. */
static const struct field fd_pipe_fields[] = {
	F_U64(FD_A_PIPE_INO, struct fd_record, pipe.ino),
	F_U32(FD_A_PIPE_SIZE, struct fd_record, pipe.size),
};

/* FD_EVENTFD. */
static const struct field fd_eventfd_fields[] = {
	F_U64(FD_A_EVENTFD_COUNT, struct fd_record, eventfd.count),
	F_U32(FD_A_EVENTFD_SEMAPHORE, struct fd_record, eventfd.semaphore),
};

/* FD_SIGNALFD. */
static const struct field fd_signalfd_fields[] = {
	F_U64(FD_A_SIGNALFD_MASK, struct fd_record, signalfd.mask),
};

/* FD_TIMERFD. */
static const struct field fd_timerfd_fields[] = {
	F_U32(FD_A_TIMERFD_CLOCK, struct fd_record, timerfd.clock),
	F_U32(FD_A_TIMERFD_FLAGS, struct fd_record, timerfd.flags),
	F_U64(FD_A_TIMERFD_TICKS, struct fd_record, timerfd.ticks),
	F_U64(FD_A_TIMERFD_VALUE, struct fd_record, timerfd.value_ns),
	F_U64(FD_A_TIMERFD_INTERVAL, struct fd_record, timerfd.interval_ns),
};

/* FD_EPOLL. */
static const struct field fd_epoll_fields[] = {
	F_BLOB(FD_A_EPOLL_WATCHES, struct fd_record, epoll.watches, epoll.watches_len),
};

/* FD_INOTIFY. */
static const struct field fd_inotify_fields[] = {
	F_BLOB(FD_A_INOTIFY_WATCHES, struct fd_record, inotify.watches, inotify.watches_len),
};

/* Any socket: FD_UNIX, FD_INET. */
static const struct field fd_sock_fields[] = {
	F_U32(FD_A_SOCK_TYPE, struct fd_record, sock.type),
	F_U64(FD_A_SOCK_INO, struct fd_record, sock.ino),
	F_U64(FD_A_PEER_INO, struct fd_record, sock.peer_ino),
	F_U32(FD_A_SOCK_PASSCRED, struct fd_record, sock.passcred),
	F_U32(FD_A_SOCK_SNDBUF, struct fd_record, sock.sndbuf),
	F_U32(FD_A_SOCK_RCVBUF, struct fd_record, sock.rcvbuf),
	F_U32(FD_A_SOCK_NODELAY, struct fd_record, sock.nodelay),
	F_U32(FD_A_SOCK_REUSEADDR, struct fd_record, sock.reuseaddr),
	F_U32(FD_A_SOCK_KEEPALIVE, struct fd_record, sock.keepalive),
	F_U32(FD_A_SOCK_V6ONLY, struct fd_record, sock.v6only),
	F_U32(FD_A_SOCK_QUEUE_FROM, struct fd_record, sock.queue_from),
	F_U32(FD_A_SOCK_QUEUE_FDS, struct fd_record, sock.queue_fds),
	F_U32(FD_A_SOCK_BUF_LOCK, struct fd_record, sock.buf_lock),
	F_U32(FD_A_SOCK_STATE, struct fd_record, sock.state),
	F_BLOB(FD_A_SOCK_NAME, struct fd_record, sock.name, sock.name_len),
	F_STR(FD_A_SOCK_DIR, struct fd_record, sock.dir),
	F_U32(FD_A_SOCK_FILE_MODE, struct fd_record, sock.file_mode),
	F_U32(FD_A_SOCK_UNLINKED, struct fd_record, sock.unlinked),
	F_U32(FD_A_SOCK_BACKLOG, struct fd_record, sock.backlog),
	F_BLOB(FD_A_SOCK_PENDING, struct fd_record, sock.pending, sock.pending_len),
	F_BLOB(FD_A_PEER_NAME, struct fd_record, sock.peer_name, sock.peer_name_len),
};

/* FD_INET. */
static const struct field fd_inet_fields[] = {
	F_U32(FD_A_INET_FAMILY, struct fd_record, inet.family),
	F_U32(FD_A_INET_STATE, struct fd_record, inet.state),
	F_BYTES(FD_A_INET_LOCAL, struct fd_record, inet.local),
	F_BYTES(FD_A_INET_REMOTE, struct fd_record, inet.remote),
	F_U32(FD_A_INET_BACKLOG, struct fd_record, inet.backlog),
	F_U32(FD_A_TCP_SND_SEQ, struct fd_record, inet.tcp_snd_seq),
	F_U32(FD_A_TCP_RCV_SEQ, struct fd_record, inet.tcp_rcv_seq),
	F_U32(FD_A_TCP_MSS, struct fd_record, inet.tcp_mss),
	F_U32(FD_A_TCP_SND_WSCALE, struct fd_record, inet.tcp_snd_wscale),
	F_U32(FD_A_TCP_RCV_WSCALE, struct fd_record, inet.tcp_rcv_wscale),
	F_U32(FD_A_TCP_OPTIONS, struct fd_record, inet.tcp_options),
	F_U32(FD_A_TCP_TIMESTAMP, struct fd_record, inet.tcp_timestamp),
	F_BYTES(FD_A_TCP_WINDOW, struct fd_record, inet.tcp_window),
	F_U32(FD_A_TCP_DRAINED, struct fd_record, inet.tcp_drained),
	F_U32(FD_A_TCP_SHUT_WR, struct fd_record, inet.tcp_shut_wr),
	F_U32(FD_A_TCP_CORK, struct fd_record, inet.tcp_cork),
	F_U32(FD_A_TCP_PEER_GONE, struct fd_record, inet.tcp_peer_gone),
	F_U32(FD_A_TCP_REMOTE, struct fd_record, inet.tcp_remote),
};

/* FD_TTY and a terminal FD_STDIO. */
static const struct field fd_tty_fields[] = {
	F_U32(FD_A_TTY_KIND, struct fd_record, tty.kind),
	F_U32(FD_A_TTY_INDEX, struct fd_record, tty.index),
	F_BLOB(FD_A_TTY_TERMIOS, struct fd_record, tty.termios, tty.termios_len),
	F_U32(FD_A_TTY_ROWS, struct fd_record, tty.rows),
	F_U32(FD_A_TTY_COLS, struct fd_record, tty.cols),
	F_U32(FD_A_TTY_XPIXEL, struct fd_record, tty.xpixel),
	F_U32(FD_A_TTY_YPIXEL, struct fd_record, tty.ypixel),
	F_U32(FD_A_TTY_LOCKED, struct fd_record, tty.locked),
	F_U32(FD_A_TTY_PACKET, struct fd_record, tty.packet),
	F_U32(FD_A_TTY_FG_PGRP, struct fd_record, tty.fg_pgrp),
	F_U32(FD_A_TTY_SID, struct fd_record, tty.sid),
};

#define FD_PART(t) { t, ARRAY_SIZE(t) }
static const struct field_table fd_parts[] = {
	FD_PART(fd_common_fields),
	FD_PART(fd_pipe_fields),
	FD_PART(fd_eventfd_fields),
	FD_PART(fd_signalfd_fields),
	FD_PART(fd_timerfd_fields),
	FD_PART(fd_epoll_fields),
	FD_PART(fd_inotify_fields),
	FD_PART(fd_sock_fields),
	FD_PART(fd_inet_fields),
	FD_PART(fd_tty_fields),
};

const struct field_table *fd_record_parts(size_t *n)
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
		r = fields_encode(b, fd_parts[i].fields, fd_parts[i].n, f);
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
		r = fields_decode(tb, fd_parts[i].fields, fd_parts[i].n, f);
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
