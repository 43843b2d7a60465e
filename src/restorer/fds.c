/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dispatch of the fd table's builder: which builder opens each kind,
 * in which pass, and what is finished once every description is open.
 * The builders are in the file of their kind (file.c, anonfd.c, inet.c,
 * unix.c, tty.c, deadend.c; shm.c for the objects memfds open); the table
 * they fill is fdtable.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/fdkind.h"
#include "restorer/anonfd.h"
#include "restorer/deadend.h"
#include "restorer/fds.h"
#include "restorer/file.h"
#include "restorer/inet.h"
#include "restorer/locks.h"
#include "restorer/procfd.h"
#include "restorer/shm.h"
#include "restorer/tcpdrain.h"
#include "restorer/tty.h"
#include "restorer/udp.h"
#include "restorer/unix.h"
#include "util/macro.h"

/* What the builders of every kind may need while descs_open runs. */
struct desc_open {
	const struct computation *c;
	struct desc_table *t;
	struct pipe_state pipes;
	struct unix_state us;
	struct tty_state ts;
};

/* How a kind is opened by descs_open: open_record or open. */
struct desc_kind {
	/*
	 * In which pass of descs_open f is opened: 0 before the others (a
	 * listener, whose connections share its port or connect to it), 2
	 * after (a unix connection not accepted yet).  NULL: 1.
	 */
	int (*pass)(const struct computation *c, const struct fd_record *f);
	/* A new fd, FD_CLOEXEC set, on a new description made from f alone. */
	int (*open_record)(const struct fd_record *f);
	/* The same for the kinds that need the table or what others made
	 * (a pipe's other end, a socket made ahead of its turn). */
	int (*open)(struct desc_open *o, const struct fd_record *f);
	/* The fd it gives has not the status flags (O_NONBLOCK...): set on a dup. */
	bool set_flags;
};

static int open_regular(struct desc_open *o, const struct fd_record *f)
{
	return file_open_regular(o->t, f);
}

static int open_pipe(struct desc_open *o, const struct fd_record *f)
{
	return pipe_open(o->c, &o->pipes, f);
}

static int open_unix(struct desc_open *o, const struct fd_record *f)
{
	return unix_open(o->c, o->t, f, &o->us);
}

static int open_tty(struct desc_open *o, const struct fd_record *f)
{
	return tty_open(o->c, f, &o->ts);
}

static int open_dead_end(struct desc_open *o, const struct fd_record *f)
{
	return dead_end_open(o->t, f);
}

static const struct desc_kind desc_kinds[] = {
	[FD_REGULAR] = { .open = open_regular },
	[FD_STDIO] = { .open_record = file_open_stdio },
	[FD_DEVICE] = { .open_record = file_open_device },
	[FD_PIPE] = { .open = open_pipe },
	[FD_EVENTFD] = { .open_record = eventfd_open },
	[FD_SIGNALFD] = { .open_record = signalfd_open },
	[FD_TIMERFD] = { .open_record = timerfd_open },
	[FD_EPOLL] = { .open_record = epoll_open },
	[FD_UNIX] = { .pass = unix_pass, .open = open_unix, .set_flags = true },
	[FD_INOTIFY] = { .open_record = inotify_open },
	[FD_INET] = { .pass = inet_pass, .open_record = inet_open, .set_flags = true },
	[FD_TTY] = { .open = open_tty, .set_flags = true },
	[FD_DEAD_END] = { .open = open_dead_end },
};

_Static_assert(ARRAY_SIZE(desc_kinds) == FD_KIND_MAX + 1, "an fd kind no builder opens");

static const struct desc_kind *desc_kind(uint32_t kind)
{
	const struct desc_kind *k = kind < ARRAY_SIZE(desc_kinds) ? &desc_kinds[kind] : NULL;

	return k && (k->open || k->open_record) ? k : NULL;
}

static int desc_pass(const struct computation *c, const struct fd_record *f)
{
	const struct desc_kind *k = desc_kind(f->kind);

	return k && k->pass ? k->pass(c, f) : 1;
}

