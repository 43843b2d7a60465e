/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "proto/sockq.h"
#include "util/fileio.h"

size_t sockq_record_len(const struct sockq_msg *m, unsigned int flags)
{
	size_t n = 4 + (size_t)m->len;

	if (flags & SOCKQ_FROM)
		n += 4 + m->from_len;
	if (flags & SOCKQ_FDS)
		n += 4 + 4 * (size_t)m->nr_fds;
	return n;
}

int sockq_append(int fd, const struct sockq_msg *m, unsigned int flags)
{
	uint32_t hdr[3];
	size_t n = 0;
	int r;

	if (((flags & SOCKQ_FROM) && m->from_len > SOCKQ_FROM_MAX) ||
	    ((flags & SOCKQ_FDS) && m->nr_fds > SOCKQ_FDS_MAX))
		return -EINVAL;
	hdr[n++] = m->len;
	if (flags & SOCKQ_FROM)
		hdr[n++] = m->from_len;
	if (flags & SOCKQ_FDS)
		hdr[n++] = m->nr_fds;
	r = write_full(fd, hdr, n * sizeof(hdr[0]));
	if (r == 0 && (flags & SOCKQ_FROM) && m->from_len)
		r = write_full(fd, m->from, m->from_len);
	if (r == 0 && (flags & SOCKQ_FDS) && m->nr_fds)
		r = write_full(fd, m->fds, m->nr_fds * sizeof(uint32_t));
	if (r == 0 && m->len)
		r = write_full(fd, m->data, m->len);
	return r;
}

int sockq_next(const uint8_t *buf, size_t len, size_t *off, unsigned int flags,
	       struct sockq_msg *m)
{
	size_t at = *off, hdr = 4 + ((flags & SOCKQ_FROM) ? 4 : 0) + ((flags & SOCKQ_FDS) ? 4 : 0);
	uint32_t n, from_len = 0, nr_fds = 0;
	size_t k = 4;

	memset(m, 0, sizeof(*m));
	if (at >= len)
		return 0;
	if (len - at < hdr)
		return -EBADMSG;
	memcpy(&n, buf + at, 4);
	if (flags & SOCKQ_FROM) {
		memcpy(&from_len, buf + at + k, 4);
		k += 4;
	}
	if (flags & SOCKQ_FDS)
		memcpy(&nr_fds, buf + at + k, 4);
	at += hdr;
	if (from_len > SOCKQ_FROM_MAX || nr_fds > SOCKQ_FDS_MAX)
		return -EBADMSG;
	if (len - at < from_len + (size_t)nr_fds * 4 ||
	    len - at - from_len - (size_t)nr_fds * 4 < n)
		return -EBADMSG;
	m->from_len = from_len;
	m->from = from_len ? buf + at : NULL;
	at += from_len;
	m->nr_fds = nr_fds;
	m->fds = nr_fds ? buf + at : NULL;
	at += (size_t)nr_fds * 4;
	m->len = n;
	m->data = buf + at;
	*off = at + n;
	return 1;
}
