/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipeline: the three stages of a shell pipeline, as the driver runs it:
 *
 *   sh -c 'pipeline producer -n N | pipeline filter | pipeline checker -n N -i MS'
 *
 * producer writes N records as fast as the pipe takes them; filter reads
 * each, checks it, folds a running hash into it and encrypts its payload
 * with a key derived from the sequence; checker reads at its own pace (one
 * record, one tick, then the interval), checks sequence, hash and payload
 * and prints "tick SEQ", then PASS once the stream has ended after record N.
 * The checker is the slowest, so at a dump both pipes are full: their
 * contents must come back byte for byte.  producer and filter report
 * problems on stderr and exit 1, which the checker sees as a broken stream.
 */
#include "tc_io.h"

#define PAYLOAD 496

struct rec {
	uint64_t seq, hash;
	unsigned char payload[PAYLOAD];
};

static const char *stage = "pipeline";

static __attribute__((noreturn)) void die(const char *what, const char *detail)
{
	fprintf(stderr, "BAD %s: %s%s%s\n", stage, what, detail ? ": " : "", detail ? detail : "");
	_exit(1);
}

static unsigned char plain(uint64_t seq, size_t i)
{
	return (unsigned char)tc_mix(seq * 1031 + i);
}

static unsigned char key(uint64_t seq, size_t i)
{
	return (unsigned char)(tc_mix(seq ^ 0xfeedull) >> (8 * (i % 8)));
}

/* read a whole record or nothing (end); producer/filter cannot say BAD */
static int get(struct rec *r)
{
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(STDIN_FILENO, (char *)r + got, sizeof(*r) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read", strerror(errno));
		if (n == 0) {
			if (got)
				die("partial record at the end of the stream", NULL);
			return 0;
		}
		got += (size_t)n;
	}
	return 1;
}

static void put(const struct rec *r)
{
	size_t done = 0;

	while (done < sizeof(*r)) {
		ssize_t n = write(STDOUT_FILENO, (const char *)r + done, sizeof(*r) - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write", n < 0 ? strerror(errno) : "wrote 0");
		done += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct rec r;
	uint64_t hash = 0;
	int c;

	if (argc < 2) {
usage:
		fprintf(stderr, "usage: %s producer|filter|checker [-n TARGET] [-i INTERVAL_MS]\n",
			argv[0]);
		return 2;
	}
	stage = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o))
			goto usage;

	if (!strcmp(stage, "producer")) {
		for (uint64_t seq = 1; seq <= (uint64_t)o.target; seq++) {
			r.seq = seq;
			r.hash = 0;
			for (size_t i = 0; i < PAYLOAD; i++)
				r.payload[i] = plain(seq, i);
			put(&r);
		}
		return 0;
	}
	if (!strcmp(stage, "filter")) {
		for (uint64_t seq = 1; get(&r); seq++) {
			if (r.seq != seq || r.hash != 0)
				die("record out of sequence from the producer", NULL);
			for (size_t i = 0; i < PAYLOAD; i++) {
				if (r.payload[i] != plain(seq, i))
					die("payload from the producer corrupt", NULL);
				r.payload[i] ^= key(seq, i);
			}
			hash = tc_mix(hash ^ seq);
			r.hash = hash;
			put(&r);
		}
		return 0;
	}
	if (strcmp(stage, "checker"))
		goto usage;

	tc_proc_init("pl-checker");
	tc_ready();
	for (uint64_t seq = 1; seq <= (uint64_t)o.target; seq++) {
		if (tc_read_full(STDIN_FILENO, &r, sizeof(r), TC_IO_TIMEOUT_MS, "checker") == 0)
			tc_bad("checker: the stream ended before record %llu", (unsigned long long)seq);
		hash = tc_mix(hash ^ seq);
		if (r.seq != seq || r.hash != hash)
			tc_bad("checker: got record %llu (hash %#llx), expected %llu (hash %#llx)",
			       (unsigned long long)r.seq, (unsigned long long)r.hash,
			       (unsigned long long)seq, (unsigned long long)hash);
		for (size_t i = 0; i < PAYLOAD; i++)
			if ((r.payload[i] ^ key(seq, i)) != plain(seq, i))
				tc_bad("checker: record %llu payload byte %zu wrong",
				       (unsigned long long)seq, i);
		tc_proc_check();
		tc_tick((long)seq);
		tc_sleep_ms(o.interval_ms, 0);
	}
	if (tc_read_full(STDIN_FILENO, &r, sizeof(r), TC_IO_TIMEOUT_MS, "checker") != 0)
		tc_bad("checker: a record after the last one");
	tc_pass();
}
