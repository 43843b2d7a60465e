/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <check.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "proto/model.h"
#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "util/fileio.h"

START_TEST(status_creds)
{
	static const char status[] =
		"Name:\tcat\nUmask:\t0022\nState:\tR (running)\n"
		"Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n"
		"FDSize:\t256\nGroups:\t24 27 1000 \nNStgid:\t5\n"
		"CapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n"
		"CapEff:\t0000000000001000\nCapBnd:\t000001ffffffffff\n"
		"CapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";
	struct creds_record c = { 0 }, d = { 0 };
	const uint32_t *g;

	ck_assert_int_eq(parse_status_creds(status, &c), 0);
	ck_assert_uint_eq(c.valid, 1);
	ck_assert_uint_eq(c.uid[0], 1000);
	ck_assert_uint_eq(c.uid[3], 1003);
	ck_assert_uint_eq(c.gid[2], 102);
	ck_assert_uint_eq(c.groups_len, 3 * sizeof(uint32_t));
	g = (const uint32_t *)c.groups;
	ck_assert_uint_eq(g[0], 24);
	ck_assert_uint_eq(g[2], 1000);
	ck_assert_uint_eq(c.cap_prm, 0x3000);
	ck_assert_uint_eq(c.cap_eff, 0x1000);
	ck_assert_uint_eq(c.cap_bnd, 0x1ffffffffffull);
	ck_assert_int_eq(parse_status_creds(status, &d), 0);
	ck_assert(creds_same(&c, &d));
	d.cap_eff = 0;
	ck_assert(!creds_same(&c, &d));
	free(c.groups);
	free(d.groups);
	/* No groups at all is an empty list; a line cut short is refused. */
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(parse_status_creds("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n"
					    "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\n"
					    "CapAmb:\t0\n", &c), 0);
	ck_assert_uint_eq(c.groups_len, 0);
	free(c.groups);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(parse_status_creds("Uid:\t0\t0\nGid:\t0\t0\t0\t0\n", &c), -EINVAL);
	free(c.groups);
}
END_TEST

START_TEST(maps_file_line)
{
	struct maps_entry e;

	ck_assert_int_eq(parse_maps_line("7f5f9049c000-7f5f9049d000 r--p 00001000 fe:00 320476"
					 "                     /usr/lib/locale/C.utf8/LC_IDENTIFICATION",
					 &e), 0);
	ck_assert_uint_eq(e.start, 0x7f5f9049c000ull);
	ck_assert_uint_eq(e.end, 0x7f5f9049d000ull);
	ck_assert_uint_eq(e.pgoff, 0x1000);
	ck_assert_uint_eq(e.prot, PROT_READ);
	ck_assert(!e.shared);
	ck_assert_uint_eq(e.dev_major, 0xfe);
	ck_assert_uint_eq(e.ino, 320476);
	ck_assert_uint_eq(e.path_len, strlen("/usr/lib/locale/C.utf8/LC_IDENTIFICATION"));
	ck_assert(!strncmp(e.path, "/usr/lib/locale/C.utf8/LC_IDENTIFICATION", e.path_len));
}
END_TEST

START_TEST(maps_anon_and_special)
{
	struct maps_entry e;

	ck_assert_int_eq(parse_maps_line("7f5f9049d000-7f5f9049f000 rw-s 00000000 00:00 0 ", &e), 0);
	ck_assert_uint_eq(e.prot, PROT_READ | PROT_WRITE);
	ck_assert(e.shared);
	ck_assert_uint_eq(e.path_len, 0);
	ck_assert_int_eq(parse_maps_line("7ffdb353e000-7ffdb355f000 rw-p 00000000 00:00 0"
					 "                          [stack]\n", &e), 0);
	ck_assert_uint_eq(e.path_len, strlen("[stack]"));
	ck_assert_int_eq(parse_maps_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]", &e), 0);
	ck_assert_uint_eq(e.prot, PROT_EXEC);
	ck_assert_int_eq(parse_maps_line("garbage", &e), -EINVAL);
	ck_assert_int_eq(parse_maps_line("2000-1000 rw-p 00000000 00:00 0", &e), -EINVAL);
}
END_TEST

START_TEST(maps_path_with_spaces)
{
	struct maps_entry e;

	ck_assert_int_eq(parse_maps_line("1000-2000 rw-s 00000000 00:05 12 /tmp/a b (deleted)", &e), 0);
	ck_assert_uint_eq(e.path_len, strlen("/tmp/a b (deleted)"));
}
END_TEST

