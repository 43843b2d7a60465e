/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of terminals.  A pty whose master is in the computation is
 * saved whole (termios, window size, lock and packet mode, foreground group,
 * the bytes waiting in both directions) and re-created at restore; any other
 * terminal (the user's, a pty held by tmux or sshd) is saved as "the
 * terminal": termios and foreground group, to be put onto the terminal of
 * the restoring command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/pidns.h"
#include "tracer/session.h"
#include "tracer/tty.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ptyqueue.h"

#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define TTY_ALIAS_MINOR 0	/* /dev/tty: the caller's controlling terminal */
#define PTS_MAJOR_FIRST 136
#define PTS_MAJOR_LAST 143

static bool is_pts(dev_t rdev)
{
	return major(rdev) >= PTS_MAJOR_FIRST && major(rdev) <= PTS_MAJOR_LAST;
}

static uint32_t pts_index(dev_t rdev)
{
	return (major(rdev) - PTS_MAJOR_FIRST) * 256 + minor(rdev);
}

/* A pid the supervisor sees, as the computation sees it; 0 when it is not in there. */
static int32_t inner_pid(struct collect_ctx *cx, pid_t outer)
{
	pid_t in = outer;

	if (outer <= 0)
		return 0;
	if (cx->s->init_pid && pidns_inner_pid(outer, &in) < 0)
		return 0;
	return in;
}

/* termios, window size and foreground group of the terminal h. */
static int read_tty_state(struct collect_ctx *cx, struct fd_record *f, int h)
{
	struct termios tio;
	struct winsize ws;
	pid_t pgrp = 0, sid = 0;

	if (tcgetattr(h, &tio) < 0)
		return collect_fail(cx, neg_errno(), "fd %d: terminal: tcgetattr", f->fd);
	f->tty.termios = malloc(sizeof(tio));
	if (!f->tty.termios)
		return -ENOMEM;
	memcpy(f->tty.termios, &tio, sizeof(tio));
	f->tty.termios_len = sizeof(tio);
	if (ioctl(h, TIOCGWINSZ, &ws) == 0) {
		f->tty.rows = ws.ws_row;
		f->tty.cols = ws.ws_col;
		f->tty.xpixel = ws.ws_xpixel;
		f->tty.ypixel = ws.ws_ypixel;
	}
	/* Only a controlling terminal has them (ENOTTY otherwise). */
	if (ioctl(h, TIOCGPGRP, &pgrp) == 0)
		f->tty.fg_pgrp = inner_pid(cx, pgrp);
	if (ioctl(h, TIOCGSID, &sid) == 0)
		f->tty.sid = inner_pid(cx, sid);
	return 0;
}

int collect_tty_state(struct collect_ctx *cx, struct fd_record *f)
{
	_cleanup_close_ int h = collect_fd_handle(cx, f->fd);

	if (h < 0)
		return h;
	if (!isatty(h))
		return 0;
	return read_tty_state(cx, f, h);
}

int collect_tty(struct collect_ctx *cx, struct fd_record *f, const struct stat *st,
		const char *link)
{
	_cleanup_close_ int h = -1;
	int r, v;

	h = collect_fd_handle(cx, f->fd);
	if (h < 0)
		return h;
	if (!isatty(h))
		return collect_refuse(cx, "of devices only terminals, /dev/null, zero, full, random "
				      "and urandom are kept (no other device's state can be read from "
				      "outside); " CLOSE_IT, "fd %d: character device %s", f->fd, link);
	f->kind = FD_TTY;
	f->path = strdup(link);
	if (!f->path)
		return -ENOMEM;
	if (major(st->st_rdev) == PTMX_MAJOR && minor(st->st_rdev) == PTMX_MINOR) {
		unsigned int n;

		f->tty.kind = TTY_MASTER;
		if (ioctl(h, TIOCGPTN, &n) < 0)
			return collect_fail(cx, neg_errno(), "fd %d: pty master: TIOCGPTN", f->fd);
		f->tty.index = n;
		if (ioctl(h, TIOCGPTLCK, &v) == 0)
			f->tty.locked = !!v;
		if (ioctl(h, TIOCGPKT, &v) == 0)
			f->tty.packet = !!v;
		r = read_tty_state(cx, f, h);
		/* Kept for the queues, taken once per pty in collect_ttys. */
		if (r == 0)
			f->tty.hold_fd = TAKE_FD(h);
		return r;
	}
	if (is_pts(st->st_rdev)) {
		f->tty.kind = TTY_SLAVE;
		f->tty.index = pts_index(st->st_rdev);
	} else {
		/* /dev/tty, a console, a serial line: a terminal outside. */
		f->tty.kind = TTY_TERMINAL;
	}
	return read_tty_state(cx, f, h);
}

static struct fd_record *find_master(struct computation *c, uint32_t index)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind == FD_TTY && f->tty.kind == TTY_MASTER && f->tty.index == index)
				return f;
		}
	return NULL;
}

static bool is_our_group(const struct computation *c, pid_t pgrp)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		if (c->procs[i].pgid == pgrp)
			return true;
	return false;
}

