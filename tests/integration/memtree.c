/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memtree: a tree of processes, each with its own patterned memory and
 * optionally many threads -- for scripts/bench (16 processes x 64 MiB, one
 * process with 64 threads) and as a test of both.
 *
 * The parent forks P-1 children; each process maps SIZE bytes of private
 * anonymous memory and fills it with a pattern that depends on its index,
 * and starts T threads that each keep counting, checking their tid and a
 * __thread copy of their count.  Every round the parent asks each child over
 * a pipe to check one word in every page (the whole memory at the last
 * round) and a round-dependent word it keeps rewriting, and to answer; it
 * checks its own memory the same way, waits (bounded) until each of its
 * threads has moved on, then prints the tick.
 *
 *   memtree [-p PROCS] [-t THREADS] [-s SIZE[K|M|G]] [-n TARGET] [-i INTERVAL_MS]
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "tc_io.h"

#define PAGE 4096
#define MAXPROC 256

static uint64_t *mem;
static size_t words;
static uint64_t me_idx;

struct worker {
	pthread_t th;
	int idx;
	pid_t tid;
	volatile uint64_t count;
	volatile int stop;
};

static __thread uint64_t tl_count;

static uint64_t pat(uint64_t i)
{
	return tc_mix(me_idx << 48 ^ i);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	while (!w->stop) {
		if (tl_count != w->count)
			tc_bad("thread %d: __thread count %llu, shared %llu", w->idx,
			       (unsigned long long)tl_count, (unsigned long long)w->count);
		if ((pid_t)syscall(SYS_gettid) != w->tid)
			tc_bad("thread %d: tid %ld, was %d", w->idx, (long)syscall(SYS_gettid),
			       (int)w->tid);
		tl_count++;
		w->count = tl_count;
		tc_sleep_ms(5, 0);
	}
	return NULL;
}

/* Check the pattern in every page (all words if full) and the round word. */
static void check_mem(uint64_t round, int full)
{
	size_t step = full ? 1 : PAGE / sizeof(uint64_t);

	for (size_t i = 1; i < words; i += step)
		if (mem[i] != pat(i))
			tc_bad("process %llu: word %zu is %#llx, expected %#llx", (unsigned long long)me_idx,
			       i, (unsigned long long)mem[i], (unsigned long long)pat(i));
	if (mem[0] != tc_mix(round + me_idx))
		tc_bad("process %llu: round word %#llx, expected round %llu",
		       (unsigned long long)me_idx, (unsigned long long)mem[0],
		       (unsigned long long)round);
}

static void setup(size_t size, int nthreads, struct worker **ws)
{
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		tc_bad("mmap %zu: %s", size, strerror(errno));
	words = size / sizeof(uint64_t);
	for (size_t i = 1; i < words; i++)
		mem[i] = pat(i);
	mem[0] = tc_mix(0 + me_idx);
	*ws = calloc((size_t)nthreads + 1, sizeof(struct worker));
	if (!*ws)
		tc_bad("calloc");
	for (int k = 0; k < nthreads; k++) {
		(*ws)[k].idx = k;
		if (pthread_create(&(*ws)[k].th, NULL, worker_main, &(*ws)[k]))
			tc_bad("pthread_create %d", k);
	}
}

static void check_threads(struct worker *ws, int nthreads, uint64_t *seen)
{
	uint64_t deadline = tc_now_ns() + 20ull * 1000000000;

	for (int k = 0; k < nthreads; k++) {
		while (ws[k].count <= seen[k]) {
			if (tc_now_ns() > deadline)
				tc_bad("process %llu thread %d stuck at count %llu",
				       (unsigned long long)me_idx, k, (unsigned long long)ws[k].count);
			tc_sleep_ms(1, 0);
		}
		seen[k] = ws[k].count;
	}
}

