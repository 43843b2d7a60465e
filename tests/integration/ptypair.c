/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ptypair: a pty pair inside the computation.  The parent holds the master
 * (posix_openpt); a child starts a session (setsid), opens the slave, which
 * becomes its controlling terminal, puts it in a mode no fresh pty has
 * (canonical, ECHO off, NOFLSH, ICRNL without IXON, 19200 baud, its own
 * INTR/ERASE/KILL/QUIT/SUSP characters, VMIN/VTIME, a 37x111 window) and
 * answers every line it reads with "ack N CHK sig=N sid= pgrp= fg= tsid=".
 *
 * The state a restore must bring back is used, not only looked at:
 *
 * - a request line is always half typed when the parent sleeps: the first
 *   part of "req N+1 CHK" sits in the slave's canonical line buffer, and
 *   ack N (the child's answer, "\r\n" by ONLCR) waits unread on the
 *   master, so a checkpoint finds data queued both ways at almost any time;
 * - the rest of a request is written after the sleep, so through the
 *   restored pty: it starts with the INTR character (the child counts its
 *   SIGINTs, which must reach the foreground group; NOFLSH keeps the half
 *   line), carries a typo erased with the ERASE character, and ends with
 *   "\r" (ICRNL makes it a newline) or "\n" in turn;
 * - the last half line is wiped with the KILL character before "quit";
 * - with ECHO on, or ONLCR off, the parent would read something else.
 *
 * Each tick the parent also checks, from the master side, the whole termios
 * (flags, speed and every c_cc), the window size, the slave's session and
 * foreground group (TIOCGSID/TIOCGPGRP on the master answer for the
 * slave), that the child's controlling tty (/proc/PID/stat) is the slave of
 * this master and that its fd is too; the child checks its termios, window
 * size, session, process group and /dev/tty on every line.  A pty that
 * comes back with another number is fine (noted on stderr) unless -s is
 * given; one that is not the same pair any more is BAD.
 *
 *   ptypair [-n TARGET] [-i INTERVAL_MS] [-s]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* posix_openpt, ptsname_r */
#endif
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#include "tc_io.h"

#define C_INTR	0x02	/* ^B; default ^C */
#define C_QUIT	0x1f	/* ^_; default ^\ */
#define C_ERASE	0x08	/* ^H; default DEL */
#define C_KILL	0x0b	/* ^K; default ^U */
#define C_SUSP	0x19	/* ^Y; default ^Z */
#define C_VMIN	3
#define C_VTIME	7
#define WS_ROWS	37
#define WS_COLS	111
#define WS_XPIX	888
#define WS_YPIX	666
#define SPEED	B19200

/* polls of 100 ms with nothing to read before the parent gives up: a count,
 * not a deadline, so that the time an image spends on disk does not count */
#define EMPTY_POLLS 300

static volatile sig_atomic_t sigints;
static int strict;	/* -s: the pty must keep its number */

static void on_sigint(int sig)
{
	(void)sig;
	sigints++;
}

/* a line with its control characters visible, for BAD messages */
static const char *show(const char *s, size_t len)
{
	static char buf[4][512];
	static int k;
	char *out = buf[k++ & 3];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < sizeof(buf[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static unsigned long long req_check(long n)
{
	return tc_mix((uint64_t)n) % 1000000;
}

static int req_line(long n, char *buf, size_t len)
{
	return snprintf(buf, len, "req %ld %06llu", n, req_check(n));
}

/* where request n is cut: 1 .. len-1 characters are sent before the sleep */
static size_t req_cut(long n, size_t len)
{
	return 1 + (size_t)(tc_mix((uint64_t)n ^ 0x5a5a) % (len - 1));
}

static void ack_line(char *buf, size_t len, long n, long sigs, pid_t child)
{
	snprintf(buf, len, "ack %ld %06llu sig=%ld sid=%d pgrp=%d fg=%d tsid=%d", n,
		 req_check(n), sigs, (int)child, (int)child, (int)child, (int)child);
}

/* ---------------------------------------------------------------- the child */

struct child_ref {
	struct termios tio;
	struct winsize ws;
	dev_t rdev;
};

static int termios_eq(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       a->c_line == b->c_line && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

static void termios_diff(const char *who, const struct termios *now, const struct termios *was)
{
	if (now->c_iflag != was->c_iflag)
		tc_bad("%s: termios c_iflag %#o, was %#o", who, now->c_iflag, was->c_iflag);
	if (now->c_oflag != was->c_oflag)
		tc_bad("%s: termios c_oflag %#o, was %#o", who, now->c_oflag, was->c_oflag);
	if (now->c_cflag != was->c_cflag)
		tc_bad("%s: termios c_cflag %#o, was %#o", who, now->c_cflag, was->c_cflag);
	if (now->c_lflag != was->c_lflag)
		tc_bad("%s: termios c_lflag %#o, was %#o", who, now->c_lflag, was->c_lflag);
	if (now->c_line != was->c_line)
		tc_bad("%s: termios line discipline %d, was %d", who, now->c_line, was->c_line);
	for (size_t i = 0; i < sizeof(now->c_cc); i++)
		if (now->c_cc[i] != was->c_cc[i])
			tc_bad("%s: termios c_cc[%zu] %#x, was %#x", who, i, now->c_cc[i],
			       was->c_cc[i]);
	if (cfgetispeed(now) != cfgetispeed(was) || cfgetospeed(now) != cfgetospeed(was))
		tc_bad("%s: termios speed %#x/%#x, was %#x/%#x", who, cfgetispeed(now),
		       cfgetospeed(now), cfgetispeed(was), cfgetospeed(was));
	if (!termios_eq(now, was))
		tc_bad("%s: termios changed", who);
}

static void child_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tc_bad("child: write to the slave: %s", n ? strerror(errno) : "wrote 0");
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * One line from the slave, without its '\n'; NULL when the master is gone.
 * No deadline: the child waits for the parent, and the parent's end closes
 * the master, which ends this read (EIO).
 */
static char *child_read_line(int fd, size_t *lenp)
{
	static char buf[4096];
	static size_t have;
	static size_t consumed;
	char *nl;

	if (consumed) {
		memmove(buf, buf + consumed, have - consumed);
		have -= consumed;
		consumed = 0;
	}
	while (!(nl = memchr(buf, '\n', have))) {
		ssize_t n;

		if (have == sizeof(buf))
			tc_bad("child: 4096 bytes without a newline: %s", show(buf, 80));
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno == EIO)
			return NULL;
		if (n < 0)
			tc_bad("child: read from the slave: %s", strerror(errno));
		if (n == 0)
			return NULL;
		have += (size_t)n;
	}
	*nl = '\0';
	*lenp = (size_t)(nl - buf);
	consumed = *lenp + 1;
	return buf;
}

/* a device number as the kernel shows it in /proc/PID/stat and TIOCGDEV */
static unsigned int new_dev(dev_t d)
{
	return (minor(d) & 0xff) | (major(d) << 8) | ((minor(d) & ~0xffu) << 12);
}

static void child_check(int s, struct child_ref *ref, long n)
{
	struct termios tio;
	struct winsize ws;
	struct stat st;
	pid_t me = getpid();
	unsigned int dev;
	int t;

	if (tcgetattr(s, &tio) < 0)
		tc_bad("child: tcgetattr(slave) at line %ld: %s", n, strerror(errno));
	termios_diff("child: slave", &tio, &ref->tio);
	if (ioctl(s, TIOCGWINSZ, &ws) < 0)
		tc_bad("child: TIOCGWINSZ(slave): %s", strerror(errno));
	if (ws.ws_row != ref->ws.ws_row || ws.ws_col != ref->ws.ws_col ||
	    ws.ws_xpixel != ref->ws.ws_xpixel || ws.ws_ypixel != ref->ws.ws_ypixel)
		tc_bad("child: window %ux%u (%ux%u px), expected %ux%u (%ux%u px)", ws.ws_row,
		       ws.ws_col, ws.ws_xpixel, ws.ws_ypixel, ref->ws.ws_row, ref->ws.ws_col,
		       ref->ws.ws_xpixel, ref->ws.ws_ypixel);
	if (getsid(0) != me || getpgrp() != me)
		tc_bad("child %d: sid %d, pgrp %d: no longer its own session and group",
		       (int)me, (int)getsid(0), (int)getpgrp());
	if (tcgetpgrp(s) != me || tcgetsid(s) != me)
		tc_bad("child %d: the slave's foreground group is %d, session %d (%s)", (int)me,
		       (int)tcgetpgrp(s), (int)tcgetsid(s), strerror(errno));
	if (fstat(s, &st) < 0)
		tc_bad("child: fstat(slave): %s", strerror(errno));
	if (major(st.st_rdev) < 136 || major(st.st_rdev) > 143)
		tc_bad("child: the slave fd is %u:%u, not a pts", major(st.st_rdev),
		       minor(st.st_rdev));
	if (st.st_rdev != ref->rdev) {
		if (strict)
			tc_bad("child: the slave is /dev/pts/%u now, it was /dev/pts/%u",
			       minor(st.st_rdev), minor(ref->rdev));
		fprintf(stderr, "ptypair: note: the child's slave is /dev/pts/%u now, it was /dev/pts/%u\n",
			minor(st.st_rdev), minor(ref->rdev));
		ref->rdev = st.st_rdev;
	}
	/* /dev/tty opens only for a process with a controlling terminal, and
	 * TIOCGDEV on it names that terminal */
	t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t < 0)
		tc_bad("child: open /dev/tty: %s (no controlling terminal)", strerror(errno));
	if (ioctl(t, TIOCGDEV, &dev) < 0)
		tc_bad("child: TIOCGDEV on /dev/tty: %s", strerror(errno));
	close(t);
	if (dev != new_dev(ref->rdev))
		tc_bad("child: /dev/tty is %#x, the slave is %u:%u (%#x)", dev, major(ref->rdev),
		       minor(ref->rdev), new_dev(ref->rdev));
}

static __attribute__((noreturn)) void child_main(int master, const char *slave_name)
{
	struct sigaction sa = { .sa_handler = on_sigint };	/* no SA_RESTART */
	struct child_ref ref;
	struct termios tio;
	struct winsize ws = { WS_ROWS, WS_COLS, WS_XPIX, WS_YPIX };
	struct stat st;
	char want[128], out[256], *line;
	size_t len;
	pid_t me;
	int s;

	close(master);
	if (setsid() < 0)
		tc_bad("child: setsid: %s", strerror(errno));
	me = getpid();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0)
		tc_bad("child: sigaction: %s", strerror(errno));
	/* without O_NOCTTY: a session leader without a terminal gets this one */
	s = open(slave_name, O_RDWR | O_CLOEXEC);
	if (s < 0)
		tc_bad("child: open %s: %s", slave_name, strerror(errno));
	if (ioctl(s, TIOCSCTTY, 0) < 0)
		tc_bad("child: TIOCSCTTY %s: %s", slave_name, strerror(errno));
	if (fstat(s, &st) < 0)
		tc_bad("child: fstat %s: %s", slave_name, strerror(errno));

	if (tcgetattr(s, &tio) < 0)
		tc_bad("child: tcgetattr: %s", strerror(errno));
	tio.c_lflag |= ICANON | ISIG | IEXTEN | NOFLSH;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | TOSTOP);
	tio.c_iflag |= ICRNL;
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | INLCR | IGNCR | ISTRIP);
	tio.c_oflag |= OPOST | ONLCR;
	tio.c_oflag &= ~(tcflag_t)(OCRNL | ONOCR | ONLRET);
	tio.c_cc[VINTR] = C_INTR;
	tio.c_cc[VQUIT] = C_QUIT;
	tio.c_cc[VERASE] = C_ERASE;
	tio.c_cc[VKILL] = C_KILL;
	tio.c_cc[VSUSP] = C_SUSP;
	tio.c_cc[VMIN] = C_VMIN;
	tio.c_cc[VTIME] = C_VTIME;
	cfsetispeed(&tio, SPEED);
	cfsetospeed(&tio, SPEED);
	if (tcsetattr(s, TCSANOW, &tio) < 0)
		tc_bad("child: tcsetattr: %s", strerror(errno));
	if (ioctl(s, TIOCSWINSZ, &ws) < 0)
		tc_bad("child: TIOCSWINSZ: %s", strerror(errno));

	memset(&ref, 0, sizeof(ref));
	ref.rdev = st.st_rdev;
	if (tcgetattr(s, &ref.tio) < 0 || ioctl(s, TIOCGWINSZ, &ref.ws) < 0)
		tc_bad("child: reading the settings back: %s", strerror(errno));
	if (!(ref.tio.c_lflag & ICANON) || (ref.tio.c_lflag & ECHO) ||
	    !(ref.tio.c_lflag & NOFLSH) || ref.tio.c_cc[VERASE] != C_ERASE ||
	    ref.tio.c_cc[VINTR] != C_INTR || ref.tio.c_cc[VKILL] != C_KILL ||
	    cfgetospeed(&ref.tio) != SPEED || ref.ws.ws_row != WS_ROWS ||
	    ref.ws.ws_col != WS_COLS)
		tc_bad("child: the pty did not take the settings (lflag %#o, speed %#x, %ux%u)",
		       ref.tio.c_lflag, cfgetospeed(&ref.tio), ref.ws.ws_row, ref.ws.ws_col);
	child_check(s, &ref, 0);

	len = (size_t)snprintf(out, sizeof(out), "hello %d %d\n", (int)me, s);
	child_write(s, out, len);

	for (long n = 1;; n++) {
		line = child_read_line(s, &len);
		if (!line)
			tc_bad("child: the master went away before line %ld", n);
		if (len == 4 && !memcmp(line, "quit", 4))
			break;
		req_line(n, want, sizeof(want));
		if (len != strlen(want) || memcmp(line, want, len))
			tc_bad("child: line %ld is '%s', expected '%s'", n, show(line, len), want);
		child_check(s, &ref, n);
		ack_line(out, sizeof(out), n, (long)sigints, me);
		len = strlen(out);
		out[len++] = '\n';
		child_write(s, out, len);
	}
	/* the parent's close of the master hangs the slave up */
	signal(SIGHUP, SIG_IGN);
	len = (size_t)snprintf(out, sizeof(out), "bye sig=%ld\n", (long)sigints);
	child_write(s, out, len);
	while (child_read_line(s, &len))
		;
	_exit(0);
}

