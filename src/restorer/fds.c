/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "restorer/fds.h"
#include "restorer/locks.h"
#include "restorer/shm.h"
#include "restorer/tcpdrain.h"
#include "restorer/udp.h"
#include "restorer/unix.h"
#include "restorer/timewait.h"
#include "restorer/tty.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/netlock.h"
#include "util/macro.h"
#include "util/privilege.h"

/* Flags that only matter at open time or that we set ourselves. */
#define OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW)
/* Flags F_SETFL can change on an open description. */
#define SETFL_FLAGS (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)

int copy_contents(int from, int to, uint64_t size)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = sendfile(to, from, &off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		if (n == 0)
			return -ENODATA;
	}
	return 0;
}

static int reopen(int fd, int flags)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = open(path, flags | O_CLOEXEC);
	return n < 0 ? neg_errno() : n;
}

/*
 * A file deleted while open: bring back its contents under its old name
 * just long enough to open it, so /proc shows "PATH (deleted)" again.
 */
static int open_deleted(const struct fd_record *f, int flags)
{
	_cleanup_close_ int src = -1, tmp = -1;
	char dir[PATH_MAX];
	int r;

	src = open(f->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	/* A memfd has no directory to come back in: a new memfd of that name. */
	if (!strncmp(f->path, "/memfd:", 7)) {
		tmp = memfd_create(f->path + 7, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (tmp < 0)
			return neg_errno();
		r = copy_contents(src, tmp, f->size);
		return r < 0 ? r : reopen(tmp, flags);
	}
	tmp = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, f->mode & 07777);
	if (tmp >= 0) {
		r = copy_contents(src, tmp, f->size);
		if (r == 0)
			r = reopen(tmp, flags);
		unlink(f->path);
		return r;
	}
	/* The name is taken again: an unnamed file in the same directory. */
	snprintf(dir, sizeof(dir), "%s", f->path);
	tmp = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, f->mode & 07777);
	if (tmp < 0)
		return neg_errno();
	r = copy_contents(src, tmp, f->size);
	if (r < 0)
		return r;
	/* O_TMPFILE gave O_RDWR; the access mode can only be narrowed by a reopen. */
	return reopen(tmp, flags);
}

static int open_regular(const struct desc_table *t, const struct fd_record *f)
{
	int flags = f->flags & ~OPEN_ONLY_FLAGS;
	int fd, r;

	if (f->deleted && !strncmp(f->path, "/memfd:", 7)) {
		fd = shm_open_memfd(t, f, flags);
		if (fd < 0)
			return fd;
	} else if (f->deleted) {
		fd = open_deleted(f, flags);
		if (fd < 0)
			return fd;
	} else {
		fd = open(f->path, flags | O_CLOEXEC);
		if (fd < 0)
			return neg_errno();
	}
	if (!(flags & O_PATH) && S_ISREG(f->mode) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
		r = neg_errno();
		close(fd);
		return r;
	}
	return fd;
}

/* The pipe's saved bytes go back in before anyone can read. */
static int refill_pipe(const struct fd_record *f, int wfd)
{
	_cleanup_close_ int src = -1;
	int fl = fcntl(wfd, F_GETFL), r;

	if (f->pipe_size && fcntl(wfd, F_SETPIPE_SZ, f->pipe_size) < 0)
		log_warn("pipe:[%llu]: size %u: %m", (unsigned long long)f->pipe_ino, f->pipe_size);
	if (!f->content || !f->size)
		return 0;
	src = open(f->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	/* Never block: the buffer was at most this big when it was saved. */
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	r = copy_contents(src, wfd, f->size);
	fcntl(wfd, F_SETFL, fl);
	return r;
}

struct pipe_pair {
	uint64_t ino;
	int rfd, wfd;
};

/* fd moved above every saved fd number (the table's own fds live there). */
int move_above(int fd, int base)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, base);

	close(fd);
	return high < 0 ? neg_errno() : high;
}