static void stop_threads(struct worker *ws, int nthreads)
{
	for (int k = 0; k < nthreads; k++)
		ws[k].stop = 1;
	for (int k = 0; k < nthreads; k++)
		if (pthread_join(ws[k].th, NULL))
			tc_bad("pthread_join %d", k);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	int nproc = 4, nthreads = 0, c, to[MAXPROC][2], from[MAXPROC][2];
	size_t size = 16 << 20;
	pid_t pids[MAXPROC];
	struct worker *ws;
	uint64_t *seen;

	while ((c = getopt(argc, argv, "n:i:p:t:s:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'p') {
			nproc = (int)tc_parse_long(optarg, "-p");
		} else if (c == 't') {
			nthreads = (int)tc_parse_long(optarg, "-t");
		} else if (c == 's') {
			size = tc_parse_size(optarg, "-s");
		} else {
			fprintf(stderr, "usage: %s [-p PROCS] [-t THREADS] [-s SIZE] [-n TARGET] "
				"[-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	}
	if (nproc < 1 || nproc > MAXPROC || size < PAGE) {
		fprintf(stderr, "memtree: 1 <= PROCS <= %d, SIZE >= %d\n", MAXPROC, PAGE);
		return 2;
	}
	tc_proc_init("memtree");
	for (int k = 1; k < nproc; k++) {
		if (pipe(to[k]) < 0 || pipe(from[k]) < 0)
			tc_bad("pipe: %s", strerror(errno));
		pids[k] = fork();
		if (pids[k] < 0)
			tc_bad("fork: %s", strerror(errno));
		if (pids[k] == 0) {
			uint64_t round, *cseen;

			for (int j = 1; j < k; j++) {
				close(to[j][1]);
				close(from[j][0]);
			}
			close(to[k][1]);
			close(from[k][0]);
			me_idx = (uint64_t)k;
			tc_proc_init("memtree-child");
			setup(size, nthreads, &ws);
			cseen = calloc((size_t)nthreads + 1, sizeof(*cseen));
			tc_write_full(from[k][1], &me_idx, sizeof(me_idx), "child");
			for (uint64_t n = 1;; n++) {
				if (tc_read_full(to[k][0], &round, sizeof(round), 600000, "child") == 0)
					break;
				if (round != n)
					tc_bad("child %d: asked round %llu, expected %llu", k,
					       (unsigned long long)round, (unsigned long long)n);
				check_mem(n - 1, round == (uint64_t)o.target);
				mem[0] = tc_mix(n + me_idx);
				check_threads(ws, nthreads, cseen);
				tc_proc_check();
				tc_write_full(from[k][1], &round, sizeof(round), "child");
			}
			stop_threads(ws, nthreads);
			_exit(0);
		}
		close(to[k][0]);
		close(from[k][1]);
	}
	me_idx = 0;
	setup(size, nthreads, &ws);
	seen = calloc((size_t)nthreads + 1, sizeof(*seen));
	for (int k = 1; k < nproc; k++) {
		uint64_t idx;

		if (tc_read_full(from[k][0], &idx, sizeof(idx), 600000, "parent") == 0 ||
		    idx != (uint64_t)k)
			tc_bad("child %d did not start", k);
	}
	tc_ready();
	for (uint64_t n = 1; n <= (uint64_t)o.target; n++) {
		for (int k = 1; k < nproc; k++)
			tc_write_full(to[k][1], &n, sizeof(n), "parent");
		check_mem(n - 1, n == (uint64_t)o.target);
		mem[0] = tc_mix(n + me_idx);
		check_threads(ws, nthreads, seen);
		for (int k = 1; k < nproc; k++) {
			uint64_t back;

			if (tc_read_full(from[k][0], &back, sizeof(back), 120000, "parent") == 0)
				tc_bad("child %d is gone in round %llu", k, (unsigned long long)n);
			if (back != n)
				tc_bad("child %d answered round %llu in round %llu", k,
				       (unsigned long long)back, (unsigned long long)n);
		}
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	for (int k = 1; k < nproc; k++)
		close(to[k][1]);
	for (int k = 1; k < nproc; k++)
		tc_wait_child(pids[k], 0, 120000, "parent");
	stop_threads(ws, nthreads);
	tc_pass();
}
