/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spawner: posix_spawn(/bin/true) and wait, over and over (glibc's
 * posix_spawn is a vfork: the parent waits in the kernel until the child
 * has exec'd).  Checked: every child exits 0, and the count of spawns goes
 * up by SPAWNS_PER_TICK between ticks.  A dump that stops the child before
 * its exec must still stop the parent.
 *
 *   spawner [-n TARGET] [-i INTERVAL_MS]
 */
#include <spawn.h>
#include <sys/wait.h>

#include "tc_test.h"

#define SPAWNS_PER_TICK 200

extern char **environ;

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 100, .interval_ms = 0 };
	char *child_argv[] = { "true", NULL };
	uint64_t spawns = 0;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("spawner");
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		for (int k = 0; k < SPAWNS_PER_TICK; k++) {
			pid_t pid;
			int status, r = posix_spawn(&pid, "/bin/true", NULL, NULL, child_argv, environ);

			if (r)
				tc_bad("posix_spawn: %s", strerror(r));
			if (waitpid(pid, &status, 0) != pid)
				tc_bad("waitpid %d: %s", (int)pid, strerror(errno));
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				tc_bad("/bin/true ended with status %#x", status);
			spawns++;
		}
		if (spawns != (uint64_t)n * SPAWNS_PER_TICK)
			tc_bad("%llu spawns at tick %ld", (unsigned long long)spawns, n);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
