/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * threads: 8 pthreads pass a token around a ring under one mutex and
 * condition variable, once per tick, in order; a ninth sleeps in nanosleep
 * in a loop; a tenth waits on a condition variable until main tells it to
 * end and joins it (every JOIN_EVERY ticks, then starts a new one), so a
 * thread alive at the dump ends after the restore and pthread_join must see
 * its clear_child_tid.
 *
 *   threads [-n TARGET] [-i INTERVAL_MS]
 *
 * Every thread, whenever it runs, checks what a restore must give back to it:
 * its tid (gettid() against the value it saw at its start, so a restore with
 * other tids fails), its __thread variables and their addresses (fs_base),
 * its own signal mask (a different one in each thread), the signal queued to
 * it alone with pthread_sigqueue and the one queued to the whole process
 * (all blocked; checked with sigpending, consumed with sigtimedwait at the
 * end, value and code compared), its rseq registration at glibc's address
 * (rseq() again must say EBUSY) and sched_getcpu().  Main checks each
 * thread's counter every tick and the number of threads in /proc/self/task.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "tc_test.h"

#define NRING		8
#define SLEEPER		NRING		/* thread index of the sleeper */
#define JOINEE		(NRING + 1)
#define MAIN_IDX	(NRING + 2)
#define NTHREADS	(NRING + 3)	/* with main */
#define JOIN_EVERY	25
#define SHARED_VALUE	0x5eed
#define RSEQ_SIG_X86	0x53053053u

/* glibc >= 2.35 */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int token = -1;			/* whose turn in the ring, -1: main's */
static long round_no;			/* the tick the ring is running */
static long round_done;
static int stop;
static int joinee_go;			/* main tells the joinee to end */

static uint64_t counts[NRING];		/* ring thread k: rounds done */
static pid_t tids[NTHREADS];		/* gettid() of each at its start */
static atomic_long sleeper_count;
static atomic_long started;		/* threads through start_self() */
static unsigned int rseq_len;		/* that rseq() says EBUSY to; 0: no rseq */

static __thread uint64_t tls_count;
static __thread uint64_t tls_magic;
static __thread int tls_idx = -1;
static __thread void *tls_self;		/* &tls_count as the thread first saw it */

static int sig_of(int idx)
{
	return SIGRTMIN + idx;
}

/* Blocked in thread idx: SIGUSR2 (pending for the process) and its own. */
static void mask_of(int idx, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR2);
	sigaddset(set, sig_of(idx));
}

static void check_rseq(int idx)
{
	long r;
	int cpu;

	if (!rseq_len)
		return;
	r = syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset, rseq_len, 0,
		    RSEQ_SIG_X86);
	if (r == 0)
		tc_bad("thread %d: rseq was not registered at glibc's address", idx);
	if (errno != EBUSY)
		tc_bad("thread %d: rseq(): %s, expected EBUSY", idx, strerror(errno));
	cpu = sched_getcpu();
	if (cpu < 0)
		tc_bad("thread %d: sched_getcpu: %s", idx, strerror(errno));
}

/* The state a thread set up at its start, whenever it runs. */
static void check_self(int idx)
{
	sigset_t want, cur, pend;
	pid_t tid = (pid_t)syscall(SYS_gettid);

	if (tls_idx != idx)
		tc_bad("thread %d: __thread index is %d", idx, tls_idx);
	if (tid != tids[idx])
		tc_bad("thread %d: gettid() is %d, was %d", idx, (int)tid, (int)tids[idx]);
	if (tls_self != (void *)&tls_count)
		tc_bad("thread %d: __thread variable at %p, was at %p", idx, (void *)&tls_count,
		       tls_self);
	if (tls_magic != tc_mix((uint64_t)idx + 1000))
		tc_bad("thread %d: __thread magic %#llx", idx, (unsigned long long)tls_magic);

	mask_of(idx, &want);
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur))
		tc_bad("thread %d: pthread_sigmask", idx);
	for (int s = 1; s <= SIGRTMAX; s++) {
		if (s == SIGKILL || s == SIGSTOP || (s >= 32 && s < SIGRTMIN))
			continue;
		if (sigismember(&want, s) != sigismember(&cur, s))
			tc_bad("thread %d: signal %d is %sblocked", idx, s,
			       sigismember(&cur, s) ? "" : "not ");
	}
	/* Its own signal and the process's, not another thread's. */
	if (sigpending(&pend))
		tc_bad("thread %d: sigpending", idx);
	for (int k = 0; k < NTHREADS; k++) {
		if (sigismember(&pend, sig_of(k)) != (k == idx))
			tc_bad("thread %d: signal %d (thread %d's) is %spending here", idx, sig_of(k),
			       k, sigismember(&pend, sig_of(k)) ? "" : "not ");
	}
	if (!sigismember(&pend, SIGUSR2))
		tc_bad("thread %d: the process-wide SIGUSR2 is not pending", idx);
	check_rseq(idx);
}

