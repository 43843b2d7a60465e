/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cowshare: memory a process shares copy-on-write with its child, which a
 * dump must leave shared.  The parent fills 32 MiB, then forks a child that
 * only reads it; neither writes it again.  Every tick both check its bytes,
 * and the parent checks in /proc/self/smaps_rollup that it still shares
 * it (Shared_Dirty): reading the pages with process_vm_readv would have
 * unshared them, making each process's memory its own copy.  A restored
 * parent (a new process: its start time in /proc/self/stat differs) has
 * its own copy, and checks only the bytes.
 *
 *   cowshare [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "tc_test.h"

#define SHARED_LEN (32ul << 20)

static uint8_t byte_at(size_t i)
{
	return (uint8_t)(tc_mix(i >> 12) + i);
}

static void check(const uint8_t *m, const char *who)
{
	for (size_t i = 0; i < SHARED_LEN; i += 509)
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

/* Shared_Dirty of /proc/self/smaps_rollup, in KiB. */
static unsigned long shared_dirty_kib(void)
{
	static char rollup[4096];
	size_t n = tc_read_file("/proc/self/smaps_rollup", rollup, sizeof(rollup) - 1);
	const char *p;

	rollup[n] = '\0';
	p = strstr(rollup, "\nShared_Dirty:");
	if (!p)
		tc_bad("/proc/self/smaps_rollup: no Shared_Dirty");
	return strtoul(p + strlen("\nShared_Dirty:"), NULL, 10);
}

static void run_child(const uint8_t *m, pid_t parent)
{
	prctl(PR_SET_NAME, "tc-cowchild", 0, 0, 0);
	for (;;) {
		/* Its parent gone (killed after a dump, or ended): so is it. */
		if (getppid() != parent)
			_exit(0);
		check(m, "child");
		tc_sleep_ms(20, 0);
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	unsigned long long started;
	uint8_t *m;
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
	tc_proc_init("cowshare");
	self = getpid();
	child = fork();
	if (child < 0)
		tc_bad("fork: %s", strerror(errno));
	if (child == 0)
		run_child(m, self);
	started = start_time();
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		tc_sleep_ms(o.interval_ms, 0);
		check(m, "parent");
		if (waitpid(child, NULL, WNOHANG) != 0)
			tc_bad("the child %d is gone", (int)child);
		if (start_time() == started && shared_dirty_kib() < SHARED_LEN / 1024 * 3 / 4)
			tc_bad("only %lu KiB shared with the child, %lu KiB were",
			       shared_dirty_kib(), SHARED_LEN / 1024);
		tc_proc_check();
		tc_tick(n);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	tc_pass();
}
