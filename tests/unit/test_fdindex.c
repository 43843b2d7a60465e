/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fd_index: records by pipe or unix socket inode, listeners by pending connection. */
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "proto/fdindex.h"
#include "proto/model.h"

/* Two processes: pipes and sockets on shared inodes, in an order the index must keep. */
static void make(struct computation *c, struct process_record p[2], struct fd_record a[5],
		 struct fd_record b[3], uint64_t pending[3])
{
	memset(c, 0, sizeof(*c));
	memset(p, 0, 2 * sizeof(*p));
	memset(a, 0, 5 * sizeof(*a));
	memset(b, 0, 3 * sizeof(*b));
	a[0] = (struct fd_record){ .fd = 3, .kind = FD_PIPE, .pipe.ino = 70 };
	a[1] = (struct fd_record){ .fd = 4, .kind = FD_UNIX, .sock.ino = 70 };	/* same number, other kind */
	a[2] = (struct fd_record){ .fd = 5, .kind = FD_PIPE, .pipe.ino = 9 };
	a[3] = (struct fd_record){ .fd = 6, .kind = FD_UNIX, .sock.ino = 500 };
	a[4] = (struct fd_record){ .fd = 7, .kind = FD_REGULAR, .ino = 70 };
	pending[0] = 800;
	pending[1] = 801;
	pending[2] = 800;
	a[3].sock.pending = (uint8_t *)pending;	/* a listener, 800 twice */
	a[3].sock.pending_len = 3 * sizeof(uint64_t);
	b[0] = (struct fd_record){ .fd = 3, .kind = FD_PIPE, .pipe.ino = 70 };
	b[1] = (struct fd_record){ .fd = 4, .kind = FD_UNIX, .sock.ino = 500 };
	b[2] = (struct fd_record){ .fd = 5, .kind = FD_UNIX, .sock.ino = 600 };
	b[2].sock.pending = (uint8_t *)pending + 1;	/* unaligned, as an image may give it */
	b[2].sock.pending_len = sizeof(uint64_t);
	p[0].fds = a;
	p[0].nr_fds = 5;
	p[1].fds = b;
	p[1].nr_fds = 3;
	c->procs = p;
	c->nr_procs = 2;
}

START_TEST(finds_in_order)
{
	struct computation c;
	struct process_record p[2];
	struct fd_record a[5], b[3];
	uint64_t pending[3];
	const struct fd_ino_entry *e;

	make(&c, p, a, b, pending);
	ck_assert_int_eq(fd_index_build(&c), 0);
	ck_assert_uint_eq(fd_index_find(&c, FD_PIPE, 70, &e), 2);
	ck_assert_ptr_eq(e[0].f, &a[0]);
	ck_assert_ptr_eq(e[1].f, &b[0]);
	ck_assert_uint_eq(fd_index_find(&c, FD_UNIX, 70, &e), 1);
	ck_assert_ptr_eq(e[0].f, &a[1]);
	ck_assert_uint_eq(fd_index_find(&c, FD_UNIX, 500, &e), 2);
	ck_assert_ptr_eq(e[0].f, &a[3]);
	ck_assert_ptr_eq(e[1].f, &b[1]);
	ck_assert_uint_eq(fd_index_find(&c, FD_PIPE, 9, &e), 1);
	ck_assert_uint_eq(fd_index_find(&c, FD_PIPE, 10, &e), 0);
	ck_assert_uint_eq(fd_index_find(&c, FD_REGULAR, 70, &e), 0);	/* not indexed */
	ck_assert_uint_eq(fd_index_find(&c, FD_UNIX, UINT64_MAX, &e), 0);
	ck_assert_ptr_eq(fd_index_pending(&c, 800), &a[3]);
	ck_assert_ptr_eq(fd_index_pending(&c, 801), &a[3]);
	ck_assert_ptr_null(fd_index_pending(&c, 500));
	fd_index_free(c.index);
	free(c.index);
}
END_TEST

START_TEST(unaligned_pending)
{
	struct computation c;
	struct process_record p[2];
	struct fd_record a[5], b[3];
	uint64_t pending[3], v;

	make(&c, p, a, b, pending);
	memcpy(&v, (uint8_t *)pending + 1, sizeof(v));
	ck_assert_int_eq(fd_index_build(&c), 0);
	ck_assert_ptr_eq(fd_index_pending(&c, v), &b[2]);
	fd_index_free(c.index);
	free(c.index);
}
END_TEST

START_TEST(empty_and_unbuilt)
{
	struct computation c = { 0 };
	const struct fd_ino_entry *e;

	ck_assert_uint_eq(fd_index_find(&c, FD_PIPE, 1, &e), 0);	/* no index: nothing */
	ck_assert_ptr_null(fd_index_pending(&c, 1));
	ck_assert_int_eq(fd_index_build(&c), 0);
	ck_assert_uint_eq(fd_index_find(&c, FD_PIPE, 1, &e), 0);
	ck_assert_ptr_null(fd_index_pending(&c, 1));
	fd_index_free(c.index);
	free(c.index);
}
END_TEST

static Suite *fdindex_suite(void)
{
	Suite *s = suite_create("fdindex");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, finds_in_order);
	tcase_add_test(tc, unaligned_pending);
	tcase_add_test(tc, empty_and_unbuilt);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fdindex_suite)
