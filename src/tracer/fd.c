/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "proto/fdkind.h"
#include "proto/record.h"
#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "tracer/session.h"
#include "tracer/tty.h"
#include "util/fileio.h"
#include "util/macro.h"

/* Devices that are the same on every host and carry no state of the program. */
static const char *const stateless_devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
};

static int stdio_index(const struct session *s, const struct stat *st, int fd)
{
	int found = -1;

	for (int i = 0; i < 3; i++) {
		if (!s->stdio[i].valid || s->stdio[i].dev != st->st_dev ||
		    s->stdio[i].ino != st->st_ino)
			continue;
		if (i == fd)
			return i;
		if (found < 0)
			found = i;
	}
	return found;
}

static const char *kind_name(mode_t mode, const char *link)
{
	if (!strncmp(link, "anon_inode:", 11))
		return link;
	if (S_ISFIFO(mode))
		return "pipe";
	if (S_ISSOCK(mode))
		return "socket";
	if (S_ISCHR(mode))
		return "character device";
	if (S_ISBLK(mode))
		return "block device";
	return "file";
}

/* Locks held through this fd: taken again at restore. */
static int collect_locks(struct collect_ctx *cx, struct fd_record *f, const char *fdinfo,
			 const char *link)
{
	struct file_lock_record *l;
	size_t n;
	int r = parse_fdinfo_locks(fdinfo, &l, &n);

	if (r < 0)
		return collect_fail(cx, r, "fd %d: %s: its locks", f->fd, link);
	for (size_t i = 0; i < n; i++)
		if (l[i].kind == FILE_LOCK_OTHER) {
			free(l);
			return collect_refuse(cx, "a lease (F_SETLEASE) cannot be taken again at "
					      "restore; release it before a checkpoint",
					      "fd %d: a lease on %s", f->fd, link);
		}
	f->locks = (uint8_t *)l;
	f->locks_len = (uint32_t)(n * sizeof(*l));
	return 0;
}

/* What collect_fd learnt of an fd, for the collector of its kind. */
struct fd_seen {
	int dirfd;		/* /proc/PID/fd */
	const char *name;	/* the fd's number, in dirfd */
	char *link;		/* where its link points; may be cut (" (deleted)") */
	size_t link_len;
	const struct stat *st;
	const char *fdinfo;
};

static bool is_hugetlbfs(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC;
}

/* A regular file or a directory, by path; a deleted file's bytes are kept. */
static int collect_file_fd(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs)
{
	char *link = fs->link;
	size_t n = fs->link_len;

	if (link[0] != '/')
		return collect_refuse(cx, "a file with no path the supervisor can reach "
				      "(another mount namespace, a detached mount): a restore "
				      "could not open it again; " CLOSE_IT, "fd %d: %s", f->fd, link);
	f->kind = FD_REGULAR;
	if (n > 10 && !strcmp(link + n - 10, " (deleted)")) {
		link[n - 10] = '\0';
		f->deleted = true;
		if (!S_ISREG(fs->st->st_mode))
			return collect_refuse(cx, "a restore could not open a removed "
					      "directory again; " CLOSE_IT,
					      "fd %d: deleted directory %s", f->fd, link);
		/* The writer copies the contents from our own handle. */
		f->content_fd = openat(fs->dirfd, fs->name, O_RDONLY | O_CLOEXEC);
		if (f->content_fd < 0)
			return collect_fail(cx, neg_errno(), "fd %d: %s (deleted)", f->fd, link);
		/* A MFD_HUGETLB memfd would come back as ordinary memory (vma.c: mapped, too). */
		if (is_hugetlbfs(f->content_fd))
			return collect_refuse(cx, "its bytes would come back as ordinary memory; "
					      CLOSE_IT,
					      "fd %d: %s: a MFD_HUGETLB memfd", f->fd, link);
	}
	f->path = strdup(link);
	return f->path ? 0 : -ENOMEM;
}

/* A pipe or FIFO: its bytes and other end are looked at once per pipe (collect_pipes). */
static int collect_pipe_fd(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs)
{
	(void)cx;
	f->kind = FD_PIPE;
	f->pipe.ino = fs->st->st_ino;
	if (fs->link[0] != '/')
		return 0;
	f->path = strdup(fs->link);
	return f->path ? 0 : -ENOMEM;
}

