/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fdpass: files in flight in unix sockets (SCM_RIGHTS).  Every tick the
 * program sends messages carrying fds into two socketpairs (stream and
 * datagram) and reads them back LAG messages later, so a checkpoint always
 * finds files that are in no fd table, only in a socket's queue:
 *
 *   stream, per message: the read end of a new pipe with bytes in it (both
 *     ends closed by the sender), a new memfd with contents and an offset
 *     of its own, an eventfd whose counter is the message's number, one end
 *     of a new socketpair with bytes queued in it and its other end closed
 *     (a socket in flight with a queue of its own), and a memfd the program
 *     keeps open and writes to every tick (one open file description, in
 *     its fd table and in flight at once: the reader sees every write);
 *   datagram, per message: an eventfd, and a pipe's write end whose read
 *     end the program keeps.
 *
 * Each received file is checked: its kind, contents, offset, counter, that
 * the kept memfd is the same file as the program's own, that writing into
 * the received pipe end reaches the kept read end.  Anything lost, out of
 * order or not the same file is BAD.
 *
 *   fdpass [-n TARGET] [-i INTERVAL_MS]
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "tc_test.h"

#define LAG 3
#define STREAM_FDS 5
#define DGRAM_FDS 2

struct note {
	uint64_t seq;
	uint64_t check;
};

static int stream[2], dgram[2], kept_memfd, kept_pipe[2];
static uint64_t kept_size;

/* len bytes and n fds in one message. */
static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, int n)
{
	struct iovec iov = { (void *)buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(&ctl, 0, sizeof(ctl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	if (sendmsg(sock, &mh, MSG_DONTWAIT) != (ssize_t)len)
		tc_bad("sendmsg of %zu bytes and %d fds: %s", len, n, strerror(errno));
}

static void send_fds(int sock, uint64_t seq, const int *fds, int n)
{
	struct note m = { seq, tc_mix(seq) };

	send_with_fds(sock, &m, sizeof(m), fds, n);
}

/* One message within 10 s, its number and fds checked. */
static void recv_fds(int sock, uint64_t seq, int *fds, int n, const char *what)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct note m;
	struct iovec iov = { &m, sizeof(m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t got;
	int r;

	do {
		r = poll(&pfd, 1, 10000);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		tc_bad("%s: message %llu: none in 10 s", what, (unsigned long long)seq);
	got = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (got != sizeof(m) || m.seq != seq || m.check != tc_mix(seq))
		tc_bad("%s: message %llu: got %zd bytes, number %llu", what, (unsigned long long)seq,
		       got, got == sizeof(m) ? (unsigned long long)m.seq : 0ull);
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int) * n) ||
	    (mh.msg_flags & MSG_CTRUNC))
		tc_bad("%s: message %llu: not %d fds with it", what, (unsigned long long)seq, n);
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * n);
}

static void expect_bytes(int fd, const char *want, const char *what, uint64_t seq)
{
	char buf[64] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want)))
		tc_bad("%s of message %llu: read %zd bytes '%s', expected '%s'", what,
		       (unsigned long long)seq, n, n > 0 ? buf : "", want);
}