/* A dup of fd with the saved status flags (O_NONBLOCK...) of its description. */
static int dup_with_flags(int fd, uint32_t flags)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 0), r;

	if (n < 0)
		return neg_errno();
	if (fcntl(n, F_SETFL, flags & SETFL_FLAGS) < 0) {
		r = neg_errno();
		close(n);
		return r;
	}
	return n;
}

static int add_desc(struct desc_table *t, uint32_t id, int fd)
{
	struct desc_entry *n;
	int high = move_above(fd, t->base);

	if (high < 0)
		return high;
	n = realloc(t->v, (t->n + 1) * sizeof(*n));
	if (!n) {
		close(high);
		return -ENOMEM;
	}
	t->v = n;
	t->v[t->n++] = (struct desc_entry){ id, high };
	return 0;
}

/* Both ends of a pipe are made at once; a FIFO is opened through its path. */
static int open_pipe(const struct computation *c, const struct fd_record *f,
		     struct pipe_pair *pp)
{
	const struct fd_record *with_content = f;
	int p[2], r;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_PIPE && o->pipe_ino == f->pipe_ino && o->content)
				with_content = o;
		}
	pp->ino = f->pipe_ino;
	if (f->path) {
		/* O_RDWR never blocks on a FIFO and keeps it open while we fill it. */
		int holder = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (holder < 0)
			return neg_errno();
		pp->rfd = reopen(holder, O_RDONLY | O_NONBLOCK);
		pp->wfd = reopen(holder, O_WRONLY | O_NONBLOCK);
		close(holder);
		if (pp->rfd < 0 || pp->wfd < 0)
			return pp->rfd < 0 ? pp->rfd : pp->wfd;
	} else {
		if (pipe2(p, O_CLOEXEC) < 0)
			return neg_errno();
		pp->rfd = p[0];
		pp->wfd = p[1];
	}
	r = refill_pipe(with_content, pp->wfd);
	return r;
}

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static int open_eventfd(const struct fd_record *f)
{
	int flags = EFD_CLOEXEC | (f->flags & O_NONBLOCK ? EFD_NONBLOCK : 0) |
		    (f->eventfd_semaphore ? EFD_SEMAPHORE : 0);
	int fd = eventfd(0, flags);

	if (fd < 0)
		return neg_errno();
	/* write() takes the whole 64-bit count; eventfd()'s initval only 32. */
	if (f->eventfd_count && write(fd, &f->eventfd_count, 8) != 8) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	return fd;
}

static int open_signalfd(const struct fd_record *f)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	for (int sig = 1; sig <= 64; sig++)
		if (f->signalfd_mask & (1ull << (sig - 1)))
			sigaddset(&mask, sig);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | (f->flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
	return fd < 0 ? neg_errno() : fd;
}

static int open_timerfd(const struct fd_record *f)
{
	struct itimerspec its = {
		.it_value = { f->timerfd_value_ns / 1000000000, f->timerfd_value_ns % 1000000000 },
		.it_interval = { f->timerfd_interval_ns / 1000000000,
				 f->timerfd_interval_ns % 1000000000 },
	};
	int fd = timerfd_create(f->timerfd_clock,
				TFD_CLOEXEC | (f->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));

	if (fd < 0)
		return neg_errno();
	/* The time left, from now: an absolute deadline was saved as what remained. */
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	if (f->timerfd_ticks && ioctl(fd, TFD_IOC_SET_TICKS, &f->timerfd_ticks) < 0)
		log_warn("timerfd: %llu expirations not read are lost: %m",
			 (unsigned long long)f->timerfd_ticks);
	return fd;
}

