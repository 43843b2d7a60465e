/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * blockread: a single-threaded program that spends nearly all its time
 * blocked in a system call, where the checkpoint lands.  After a restore the
 * call must go on as if nothing happened (the kernel's -ERESTART* handling).
 *
 *   blockread [-m read|nanosleep|pause] [-n TARGET] [-i INTERVAL_MS]
 *
 *  read       the program owns a pipe and blocks in read() on its read end;
 *             ITIMER_REAL fires SIGALRM every INTERVAL_MS and the handler
 *             (SA_RESTART) writes one sequence byte into the pipe.  Each
 *             byte read is a tick; bytes must come in sequence, read() must
 *             never fail with EINTR (SA_RESTART) nor return 0.
 *  nanosleep  no signals at all; each tick is one nanosleep(INTERVAL_MS),
 *             which must return 0 (never EINTR) and not before its time.
 *  pause      ITIMER_REAL + a counting SIGALRM handler; each tick is one
 *             pause(), which must return -1/EINTR after the handler ran.
 */
#include <signal.h>
#include <sys/time.h>

#include "tc_test.h"

static int pipe_w = -1;
static volatile sig_atomic_t alarms;
static volatile unsigned char seq_out;

static void on_alrm(int sig)
{
	int saved = errno;

	(void)sig;
	alarms++;
	if (pipe_w >= 0) {
		unsigned char b = seq_out;

		if (write(pipe_w, &b, 1) == 1)
			seq_out = (unsigned char)(b + 1);
	}
	errno = saved;
}

static void start_timer(long ms)
{
	struct itimerval it = { { ms / 1000, (ms % 1000) * 1000 }, { ms / 1000, (ms % 1000) * 1000 } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		tc_bad("sigaction: %s", strerror(errno));
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		tc_bad("setitimer: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 200, .interval_ms = 20 };
	const char *mode = "read";
	int c, p[2];

	while ((c = getopt(argc, argv, "n:i:m:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'm') {
			mode = optarg;
			continue;
		}
		fprintf(stderr, "usage: %s [-m read|nanosleep|pause] [-n TARGET] [-i INTERVAL_MS]\n",
			argv[0]);
		return 2;
	}
	if (o.interval_ms < 1)
		o.interval_ms = 1;

	tc_proc_init("blockread");

	if (!strcmp(mode, "read")) {
		unsigned char seq_in = 0;

		if (pipe(p) < 0)
			tc_bad("pipe: %s", strerror(errno));
		pipe_w = p[1];
		start_timer(o.interval_ms);
		tc_ready();
		for (long n = 1; n <= o.target; n++) {
			unsigned char b;
			ssize_t r = read(p[0], &b, 1);

			if (r < 0)
				tc_bad("tick %ld: read on the pipe failed: %s", n, strerror(errno));
			if (r == 0)
				tc_bad("tick %ld: read on the pipe returned end of file", n);
			if (b != seq_in)
				tc_bad("tick %ld: read byte %u from the pipe, expected %u", n, b, seq_in);
			seq_in++;
			if ((long)alarms < n)
				tc_bad("tick %ld: %ld bytes read but only %ld SIGALRM", n, n,
				       (long)alarms);
			tc_proc_check();
			tc_tick(n);
		}
	} else if (!strcmp(mode, "nanosleep")) {
		tc_ready();
		for (long n = 1; n <= o.target; n++) {
			uint64_t t0 = tc_now_ns(), dt;

			tc_sleep_ms(o.interval_ms, 0);
			dt = tc_now_ns() - t0;
			if (dt + 1000000 < (uint64_t)o.interval_ms * 1000000)
				tc_bad("tick %ld: nanosleep(%ld ms) returned after %.3f ms", n,
				       o.interval_ms, dt / 1e6);
			tc_proc_check();
			tc_tick(n);
		}
	} else if (!strcmp(mode, "pause")) {
		start_timer(o.interval_ms);
		tc_ready();
		for (long n = 1; n <= o.target; n++) {
			long before = alarms;
			int r = pause();

			if (r != -1 || errno != EINTR)
				tc_bad("tick %ld: pause() returned %d (%s), expected -1/EINTR", n, r,
				       strerror(errno));
			if ((long)alarms == before)
				tc_bad("tick %ld: pause() returned but no SIGALRM handler ran", n);
			tc_proc_check();
			tc_tick(n);
		}
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	tc_pass();
}
