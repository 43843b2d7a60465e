/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lazymem: memory that a restore --lazy brings in while the program already
 * changes its mappings.  Every page holds a pattern of (page, generation).
 * Each tick starts with what would see a wrong page first, on pages far
 * from where the restore's background fetch begins (it goes in address
 * order), so the first tick after a restore does them while those pages
 * are still to come:
 *   - a forked child checks 256 pages spread over the back half (its
 *     pages to come are its own, served through its own userfaultfd);
 *   - madvise(MADV_DONTNEED) of 16 pages: they must read as zeros, then
 *     are written again;
 *   - mremap of 16 pages elsewhere and back: the bytes move with them;
 *   - read() from a pipe into a page not touched since (the kernel's own
 *     fault) gets the pipe's bytes;
 *   - munmap of 16 pages and mmap again: zeros.
 * Then every page of a stripe is written with a new generation and every
 * page is checked.
 *
 *   lazymem [-s SIZE] [-n TARGET] [-i INTERVAL_MS]
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "tc_test.h"

#define PAGE 4096ul
#define WORDS (PAGE / sizeof(uint64_t))
#define SLICE 16ul
#define STRIPES 16ul

static uint64_t *mem;
static uint8_t *gen;
static size_t npages;

static uint64_t expect(size_t page, size_t w, uint8_t g)
{
	return tc_mix(((uint64_t)page << 20) ^ ((uint64_t)g << 12) ^ w) | 1;
}

static uint64_t *page_at(size_t p)
{
	return mem + p * WORDS;
}

static void fill_page(size_t p)
{
	uint64_t *w = page_at(p);

	for (size_t i = 0; i < WORDS; i++)
		w[i] = expect(p, i, gen[p]);
}

static void check_words(const uint64_t *w, size_t p, long tick, const char *what)
{
	for (size_t i = 0; i < WORDS; i++)
		if (w[i] != expect(p, i, gen[p]))
			tc_bad("tick %ld: %s: page %zu word %zu = %#llx, expected %#llx", tick, what,
			       p, i, (unsigned long long)w[i],
			       (unsigned long long)expect(p, i, gen[p]));
}

static void check_zero(const uint64_t *w, size_t p, long tick, const char *what)
{
	for (size_t i = 0; i < WORDS; i++)
		if (w[i])
			tc_bad("tick %ld: %s: page %zu word %zu = %#llx, expected 0", tick, what, p,
			       i, (unsigned long long)w[i]);
}

/* A page in the back half, different each tick. */
static size_t back_page(long tick, size_t k)
{
	size_t half = npages / 2;

	return half + ((size_t)tick * 7919 + k * 104729) % (half - SLICE);
}

static void forked_check(long tick)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		tc_bad("tick %ld: fork: %s", tick, strerror(errno));
	if (pid == 0) {
		for (size_t k = 0; k < 256; k++) {
			size_t p = back_page(tick, k);

			check_words(page_at(p), p, tick, "in a forked child");
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		tc_bad("tick %ld: the forked child failed (status %#x)", tick, status);
}

static void dropped_slice(long tick)
{
	size_t p0 = back_page(tick, 1000);

	if (madvise(page_at(p0), SLICE * PAGE, MADV_DONTNEED) < 0)
		tc_bad("tick %ld: madvise: %s", tick, strerror(errno));
	for (size_t p = p0; p < p0 + SLICE; p++) {
		check_zero(page_at(p), p, tick, "after MADV_DONTNEED");
		gen[p]++;
		fill_page(p);
	}
}

static void moved_slice(long tick, uint64_t *spare)
{
	size_t p0 = back_page(tick, 2000);
	void *there = mremap(page_at(p0), SLICE * PAGE, SLICE * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			     spare);

	if (there != spare)
		tc_bad("tick %ld: mremap away: %s", tick, strerror(errno));
	for (size_t k = 0; k < SLICE; k++)
		check_words(spare + k * WORDS, p0 + k, tick, "moved by mremap");
	if (mremap(spare, SLICE * PAGE, SLICE * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, page_at(p0)) !=
	    page_at(p0))
		tc_bad("tick %ld: mremap back: %s", tick, strerror(errno));
	for (size_t p = p0; p < p0 + SLICE; p++)
		check_words(page_at(p), p, tick, "moved back by mremap");
	/* The spare place again, for the next tick. */
	if (mmap(spare, SLICE * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
	    spare)
		tc_bad("tick %ld: mmap spare: %s", tick, strerror(errno));
}

static void read_into(long tick)
{
	size_t p = back_page(tick, 3000);
	uint64_t buf[WORDS];
	int fds[2];

	for (size_t i = 0; i < WORDS; i++)
		buf[i] = tc_mix((uint64_t)tick * WORDS + i);
	if (pipe(fds) < 0 || write(fds[1], buf, PAGE) != (ssize_t)PAGE)
		tc_bad("tick %ld: pipe: %s", tick, strerror(errno));
	if (read(fds[0], page_at(p), PAGE) != (ssize_t)PAGE)
		tc_bad("tick %ld: read into page %zu: %s", tick, p, strerror(errno));
	close(fds[0]);
	close(fds[1]);
	if (memcmp(page_at(p), buf, PAGE))
		tc_bad("tick %ld: read() into page %zu did not land", tick, p);
	gen[p]++;
	fill_page(p);
}

static void remapped_slice(long tick)
{
	size_t p0 = back_page(tick, 4000);

	if (munmap(page_at(p0), SLICE * PAGE) < 0 ||
	    mmap(page_at(p0), SLICE * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != page_at(p0))
		tc_bad("tick %ld: munmap and mmap: %s", tick, strerror(errno));
	for (size_t p = p0; p < p0 + SLICE; p++) {
		check_zero(page_at(p), p, tick, "mapped again");
		gen[p]++;
		fill_page(p);
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 30, .interval_ms = 20 };
	size_t size = 64ul << 20;
	uint64_t *spare;
	int c;

	while ((c = getopt(argc, argv, "n:i:s:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			size = (size_t)tc_parse_long(optarg, "-s") << 20;
			continue;
		}
		fprintf(stderr, "usage: %s [-s MIB] [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	tc_proc_init("lazymem");
	npages = size / PAGE;
	if (npages < 64 * SLICE)
		tc_bad("-s: at least %lu MiB", 64 * SLICE * PAGE >> 20);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	spare = mmap(NULL, SLICE * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(npages, 1);
	if (mem == MAP_FAILED || spare == MAP_FAILED || !gen)
		tc_bad("mmap: %s", strerror(errno));
	for (size_t p = 0; p < npages; p++)
		fill_page(p);
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		forked_check(n);
		dropped_slice(n);
		moved_slice(n, spare);
		read_into(n);
		remapped_slice(n);
		for (size_t p = (size_t)n % STRIPES; p < npages; p += STRIPES) {
			gen[p]++;
			fill_page(p);
		}
		for (size_t p = 0; p < npages; p++)
			check_words(page_at(p), p, n, "checked");
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