/* The first record of a socket that carries its queue (dup'd fds repeat it). */
static socklen_t addr_len(uint32_t family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static bool addr_set(const uint8_t *a)
{
	static const uint8_t zero[28];

	return memcmp(a, zero, sizeof(zero)) != 0;
}

static bool addr_has_port(const uint8_t *a, uint32_t family)
{
	if (family == AF_INET6)
		return ((const struct sockaddr_in6 *)(const void *)a)->sin6_port != 0;
	return ((const struct sockaddr_in *)(const void *)a)->sin_port != 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? neg_errno() : 0;
}

/* The send and receive queues saved for an established connection. */
struct tcp_queues {
	uint8_t *data[2];
	uint32_t len[2];
};

static void tcp_queues_free(struct tcp_queues *q)
{
	free(q->data[0]);
	free(q->data[1]);
}

static int read_tcp_queues(const struct fd_record *f, struct tcp_queues *q)
{
	_cleanup_close_ int src = -1;
	uint64_t off = 0;
	int r;

	memset(q, 0, sizeof(*q));
	if (!f->content)
		return 0;
	src = open(f->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	for (int i = 0; i < 2; i++) {
		r = pread_full(src, &q->len[i], sizeof(q->len[i]), (off_t)off);
		if (r < 0)
			return r;
		off += sizeof(q->len[i]);
		q->data[i] = malloc(q->len[i] ? q->len[i] : 1);
		if (!q->data[i])
			return -ENOMEM;
		r = pread_full(src, q->data[i], q->len[i], (off_t)off);
		if (r < 0)
			return r;
		off += q->len[i];
	}
	return 0;
}

/* An established connection, rebuilt in repair mode: no packet leaves until it is whole. */
static int repair_tcp(const struct fd_record *f, int fd)
{
	_cleanup_(tcp_queues_free) struct tcp_queues q = { 0 };
	struct tcp_repair_opt opts[4];
	int nopt = 0, r;

	r = read_tcp_queues(f, &q);
	if (r < 0)
		return r;
	/* Repair mode also forces address reuse: the listener holds the port. */
	r = tcp_set_repair(fd, TCP_REPAIR_ON);
	/*
	 * The saved numbers are past the queued bytes (write_seq, rcv_nxt):
	 * the queues start that much earlier and refilling them moves the
	 * numbers back to where they were.
	 */
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(f->tcp_snd_seq - q.len[0]));
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (r == 0)
		r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(f->tcp_rcv_seq - q.len[1]));
	if (r < 0)
		return r;
	if (bind(fd, (const struct sockaddr *)f->inet_local, addr_len(f->inet_family)) < 0 ||
	    connect(fd, (const struct sockaddr *)f->inet_remote, addr_len(f->inet_family)) < 0)
		return neg_errno();
	opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, f->tcp_mss };
	if (f->tcp_options & TCPI_OPT_WSCALE)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
							f->tcp_snd_wscale | f->tcp_rcv_wscale << 16 };
	if (f->tcp_options & TCPI_OPT_SACK)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (f->tcp_options & TCPI_OPT_TIMESTAMPS)
		opts[nopt++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, nopt * sizeof(opts[0])) < 0)
		return neg_errno();
	if (f->tcp_options & TCPI_OPT_TIMESTAMPS)
		set_int(fd, SOL_TCP, TCP_TIMESTAMP, (int)f->tcp_timestamp);
	/* What was sent but not acknowledged, what arrived but was not read. */
	for (int i = 0; i < 2; i++) {
		r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, i == 0 ? TCP_SEND_QUEUE : TCP_RECV_QUEUE);
		if (r < 0)
			return r;
		for (uint32_t done = 0; done < q.len[i];) {
			ssize_t n = send(fd, q.data[i] + done, q.len[i] - done, MSG_NOSIGNAL);

			if (n <= 0)
				return n < 0 ? neg_errno() : -EIO;
			done += n;
		}
	}
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, f->tcp_window, sizeof(f->tcp_window)) < 0)
		return neg_errno();
	/* Repair mode ends once every socket exists (repair_done): a probe sent
	 * now to a peer not yet rebuilt would be answered with a reset. */
	return 0;
}

