/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mpi_ring: a tiny MPI job for the multi-host tests.  A counter and a
 * running checksum go around the ranks for R rounds; every rank checks the
 * counter it receives and folds it into a rank-local accumulator; every 10
 * rounds an MPI_Allreduce checks that all ranks agree on the round.  At the
 * end the accumulators are XOR-reduced to rank 0, which compares the result
 * with the one it computes alone (the whole job simulated) and prints it.
 *
 *   mpi_ring [-n ROUNDS] [-i INTERVAL_MS]
 *
 * Rank 0 prints, in the tc_test.h protocol: READY after MPI_Init and a
 * barrier, "tick K" after round K, then "result 0x<16 hex digits>" and
 * PASS; any rank prints BAD <what> and aborts the job on a wrong value.
 * The result depends only on ROUNDS and the number of ranks, so a run that
 * was checkpointed and restarted must print the same line as one that was
 * not.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int rank = -1;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void out(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void bad(const char *what, unsigned long long got, unsigned long long want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "BAD rank %d: %s is %llu, expected %llu\n", rank, what,
		 got, want);
	out(buf);
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1);
}

/* one hop: what rank r does with the counter and checksum it receives */
static void hop(uint64_t *c, uint64_t *s, uint64_t *acc, int r)
{
	*c += 1;
	*s = mix(*s ^ (*c * 1000003u + (uint64_t)r));
	*acc = mix(*acc + *c + *s);
}

int main(int argc, char **argv)
{
	long rounds = 100, interval_ms = 0;
	uint64_t msg[2] = { 0, 0 }, acc, result = 0, want;
	int size, opt;
	char buf[128];

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	while ((opt = getopt(argc, argv, "n:i:")) != -1) {
		if (opt == 'n')
			rounds = atol(optarg);
		else if (opt == 'i')
			interval_ms = atol(optarg);
		else {
			if (rank == 0)
				fprintf(stderr, "usage: mpi_ring [-n ROUNDS] [-i INTERVAL_MS]\n");
			MPI_Finalize();
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	acc = mix((uint64_t)rank + 1);
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0)
		out("READY\n");

	for (long k = 1; k <= rounds; k++) {
		int next = (rank + 1) % size, prev = (rank + size - 1) % size;
		/* the counter rank r holds after its hop in round k */
		uint64_t mine = (uint64_t)(k - 1) * (uint64_t)size + (uint64_t)rank + 1;

		if (rank == 0) {
			if (interval_ms > 0) {
				struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };

				while (nanosleep(&ts, &ts))
					;
			}
			hop(&msg[0], &msg[1], &acc, 0);
			if (msg[0] != mine)
				bad("counter after hop", msg[0], mine);
			if (size > 1) {
				MPI_Send(msg, 2, MPI_UINT64_T, next, (int)(k & 0x7fff), MPI_COMM_WORLD);
				MPI_Recv(msg, 2, MPI_UINT64_T, prev, (int)(k & 0x7fff), MPI_COMM_WORLD,
					 MPI_STATUS_IGNORE);
				if (msg[0] != (uint64_t)k * (uint64_t)size)
					bad("counter back at rank 0", msg[0], (uint64_t)k * (uint64_t)size);
			}
		} else {
			MPI_Recv(msg, 2, MPI_UINT64_T, prev, (int)(k & 0x7fff), MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			if (msg[0] != mine - 1)
				bad("received counter", msg[0], mine - 1);
			hop(&msg[0], &msg[1], &acc, rank);
			MPI_Send(msg, 2, MPI_UINT64_T, next, (int)(k & 0x7fff), MPI_COMM_WORLD);
		}
		if (k % 10 == 0) {
			long lo = k, hi = k;

			MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
			MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
			if (lo != k || hi != k)
				bad("the round another rank is in", (unsigned long long)(lo != k ? lo : hi),
				    (unsigned long long)k);
		}
		if (rank == 0) {
			snprintf(buf, sizeof(buf), "tick %ld\n", k);
			out(buf);
		}
	}

	MPI_Reduce(&acc, &result, 1, MPI_UINT64_T, MPI_BXOR, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		/* the same job, alone */
		uint64_t c = 0, s = 0, a[size];

		for (int r = 0; r < size; r++)
			a[r] = mix((uint64_t)r + 1);
		for (long k = 1; k <= rounds; k++)
			for (int r = 0; r < size; r++)
				hop(&c, &s, &a[r], r);
		want = 0;
		for (int r = 0; r < size; r++)
			want ^= a[r];
		want ^= s;
		result ^= msg[1];
		if (result != want)
			bad("result", result, want);
		snprintf(buf, sizeof(buf), "result 0x%016llx ranks %d rounds %ld\n",
			 (unsigned long long)result, size, rounds);
		out(buf);
		out("PASS\n");
	}
	MPI_Finalize();
	return 0;
}
