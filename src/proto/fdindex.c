// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fdindex.h"
#include "proto/model.h"

static int cmp_entry(const void *a, const void *b)
{
	const struct fd_ino_entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

static bool indexed(const struct fd_record *f, uint64_t *ino)
{
	if (f->kind == FD_PIPE)
		*ino = f->pipe.ino;
	else if (f->kind == FD_UNIX)
		*ino = f->sock.ino;
	else
		return false;
	return true;
}

int fd_index_build(struct computation *c)
{
	struct fd_index *x = calloc(1, sizeof(*x));
	size_t nr = 0, nr_pending = 0;
	uint32_t order = 0;

	if (!x)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			uint64_t ino;

			nr += indexed(f, &ino);
			if (f->kind == FD_UNIX)
				nr_pending += f->sock.pending_len / sizeof(uint64_t);
		}
	x->by_ino = calloc(nr ? nr : 1, sizeof(*x->by_ino));
	x->pending = calloc(nr_pending ? nr_pending : 1, sizeof(*x->pending));
	if (!x->by_ino || !x->pending) {
		fd_index_free(x);
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++, order++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			uint64_t ino;

			if (indexed(f, &ino))
				x->by_ino[x->nr_by_ino++] =
					(struct fd_ino_entry){ ino, f->kind, order, f };
			if (f->kind != FD_UNIX)
				continue;
			for (size_t j = 0; j < f->sock.pending_len / sizeof(uint64_t); j++) {
				memcpy(&ino, f->sock.pending + j * sizeof(ino), sizeof(ino));
				x->pending[x->nr_pending++] =
					(struct fd_ino_entry){ ino, FD_UNIX, order, f };
			}
		}
	qsort(x->by_ino, x->nr_by_ino, sizeof(*x->by_ino), cmp_entry);
	qsort(x->pending, x->nr_pending, sizeof(*x->pending), cmp_entry);
	fd_index_free(c->index);
	free(c->index);
	c->index = x;
	return 0;
}

void fd_index_free(struct fd_index *x)
{
	if (!x)
		return;
	free(x->by_ino);
	free(x->pending);
	x->by_ino = x->pending = NULL;
	x->nr_by_ino = x->nr_pending = 0;
}

/* The first entry of v not below (kind, ino). */
static size_t lower_bound(const struct fd_ino_entry *v, size_t n, uint32_t kind, uint64_t ino)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].kind < kind || (v[mid].kind == kind && v[mid].ino < ino))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t find_in(const struct fd_ino_entry *v, size_t n, uint32_t kind, uint64_t ino,
		      const struct fd_ino_entry **first)
{
	size_t at = lower_bound(v, n, kind, ino), end = at;

	while (end < n && v[end].kind == kind && v[end].ino == ino)
		end++;
	*first = at < n ? &v[at] : NULL;
	return end - at;
}

size_t fd_index_find(const struct computation *c, uint32_t kind, uint64_t ino,
		     const struct fd_ino_entry **first)
{
	*first = NULL;
	if (!c->index)
		return 0;
	return find_in(c->index->by_ino, c->index->nr_by_ino, kind, ino, first);
}

const struct fd_record *fd_index_pending(const struct computation *c, uint64_t ino)
{
	const struct fd_ino_entry *e;

	if (!c->index || !find_in(c->index->pending, c->index->nr_pending, FD_UNIX, ino, &e))
		return NULL;
	return e->f;
}
