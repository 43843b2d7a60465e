/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * files: regular files whose path, flags, offset and contents must survive.
 *
 *  fd 20  DIR/tc-files-PID.ro, O_RDONLY, 256 KiB of known bytes; each tick
 *         reads the next 1000 bytes at an odd offset (wrapping near the end)
 *         and checks both the bytes and lseek(SEEK_CUR) before and after.
 *  fd 21  DIR/tc-files-PID.app, O_WRONLY|O_APPEND, FD_CLOEXEC; each tick
 *         first lseeks to 0 then writes a 16-byte record: with O_APPEND it
 *         must land at the end.  Checks flags, size and the whole file.
 *  fd 22  the same file O_RDONLY, to read the records back with pread.
 *  fd 23  DIR/tc-files-PID.del, O_RDWR, 64 KiB, unlinked right after it is
 *         written; each tick overwrites 8 bytes in one of 16 slots and checks
 *         the whole content, st_nlink == 0 and its offset (left at 777).
 *
 *   files [-d DIR] [-n TARGET] [-i INTERVAL_MS]
 *
 * DIR defaults to $TMPDIR or /tmp.  The two named files are removed at PASS.
 */
#include "tc_test.h"

#define FD_RO	20
#define FD_APP	21
#define FD_APPR	22
#define FD_DEL	23

#define RO_SIZE		(256 * 1024)
#define RO_START	12345
#define RO_CHUNK	1000
#define DEL_SIZE	(64 * 1024)
#define DEL_OFF		777
#define REC_LEN		16

static unsigned char ro_byte(size_t off)
{
	return (unsigned char)(off * 131 + (off >> 12) * 7 + 3);
}

static unsigned char del_init(size_t off)
{
	return (unsigned char)(off * 17 + (off >> 8) + 0x40);
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tc_bad("write %s: %s", what, n < 0 ? strerror(errno) : "short");
		p += n;
		len -= (size_t)n;
	}
}

static void pread_all(int fd, void *buf, size_t len, off_t off, const char *what)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tc_bad("pread %s: %s", what, strerror(errno));
		if (n == 0)
			tc_bad("pread %s: unexpected end of file at %lld", what, (long long)off);
		p += n;
		off += n;
		len -= (size_t)n;
	}
}

static void place(int fd, int want, const char *what)
{
	if (fd < 0)
		tc_bad("open %s: %s", what, strerror(errno));
	if (dup2(fd, want) < 0)
		tc_bad("dup2 %s: %s", what, strerror(errno));
	close(fd);
}