/* Every connection is whole: out of repair mode, each sends its window probe. */
static int repair_done(const struct computation *c, const struct desc_table *t)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd, r;

			if (f->kind != FD_INET || f->sock_type != SOCK_STREAM ||
			    f->inet_state != TCP_ESTABLISHED || f->tcp_drained)
				continue;
			fd = descs_lookup(t, f->desc_id);
			if (fd < 0)
				continue;
			/*
			 * The socket exists again: the peer's packets may come in;
			 * unless the peer is a host of ours not restored yet, whose
			 * kernel would answer with a reset: locked until all are.
			 */
			if (fd_record_peer_outside(c, f) && t->hold_netlock)
				netlock_add(f->inet_local, f->inet_remote);
			else if (fd_record_peer_outside(c, f))
				netlock_del(f->inet_local, f->inet_remote);
			r = tcp_set_repair(fd, TCP_REPAIR_OFF);
			if (r == -EINVAL)
				continue;	/* another fd of the same socket did it */
			if (r == 0)
				r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, (int)f->sock_reuseaddr);
			if (r < 0)
				return r;
		}
	return 0;
}

/*
 * Connections of the program that was dumped hold the port in TIME_WAIT,
 * and they had no SO_REUSEADDR (so ours does not help): destroyed with
 * CAP_NET_ADMIN, else waited out (a minute at most after they closed; the
 * other hosts of a restore wait as long for this one).
 */
#define TIMEWAIT_WAIT_MS 65000

