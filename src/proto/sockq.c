/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "proto/sockq.h"
#include "util/fileio.h"

int sockq_append(int fd, const struct sockq_msg *m, bool with_from)
{
	uint32_t hdr[2] = { m->len, with_from ? m->from_len : 0 };
	int r;

	if (with_from && m->from_len > SOCKQ_FROM_MAX)
		return -EINVAL;
	r = write_full(fd, hdr, with_from ? sizeof(hdr) : sizeof(hdr[0]));
	if (r == 0 && with_from && m->from_len)
		r = write_full(fd, m->from, m->from_len);
	if (r == 0 && m->len)
		r = write_full(fd, m->data, m->len);
	return r;
}

int sockq_next(const uint8_t *buf, size_t len, size_t *off, bool with_from, struct sockq_msg *m)
{
	size_t at = *off, hdr = with_from ? 8 : 4;
	uint32_t n, from_len = 0;

	memset(m, 0, sizeof(*m));
	if (at >= len)
		return 0;
	if (len - at < hdr)
		return -EBADMSG;
	memcpy(&n, buf + at, 4);
	if (with_from)
		memcpy(&from_len, buf + at + 4, 4);
	at += hdr;
	if (from_len > SOCKQ_FROM_MAX || len - at < from_len || len - at - from_len < n)
		return -EBADMSG;
	m->from_len = from_len;
	m->from = from_len ? buf + at : NULL;
	at += from_len;
	m->len = n;
	m->data = buf + at;
	*off = at + n;
	return 1;
}
