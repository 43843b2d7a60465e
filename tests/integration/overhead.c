/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * overhead WORKLOAD N: the workloads whose cost under a supervisor issue 11
 * measures, printing the wall time in ms.  WORKLOAD is one of
 *   signals    N signals sent to itself (caught)
 *   fork       N fork + wait
 *   forkexec   N fork + exec /bin/true + wait
 *   threads    N thread create + join
 *   compute    N million rounds of arithmetic, no system call
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_usr1(int sig)
{
	(void)sig;
	caught++;
}

static void *nothing(void *arg)
{
	return arg;
}

/* A result the compiler cannot drop. */
static volatile uint64_t sink;

static void compute(long millions)
{
	uint64_t x = 88172645463325252ull;

	for (long i = 0; i < millions * 1000000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink = x;
}

static int reap(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "overhead: child %d: %s\n", (int)pid, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: overhead signals|fork|forkexec|threads|compute N\n");
		return 2;
	}
	signal(SIGUSR1, on_usr1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(argv[1], "compute")) {
		compute(n);
		n = 0;
	}
	for (long i = 0; i < n; i++) {
		if (!strcmp(argv[1], "signals")) {
			raise(SIGUSR1);
		} else if (!strcmp(argv[1], "fork")) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (reap(pid) < 0)
				return 1;
		} else if (!strcmp(argv[1], "forkexec")) {
			pid_t pid = fork();

			if (pid == 0) {
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			if (reap(pid) < 0)
				return 1;
		} else if (!strcmp(argv[1], "threads")) {
			pthread_t t;

			if (pthread_create(&t, NULL, nothing, NULL) != 0 ||
			    pthread_join(t, NULL) != 0)
				return 1;
		} else {
			fprintf(stderr, "overhead: unknown workload %s\n", argv[1]);
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!strcmp(argv[1], "signals") && caught != n) {
		fprintf(stderr, "overhead: BAD %ld signals caught of %ld\n", (long)caught, n);
		return 1;
	}
	printf("%.1f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}
