// SPDX-License-Identifier: GPL-2.0-or-later
/* The fd record's part of a TCP or UDP socket (tracer/inet.c, restorer/inet.c). */
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

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

const struct field_table fd_inet_part = { fd_inet_fields, ARRAY_SIZE(fd_inet_fields) };