/* ---------------------------------------------------------------- the parent */

static char mbuf[8192];
static size_t mhave;

/* One line from the master: it must end in "\r\n" (ONLCR); returned without. */
static const char *master_read_line(int m, const char *what)
{
	static char line[sizeof(mbuf)];
	int empty = 0;
	char *nl;
	size_t len;

	while (!(nl = memchr(mbuf, '\n', mhave))) {
		struct pollfd p = { .fd = m, .events = POLLIN };
		ssize_t n;
		int r;

		if (mhave == sizeof(mbuf))
			tc_bad("%s: %zu bytes from the master without a newline: %s", what, mhave,
			       show(mbuf, 80));
		r = poll(&p, 1, 100);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			tc_bad("%s: poll(master): %s", what, strerror(errno));
		if (r == 0) {
			if (++empty >= EMPTY_POLLS)
				tc_bad("%s: nothing from the master for %d s (have '%s')", what,
				       EMPTY_POLLS / 10, show(mbuf, mhave));
			continue;
		}
		n = read(m, mbuf + mhave, sizeof(mbuf) - mhave);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			tc_bad("%s: read(master): %s%s (have '%s')", what, strerror(errno),
			       errno == EIO ? ": the slave was closed" : "", show(mbuf, mhave));
		if (n == 0)
			tc_bad("%s: end of file on the master", what);
		mhave += (size_t)n;
	}
	len = (size_t)(nl - mbuf);
	if (len == 0 || mbuf[len - 1] != '\r')
		tc_bad("%s: line '%s' from the master does not end in \\r\\n (ONLCR lost?)", what,
		       show(mbuf, len + 1));
	memcpy(line, mbuf, len - 1);
	line[len - 1] = '\0';
	memmove(mbuf, nl + 1, mhave - len - 1);
	mhave -= len + 1;
	return line;
}

