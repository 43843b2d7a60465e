/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * counter: one count kept in five places that must always agree -- a
 * register (a local the compiler keeps in a callee-saved register across
 * the sleep), a global in .bss, an array on the stack, an array in the brk
 * heap and an array malloc() puts in its own mmap.  A ring of malloc'd
 * blocks of changing sizes is renewed every tick, so malloc keeps moving
 * brk after a restore.
 *
 *   counter [-n TARGET] [-i INTERVAL_MS] [-b BUSY_PASSES]
 *
 * A tick is printed exactly once, after its state is computed and checked,
 * so the first tick after a restore is the last one before the dump + 1.
 */
#include "tc_test.h"

#define NSTACK	512
#define NHEAP	8192		/* 64 KiB: below the mmap threshold, so brk */
#define NBIG	(1 << 18)	/* 2 MiB: malloc gives it its own mapping */
#define NRING	8

static uint64_t g_count;	/* .bss */

struct block {
	unsigned char *p;
	size_t len;
	uint64_t seed;
};

static uint64_t val(uint64_t n, uint64_t i, uint64_t where)
{
	return tc_mix(n * 0x10001ull + i * 7 + where * 0x1000000007ull);
}

static void check_array(const uint64_t *a, size_t len, uint64_t n, uint64_t where,
			const char *name)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != val(n, i, where))
			tc_bad("%s[%zu] = %#llx, expected %#llx for count %llu",
			       name, i, (unsigned long long)a[i],
			       (unsigned long long)val(n, i, where),
			       (unsigned long long)n);
}

static void fill_array(uint64_t *a, size_t len, uint64_t n, uint64_t where)
{
	for (size_t i = 0; i < len; i++)
		a[i] = val(n, i, where);
}

static unsigned char block_byte(uint64_t seed, size_t i)
{
	return (unsigned char)(seed * 31 + i * 7 + (i >> 9));
}

static void block_fill(struct block *b, uint64_t seed)
{
	b->seed = seed;
	b->len = (size_t)((seed * 7919) % 200 + 1) * 512;
	b->p = malloc(b->len);
	if (!b->p)
		tc_bad("malloc(%zu) failed", b->len);
	for (size_t i = 0; i < b->len; i++)
		b->p[i] = block_byte(seed, i);
}

static void block_check(const struct block *b)
{
	if (!b->p)
		return;
	for (size_t i = 0; i < b->len; i++)
		if (b->p[i] != block_byte(b->seed, i))
			tc_bad("malloc block of tick %llu: byte %zu is %u, expected %u",
			       (unsigned long long)b->seed, i, b->p[i],
			       block_byte(b->seed, i));
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	long busy = 2;
	uint64_t stack_arr[NSTACK];
	struct block ring[NRING] = { { 0 } };
	uint64_t *heap, *big;
	uint64_t reg = 0;
	int c;

	while ((c = getopt(argc, argv, "n:i:b:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'b') {
			busy = tc_parse_long(optarg, "-b");
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-b BUSY]\n", argv[0]);
		return 2;
	}

	tc_proc_init("counter");
	heap = malloc(NHEAP * sizeof(*heap));
	big = malloc(NBIG * sizeof(*big));
	if (!heap || !big)
		tc_bad("malloc failed");
	fill_array(stack_arr, NSTACK, 0, 1);
	fill_array(heap, NHEAP, 0, 2);
	fill_array(big, NBIG, 0, 3);
	g_count = 0;
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		/* the state of tick n-1, as the program left it */
		__asm__ volatile("" : "+r"(reg));
		if (reg != (uint64_t)n - 1 || g_count != (uint64_t)n - 1)
			tc_bad("register count %llu, .bss count %llu, expected %ld",
			       (unsigned long long)reg, (unsigned long long)g_count, n - 1);
		for (long pass = 0; pass <= busy; pass++) {
			check_array(stack_arr, NSTACK, n - 1, 1, "stack");
			check_array(heap, NHEAP, n - 1, 2, "heap");
			check_array(big, NBIG, n - 1, 3, "mmap'd heap");
		}
		for (int k = 0; k < NRING; k++)
			block_check(&ring[k]);

		/* compute tick n */
		fill_array(stack_arr, NSTACK, (uint64_t)n, 1);
		fill_array(heap, NHEAP, (uint64_t)n, 2);
		fill_array(big, NBIG, (uint64_t)n, 3);
		free(ring[n % NRING].p);
		block_fill(&ring[n % NRING], (uint64_t)n);
		reg++;
		__asm__ volatile("" : "+r"(reg));
		g_count++;

		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}

	__asm__ volatile("" : "+r"(reg));
	if (reg != (uint64_t)o.target || g_count != (uint64_t)o.target)
		tc_bad("final count %llu/%llu, expected %ld", (unsigned long long)reg,
		       (unsigned long long)g_count, o.target);
	check_array(stack_arr, NSTACK, (uint64_t)o.target, 1, "stack");
	check_array(heap, NHEAP, (uint64_t)o.target, 2, "heap");
	check_array(big, NBIG, (uint64_t)o.target, 3, "mmap'd heap");
	for (int k = 0; k < NRING; k++) {
		block_check(&ring[k]);
		free(ring[k].p);
	}
	free(heap);
	free(big);
	tc_pass();
}
