/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "restorer/fdtable.h"
#include "restorer/tty.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ptyqueue.h"

#define PTS_MAJOR_FIRST 136
#define PTS_MAJOR_LAST 143

/* The record of pty `index` that holds what the pty itself had: a master. */
static const struct fd_record *pty_record(const struct computation *c, uint32_t index,
					  bool with_content)
{
	const struct fd_record *any = NULL;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind != FD_TTY || f->tty.kind != TTY_MASTER || f->tty.index != index)
				continue;
			if (!with_content || f->content)
				return f;
			any = any ? any : f;
		}
	return any;
}

static int read_queues(const struct fd_record *m, struct pty_queues *q)
{
	_cleanup_close_ int src = -1;
	uint64_t off, size;
	uint32_t len;
	int r;

	memset(q, 0, sizeof(*q));
	if (!m->content || m->content_len <= 2 * sizeof(len))
		return 0;
	src = fd_content_open(m, &off, &size);
	if (src < 0)
		return src;
	q->out = malloc(size);
	q->in = malloc(size);
	if (!q->out || !q->in)
		return -ENOMEM;
	r = pread_full(src, &len, sizeof(len), (off_t)off);
	if (r < 0)
		return r;
	if (len > size - 2 * sizeof(len))
		return -EBADMSG;
	q->out_len = len;
	r = pread_full(src, q->out, len, (off_t)(off + sizeof(len)));
	if (r == 0)
		r = pread_full(src, &len, sizeof(len), (off_t)(off + sizeof(len) + q->out_len));
	if (r < 0)
		return r;
	if (len > size - 2 * sizeof(len) - q->out_len)
		return -EBADMSG;
	q->in_len = len;
	return pread_full(src, q->in, len, (off_t)(off + 2 * sizeof(len) + q->out_len));
}

static int make_pty(const struct fd_record *m)
{
	_cleanup_close_ int master = -1, slave = -1;
	struct pty_queues q;
	struct termios tio;
	struct winsize ws = { (unsigned short)m->tty.rows, (unsigned short)m->tty.cols,
			      (unsigned short)m->tty.xpixel, (unsigned short)m->tty.ypixel };
	int zero = 0, one = 1, r;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return neg_errno();
	if (ioctl(master, TIOCSPTLCK, &zero) < 0)
		return neg_errno();
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return neg_errno();
	if (m->tty.termios_len == sizeof(tio)) {
		memcpy(&tio, m->tty.termios, sizeof(tio));
		if (tcsetattr(slave, TCSANOW, &tio) < 0)
			return neg_errno();
	} else if (tcgetattr(slave, &tio) < 0) {
		return neg_errno();
	}
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return neg_errno();
	if (m->tty.packet && ioctl(master, TIOCPKT, &one) < 0)
		return neg_errno();
	r = read_queues(m, &q);
	if (r == 0)
		r = pty_queues_put(master, slave, &tio, &q);
	pty_queues_free(&q);
	if (r < 0)
		return r;
	return TAKE_FD(master);
}

static int pty_master(const struct computation *c, uint32_t index, struct tty_state *ts)
{
	const struct fd_record *m;
	struct tty_made *n;
	int fd;

	for (size_t i = 0; i < ts->n; i++)
		if (ts->v[i].index == index)
			return ts->v[i].master;
	m = pty_record(c, index, true);
	if (!m)
		return -ENOENT;
	fd = make_pty(m);
	if (fd < 0)
		return fd;
	n = realloc(ts->v, (ts->n + 1) * sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	ts->v = n;
	ts->v[ts->n++] = (struct tty_made){ index, fd };
	return fd;
}

/* Our own terminal: the first of stdin, stdout, stderr that is one. */
static int our_terminal(void)
{
	for (int i = 0; i < 3; i++)
		if (isatty(i))
			return i;
	return -1;
}

int tty_open(const struct computation *c, const struct fd_record *f, struct tty_state *ts)
{
	int master, fd;

	switch (f->tty.kind) {
	case TTY_TERMINAL:
		fd = our_terminal();
		if (fd >= 0)
			fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		else
			fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		/* ENOTTY: the program had a terminal and this restore has none. */
		return fd < 0 ? (errno == ENXIO ? -ENOTTY : neg_errno()) : fd;
	case TTY_MASTER:
	case TTY_SLAVE:
		master = pty_master(c, f->tty.index, ts);
		if (master < 0)
			return master;
		if (f->tty.kind == TTY_MASTER)
			fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
		else
			fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		return fd < 0 ? neg_errno() : fd;
	default:
		return -EOPNOTSUPP;
	}
}

void tty_state_finish(const struct computation *c, struct tty_state *ts)
{
	int one = 1;

	for (size_t i = 0; i < ts->n; i++) {
		const struct fd_record *m = pty_record(c, ts->v[i].index, false);

		if (m && m->tty.locked && ioctl(ts->v[i].master, TIOCSPTLCK, &one) < 0)
			log_warn("pty %u: locking it again: %m", ts->v[i].index);
	}
}

void tty_state_clear(struct tty_state *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		close(ts->v[i].master);
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
}

static bool is_pts(uint64_t dev)
{
	return major(dev) >= PTS_MAJOR_FIRST && major(dev) <= PTS_MAJOR_LAST;
}

/* A slave of pty `index` in this process: one of the inherited descriptions. */
static int pty_slave_here(const struct computation *c, const struct desc_table *t,
			  uint32_t index)
{
	const struct fd_record *m = NULL;
	int fd;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (f->kind != FD_TTY || f->tty.index != index ||
			    (fd = descs_lookup(t, f->desc_id)) < 0)
				continue;
			if (f->tty.kind == TTY_SLAVE)
				return fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (f->tty.kind == TTY_MASTER && !m)
				m = f;
		}
	/* No process holds the slave open: through the master. */
	if (m && (fd = descs_lookup(t, m->desc_id)) >= 0)
		return ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	return -1;
}

