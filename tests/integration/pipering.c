/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipering: a parent and 4 children pass a token around a ring of pipes,
 * parent -> c1 -> c2 -> c3 -> c4 -> parent.  The token carries the round,
 * the number of hops so far and a payload whose length and bytes depend on
 * both; every hop checks all of it against its own count of rounds, then
 * stamps its hop and passes it on.  The parent sends round n, sleeps the
 * interval and only then reads it back, so at a dump the token is usually
 * sitting in the last pipe's buffer.  Children check their own pid, parent
 * pid and process-wide state; the parent prints the ticks and reaps every
 * child at the end (exit status 0 each).
 *
 * With -w the parent also holds the read end of a "widowed" pipe: 1000 bytes
 * were written into it and every write end closed before READY (what GNU
 * make -j gives its children as stdin).  At the end the bytes must still be
 * there, followed by end of file.
 *
 *   pipering [-w] [-n TARGET] [-i INTERVAL_MS]
 */
#include "tc_io.h"

#define NCHILD 4
#define PAYLOAD 480

struct token {
	uint64_t round, hops, len, sum;
	unsigned char payload[PAYLOAD];
};

static unsigned char pbyte(uint64_t round, uint64_t hop, size_t i)
{
	return (unsigned char)tc_mix(round * 131 + hop * 7919 + i);
}

static void stamp(struct token *t, uint64_t round, uint64_t hop)
{
	t->round = round;
	t->hops = hop;
	t->len = (round * 37 + hop * 11) % PAYLOAD + 1;
	t->sum = tc_mix(round ^ (hop << 40) ^ t->len);
	memset(t->payload, 0, sizeof(t->payload));
	for (size_t i = 0; i < t->len; i++)
		t->payload[i] = pbyte(round, hop, i);
}

static void check(const struct token *t, uint64_t round, uint64_t hop, const char *who)
{
	if (t->round != round || t->hops != hop)
		tc_bad("%s: token says round %llu hop %llu, expected round %llu hop %llu", who,
		       (unsigned long long)t->round, (unsigned long long)t->hops,
		       (unsigned long long)round, (unsigned long long)hop);
	if (t->len != (round * 37 + hop * 11) % PAYLOAD + 1 ||
	    t->sum != tc_mix(round ^ (hop << 40) ^ t->len))
		tc_bad("%s: token header of round %llu corrupt", who, (unsigned long long)round);
	for (size_t i = 0; i < PAYLOAD; i++)
		if (t->payload[i] != (i < t->len ? pbyte(round, hop, i) : 0))
			tc_bad("%s: round %llu payload byte %zu wrong", who,
			       (unsigned long long)round, i);
}

static void child(int k, int in, int out, pid_t parent, long target)
{
	char who[32], comm[16];
	struct token t;

	snprintf(who, sizeof(who), "child %d", k);
	snprintf(comm, sizeof(comm), "pipering-%d", k);
	tc_proc_init(comm);
	for (uint64_t round = 1;; round++) {
		/* the parent paces the ring: a round may take a long time */
		if (tc_read_full(in, &t, sizeof(t), 600000, who) == 0)
			tc_bad("%s: ring closed before round %llu", who, (unsigned long long)round);
		check(&t, round, (uint64_t)k - 1, who);
		if (getppid() != parent)
			tc_bad("%s: parent is %d, was %d", who, (int)getppid(), (int)parent);
		tc_proc_check();
		stamp(&t, round, (uint64_t)k);
		tc_write_full(out, &t, sizeof(t), who);
		if (round == (uint64_t)target)
			break;
	}
	if (tc_read_full(in, &t, sizeof(t), 600000, who) != 0)
		tc_bad("%s: token after the last round", who);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	int fds[NCHILD + 1][2];
	pid_t pids[NCHILD], me;
	unsigned char widowed[1000];
	int c, wfd[2] = { -1, -1 };
	struct token t;

	while ((c = getopt(argc, argv, "n:i:w")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'w') {
			if (pipe(wfd) < 0)
				tc_bad("pipe: %s", strerror(errno));
			continue;
		}
		fprintf(stderr, "usage: %s [-w] [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	if (wfd[0] >= 0) {
		for (size_t i = 0; i < sizeof(widowed); i++)
			widowed[i] = pbyte(0, 99, i);
		tc_write_full(wfd[1], widowed, sizeof(widowed), "widowed pipe");
		close(wfd[1]);
		/* the children must not hold it either */
		if (fcntl(wfd[0], F_SETFD, FD_CLOEXEC) < 0)
			tc_bad("fcntl: %s", strerror(errno));
	}
	if (o.target < 1)
		o.target = 1;
	tc_proc_init("pipering");
	me = getpid();
	/* fds[i] carries the token from node i to node i+1 (node 0: parent) */
	for (int i = 0; i <= NCHILD; i++)
		if (pipe(fds[i]) < 0)
			tc_bad("pipe: %s", strerror(errno));
	for (int k = 1; k <= NCHILD; k++) {
		pids[k - 1] = fork();
		if (pids[k - 1] < 0)
			tc_bad("fork: %s", strerror(errno));
		if (pids[k - 1] == 0) {
			int in = fds[k - 1][0], out = fds[k % (NCHILD + 1)][1];

			/* keep only our two ends, so a lost pipe ends in EOF */
			if (wfd[0] >= 0)
				close(wfd[0]);
			for (int i = 0; i <= NCHILD; i++) {
				if (fds[i][0] != in)
					close(fds[i][0]);
				if (fds[i][1] != out)
					close(fds[i][1]);
			}
			child(k, in, out, me, o.target);
		}
	}
	/* node 0 writes fds[0] and reads fds[NCHILD] */
	for (int i = 0; i <= NCHILD; i++) {
		if (i != NCHILD)
			close(fds[i][0]);
		if (i != 0)
			close(fds[i][1]);
	}
	tc_ready();
	for (uint64_t round = 1; round <= (uint64_t)o.target; round++) {
		stamp(&t, round, 0);
		tc_write_full(fds[0][1], &t, sizeof(t), "parent");
		tc_sleep_ms(o.interval_ms, 0);
		if (tc_read_full(fds[NCHILD][0], &t, sizeof(t), TC_IO_TIMEOUT_MS, "parent") == 0)
			tc_bad("parent: ring closed in round %llu", (unsigned long long)round);
		check(&t, round, NCHILD, "parent");
		tc_proc_check();
		tc_tick((long)round);
	}
	close(fds[0][1]);
	for (int k = 0; k < NCHILD; k++)
		tc_wait_child(pids[k], 0, TC_IO_TIMEOUT_MS, "parent");
	if (tc_read_full(fds[NCHILD][0], &t, sizeof(t), TC_IO_TIMEOUT_MS, "parent") != 0)
		tc_bad("parent: token after the last round");
	if (wfd[0] >= 0) {
		unsigned char got[sizeof(widowed)];

		if (tc_read_full(wfd[0], got, sizeof(got), TC_IO_TIMEOUT_MS, "widowed pipe") == 0)
			tc_bad("the widowed pipe lost its %zu bytes", sizeof(got));
		for (size_t i = 0; i < sizeof(got); i++)
			if (got[i] != pbyte(0, 99, i))
				tc_bad("widowed pipe: byte %zu wrong", i);
		if (tc_read_full(wfd[0], got, 1, TC_IO_TIMEOUT_MS, "widowed pipe") != 0)
			tc_bad("widowed pipe: more bytes than were written");
	}
	tc_pass();
}
