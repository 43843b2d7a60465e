/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collectors of the anon-inode fds whose whole state fdinfo shows: eventfd,
 * signalfd, timerfd and epoll.  Nothing of the program is touched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "util/macro.h"

static int collect_epoll(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	struct epoll_watch *w = NULL;
	size_t n = 0;
	int r = parse_epoll_fdinfo(fdinfo, &w, &n);

	if (r < 0)
		return collect_fail(cx, r, "fd %d: epoll interest list", f->fd);
	f->epoll_watches = (uint8_t *)w;
	f->epoll_watches_len = n * sizeof(*w);
	return 0;
}

int collect_anon_fd(struct collect_ctx *cx, struct fd_record *f, const char *link,
		    const char *fdinfo)
{
	uint64_t v;
	int r;

	if (!strcmp(link, "anon_inode:[eventfd]")) {
		f->kind = FD_EVENTFD;
		if (parse_status_u64(fdinfo, "eventfd-count", 16, &f->eventfd_count) < 0)
			return collect_fail(cx, -EINVAL, "fd %d: eventfd-count", f->fd);
		if (parse_status_u64(fdinfo, "eventfd-semaphore", 10, &v) == 0)
			f->eventfd_semaphore = v;
		return 0;
	}
	if (!strcmp(link, "anon_inode:[signalfd]")) {
		f->kind = FD_SIGNALFD;
		if (parse_status_u64(fdinfo, "sigmask", 16, &f->signalfd_mask) < 0)
			return collect_fail(cx, -EINVAL, "fd %d: signalfd mask", f->fd);
		return 0;
	}
	if (!strcmp(link, "anon_inode:[timerfd]")) {
		struct timerfd_info ti;

		f->kind = FD_TIMERFD;
		r = parse_timerfd_fdinfo(fdinfo, &ti);
		if (r < 0)
			return collect_fail(cx, r, "fd %d: timerfd", f->fd);
		f->timerfd_clock = ti.clockid;
		f->timerfd_flags = ti.settime_flags;
		f->timerfd_ticks = ti.ticks;
		f->timerfd_value_ns = ti.value_ns;
		f->timerfd_interval_ns = ti.interval_ns;
		return 0;
	}
	if (!strcmp(link, "anon_inode:[eventpoll]")) {
		f->kind = FD_EPOLL;
		return collect_epoll(cx, f, fdinfo);
	}
	return collect_fail(cx, -EOPNOTSUPP, "fd %d: %s", f->fd, link);
}
