/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a restore may give: restorer/creds.c's policy on crafted images. */
#include "../unit/check_main.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "restorer/creds.h"

#define FULL_BSET 0x1ffffffffffull

static struct process_record procs[3];
static struct computation comp = { .nr_procs = 2, .procs = procs };

static void setup(void)
{
	memset(procs, 0, sizeof(procs));
	for (int i = 0; i < 3; i++) {
		struct creds_record *c = &procs[i].creds;

		procs[i].pid = i + 1;
		c->valid = 1;
		for (int k = 0; k < 4; k++) {
			c->uid[k] = 1001;
			c->gid[k] = 1001;
		}
		c->cap_bnd = FULL_BSET;
	}
	comp.nr_procs = 2;
}

START_TEST(user_restores_own_image)
{
	char err[256] = "";

	ck_assert_int_eq(creds_check_restorable(&comp, false, 1001, 1001, FULL_BSET, err,
						sizeof(err)), 0);
}
END_TEST

START_TEST(user_refused_root_image)
{
	char err[256] = "";

	procs[1].creds.uid[1] = 0;
	ck_assert_int_eq(creds_check_restorable(&comp, false, 1001, 1001, FULL_BSET, err,
						sizeof(err)), -EPERM);
	ck_assert_str_eq(err, "pid 2: effective uid 0 in the image; you are uid 1001: "
			      "restore as that user, or as root");
	/* Root may give it. */
	ck_assert_int_eq(creds_check_restorable(&comp, true, 0, 0, FULL_BSET, err, sizeof(err)), 0);
}
END_TEST

START_TEST(user_refused_other_user_and_capabilities)
{
	char err[256] = "";

	ck_assert_int_eq(creds_check_restorable(&comp, false, 1002, 1002, FULL_BSET, err,
						sizeof(err)), -EPERM);
	ck_assert_str_eq(err, "pid 1: uid 1001 in the image; you are uid 1002: "
			      "restore as that user, or as root");
	procs[0].creds.cap_eff = 1ull << 13;	/* cap_net_raw */
	procs[0].creds.cap_prm = 1ull << 13;
	ck_assert_int_eq(creds_check_restorable(&comp, false, 1001, 1001, FULL_BSET, err,
						sizeof(err)), -EPERM);
	ck_assert(strstr(err, "pid 1: capability cap_net_raw in the image"));
}
END_TEST

START_TEST(bounding_set_only_shrinks)
{
	char err[256] = "";

	procs[1].creds.cap_bnd = FULL_BSET;
	ck_assert_int_eq(creds_check_restorable(&comp, true, 0, 0, FULL_BSET & ~(1ull << 21), err,
						sizeof(err)), -EPERM);
	ck_assert(strstr(err, "cap_sys_admin in the image's bounding set"));
}
END_TEST

START_TEST(single_user)
{
	const uint32_t *groups;
	size_t n;
	uid_t u;
	gid_t g;

	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 1);
	ck_assert_uint_eq(u, 1001);
	ck_assert_uint_eq(g, 1001);
	/* Zombies have no credentials of their own. */
	procs[1].zombie = 1;
	procs[1].creds.uid[0] = 0;
	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 1);
	procs[1].zombie = 0;
	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 0);
	procs[1].creds.uid[0] = 1002;
	procs[1].creds.uid[1] = 1002;
	procs[1].creds.uid[2] = 1002;
	procs[1].creds.uid[3] = 1002;
	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 0);	/* two users */
	setup();
	procs[0].creds.cap_amb = 1;
	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 0);	/* a capability */
	setup();
	procs[0].creds.valid = 0;
	ck_assert_int_eq(creds_single_user(&comp, &u, &g, &groups, &n), 0);	/* an old image */
}
END_TEST

static Suite *creds_suite(void)
{
	Suite *s = suite_create("restorer-creds");
	TCase *tc = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, user_restores_own_image);
	tcase_add_test(tc, user_refused_root_image);
	tcase_add_test(tc, user_refused_other_user_and_capabilities);
	tcase_add_test(tc, bounding_set_only_shrinks);
	tcase_add_test(tc, single_user);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(creds_suite)