START_TEST(vmflags_of_smaps)
{
	ck_assert_uint_eq(parse_vmflags(" rd wr mr mw me ac sd"), 0);
	ck_assert_uint_eq(parse_vmflags(" rd wr mr mw me ac sd hg\n"), VMA_F_HUGEPAGE);
	ck_assert_uint_eq(parse_vmflags("\trd wr mr mw me dc ac wf dd nh mg"),
			  VMA_F_DONTFORK | VMA_F_WIPEONFORK | VMA_F_DONTDUMP | VMA_F_NOHUGEPAGE |
			  VMA_F_MERGEABLE);
	/* Two letters only: "hgx" is no hg; nothing past the line. */
	ck_assert_uint_eq(parse_vmflags(" hgx dcc\nVmFlags: hg"), 0);
	ck_assert_uint_eq(parse_vmflags(""), 0);
	/* Hugetlb memory, MAP_NORESERVE: kept with the madvise flags. */
	ck_assert_uint_eq(parse_vmflags(" rd wr mr mw me de ht nr\n"),
			  VMA_F_HUGETLB | VMA_F_NORESERVE);
}
END_TEST

START_TEST(stat_with_odd_comm)
{
	/* A comm with spaces and a ')' must not shift the fields. */
	const char *line =
		"4242 (a) b (c)) S 1 4242 4242 34816 4242 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
		"12345 1000000 200 18446744073709551615 94000000000000 94000000100000 "
		"140720000000000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94000000200000 94000000300000 "
		"94000000400000 140720000001000 140720000002000 140720000002000 140720000003000 0\n";
	struct proc_stat st;

	ck_assert_int_eq(parse_stat(line, &st), 0);
	ck_assert_int_eq(st.pid, 4242);
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.ppid, 1);
	ck_assert_int_eq(st.pgrp, 4242);
	ck_assert_int_eq(st.session, 4242);
	ck_assert_uint_eq(st.start_code, 94000000000000ull);
	ck_assert_uint_eq(st.end_code, 94000000100000ull);
	ck_assert_uint_eq(st.start_stack, 140720000000000ull);
	ck_assert_uint_eq(st.start_data, 94000000200000ull);
	ck_assert_uint_eq(st.end_data, 94000000300000ull);
	ck_assert_uint_eq(st.start_brk, 94000000400000ull);
	ck_assert_uint_eq(st.arg_start, 140720000001000ull);
	ck_assert_uint_eq(st.arg_end, 140720000002000ull);
	ck_assert_uint_eq(st.env_start, 140720000002000ull);
	ck_assert_uint_eq(st.env_end, 140720000003000ull);
	ck_assert_int_eq(parse_stat("12 (x) S 1 2 3", &st), -EINVAL);
	ck_assert_int_eq(parse_stat("no parens", &st), -EINVAL);
}
END_TEST

START_TEST(stat_of_self)
{
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	struct proc_stat st;

	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(parse_stat(buf, &st), 0);
	ck_assert_int_eq(st.pid, getpid());
	ck_assert_int_eq(st.ppid, getppid());
	ck_assert_uint_ne(st.arg_start, 0);
	ck_assert_uint_gt(st.arg_end, st.arg_start);
}
END_TEST

