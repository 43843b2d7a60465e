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
 * "stall N MS US MEAN_US": the longest gap between two iterations during
 * tick N, in whole ms and in us, and the mean iteration of the tick in us.
 *
 * -m SIZE[K|M|G]: that much memory besides, touched, one page of it
 * written per iteration (a big program that forks).
 *
 * -M SIZE[K|M|G]: that much memory in a second process, the holder, which
 * writes and checks one page of it every millisecond and reports its own
 * longest gap into the tick's figure.  The program's forks then copy
 * nothing big, so an iteration stays short and a stall of a few ms shows;
 * with -m, a fork of the memory (tens of ms) is part of every gap.
 *
 *   forkstall [-n TARGET] [-i INTERVAL_MS] [-m SIZE | -M SIZE]
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

/* Between the holder and the main process. */
struct holder_share {
	uint64_t gap_ns;	/* the holder's longest gap since the main process took it */
	uint32_t touched;	/* all its memory is in */
};

/*
 * The holder: page k % pages holds how many times it was written, on top
 * of the fill byte's pattern.
 */
static void run_holder(size_t len, struct holder_share *sh, pid_t parent)
{
	const uint64_t fill = 0x0101010101010101ull;
	size_t pages = len / 4096;
	uint64_t prev, now, k;
	uint8_t *mem = malloc(len);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(0);
	if (prctl(PR_SET_NAME, "tc-fsholder", 0, 0, 0) < 0)
		tc_bad("holder: PR_SET_NAME: %s", strerror(errno));
	if (!mem || !pages)
		tc_bad("holder: malloc %zu: %s", len, strerror(errno));
	memset(mem, 1, len);
	__atomic_store_n(&sh->touched, 1, __ATOMIC_RELEASE);
	prev = tc_now_ns();
	for (k = 0;; k++) {
		uint64_t *slot = (uint64_t *)(mem + (k % pages) * 4096);

		if (*slot != fill + k / pages)
			tc_bad("holder: page %zu holds 0x%llx, expected 0x%llx after %llu writes",
			       (size_t)(k % pages), (unsigned long long)*slot,
			       (unsigned long long)(fill + k / pages), (unsigned long long)k);
		*slot += 1;
		/* PR_SET_PDEATHSIG is not restored: gone with the main process. */
		if (getppid() != parent)
			_exit(0);
		tc_sleep_ms(1, 0);
		now = tc_now_ns();
		if (now - prev > __atomic_load_n(&sh->gap_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&sh->gap_ns, now - prev, __ATOMIC_RELAXED);
		prev = now;
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 100 };
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	struct sigaction sa = { 0 };
	uint64_t iterations = 0, prev, tick_start, tick_iterations = 0, max_gap = 0;
	long n = 1;
	size_t mem_len = 0, holder_len = 0, page = 0;
	struct holder_share *holder_sh = NULL;
	pid_t holder = 0;
	uint8_t *mem = NULL;
	int c;

	while ((c = getopt(argc, argv, "n:i:m:M:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'm') {
			mem_len = tc_parse_size(optarg, "-m");
			continue;
		}
		if (c == 'M') {
			holder_len = tc_parse_size(optarg, "-M");
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-m SIZE | -M SIZE]\n", argv[0]);
		return 2;
	}
	if (mem_len) {
		mem = malloc(mem_len);
		if (!mem)
			tc_bad("malloc %zu: %s", mem_len, strerror(errno));
		memset(mem, 1, mem_len);
	}
	tc_proc_init("forkstall");
	if (holder_len) {
		pid_t self = getpid();

		holder_sh = mmap(NULL, sizeof(*holder_sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (holder_sh == MAP_FAILED)
			tc_bad("mmap: %s", strerror(errno));
		holder = fork();
		if (holder < 0)
			tc_bad("fork the holder: %s", strerror(errno));
		if (holder == 0)
			run_holder(holder_len, holder_sh, self);
		/* Ready once its memory is in: a dump before would find less. */
		while (!__atomic_load_n(&holder_sh->touched, __ATOMIC_ACQUIRE)) {
			if (waitpid(holder, NULL, WNOHANG) != 0)
				tc_bad("the holder %d is gone", (int)holder);
			tc_sleep_ms(5, 0);
		}
	}
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
		tick_iterations++;
		if ((uint64_t)usr1_count != iterations)
			tc_bad("SIGUSR1 handled %llu times after %llu iterations",
			       (unsigned long long)usr1_count, (unsigned long long)iterations);
		tc_sleep_ms(1, 1);
		now = tc_now_ns();
		if (now - prev > max_gap)
			max_gap = now - prev;
		prev = now;
		if (now - tick_start >= (uint64_t)o.interval_ms * 1000000ull) {
			if (holder && waitpid(holder, NULL, WNOHANG) != 0)
				tc_bad("the holder %d is gone", (int)holder);
			if (holder_sh) {
				uint64_t held = __atomic_exchange_n(&holder_sh->gap_ns, 0,
								    __ATOMIC_RELAXED);

				max_gap = held > max_gap ? held : max_gap;
			}
			tc_proc_check();
			tc_tick(n);
			tc_printf("stall %ld %llu %llu %llu\n", n, (unsigned long long)(max_gap / 1000000),
				  (unsigned long long)(max_gap / 1000),
				  (unsigned long long)((now - tick_start) / 1000 / tick_iterations));
			n++;
			max_gap = 0;
			tick_start = tc_now_ns();
			prev = tick_start;
			tick_iterations = 0;
		}
	}
	if (alrm_count == 0)
		tc_bad("no SIGALRM in %ld ticks", o.target);
	tc_pass();
}