static off_t cur(int fd)
{
	off_t o = lseek(fd, 0, SEEK_CUR);

	if (o < 0)
		tc_bad("lseek fd %d: %s", fd, strerror(errno));
	return o;
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	const char *dir = getenv("TMPDIR");
	char ro_path[PATH_MAX], app_path[PATH_MAX], del_path[PATH_MAX];
	static unsigned char buf[RO_SIZE], del_model[DEL_SIZE];
	static char recs[REC_LEN * 100000 + 1];
	off_t ro_off = RO_START;
	int c, fd;

	if (!dir || !*dir)
		dir = "/tmp";
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
	if (o.target > 99999)
		o.target = 99999;

	tc_proc_init("files");
	snprintf(ro_path, sizeof(ro_path), "%s/tc-files-%d.ro", dir, (int)getpid());
	snprintf(app_path, sizeof(app_path), "%s/tc-files-%d.app", dir, (int)getpid());
	snprintf(del_path, sizeof(del_path), "%s/tc-files-%d.del", dir, (int)getpid());

	for (size_t i = 0; i < RO_SIZE; i++)
		buf[i] = ro_byte(i);
	fd = open(ro_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		tc_bad("create %s: %s", ro_path, strerror(errno));
	write_all(fd, buf, RO_SIZE, ro_path);
	close(fd);
	place(open(ro_path, O_RDONLY), FD_RO, ro_path);
	if (lseek(FD_RO, RO_START, SEEK_SET) != RO_START)
		tc_bad("lseek: %s", strerror(errno));

	place(open(app_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600), FD_APP, app_path);
	if (fcntl(FD_APP, F_SETFD, FD_CLOEXEC) < 0)
		tc_bad("F_SETFD: %s", strerror(errno));
	place(open(app_path, O_RDONLY), FD_APPR, app_path);

	place(open(del_path, O_RDWR | O_CREAT | O_TRUNC, 0600), FD_DEL, del_path);
	for (size_t i = 0; i < DEL_SIZE; i++)
		del_model[i] = del_init(i);
	write_all(FD_DEL, del_model, DEL_SIZE, del_path);
	if (unlink(del_path) < 0)
		tc_bad("unlink %s: %s", del_path, strerror(errno));
	if (lseek(FD_DEL, DEL_OFF, SEEK_SET) != DEL_OFF)
		tc_bad("lseek: %s", strerror(errno));
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		struct stat st;
		char rec[32];
		ssize_t got;
		int fl;
		uint64_t v;
		size_t slot;

		/* read-only file at an offset */
		if (cur(FD_RO) != ro_off)
			tc_bad("tick %ld: %s offset %lld, expected %lld", n, ro_path,
			       (long long)cur(FD_RO), (long long)ro_off);
		if (ro_off + RO_CHUNK > RO_SIZE) {
			ro_off = 7 + n % 13;
			if (lseek(FD_RO, ro_off, SEEK_SET) != ro_off)
				tc_bad("lseek: %s", strerror(errno));
		}
		got = read(FD_RO, buf, RO_CHUNK);
		if (got != RO_CHUNK)
			tc_bad("tick %ld: read %s at %lld returned %zd (%s)", n, ro_path,
			       (long long)ro_off, got, got < 0 ? strerror(errno) : "short");
		for (size_t i = 0; i < RO_CHUNK; i++)
			if (buf[i] != ro_byte((size_t)ro_off + i))
				tc_bad("tick %ld: %s byte at %lld is %u, expected %u", n, ro_path,
				       (long long)ro_off + (long long)i, buf[i],
				       ro_byte((size_t)ro_off + i));
		ro_off += RO_CHUNK;
		if (cur(FD_RO) != ro_off)
			tc_bad("tick %ld: %s offset %lld after read, expected %lld", n, ro_path,
			       (long long)cur(FD_RO), (long long)ro_off);
		if (fcntl(FD_RO, F_GETFL) & O_ACCMODE)
			tc_bad("tick %ld: %s is no longer O_RDONLY", n, ro_path);

		/* O_APPEND file */
		fl = fcntl(FD_APP, F_GETFL);
		if (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) != O_WRONLY)
			tc_bad("tick %ld: %s flags %#x, expected O_WRONLY|O_APPEND", n, app_path, fl);
		if (fcntl(FD_APP, F_GETFD) != FD_CLOEXEC)
			tc_bad("tick %ld: %s lost FD_CLOEXEC", n, app_path);
		if (fcntl(FD_APPR, F_GETFD) != 0)
			tc_bad("tick %ld: fd %d gained FD_CLOEXEC", n, FD_APPR);
		if (lseek(FD_APP, 0, SEEK_SET) != 0)
			tc_bad("lseek: %s", strerror(errno));
		snprintf(rec, sizeof(rec), "record %08ld\n", n);
		write_all(FD_APP, rec, REC_LEN, app_path);
		if (fstat(FD_APP, &st) < 0)
			tc_bad("fstat: %s", strerror(errno));
		if (st.st_size != n * REC_LEN)
			tc_bad("tick %ld: %s is %lld bytes, expected %ld", n, app_path,
			       (long long)st.st_size, n * REC_LEN);
		if (cur(FD_APP) != n * REC_LEN)
			tc_bad("tick %ld: %s offset %lld after an append, expected %ld", n,
			       app_path, (long long)cur(FD_APP), n * REC_LEN);
		pread_all(FD_APPR, recs, (size_t)(n * REC_LEN), 0, app_path);
		for (long r = 1; r <= n; r++) {
			snprintf(rec, sizeof(rec), "record %08ld\n", r);
			if (memcmp(recs + (r - 1) * REC_LEN, rec, REC_LEN))
				tc_bad("tick %ld: %s record %ld is '%.15s'", n, app_path, r,
				       recs + (r - 1) * REC_LEN);
		}

		/* deleted file */
		if (fstat(FD_DEL, &st) < 0)
			tc_bad("fstat: %s", strerror(errno));
		if (st.st_nlink != 0)
			tc_bad("tick %ld: deleted file has %lu links", n, (unsigned long)st.st_nlink);
		if (st.st_size != DEL_SIZE)
			tc_bad("tick %ld: deleted file is %lld bytes, expected %d", n,
			       (long long)st.st_size, DEL_SIZE);
		if ((fcntl(FD_DEL, F_GETFL) & O_ACCMODE) != O_RDWR)
			tc_bad("tick %ld: deleted file is no longer O_RDWR", n);
		if (cur(FD_DEL) != DEL_OFF)
			tc_bad("tick %ld: deleted file offset %lld, expected %d", n,
			       (long long)cur(FD_DEL), DEL_OFF);
		pread_all(FD_DEL, buf, DEL_SIZE, 0, "deleted file");
		for (size_t i = 0; i < DEL_SIZE; i++)
			if (buf[i] != del_model[i])
				tc_bad("tick %ld: deleted file byte %zu is %u, expected %u", n, i,
				       buf[i], del_model[i]);
		slot = (size_t)n % 16;
		v = tc_mix((uint64_t)n);
		memcpy(del_model + slot * 4096 + 100, &v, sizeof(v));
		if (pwrite(FD_DEL, &v, sizeof(v), (off_t)(slot * 4096 + 100)) != sizeof(v))
			tc_bad("pwrite deleted file: %s", strerror(errno));

		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	unlink(ro_path);
	unlink(app_path);
	tc_pass();
}