static int bind_past_timewait(int fd, const struct fd_record *f)
{
	char where[INET_ADDR_STR_MAX];
	int waited = 0;

	if (timewait_clear(f->inet_local) > 0 &&
	    bind(fd, (const struct sockaddr *)f->inet_local, addr_len(f->inet_family)) == 0)
		return 0;
	inet_addr_str(f->inet_local, where, sizeof(where));
	while (timewait_count(f->inet_local) > 0 && waited < TIMEWAIT_WAIT_MS) {
		struct timespec ts = { 0, 100 * 1000000L };

		if (!waited)
			log_warn("fd %d: %s is held by the old connections' TIME_WAIT, which only "
				 "CAP_NET_ADMIN could end: waiting for it to expire (up to %d s)",
				 f->fd, where, TIMEWAIT_WAIT_MS / 1000);
		nanosleep(&ts, NULL);
		waited += 100;
		if (bind(fd, (const struct sockaddr *)f->inet_local, addr_len(f->inet_family)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return neg_errno();
	}
	return -EADDRINUSE;
}

static int open_inet(const struct fd_record *f)
{
	_cleanup_close_ int fd = socket((int)f->inet_family, (int)f->sock_type | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return neg_errno();
	if (f->sock_sndbuf)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, (int)f->sock_sndbuf / 2);
	if (f->sock_rcvbuf)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, (int)f->sock_rcvbuf / 2);
	if (f->sock_keepalive)
		set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (f->inet_family == AF_INET6 && f->sock_v6only)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (f->sock_type == SOCK_STREAM && f->sock_nodelay)
		set_int(fd, SOL_TCP, TCP_NODELAY, 1);
	if (f->sock_type == SOCK_STREAM && f->inet_state == TCP_ESTABLISHED) {
		r = repair_tcp(f, fd);
		return r < 0 ? r : TAKE_FD(fd);
	}
	/*
	 * The connections of the program that was dumped may still hold its
	 * port in TIME_WAIT (an ordinary user cannot end them: no
	 * CAP_NET_ADMIN, and their peers may be on other hosts): SO_REUSEADDR
	 * lets a TCP socket bind past them, never past a listener.  The
	 * program's own setting is put back once bound and listening.
	 */
	if (f->sock_reuseaddr || f->sock_type == SOCK_STREAM)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (addr_has_port(f->inet_local, f->inet_family) &&
	    bind(fd, (const struct sockaddr *)f->inet_local, addr_len(f->inet_family)) < 0) {
		r = neg_errno();
		if (r == -EADDRINUSE && f->sock_type == SOCK_STREAM)
			r = bind_past_timewait(fd, f);
		if (r < 0) {
			char where[INET_ADDR_STR_MAX];

			inet_addr_str(f->inet_local, where, sizeof(where));
			return log_ret(r, "fd %d: binding %s again: %s", f->fd, where, strerror(-r));
		}
	}
	if (f->sock_type == SOCK_STREAM && f->inet_state == TCP_LISTEN &&
	    listen(fd, (int)f->inet_backlog) < 0) {
		r = neg_errno();
		if (r == -EADDRINUSE && timewait_clear(f->inet_local) > 0 &&
		    listen(fd, (int)f->inet_backlog) == 0)
			r = 0;
		if (r < 0)
			return r;
	}
	if (f->sock_type == SOCK_STREAM && !f->sock_reuseaddr)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 0);
	if (f->sock_type == SOCK_DGRAM && addr_set(f->inet_remote) &&
	    connect(fd, (const struct sockaddr *)f->inet_remote, addr_len(f->inet_family)) < 0) {
		char where[INET_ADDR_STR_MAX];

		r = neg_errno();
		inet_addr_str(f->inet_remote, where, sizeof(where));
		return log_ret(r, "fd %d: UDP peer %s again: %s", f->fd, where, strerror(-r));
	}
	return r < 0 ? r : TAKE_FD(fd);
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
static int open_inotify(const struct fd_record *f)
{
	_cleanup_free_ struct watch_ref *w = NULL;
	_cleanup_close_ int fd = -1;
	char dummy[64] = "";
	size_t n = 0, off = 0;
	int next_wd = 1;

	fd = inotify_init1(IN_CLOEXEC | (f->flags & O_NONBLOCK ? IN_NONBLOCK : 0));
	if (fd < 0)
		return neg_errno();
	while (off + sizeof(struct inotify_watch_hdr) <= f->inotify_watches_len) {
		struct inotify_watch_hdr h;
		struct watch_ref *g;

		memcpy(&h, f->inotify_watches + off, sizeof(h));
		off += sizeof(h);
		if (!h.path_len || off + h.path_len > f->inotify_watches_len ||
		    f->inotify_watches[off + h.path_len - 1])
			return -EBADMSG;
		g = realloc(w, (n + 1) * sizeof(*w));
		if (!g)
			return -ENOMEM;
		w = g;
		w[n++] = (struct watch_ref){ h.wd, h.mask, (const char *)f->inotify_watches + off };
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

static unsigned int inet_port(const struct fd_record *f)
{
	const struct sockaddr *sa = (const void *)f->inet_local;

	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* Both ends of a drained connection at once, each in the table under its description. */
static int open_drained(const struct computation *c, struct desc_table *t, pid_t pid,
			const struct fd_record *f, char *err, size_t errlen)
{
	const struct fd_record *peer = NULL;
	int a = -1, b = -1, r;

	r = tcpdrain_connect(c, t, pid, f, &peer, &a, &b, err, errlen);
	if (r < 0)
		return r;
	r = dup_with_flags(a, f->flags);
	close(a);
	if (r >= 0)
		r = add_desc(t, f->desc_id, r);
	/* No peer: it had closed, and the restore played its part. */
	if (r >= 0 && peer && descs_lookup(t, peer->desc_id) < 0) {
		r = dup_with_flags(b, peer->flags);
		if (r >= 0)
			r = add_desc(t, peer->desc_id, r);
	}
	if (b >= 0)
		close(b);
	if (r < 0)
		snprintf(err, errlen, "pid %d fd %d: TCP connection: %s", pid, f->fd, strerror(-r));
	return r < 0 ? r : 0;
}

/* The drained connections to other hosts, made with their restores. */
static int open_remote(const struct computation *c, struct desc_table *t, char *err,
		       size_t errlen)
{
	_cleanup_free_ struct tcpdrain_made *made = NULL;
	size_t n = 0;
	int r = tcpdrain_connect_remote(c, t, &made, &n, err, errlen);

	for (size_t i = 0; i < n; i++) {
		int fd = r < 0 ? -1 : dup_with_flags(made[i].fd, made[i].f->flags);

		close(made[i].fd);
		if (r < 0)
			continue;
		r = fd < 0 ? fd : add_desc(t, made[i].f->desc_id, fd);
		if (r < 0)
			snprintf(err, errlen, "pid %d fd %d: TCP connection: %s", made[i].pid,
				 made[i].f->fd, strerror(-r));
	}
	return r;
}

static const char *desc_kind_name(uint32_t kind)
{
	switch (kind) {
	case FD_PIPE:
		return "pipe";
	case FD_UNIX:
		return "unix socket";
	case FD_INET:
		return "inet socket";
	case FD_TTY:
		return "terminal";
	case FD_DEAD_END:
		return "dead end";
	default:
		return "?";
	}
}

static int open_desc(const struct computation *c, struct desc_table *t,
		     const struct fd_record *f, struct pipe_pair **pipes, size_t *nr_pipes,
		     struct unix_state *us, struct tty_state *ts)
{
	int fd, want;

	switch (f->kind) {
	case FD_INET: {
		int r;

		fd = open_inet(f);
		if (fd < 0)
			return fd;
		r = dup_with_flags(fd, f->flags);
		close(fd);
		return r;
	}
	case FD_INOTIFY:
		return open_inotify(f);
	case FD_UNIX: {
		int r;

		fd = unix_open(c, t, f, us);
		if (fd < 0)
			return fd;
		r = dup_with_flags(fd, f->flags);
		close(fd);
		return r;
	}
	case FD_DEAD_END: {
		int sv[2], r;
		struct stat st;
		int *nf;
		uint64_t *ni;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return neg_errno();
		nf = realloc(t->dead_ends, (t->nr_dead_ends + 1) * sizeof(*nf));
		if (nf)
			t->dead_ends = nf;
		ni = nf ? realloc(t->dead_end_inos, (t->nr_dead_ends + 1) * sizeof(*ni)) : NULL;
		if (ni)
			t->dead_end_inos = ni;
		if (!nf || !ni || fstat(sv[0], &st) < 0) {
			close(sv[0]);
			close(sv[1]);
			return -ENOMEM;
		}
		t->dead_ends[t->nr_dead_ends] = sv[1];
		t->dead_end_inos[t->nr_dead_ends++] = st.st_ino;
		r = dup_with_flags(sv[0], f->flags);
		close(sv[0]);
		return r;
	}
	case FD_TTY: {
		int r;

		fd = tty_open(c, f, ts);
		if (fd < 0)
			return fd;
		r = dup_with_flags(fd, f->flags);
		close(fd);
		return r;
	}
	case FD_EVENTFD:
		return open_eventfd(f);
	case FD_SIGNALFD:
		return open_signalfd(f);
	case FD_TIMERFD:
		return open_timerfd(f);
	case FD_EPOLL:
		/* Its interest list is rebuilt by the process, once its fds are in place. */
		fd = epoll_create1(EPOLL_CLOEXEC);
		return fd < 0 ? neg_errno() : fd;
	case FD_STDIO:
		fd = fcntl(f->stdio_index, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? neg_errno() : fd;
	case FD_DEVICE:
		fd = open(f->path, (f->flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC);
		return fd < 0 ? neg_errno() : fd;
	case FD_REGULAR:
		return open_regular(t, f);
	case FD_PIPE: {
		struct pipe_pair *pp = NULL;
		int r;

		for (size_t i = 0; i < *nr_pipes; i++)
			if ((*pipes)[i].ino == f->pipe_ino)
				pp = &(*pipes)[i];
		if (!pp) {
			struct pipe_pair *n = realloc(*pipes, (*nr_pipes + 1) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			*pipes = n;
			pp = &n[(*nr_pipes)++];
			*pp = (struct pipe_pair){ .rfd = -1, .wfd = -1 };
			r = open_pipe(c, f, pp);
			if (r < 0)
				return r;
		}
		want = (f->flags & O_ACCMODE) == O_RDONLY ? pp->rfd : pp->wfd;
		return dup_with_flags(want, f->flags);
	}
	default:
		return -EOPNOTSUPP;
	}
}

void descs_quiesce(const struct computation *c, const struct desc_table *t)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd;

			if (f->kind != FD_INET || f->sock_type != SOCK_STREAM ||
			    f->inet_state != TCP_ESTABLISHED || f->tcp_drained ||
			    (fd = descs_lookup(t, f->desc_id)) < 0)
				continue;
			tcp_set_repair(fd, TCP_REPAIR_ON);
		}
}

void descs_unlock_peers(const struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind == FD_INET && f->sock_type == SOCK_STREAM &&
			    f->inet_state == TCP_ESTABLISHED && !f->tcp_drained &&
			    fd_record_peer_outside(c, f))
				netlock_del(f->inet_local, f->inet_remote);
		}
}

int descs_highest_fd(const struct computation *c)
{
	int max = 2;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++)
			if (!c->procs[i].fds[k].in_flight)
				max = MAX(max, (int)c->procs[i].fds[k].fd);
	return max;
}

int descs_lookup(const struct desc_table *t, uint32_t desc_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].desc_id == desc_id)
			return t->v[i].fd;
	return -1;
}

