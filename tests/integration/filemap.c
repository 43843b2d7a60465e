/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * filemap: file mappings and protections.
 *
 *  - DIR/tc-filemap-PID.priv (64 pages of known words) mapped MAP_PRIVATE,
 *    read-write.  Pages p%4==1 are rewritten every tick (private copies
 *    holding the tick number); pages p%4==3 are only read; pages p%4 in {0,2}
 *    are not touched until checked.  Every tick every page is checked:
 *    modified pages hold the tick's values, the others the file's.  The file
 *    itself (pread) must never change: private writes do not reach it.
 *  - The same file mapped a second time MAP_PRIVATE read-only, checked.
 *  - DIR/tc-filemap-PID.shared (4 pages) mapped MAP_SHARED: each tick writes
 *    the tick number into page n%4 through the mapping; the file (pread)
 *    must show it, and the mapping must show what the file holds.
 *  - Three anonymous pages whose middle page is PROT_NONE: the outer pages
 *    keep their values, /proc/self/maps shows ---p for the middle one.
 *
 * -S leaves the shared file's values unchecked: after a leave-running dump
 * the original and the restored copy both write that one file.
 *
 *   filemap [-d DIR] [-n TARGET] [-i INTERVAL_MS] [-S]
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "tc_test.h"

#define PAGE	4096ul
#define WORDS	(PAGE / sizeof(uint64_t))
#define NPAGES	64
#define NSHARED	4

static uint64_t file_word(size_t p, size_t w)
{
	return tc_mix(((uint64_t)p << 32) | w) | 1;	/* never zero */
}

static uint64_t priv_word(size_t p, size_t w, long n)
{
	return tc_mix(((uint64_t)p << 32) ^ ((uint64_t)n << 16) ^ w ^ 0xabcdef00000ull);
}

static void check_page(const uint64_t *page, size_t p, long n, long mod, const char *what)
{
	for (size_t w = 0; w < WORDS; w++) {
		uint64_t want = mod >= 0 ? priv_word(p, w, mod) : file_word(p, w);

		if (page[w] != want)
			tc_bad("tick %ld: %s page %zu word %zu = %#llx, expected %#llx (%s)", n,
			       what, p, w, (unsigned long long)page[w],
			       (unsigned long long)want,
			       mod >= 0 ? "modified" : "as in the file");
	}
}