static void start_self(int idx)
{
	sigset_t set;

	tls_idx = idx;
	tls_self = &tls_count;
	tls_magic = tc_mix((uint64_t)idx + 1000);
	tids[idx] = (pid_t)syscall(SYS_gettid);
	mask_of(idx, &set);
	if (pthread_sigmask(SIG_SETMASK, &set, NULL))
		tc_bad("thread %d: pthread_sigmask", idx);
	if (pthread_sigqueue(pthread_self(), sig_of(idx), (union sigval){ .sival_int = idx + 100 }))
		tc_bad("thread %d: pthread_sigqueue: %s", idx, strerror(errno));
	atomic_fetch_add(&started, 1);
}

/* At the end: take the signal queued to this thread and check it. */
static void take_own_signal(int idx)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig_of(idx));
	if (sigtimedwait(&set, &si, &zero) != sig_of(idx))
		tc_bad("thread %d: its signal is gone: %s", idx, strerror(errno));
	if (si.si_code != SI_QUEUE || si.si_value.sival_int != idx + 100 ||
	    si.si_pid != getpid())
		tc_bad("thread %d: its signal came back with code %d value %d pid %d", idx,
		       si.si_code, si.si_value.sival_int, (int)si.si_pid);
}

static void *ring_thread(void *arg)
{
	int k = (int)(intptr_t)arg;

	start_self(k);
	pthread_mutex_lock(&lock);
	for (;;) {
		while (token != k && !stop)
			pthread_cond_wait(&cond, &lock);
		if (stop)
			break;
		check_self(k);
		if (counts[k] != (uint64_t)round_no - 1 || tls_count != counts[k])
			tc_bad("thread %d: count %llu, __thread count %llu in round %ld", k,
			       (unsigned long long)counts[k], (unsigned long long)tls_count,
			       round_no);
		counts[k]++;
		tls_count++;
		if (k == NRING - 1) {
			token = -1;
			round_done = round_no;
		} else {
			token = k + 1;
		}
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	check_self(k);
	take_own_signal(k);
	return (void *)(intptr_t)(k + 1);
}

static void *sleeper_thread(void *arg)
{
	(void)arg;
	start_self(SLEEPER);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		tc_sleep_ms(30, 0);
		check_self(SLEEPER);
		tls_count++;
		atomic_fetch_add(&sleeper_count, 1);
		if ((uint64_t)atomic_load(&sleeper_count) != tls_count)
			tc_bad("sleeper: count %ld, __thread count %llu", atomic_load(&sleeper_count),
			       (unsigned long long)tls_count);
	}
	take_own_signal(SLEEPER);
	return (void *)(intptr_t)(SLEEPER + 1);
}

static void *joinee_thread(void *arg)
{
	long gen = (long)(intptr_t)arg;

	start_self(JOINEE);
	pthread_mutex_lock(&lock);
	while (!joinee_go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	check_self(JOINEE);
	take_own_signal(JOINEE);
	return (void *)(intptr_t)(gen * 7 + 3);
}

static void spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int r = pthread_create(t, NULL, fn, arg);

	if (r)
		tc_bad("pthread_create: %s", strerror(r));
}

static void join(pthread_t t, intptr_t want, const char *what)
{
	void *ret;
	int r = pthread_join(t, &ret);

	if (r)
		tc_bad("pthread_join %s: %s", what, strerror(r));
	if ((intptr_t)ret != want)
		tc_bad("%s returned %ld, expected %ld", what, (long)(intptr_t)ret, (long)want);
}

