/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The messages queued in a socket, as a dump keeps them in the socket's
 * content file: [u32 length][bytes] per message, or, for a datagram queue
 * that keeps its senders (fd_record.sock_queue_from),
 * [u32 length][u32 address length][address][bytes].  Lengths are in host
 * order: an image is restored on the kind of machine that made it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Also the most a sender's address may take. */
#define SOCKQ_FROM_MAX 128

struct sockq_msg {
	const uint8_t *data;
	uint32_t len;
	const uint8_t *from;	/* NULL when from_len is 0 */
	uint32_t from_len;
};

/* Append m to fd (its sender only if with_from). */
int sockq_append(int fd, const struct sockq_msg *m, bool with_from);

/*
 * The message at *off of buf[0, len), pointing into buf, and *off moved
 * past it.  Returns 1 for a message, 0 at the end, -EBADMSG for a record
 * that runs past the end or an address longer than SOCKQ_FROM_MAX.
 */
int sockq_next(const uint8_t *buf, size_t len, size_t *off, bool with_from, struct sockq_msg *m);
