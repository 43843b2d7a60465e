/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * forkstall: a program that forks and takes signals all the time, and
 * reports the longest it was held up.  A supervisor that traces it must
 * serve each fork event and each signal-delivery stop; while it does not,
 * the program stands still.
 *
 * Each iteration forks a child that exits with status 7 and reaps it,
 * sends itself SIGUSR1, and sleeps 1 ms; an ITIMER_REAL of 10 ms adds
 * SIGALRMs.  Checked: every child exits 7, the SIGUSR1 handler ran exactly
 * once per iteration.  Every INTERVAL_MS it prints "tick N" and then
 * "stall N MS": the longest gap, in ms, between two iterations during tick N.
 *
 * -m SIZE[K|M|G]: that much memory besides, touched, one page of it
 * written per iteration (a big program that forks).
 *
 *   forkstall [-n TARGET] [-i INTERVAL_MS] [-m SIZE]
 */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "tc_test.h"

static volatile sig_atomic_t usr1_count, alrm_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm_count++;
}

static void fork_one(void)
{
	int status;
	pid_t pid = fork(), w;

	if (pid < 0)
		tc_bad("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(7);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w != pid)
		tc_bad("waitpid %d: %s", (int)pid, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
		tc_bad("child %d: status 0x%x, expected exit 7", (int)pid, status);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 100 };
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	struct sigaction sa = { 0 };
	uint64_t iterations = 0, prev, tick_start, max_gap = 0;
	long n = 1;
	size_t mem_len = 0, page = 0;
	uint8_t *mem = NULL;
	int c;

	while ((c = getopt(argc, argv, "n:i:m:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'm') {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			mem_len = (size_t)(v << (*end == 'G' ? 30 : *end == 'M' ? 20 : *end == 'K' ? 10 : 0));
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-m SIZE]\n", argv[0]);
		return 2;
	}
	if (mem_len) {
		mem = malloc(mem_len);
		if (!mem)
			tc_bad("malloc %zu: %s", mem_len, strerror(errno));
		memset(mem, 1, mem_len);
	}
	tc_proc_init("forkstall");
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		tc_bad("sigaction SIGUSR1: %s", strerror(errno));
	sa.sa_handler = on_alrm;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		tc_bad("sigaction SIGALRM: %s", strerror(errno));
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		tc_bad("setitimer: %s", strerror(errno));
	tc_ready();

	prev = tick_start = tc_now_ns();
	while (n <= o.target) {
		uint64_t now;

		fork_one();
		if (mem) {
			mem[page] += 1;
			page = (page + 4096) % mem_len;
		}
		if (raise(SIGUSR1) != 0)
			tc_bad("raise: %s", strerror(errno));
		iterations++;
		if ((uint64_t)usr1_count != iterations)
			tc_bad("SIGUSR1 handled %llu times after %llu iterations",
			       (unsigned long long)usr1_count, (unsigned long long)iterations);
		tc_sleep_ms(1, 1);
		now = tc_now_ns();
		if (now - prev > max_gap)
			max_gap = now - prev;
		prev = now;
		if (now - tick_start >= (uint64_t)o.interval_ms * 1000000ull) {
			tc_proc_check();
			tc_tick(n);
			tc_printf("stall %ld %llu\n", n, (unsigned long long)(max_gap / 1000000));
			n++;
			max_gap = 0;
			tick_start = tc_now_ns();
			prev = tick_start;
		}
	}
	if (alrm_count == 0)
		tc_bad("no SIGALRM in %ld ticks", o.target);
	tc_pass();
}
