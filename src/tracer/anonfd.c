/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collectors of the anon-inode fds whose whole state fdinfo shows: eventfd,
 * signalfd, timerfd and epoll; and inotify, whose watches are found by
 * their inode.  Nothing of the program is touched.
 */
#include <errno.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/collect.h"
#include "tracer/inode_search.h"
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
	f->epoll.watches = (uint8_t *)w;
	f->epoll.watches_len = n * sizeof(*w);
	return 0;
}

/* A mount of the device the watched inode is on, to open its handle from
 * (open_by_handle_at refuses an O_PATH mount fd). */
static int mount_of(dev_t dev)
{
	_cleanup_free_ char *mi = NULL;
	char *line, *save = NULL;

	if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mi, NULL) < 0)
		return -ENOENT;
	for (line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int ma, mi_;
		char root[PATH_MAX], point[PATH_MAX];
		int fd;

		if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &ma, &mi_, root, point) != 4 ||
		    makedev(ma, mi_) != dev)
			continue;
		fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

/* The path of a watched inode, from the file handle fdinfo shows. */
static int handle_path(const struct inotify_watch_line *w, char *out, size_t outlen,
		       bool *symlink)
{
	_cleanup_close_ int mfd = mount_of(kernel_dev_to_dev(w->sdev)), fd = -1;
	_cleanup_free_ struct file_handle *fh = malloc(sizeof(*fh) + w->handle_bytes);
	char link[64];
	struct stat st;
	ssize_t n;

	if (mfd < 0)
		return mfd;
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = w->handle_bytes;
	fh->handle_type = w->handle_type;
	for (unsigned int i = 0; i < w->handle_bytes; i++) {
		unsigned int b;

		if (sscanf(w->handle_hex + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		fh->f_handle[i] = (unsigned char)b;
	}
	{
		PRIV_SCOPE(CAP_DAC_READ_SEARCH);

		fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return neg_errno();
	*symlink = S_ISLNK(st.st_mode);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, outlen - 1);
	if (n < 0)
		return neg_errno();
	out[n] = '\0';
	return 0;
}

struct inotify_watch {
	struct inotify_watch_line line;
	char *path;
	bool dont_follow;	/* the path names the watched symbolic link itself */
};

static void free_watches(struct inotify_watch *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i].path);
	free(w);
}

/*
 * Without CAP_DAC_READ_SEARCH in the initial user namespace no file handle
 * opens: the paths of every watch left are looked for in one search.
 */
static int search_watch_paths(struct collect_ctx *cx, struct fd_record *f,
			      struct inotify_watch *w, size_t n)
{
	pid_t pid = cx->names_pid ? cx->names_pid : cx->pid;
	_cleanup_free_ struct inode_query *q = calloc(n ? n : 1, sizeof(*q));
	size_t nq = 0, total, entries;
	int r;

	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!w[i].path)
			q[nq++] = (struct inode_query){ .dev = kernel_dev_to_dev(w[i].line.sdev),
							.ino = w[i].line.ino };
	if (!nq)
		return 0;
	r = inode_search(cx->inodes, pid, q, nq, &entries);
	if (r < 0)
		return collect_fail(cx, r, "fd %d: inotify: looking for the watched paths", f->fd);
	total = nq;
	nq = 0;
	for (size_t i = 0; i < n; i++) {
		char cwd[PATH_MAX] = "its cwd", link[64];
		ssize_t len;

		if (w[i].path)
			continue;
		w[i].path = TAKE_PTR(q[nq].path);
		w[i].dont_follow = q[nq++].symlink;
		if (w[i].path)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
		len = readlink(link, cwd, sizeof(cwd) - 1);
		if (len > 0)
			cwd[len] = '\0';
		r = collect_fail(cx, -ENOENT, "fd %d: inotify watch %u: inode %llu not found below %s "
				 "(without root the watched path must be found by a search; it looked "
				 "near the process's open and mapped files, and %d levels below its "
				 "cwd, $HOME and the mounts of that file system: %zu entries)",
				 f->fd, w[i].line.wd, (unsigned long long)w[i].line.ino, cwd,
				 INODE_SEARCH_DEPTH, entries);
		break;
	}
	for (size_t i = 0; i < total; i++)
		free(q[i].path);
	return r;
}

static int parse_watches(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo,
			 struct inotify_watch **out, size_t *nr)
{
	struct inotify_watch *w = NULL;
	size_t n = 0;

	for (const char *p = fdinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		struct inotify_watch *grown;

		if (strncmp(p, "inotify wd:", 11))
			continue;
		grown = realloc(w, (n + 1) * sizeof(*w));
		if (!grown) {
			free_watches(w, n);
			return -ENOMEM;
		}
		w = grown;
		memset(&w[n], 0, sizeof(w[n]));
		if (parse_inotify_watch_line(p, &w[n].line) < 0) {
			free_watches(w, n);
			return collect_fail(cx, -EINVAL, "fd %d: inotify watch line", f->fd);
		}
		/* The mask goes back to inotify_add_watch as it is. */
		if (!inotify_mask_restorable(w[n].line.mask)) {
			uint32_t wd = w[n].line.wd, mask = w[n].line.mask;

			free_watches(w, n);
			return collect_refuse(cx, "a watch flag inotify_add_watch cannot set "
					      "again; drop it from the watch", "fd %d: inotify watch "
					      "%u: mask %#x", f->fd, wd, mask);
		}
		n++;
	}
	*out = w;
	*nr = n;
	return 0;
}

