/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bigmem: SIZE bytes of anonymous memory, every 64-bit word holding a value
 * derived from its index and its page's generation.  Each tick bumps the
 * generation of one page in 16 (a different sixteenth each tick), rewrites
 * those pages, then checks the whole area.  Behind the area lie 16 pages
 * that are never touched: at the end they must still read as zeroes.
 *
 *   bigmem [-s SIZE[K|M|G]] [-n TARGET] [-i INTERVAL_MS] [-w N] [-q] [-a SIZE]
 *
 * -w N rewrites one page in N each tick instead of one in 16 (-w 100: 1%,
 * for incremental checkpoints).
 *
 * -q checks only the rewritten sixteenth plus one page in 64 each tick (for
 * benchmarks); the full check still runs before PASS.  Default: 1G.
 *
 * -a SIZE: each tick works on the first SIZE bytes only (a program whose
 * working set is small in a big heap: restore --lazy's first tick); the
 * full check still runs before PASS.
 */
#include <sys/mman.h>

#include "tc_test.h"

#define PAGE		4096ul
#define WORDS		(PAGE / sizeof(uint64_t))
#define STRIPES		16	/* -w: one page in this many rewritten per tick */
#define UNTOUCHED	16

static uint64_t *mem;
static uint8_t *gen;
static size_t npages;

static inline uint64_t expect(size_t page, size_t w, uint8_t g)
{
	uint64_t idx = (uint64_t)page * WORDS + w;

	return (idx * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)g * 0x0101010101010101ull) ^
	       0x5a5a000000005a5aull;
}

static void fill_page(size_t p)
{
	uint64_t *w = mem + p * WORDS;
	uint8_t g = gen[p];

	for (size_t i = 0; i < WORDS; i++)
		w[i] = expect(p, i, g);
}

static void check_page(size_t p, long tick)
{
	const uint64_t *w = mem + p * WORDS;
	uint8_t g = gen[p];
	uint64_t diff = 0;

	for (size_t i = 0; i < WORDS; i++)
		diff |= w[i] ^ expect(p, i, g);
	if (!diff)
		return;
	for (size_t i = 0; i < WORDS; i++)
		if (w[i] != expect(p, i, g))
			tc_bad("tick %ld: page %zu (addr %p) word %zu = %#llx, expected %#llx (generation %u)",
			       tick, p, (void *)(w + i), i, (unsigned long long)w[i],
			       (unsigned long long)expect(p, i, g), g);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 30, .interval_ms = 0 };
	size_t size = 1ul << 30, stripes = STRIPES, active = 0;
	int quick = 0, c;

	while ((c = getopt(argc, argv, "n:i:s:w:qa:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			size = tc_parse_size(optarg, "-s");
			continue;
		}
		if (c == 'w') {
			stripes = strtoul(optarg, NULL, 10);
			if (stripes < 1 || stripes > 1000000) {
				fprintf(stderr, "bad -w: %s\n", optarg);
				return 2;
			}
			continue;
		}
		if (c == 'q') {
			quick = 1;
			continue;
		}
		if (c == 'a') {
			active = tc_parse_size(optarg, "-a");
			continue;
		}
		fprintf(stderr, "usage: %s [-s SIZE] [-n TARGET] [-i INTERVAL_MS] [-w N] [-q] [-a SIZE]\n",
			argv[0]);
		return 2;
	}

	tc_proc_init("bigmem");
	npages = size / PAGE;
	mem = mmap(NULL, (npages + UNTOUCHED) * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		tc_bad("mmap %zu bytes: %s", size, strerror(errno));
	gen = calloc(npages, 1);
	if (!gen)
		tc_bad("calloc");
	for (size_t p = 0; p < npages; p++)
		fill_page(p);
	tc_printf("bigmem: %zu MiB at %p\n", size >> 20, (void *)mem);
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		size_t stripe = (size_t)n % stripes;
		size_t work = active && active / PAGE < npages ? active / PAGE : npages;

		for (size_t p = stripe; p < work; p += stripes) {
			gen[p]++;
			fill_page(p);
		}
		for (size_t p = 0; p < work; p++)
			if (!quick || p % stripes == stripe || p % 64 == 7)
				check_page(p, n);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}

	for (size_t p = 0; p < npages; p++)
		check_page(p, o.target);
	for (size_t i = 0; i < UNTOUCHED * WORDS; i++)
		if (mem[npages * WORDS + i])
			tc_bad("untouched page %zu is not zero at word %zu",
			       i / WORDS, i % WORDS);
	tc_pass();
}
