/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The messages queued in a socket, as a dump keeps them in the socket's
 * content file: [u32 length][bytes] per message; a datagram queue that
 * keeps its senders (SOCKQ_FROM, fd_record.sock.queue_from) has
 * [u32 length][u32 address length][address][bytes], and a queue that
 * carries fds (SOCKQ_FDS, fd_record.sock.queue_fds) has a u32 count of
 * them after the lengths and the fd numbers (u32 each) before the bytes:
 * [u32 length]([u32 address length])([u32 fds])(address)(fds)[bytes].
 * Numbers are in host order: an image is restored on the kind of machine
 * that made it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Also the most a sender's address may take. */
#define SOCKQ_FROM_MAX 128
/* The most fds one message carries (the kernel's SCM_MAX_FD). */
#define SOCKQ_FDS_MAX 253

#define SOCKQ_FROM 1u
#define SOCKQ_FDS 2u

struct sockq_msg {
	const uint8_t *data;
	uint32_t len;
	const uint8_t *from;	/* NULL when from_len is 0 */
	uint32_t from_len;
	const uint8_t *fds;	/* nr_fds u32 fd numbers, unaligned; NULL when none */
	uint32_t nr_fds;
};

/* The bytes sockq_append writes for m in the format of flags. */
size_t sockq_record_len(const struct sockq_msg *m, unsigned int flags);

/* Append m to fd, in the format of flags (SOCKQ_*). */
int sockq_append(int fd, const struct sockq_msg *m, unsigned int flags);

/*
 * The message at *off of buf[0, len), pointing into buf, and *off moved
 * past it.  Returns 1 for a message, 0 at the end, -EBADMSG for a record
 * that runs past the end, an address longer than SOCKQ_FROM_MAX or more
 * than SOCKQ_FDS_MAX fds.
 */
int sockq_next(const uint8_t *buf, size_t len, size_t *off, unsigned int flags,
	       struct sockq_msg *m);

/* The SOCKQ_* flags of a record's queue. */
#define SOCKQ_FLAGS(f) (((f)->sock.queue_from ? SOCKQ_FROM : 0u) | ((f)->sock.queue_fds ? SOCKQ_FDS : 0u))
