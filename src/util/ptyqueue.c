/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/macro.h"
#include "util/ptyqueue.h"

#define PTY_QUEUE_MAX (1u << 20)

/* Everything readable from fd now (O_NONBLOCK set on it). */
static int read_all(int fd, uint8_t **buf, size_t *len)
{
	size_t cap = 0;

	*buf = NULL;
	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			uint8_t *nb;

			if (cap >= PTY_QUEUE_MAX)
				return -EOVERFLOW;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(*buf, cap);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
		}
		n = read(fd, *buf + *len, cap - *len);
		if (n > 0) {
			*len += (size_t)n;
			continue;
		}
		/* EIO: the other side is closed and the queue is empty. */
		if (n == 0 || errno == EAGAIN || errno == EIO)
			return 0;
		if (errno != EINTR)
			return neg_errno();
	}
}

int pty_queues_take(int master, int slave, const struct termios *tio, struct pty_queues *q)
{
	struct termios raw = *tio;
	int fl, sfl, r;

	memset(q, 0, sizeof(*q));
	/* A read that finds nothing first flushes what the line discipline has not seen. */
	fl = fcntl(master, F_GETFL);
	if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0)
		return neg_errno();
	r = read_all(master, &q->out, &q->out_len);
	fcntl(master, F_SETFL, fl);
	if (r < 0) {
		pty_queues_put(master, slave, tio, q);
		return r;
	}
	/* Non-canonical for a moment: a line not finished yet is readable too. */
	sfl = fcntl(slave, F_GETFL);
	if (sfl < 0 || fcntl(slave, F_SETFL, sfl | O_NONBLOCK) < 0)
		return neg_errno();
	raw.c_lflag &= ~ICANON;
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(slave, TCSANOW, &raw) < 0) {
		r = neg_errno();
		fcntl(slave, F_SETFL, sfl);
		pty_queues_put(master, slave, tio, q);
		return r;
	}
	r = read_all(slave, &q->in, &q->in_len);
	if (tcsetattr(slave, TCSANOW, tio) < 0 && r == 0)
		r = neg_errno();
	fcntl(slave, F_SETFL, sfl);
	/* Failed half-way: what was taken goes straight back. */
	if (r < 0)
		pty_queues_put(master, slave, tio, q);
	return r;
}

/*
 * Until the line discipline has taken in what was written to the master:
 * it works in a worker.  A poll that finds nothing readable waits for that
 * worker; one that finds something means it has started, and the termios
 * lock then keeps tcsetattr() behind it.
 */
static void wait_taken_in(int slave)
{
	struct pollfd pfd = { .fd = slave, .events = POLLIN };

	while (poll(&pfd, 1, 0) < 0 && errno == EINTR)
		;
}

int pty_queues_put(int master, int slave, const struct termios *tio, const struct pty_queues *q)
{
	struct termios raw = *tio;
	int r = 0;

	if (q->out_len) {
		raw.c_oflag &= ~OPOST;
		if (tcsetattr(slave, TCSANOW, &raw) < 0)
			return neg_errno();
		r = write_full(slave, q->out, q->out_len);
	}
	if (r == 0 && q->in_len) {
		/* Taken in as before, a line not finished yet included, but
		 * not echoed or translated again. */
		raw = *tio;
		raw.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ECHOPRT | ISIG |
				 IEXTEN);
		raw.c_iflag &= ~(ICRNL | INLCR | IGNCR | ISTRIP | IXON | IUCLC);
		if (tcsetattr(slave, TCSANOW, &raw) < 0)
			return neg_errno();
		r = write_full(master, q->in, q->in_len);
		if (r == 0)
			wait_taken_in(slave);
	}
	if (tcsetattr(slave, TCSANOW, tio) < 0 && r == 0)
		r = neg_errno();
	return r;
}

void pty_queues_free(struct pty_queues *q)
{
	free(q->out);
	free(q->in);
	memset(q, 0, sizeof(*q));
}
