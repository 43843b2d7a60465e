/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eventfds: an epoll loop over an eventfd, a signalfd and a periodic
 * timerfd.  Each tick waits for the timer through epoll, queues SIGUSR1
 * with the tick's number and reads it back through the signalfd, and adds
 * to the eventfd counter, read back every fourth tick.  Lost watches, a
 * lost counter or mask, or a dead timer end in BAD.
 *
 *   eventfds [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "tc_test.h"

enum { W_EVENT = 1, W_SIGNAL = 2, W_TIMER = 3 };

/* Wait, bounded, until epoll says `which` is readable. */
static void wait_for(int ep, int which, long tick)
{
	uint64_t deadline = tc_now_ns() + 10ull * 1000000000;

	for (;;) {
		struct epoll_event ev[4];
		int n = epoll_wait(ep, ev, 4, 1000);

		if (n < 0 && errno != EINTR)
			tc_bad("tick %ld: epoll_wait: %s", tick, strerror(errno));
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == (uint64_t)which)
				return;
		if (tc_now_ns() > deadline)
			tc_bad("tick %ld: epoll never said watch %d is ready", tick, which);
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	struct epoll_event ev;
	uint64_t expected_count = 0, v;
	sigset_t mask;
	int c, efd, sfd, tfd, ep;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("eventfds");
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0 || sfd < 0 || tfd < 0 || ep < 0)
		tc_bad("creating the fds: %s", strerror(errno));
	its.it_interval.tv_nsec = its.it_value.tv_nsec = o.interval_ms * 1000000L;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0)
		tc_bad("timerfd_settime: %s", strerror(errno));
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = W_EVENT };
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = W_SIGNAL };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = W_TIMER };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		struct signalfd_siginfo si;
		union sigval val = { .sival_int = (int)n };

		wait_for(ep, W_TIMER, n);
		if (read(tfd, &v, 8) != 8 || v == 0)
			tc_bad("tick %ld: timerfd read %s", n, strerror(errno));

		if (sigqueue(getpid(), SIGUSR1, val) < 0)
			tc_bad("sigqueue: %s", strerror(errno));
		wait_for(ep, W_SIGNAL, n);
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			tc_bad("tick %ld: signalfd read: %s", n, strerror(errno));
		if (si.ssi_signo != SIGUSR1 || si.ssi_int != (int32_t)n)
			tc_bad("tick %ld: signalfd gave signal %u value %d", n, si.ssi_signo,
			       si.ssi_int);

		v = (uint64_t)n;
		if (write(efd, &v, 8) != 8)
			tc_bad("eventfd write: %s", strerror(errno));
		expected_count += (uint64_t)n;
		if (n % 4 == 0) {
			wait_for(ep, W_EVENT, n);
			if (read(efd, &v, 8) != 8 || v != expected_count)
				tc_bad("tick %ld: eventfd counter %llu, expected %llu", n,
				       (unsigned long long)v, (unsigned long long)expected_count);
			expected_count = 0;
		}
		tc_proc_check();
		tc_tick(n);
	}
	tc_pass();
}