void tty_join_process(const struct computation *c, const struct desc_table *t,
		      const struct process_record *p)
{
	sigset_t ttou, old;

	/* The controlling terminal, if it is a pty of ours and p leads the session. */
	if (p->sid == p->pid && is_pts(p->ctty_dev)) {
		uint32_t index = (major(p->ctty_dev) - PTS_MAJOR_FIRST) * 256 + minor(p->ctty_dev);
		int fd = pty_record(c, index, false) ? pty_slave_here(c, t, index) : -1;

		if (fd >= 0 && ioctl(fd, TIOCSCTTY, 0) < 0)
			log_warn("pid %d: pty %u as controlling terminal: %m", p->pid, index);
		if (fd >= 0)
			close(fd);
	}
	if (p->pgid != p->pid)
		return;
	/* The foreground of each of our ptys whose foreground group p leads. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			int fd;

			if (f->kind != FD_TTY || f->tty.kind != TTY_MASTER || f->tty.fg_pgrp != p->pid)
				continue;
			fd = pty_slave_here(c, t, f->tty.index);
			if (fd >= 0 && tcsetpgrp(fd, p->pid) < 0)
				log_warn("pid %d: foreground of pty %u: %m", p->pid, f->tty.index);
			if (fd >= 0)
				close(fd);
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The program's record of its outside terminal: one with a foreground group first. */
static const struct fd_record *terminal_record(const struct computation *c)
{
	const struct fd_record *any = NULL;

	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];

			if (!((f->kind == FD_TTY && f->tty.kind == TTY_TERMINAL) ||
			      (f->kind == FD_STDIO && f->tty.termios_len)))
				continue;
			if (f->tty.fg_pgrp)
				return f;
			any = any ? any : f;
		}
	return any;
}

static bool on_terminal(const struct process_record *p)
{
	for (size_t k = 0; k < p->nr_fds; k++) {
		const struct fd_record *f = &p->fds[k];

		if ((f->kind == FD_TTY && f->tty.kind == TTY_TERMINAL) ||
		    (f->kind == FD_STDIO && f->tty.termios_len))
			return true;
	}
	return false;
}

int terminal_lease_take(struct terminal_lease *tl, const struct computation *c,
			pid_t (*outer_pid)(pid_t inner, void *arg), void *arg)
{
	const struct fd_record *f = terminal_record(c);
	struct termios tio;
	sigset_t ttou, old;
	int fd = our_terminal(), r = 0;

	tl->fd = -1;
	tl->fg_pgrp = 0;
	tl->winch = NULL;
	tl->nr_winch = 0;
	/* In the background (restore ... &), the terminal is not ours to give. */
	if (!f || fd < 0 || tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &tl->saved) < 0)
		return 0;
	tl->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (tl->fd < 0)
		return neg_errno();
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (f->tty.termios_len == sizeof(tio)) {
		memcpy(&tio, f->tty.termios, sizeof(tio));
		if (tcsetattr(tl->fd, TCSANOW, &tio) < 0)
			r = neg_errno();
	}
	if (r == 0 && f->tty.fg_pgrp) {
		tl->fg_pgrp = outer_pid(f->tty.fg_pgrp, arg);
		if (tl->fg_pgrp > 0 && tcsetpgrp(tl->fd, tl->fg_pgrp) < 0)
			r = neg_errno();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* A full-screen program redraws when it hears of a new size. */
	tl->winch = calloc(c->nr_procs, sizeof(*tl->winch));
	for (size_t i = 0; tl->winch && i < c->nr_procs; i++)
		if (!c->procs[i].zombie && on_terminal(&c->procs[i]))
			tl->winch[tl->nr_winch++] = outer_pid(c->procs[i].pid, arg);
	return r;
}

void terminal_lease_started(const struct terminal_lease *tl)
{
	if (tl->fd < 0)
		return;
	if (tl->fg_pgrp > 0)
		kill(-tl->fg_pgrp, SIGWINCH);
	for (size_t i = 0; i < tl->nr_winch; i++)
		if (tl->winch[i] > 0)
			kill(tl->winch[i], SIGWINCH);
}

void terminal_lease_return(struct terminal_lease *tl)
{
	sigset_t ttou, old;

	free(tl->winch);
	tl->winch = NULL;
	tl->nr_winch = 0;
	if (tl->fd < 0)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(tl->fd, getpgrp());
	tcsetattr(tl->fd, TCSADRAIN, &tl->saved);
	sigprocmask(SIG_SETMASK, &old, NULL);
	closep(&tl->fd);
}
