/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check PID: would a dump of PID's computation work?  Its supervisor
 * freezes it for as long as collecting its state takes, writes nothing,
 * and says what a dump would refuse or how much it would write; this end
 * measures how fast the image's disk takes O_DIRECT writes, for an estimate
 * of the dump time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trace-ckpt.h"
#include "util/macro.h"

#define PROBE_BYTES (32u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Bytes per second written with O_DIRECT and made durable, in dir; 0 if unknown. */
static double disk_write_rate(const char *dir)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	void *buf;
	double t0, dt;
	int r = 0;

	if (snprintf(path, sizeof(path), "%s/.trace-ckpt-probe-XXXXXX", dir) >= (int)sizeof(path))
		return 0;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return 0;
	unlink(path);
	close(fd);
	fd = -1;
	buf = mmap(NULL, PROBE_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		return 0;
	memset(buf, 0x5a, PROBE_BYTES);
	/* Anew, for O_DIRECT: the name was only to find a free one. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0) {
		munmap(buf, PROBE_BYTES);
		return 0;
	}
	unlink(path);
	t0 = now_s();
	if (write(fd, buf, PROBE_BYTES) != (ssize_t)PROBE_BYTES || fsync(fd) < 0)
		r = -1;
	dt = now_s() - t0;
	munmap(buf, PROBE_BYTES);
	return r == 0 && dt > 0 ? PROBE_BYTES / dt : 0;
}

/* The directory a dump would write into: the supervisor's, else here. */
static void image_parent(pid_t pid, char *out, size_t len)
{
	struct supervisor_info *v = NULL;
	size_t n = 0;

	if (!getcwd(out, len))
		snprintf(out, len, "/tmp");
	if (client_find(pid, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < v[i].nr_pids; k++)
				if (v[i].pids[k] == pid && v[i].dir) {
					char *slash;

					snprintf(out, len, "%s", v[i].dir);
					slash = strrchr(out, '/');
					if (slash && slash != out)
						*slash = '\0';
				}
	}
	client_list_free(v, n);
}

int check_pid(pid_t pid)
{
	char msg[8192] = "", dir[PATH_MAX];
	double rate, mib;
	int r;

	r = tc_dump(pid, NULL, TC_DUMP_CHECK, msg, sizeof(msg));
	if (r == -ESRCH && !msg[0]) {
		fprintf(stderr, "trace-ckpt check: pid %d is in no computation of yours that a "
			"supervisor answers for (trace-ckpt list)\n", pid);
		return 2;
	}
	if (r < 0) {
		const char *line = strchr(msg, '\n');

		/* "N things a dump would refuse:" and a line each, or one reason. */
		if (line) {
			printf("%.*s\n", (int)(line - msg), msg);
			for (const char *p = line + 1; *p;) {
				size_t n = strcspn(p, "\n");

				printf("problem: %.*s\n", (int)n, p);
				p += n + (p[n] != '\0');
			}
		} else {
			printf("problem: %s\n", msg[0] ? msg : strerror(-r));
		}
		printf("a dump would be refused, with the first of these, the program running on\n");
		return 1;
	}
	printf("%s\n", msg);
	image_parent(pid, dir, sizeof(dir));
	rate = disk_write_rate(dir);
	if (sscanf(msg, "a dump would work: about %lf MiB", &mib) == 1 && rate > 0)
		printf("estimate: %.2f s to write it to %s (%.2f GB/s with O_DIRECT, just measured)\n",
		       mib * 1048576.0 / rate, dir, rate / 1e9);
	return 0;
}
