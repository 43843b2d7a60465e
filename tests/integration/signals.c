/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * signals: the signal state a restore must bring back.
 *
 *  - SIGUSR1: handler installed with SA_RESTART|SA_SIGINFO and SIGTERM in its
 *    sa_mask; the program sends it to itself every tick and checks that the
 *    handler ran once, with the right siginfo and with SIGTERM blocked.
 *  - SIGRTMIN+2: handler on an alternate signal stack (sigaltstack +
 *    SA_ONSTACK); raised every tick, the handler checks it runs on that stack.
 *  - SIGUSR2 (raised: thread-directed) and two SIGRTMIN+1 queued with values
 *    111 and 222 (sigqueue: process-directed) stay blocked and pending the
 *    whole time: sigpending() must show them every tick; their handlers must
 *    not run.  Before PASS they are unblocked and must be delivered exactly
 *    once (SIGUSR2, si_code SI_TKILL) and twice in order (111 then 222).
 *  - ITIMER_REAL every 10 ms, SIGALRM handler counting: the interval must
 *    read back unchanged, and the count must grow (never 3 ticks in a row
 *    without an alarm, each tick sleeping at least 3 intervals).
 *  - The blocked mask and every sigaction are compared with their initial
 *    values every tick.
 *
 *   signals [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>
#include <sys/time.h>

#include "tc_test.h"

#define ALRM_US		10000
#define SIG_RT_PENDING	(SIGRTMIN + 1)
#define SIG_ONSTACK	(SIGRTMIN + 2)
#define ALTSTACK_SIZE	(64 * 1024)

static volatile sig_atomic_t usr1_count, usr1_err, alrm_count;
static volatile sig_atomic_t usr2_count, usr2_code;
static volatile sig_atomic_t rt_count, rt_val[4];
static volatile sig_atomic_t onstack_count, onstack_err;
static char *altstack;
static pid_t self;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	sigset_t cur;

	(void)uc;
	usr1_count++;
	if (sig != SIGUSR1 || si->si_signo != SIGUSR1)
		usr1_err = 1;
	else if (si->si_code != SI_USER || si->si_pid != self)
		usr1_err = 2;
	else if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0 || !sigismember(&cur, SIGTERM))
		usr1_err = 3;
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm_count++;
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr2_count++;
	usr2_code = si->si_code;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (rt_count < 4)
		rt_val[rt_count] = si->si_value.sival_int;
	rt_count++;
}

static void on_onstack(int sig, siginfo_t *si, void *uc)
{
	char here;

	(void)sig;
	(void)si;
	(void)uc;
	onstack_count++;
	if (&here < altstack || &here >= altstack + ALTSTACK_SIZE)
		onstack_err = 1;
}

struct handler {
	int sig;
	struct sigaction sa;
};

static struct handler handlers[5];
static int nhandlers;

static void install(int sig, void (*fn)(int, siginfo_t *, void *), void (*plain)(int),
		    int flags, int masked)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (fn)
		sa.sa_sigaction = fn;
	else
		sa.sa_handler = plain;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (masked)
		sigaddset(&sa.sa_mask, masked);
	if (sigaction(sig, &sa, NULL) < 0)
		tc_bad("sigaction %d: %s", sig, strerror(errno));
	/* what the kernel reports back (glibc adds SA_RESTORER) is the reference */
	handlers[nhandlers].sig = sig;
	memset(&handlers[nhandlers].sa, 0, sizeof(struct sigaction));
	if (sigaction(sig, NULL, &handlers[nhandlers].sa) < 0)
		tc_bad("sigaction %d: %s", sig, strerror(errno));
	nhandlers++;
}

static void check_handlers(long n)
{
	for (int h = 0; h < nhandlers; h++) {
		struct sigaction now;
		const struct sigaction *was = &handlers[h].sa;

		memset(&now, 0, sizeof(now));
		if (sigaction(handlers[h].sig, NULL, &now) < 0)
			tc_bad("sigaction %d: %s", handlers[h].sig, strerror(errno));
		if (now.sa_sigaction != was->sa_sigaction)
			tc_bad("tick %ld: signal %d handler %p, was %p", n, handlers[h].sig,
			       (void *)now.sa_sigaction, (void *)was->sa_sigaction);
		if (now.sa_flags != was->sa_flags)
			tc_bad("tick %ld: signal %d sa_flags %#x, was %#x", n, handlers[h].sig,
			       (unsigned)now.sa_flags, (unsigned)was->sa_flags);
		if (now.sa_restorer != was->sa_restorer)
			tc_bad("tick %ld: signal %d sa_restorer %p, was %p", n,
			       handlers[h].sig, (void *)now.sa_restorer,
			       (void *)was->sa_restorer);
		for (int s = 1; s < 65; s++)
			if (sigismember(&now.sa_mask, s) != sigismember(&was->sa_mask, s))
				tc_bad("tick %ld: signal %d sa_mask differs at signal %d",
				       n, handlers[h].sig, s);
	}
}