int descs_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen)
{
	_cleanup_free_ struct pipe_pair *pipes = NULL;
	struct unix_state us = { 0 };
	struct tty_state ts = { 0 };
	size_t nr_pipes = 0;
	bool hold = t->hold_netlock;
	int r = 0;

	memset(t, 0, sizeof(*t));
	t->hold_netlock = hold;
	t->base = descs_highest_fd(c) + 1;
	/* Shared memory first: an fd on a memfd opens the object its mappings share. */
	r = shms_open(c, t, err, errlen);
	/*
	 * Listeners (and bound unix sockets) first: connections accepted from
	 * them share their port or are made by connecting to them; last, the
	 * connections a unix listener had not accepted yet, behind those it had.
	 */
	for (int pass = 0; pass < 3; pass++)
	for (size_t i = 0; i < c->nr_procs && r == 0; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_fds && r == 0; k++) {
			const struct fd_record *f = &p->fds[k];
			int fd, want = f->kind == FD_INET ? (f->inet_state == TCP_LISTEN ? 0 : 1)
							  : unix_pass(c, f);

			if (pass != want)
				continue;

			if (!f->desc_id) {
				snprintf(err, errlen, "pid %d fd %d: no open file description in the image",
					 p->pid, f->fd);
				r = -EBADMSG;
				break;
			}
			if (descs_lookup(t, f->desc_id) >= 0)
				continue;
			/* After every listener of every host is up (open_remote). */
			if (f->kind == FD_INET && f->tcp_drained && f->tcp_remote)
				continue;
			if (f->kind == FD_INET && f->tcp_drained) {
				r = open_drained(c, t, p->pid, f, err, errlen);
				continue;
			}
			fd = open_desc(c, t, f, &pipes, &nr_pipes, &us, &ts);
			if (fd == -EADDRINUSE && f->kind == FD_INET) {
				r = fd;
				snprintf(err, errlen, "pid %d fd %d: port %u/%s is in use on this host: "
					 "free it, or restore elsewhere (check DIR names every port)",
					 p->pid, f->fd, inet_port(f),
					 f->sock_type == SOCK_STREAM ? "tcp" : "udp");
				break;
			}
			if (fd < 0) {
				r = fd;
				bool abstract = f->sock_name_len && !f->sock_name[0];

				snprintf(err, errlen, "pid %d fd %d: %s%s%.*s: %s", p->pid, f->fd,
					 f->path ? f->path : desc_kind_name(f->kind),
					 !f->sock_name_len ? "" : abstract ? " @" : " ",
					 (int)f->sock_name_len - abstract,
					 f->sock_name_len ? (const char *)f->sock_name + abstract : "",
					 strerror(-r));
				break;
			}
			r = locks_take_on_desc(f, fd);
			if (r < 0) {
				snprintf(err, errlen, "pid %d fd %d: lock on %s: %s", p->pid, f->fd,
					 f->path ? f->path : "?",
					 r == -EAGAIN ? "held by another process" : strerror(-r));
				close(fd);
				break;
			}
			r = add_desc(t, f->desc_id, fd);
		}
	}
	for (size_t i = 0; i < nr_pipes; i++) {
		closep(&pipes[i].rfd);
		closep(&pipes[i].wfd);
	}
	if (r == 0)
		r = open_remote(c, t, err, errlen);
	if (r == 0)
		r = unix_refill_deferred(c, t, &us, err, errlen);
	unix_state_clear(&us);
	if (r == 0)
		r = udp_refill_queues(c, t, err, errlen);
	if (r == 0)
		r = tcpdrain_refill(c, t, err, errlen);
	if (r == 0)
		tty_state_finish(c, &ts);
	tty_state_clear(&ts);
	if (r == 0 && (r = repair_done(c, t)) < 0)
		snprintf(err, errlen, "TCP connections: leaving repair mode: %s", strerror(-r));
	if (r < 0)
		descs_close(t);
	return r;
}