static int collect_inotify(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	struct tlv_buf b = { 0 };
	_cleanup_close_ int handle = collect_fd_handle(cx, f->fd);
	struct inotify_watch *w = NULL;
	size_t n = 0;
	int queued = 0, r;

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

	r = parse_watches(cx, f, fdinfo, &w, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (!w[i].line.handle_bytes)
			continue;
		r = handle_path(&w[i].line, path, sizeof(path), &w[i].dont_follow);
		if (r == -EPERM)
			continue;
		if (r == 0 && !(w[i].path = strdup(path)))
			r = -ENOMEM;
		if (r < 0) {
			r = collect_fail(cx, r, "fd %d: inotify watch %u (inode %llu)", f->fd,
					 w[i].line.wd, (unsigned long long)w[i].line.ino);
			free_watches(w, n);
			return r;
		}
	}
	r = search_watch_paths(cx, f, w, n);
	if (r < 0) {
		free_watches(w, n);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		static const uint8_t zeros[4];
		struct inotify_watch_hdr h = {
			.wd = (int32_t)w[i].line.wd,
			.mask = w[i].line.mask | (w[i].dont_follow ? IN_DONT_FOLLOW : 0),
			.path_len = (uint32_t)strlen(w[i].path) + 1,
		};

		tlv_put_raw(&b, &h, sizeof(h));
		tlv_put_raw(&b, w[i].path, h.path_len);
		tlv_put_raw(&b, zeros, (4 - h.path_len % 4) % 4);
	}
	free_watches(w, n);
	if (b.err) {
		tlv_buf_free(&b);
		return b.err;
	}
	f->inotify.watches = b.data;
	f->inotify.watches_len = b.len;
	return 0;
}

static int collect_eventfd(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	uint64_t v;

	if (parse_status_u64(fdinfo, "eventfd-count", 16, &f->eventfd.count) < 0)
		return collect_fail(cx, -EINVAL, "fd %d: eventfd-count", f->fd);
	if (parse_status_u64(fdinfo, "eventfd-semaphore", 10, &v) == 0)
		f->eventfd.semaphore = v;
	return 0;
}

static int collect_signalfd(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	if (parse_status_u64(fdinfo, "sigmask", 16, &f->signalfd.mask) < 0)
		return collect_fail(cx, -EINVAL, "fd %d: signalfd mask", f->fd);
	return 0;
}

static int collect_timerfd(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo)
{
	struct timerfd_info ti;
	int r = parse_timerfd_fdinfo(fdinfo, &ti);

	if (r < 0)
		return collect_fail(cx, r, "fd %d: timerfd", f->fd);
	f->timerfd.clock = ti.clockid;
	f->timerfd.flags = ti.settime_flags;
	f->timerfd.ticks = ti.ticks;
	f->timerfd.value_ns = ti.value_ns;
	f->timerfd.interval_ns = ti.interval_ns;
	/*
	 * A periodic timer that expired and was not read yet is idle
	 * until the read re-arms it, and shows no time left: restored
	 * so, it would stay disarmed.  Arm it one period ahead.
	 */
	if (!f->timerfd.value_ns && f->timerfd.ticks)
		f->timerfd.value_ns = f->timerfd.interval_ns;
	return 0;
}

/* The anon-inode kinds, by the target of their /proc/PID/fd link. */
static const struct anon_kind {
	const char *link;
	uint32_t kind;	/* enum fd_kind */
	int (*collect)(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo);
} anon_kinds[] = {
	{ "anon_inode:[eventfd]", FD_EVENTFD, collect_eventfd },
	{ "anon_inode:[signalfd]", FD_SIGNALFD, collect_signalfd },
	{ "anon_inode:[timerfd]", FD_TIMERFD, collect_timerfd },
	{ "anon_inode:inotify", FD_INOTIFY, collect_inotify },
	{ "anon_inode:[eventpoll]", FD_EPOLL, collect_epoll },
};

int collect_anon_fd(struct collect_ctx *cx, struct fd_record *f, const char *link,
		    const char *fdinfo)
{
	for (size_t i = 0; i < ARRAY_SIZE(anon_kinds); i++)
		if (!strcmp(link, anon_kinds[i].link)) {
			f->kind = anon_kinds[i].kind;
			return anon_kinds[i].collect(cx, f, fdinfo);
		}
	return collect_refuse(cx, "a kind of fd trace-ckpt cannot save yet (it keeps eventfd, "
			      "signalfd, timerfd, inotify and epoll); " CLOSE_IT, "fd %d: %s", f->fd,
			      link);
}
