/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "check_main.h"
#include "util/slurmnodes.h"

#define LINE "NodeName=tcsn3 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 " \
	     "NodeAddr=10.234.0.3 NodeHostName=tcsn3 Version=22.05.8 OS=Linux\n"

START_TEST(node_addr_read)
{
	char addr[64];

	ck_assert_int_eq(slurm_node_addr_of(LINE, addr, sizeof(addr)), 0);
	ck_assert_str_eq(addr, "10.234.0.3");
	ck_assert_int_eq(slurm_node_addr_of("NodeAddr=n1", addr, sizeof(addr)), 0);
	ck_assert_str_eq(addr, "n1");
}
END_TEST

/* NodeName too; a field whose name only begins the same is another field. */
START_TEST(node_field_read)
{
	char v[64];

	ck_assert_int_eq(slurm_node_field(LINE, "NodeName", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "tcsn3");
	ck_assert_int_eq(slurm_node_field(LINE, "NodeHostName", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "tcsn3");
	ck_assert_int_eq(slurm_node_field("NodeNameX=a NodeName=b", "NodeName", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "b");
	ck_assert_int_eq(slurm_node_field("NodeNameX=a", "NodeName", v, sizeof(v)), -ENOENT);
	ck_assert_int_eq(slurm_node_field("NodeName", "NodeName", v, sizeof(v)), -ENOENT);
	ck_assert_int_eq(slurm_node_field("NodeName=a;b", "NodeName", v, sizeof(v)), -EINVAL);
}
END_TEST

/* scontrol's text is not trusted: a field of another name, shell text, too long. */
START_TEST(node_addr_hostile)
{
	char addr[16];

	ck_assert_int_eq(slurm_node_addr_of("NodeName=x\n", addr, sizeof(addr)), -ENOENT);
	ck_assert_int_eq(slurm_node_addr_of("XNodeAddr=evil NodeName=a", addr, sizeof(addr)),
			 -ENOENT);
	ck_assert_int_eq(slurm_node_addr_of("NodeAddr=$(reboot) x", addr, sizeof(addr)), -EINVAL);
	ck_assert_int_eq(slurm_node_addr_of("NodeAddr=-oX n", addr, sizeof(addr)),
			 -EINVAL);
	ck_assert_int_eq(slurm_node_addr_of("NodeAddr= NodeName=a", addr, sizeof(addr)), -EINVAL);
	ck_assert_int_eq(slurm_node_addr_of("NodeAddr=a-very-long-node-name.example", addr,
					    sizeof(addr)), -ENAMETOOLONG);
}
END_TEST

/* Hosts still in the job stay; the others take the unused nodes in order. */
START_TEST(place_hosts)
{
	const char *old[] = { "tcsn1", "tcsn2" };
	const char *nodes[] = { "tcsn2", "tcsn3" };
	const char *same[] = { "tcsn2", "tcsn1" };
	const char *other[] = { "a", "b", "c" };
	size_t to[3];

	ck_assert_int_eq(slurm_place_hosts(old, 2, nodes, 2, to), 0);
	ck_assert_uint_eq(to[0], 1);
	ck_assert_uint_eq(to[1], 0);
	ck_assert_int_eq(slurm_place_hosts(old, 2, same, 2, to), 0);
	ck_assert_uint_eq(to[0], 1);
	ck_assert_uint_eq(to[1], 0);
	ck_assert_int_eq(slurm_place_hosts(old, 2, other, 3, to), 0);
	ck_assert_uint_eq(to[0], 0);
	ck_assert_uint_eq(to[1], 1);
	ck_assert_int_eq(slurm_place_hosts(old, 2, nodes, 1, to), -ENOSPC);
	/* A host named twice (two parts on one node) takes a node each. */
	{
		const char *twice[] = { "tcsn2", "tcsn2" };

		ck_assert_int_eq(slurm_place_hosts(twice, 2, nodes, 2, to), 0);
		ck_assert_uint_eq(to[0], 0);
		ck_assert_uint_eq(to[1], 1);
	}
}
END_TEST

static Suite *slurmnodes_suite(void)
{
	Suite *s = suite_create("slurmnodes");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, node_addr_read);
	tcase_add_test(tc, node_addr_hostile);
	tcase_add_test(tc, node_field_read);
	tcase_add_test(tc, place_hosts);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(slurmnodes_suite)
