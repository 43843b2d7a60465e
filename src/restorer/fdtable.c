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

int copy_contents(int from, uint64_t start, int to, uint64_t size)
{
	off_t off = (off_t)start;

	if (start > (uint64_t)INT64_MAX || size > (uint64_t)INT64_MAX - start)
		return -EFBIG;
	/* sendfile reads at off and leaves from's own position alone. */
	while ((uint64_t)off - start < size) {
		ssize_t n = sendfile(to, from, &off, size - ((uint64_t)off - start));

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

static size_t desc_slot(uint32_t id, size_t nr_slots)
{
	return (size_t)((id * 0x9e3779b1u) & (nr_slots - 1));
}

/* Room for one more in v, and slots at most half full. */
static int descs_grow(struct desc_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct desc_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	if (2 * (t->n + 1) > t->nr_slots) {
		size_t nr = t->nr_slots ? 2 * t->nr_slots : 128;
		uint32_t *slots = calloc(nr, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < t->n; i++) {
			size_t s = desc_slot(t->v[i].desc_id, nr);

			while (slots[s])
				s = (s + 1) & (nr - 1);
			slots[s] = (uint32_t)i + 1;
		}
		free(t->slots);
		t->slots = slots;
		t->nr_slots = nr;
	}
	return 0;
}

int descs_add(struct desc_table *t, uint32_t id, int fd)
{
	int high = move_above(fd, t->base), r;
	size_t s;

	if (high < 0)
		return high;
	r = descs_grow(t);
	if (r < 0) {
		close(high);
		return r;
	}
	t->v[t->n] = (struct desc_entry){ id, high };
	/* A second entry of one id (never made) would be found after the first, as before. */
	for (s = desc_slot(id, t->nr_slots); t->slots[s]; s = (s + 1) & (t->nr_slots - 1))
		;
	t->slots[s] = (uint32_t)++t->n;
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
	if (!t->nr_slots)
		return -1;
	for (size_t s = desc_slot(desc_id, t->nr_slots); t->slots[s];
	     s = (s + 1) & (t->nr_slots - 1))
		if (t->v[t->slots[s] - 1].desc_id == desc_id)
			return t->v[t->slots[s] - 1].fd;
	return -1;
}