/* What an error calls f when it has no path. */
static const char *desc_what(const struct fd_record *f)
{
	const struct fd_kind_info *k = fd_kind_info(f->kind);

	return k ? k->what : "?";
}

static int open_desc(struct desc_open *o, const struct fd_record *f)
{
	const struct desc_kind *k = desc_kind(f->kind);
	int fd, r;

	if (!k)
		return -EOPNOTSUPP;
	fd = k->open_record ? k->open_record(f) : k->open(o, f);
	if (fd < 0 || !k->set_flags)
		return fd;
	r = dup_with_flags(fd, f->flags);
	close(fd);
	return r;
}

int descs_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen)
{
	struct desc_open o = { .c = c, .t = t };
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
			int fd;

			if (pass != desc_pass(c, f) || procfd_deferred(f))
				continue;

			if (!f->desc_id) {
				snprintf(err, errlen, "pid %d fd %d: no open file description in the image",
					 p->pid, f->fd);
				r = -EBADMSG;
				break;
			}
			if (descs_lookup(t, f->desc_id) >= 0)
				continue;
			/* After every listener of every host is up (inet_open_remote). */
			if (f->kind == FD_INET && f->inet.tcp_drained && f->inet.tcp_remote)
				continue;
			if (f->kind == FD_INET && f->inet.tcp_drained) {
				r = inet_open_drained(c, t, p->pid, f, err, errlen);
				continue;
			}
			fd = open_desc(&o, f);
			if (fd == -EADDRINUSE && f->kind == FD_INET) {
				r = fd;
				snprintf(err, errlen, "pid %d fd %d: port %u/%s is in use on this host: "
					 "free it, or restore elsewhere (check DIR names every port)",
					 p->pid, f->fd, inet_port(f),
					 f->sock.type == SOCK_STREAM ? "tcp" : "udp");
				break;
			}
			if (fd < 0) {
				r = fd;
				bool abstract = f->sock.name_len && !f->sock.name[0];

				snprintf(err, errlen, "pid %d fd %d: %s%s%.*s: %s", p->pid, f->fd,
					 f->path ? f->path : desc_what(f),
					 !f->sock.name_len ? "" : abstract ? " @" : " ",
					 (int)f->sock.name_len - abstract,
					 f->sock.name_len ? (const char *)f->sock.name + abstract : "",
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
			r = descs_add(t, f->desc_id, fd);
		}
	}
	pipe_state_clear(&o.pipes);
	if (r == 0)
		r = inet_open_remote(c, t, err, errlen);
	if (r == 0)
		r = unix_refill_deferred(c, t, &o.us, err, errlen);
	unix_state_clear(&o.us);
	if (r == 0)
		r = udp_refill_queues(c, t, err, errlen);
	if (r == 0)
		r = tcpdrain_refill(c, t, err, errlen);
	if (r == 0)
		tty_state_finish(c, &o.ts);
	tty_state_clear(&o.ts);
	if (r == 0 && (r = inet_repair_done(c, t)) < 0)
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
	free(t->slots);
	t->v = NULL;
	t->slots = NULL;
	t->n = t->cap = t->nr_slots = 0;
}

int restore_fds(const struct process_record *p, const struct desc_table *t, char *err,
		size_t errlen)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		const struct fd_record *f = &p->fds[i];
		int fd = descs_lookup(t, f->desc_id);

		if (f->in_flight)
			continue;	/* sent again into its socket, not installed */
		if (procfd_deferred(f)) {
			/*
			 * Opened at release, over a placeholder that keeps the
			 * number taken until then: nothing of the restorer's or
			 * the stub's may land there.
			 */
			int hold = open("/", O_PATH | O_CLOEXEC);

			if (hold < 0 || dup2(hold, f->fd) < 0) {
				int r = neg_errno();

				snprintf(err, errlen, "pid %d fd %d: placeholder: %s", p->pid,
					 f->fd, strerror(-r));
				if (hold >= 0)
					close(hold);
				return r;
			}
			if (hold != f->fd)
				close(hold);
			else
				fcntl(hold, F_SETFD, 0);	/* it must outlive the exec */
			continue;
		}
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
	return epoll_restore_watches(p, err, errlen);
}

