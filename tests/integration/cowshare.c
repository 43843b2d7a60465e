/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cowshare: memory a process shares copy-on-write with its child, which a
 * dump must leave shared.  The parent fills 32 MiB in one mapping and
 * 2 MiB in 256 mappings of 8 KiB (every other one made read-only, so they
 * stay apart), then forks a child that only reads them; neither writes
 * them again.  Every tick both check their bytes, and the parent checks in
 * /proc/self/smaps_rollup that its Private_Dirty has not grown by more
 * than 1 MiB since its first tick: reading the pages with process_vm_readv
 * would have unshared them, making each process's memory its own copy.  A
 * restored parent (a new process: its start time in /proc/self/stat
 * differs) has its own copy, and checks only the bytes.
 *
 *   cowshare [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "tc_test.h"

#define SHARED_LEN (32ul << 20)
#define SMALL_LEN (2ul << 20)
#define SMALL_PIECE (8ul << 10)
#define GROWTH_MAX_KIB 1024ul

static uint8_t byte_at(size_t i)
{
	return (uint8_t)(tc_mix(i >> 12) + i);
}

static void check(const uint8_t *m, size_t len, const char *who)
{
	for (size_t i = 0; i < len; i += 509)
		if (m[i] != byte_at(i))
			tc_bad("%s: byte %zu is %#x, expected %#x", who, i, m[i], byte_at(i));
}

/* Field 22 of /proc/self/stat: when this process started. */
static unsigned long long start_time(void)
{
	static char stat[1024];
	size_t n = tc_read_file("/proc/self/stat", stat, sizeof(stat) - 1);
	char *p;

	stat[n] = '\0';
	p = strrchr(stat, ')');
	for (int k = 0; p && k < 20; k++)
		p = strchr(p + 1, ' ');
	if (!p)
		tc_bad("/proc/self/stat: no start time in '%s'", stat);
	return strtoull(p + 1, NULL, 10);
}

/* Private_Dirty of /proc/self/smaps_rollup, in KiB. */
static unsigned long private_dirty_kib(void)
{
	static char rollup[4096];
	size_t n = tc_read_file("/proc/self/smaps_rollup", rollup, sizeof(rollup) - 1);
	const char *p;

	rollup[n] = '\0';
	p = strstr(rollup, "\nPrivate_Dirty:");
	if (!p)
		tc_bad("/proc/self/smaps_rollup: no Private_Dirty");
	return strtoul(p + strlen("\nPrivate_Dirty:"), NULL, 10);
}

static void run_child(const uint8_t *m, const uint8_t *small, pid_t parent)
{
	prctl(PR_SET_NAME, "tc-cowchild", 0, 0, 0);
	for (;;) {
		/* Its parent gone (killed after a dump, or ended): so is it. */
		if (getppid() != parent)
			_exit(0);
		check(m, SHARED_LEN, "child");
		check(small, SMALL_LEN, "child, small mappings");
		tc_sleep_ms(20, 0);
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	unsigned long long started;
	unsigned long base_kib = 0;
	uint8_t *m, *small;
	pid_t child, self;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	m = malloc(SHARED_LEN);
	if (!m)
		tc_bad("malloc: %s", strerror(errno));
	for (size_t i = 0; i < SHARED_LEN; i++)
		m[i] = byte_at(i);
	small = mmap(NULL, SMALL_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (small == MAP_FAILED)
		tc_bad("mmap: %s", strerror(errno));
	for (size_t i = 0; i < SMALL_LEN; i++)
		small[i] = byte_at(i);
	for (size_t at = 0; at < SMALL_LEN; at += 2 * SMALL_PIECE)
		if (mprotect(small + at, SMALL_PIECE, PROT_READ) < 0)
			tc_bad("mprotect: %s", strerror(errno));
	tc_proc_init("cowshare");
	self = getpid();
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0)
		run_child(m, small, self);
	started = start_time();
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		tc_sleep_ms(o.interval_ms, 0);
		check(m, SHARED_LEN, "parent");
		check(small, SMALL_LEN, "parent, small mappings");
		if (waitpid(child, NULL, WNOHANG) != 0)
			tc_bad("the child %d is gone", (int)child);
		/* From the first tick: its own first writes after the fork are in. */
		if (n == 1)
			base_kib = private_dirty_kib();
		else if (start_time() == started && private_dirty_kib() > base_kib + GROWTH_MAX_KIB)
			tc_bad("Private_Dirty grew from %lu KiB to %lu KiB: memory shared with the "
			       "child was unshared", base_kib, private_dirty_kib());
		tc_proc_check();
		tc_tick(n);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	tc_pass();
}
