/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dump throughput: image_write of N MiB (default 1024) of this process's own
 * touched memory into DIR (default /tmp/tc-bench), read with process_vm_readv
 * as the tracer does.  Prints GB/s of page data for each of a few rounds.
 *
 *   bench_image [MiB [DIR [ROUNDS [-k]]]]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proto/image.h"
#include "proto/imagekey.h"
#include "util/fileio.h"

static const struct image_key test_key = { .bytes = { 7, 7, 7 }, .path = "test" };

static int vm_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	(void)ctx;
	n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
	const char *dir = argc > 2 ? argv[2] : "/tmp/tc-bench";
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	bool keep = argc > 4 && !strcmp(argv[4], "-k");
	size_t len = mib << 20;
	struct computation c = { .version = TC_FORMAT_VERSION, .generation = 1 };
	struct mem_reader mr = { .read = vm_read };
	struct process_record *p;
	struct image_stats st;
	uint8_t *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < len; i += 64)
		mem[i] = (uint8_t)(i >> 12) ^ (uint8_t)i;
	c.host = strdup("bench");
	c.nr_procs = 1;
	c.procs = calloc(1, sizeof(*c.procs));
	p = &c.procs[0];
	p->pid = p->real_pid = getpid();
	p->nr_vmas = 1;
	p->vmas = calloc(1, sizeof(*p->vmas));
	p->vmas[0] = (struct vma_record){ .start = (uintptr_t)mem, .end = (uintptr_t)mem + len,
					  .prot = PROT_READ | PROT_WRITE, .kind = VMA_ANON_PRIVATE };
	/* As a pagemap scan of fully touched memory gives it: a handful of long runs. */
	p->nr_runs = 16;
	p->runs = calloc(p->nr_runs, sizeof(*p->runs));
	for (size_t i = 0; i < p->nr_runs; i++)
		p->runs[i] = (struct page_run){ (uintptr_t)mem + i * (len / 16), len / 16 };
	for (int i = 0; i < rounds; i++) {
		int r;

		/* Replacing an old image costs its unlink too; -k keeps it, to measure that. */
		if (!keep)
			rm_rf(dir);
		r = image_write(&c, dir, &test_key, &mr, &st);

		if (r < 0) {
			fprintf(stderr, "image_write: %s\n", strerror(-r));
			return 1;
		}
		printf("%zu MiB in %.3f s: %.2f GB/s (%.2f GiB/s)\n", mib, st.write_ns / 1e9,
		       (double)len / st.write_ns, (double)len / st.write_ns / 1.073741824);
	}
	{
		struct computation *rc = NULL;
		char err[256];
		struct timespec t0, t1;
		double s;
		int r;

		/* Verifying reads the whole image back: from the disk, the writer bypassed the cache. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = image_read(dir, &test_key, &rc, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (r < 0) {
			fprintf(stderr, "image_read: %s\n", err);
			return 1;
		}
		printf("image_read (verify %zu MiB): %.3f s: %.2f GB/s\n", mib, s, len / s / 1e9);
		computation_destroy(rc);
	}
	rm_rf(dir);
	computation_free(&c);
	munmap(mem, len);
	return 0;
}
