/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restorer/deadend.h"
#include "util/macro.h"

int dead_end_open(struct desc_table *t, const struct fd_record *f)
{
	int sv[2], r;
	struct stat st;
	int *nf;
	uint64_t *ni;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return neg_errno();
	nf = realloc(t->dead_ends, (t->nr_dead_ends + 1) * sizeof(*nf));
	if (nf)
		t->dead_ends = nf;
	ni = nf ? realloc(t->dead_end_inos, (t->nr_dead_ends + 1) * sizeof(*ni)) : NULL;
	if (ni)
		t->dead_end_inos = ni;
	if (!nf || !ni || fstat(sv[0], &st) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	t->dead_ends[t->nr_dead_ends] = sv[1];
	t->dead_end_inos[t->nr_dead_ends++] = st.st_ino;
	r = dup_with_flags(sv[0], f->flags);
	close(sv[0]);
	return r;
}