static void master_write(int m, const char *buf, size_t len)
{
	int empty = 0;

	while (len > 0) {
		struct pollfd p = { .fd = m, .events = POLLOUT };
		ssize_t n = write(m, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			tc_bad("write(master): %s", n ? strerror(errno) : "wrote 0");
		if (poll(&p, 1, 100) == 0 && ++empty >= EMPTY_POLLS)
			tc_bad("write(master): no room for %d s", EMPTY_POLLS / 10);
	}
}

struct parent_ref {
	pid_t child;
	int child_fd;
	struct termios tio;
	char pts[64];
	int flags;
	pid_t sid, pgrp;
};

static void parent_check(int m, struct parent_ref *ref, long n)
{
	struct termios tio;
	struct winsize ws;
	struct stat st_pts, st_fd;
	char path[64], stat_buf[1024], pts[64], *p;
	int tty_nr = -1, tpgid = -1, flags, fdflags;
	unsigned int want_nr;
	size_t len;

	if (tcgetattr(m, &tio) < 0)
		tc_bad("tcgetattr(master) at tick %ld: %s", n, strerror(errno));
	termios_diff("master side", &tio, &ref->tio);
	if (ioctl(m, TIOCGWINSZ, &ws) < 0)
		tc_bad("TIOCGWINSZ(master): %s", strerror(errno));
	if (ws.ws_row != WS_ROWS || ws.ws_col != WS_COLS || ws.ws_xpixel != WS_XPIX ||
	    ws.ws_ypixel != WS_YPIX)
		tc_bad("window size from the master %ux%u (%ux%u px), expected %ux%u (%ux%u px)",
		       ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel, WS_ROWS, WS_COLS,
		       WS_XPIX, WS_YPIX);
	/* on a master these answer for the slave */
	if (tcgetpgrp(m) != ref->child)
		tc_bad("the slave's foreground group (TIOCGPGRP on the master) is %d, expected %d (%s)",
		       (int)tcgetpgrp(m), (int)ref->child, strerror(errno));
	if (tcgetsid(m) != ref->child)
		tc_bad("the slave's session (TIOCGSID on the master) is %d, expected %d (%s)",
		       (int)tcgetsid(m), (int)ref->child, strerror(errno));
	flags = fcntl(m, F_GETFL);
	fdflags = fcntl(m, F_GETFD);
	if (flags != ref->flags || !(fdflags & FD_CLOEXEC))
		tc_bad("master fd flags %#o fd flags %#x, were %#o and FD_CLOEXEC", flags,
		       fdflags, ref->flags);
	if (getsid(0) != ref->sid || getpgrp() != ref->pgrp)
		tc_bad("parent sid %d pgrp %d, were %d and %d", (int)getsid(0), (int)getpgrp(),
		       (int)ref->sid, (int)ref->pgrp);

	/* the same pair: the master's slave is the child's fd and terminal */
	if (ptsname_r(m, pts, sizeof(pts)))
		tc_bad("ptsname(master): %s", strerror(errno));
	if (strcmp(pts, ref->pts)) {
		if (strict)
			tc_bad("the master's slave is %s now, it was %s", pts, ref->pts);
		fprintf(stderr, "ptypair: note: the slave is %s now, it was %s\n", pts, ref->pts);
		snprintf(ref->pts, sizeof(ref->pts), "%s", pts);
	}
	if (stat(pts, &st_pts) < 0)
		tc_bad("stat %s (the master's slave): %s", pts, strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)ref->child, ref->child_fd);
	if (stat(path, &st_fd) < 0)
		tc_bad("stat %s (the child's slave fd): %s", path, strerror(errno));
	if (st_fd.st_rdev != st_pts.st_rdev)
		tc_bad("the child's fd %d is %u:%u, the master's slave %s is %u:%u", ref->child_fd,
		       major(st_fd.st_rdev), minor(st_fd.st_rdev), pts, major(st_pts.st_rdev),
		       minor(st_pts.st_rdev));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)ref->child);
	len = tc_read_file(path, stat_buf, sizeof(stat_buf) - 1);
	stat_buf[len] = '\0';
	p = strrchr(stat_buf, ')');
	/* ") S ppid pgrp session tty_nr tpgid" */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %d %d", &tty_nr, &tpgid) != 2)
		tc_bad("cannot parse %s: %s", path, stat_buf);
	want_nr = new_dev(st_pts.st_rdev);
	if ((unsigned int)tty_nr != want_nr)
		tc_bad("the child's controlling tty (tty_nr in %s) is %#x, expected %#x (%s)", path,
		       tty_nr, want_nr, pts);
	if (tpgid != ref->child)
		tc_bad("the child's terminal's foreground group (tpgid in %s) is %d, expected %d",
		       path, tpgid, (int)ref->child);
	tc_proc_check();
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct parent_ref ref;
	char req[64], buf[256], want[256];
	const char *line;
	int c, m, hello_pid = -1;
	size_t len, cut;

	while ((c = getopt(argc, argv, "n:i:s")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			strict = 1;
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-s]\n", argv[0]);
		return 2;
	}
	if (o.target < 1)
		o.target = 1;
	tc_proc_init("ptypair");
	memset(&ref, 0, sizeof(ref));
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		tc_bad("posix_openpt: %s", strerror(errno));
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		tc_bad("grantpt/unlockpt: %s", strerror(errno));
	if (ptsname_r(m, ref.pts, sizeof(ref.pts)))
		tc_bad("ptsname: %s", strerror(errno));
	/* non-blocking: a flag the restore must keep, and reads never hang */
	if (fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) < 0)
		tc_bad("fcntl(master, O_NONBLOCK): %s", strerror(errno));
	ref.flags = fcntl(m, F_GETFL);
	ref.sid = getsid(0);
	ref.pgrp = getpgrp();

	ref.child = fork();
	if (ref.child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (ref.child == 0)
		child_main(m, ref.pts);

	line = master_read_line(m, "hello");
	if (sscanf(line, "hello %d %d", &hello_pid, &ref.child_fd) != 2 ||
	    hello_pid != ref.child)
		tc_bad("first line from the child is '%s', expected 'hello %d FD'", line,
		       (int)ref.child);
	if (tcgetattr(m, &ref.tio) < 0)
		tc_bad("tcgetattr(master): %s", strerror(errno));
	if (!(ref.tio.c_lflag & ICANON) || (ref.tio.c_lflag & ECHO) ||
	    ref.tio.c_cc[VERASE] != C_ERASE || ref.tio.c_cc[VINTR] != C_INTR ||
	    cfgetospeed(&ref.tio) != SPEED)
		tc_bad("the master does not see the child's settings (lflag %#o, ERASE %#x)",
		       ref.tio.c_lflag, ref.tio.c_cc[VERASE]);
	parent_check(m, &ref, 0);

	/* the first half of request 1 */
	len = (size_t)req_line(1, req, sizeof(req));
	master_write(m, req, req_cut(1, len));
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		size_t k;

		parent_check(m, &ref, n);
		if (n > 1) {
			snprintf(buf, sizeof(buf), "ack %ld", n - 1);
			line = master_read_line(m, buf);
			ack_line(want, sizeof(want), n - 1, n - 1, ref.child);
			if (strcmp(line, want))
				tc_bad("reply '%s', expected '%s'", show(line, strlen(line)), want);
		}
		/* INTR, the rest of request n with a typo erased, the end of the
		 * line, and the first part of request n+1 */
		k = 0;
		buf[k++] = C_INTR;
		len = (size_t)req_line(n, req, sizeof(req));
		cut = req_cut(n, len);
		memcpy(buf + k, req + cut, len - cut);
		k += len - cut;
		buf[k++] = 'Z';
		buf[k++] = C_ERASE;
		buf[k++] = n & 1 ? '\r' : '\n';
		len = (size_t)req_line(n + 1, req, sizeof(req));
		cut = req_cut(n + 1, len);
		memcpy(buf + k, req, cut);
		k += cut;
		master_write(m, buf, k);
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}

	parent_check(m, &ref, o.target + 1);
	snprintf(buf, sizeof(buf), "ack %ld", o.target);
	line = master_read_line(m, buf);
	ack_line(want, sizeof(want), o.target, o.target, ref.child);
	if (strcmp(line, want))
		tc_bad("reply '%s', expected '%s'", show(line, strlen(line)), want);
	/* KILL wipes the half-typed request */
	buf[0] = C_KILL;
	memcpy(buf + 1, "quit\n", 5);
	master_write(m, buf, 6);
	line = master_read_line(m, "bye");
	snprintf(want, sizeof(want), "bye sig=%ld", o.target);
	if (strcmp(line, want))
		tc_bad("last reply '%s', expected '%s'", show(line, strlen(line)), want);
	if (mhave)
		tc_bad("more from the master after bye: '%s'", show(mbuf, mhave));
	close(m);
	tc_wait_child(ref.child, 0, TC_IO_TIMEOUT_MS, "pty child");
	tc_pass();
}
