/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "restorer/anonfd.h"
#include "restorer/procfd.h"
#include "util/log.h"
#include "util/macro.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

int eventfd_open(const struct fd_record *f)
{
	int flags = EFD_CLOEXEC | (f->flags & O_NONBLOCK ? EFD_NONBLOCK : 0) |
		    (f->eventfd.semaphore ? EFD_SEMAPHORE : 0);
	int fd = eventfd(0, flags);

	if (fd < 0)
		return neg_errno();
	/* write() takes the whole 64-bit count; eventfd()'s initval only 32. */
	if (f->eventfd.count && write(fd, &f->eventfd.count, 8) != 8) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	return fd;
}

int signalfd_open(const struct fd_record *f)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	for (int sig = 1; sig <= 64; sig++)
		if (f->signalfd.mask & (1ull << (sig - 1)))
			sigaddset(&mask, sig);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | (f->flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
	return fd < 0 ? neg_errno() : fd;
}

int timerfd_open(const struct fd_record *f)
{
	struct itimerspec its = {
		.it_value = { f->timerfd.value_ns / 1000000000, f->timerfd.value_ns % 1000000000 },
		.it_interval = { f->timerfd.interval_ns / 1000000000,
				 f->timerfd.interval_ns % 1000000000 },
	};
	int fd = timerfd_create(f->timerfd.clock,
				TFD_CLOEXEC | (f->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));

	if (fd < 0)
		return neg_errno();
	/* The time left, from now: an absolute deadline was saved as what remained. */
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	if (f->timerfd.ticks && ioctl(fd, TFD_IOC_SET_TICKS, &f->timerfd.ticks) < 0)
		log_warn("timerfd: %llu expirations not read are lost: %m",
			 (unsigned long long)f->timerfd.ticks);
	return fd;
}

struct watch_ref {
	int32_t wd;
	uint32_t mask;
	const char *path;
};

static int cmp_wd(const void *a, const void *b)
{
	return ((const struct watch_ref *)a)->wd - ((const struct watch_ref *)b)->wd;
}

/*
 * Watches come back under their numbers: the kernel hands out wds in
 * increasing order, so a gap is skipped by watching something else and
 * letting it go.
 */
int inotify_open(const struct fd_record *f)
{
	_cleanup_free_ struct watch_ref *w = NULL;
	_cleanup_close_ int fd = -1;
	char dummy[64] = "";
	size_t n = 0, off = 0;
	int next_wd = 1;

	fd = inotify_init1(IN_CLOEXEC | (f->flags & O_NONBLOCK ? IN_NONBLOCK : 0));
	if (fd < 0)
		return neg_errno();
	while (off + sizeof(struct inotify_watch_hdr) <= f->inotify.watches_len) {
		struct inotify_watch_hdr h;
		struct watch_ref *g;

		memcpy(&h, f->inotify.watches + off, sizeof(h));
		off += sizeof(h);
		if (!h.path_len || off + h.path_len > f->inotify.watches_len ||
		    f->inotify.watches[off + h.path_len - 1])
			return -EBADMSG;
		g = realloc(w, (n + 1) * sizeof(*w));
		if (!g)
			return -ENOMEM;
		w = g;
		w[n++] = (struct watch_ref){ h.wd, h.mask, (const char *)f->inotify.watches + off };
		off += ALIGN_UP(h.path_len, 4u);
	}
	qsort(w, n, sizeof(*w), cmp_wd);
	for (size_t i = 0; i < n; i++) {
		int wd;

		/*
		 * Numbers the program had freed are burnt on a directory of our
		 * own: a watch removed from the real inode dies asynchronously,
		 * and adding it back at once could meet the dying one.
		 */
		while (next_wd < w[i].wd) {
			if (!dummy[0]) {
				snprintf(dummy, sizeof(dummy), "/tmp/trace-ckpt-inotify.XXXXXX");
				if (!mkdtemp(dummy))
					return neg_errno();
			}
			wd = inotify_add_watch(fd, dummy, IN_ATTRIB);
			if (wd < 0) {
				rmdir(dummy);
				return neg_errno();
			}
			inotify_rm_watch(fd, wd);
			next_wd = wd + 1;
		}
		wd = inotify_add_watch(fd, w[i].path, w[i].mask);
		if (wd < 0)
			return neg_errno();
		next_wd = wd + 1;
		if (wd != w[i].wd)
			log_warn("inotify watch of %s: wd %d, was %d", w[i].path, wd, w[i].wd);
	}
	if (dummy[0])
		rmdir(dummy);
	/* The burnt numbers left IN_IGNORED events the program never caused. */
	{
		int fl = fcntl(fd, F_GETFL);
		char buf[4096];

		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		fcntl(fd, F_SETFL, fl);
	}
	return TAKE_FD(fd);
}

/* Its epoll fds watch what they watched, by its own fd numbers: add() makes each watch. */
int epoll_for_each_watch(const struct process_record *p, bool of_deferred, epoll_watch_fn add,
			 void *arg, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];
		const struct epoll_watch *w = (const void *)f->epoll.watches;
		size_t n = f->epoll.watches_len / sizeof(*w);

		if (f->kind != FD_EPOLL)
			continue;
		for (size_t k = 0; k < n; k++) {
			struct epoll_event ev = { .events = w[k].events, .data.u64 = w[k].data };
			int r;

			if (procfd_deferred_fd(p, w[k].tfd) != of_deferred)
				continue;
			/* A shared epoll fd was filled by the first process that has it. */
			r = add(arg, f->fd, w[k].tfd, &ev);
			if (r < 0 && r != -EEXIST) {
				snprintf(err, errlen, "pid %d fd %d: epoll watch of fd %d: %s", p->pid,
					 f->fd, w[k].tfd, strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

static int add_watch_here(void *arg, int epfd, int tfd, struct epoll_event *ev)
{
	(void)arg;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, ev) < 0 ? neg_errno() : 0;
}

/* In the process, its fds at their numbers. */
int epoll_restore_watches(const struct process_record *p, char *err, size_t errlen)
{
	/* Those on deferred fds are added once the fd is opened, at release. */
	return epoll_for_each_watch(p, false, add_watch_here, NULL, err, errlen);
}

int epoll_open(const struct fd_record *f)
{
	int fd;

	(void)f;
	/* Its interest list is rebuilt by the process, once its fds are in place. */
	fd = epoll_create1(EPOLL_CLOEXEC);
	return fd < 0 ? neg_errno() : fd;
}
