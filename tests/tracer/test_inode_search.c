/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The search for a path by inode, on a tree made here, with this process
 * as the one whose cwd, files and root are looked at.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracer/inode_search.h"
#include "util/fileio.h"

static char top[PATH_MAX];

static void make_tree(void)
{
	char tmpl[] = "/tmp/tc-inode-search.XXXXXX";
	static const char *const dirs[] = {
		"a", "a/b", "a/b/c", "d1", "d1/d2", "d1/d2/d3", "d1/d2/d3/d4", "d1/d2/d3/d4/d5",
		"d1/d2/d3/d4/d5/d6", "d1/d2/d3/d4/d5/d6/d7", "d1/d2/d3/d4/d5/d6/d7/d8",
	};
	static const char *const files[] = {
		"a/b/c/file", "d1/d2/d3/d4/d5/d6/d7/d8/deep", "d1/d2/d3/d4/d5/d6/d7/d8/open",
	};

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, top));
	ck_assert_int_eq(chdir(top), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ck_assert_int_eq(mkdir(dirs[i], 0700), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd = open(files[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	ck_assert_int_eq(symlink("a/b", "link"), 0);
}

static void remove_tree(void)
{
	if (top[0] && chdir("/") == 0)
		rm_rf(top);
}

static struct inode_query query(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return (struct inode_query){ .dev = st.st_dev, .ino = st.st_ino };
}

static void expect(const struct inode_query *q, const char *rel, bool symlink)
{
	char want[PATH_MAX * 2];

	snprintf(want, sizeof(want), "%s/%s", top, rel);
	ck_assert_ptr_nonnull(q->path);
	ck_assert_str_eq(q->path, want);
	ck_assert_int_eq(q->symlink, symlink);
}

START_TEST(found_below_cwd_and_near_files)
{
	struct inode_query q[4];
	size_t entries;
	int open_fd;

	make_tree();
	q[0] = query("a/b/c/file");
	q[1] = query("a/b");
	q[2] = query("link");
	/* Too deep below the cwd, but next to a file the process has open. */
	q[3] = query("d1/d2/d3/d4/d5/d6/d7/d8/deep");
	open_fd = open("d1/d2/d3/d4/d5/d6/d7/d8/open", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(open_fd, 0);
	ck_assert_int_eq(inode_search(NULL, getpid(), q, 4, &entries), 0);
	expect(&q[0], "a/b/c/file", false);
	expect(&q[1], "a/b", false);
	expect(&q[2], "link", true);
	expect(&q[3], "d1/d2/d3/d4/d5/d6/d7/d8/deep", false);
	ck_assert_uint_gt(entries, 0);
	for (int i = 0; i < 4; i++)
		free(q[i].path);
	close(open_fd);
}
END_TEST

START_TEST(too_deep_is_not_found)
{
	struct inode_query q;
	size_t entries;

	make_tree();
	q = query("d1/d2/d3/d4/d5/d6/d7/d8/deep");
	ck_assert_int_eq(inode_search(NULL, getpid(), &q, 1, &entries), 0);
	ck_assert_ptr_null(q.path);
	ck_assert_uint_le(entries, INODE_SEARCH_ENTRIES);
	fprintf(stderr, "not found after %zu entries\n", entries);
}
END_TEST

/* A remembered path is used only while it still leads to the inode. */
START_TEST(cache_checked_again)
{
	struct inode_cache *c = inode_cache_new();
	struct inode_query q;
	size_t entries;

	ck_assert_ptr_nonnull(c);
	make_tree();
	q = query("a/b/c/file");
	ck_assert_int_eq(inode_search(c, getpid(), &q, 1, &entries), 0);
	expect(&q, "a/b/c/file", false);
	free(q.path);
	ck_assert_int_eq(inode_search(c, getpid(), &q, 1, &entries), 0);
	expect(&q, "a/b/c/file", false);
	ck_assert_uint_eq(entries, 0);
	free(q.path);
	ck_assert_int_eq(rename("a/b/c/file", "a/b/moved"), 0);
	ck_assert_int_eq(inode_search(c, getpid(), &q, 1, &entries), 0);
	expect(&q, "a/b/moved", false);
	free(q.path);
	inode_cache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inode_search");
	TCase *tc = tcase_create("search");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, remove_tree);
	tcase_add_test(tc, found_below_cwd_and_near_files);
	tcase_add_test(tc, too_deep_is_not_found);
	tcase_add_test(tc, cache_checked_again);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