static void check_sigset(const sigset_t *now, const sigset_t *want, const char *what, long n)
{
	for (int s = 1; s < 65; s++)
		if (sigismember(now, s) != sigismember(want, s))
			tc_bad("tick %ld: signal %d is%s in the %s", n, s,
			       sigismember(now, s) ? "" : " not", what);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 200, .interval_ms = 40 };
	struct itimerval it = { { 0, ALRM_US }, { 0, ALRM_US } };
	sigset_t block, want_pending, cur;
	stack_t ss;
	long still = 0, last_alrm = 0;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	if (o.interval_ms < 3 * ALRM_US / 1000)
		o.interval_ms = 3 * ALRM_US / 1000;

	tc_proc_init("signals");
	self = getpid();

	altstack = malloc(ALTSTACK_SIZE);
	if (!altstack)
		tc_bad("malloc");
	ss.ss_sp = altstack;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		tc_bad("sigaltstack: %s", strerror(errno));

	install(SIGUSR1, on_usr1, NULL, SA_RESTART | SA_SIGINFO, SIGTERM);
	install(SIGALRM, NULL, on_alrm, 0, 0);
	install(SIGUSR2, on_usr2, NULL, SA_SIGINFO, 0);
	install(SIG_RT_PENDING, on_rt, NULL, SA_SIGINFO, 0);
	install(SIG_ONSTACK, on_onstack, NULL, SA_SIGINFO | SA_ONSTACK, 0);

	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIG_RT_PENDING);
	sigaddset(&block, SIGWINCH);	/* blocked, never sent: the mask matters by itself */
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0)
		tc_bad("sigprocmask: %s", strerror(errno));
	if (sigprocmask(SIG_BLOCK, NULL, &block) < 0)
		tc_bad("sigprocmask: %s", strerror(errno));
	if (raise(SIGUSR2))
		tc_bad("raise SIGUSR2");
	if (sigqueue(self, SIG_RT_PENDING, (union sigval){ .sival_int = 111 }) < 0 ||
	    sigqueue(self, SIG_RT_PENDING, (union sigval){ .sival_int = 222 }) < 0)
		tc_bad("sigqueue: %s", strerror(errno));
	sigemptyset(&want_pending);
	sigaddset(&want_pending, SIGUSR2);
	sigaddset(&want_pending, SIG_RT_PENDING);

	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		tc_bad("setitimer: %s", strerror(errno));
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		struct itimerval now_it;
		stack_t now_ss;
		long before = usr1_count, before_os = onstack_count;

		if (kill(self, SIGUSR1) < 0)
			tc_bad("kill SIGUSR1: %s", strerror(errno));
		if (usr1_count != before + 1)
			tc_bad("tick %ld: SIGUSR1 handler ran %ld times, expected once", n,
			       (long)(usr1_count - before));
		if (usr1_err)
			tc_bad("tick %ld: SIGUSR1 handler saw a wrong %s", n,
			       usr1_err == 1 ? "signal number" : usr1_err == 2 ?
			       "si_code/si_pid" : "mask (SIGTERM not blocked)");
		if (raise(SIG_ONSTACK))
			tc_bad("raise SIGRTMIN+2");
		if (onstack_count != before_os + 1)
			tc_bad("tick %ld: SIGRTMIN+2 handler did not run once", n);
		if (onstack_err)
			tc_bad("tick %ld: SA_ONSTACK handler did not run on the alternate stack", n);
		if (sigaltstack(NULL, &now_ss) < 0)
			tc_bad("sigaltstack: %s", strerror(errno));
		if (now_ss.ss_sp != altstack || now_ss.ss_size != ALTSTACK_SIZE ||
		    now_ss.ss_flags != 0)
			tc_bad("tick %ld: sigaltstack is %p+%zu flags %d, was %p+%d", n,
			       now_ss.ss_sp, now_ss.ss_size, now_ss.ss_flags,
			       (void *)altstack, ALTSTACK_SIZE);

		if (sigpending(&cur) < 0)
			tc_bad("sigpending: %s", strerror(errno));
		for (int s = 1; s < 65; s++)
			if (sigismember(&want_pending, s) && !sigismember(&cur, s))
				tc_bad("tick %ld: signal %d is no longer pending", n, s);
		if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0)
			tc_bad("sigprocmask: %s", strerror(errno));
		check_sigset(&cur, &block, "blocked mask", n);
		if (usr2_count || rt_count)
			tc_bad("tick %ld: a blocked signal was delivered (SIGUSR2 %d, RT %d)",
			       n, (int)usr2_count, (int)rt_count);
		check_handlers(n);

		if (getitimer(ITIMER_REAL, &now_it) < 0)
			tc_bad("getitimer: %s", strerror(errno));
		if (now_it.it_interval.tv_sec != 0 || now_it.it_interval.tv_usec != ALRM_US)
			tc_bad("tick %ld: ITIMER_REAL interval is %ld.%06ld s, was 0.%06d s", n,
			       (long)now_it.it_interval.tv_sec,
			       (long)now_it.it_interval.tv_usec, ALRM_US);
		if (alrm_count == last_alrm) {
			if (++still >= 3)
				tc_bad("tick %ld: no SIGALRM for 3 ticks (count %ld)", n,
				       (long)alrm_count);
		} else {
			still = 0;
		}
		last_alrm = alrm_count;

		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 1);
	}

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (sigprocmask(SIG_UNBLOCK, &want_pending, NULL) < 0)
		tc_bad("sigprocmask: %s", strerror(errno));
	if (usr2_count != 1)
		tc_bad("pending SIGUSR2 delivered %d times after unblocking, expected once",
		       (int)usr2_count);
	if (usr2_code != SI_TKILL)
		tc_bad("pending SIGUSR2 has si_code %d, expected SI_TKILL (%d)",
		       (int)usr2_code, SI_TKILL);
	if (rt_count != 2 || rt_val[0] != 111 || rt_val[1] != 222)
		tc_bad("queued SIGRTMIN+1 delivered %d times with values %d, %d; expected 111, 222",
		       (int)rt_count, (int)rt_val[0], (int)rt_val[1]);
	tc_printf("signals: %ld SIGALRM\n", (long)alrm_count);
	tc_pass();
}
