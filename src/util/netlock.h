/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network lock: packets to a checkpointed TCP connection are dropped by
 * an nftables rule.  From before its state is read to the end of the dump,
 * so the socket takes in nothing the image would not have (the kernel keeps
 * acknowledging data in repair mode); and while it has no socket on this
 * host (between the kill after a dump and the restore), so the kernel does
 * not answer with a reset and the peer just retransmits until the restore.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* local and remote: struct sockaddr_in or sockaddr_in6, this host's side first. */
struct netlock_conn {
	const void *local;
	const void *remote;
};

/*
 * Socket fd into or out of TCP repair mode (TCP_REPAIR_ON, _OFF, ...): the
 * one call that needs CAP_NET_ADMIN, raised for it alone.  0 or -errno.
 */
int tcp_set_repair(int fd, int mode);

/* 0 or -errno; a batch costs one nft run per 256 connections. */
int netlock_add(const void *local, const void *remote);
int netlock_del(const void *local, const void *remote);
int netlock_add_many(const struct netlock_conn *conns, size_t n);
int netlock_del_many(const struct netlock_conn *conns, size_t n);

/*
 * The nft script of one batch: prelude, then "VERB element inet trace_ckpt
 * conns4 { ... }; " and the same for conns6, each set only when it has
 * elements (from the peer's side in: "RADDR . RPORT . LADDR . LPORT").
 * malloc'd, or NULL.
 */
char *netlock_script(const char *prelude, const char *verb, const struct netlock_conn *conns,
		     size_t n);
