/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/* content_fd is the collector's handle: it has no meaning in an image. */
static const struct field fd_fields[] = {
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
	F_U64(FD_A_PIPE_INO, struct fd_record, pipe_ino),
	F_U32(FD_A_PIPE_SIZE, struct fd_record, pipe_size),
	F_U64(FD_A_EVENTFD_COUNT, struct fd_record, eventfd_count),
	F_U32(FD_A_EVENTFD_SEMAPHORE, struct fd_record, eventfd_semaphore),
	F_U64(FD_A_SIGNALFD_MASK, struct fd_record, signalfd_mask),
	F_U32(FD_A_TIMERFD_CLOCK, struct fd_record, timerfd_clock),
	F_U32(FD_A_TIMERFD_FLAGS, struct fd_record, timerfd_flags),
	F_U64(FD_A_TIMERFD_TICKS, struct fd_record, timerfd_ticks),
	F_U64(FD_A_TIMERFD_VALUE, struct fd_record, timerfd_value_ns),
	F_U64(FD_A_TIMERFD_INTERVAL, struct fd_record, timerfd_interval_ns),
	F_BLOB(FD_A_EPOLL_WATCHES, struct fd_record, epoll_watches, epoll_watches_len),
	F_U32(FD_A_SOCK_TYPE, struct fd_record, sock_type),
	F_U64(FD_A_SOCK_INO, struct fd_record, sock_ino),
	F_U64(FD_A_PEER_INO, struct fd_record, peer_ino),
	F_U32(FD_A_SOCK_PASSCRED, struct fd_record, sock_passcred),
	F_U32(FD_A_SOCK_SNDBUF, struct fd_record, sock_sndbuf),
	F_U32(FD_A_SOCK_RCVBUF, struct fd_record, sock_rcvbuf),
	F_BLOB(FD_A_INOTIFY_WATCHES, struct fd_record, inotify_watches, inotify_watches_len),
	F_U32(FD_A_INET_FAMILY, struct fd_record, inet_family),
	F_U32(FD_A_INET_STATE, struct fd_record, inet_state),
	F_BYTES(FD_A_INET_LOCAL, struct fd_record, inet_local),
	F_BYTES(FD_A_INET_REMOTE, struct fd_record, inet_remote),
	F_U32(FD_A_INET_BACKLOG, struct fd_record, inet_backlog),
	F_U32(FD_A_TCP_SND_SEQ, struct fd_record, tcp_snd_seq),
	F_U32(FD_A_TCP_RCV_SEQ, struct fd_record, tcp_rcv_seq),
	F_U32(FD_A_TCP_MSS, struct fd_record, tcp_mss),
	F_U32(FD_A_TCP_SND_WSCALE, struct fd_record, tcp_snd_wscale),
	F_U32(FD_A_TCP_RCV_WSCALE, struct fd_record, tcp_rcv_wscale),
	F_U32(FD_A_TCP_OPTIONS, struct fd_record, tcp_options),
	F_U32(FD_A_TCP_TIMESTAMP, struct fd_record, tcp_timestamp),
	F_BYTES(FD_A_TCP_WINDOW, struct fd_record, tcp_window),
	F_U32(FD_A_SOCK_NODELAY, struct fd_record, sock_nodelay),
	F_U32(FD_A_SOCK_REUSEADDR, struct fd_record, sock_reuseaddr),
	F_U32(FD_A_SOCK_KEEPALIVE, struct fd_record, sock_keepalive),
	F_U32(FD_A_SOCK_V6ONLY, struct fd_record, sock_v6only),
	F_U32(FD_A_SOCK_QUEUE_FROM, struct fd_record, sock_queue_from),
	F_U32(FD_A_SOCK_QUEUE_FDS, struct fd_record, sock_queue_fds),
	F_U32(FD_A_IN_FLIGHT, struct fd_record, in_flight),
	F_U32(FD_A_TCP_DRAINED, struct fd_record, tcp_drained),
	F_U32(FD_A_TCP_SHUT_WR, struct fd_record, tcp_shut_wr),
	F_U32(FD_A_TCP_CORK, struct fd_record, tcp_cork),
	F_U32(FD_A_SOCK_BUF_LOCK, struct fd_record, sock_buf_lock),
	F_U32(FD_A_TCP_PEER_GONE, struct fd_record, tcp_peer_gone),
	F_U32(FD_A_TCP_REMOTE, struct fd_record, tcp_remote),
	F_U32(FD_A_SOCK_STATE, struct fd_record, sock_state),
	F_BLOB(FD_A_SOCK_NAME, struct fd_record, sock_name, sock_name_len),
	F_STR(FD_A_SOCK_DIR, struct fd_record, sock_dir),
	F_U32(FD_A_SOCK_FILE_MODE, struct fd_record, sock_file_mode),
	F_U32(FD_A_SOCK_UNLINKED, struct fd_record, sock_unlinked),
	F_U32(FD_A_SOCK_BACKLOG, struct fd_record, sock_backlog),
	F_BLOB(FD_A_SOCK_PENDING, struct fd_record, sock_pending, sock_pending_len),
	F_BLOB(FD_A_PEER_NAME, struct fd_record, peer_name, peer_name_len),
	F_U32(FD_A_TTY_KIND, struct fd_record, tty_kind),
	F_U32(FD_A_TTY_INDEX, struct fd_record, tty_index),
	F_BLOB(FD_A_TTY_TERMIOS, struct fd_record, tty_termios, tty_termios_len),
	F_U32(FD_A_TTY_ROWS, struct fd_record, tty_rows),
	F_U32(FD_A_TTY_COLS, struct fd_record, tty_cols),
	F_U32(FD_A_TTY_XPIXEL, struct fd_record, tty_xpixel),
	F_U32(FD_A_TTY_YPIXEL, struct fd_record, tty_ypixel),
	F_U32(FD_A_TTY_LOCKED, struct fd_record, tty_locked),
	F_U32(FD_A_TTY_PACKET, struct fd_record, tty_packet),
	F_U32(FD_A_TTY_FG_PGRP, struct fd_record, tty_fg_pgrp),
	F_U32(FD_A_TTY_SID, struct fd_record, tty_sid),
	F_BLOB(FD_A_LOCKS, struct fd_record, locks, locks_len),
	F_BYTES(FD_A_FILE_ID, struct fd_record, file_id),
};