void descs_close(struct desc_table *t)
{
	for (size_t i = 0; i < t->nr_dead_ends; i++)
		if (t->dead_ends[i] >= 0)
			close(t->dead_ends[i]);
	free(t->dead_ends);
	free(t->dead_end_inos);
	t->dead_ends = NULL;
	t->dead_end_inos = NULL;
	t->nr_dead_ends = 0;
	for (size_t i = 0; i < t->n; i++)
		close(t->v[i].fd);
	shms_close(t);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* In the process: its epoll fds watch what they watched, by its own fd numbers. */
static int restore_epoll_watches(const struct process_record *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];
		const struct epoll_watch *w = (const void *)f->epoll_watches;
		size_t n = f->epoll_watches_len / sizeof(*w);

		if (f->kind != FD_EPOLL)
			continue;
		for (size_t k = 0; k < n; k++) {
			struct epoll_event ev = { .events = w[k].events, .data.u64 = w[k].data };

			/* A shared epoll fd was filled by the first process that has it. */
			if (epoll_ctl(f->fd, EPOLL_CTL_ADD, w[k].tfd, &ev) < 0 && errno != EEXIST) {
				int r = neg_errno();

				snprintf(err, errlen, "pid %d fd %d: epoll watch of fd %d: %s", p->pid,
					 f->fd, w[k].tfd, strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

int restore_fds(const struct process_record *p, const struct desc_table *t, char *err,
		size_t errlen)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];
		int fd = descs_lookup(t, f->desc_id);

		if (f->in_flight)
			continue;	/* sent again into its socket, not installed */
		if (fd < 0) {
			snprintf(err, errlen, "pid %d fd %d: no description %u", p->pid, f->fd,
				 f->desc_id);
			return -ENOENT;
		}
		/* dup2 leaves FD_CLOEXEC clear: the stub must inherit every fd. */
		if (dup2(fd, f->fd) < 0) {
			int r = neg_errno();

			snprintf(err, errlen, "pid %d fd %d: dup2: %s", p->pid, f->fd, strerror(-r));
			return r;
		}
	}
	return restore_epoll_watches(p, err, errlen);
}
