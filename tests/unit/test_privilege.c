/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The runtime directory: ours, private, never a link or someone else's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "util/privilege.h"

static char base[PATH_MAX];

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/tc-privtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0700), 0);
	setenv("XDG_RUNTIME_DIR", base, 1);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(ours_is_used_and_made_private)
{
	char dir[PATH_MAX], want[PATH_MAX], err[512];
	struct stat st;

	snprintf(want, sizeof(want), "%s/trace-ckpt", base);
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), false, err, sizeof(err)), 0);
	ck_assert_str_eq(dir, want);
	ck_assert_int_eq(access(dir, F_OK), -1);	/* not made unless asked */
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), true, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* A loose mode of our own is mended. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), true, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
}
END_TEST

START_TEST(a_link_is_refused)
{
	char dir[PATH_MAX], link[PATH_MAX], err[512];

	snprintf(link, sizeof(link), "%s/trace-ckpt", base);
	ck_assert_int_eq(symlink("/tmp", link), 0);
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), true, err, sizeof(err)), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
}
END_TEST

START_TEST(someone_elses_is_refused)
{
	char dir[PATH_MAX], path[PATH_MAX], err[512];

	if (geteuid() != 0)
		return;	/* only root can give a directory away */
	snprintf(path, sizeof(path), "%s/trace-ckpt", base);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), true, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
}
END_TEST

START_TEST(a_runtime_dir_not_ours_is_passed_over)
{
	char dir[PATH_MAX], err[512];

	/* Others may read it: not a runtime directory to keep sockets in. */
	ck_assert_int_eq(chmod(base, 0755), 0);
	ck_assert_int_eq(runtime_dir(dir, sizeof(dir), false, err, sizeof(err)), 0);
	ck_assert_ptr_null(strstr(dir, base));
}
END_TEST

static Suite *privilege_suite(void)
{
	Suite *s = suite_create("privilege");
	TCase *tc = tcase_create("runtime_dir");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ours_is_used_and_made_private);
	tcase_add_test(tc, a_link_is_refused);
	tcase_add_test(tc, someone_elses_is_refused);
	tcase_add_test(tc, a_runtime_dir_not_ours_is_passed_over);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(privilege_suite)