const struct field *fd_record_fields(size_t *n)
{
	*n = ARRAY_SIZE(fd_fields);
	return fd_fields;
}

int fd_record_encode(struct tlv_buf *b, uint32_t type, const struct fd_record *f)
{
	return fields_encode_nest(b, type, fd_fields, ARRAY_SIZE(fd_fields), f);
}

int fd_record_decode(const struct tlv_attr *nest, struct fd_record *f)
{
	const struct tlv_attr *tb[FD_A_MAX + 1];
	int r;

	f->content_fd = -1;
	f->repair_fd = -1;
	f->tty_hold_fd = -1;
	f->flight_fd = -1;
	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, FD_A_MAX);
	if (r < 0)
		return r;
	return fields_decode(tb, fd_fields, ARRAY_SIZE(fd_fields), f);
}

void fd_record_free(struct fd_record *f)
{
	free(f->path);
	free(f->content);
	free(f->epoll_watches);
	free(f->inotify_watches);
	free(f->sock_name);
	free(f->sock_dir);
	free(f->sock_pending);
	free(f->peer_name);
	free(f->tty_termios);
	free(f->locks);
	f->locks = NULL;
	f->locks_len = 0;
	f->tty_termios = NULL;
	f->tty_termios_len = 0;
	f->sock_name = f->sock_pending = f->peer_name = NULL;
	f->sock_dir = NULL;
	f->sock_name_len = f->sock_pending_len = f->peer_name_len = 0;
	f->inotify_watches = NULL;
	f->inotify_watches_len = 0;
	f->path = f->content = NULL;
	f->epoll_watches = NULL;
	f->epoll_watches_len = 0;
}
