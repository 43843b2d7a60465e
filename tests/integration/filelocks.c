/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * filelocks: the parent holds a POSIX write lock on bytes 10..109 of one
 * file (also reachable through a dup), a flock() exclusive lock on a second,
 * an OFD read lock from byte 5 on of a third and a POSIX read lock on all of
 * a fourth.  Every tick a child that opened the files itself asks the
 * kernel who holds what (F_GETLK, F_OFD_GETLK, flock with LOCK_NB) and says
 * whether it is exactly that; a lock lost or changed by a restore is BAD.
 *
 *   filelocks [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/file.h>
#include <sys/wait.h>

#include "tc_test.h"

static char dir[] = "/tmp/tc-filelocks-XXXXXX";

static int open_in_dir(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		tc_bad("open %s: %s", path, strerror(errno));
	return fd;
}

static void set_lock(int fd, int cmd, short type, off_t start, off_t len, const char *what)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl) < 0)
		tc_bad("lock %s: %s", what, strerror(errno));
}

/* Who would stop a lock of `type` on start..len: expect holder/hstart/hlen (F_UNLCK: nobody). */
static void expect(int fd, int cmd, short type, off_t start, off_t len, short htype,
		   off_t hstart, off_t hlen, pid_t hpid, const char *what)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl) < 0)
		tc_bad("child: getlk %s: %s", what, strerror(errno));
	if (fl.l_type != htype)
		tc_bad("child: %s: lock type %d, expected %d", what, fl.l_type, htype);
	if (htype == F_UNLCK)
		return;
	if (fl.l_start != hstart || fl.l_len != hlen || (hpid && fl.l_pid != hpid))
		tc_bad("child: %s: held at %lld+%lld by %d, expected %lld+%lld by %d", what,
		       (long long)fl.l_start, (long long)fl.l_len, fl.l_pid, (long long)hstart,
		       (long long)hlen, hpid);
}

static void child_main(int req, int ans, pid_t parent)
{
	int a = open_in_dir("a"), b = open_in_dir("b"), c = open_in_dir("c"),
	    d = open_in_dir("d");
	uint64_t n;

	while (read(req, &n, sizeof(n)) == sizeof(n)) {
		expect(a, F_GETLK, F_WRLCK, 0, 0, F_WRLCK, 10, 100, parent, "a: all");
		expect(a, F_GETLK, F_WRLCK, 200, 10, F_UNLCK, 0, 0, 0, "a: past the lock");
		expect(a, F_GETLK, F_RDLCK, 109, 1, F_WRLCK, 10, 100, parent, "a: last byte");
		if (flock(b, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
			tc_bad("child: b: flock LOCK_SH was not refused (%s)", strerror(errno));
		expect(c, F_OFD_GETLK, F_WRLCK, 0, 5, F_UNLCK, 0, 0, 0, "c: before the lock");
		expect(c, F_OFD_GETLK, F_WRLCK, 5, 1, F_RDLCK, 5, 0, -1, "c: OFD read lock");
		expect(d, F_GETLK, F_WRLCK, 0, 0, F_RDLCK, 0, 0, parent, "d: write");
		expect(d, F_GETLK, F_RDLCK, 0, 0, F_UNLCK, 0, 0, 0, "d: read");
		if (write(ans, &n, sizeof(n)) != sizeof(n))
			_exit(1);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	int req[2], ans[2], a, a2, b, c, d, opt, status;
	pid_t child;

	while ((opt = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(opt, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	if (!mkdtemp(dir))
		tc_bad("mkdtemp: %s", strerror(errno));
	tc_proc_init("filelocks");
	a = open_in_dir("a");
	a2 = dup(a);
	b = open_in_dir("b");
	c = open_in_dir("c");
	d = open_in_dir("d");
	set_lock(a2, F_SETLK, F_WRLCK, 10, 100, "a");
	if (flock(b, LOCK_EX | LOCK_NB) < 0)
		tc_bad("flock b: %s", strerror(errno));
	set_lock(c, F_OFD_SETLK, F_RDLCK, 5, 0, "c");
	set_lock(d, F_SETLK, F_RDLCK, 0, 0, "d");
	if (pipe(req) < 0 || pipe(ans) < 0)
		tc_bad("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		/* Its own descriptions; the inherited flock and OFD ones are the parent's. */
		close(b);
		close(c);
		close(req[1]);
		close(ans[0]);
		child_main(req[0], ans[1], getppid());
	}
	close(req[0]);
	close(ans[1]);
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		uint64_t got = 0;

		if (write(req[1], &n, sizeof(n)) != sizeof(n) ||
		    read(ans[0], &got, sizeof(got)) != sizeof(got))
			tc_bad("the child is gone at tick %llu", (unsigned long long)n);
		if (got != n)
			tc_bad("the child answered %llu to %llu", (unsigned long long)got,
			       (unsigned long long)n);
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	close(req[1]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("child ended badly");
	for (const char *f = "abcd"; *f; f++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%c", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	tc_pass();
}