/* Both queues of the pty whose master is m, into a memfd m's image content comes from. */
static int take_queues(struct fd_record *m, char *err, size_t errlen)
{
	_cleanup_close_ int slave = -1, mem = -1;
	struct pty_queues q;
	struct termios tio;
	uint32_t len;
	int r;

	slave = ioctl(m->tty.hold_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || tcgetattr(slave, &tio) < 0) {
		r = neg_errno();
		snprintf(err, errlen, "fd %d: pty %u: opening its slave: %s", m->fd, m->tty.index,
			 strerror(-r));
		return r;
	}
	r = pty_queues_take(m->tty.hold_fd, slave, &tio, &q);
	if (r < 0) {
		snprintf(err, errlen, "fd %d: pty %u: reading its queues: %s", m->fd,
			 m->tty.index, strerror(-r));
		pty_queues_free(&q);
		return r;
	}
	mem = memfd_create("trace-ckpt-ptyq", MFD_CLOEXEC);
	r = mem < 0 ? neg_errno() : 0;
	len = (uint32_t)q.out_len;
	if (r == 0 && (r = write_full(mem, &len, sizeof(len))) == 0 &&
	    (r = write_full(mem, q.out, q.out_len)) == 0) {
		len = (uint32_t)q.in_len;
		if ((r = write_full(mem, &len, sizeof(len))) == 0)
			r = write_full(mem, q.in, q.in_len);
	}
	if (r < 0) {
		/* They must not be lost: straight back. */
		pty_queues_put(m->tty.hold_fd, slave, &tio, &q);
		pty_queues_free(&q);
		snprintf(err, errlen, "fd %d: pty %u: saving its queues: %s", m->fd, m->tty.index,
			 strerror(-r));
		return r;
	}
	m->size = 2 * sizeof(len) + q.out_len + q.in_len;
	m->content_fd = TAKE_FD(mem);
	pty_queues_free(&q);
	return 0;
}

int collect_ttys(struct computation *c, char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; i < c->nr_procs; i++) {
		struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_fds; k++) {
			struct fd_record *f = &p->fds[k];

			if (f->kind != FD_TTY && !(f->kind == FD_STDIO && f->tty.termios))
				continue;
			if (f->tty.fg_pgrp && !is_our_group(c, f->tty.fg_pgrp))
				f->tty.fg_pgrp = 0;
			if (f->kind != FD_TTY)
				continue;
			/* /dev/tty of a process whose terminal is a pty of ours is that pty. */
			if (f->tty.kind == TTY_TERMINAL && is_pts(p->ctty_dev) &&
			    find_master(c, pts_index(p->ctty_dev))) {
				f->tty.kind = TTY_SLAVE;
				f->tty.index = pts_index(p->ctty_dev);
			}
			if (f->tty.kind == TTY_SLAVE && !find_master(c, f->tty.index))
				f->tty.kind = TTY_TERMINAL;
		}
	}
	/* Queues once per pty, through its first master; the other handles go. */
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind != FD_TTY || f->tty.kind != TTY_MASTER || f->tty.hold_fd < 0)
				continue;
			if (find_master(c, f->tty.index) != f) {
				closep(&f->tty.hold_fd);
				continue;
			}
			r = take_queues(f, err, errlen);
			if (r < 0) {
				closep(&f->tty.hold_fd);
				return r;
			}
		}
	return 0;
}

void finish_ttys(struct computation *c, bool killed)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			struct fd_record *f = &c->procs[i].fds[k];
			_cleanup_close_ int slave = -1;
			struct pty_queues q = { 0 };
			struct termios tio;
			uint32_t len = 0;
			int r;

			if (f->kind != FD_TTY || f->tty.hold_fd < 0)
				continue;
			if (killed || f->content_fd < 0 || f->size <= 2 * sizeof(len))
				goto done;
			q.out = malloc(f->size);
			q.in = malloc(f->size);
			r = q.out && q.in ? 0 : -ENOMEM;
			if (r == 0)
				r = pread_full(f->content_fd, &len, sizeof(len), 0);
			if (r == 0 && len > f->size - 2 * sizeof(len))
				r = -EIO;
			if (r == 0 && (r = pread_full(f->content_fd, q.out, len, sizeof(len))) == 0) {
				q.out_len = len;
				r = pread_full(f->content_fd, &len, sizeof(len),
					       (off_t)(sizeof(len) + q.out_len));
			}
			if (r == 0 && len > f->size - 2 * sizeof(len) - q.out_len)
				r = -EIO;
			if (r == 0 && (r = pread_full(f->content_fd, q.in, len,
						      (off_t)(2 * sizeof(len) + q.out_len))) == 0)
				q.in_len = len;
			slave = ioctl(f->tty.hold_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
			if (r == 0 && (slave < 0 || tcgetattr(slave, &tio) < 0))
				r = neg_errno();
			if (r == 0)
				r = pty_queues_put(f->tty.hold_fd, slave, &tio, &q);
			if (r < 0)
				log_warn("pid %d fd %d: pty %u: putting its queued bytes back: %s",
					 c->procs[i].pid, f->fd, f->tty.index, strerror(-r));
			pty_queues_free(&q);
done:
			closep(&f->tty.hold_fd);
		}
}
