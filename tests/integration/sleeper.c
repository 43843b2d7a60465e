/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sleeper: a thread's relative sleep interrupted by a dump must, after the
 * restore, sleep only the time it had left, as the kernel's own restart of
 * the call does -- not start over (the way CRIU and DMTCP leave it too: the
 * time left is in rem).  A second thread sleeps -s SLEEP_MS at a time, in
 * turn with nanosleep(&req, &rem), clock_nanosleep(CLOCK_MONOTONIC, 0, &req,
 * &rem) and nanosleep(&ts, &ts) (glibc's sleep()).  It measures each sleep
 * on the process's own clock: a POSIX timer armed for an hour (SIGEV_NONE),
 * whose time left a restore sets back to what it was at the dump, so the
 * time between a dump and its restore is not counted.  A sleep that took
 * a second more than its length (or less than its length) is BAD.  The
 * main thread ticks every -i INTERVAL_MS; each tick checks the sleeper made
 * progress within two sleeps' time.
 *
 *   sleeper [-n TARGET] [-i INTERVAL_MS] [-s SLEEP_MS]
 *
 * The first sleep starts at READY: a dump after tick K, K * INTERVAL_MS
 * more than a second into SLEEP_MS and well before its end, catches it in
 * the middle, so a restore that made the whole sleep again is seen.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "tc_test.h"

static timer_t life;		/* the process's clock of time lived */
static long sleep_ms = 3000;
static atomic_long sleeps_done;

static uint64_t lived_ns(void)
{
	struct itimerspec left;

	if (timer_gettime(life, &left) < 0)
		tc_bad("timer_gettime: %s", strerror(errno));
	if (!left.it_value.tv_sec && !left.it_value.tv_nsec)
		tc_bad("the hour timer expired");
	return 3600ull * 1000000000ull -
	       ((uint64_t)left.it_value.tv_sec * 1000000000ull + (uint64_t)left.it_value.tv_nsec);
}

static void sleep_once(long round)
{
	struct timespec req = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L }, rem;
	static const char *const how[] = { "nanosleep(&req, &rem)",
					   "clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem)",
					   "nanosleep(&ts, &ts)" };
	int kind = (int)(round % 3), r;
	uint64_t t0, slept, want = (uint64_t)sleep_ms * 1000000ull;

	t0 = lived_ns();
	switch (kind) {
	case 0:
		r = nanosleep(&req, &rem) < 0 ? errno : 0;
		break;
	case 1:
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
		break;
	default:
		r = nanosleep(&req, &req) < 0 ? errno : 0;
		break;
	}
	if (r)
		tc_bad("sleep %ld, %s: %s (no signal handler is installed)", round, how[kind],
		       strerror(r));
	slept = lived_ns() - t0;
	/* the timer's clock has microsecond steps here: a little slack below */
	if (slept + 1000000ull < want)
		tc_bad("sleep %ld, %s of %ld ms returned after %llu us of the process's life",
		       round, how[kind], sleep_ms, (unsigned long long)(slept / 1000));
	if (slept > want + 1000000000ull)
		tc_bad("sleep %ld, %s of %ld ms took %llu ms of the process's life: "
		       "made whole again after a restore?", round, how[kind], sleep_ms,
		       (unsigned long long)(slept / 1000000));
}

static void *sleeper_thread(void *arg)
{
	(void)arg;
	for (long round = 0;; round++) {
		sleep_once(round);
		atomic_fetch_add(&sleeps_done, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 100, .interval_ms = 50 };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec hour = { { 0, 0 }, { 3600, 0 } };
	uint64_t last_progress;
	long last_done = 0;
	pthread_t t;
	int c;

	while ((c = getopt(argc, argv, "n:i:s:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			sleep_ms = tc_parse_long(optarg, "-s");
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-s SLEEP_MS]\n", argv[0]);
		return 2;
	}
	if (sleep_ms < 10)
		sleep_ms = 10;
	tc_proc_init("sleeper");
	if (timer_create(CLOCK_MONOTONIC, &sev, &life) < 0)
		tc_bad("timer_create: %s", strerror(errno));
	if (timer_settime(life, 0, &hour, NULL) < 0)
		tc_bad("timer_settime: %s", strerror(errno));
	tc_ready();
	last_progress = lived_ns();
	if ((errno = pthread_create(&t, NULL, sleeper_thread, NULL)))
		tc_bad("pthread_create: %s", strerror(errno));

	for (long n = 1; n <= o.target; n++) {
		long done = atomic_load(&sleeps_done);
		uint64_t now = lived_ns();

		if (done != last_done) {
			last_done = done;
			last_progress = now;
		} else if (now - last_progress > 2ull * (uint64_t)sleep_ms * 1000000ull + 1000000000ull) {
			tc_bad("no sleep of %ld ms ended in %llu ms of the process's life", sleep_ms,
			       (unsigned long long)((now - last_progress) / 1000000));
		}
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
