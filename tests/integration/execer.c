/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * execer: a program that exec's itself every E ticks and goes on counting in
 * the new image.  The count, the generation (number of execs so far) and a
 * hash chain over all ticks travel three ways: on the new command line
 * (-X COUNT:GEN:HASH:RFD:WFD), in the environment (TC_EXECER_STATE) and
 * as a record left in a pipe that survives the exec (not close-on-exec).
 * The new image checks that all three agree before it prints the next
 * tick, so a dump just before or just after an exec must restore the image
 * the program was running, with the right command line, environment and
 * buffered pipe contents.
 *
 *   execer [-n TARGET] [-i INTERVAL_MS] [-e EVERY]
 */
#include "tc_io.h"

struct carry {
	uint64_t count, gen, hash;
};

static void check_carry(const struct carry *a, const struct carry *b, const char *what)
{
	if (a->count != b->count || a->gen != b->gen || a->hash != b->hash)
		tc_bad("after exec: %s says count %llu gen %llu hash %#llx, the command line "
		       "count %llu gen %llu hash %#llx", what,
		       (unsigned long long)b->count, (unsigned long long)b->gen,
		       (unsigned long long)b->hash, (unsigned long long)a->count,
		       (unsigned long long)a->gen, (unsigned long long)a->hash);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct carry st = { 0, 0, 0 };
	long every = 7;
	const char *x = NULL;
	int c, fds[2] = { -1, -1 };

	while ((c = getopt(argc, argv, "n:i:e:X:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'e') {
			every = tc_parse_long(optarg, "-e");
			continue;
		}
		if (c == 'X') {
			x = optarg;
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-e EVERY]\n", argv[0]);
		return 2;
	}
	if (every < 1)
		every = 1;
	tc_proc_init("execer");
	if (x) {
		unsigned long long cnt, gen, hash;
		struct carry env, piped;
		const char *e;

		if (sscanf(x, "%llu:%llu:%llx:%d:%d", &cnt, &gen, &hash, &fds[0], &fds[1]) != 5)
			tc_bad("after exec: bad -X '%s'", x);
		st = (struct carry){ cnt, gen, hash };
		e = getenv("TC_EXECER_STATE");
		if (!e || sscanf(e, "%llu:%llu:%llx", &cnt, &gen, &hash) != 3)
			tc_bad("after exec: TC_EXECER_STATE is '%s'", e ? e : "(unset)");
		env = (struct carry){ cnt, gen, hash };
		check_carry(&st, &env, "the environment");
		if (tc_read_full(fds[0], &piped, sizeof(piped), TC_IO_TIMEOUT_MS, "after exec") == 0)
			tc_bad("after exec: the pipe is closed");
		check_carry(&st, &piped, "the pipe");
	} else {
		if (pipe(fds) < 0)
			tc_bad("pipe: %s", strerror(errno));
		tc_ready();
	}

	for (uint64_t n = st.count + 1; n <= (uint64_t)o.target; n++) {
		char arg[160], env[96], nstr[32], istr[32], estr[32];

		st.hash = tc_mix(st.hash ^ n);
		st.count = n;
		tc_proc_check();
		tc_tick((long)n);
		tc_sleep_ms(o.interval_ms, 0);
		if (n % (uint64_t)every || n == (uint64_t)o.target)
			continue;

		st.gen++;
		tc_write_full(fds[1], &st, sizeof(st), "before exec");
		snprintf(arg, sizeof(arg), "%llu:%llu:%llx:%d:%d", (unsigned long long)st.count,
			 (unsigned long long)st.gen, (unsigned long long)st.hash, fds[0], fds[1]);
		snprintf(env, sizeof(env), "%llu:%llu:%llx", (unsigned long long)st.count,
			 (unsigned long long)st.gen, (unsigned long long)st.hash);
		snprintf(nstr, sizeof(nstr), "%ld", o.target);
		snprintf(istr, sizeof(istr), "%ld", o.interval_ms);
		snprintf(estr, sizeof(estr), "%ld", every);
		if (setenv("TC_EXECER_STATE", env, 1) < 0)
			tc_bad("setenv: %s", strerror(errno));
		char *nargv[] = { argv[0], "-n", nstr, "-i", istr, "-e", estr, "-X", arg, NULL };
		execv("/proc/self/exe", nargv);
		tc_bad("execv /proc/self/exe: %s", strerror(errno));
	}
	if (st.gen != (uint64_t)((o.target - 1) / every))
		tc_bad("%llu execs, expected %ld", (unsigned long long)st.gen, (o.target - 1) / every);
	tc_pass();
}
