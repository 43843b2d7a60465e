/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * madvised: mappings the program gave advice on with madvise(2), each
 * checked every tick: its bytes, and its VmFlags in /proc/self/smaps (hg,
 * nh, dc, wf, dd, and mg when the kernel has KSM).  Every 5 ticks a child
 * is forked: the MADV_WIPEONFORK mapping must be zeros in it, and one that
 * touches the MADV_DONTFORK mapping must die of SIGSEGV.
 *
 *   madvised [-n TARGET] [-i INTERVAL_MS]
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tc_test.h"

#define HUGE_LEN (4ul << 20)
#define SMALL_LEN (16ul << 12)

struct region {
	const char *code;	/* in VmFlags */
	int advice;
	size_t len;
	uint8_t *p;
};

static struct region regions[] = {
	{ "hg", MADV_HUGEPAGE, HUGE_LEN, NULL },
	{ "nh", MADV_NOHUGEPAGE, SMALL_LEN, NULL },
	{ "dc", MADV_DONTFORK, SMALL_LEN, NULL },
	{ "wf", MADV_WIPEONFORK, SMALL_LEN, NULL },
	{ "dd", MADV_DONTDUMP, SMALL_LEN, NULL },
	{ "mg", MADV_MERGEABLE, SMALL_LEN, NULL },
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static uint8_t byte_at(size_t r, uint64_t n, size_t i)
{
	return (uint8_t)(tc_mix(n * 131 + r) + i * 7 + (i >> 12));
}

static void fill(size_t r, uint64_t n)
{
	for (size_t i = 0; i < regions[r].len; i += 511)
		regions[r].p[i] = byte_at(r, n, i);
}

static void check(size_t r, uint64_t n)
{
	for (size_t i = 0; i < regions[r].len; i += 511)
		if (regions[r].p[i] != byte_at(r, n, i))
			tc_bad("%s mapping: byte %zu is %#x, expected %#x for tick %llu",
			       regions[r].code, i, regions[r].p[i], byte_at(r, n, i),
			       (unsigned long long)n);
}

static char smaps[1 << 20];

/* Every region's VmFlags say its advice: 0, or what is wrong in why. */
static int vmflags_differ(size_t nregions, char *why, size_t whylen)
{
	size_t len = tc_read_file("/proc/self/smaps", smaps, sizeof(smaps) - 1);

	smaps[len] = '\0';
	for (size_t r = 0; r < nregions; r++) {
		char head[32], *at, *flags, *eol;

		snprintf(head, sizeof(head), "%lx-", (unsigned long)regions[r].p);
		at = strstr(smaps, head);
		if (!at || (at != smaps && at[-1] != '\n')) {
			snprintf(why, whylen, "%s mapping at %p is not in smaps",
				 regions[r].code, regions[r].p);
			return -1;
		}
		flags = strstr(at, "VmFlags:");
		if (!flags) {
			snprintf(why, whylen, "%s mapping: no VmFlags", regions[r].code);
			return -1;
		}
		eol = strchr(flags, '\n');
		if (eol)
			*eol = '\0';
		if (!strstr(flags, regions[r].code)) {
			snprintf(why, whylen, "%s mapping lost its advice: %s", regions[r].code, flags);
			return -1;
		}
		if (eol)
			*eol = '\n';
	}
	return 0;
}

/*
 * smaps takes several read(2)s.  A dump between two of them restores the
 * file at its offset in a text that is generated anew, where the Rss lines
 * of the restored program differ in length: that one read joins two texts.
 * Advice really lost is still lost when read again.
 */
static void check_vmflags(size_t nregions)
{
	char why[512];

	if (vmflags_differ(nregions, why, sizeof(why)) == 0)
		return;
	if (vmflags_differ(nregions, why, sizeof(why)) < 0)
		tc_bad("%s", why);
}

static void check_fork(void)
{
	int st;
	pid_t c = fork();

	if (c < 0)
		tc_bad("fork: %s", strerror(errno));
	if (c == 0) {
		const struct region *wf = &regions[3];

		for (size_t i = 0; i < wf->len; i += 4096)
			if (wf->p[i])
				_exit(1);
		_exit(0);
	}
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		tc_bad("MADV_WIPEONFORK: the child did not see zeros (status %#x)", st);
	c = fork();
	if (c < 0)
		tc_bad("fork: %s", strerror(errno));
	if (c == 0) {
		volatile uint8_t *dc = regions[2].p;
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		/* Die of the fault, even where a sanitizer catches SIGSEGV. */
		sigaction(SIGSEGV, &dfl, NULL);
		_exit(dc[0] == 0xff ? 3 : 2);	/* must fault */
	}
	if (waitpid(c, &st, 0) != c || !WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
		tc_bad("MADV_DONTFORK: the child could read the mapping (status %#x)", st);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	size_t nregions = NREGIONS;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("madvised");
	/* Without KSM there is no MADV_MERGEABLE to keep. */
	if (access("/sys/kernel/mm/ksm", F_OK) < 0)
		nregions--;
	for (size_t r = 0; r < nregions; r++) {
		regions[r].p = mmap(NULL, regions[r].len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (regions[r].p == MAP_FAILED)
			tc_bad("mmap: %s", strerror(errno));
		if (madvise(regions[r].p, regions[r].len, regions[r].advice) < 0)
			tc_bad("madvise %s: %s", regions[r].code, strerror(errno));
		fill(r, 0);
	}
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		for (size_t r = 0; r < nregions; r++) {
			check(r, (uint64_t)n - 1);
			fill(r, (uint64_t)n);
		}
		check_vmflags(nregions);
		if (n % 5 == 0)
			check_fork();
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