/* A character device: one that is the same everywhere, or a terminal. */
static int collect_chr_fd(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs)
{
	for (size_t i = 0; i < ARRAY_SIZE(stateless_devices); i++) {
		if (strcmp(fs->link, stateless_devices[i]))
			continue;
		f->kind = FD_DEVICE;
		f->path = strdup(fs->link);
		return f->path ? 0 : -ENOMEM;
	}
	return collect_tty(cx, f, fs->st, fs->link);
}

static int collect_anon_inode_fd(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs)
{
	return collect_anon_fd(cx, f, fs->link, fs->fdinfo);
}

static int collect_socket_fd(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs)
{
	return collect_socket(cx, f, fs->st->st_ino);
}

static bool is_file(const struct fd_seen *fs)
{
	return S_ISREG(fs->st->st_mode) || S_ISDIR(fs->st->st_mode);
}

static bool is_fifo(const struct fd_seen *fs)
{
	return S_ISFIFO(fs->st->st_mode);
}

static bool is_chr(const struct fd_seen *fs)
{
	return S_ISCHR(fs->st->st_mode);
}

static bool is_anon_inode(const struct fd_seen *fs)
{
	return !strncmp(fs->link, "anon_inode:", 11);
}

static bool is_socket(const struct fd_seen *fs)
{
	return S_ISSOCK(fs->st->st_mode);
}

/*
 * Which collector an fd goes to, by what the kernel says it is: the first
 * that matches (an anon inode before a socket: some are both).  An fd no
 * entry takes is refused by name.  Anon inodes and sockets go on to tables
 * of their own (anon_kinds in anonfd.c, socket_families in socket.c).
 */
static const struct {
	bool (*matches)(const struct fd_seen *fs);
	int (*collect)(struct collect_ctx *cx, struct fd_record *f, struct fd_seen *fs);
} fd_collectors[] = {
	{ is_file, collect_file_fd },
	{ is_fifo, collect_pipe_fd },
	{ is_chr, collect_chr_fd },
	{ is_anon_inode, collect_anon_inode_fd },
	{ is_socket, collect_socket_fd },
};

