/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hugetlb: private anonymous memory of huge pages (MAP_HUGETLB), one
 * mapping of two 2 MiB pages reserved when mapped and one of a page taken
 * when touched (MAP_NORESERVE).  Checked every tick: their bytes; that
 * smaps shows them as hugetlb of 2048 kB pages ("ht"), the second with
 * "nr"; and that the kernel still treats them as huge pages: unmapping
 * 4 KiB inside one fails with EINVAL, as it does only for hugetlb memory.
 *
 * With -s MIB, also MIB of ordinary memory of which a few pages change
 * every tick: incremental generations are small next to a whole one, the
 * hugetlb memory being stored whole in each.
 *
 * With -F the huge pages are not the checking process's own: a parent
 * maps and fills them, takes every huge page still free for itself (none
 * is left), forks the process that checks and lets go of them.  That one
 * then writes pages it alone maps but did not map itself: a dump that
 * kept a second mapping of them would make the write need a free huge page
 * and, being no owner of the mapping, die of SIGBUS.
 *
 *   hugetlb [-n TARGET] [-i INTERVAL_MS] [-s MIB] [-F]
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tc_test.h"

#define HUGE_PAGE (2ul << 20)

struct region {
	const char *what;
	int flags;
	size_t len;
	const char *vmflags[2];	/* must all be in its VmFlags */
	uint8_t *p;
};

