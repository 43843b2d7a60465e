/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * shmem: a parent and its child check each other's counters in four kinds
 * of shared memory -- MAP_SHARED|MAP_ANONYMOUS inherited over fork, POSIX
 * shm (/dev/shm), a sealed memfd and a SysV segment.  The parent writes
 * count n everywhere, the child checks all four and answers n in each; the
 * parent checks the answers and prints the tick.  If the memory stops being
 * shared after a restore, the answers never come and the parent says BAD.
 *
 *   shmem [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/shm.h>

#include "tc_test.h"

#define NKIND 4

struct cell {
	volatile uint64_t ask, answer;
	uint64_t pattern[510];
};

static void fill(struct cell *c, uint64_t n)
{
	for (size_t i = 0; i < 510; i++)
		c->pattern[i] = tc_mix(n * 1000 + i);
}

static void check(const struct cell *c, uint64_t n, int kind, const char *who)
{
	for (size_t i = 0; i < 510; i++)
		if (c->pattern[i] != tc_mix(n * 1000 + i))
			tc_bad("%s: kind %d pattern[%zu] wrong for count %llu", who, kind, i,
			       (unsigned long long)n);
}

/* Wait, bounded, until every cell says n in the given field. */
static void wait_all(struct cell **cells, uint64_t n, int answer, const char *who)
{
	uint64_t deadline = tc_now_ns() + 20ull * 1000000000;

	for (;;) {
		int ok = 0;

		for (int k = 0; k < NKIND; k++)
			ok += (answer ? cells[k]->answer : cells[k]->ask) == n;
		if (ok == NKIND)
			return;
		if (tc_now_ns() > deadline)
			tc_bad("%s: count %llu not seen in all shared memories (%d of %d)", who,
			       (unsigned long long)n, ok, NKIND);
		tc_sleep_ms(1, 1);
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct cell *cells[NKIND];
	char shm_name[64];
	int c, fd, id;
	pid_t child;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("shmem");

	cells[0] = mmap(NULL, sizeof(struct cell), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* In a pid namespace getpid() is the same every run: add the time. */
	snprintf(shm_name, sizeof(shm_name), "/tc-shmem-%d-%llx", getpid(),
		 (unsigned long long)tc_now_ns());
	fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(struct cell)) < 0)
		tc_bad("shm_open: %s", strerror(errno));
	cells[1] = mmap(NULL, sizeof(struct cell), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	fd = memfd_create("tc-shmem", MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, sizeof(struct cell)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		tc_bad("memfd: %s", strerror(errno));
	cells[2] = mmap(NULL, sizeof(struct cell), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	id = shmget(IPC_PRIVATE, sizeof(struct cell), IPC_CREAT | 0600);
	cells[3] = id < 0 ? MAP_FAILED : shmat(id, NULL, 0);
	for (int k = 0; k < NKIND; k++)
		if (cells[k] == MAP_FAILED || cells[k] == (void *)-1)
			tc_bad("shared memory kind %d: %s", k, strerror(errno));
	/* Gone once both detach; the restore re-creates it under the same id. */
	shmctl(id, IPC_RMID, NULL);

	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0) {
		for (uint64_t n = 1;; n++) {
			wait_all(cells, n, 0, "child");
			for (int k = 0; k < NKIND; k++) {
				check(cells[k], n, k, "child");
				cells[k]->answer = n;
			}
			if (n >= (uint64_t)o.target)
				_exit(0);
		}
	}
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		for (int k = 0; k < NKIND; k++) {
			fill(cells[k], n);
			cells[k]->ask = n;
		}
		wait_all(cells, n, 1, "parent");
		for (int k = 0; k < NKIND; k++)
			check(cells[k], n, k, "parent");
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	{
		int status;

		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			tc_bad("child ended badly");
	}
	shm_unlink(shm_name);
	tc_pass();
}
