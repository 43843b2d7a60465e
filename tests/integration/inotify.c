/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inotify: two watched directories, one watch removed early so the wds
 * have a gap.  Each tick creates a file in one of them and reads the event
 * back: the right wd, the right name.  A symbolic link is watched itself
 * (IN_DONT_FOLLOW): touching it must say so on its own wd, not on its
 * target's.  Lost or renumbered watches end in BAD.
 *
 *   inotify [-n TARGET] [-i INTERVAL_MS] [-d DIR]
 */
#include <poll.h>
#include <sys/inotify.h>

#include "tc_test.h"

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	char base[PATH_MAX] = ".", dir[2][PATH_MAX + 8], gone[PATH_MAX + 8], link[PATH_MAX + 8];
	int c, fd, wd[3];

	while ((c = getopt(argc, argv, "n:i:d:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'd') {
			snprintf(base, sizeof(base), "%s", optarg);
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-d DIR]\n", argv[0]);
		return 2;
	}
	tc_proc_init("inotify");
	snprintf(gone, sizeof(gone), "%s/ino-gone.%d", base, getpid());
	for (int k = 0; k < 2; k++) {
		snprintf(dir[k], sizeof(dir[k]), "%s/ino-%d.%d", base, k, getpid());
		if (mkdir(dir[k], 0700) < 0 && errno != EEXIST)
			tc_bad("mkdir %s: %s", dir[k], strerror(errno));
	}
	if (mkdir(gone, 0700) < 0 && errno != EEXIST)
		tc_bad("mkdir: %s", strerror(errno));
	/* Its target is watched too, so a watch that followed it would hear nothing new. */
	snprintf(link, sizeof(link), "%s/ino-link.%d", base, getpid());
	unlink(link);
	if (symlink(strrchr(dir[0], '/') + 1, link) < 0)
		tc_bad("symlink %s: %s", link, strerror(errno));
	fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0)
		tc_bad("inotify_init1: %s", strerror(errno));
	{
		int w = inotify_add_watch(fd, gone, IN_CREATE);
		char buf[4096];

		wd[0] = inotify_add_watch(fd, dir[0], IN_CREATE);
		inotify_rm_watch(fd, w);
		wd[1] = inotify_add_watch(fd, dir[1], IN_CREATE | IN_DELETE);
		if (read(fd, buf, sizeof(buf)) <= 0)	/* the IN_IGNORED of the removed one */
			tc_bad("no IN_IGNORED: %s", strerror(errno));
		wd[2] = inotify_add_watch(fd, link, IN_ATTRIB | IN_DONT_FOLLOW);
		if (wd[2] < 0 || wd[2] == wd[0])
			tc_bad("watch of the link itself: %d: %s", wd[2], strerror(errno));
	}
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		int k = n % 2;
		char name[64], path[PATH_MAX + 80], buf[4096];
		struct inotify_event *ev = (struct inotify_event *)buf;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int f;

		snprintf(name, sizeof(name), "f%ld", n);
		snprintf(path, sizeof(path), "%s/%s", dir[k], name);
		f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (f < 0)
			tc_bad("create %s: %s", path, strerror(errno));
		close(f);
		if (poll(&pfd, 1, 10000) != 1 || read(fd, buf, sizeof(buf)) <= 0)
			tc_bad("tick %ld: no inotify event for %s", n, path);
		if (ev->wd != wd[k] || !(ev->mask & IN_CREATE) || strcmp(ev->name, name))
			tc_bad("tick %ld: event wd %d mask %#x name %s, expected wd %d %s", n, ev->wd,
			       ev->mask, ev->len ? ev->name : "", wd[k], name);
		unlink(path);
		if (k == 1 && (poll(&pfd, 1, 10000) != 1 || read(fd, buf, sizeof(buf)) <= 0 ||
			       !(ev->mask & IN_DELETE) || ev->wd != wd[1]))
			tc_bad("tick %ld: no IN_DELETE", n);
		if (utimensat(AT_FDCWD, link, NULL, AT_SYMLINK_NOFOLLOW) < 0)
			tc_bad("tick %ld: touch %s: %s", n, link, strerror(errno));
		if (poll(&pfd, 1, 10000) != 1 || read(fd, buf, sizeof(buf)) != sizeof(*ev) ||
		    ev->wd != wd[2] || !(ev->mask & IN_ATTRIB))
			tc_bad("tick %ld: no IN_ATTRIB of the link itself on wd %d (wd %d mask %#x)", n,
			       wd[2], ev->wd, ev->mask);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	rmdir(dir[0]);
	rmdir(dir[1]);
	rmdir(gone);
	unlink(link);
	tc_pass();
}
