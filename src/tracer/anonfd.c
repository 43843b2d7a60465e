/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collectors of the anon-inode fds whose whole state fdinfo shows: eventfd,
 * signalfd, timerfd and epoll.  Nothing of the program is touched.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/collect.h"
#include "proto/tlv.h"
#include "tracer/procfs.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/privilege.h"

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

/* A mount of the device the watched inode is on, to open its handle from
 * (open_by_handle_at refuses an O_PATH mount fd). */
static int mount_of(uint64_t sdev)
{
	_cleanup_free_ char *mi = NULL;
	unsigned int major = sdev >> 20, minor = sdev & 0xfffff;
	char *line, *save = NULL;

	if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mi, NULL) < 0)
		return -ENOENT;
	for (line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int ma, mi_;
		char root[PATH_MAX], point[PATH_MAX];
		int fd;

		if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &ma, &mi_, root, point) != 4 ||
		    ma != major || mi_ != minor)
			continue;
		fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

/* The path of a watched inode, from the file handle fdinfo shows. */
static int handle_path(const char *hex, unsigned int bytes, int type, uint64_t sdev, char *out,
		       size_t outlen)
{
	_cleanup_close_ int mfd = mount_of(sdev), fd = -1;
	_cleanup_free_ struct file_handle *fh = malloc(sizeof(*fh) + bytes);
	char link[64];
	ssize_t n;

	if (mfd < 0)
		return mfd;
	if (!fh || bytes > 128 || strlen(hex) < bytes * 2)
		return -EINVAL;
	fh->handle_bytes = bytes;
	fh->handle_type = type;
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		fh->f_handle[i] = (unsigned char)b;
	}
	{
		PRIV_SCOPE(CAP_DAC_READ_SEARCH);

		fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		return neg_errno();
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, outlen - 1);
	if (n < 0)
		return neg_errno();
	out[n] = '\0';
	return 0;
}

static int collect_inotify(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	struct tlv_buf b = { 0 };
	_cleanup_close_ int handle = collect_fd_handle(cx, f->fd);
	int queued = 0;

	if (handle < 0)
		return handle;
	/*
	 * Events cannot be read without being consumed, nor queued again:
	 * the dump is tried again a little later (-EAGAIN), once the program
	 * has read them.
	 */
	if (ioctl(handle, FIONREAD, &queued) == 0 && queued > 0)
		return collect_fail(cx, -EAGAIN, "fd %d: inotify: %d bytes of events not read yet",
				    f->fd, queued);

	for (const char *p = fdinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned int wd, mask, ignored, bytes;
		unsigned long long ino, sdev;
		int type, r;
		char hex[300], path[PATH_MAX];
		struct inotify_watch_hdr h;
		static const uint8_t zeros[4];

		if (strncmp(p, "inotify wd:", 11))
			continue;
		if (sscanf(p, "inotify wd:%x ino:%llx sdev:%llx mask:%x ignored_mask:%x "
			      "fhandle-bytes:%x fhandle-type:%x f_handle:%299s",
			   &wd, &ino, &sdev, &mask, &ignored, &bytes, &type, hex) != 8) {
			tlv_buf_free(&b);
			return collect_fail(cx, -EINVAL, "fd %d: inotify watch line", f->fd);
		}
		r = handle_path(hex, bytes, type, sdev, path, sizeof(path));
		if (r < 0) {
			tlv_buf_free(&b);
			return collect_fail(cx, r, "fd %d: inotify watch %u (inode %llu)", f->fd, wd,
					    ino);
		}
		h = (struct inotify_watch_hdr){ .wd = (int32_t)wd, .mask = mask,
						.path_len = (uint32_t)strlen(path) + 1 };
		tlv_put_raw(&b, &h, sizeof(h));
		tlv_put_raw(&b, path, h.path_len);
		tlv_put_raw(&b, zeros, (4 - h.path_len % 4) % 4);
	}
	if (b.err) {
		tlv_buf_free(&b);
		return b.err;
	}
	f->inotify_watches = b.data;
	f->inotify_watches_len = b.len;
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
		/*
		 * A periodic timer that expired and was not read yet is idle
		 * until the read re-arms it, and shows no time left: restored
		 * so, it would stay disarmed.  Arm it one period ahead.
		 */
		if (!f->timerfd_value_ns && f->timerfd_ticks)
			f->timerfd_value_ns = f->timerfd_interval_ns;
		return 0;
	}
	if (!strcmp(link, "anon_inode:inotify")) {
		f->kind = FD_INOTIFY;
		return collect_inotify(cx, f, fdinfo);
	}
	if (!strcmp(link, "anon_inode:[eventpoll]")) {
		f->kind = FD_EPOLL;
		return collect_epoll(cx, f, fdinfo);
	}
	return collect_fail(cx, -EOPNOTSUPP, "fd %d: %s", f->fd, link);
}
