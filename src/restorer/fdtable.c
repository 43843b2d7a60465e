/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "restorer/fdtable.h"
#include "util/macro.h"

/* Flags F_SETFL can change on an open description. */
#define SETFL_FLAGS (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)

int copy_contents(int from, int to, uint64_t size)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = sendfile(to, from, &off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		if (n == 0)
			return -ENODATA;
	}
	return 0;
}

/* fd moved above every saved fd number (the table's own fds live there). */
int fd_reopen(int fd, int flags)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = open(path, flags | O_CLOEXEC);
	return n < 0 ? neg_errno() : n;
}

int move_above(int fd, int base)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, base);

	close(fd);
	return high < 0 ? neg_errno() : high;
}

/* A dup of fd with the saved status flags (O_NONBLOCK...) of its description. */
int dup_with_flags(int fd, uint32_t flags)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 0), r;

	if (n < 0)
		return neg_errno();
	if (fcntl(n, F_SETFL, flags & SETFL_FLAGS) < 0) {
		r = neg_errno();
		close(n);
		return r;
	}
	return n;
}

int descs_add(struct desc_table *t, uint32_t id, int fd)
{
	struct desc_entry *n;
	int high = move_above(fd, t->base);

	if (high < 0)
		return high;
	n = realloc(t->v, (t->n + 1) * sizeof(*n));
	if (!n) {
		close(high);
		return -ENOMEM;
	}
	t->v = n;
	t->v[t->n++] = (struct desc_entry){ id, high };
	return 0;
}

int descs_highest_fd(const struct computation *c)
{
	int max = 2;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++)
			if (!c->procs[i].fds[k].in_flight)
				max = MAX(max, (int)c->procs[i].fds[k].fd);
	return max;
}

int descs_lookup(const struct desc_table *t, uint32_t desc_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].desc_id == desc_id)
			return t->v[i].fd;
	return -1;
}
