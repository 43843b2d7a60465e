// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fd record's part every socket has, unix and inet alike
 * (tracer/socket.c, tracer/unix.c, restorer/unix.c).
 */
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

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

const struct field_table fd_sock_part = { fd_sock_fields, ARRAY_SIZE(fd_sock_fields) };
