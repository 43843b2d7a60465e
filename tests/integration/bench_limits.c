/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_limits: this machine's limits for a checkpoint, measured now, so
 * scripts/bench can print its figures as fractions of them.
 *
 *   bench_limits [-s SIZE_MIB] [DIR]
 *
 * Prints (GB/s = 1e9 bytes per second):
 *   memcpy_gbps X          best of 5 copies of SIZE between prefaulted buffers
 *   odirect_write_gbps Y   writing SIZE to a new file in DIR with O_DIRECT,
 *                          8 MiB aligned blocks, fsync included
 *   pagecache_read_gbps Z  reading that file back through the page cache
 *                          (after one warm-up read)
 * DIR defaults to /tmp; SIZE to 1024 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(8u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 0x5a, size);	/* prefault */
	return p;
}

int main(int argc, char **argv)
{
	size_t size = 1024ul << 20;
	const char *dir = "/tmp";
	char path[4096];
	double best = 1e9, t;
	char *src, *dst;
	int c, fd;

	while ((c = getopt(argc, argv, "s:")) != -1) {
		if (c == 's') {
			size = strtoul(optarg, NULL, 0) << 20;
			continue;
		}
		fprintf(stderr, "usage: %s [-s SIZE_MIB] [DIR]\n", argv[0]);
		return 2;
	}
	if (optind < argc)
		dir = argv[optind];
	size = (size + BLOCK - 1) / BLOCK * BLOCK;
	if (!size)
		size = BLOCK;

	src = alloc(size);
	dst = alloc(size);
	for (size_t i = 0; i < size; i += 4096)
		src[i] = (char)i;
	for (int r = 0; r < 5; r++) {
		t = now();
		memcpy(dst, src, size);
		t = now() - t;
		if (t < best)
			best = t;
	}
	/* keep the copy observable */
	if (dst[4096] != src[4096])
		return 1;
	printf("memcpy_gbps %.2f\n", (double)size / best / 1e9);
	munmap(dst, size);

	snprintf(path, sizeof(path), "%s/bench_limits.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "mkstemp %s: %s\n", path, strerror(errno));
		return 1;
	}
	unlink(path);
	if (fcntl(fd, F_SETFL, O_DIRECT) < 0) {
		fprintf(stderr, "O_DIRECT on %s: %s\n", dir, strerror(errno));
		printf("odirect_write_gbps 0\n");
	} else {
		t = now();
		for (size_t off = 0; off < size; off += BLOCK) {
			if (pwrite(fd, src + off, BLOCK, (off_t)off) != (ssize_t)BLOCK) {
				fprintf(stderr, "O_DIRECT write to %s: %s\n", dir, strerror(errno));
				return 1;
			}
		}
		if (fsync(fd) < 0) {
			fprintf(stderr, "fsync: %s\n", strerror(errno));
			return 1;
		}
		t = now() - t;
		printf("odirect_write_gbps %.2f\n", (double)size / t / 1e9);
		fcntl(fd, F_SETFL, 0);
	}

	best = 1e9;
	for (int r = 0; r < 2; r++) {
		t = now();
		for (size_t off = 0; off < size; off += BLOCK)
			if (pread(fd, src + off, BLOCK, (off_t)off) != (ssize_t)BLOCK) {
				fprintf(stderr, "read back: %s\n", strerror(errno));
				return 1;
			}
		t = now() - t;
		if (r && t < best)
			best = t;
	}
	printf("pagecache_read_gbps %.2f\n", (double)size / best / 1e9);
	close(fd);
	return 0;
}
