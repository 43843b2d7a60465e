/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sharedfd: open file descriptions shared between two processes must stay
 * shared after a restore, offset included.
 *
 * File A is opened by the parent before fork (no O_APPEND); file B is opened
 * by the child after fork and handed to the parent with SCM_RIGHTS over a
 * socketpair that is closed again before READY.  In round n the parent
 * write()s its record to A, then the child writes its record to A and to B,
 * then the parent writes its record to B.  Nobody seeks: each write lands
 * where the other process's last write left the shared offset.  Both sides
 * check lseek(fd, 0, SEEK_CUR) before every write, and the parent checks
 * both whole files every tick.  If a restore gives each process its own
 * description, the offsets part and the records overwrite each other.
 *
 *   sharedfd [-d DIR] [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include "tc_io.h"

#define REC 64

static void record(char *buf, char who, char file, uint64_t n)
{
	int len = snprintf(buf, REC, "%c%c %llu %016llx", who, file, (unsigned long long)n,
			   (unsigned long long)tc_mix(n * 4 + (uint64_t)(who + file)));

	memset(buf + len, '.', REC - 1 - (size_t)len);
	buf[REC - 1] = '\n';
}

static void check_offset(int fd, off_t want, const char *what)
{
	off_t at = lseek(fd, 0, SEEK_CUR);

	if (at != want)
		tc_bad("%s: shared offset is %lld, expected %lld", what, (long long)at,
		       (long long)want);
}

static void put(int fd, char who, char file, uint64_t n, off_t at)
{
	char buf[REC], what[32];

	snprintf(what, sizeof(what), "%s, file %c, round %llu", who == 'P' ? "parent" : "child",
		 file, (unsigned long long)n);
	check_offset(fd, at, what);
	record(buf, who, file, n);
	tc_write_full(fd, buf, REC, what);
	check_offset(fd, at + REC, what);
}

/* Both files after round n: A = P1 C1 P2 C2 ..., B = C1 P1 C2 P2 ... */
static void check_file(int fd, char file, uint64_t n)
{
	static char buf[2 * REC * 4096];
	char want[REC];
	struct stat st;

	if (fstat(fd, &st) < 0)
		tc_bad("fstat file %c: %s", file, strerror(errno));
	if ((uint64_t)st.st_size != 2 * REC * n)
		tc_bad("file %c is %lld bytes after round %llu, expected %llu", file,
		       (long long)st.st_size, (unsigned long long)n,
		       (unsigned long long)(2 * REC * n));
	if (pread(fd, buf, sizeof(buf), 0) < 0)
		tc_bad("pread file %c: %s", file, strerror(errno));
	for (uint64_t r = 1; r <= n && 2 * REC * r <= sizeof(buf); r++)
		for (int j = 0; j < 2; j++) {
			char who = (j == 0) == (file == 'A') ? 'P' : 'C';

			record(want, who, file, r);
			if (memcmp(buf + (2 * (r - 1) + (uint64_t)j) * REC, want, REC))
				tc_bad("file %c: record %d of round %llu is not %c's: '%.*s'", file,
				       j, (unsigned long long)r, who, REC - 1,
				       buf + (2 * (r - 1) + (uint64_t)j) * REC);
		}
}

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, b = 'F';
	struct iovec iov = { &b, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		tc_bad("sendmsg SCM_RIGHTS: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, b;
	struct iovec iov = { &b, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &m, 0) != 1)
		tc_bad("recvmsg SCM_RIGHTS: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		tc_bad("recvmsg: no SCM_RIGHTS");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	const char *dir = ".";
	char path_a[PATH_MAX], path_b[PATH_MAX];
	int fa, fb, sv[2], go[2], done[2], c;
	uint64_t msg;
	pid_t pid;

	while ((c = getopt(argc, argv, "n:i:d:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'd') {
			dir = optarg;
			continue;
		}
		fprintf(stderr, "usage: %s [-d DIR] [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	tc_proc_init("sharedfd");
	snprintf(path_a, sizeof(path_a), "%s/sharedfd-a.%d", dir, (int)getpid());
	snprintf(path_b, sizeof(path_b), "%s/sharedfd-b.%d", dir, (int)getpid());
	fa = open(path_a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fa < 0)
		tc_bad("open %s: %s", path_a, strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe(go) < 0 || pipe(done) < 0)
		tc_bad("socketpair/pipe: %s", strerror(errno));

	pid = fork();
	if (pid < 0)
		tc_bad("fork: %s", strerror(errno));
	if (pid == 0) {
		tc_proc_init("sharedfd-child");
		close(sv[0]);
		close(go[1]);
		close(done[0]);
		fb = open(path_b, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fb < 0)
			tc_bad("child: open %s: %s", path_b, strerror(errno));
		send_fd(sv[1], fb);
		close(sv[1]);
		for (;;) {
			if (tc_read_full(go[0], &msg, sizeof(msg), 600000, "child") == 0)
				_exit(0);
			tc_proc_check();
			put(fa, 'C', 'A', msg, (off_t)((2 * msg - 1) * REC));
			put(fb, 'C', 'B', msg, (off_t)((2 * msg - 2) * REC));
			tc_write_full(done[1], &msg, sizeof(msg), "child");
		}
	}
	close(sv[1]);
	close(go[0]);
	close(done[1]);
	fb = recv_fd(sv[0]);
	close(sv[0]);
	if (lseek(fb, 0, SEEK_CUR) != 0)
		tc_bad("file B received at offset %lld", (long long)lseek(fb, 0, SEEK_CUR));
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		uint64_t back;

		put(fa, 'P', 'A', n, (off_t)((2 * n - 2) * REC));
		tc_write_full(go[1], &n, sizeof(n), "parent");
		if (tc_read_full(done[0], &back, sizeof(back), TC_IO_TIMEOUT_MS, "parent") == 0)
			tc_bad("parent: the child is gone in round %llu", (unsigned long long)n);
		if (back != n)
			tc_bad("parent: the child answered round %llu to round %llu",
			       (unsigned long long)back, (unsigned long long)n);
		put(fb, 'P', 'B', n, (off_t)((2 * n - 1) * REC));
		check_offset(fa, (off_t)(2 * n * REC), "parent, file A after the round");
		check_file(fa, 'A', n);
		check_file(fb, 'B', n);
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	close(go[1]);
	tc_wait_child(pid, 0, TC_IO_TIMEOUT_MS, "parent");
	unlink(path_a);
	unlink(path_b);
	tc_pass();
}