static struct region regions[] = {
	{ "reserved", 0, 2 * HUGE_PAGE, { "ht", NULL }, NULL },
	{ "noreserve", MAP_NORESERVE, HUGE_PAGE, { "ht", "nr" }, NULL },
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static uint8_t byte_at(size_t r, uint64_t n, size_t i)
{
	return (uint8_t)(tc_mix(n * 31 + r) + i * 13 + (i >> 21));
}

static void fill(size_t r, uint64_t n)
{
	for (size_t i = 0; i < regions[r].len; i += 1021)
		regions[r].p[i] = byte_at(r, n, i);
}

static void check(size_t r, uint64_t n)
{
	for (size_t i = 0; i < regions[r].len; i += 1021)
		if (regions[r].p[i] != byte_at(r, n, i))
			tc_bad("%s mapping: byte %zu is %#x, expected %#x for tick %llu",
			       regions[r].what, i, regions[r].p[i], byte_at(r, n, i),
			       (unsigned long long)n);
}

static char smaps[1 << 20];

/* Each region is in smaps as hugetlb of 2 MiB pages: 0, or what is wrong in why. */
static int smaps_differ(char *why, size_t whylen)
{
	size_t len = tc_read_file("/proc/self/smaps", smaps, sizeof(smaps) - 1);

	smaps[len] = '\0';
	for (size_t r = 0; r < NREGIONS; r++) {
		char head[32], *at, *next, *field;

		snprintf(head, sizeof(head), "%lx-%lx ", (unsigned long)regions[r].p,
			 (unsigned long)regions[r].p + regions[r].len);
		at = strstr(smaps, head);
		if (!at || (at != smaps && at[-1] != '\n')) {
			snprintf(why, whylen, "%s mapping %s is not in smaps", regions[r].what, head);
			return -1;
		}
		next = strstr(at + 1, "\nVmFlags:");
		field = strstr(at, "\nKernelPageSize:");
		if (!next || !field || field > next) {
			snprintf(why, whylen, "%s mapping: no KernelPageSize or VmFlags", regions[r].what);
			return -1;
		}
		if (strtoul(field + strlen("\nKernelPageSize:"), NULL, 10) != HUGE_PAGE >> 10) {
			snprintf(why, whylen, "%s mapping: KernelPageSize %lu kB, not %lu",
				 regions[r].what, strtoul(field + strlen("\nKernelPageSize:"), NULL, 10),
				 HUGE_PAGE >> 10);
			return -1;
		}
		next += strlen("\nVmFlags:");
		field = strchr(next, '\n');
		if (field)
			*field = '\0';
		for (size_t k = 0; k < 2 && regions[r].vmflags[k]; k++) {
			char code[8];

			snprintf(code, sizeof(code), " %s", regions[r].vmflags[k]);
			if (!strstr(next, code)) {
				snprintf(why, whylen, "%s mapping: no \"%s\" in VmFlags:%s",
					 regions[r].what, regions[r].vmflags[k], next);
				return -1;
			}
		}
		if (field)
			*field = '\n';
	}
	return 0;
}

/*
 * smaps takes several read(2)s: a dump between two of them joins two texts
 * (madvised.c).  What is really wrong is still wrong when read again.
 */
static void check_smaps(void)
{
	char why[512];

	if (smaps_differ(why, sizeof(why)) == 0)
		return;
	if (smaps_differ(why, sizeof(why)) < 0)
		tc_bad("%s", why);
}

/* -s: ordinary memory, constant but for its first pages. */
static uint8_t *plain;
static size_t plain_len;
#define PLAIN_CHANGING (4 * 4096)

static uint8_t plain_at(uint64_t n, size_t i)
{
	return (uint8_t)(i < PLAIN_CHANGING ? tc_mix(n) + i : tc_mix(i >> 12) + i);
}

static void plain_fill(uint64_t n, size_t from, size_t to)
{
	for (size_t i = from; i < to; i += 509)
		plain[i] = plain_at(n, i);
}

static void plain_check(uint64_t n)
{
	for (size_t i = 0; i < plain_len; i += 509)
		if (plain[i] != plain_at(n, i))
			tc_bad("ordinary memory: byte %zu is %#x, expected %#x for tick %llu", i,
			       plain[i], plain_at(n, i), (unsigned long long)n);
}

static long sysfs_number(const char *name)
{
	char path[128], buf[32];
	size_t n;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-2048kB/%s", name);
	n = tc_read_file(path, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* -F: returns in the child, which goes on as the program; the parent waits for it. */
static void fork_writer(void)
{
	long spare = sysfs_number("free_hugepages") - sysfs_number("resv_hugepages");
	size_t len = spare > 0 ? (size_t)spare * HUGE_PAGE : 0;
	uint8_t *all = NULL;
	int st, let_go[2];
	pid_t c;

	if (len) {
		all = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (all == MAP_FAILED)
			tc_bad("mmap of the %ld huge pages left: %s", spare, strerror(errno));
		for (size_t i = 0; i < len; i += HUGE_PAGE)
			all[i] = 1;
	}
	if (pipe(let_go) < 0)
		tc_bad("pipe: %s", strerror(errno));
	c = fork();
	if (c < 0)
		tc_bad("fork: %s", strerror(errno));
	if (c == 0) {
		char byte;

		if (len)
			munmap(all, len);
		/* Writing a page the parent still maps would need a free huge page: none is. */
		close(let_go[1]);
		if (read(let_go[0], &byte, 1) != 0)
			tc_bad("waiting for the parent to let go of the huge pages");
		close(let_go[0]);
		tc_proc_init("hugetlb");	/* its own pid from now on */
		return;
	}
	for (size_t r = 0; r < NREGIONS; r++)
		munmap(regions[r].p, regions[r].len);
	close(let_go[0]);
	close(let_go[1]);
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			tc_bad("waitpid %d: %s", (int)c, strerror(errno));
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	tc_bad("the checking process %d died of signal %d", (int)c, WTERMSIG(st));
}

/* Only hugetlb memory refuses to be unmapped in pieces smaller than its pages. */
static void check_huge(void)
{
	for (size_t r = 0; r < NREGIONS; r++) {
		if (munmap(regions[r].p + 4096, 4096) == 0)
			tc_bad("%s mapping: 4 KiB of it could be unmapped: not hugetlb memory",
			       regions[r].what);
		if (errno != EINVAL)
			tc_bad("%s mapping: munmap of 4 KiB: %s, expected EINVAL", regions[r].what,
			       strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	bool forked = false;
	int c;

	while ((c = getopt(argc, argv, "n:i:s:F")) != -1)
		if (c == 's') {
			plain_len = (size_t)tc_parse_long(optarg, "-s") << 20;
		} else if (c == 'F') {
			forked = true;
		} else if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-s MIB] [-F]\n", argv[0]);
			return 2;
		}
	tc_proc_init("hugetlb");
	for (size_t r = 0; r < NREGIONS; r++) {
		regions[r].p = mmap(NULL, regions[r].len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | regions[r].flags, -1, 0);
		if (regions[r].p == MAP_FAILED)
			tc_bad("mmap of %zu bytes of huge pages: %s (free huge pages: "
			       "/proc/sys/vm/nr_hugepages)", regions[r].len, strerror(errno));
		fill(r, 0);
	}
	if (plain_len) {
		plain = mmap(NULL, plain_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		if (plain == MAP_FAILED)
			tc_bad("mmap of %zu bytes: %s", plain_len, strerror(errno));
		plain_fill(0, 0, plain_len);
	}
	if (forked)
		fork_writer();
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		for (size_t r = 0; r < NREGIONS; r++) {
			check(r, (uint64_t)n - 1);
			fill(r, (uint64_t)n);
		}
		if (plain_len) {
			plain_check((uint64_t)n - 1);
			plain_fill((uint64_t)n, 0, plain_len < PLAIN_CHANGING ? plain_len : PLAIN_CHANGING);
		}
		check_smaps();
		check_huge();
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