static void perms_of(uintptr_t addr, char perms[5])
{
	static char maps[1 << 20];
	size_t len = tc_read_file("/proc/self/maps", maps, sizeof(maps) - 1);
	char *line = maps;

	maps[len] = 0;
	while (line && *line) {
		unsigned long lo, hi;
		char pr[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 && addr >= lo && addr < hi) {
			memcpy(perms, pr, 5);
			return;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	tc_bad("address %#lx is not mapped", (unsigned long)addr);
}

static int make_file(const char *path, size_t npages, int shared)
{
	static uint64_t page[WORDS];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		tc_bad("create %s: %s", path, strerror(errno));
	for (size_t p = 0; p < npages; p++) {
		for (size_t w = 0; w < WORDS; w++)
			page[w] = shared ? 0 : file_word(p, w);
		if (pwrite(fd, page, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE)
			tc_bad("write %s: %s", path, strerror(errno));
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	const char *dir = getenv("TMPDIR");
	char priv_path[PATH_MAX], shared_path[PATH_MAX], perms[5];
	static uint64_t page[WORDS];
	uint64_t *priv, *ro, *shared, *guard;
	uint64_t shared_val[NSHARED] = { 0 };
	int c, priv_fd, shared_fd;
	bool check_shared = true;

	if (!dir || !*dir)
		dir = "/tmp";
	while ((c = getopt(argc, argv, "n:i:d:S")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'd') {
			dir = optarg;
			continue;
		}
		if (c == 'S') {
			check_shared = false;
			continue;
		}
		fprintf(stderr, "usage: %s [-d DIR] [-n TARGET] [-i INTERVAL_MS] [-S]\n", argv[0]);
		return 2;
	}

	tc_proc_init("filemap");
	snprintf(priv_path, sizeof(priv_path), "%s/tc-filemap-%d.priv", dir, (int)getpid());
	snprintf(shared_path, sizeof(shared_path), "%s/tc-filemap-%d.shared", dir, (int)getpid());
	priv_fd = make_file(priv_path, NPAGES, 0);
	shared_fd = make_file(shared_path, NSHARED, 1);

	priv = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, priv_fd, 0);
	ro = mmap(NULL, NPAGES * PAGE, PROT_READ, MAP_PRIVATE, priv_fd, 0);
	shared = mmap(NULL, NSHARED * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
	guard = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (priv == MAP_FAILED || ro == MAP_FAILED || shared == MAP_FAILED || guard == MAP_FAILED)
		tc_bad("mmap: %s", strerror(errno));
	/* the mappings alone must keep the files' contents reachable */
	close(priv_fd);
	priv_fd = open(priv_path, O_RDONLY | O_CLOEXEC);
	close(shared_fd);
	shared_fd = open(shared_path, O_RDONLY | O_CLOEXEC);
	if (priv_fd < 0 || shared_fd < 0)
		tc_bad("open: %s", strerror(errno));

	for (size_t w = 0; w < WORDS; w++) {
		guard[w] = tc_mix(w);
		guard[2 * WORDS + w] = ~tc_mix(w);
	}
	if (mprotect((char *)guard + PAGE, PAGE, PROT_NONE) < 0)
		tc_bad("mprotect: %s", strerror(errno));
	for (size_t p = 1; p < NPAGES; p += 4)
		for (size_t w = 0; w < WORDS; w++)
			priv[p * WORDS + w] = priv_word(p, w, 0);
	for (size_t p = 3; p < NPAGES; p += 4)
		check_page(priv + p * WORDS, p, 0, -1, "private mapping");
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		for (size_t p = 0; p < NPAGES; p++) {
			if (p % 4 == 1 || p % 4 == 3 || n % 8 == 0)
				check_page(priv + p * WORDS, p, n, p % 4 == 1 ? n - 1 : -1,
					   "private mapping");
			check_page(ro + p * WORDS, p, n, -1, "read-only mapping");
			if (pread(priv_fd, page, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE)
				tc_bad("pread %s: %s", priv_path, strerror(errno));
			check_page(page, p, n, -1, "file under the private mapping");
		}
		for (size_t p = 1; p < NPAGES; p += 4)
			for (size_t w = 0; w < WORDS; w++)
				priv[p * WORDS + w] = priv_word(p, w, n);

		for (size_t p = 0; p < NSHARED; p++) {
			uint64_t v;

			if (pread(shared_fd, &v, sizeof(v), (off_t)(p * PAGE)) != sizeof(v))
				tc_bad("pread %s: %s", shared_path, strerror(errno));
			if (check_shared && (v != shared_val[p] || shared[p * WORDS] != shared_val[p]))
				tc_bad("tick %ld: shared page %zu: file %#llx, mapping %#llx, expected %#llx",
				       n, p, (unsigned long long)v,
				       (unsigned long long)shared[p * WORDS],
				       (unsigned long long)shared_val[p]);
		}
		shared_val[n % NSHARED] = (uint64_t)n;
		shared[(n % NSHARED) * WORDS] = (uint64_t)n;

		for (size_t w = 0; w < WORDS; w++)
			if (guard[w] != tc_mix(w) || guard[2 * WORDS + w] != ~tc_mix(w))
				tc_bad("tick %ld: page around the PROT_NONE guard changed at word %zu",
				       n, w);
		perms_of((uintptr_t)guard + PAGE, perms);
		if (strcmp(perms, "---p"))
			tc_bad("tick %ld: guard page is %s, expected ---p", n, perms);
		perms_of((uintptr_t)guard, perms);
		if (strcmp(perms, "rw-p"))
			tc_bad("tick %ld: page below the guard is %s, expected rw-p", n, perms);
		perms_of((uintptr_t)ro, perms);
		if (strcmp(perms, "r--p"))
			tc_bad("tick %ld: read-only file mapping is %s, expected r--p", n, perms);
		perms_of((uintptr_t)shared, perms);
		if (strcmp(perms, "rw-s"))
			tc_bad("tick %ld: shared file mapping is %s, expected rw-s", n, perms);

		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	for (size_t p = 0; p < NPAGES; p++)
		check_page(priv + p * WORDS, p, o.target, p % 4 == 1 ? o.target : -1,
			   "private mapping");
	unlink(priv_path);
	unlink(shared_path);
	tc_pass();
}
