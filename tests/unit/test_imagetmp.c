/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The temporary directories of image writers: a dead writer's is removed by
 * the next sweep, a live one's (lock held) is not, nor one without a lock;
 * removal never follows a symbolic link nor enters another mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/image_tmp.h"
#include "util/fileio.h"

static char top[PATH_MAX];

static void setup(void)
{
	snprintf(top, sizeof(top), "/tmp/tc-imagetmp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
}

static void teardown(void)
{
	char mnt[PATH_MAX];

	/* other_mounts_not_entered may have failed with its mount in place. */
	snprintf(mnt, sizeof(mnt), "%s/img.tmp-Mnt000/host/mnt", top);
	umount2(mnt, MNT_DETACH);
	rm_rf(top);
}

/* name, in top, exists (a symbolic link counts, not followed) */
static bool exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	return lstat(path, &st) == 0;
}

static void put_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
}

/* A writer killed while writing: its directory, with content, and a free lock. */
static void make_stale(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, name);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s/host", top, name);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s/host/proc-1.core", top, name);
	put_file(path);
	snprintf(path, sizeof(path), "%s/%s.lock", top, name);
	put_file(path);
}

START_TEST(dead_writer_removed_live_kept)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct image_tmp live;

	snprintf(dir, sizeof(dir), "%s/img", top);
	make_stale("img.tmp-Ab12cd");
	/* Only lock left (killed between removing the directory and the lock). */
	snprintf(path, sizeof(path), "%s/img.tmp-Zz99zz.lock", top);
	put_file(path);
	/* A writer at work, in this process: flock conflicts across open files. */
	ck_assert_int_eq(image_tmp_create(dir, &live), 0);
	snprintf(path, sizeof(path), "%s/manifest", live.path);
	put_file(path);
	/* No lock at all: nothing proves its writer dead. */
	snprintf(path, sizeof(path), "%s/img.tmp-NoLk12", top);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	/* Not the pattern of this DIR. */
	make_stale("img2.tmp-Ab12cd");
	make_stale("img.tmp-Ab12cdX");
	snprintf(path, sizeof(path), "%s/img.old-Ab12cd", top);
	ck_assert_int_eq(mkdir(path, 0700), 0);

	ck_assert_int_eq(image_tmp_sweep(dir), 1);
	ck_assert(!exists("img.tmp-Ab12cd"));
	ck_assert(!exists("img.tmp-Ab12cd.lock"));
	ck_assert(!exists("img.tmp-Zz99zz.lock"));
	ck_assert(exists(live.path + strlen(top) + 1));
	ck_assert(exists("img.tmp-NoLk12"));
	ck_assert(exists("img2.tmp-Ab12cd"));
	ck_assert(exists("img.tmp-Ab12cdX"));
	ck_assert(exists("img.old-Ab12cd"));
	snprintf(path, sizeof(path), "%s/manifest", live.path);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* Once its writer lets go, it is removed; a trailing slash changes nothing. */
	close(live.lock_fd);
	live.lock_fd = -1;
	snprintf(dir, sizeof(dir), "%s/img//", top);
	ck_assert_int_eq(image_tmp_sweep(dir), 1);
	ck_assert_int_eq(access(live.path, F_OK), -1);
	ck_assert_int_eq(access(live.lock_path, F_OK), -1);
}
END_TEST

START_TEST(release_removes_dir_and_lock)
{
	char dir[PATH_MAX];
	struct image_tmp t;

	snprintf(dir, sizeof(dir), "%s/img", top);
	ck_assert_int_eq(image_tmp_create(dir, &t), 0);
	ck_assert_int_eq(strncmp(t.path, dir, strlen(dir)), 0);
	ck_assert_int_eq(access(t.path, F_OK), 0);
	ck_assert_int_eq(access(t.lock_path, F_OK), 0);
	image_tmp_release(&t);
	ck_assert_int_eq(access(t.path, F_OK), -1);
	ck_assert_int_eq(access(t.lock_path, F_OK), -1);
	ck_assert_int_eq(t.lock_fd, -1);
}
END_TEST

START_TEST(symlinks_not_followed)
{
	char dir[PATH_MAX], outside[PATH_MAX], canary[PATH_MAX], path[PATH_MAX];

	snprintf(outside, sizeof(outside), "%s/outside", top);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	snprintf(canary, sizeof(canary), "%s/canary", outside);
	put_file(canary);
	snprintf(dir, sizeof(dir), "%s/img", top);

	/* A symbolic link inside a stale directory: removed, not followed. */
	make_stale("img.tmp-Li1k00");
	snprintf(path, sizeof(path), "%s/img.tmp-Li1k00/host/link", top);
	ck_assert_int_eq(symlink(outside, path), 0);
	/* A symbolic link in the place of the directory: left alone. */
	snprintf(path, sizeof(path), "%s/img.tmp-Li1k01", top);
	ck_assert_int_eq(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/img.tmp-Li1k01.lock", top);
	put_file(path);
	/* A symbolic link in the place of the lock: not a lock. */
	make_stale("img.tmp-Li1k02");
	snprintf(path, sizeof(path), "%s/img.tmp-Li1k02.lock", top);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(canary, path), 0);

	ck_assert_int_eq(image_tmp_sweep(dir), 1);
	ck_assert_int_eq(access(canary, F_OK), 0);
	ck_assert(!exists("img.tmp-Li1k00"));
	ck_assert(exists("img.tmp-Li1k01"));
	ck_assert(exists("img.tmp-Li1k02"));
}
END_TEST

/* Needs mount(2) (root, or a mount namespace): skipped where it fails. */
START_TEST(other_mounts_not_entered)
{
	char dir[PATH_MAX], mnt[PATH_MAX], canary[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/img", top);
	make_stale("img.tmp-Mnt000");
	snprintf(mnt, sizeof(mnt), "%s/img.tmp-Mnt000/host/mnt", top);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (mount("tc-imagetmp", mnt, "tmpfs", 0, "size=64k") < 0) {
		fprintf(stderr, "other_mounts_not_entered: mount: %s: skipped\n", strerror(errno));
		return;
	}
	snprintf(canary, sizeof(canary), "%s/canary", mnt);
	put_file(canary);

	ck_assert_int_eq(image_tmp_sweep(dir), 0);
	ck_assert_int_eq(access(canary, F_OK), 0);
	/* Kept with its lock, so a later sweep tries again. */
	ck_assert(exists("img.tmp-Mnt000.lock"));
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	ck_assert_int_eq(image_tmp_sweep(dir), 1);
	ck_assert(!exists("img.tmp-Mnt000"));
}
END_TEST

static Suite *imagetmp_suite(void)
{
	Suite *s = suite_create("imagetmp");
	TCase *tc = tcase_create("sweep");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dead_writer_removed_live_kept);
	tcase_add_test(tc, release_removes_dir_and_lock);
	tcase_add_test(tc, symlinks_not_followed);
	tcase_add_test(tc, other_mounts_not_entered);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(imagetmp_suite)