static int collect_fd(struct collect_ctx *cx, int dirfd, int fd, struct fd_record *f)
{
	char name[32], link[PATH_MAX], info[64];
	_cleanup_free_ char *fdinfo = NULL;
	struct fd_seen fs;
	struct stat st;
	ssize_t n;
	int idx, r;

	f->fd = fd;
	f->content_fd = -1;
	f->inet.repair_fd = -1;
	f->tty.hold_fd = -1;
	f->flight_fd = -1;
	snprintf(name, sizeof(name), "%d", fd);
	n = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (n < 0)
		return collect_fail(cx, neg_errno(), "fd %d", fd);
	link[n] = '\0';
	if (fstatat(dirfd, name, &st, 0) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: %s", fd, link);
	snprintf(info, sizeof(info), "/proc/%d/fdinfo/%d", cx->pid, fd);
	r = read_file_at(AT_FDCWD, info, &fdinfo, NULL);
	if (r < 0 || parse_fdinfo(fdinfo, &f->pos, &f->flags) < 0)
		return collect_fail(cx, r < 0 ? r : -EINVAL, "fd %d: %s", fd, info);
	r = collect_locks(cx, f, fdinfo, link);
	if (r < 0)
		return r;
	f->cloexec = !!(f->flags & O_CLOEXEC);
	f->flags &= ~O_CLOEXEC;
	f->mode = st.st_mode;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;

	/* The supervisor's own stdio, whatever it is: bound to restore's at restore. */
	idx = stdio_index(cx->s, &st, fd);
	if (idx >= 0) {
		f->kind = FD_STDIO;
		f->stdio_index = idx;
		f->path = strdup(link);
		if (!f->path)
			return -ENOMEM;
		return S_ISCHR(st.st_mode) ? collect_tty_state(cx, f) : 0;
	}
	fs = (struct fd_seen){ dirfd, name, link, (size_t)n, &st, fdinfo };
	for (size_t i = 0; i < ARRAY_SIZE(fd_collectors); i++)
		if (fd_collectors[i].matches(&fs))
			return fd_collectors[i].collect(cx, f, &fs);
	return collect_refuse(cx, "its state cannot be read from outside the program; " CLOSE_IT,
			      "fd %d: %s %s", fd, kind_name(st.st_mode, link), link);
}

/* Files in flight per process, nested ones included: a bound on a socket sent over itself. */
#define IN_FLIGHT_MAX 4096

static int cmp_fd(const void *a, const void *b)
{
	return ((const struct fd_record *)a)->fd - ((const struct fd_record *)b)->fd;
}

int collect_keep_in_flight(struct collect_ctx *cx, int h, uint32_t *num)
{
	struct in_flight_list *l = cx->flights;
	int *n;

	/* A socket that is in flight in its own queue would go round forever. */
	if (!l || l->n >= IN_FLIGHT_MAX) {
		close(h);
		return -EOPNOTSUPP;
	}
	n = realloc(l->fds, (l->n + 1) * sizeof(*n));
	if (!n) {
		close(h);
		return -ENOMEM;
	}
	/* Up to IN_FLIGHT_MAX of them stay open at once, above the usual soft limit. */
	if (l->n == 256) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	l->fds = n;
	l->fds[l->n] = h;
	*num = IN_FLIGHT_FD_BASE + (uint32_t)l->n++;
	return 0;
}

/*
 * The files the process's sockets hold in flight, each collected from our
 * own fd as if it were the process's (and their sockets' own files in
 * flight after them).  The fd stays open until the dump is over: sharing
 * is found by kcmp on it.
 */
static int collect_in_flight(struct collect_ctx *cx, struct process_record *p, size_t *cap)
{
	struct in_flight_list *l = cx->flights;
	struct collect_ctx own = *cx;
	_cleanup_close_ int self = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (self < 0)
		return neg_errno();
	own.pid = getpid();
	own.names_pid = cx->pid;
	while (r == 0 && l->done < l->n) {
		int h = l->fds[l->done];
		uint32_t num = IN_FLIGHT_FD_BASE + (uint32_t)l->done;
		const struct fd_kind_info *kind;
		struct fd_record *f;

		if (p->nr_fds == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct fd_record *nf = realloc(p->fds, ncap * sizeof(*nf));

			if (!nf)
				return -ENOMEM;
			p->fds = nf;
			*cap = ncap;
		}
		f = &p->fds[p->nr_fds++];
		memset(f, 0, sizeof(*f));
		l->done++;
		r = collect_fd(&own, self, h, f);
		f->in_flight = 1;
		f->flight_fd = h;
		f->fd = num;
		f->cloexec = 0;
		kind = fd_kind_info(f->kind);
		if (r == 0 && kind && kind->in_flight_refusal) {
			r = -EOPNOTSUPP;
			snprintf(cx->err, cx->errlen, "%s: not supported", kind->in_flight_refusal);
		}
		if (r < 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", cx->err[0] ? cx->err : strerror(-r));
			snprintf(cx->err, cx->errlen, "pid %d: a file in flight in a unix socket: %s",
				 cx->pid, why);
		}
	}
	return r;
}

/* A record collected halfway, and its handles. */
static void drop_fd_record(struct fd_record *f)
{
	int *handles[] = { &f->content_fd, &f->inet.repair_fd, &f->tty.hold_fd, &f->flight_fd };

	for (size_t i = 0; i < ARRAY_SIZE(handles); i++)
		if (*handles[i] > 2)
			closep(handles[i]);
	fd_record_free(f);
}

int collect_fds(struct collect_ctx *cx, struct process_record *p)
{
	struct in_flight_list flights = { 0 };
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int r = 0;

	cx->flights = &flights;

	snprintf(path, sizeof(path), "/proc/%d/fd", cx->pid);
	d = opendir(path);
	if (!d)
		return collect_fail(cx, neg_errno(), "%s", path);
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end)
			continue;
		if (p->nr_fds == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct fd_record *nf = realloc(p->fds, ncap * sizeof(*nf));

			if (!nf) {
				r = -ENOMEM;
				break;
			}
			p->fds = nf;
			cap = ncap;
		}
		memset(&p->fds[p->nr_fds], 0, sizeof(p->fds[0]));
		r = collect_fd(cx, dirfd(d), (int)fd, &p->fds[p->nr_fds]);
		p->nr_fds++;
		if (r < 0 && r != -ENOMEM && cx->refused && cx->err && cx->err[0]) {
			/* check PID: this fd left out, its reason kept, the others looked at. */
			r = refusal_take(cx->refused, cx->err);
			drop_fd_record(&p->fds[--p->nr_fds]);
			if (r < 0)
				break;
			continue;
		}
		if (r < 0)
			break;
	}
	closedir(d);
	if (r == 0)
		r = collect_in_flight(cx, p, &cap);
	cx->flights = NULL;
	for (size_t i = flights.done; i < flights.n; i++)
		close(flights.fds[i]);
	free(flights.fds);
	if (r < 0)
		return r;
	qsort(p->fds, p->nr_fds, sizeof(*p->fds), cmp_fd);
	return 0;
}
