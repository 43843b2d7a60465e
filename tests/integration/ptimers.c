/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ptimers: POSIX timers.  A periodic CLOCK_MONOTONIC timer signals
 * SIGRTMIN with a value, taken with sigwaitinfo: each expiry is a tick.  A
 * second timer (SIGEV_NONE) was armed for an hour: its time left must only
 * ever go down.  Both are used by the ids timer_create gave, which must
 * still name them after a restore.
 *
 *   ptimers [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>

#include "tc_test.h"

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct itimerspec its = { { 0, 0 }, { 0, 0 } }, hour = { { 0, 0 }, { 3600, 0 } };
	timer_t periodic, idle, spare;
	uint64_t last_left = UINT64_MAX;
	sigset_t mask;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("ptimers");
	sigemptyset(&mask);
	sigaddset(&mask, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A gap in the ids: a restore must keep them, not renumber. */
	sev.sigev_signo = SIGRTMIN + 1;
	if (timer_create(CLOCK_REALTIME, &sev, &spare) < 0)
		tc_bad("timer_create: %s", strerror(errno));
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 1234;
	if (timer_create(CLOCK_MONOTONIC, &sev, &periodic) < 0)
		tc_bad("timer_create: %s", strerror(errno));
	timer_delete(spare);
	sev.sigev_notify = SIGEV_NONE;
	if (timer_create(CLOCK_BOOTTIME, &sev, &idle) < 0 ||
	    timer_settime(idle, 0, &hour, NULL) < 0)
		tc_bad("idle timer: %s", strerror(errno));
	its.it_interval.tv_nsec = its.it_value.tv_nsec = o.interval_ms * 1000000L;
	if (timer_settime(periodic, 0, &its, NULL) < 0)
		tc_bad("timer_settime: %s", strerror(errno));
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		struct timespec limit = { 10, 0 };
		struct itimerspec cur;
		siginfo_t si;
		uint64_t left;

		int sig;

		/*
		 * Any ptrace stop (a checkpoint's freeze, gdb) ends a waiting
		 * sigtimedwait with EINTR, as SIGSTOP/SIGCONT would: wait again.
		 */
		do
			sig = sigtimedwait(&mask, &si, &limit);
		while (sig < 0 && errno == EINTR);
		if (sig != SIGRTMIN)
			tc_bad("tick %ld: no SIGRTMIN from the periodic timer: %s", n,
			       strerror(errno));
		if (si.si_code != SI_TIMER || si.si_value.sival_int != 1234)
			tc_bad("tick %ld: signal code %d value %d", n, si.si_code,
			       si.si_value.sival_int);
		if (timer_gettime(periodic, &cur) < 0 || cur.it_interval.tv_nsec != its.it_interval.tv_nsec)
			tc_bad("tick %ld: periodic timer: %s", n, strerror(errno));
		if (timer_gettime(idle, &cur) < 0)
			tc_bad("tick %ld: idle timer: %s", n, strerror(errno));
		left = cur.it_value.tv_sec * 1000000000ull + cur.it_value.tv_nsec;
		if (!left || left > last_left || left > 3600ull * 1000000000)
			tc_bad("tick %ld: idle timer has %llu ns left after %llu", n,
			       (unsigned long long)left, (unsigned long long)last_left);
		last_left = left;
		tc_proc_check();
		tc_tick(n);
	}
	tc_pass();
}