static void send_stream(uint64_t seq)
{
	int p[2], s[2], fds[STREAM_FDS];
	char text[64];
	uint64_t one = 1;

	if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
		tc_bad("pipe/socketpair: %s", strerror(errno));
	snprintf(text, sizeof(text), "pipe-%llu", (unsigned long long)seq);
	if (write(p[1], text, strlen(text)) != (ssize_t)strlen(text))
		tc_bad("pipe write: %s", strerror(errno));
	close(p[1]);
	fds[0] = p[0];
	fds[1] = memfd_create("fdpass-file", MFD_CLOEXEC);
	snprintf(text, sizeof(text), "head-file-%llu", (unsigned long long)seq);
	if (fds[1] < 0 || write(fds[1], text, strlen(text)) != (ssize_t)strlen(text) ||
	    lseek(fds[1], 5, SEEK_SET) != 5)
		tc_bad("memfd: %s", strerror(errno));
	fds[2] = eventfd(0, EFD_CLOEXEC);
	if (fds[2] < 0)
		tc_bad("eventfd: %s", strerror(errno));
	for (uint64_t k = 0; k < seq % 7 + 1; k++)
		if (write(fds[2], &one, sizeof(one)) != sizeof(one))
			tc_bad("eventfd write: %s", strerror(errno));
	snprintf(text, sizeof(text), "sock-%llu", (unsigned long long)seq);
	{
		int inner = eventfd((unsigned int)(seq % 1000) + 100, EFD_CLOEXEC);

		if (inner < 0)
			tc_bad("eventfd: %s", strerror(errno));
		send_with_fds(s[0], text, strlen(text), &inner, 1);
		close(inner);
	}
	close(s[0]);
	fds[3] = s[1];
	fds[4] = kept_memfd;
	send_fds(stream[0], seq, fds, STREAM_FDS);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

static void check_stream(uint64_t seq)
{
	int fds[STREAM_FDS];
	char want[64];
	uint64_t v = 0;
	struct stat a, b;

	recv_fds(stream[1], seq, fds, STREAM_FDS, "stream");
	snprintf(want, sizeof(want), "pipe-%llu", (unsigned long long)seq);
	expect_bytes(fds[0], want, "the pipe", seq);
	snprintf(want, sizeof(want), "file-%llu", (unsigned long long)seq);
	expect_bytes(fds[1], want, "the memfd from its offset", seq);
	if (read(fds[2], &v, sizeof(v)) != sizeof(v) || v != seq % 7 + 1)
		tc_bad("the eventfd of message %llu: counter %llu, expected %llu",
		       (unsigned long long)seq, (unsigned long long)v,
		       (unsigned long long)(seq % 7 + 1));
	snprintf(want, sizeof(want), "sock-%llu", (unsigned long long)seq);
	{
		char buf[64] = "";
		struct iovec iov = { buf, sizeof(buf) - 1 };
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *cm;
		ssize_t got = recvmsg(fds[3], &mh, MSG_CMSG_CLOEXEC);
		int inner;

		cm = CMSG_FIRSTHDR(&mh);
		if (got != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want)) || !cm ||
		    cm->cmsg_type != SCM_RIGHTS)
			tc_bad("the socket of message %llu: read %zd bytes '%s'%s",
			       (unsigned long long)seq, got, got > 0 ? buf : "",
			       cm ? "" : " and no fd");
		memcpy(&inner, CMSG_DATA(cm), sizeof(int));
		if (read(inner, &v, sizeof(v)) != sizeof(v) || v != seq % 1000 + 100)
			tc_bad("the eventfd in the socket of message %llu: counter %llu",
			       (unsigned long long)seq, (unsigned long long)v);
		close(inner);
	}
	if (read(fds[3], want, 1) != 0)
		tc_bad("the socket of message %llu: no end of file after its bytes",
		       (unsigned long long)seq);
	/* The kept memfd: the same file as ours, with every write of ours in it. */
	if (fstat(fds[4], &a) < 0 || fstat(kept_memfd, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev || (uint64_t)a.st_size != kept_size)
		tc_bad("the kept memfd of message %llu: inode %llu size %lld, ours %llu size %llu",
		       (unsigned long long)seq, (unsigned long long)a.st_ino,
		       (long long)a.st_size, (unsigned long long)b.st_ino,
		       (unsigned long long)kept_size);
	if (lseek(fds[4], 0, SEEK_CUR) != lseek(kept_memfd, 0, SEEK_CUR))
		tc_bad("the kept memfd of message %llu: its offset is not ours",
		       (unsigned long long)seq);
	for (int i = 0; i < STREAM_FDS; i++)
		close(fds[i]);
}

static void send_dgram(uint64_t seq)
{
	int fds[DGRAM_FDS];

	fds[0] = eventfd((unsigned int)(seq % 1000) + 1, EFD_CLOEXEC);
	fds[1] = kept_pipe[1];
	if (fds[0] < 0)
		tc_bad("eventfd: %s", strerror(errno));
	send_fds(dgram[0], seq, fds, DGRAM_FDS);
	close(fds[0]);
}

static void check_dgram(uint64_t seq)
{
	int fds[DGRAM_FDS];
	uint64_t v = 0, back = 0;

	recv_fds(dgram[1], seq, fds, DGRAM_FDS, "datagram");
	if (read(fds[0], &v, sizeof(v)) != sizeof(v) || v != seq % 1000 + 1)
		tc_bad("the datagram's eventfd of message %llu: counter %llu",
		       (unsigned long long)seq, (unsigned long long)v);
	/* The pipe's write end that came back leads to the read end we kept. */
	if (write(fds[1], &seq, sizeof(seq)) != sizeof(seq) ||
	    read(kept_pipe[0], &back, sizeof(back)) != sizeof(back) || back != seq)
		tc_bad("the pipe end of message %llu does not lead to our read end",
		       (unsigned long long)seq);
	close(fds[0]);
	close(fds[1]);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	uint64_t sent = 0, got = 0;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	tc_proc_init("fdpass");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dgram) < 0 ||
	    pipe2(kept_pipe, O_CLOEXEC) < 0)
		tc_bad("sockets: %s", strerror(errno));
	kept_memfd = memfd_create("fdpass-kept", MFD_CLOEXEC);
	if (kept_memfd < 0)
		tc_bad("memfd: %s", strerror(errno));
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		/* Our own writes to the kept file: what every reader of it must see. */
		if (write(kept_memfd, "k", 1) != 1)
			tc_bad("kept memfd write: %s", strerror(errno));
		kept_size++;
		send_stream(sent);
		send_dgram(sent);
		sent++;
		while (sent - got > LAG) {
			check_stream(got);
			check_dgram(got);
			got++;
		}
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