START_TEST(status_fields)
{
	const char *status = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t7\n"
			     "NSpid:\t4711\t3\nSigIgn:\t0000000000001000\n"
			     "SigCgt:\t0000000180000002\n";
	uint64_t v;

	ck_assert_int_eq(parse_status_u64(status, "Umask", 8, &v), 0);
	ck_assert_uint_eq(v, 022);
	ck_assert_int_eq(parse_status_u64(status, "Tgid", 10, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(parse_status_u64(status, "SigCgt", 16, &v), 0);
	ck_assert_uint_eq(v, 0x180000002ull);
	ck_assert_int_eq(parse_status_last_u64(status, "NSpid", &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(parse_status_u64(status, "Nope", 10, &v), -ENOENT);
	/* "Sig" must not match "SigIgn". */
	ck_assert_int_eq(parse_status_u64(status, "Sig", 10, &v), -ENOENT);
}
END_TEST

/* The kernel escapes a newline and a backslash of the name: undone, on a real one too. */
START_TEST(status_name)
{
	const char *name = "a\nb\\c\td e";
	char out[16], saved[16], *text = NULL;

	ck_assert_int_eq(parse_status_name("Name:\tx\\\\y\\nz\nUmask:\t0022\n", out), 0);
	ck_assert_str_eq(out, "x\\y\nz");
	ck_assert_int_eq(parse_status_name("Umask:\t0022\n", out), -ENOENT);
	ck_assert_int_eq(parse_status_name("Name:\t0123456789abcdefXYZ\n", out), -EINVAL);

	ck_assert_int_eq(prctl(PR_GET_NAME, saved), 0);
	ck_assert_int_eq(prctl(PR_SET_NAME, name), 0);
	ck_assert_int_eq(read_file_at(AT_FDCWD, "/proc/thread-self/status", &text, NULL), 0);
	ck_assert_int_eq(parse_status_name(text, out), 0);
	ck_assert_str_eq(out, name);
	free(text);
	prctl(PR_SET_NAME, saved);
}
END_TEST

START_TEST(fdinfo)
{
	uint64_t pos;
	uint32_t flags;

	ck_assert_int_eq(parse_fdinfo("pos:\t4096\nflags:\t02100002\nmnt_id:\t29\nino:\t12\n",
				      &pos, &flags), 0);
	ck_assert_uint_eq(pos, 4096);
	ck_assert_uint_eq(flags, 02100002);
	ck_assert_int_lt(parse_fdinfo("mnt_id:\t29\n", &pos, &flags), 0);
}
END_TEST

START_TEST(fdinfo_locks)
{
	const char *fi = "pos:\t0\nflags:\t02100001\nmnt_id:\t27\nino:\t1\n"
			 "lock:\t1: POSIX  ADVISORY  WRITE 4965 fe:00:10954106 10 109\n"
			 "lock:\t2: FLOCK  ADVISORY  READ 4965 fe:00:10954297 0 EOF\n"
			 "lock:\t3: OFDLCK ADVISORY  READ -1 fe:00:10954423 5 EOF\n"
			 "lock:\t4: LEASE  ACTIVE    READ 4965 fe:00:10954423 0 EOF\n";
	struct file_lock_record *l;
	size_t n;

	ck_assert_int_eq(parse_fdinfo_locks(fi, &l, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(l[0].kind, FILE_LOCK_POSIX);
	ck_assert_uint_eq(l[0].type, F_WRLCK);
	ck_assert_uint_eq(l[0].start, 10);
	ck_assert_uint_eq(l[0].len, 100);
	ck_assert_uint_eq(l[1].kind, FILE_LOCK_FLOCK);
	ck_assert_uint_eq(l[1].type, F_RDLCK);
	ck_assert_uint_eq(l[1].len, 0);
	ck_assert_uint_eq(l[2].kind, FILE_LOCK_OFD);
	ck_assert_uint_eq(l[2].start, 5);
	ck_assert_uint_eq(l[3].kind, FILE_LOCK_OTHER);
	free(l);
	ck_assert_int_eq(parse_fdinfo_locks("pos:\t0\n", &l, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_lt(parse_fdinfo_locks("lock:\t1: POSIX\n", &l, &n), 0);
	ck_assert_int_lt(parse_fdinfo_locks("lock:\t1: POSIX  ADVISORY  WRITE 1 0:0:1 9 3\n", &l, &n), 0);
}
END_TEST

START_TEST(timerfd_info)
{
	const char *fi = "pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t1039\nclockid: 1\n"
			 "ticks: 3\nsettime flags: 01\nit_value: (2, 999786114)\n"
			 "it_interval: (0, 500000000)\n";
	struct timerfd_info ti;

	ck_assert_int_eq(parse_timerfd_fdinfo(fi, &ti), 0);
	ck_assert_uint_eq(ti.clockid, 1);
	ck_assert_uint_eq(ti.ticks, 3);
	ck_assert_uint_eq(ti.settime_flags, 1);
	ck_assert_uint_eq(ti.value_ns, 2999786114ull);
	ck_assert_uint_eq(ti.interval_ns, 500000000ull);
	ck_assert_int_lt(parse_timerfd_fdinfo("clockid: 1\nticks: 0\n", &ti), 0);
}
END_TEST

START_TEST(epoll_info)
{
	const char *fi = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1039\n"
			 "tfd:        3 events:       19 data:                1  pos:0 ino:407 sdev:f\n"
			 "tfd:        5 events: 80000001 data:     deadbeefcafe  pos:0 ino:407 sdev:f\n";
	struct epoll_watch *w;
	size_t n;

	ck_assert_int_eq(parse_epoll_fdinfo(fi, &w, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(w[0].tfd, 3);
	ck_assert_uint_eq(w[0].events, 0x19);
	ck_assert_uint_eq(w[0].data, 1);
	ck_assert_int_eq(w[1].tfd, 5);
	ck_assert_uint_eq(w[1].events, 0x80000001u);
	ck_assert_uint_eq(w[1].data, 0xdeadbeefcafeull);
	free(w);
	ck_assert_int_eq(parse_epoll_fdinfo("pos:\t0\n", &w, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_lt(parse_epoll_fdinfo("tfd: x events\n", &w, &n), 0);
}
END_TEST

START_TEST(inotify_watch_lines)
{
	struct inotify_watch_line w;

	ck_assert_int_eq(parse_inotify_watch_line("inotify wd:3 ino:a7812e sdev:800002 mask:300 "
						  "ignored_mask:0 fhandle-bytes:8 fhandle-type:1 "
						  "f_handle:2e78a700a1b2c3d4", &w), 0);
	ck_assert_uint_eq(w.wd, 3);
	ck_assert_uint_eq(w.ino, 0xa7812e);
	ck_assert_uint_eq(w.sdev, 0x800002);
	ck_assert_uint_eq(w.mask, 0x300);
	ck_assert_uint_eq(w.handle_bytes, 8);
	ck_assert_int_eq(w.handle_type, 1);
	ck_assert_str_eq(w.handle_hex, "2e78a700a1b2c3d4");
	/* No handle where the file system cannot encode one. */
	ck_assert_int_eq(parse_inotify_watch_line("inotify wd:1 ino:2 sdev:2d mask:2 ignored_mask:0",
						  &w), 0);
	ck_assert_uint_eq(w.handle_bytes, 0);
	ck_assert_uint_eq(w.sdev, 0x2d);
	/* A handle shorter than it says, or a line cut short. */
	ck_assert_int_lt(parse_inotify_watch_line("inotify wd:1 ino:2 sdev:2d mask:2 ignored_mask:0 "
						  "fhandle-bytes:8 fhandle-type:1 f_handle:2e78",
						  &w), 0);
	ck_assert_int_lt(parse_inotify_watch_line("inotify wd:1 ino:2 sdev:2d", &w), 0);
	ck_assert_int_lt(parse_inotify_watch_line("tfd: 3 events: 19", &w), 0);
}
END_TEST

START_TEST(kernel_dev_encoding)
{
	/* major 8 minor 2 (sda2), 259:1 (nvme), 0:45 (tmpfs), a minor above 255. */
	ck_assert_uint_eq(kernel_dev_to_dev(0x800002), makedev(8, 2));
	ck_assert_uint_eq(kernel_dev_to_dev(0x10300001), makedev(259, 1));
	ck_assert_uint_eq(kernel_dev_to_dev(0x2d), makedev(0, 45));
	ck_assert_uint_eq(kernel_dev_to_dev(0x100123), makedev(1, 0x123));
	ck_assert_uint_ne(kernel_dev_to_dev(0x800002), 0x800002);
}
END_TEST

/* What this kernel shows for a watch of ours: the same inode as stat says. */
START_TEST(inotify_fdinfo_of_self)
{
	char dir[] = "/tmp/tc-procfs-ino.XXXXXX", info[64];
	struct inotify_watch_line w;
	struct stat st;
	char *fi = NULL, *line;
	int fd, wd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(stat(dir, &st), 0);
	fd = inotify_init1(IN_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	wd = inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_ONESHOT);
	ck_assert_int_ge(wd, 0);
	snprintf(info, sizeof(info), "/proc/self/fdinfo/%d", fd);
	ck_assert_int_eq(read_file_at(AT_FDCWD, info, &fi, NULL), 0);
	line = strstr(fi, "inotify wd:");
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(parse_inotify_watch_line(line, &w), 0);
	ck_assert_uint_eq(w.wd, (uint32_t)wd);
	ck_assert_uint_eq(w.ino, st.st_ino);
	ck_assert_uint_eq(kernel_dev_to_dev(w.sdev), st.st_dev);
	ck_assert_uint_eq(w.mask, IN_CREATE | IN_DELETE | IN_ONESHOT);
	ck_assert(inotify_mask_restorable(w.mask));
	free(fi);
	close(fd);
	rmdir(dir);
}
END_TEST

START_TEST(inotify_masks)
{
	ck_assert(inotify_mask_restorable(IN_CREATE));
	ck_assert(inotify_mask_restorable(IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT));
	ck_assert(!inotify_mask_restorable(0));
	ck_assert(!inotify_mask_restorable(IN_ONESHOT));
	ck_assert(!inotify_mask_restorable(IN_CREATE | IN_MASK_ADD));
	ck_assert(!inotify_mask_restorable(IN_CREATE | IN_MASK_CREATE));
	ck_assert(!inotify_mask_restorable(IN_CREATE | IN_ISDIR));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procfs");
	TCase *tc = tcase_create("parsers");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, maps_file_line);
	tcase_add_test(tc, status_name);
	tcase_add_test(tc, maps_anon_and_special);
	tcase_add_test(tc, maps_path_with_spaces);
	tcase_add_test(tc, vmflags_of_smaps);
	tcase_add_test(tc, stat_with_odd_comm);
	tcase_add_test(tc, stat_of_self);
	tcase_add_test(tc, status_fields);
	tcase_add_test(tc, status_creds);
	tcase_add_test(tc, fdinfo);
	tcase_add_test(tc, fdinfo_locks);
	tcase_add_test(tc, timerfd_info);
	tcase_add_test(tc, epoll_info);
	tcase_add_test(tc, inotify_watch_lines);
	tcase_add_test(tc, kernel_dev_encoding);
	tcase_add_test(tc, inotify_fdinfo_of_self);
	tcase_add_test(tc, inotify_masks);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
