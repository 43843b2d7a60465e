/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * shmem: a parent and its child check each other's counters in five kinds
 * of shared memory -- MAP_SHARED|MAP_ANONYMOUS inherited over fork, POSIX
 * shm (/dev/shm), a sealed memfd whose fd is closed, a SysV segment and a
 * sealed memfd whose fd stays open.  The parent writes count n everywhere,
 * the child checks all five and answers n in each; the parent checks the
 * answers and prints the tick.  If the memory stops being shared after a
 * restore, the answers never come and the parent says BAD.  The parent
 * also checks what the kernel says of them: the open memfd's seals and
 * that its fd reads what its mapping holds, the SysV segment by its id
 * (removed, still attached), and that a write-sealed memfd mapped
 * read-only with no fd left stays unwritable.
 *
 *   shmem [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/shm.h>

#include "tc_test.h"

#define NKIND 5
#define HELD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

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

static void check_kernel_view(int held, const struct cell *cells4, int id, struct cell *ro,
			      const struct cell *ro_model)
{
	struct shmid_ds ds;
	struct cell got;
	int seals = fcntl(held, F_GET_SEALS);

	if (seals != HELD_SEALS)
		tc_bad("memfd held: seals 0x%x, want 0x%x", seals, HELD_SEALS);
	if (pread(held, &got, sizeof(got), 0) != sizeof(got) || memcmp(&got, cells4, sizeof(got)))
		tc_bad("memfd held: its fd does not read what its mapping holds");
	/* Linux keeps a removed segment's id usable while it is attached. */
	if (shmctl(id, IPC_STAT, &ds) < 0)
		tc_bad("SysV segment %d: IPC_STAT: %s", id, strerror(errno));
	if (ds.shm_segsz != sizeof(struct cell) || !(ds.shm_perm.mode & SHM_DEST) ||
	    (ds.shm_perm.mode & 0777) != 0600)
		tc_bad("SysV segment %d: size %zu mode 0%o", id, (size_t)ds.shm_segsz,
		       ds.shm_perm.mode);
	if (memcmp(ro, ro_model, sizeof(*ro)))
		tc_bad("memfd ro: contents changed");
	if (mprotect(ro, sizeof(*ro), PROT_READ | PROT_WRITE) == 0)
		tc_bad("memfd ro: sealed against writing, yet its mapping became writable");
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct cell *cells[NKIND], *ro;
	struct cell ro_model;
	char shm_name[64];
	int c, fd, held, id;
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
	held = memfd_create("tc-shmem-held", MFD_ALLOW_SEALING);
	if (held < 0 || ftruncate(held, sizeof(struct cell)) < 0)
		tc_bad("memfd held: %s", strerror(errno));
	cells[4] = mmap(NULL, sizeof(struct cell), PROT_READ | PROT_WRITE, MAP_SHARED, held, 0);
	if (cells[4] == MAP_FAILED || fcntl(held, F_ADD_SEALS, HELD_SEALS) < 0)
		tc_bad("memfd held: %s", strerror(errno));
	/* Written, sealed against writing, mapped read-only, its fd closed. */
	fill(&ro_model, 4242);
	fd = memfd_create("tc-shmem-ro", MFD_ALLOW_SEALING);
	if (fd < 0 || pwrite(fd, &ro_model, sizeof(ro_model), 0) != sizeof(ro_model) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0)
		tc_bad("memfd ro: %s", strerror(errno));
	ro = mmap(NULL, sizeof(struct cell), PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED)
		tc_bad("memfd ro: mmap: %s", strerror(errno));
	close(fd);

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
		check_kernel_view(held, cells[4], id, ro, &ro_model);
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
