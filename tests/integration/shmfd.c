/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * shmfd: a POSIX shared memory object opened with shm_open (which adds
 * O_NOFOLLOW to its flags) and removed with shm_unlink right away, as MPI
 * libraries do; only the fd keeps it.  Every tick a word is written through
 * the fd and the whole object is read back and checked.
 *
 *   shmfd [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/mman.h>

#include "tc_test.h"

#define SIZE 65536

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	static uint64_t model[SIZE / 8], got[SIZE / 8];
	char name[64];
	int c, fd;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("shmfd");
	snprintf(name, sizeof(name), "/tc-shmfd-%d", getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, SIZE) < 0 || shm_unlink(name) < 0)
		tc_bad("shm %s: %s", name, strerror(errno));
	for (size_t i = 0; i < SIZE / 8; i++)
		model[i] = tc_mix(i);
	if (pwrite(fd, model, SIZE, 0) != SIZE)
		tc_bad("pwrite: %s", strerror(errno));
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		size_t w = (size_t)tc_mix((uint64_t)n) % (SIZE / 8);

		model[w] = tc_mix((uint64_t)n << 20);
		if (pwrite(fd, &model[w], 8, (off_t)(w * 8)) != 8)
			tc_bad("tick %ld: pwrite: %s", n, strerror(errno));
		if (pread(fd, got, SIZE, 0) != SIZE)
			tc_bad("tick %ld: pread: %s", n, strerror(errno));
		if (memcmp(got, model, SIZE))
			tc_bad("tick %ld: the shared memory object does not hold what was written", n);
		if (!(fcntl(fd, F_GETFL) & O_RDWR))
			tc_bad("tick %ld: no longer O_RDWR", n);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