/*
 * Not too short: a thread that ends before the supervisor has seen its
 * creator's clone event can be counted as alive by the supervisor (a tracer
 * race this test is not about).
 */
static void *nothing(void *arg)
{
	tc_sleep_ms(30, 0);
	return arg;
}

/*
 * Use up n tids, so the threads' tids have gaps: a restore that let the
 * kernel hand out tids in order would then give them other ones.
 */
static void burn_tids(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;

		spawn(&t, nothing, NULL);
		join(t, 0, "a short thread");
	}
}

static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		tc_bad("/proc/self/task: %s", strerror(errno));
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* An ended thread may stay listed until its tracer has reaped it. */
static void check_tasks(void)
{
	int n = 0;

	for (int i = 0; i < 200; i++) {
		n = count_tasks();
		if (n == NTHREADS)
			return;
		tc_sleep_ms(10, 0);
	}
	tc_bad("%d threads in /proc/self/task, expected %d", n, NTHREADS);
}

static void run_round(long n)
{
	pthread_mutex_lock(&lock);
	round_no = n;
	token = 0;
	pthread_cond_broadcast(&cond);
	while (round_done != n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (int k = 0; k < NRING; k++)
		if (counts[k] != (uint64_t)n)
			tc_bad("after round %ld: thread %d counted %llu", n, k,
			       (unsigned long long)counts[k]);
}

static void find_rseq(void)
{
	const unsigned int lens[] = { 32, &__rseq_size ? __rseq_size : 0 };

	if (!&__rseq_offset || !&__rseq_size || !__rseq_size)
		return;
	for (size_t i = 0; i < 2 && lens[i]; i++) {
		if (syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset, lens[i],
			    0, RSEQ_SIG_X86) < 0 && errno == EBUSY) {
			rseq_len = lens[i];
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	pthread_t ring[NRING], sleeper, joinee;
	long joinee_gen = 0, last_sleeps = 0;
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}

	tc_proc_init("threads");
	find_rseq();
	/* Threads start with main's mask: SIGUSR2 blocked from the start. */
	start_self(MAIN_IDX);
	if (sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = SHARED_VALUE }))
		tc_bad("sigqueue: %s", strerror(errno));
	for (int k = 0; k < NRING; k++) {
		burn_tids(k % 3 + 1);
		spawn(&ring[k], ring_thread, (void *)(intptr_t)k);
	}
	burn_tids(2);
	spawn(&sleeper, sleeper_thread, NULL);
	burn_tids(5);
	spawn(&joinee, joinee_thread, (void *)(intptr_t)joinee_gen);
	/* Every thread has set itself up before the first tick. */
	for (int i = 0; atomic_load(&started) < NTHREADS; i++) {
		if (i == 1000)
			tc_bad("only %ld threads started", atomic_load(&started));
		tc_sleep_ms(10, 0);
	}
	check_tasks();
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		run_round(n);
		check_self(MAIN_IDX);
		if (n % JOIN_EVERY == 0) {
			pthread_mutex_lock(&lock);
			joinee_go = 1;
			pthread_cond_broadcast(&cond);
			pthread_mutex_unlock(&lock);
			join(joinee, joinee_gen * 7 + 3, "the joinee");
			joinee_go = 0;
			spawn(&joinee, joinee_thread, (void *)(intptr_t)++joinee_gen);
		}
		if (n % 10 == 0) {
			long s = atomic_load(&sleeper_count);

			if (s == last_sleeps)
				tc_bad("the sleeper has not woken in 10 ticks (%ld sleeps)", s);
			last_sleeps = s;
			check_tasks();
		}
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}

	pthread_mutex_lock(&lock);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	joinee_go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int k = 0; k < NRING; k++)
		join(ring[k], k + 1, "a ring thread");
	join(sleeper, SLEEPER + 1, "the sleeper");
	join(joinee, joinee_gen * 7 + 3, "the joinee");
	take_own_signal(MAIN_IDX);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigtimedwait(&set, &si, &zero) != SIGUSR2)
		tc_bad("the process-wide SIGUSR2 is gone: %s", strerror(errno));
	if (si.si_code != SI_QUEUE || si.si_value.sival_int != SHARED_VALUE)
		tc_bad("SIGUSR2 came back with code %d value %#x", si.si_code,
		       si.si_value.sival_int);
	tc_pass();
}
