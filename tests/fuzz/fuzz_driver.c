/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs the fuzz entry point without libFuzzer, so every build (gcc too)
 * exercises it: over seeds made here from real encoder output (a process
 * record, a manifest, a core file), every truncation and byte flip of them,
 * a fixed number of deterministic random mutations, and any files named on
 * the command line.
 *
 *   fuzz_driver [--write-seeds DIR] [--iterations N] [FILE...]
 *
 * --write-seeds stores the seeds as a corpus for the libFuzzer target.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/sample.h"
#include "fuzz.h"
#include "proto/image.h"
#include "proto/manifest.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "util/fileio.h"
#include "util/macro.h"

struct seed {
	uint8_t *data;
	size_t len;
	const char *name;
};

static struct seed make_seed(uint8_t kind, const void *data, size_t len, const char *name)
{
	struct seed s = { malloc(len + 1), len + 1, name };

	if (!s.data)
		abort();
	s.data[0] = kind;
	memcpy(s.data + 1, data, len);
	return s;
}

static struct seed record_seed(void)
{
	struct process_record p;
	struct tlv_buf b = { 0 };
	struct seed s;

	sample_process(&p, 1, 2, 5, 4);
	/* An incremental, compressed core's attributes too. */
	p.nr_base_files = 1;
	p.base_files = calloc(1, sizeof(*p.base_files));
	p.base_files[0].name = strdup("proc-1.g3.core");
	p.nr_base_runs = 1;
	p.base_runs = calloc(1, sizeof(*p.base_runs));
	p.base_runs[0] = (struct base_run){ 0x10000, 0x2000, 0x3000, 0, 0 };
	p.zstd_pages_off = 0x3000;
	p.zstd_pages_end = 0x9000;
	if (!p.base_files || !p.base_files[0].name || !p.base_runs ||
	    process_record_encode(&b, &p) < 0)
		abort();
	s = make_seed(FUZZ_RECORD, b.data, b.len, "record");
	tlv_buf_free(&b);
	process_record_free(&p);
	return s;
}

/* A real image, written by image_write: its manifest and one core file (zstd: compressed). */
static void image_seeds(struct seed *man, struct seed *core, int zstd)
{
	struct computation c;
	struct fake_mem fm = { 0 };
	struct mem_reader mr = { 0 };
	char *tmp = make_tmpdir(), path[4096];
	char *buf;
	size_t len;

	sample_computation(&c, 1);
	c.procs[0].real_pid = c.procs[0].pid;
	for (size_t i = 0; i < c.procs[0].nr_fds; i++)
		c.procs[0].fds[i].deleted = false;
	c.procs[0].nr_runs = 2;
	c.procs[0].runs = calloc(2, sizeof(struct page_run));
	c.procs[0].runs[0] = (struct page_run){ c.procs[0].vmas[0].start, 4096 };
	c.procs[0].runs[1] = (struct page_run){ c.procs[0].vmas[0].start + 8192, 4096 };
	c.zstd_level = zstd;
	fake_mem_reader(&mr, &fm);
	snprintf(path, sizeof(path), "%s/img", tmp);
	if (image_write(&c, path, &sample_key, &mr, NULL) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/img/manifest", tmp);
	if (read_file_at(AT_FDCWD, path, &buf, &len) < 0)
		abort();
	*man = make_seed(FUZZ_MANIFEST, buf, len, "manifest");
	free(buf);
	snprintf(path, sizeof(path), "%s/img/node-a/proc-%d.core", tmp, c.procs[0].pid);
	if (read_file_at(AT_FDCWD, path, &buf, &len) < 0)
		abort();
	*core = make_seed(FUZZ_CORE, buf, len, zstd ? "core-zstd" : "core");
	free(buf);
	computation_free(&c);
	rm_rf(tmp);
	free(tmp);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void run(const uint8_t *data, size_t len)
{
	LLVMFuzzerTestOneInput(data, len);
}

/* Lengths that cut at or near every attribute header, and a spread of others. */
static void truncations(const struct seed *s)
{
	size_t step = s->len > 8192 ? s->len / 2048 : 1;

	for (size_t len = 0; len <= s->len; len += step)
		run(s->data, len);
	for (size_t len = s->len > 64 ? s->len - 64 : 0; len <= s->len; len++)
		run(s->data, len);
}

static void flips(const struct seed *s)
{
	uint8_t *m = malloc(s->len);
	size_t step = s->len > 8192 ? s->len / 4096 : 1;

	memcpy(m, s->data, s->len);
	for (size_t i = 1; i < s->len; i += step) {
		static const uint8_t xors[] = { 0x01, 0x80, 0xff };

		for (size_t k = 0; k < sizeof(xors); k++) {
			m[i] ^= xors[k];
			run(m, s->len);
			m[i] ^= xors[k];
		}
	}
	free(m);
}

static void mutations(const struct seed *s, unsigned long iterations, uint64_t seed)
{
	static const uint32_t interesting[] = { 0, 1, 7, 8, 9, 0x7f, 0x80, 0xff, 0xffff,
						 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff };
	uint8_t *m = malloc(s->len);

	for (unsigned long it = 0; it < iterations; it++) {
		int n = 1 + (int)(rng(&seed) % 4);

		memcpy(m, s->data, s->len);
		while (n--) {
			size_t pos = 1 + rng(&seed) % (s->len - 1);
			uint32_t v = interesting[rng(&seed) % (sizeof(interesting) / sizeof(interesting[0]))];

			if (rng(&seed) & 1 && pos + 4 <= s->len)
				memcpy(m + pos, &v, 4);
			else
				m[pos] = (uint8_t)rng(&seed);
		}
		run(m, rng(&seed) % 8 ? s->len : 1 + rng(&seed) % s->len);
	}
	free(m);
}

static int write_seeds(const char *dir, const struct seed *seeds, size_t n)
{
	char path[4096];

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		int fd, r;

		snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		r = write_full(fd, seeds[i].data, seeds[i].len);
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A HELLO as a peer sends it (with a proof that cannot be right). */
static struct seed handshake_seed(void)
{
	uint8_t nonce[WIRE_NONCE_LEN], proof[WIRE_MAC_LEN], mac[WIRE_MAC_LEN] = { 0 };
	struct tlv_buf payload = { 0 }, frame = { 0 };
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_HELLO };
	struct seed s;

	memset(nonce, 0x11, sizeof(nonce));
	memset(proof, 0x22, sizeof(proof));
	tlv_put(&payload, WIRE_A_NONCE, nonce, sizeof(nonce));
	tlv_put(&payload, WIRE_A_PROOF, proof, sizeof(proof));
	h.len = (uint32_t)payload.len;
	tlv_put_raw(&frame, &h, sizeof(h));
	tlv_put_raw(&frame, payload.data, payload.len);
	tlv_put_raw(&frame, mac, sizeof(mac));
	if (frame.err)
		abort();
	s = make_seed(FUZZ_HANDSHAKE, frame.data, frame.len, "handshake");
	tlv_buf_free(&payload);
	tlv_buf_free(&frame);
	return s;
}

/* Three queued messages: from an IPv4 address, from nobody with two files, from an abstract name. */
static struct seed sockq_seed(void)
{
	uint8_t buf[256];
	size_t len = 0;
	const struct {
		uint32_t len, from_len, nr_fds;
		const char *data, *from;
		uint32_t fds[2];
	} v[] = {
		{ 4, 16, 0, "abcd", "\x02\x00\x10\x92\x7f\x00\x00\x01\0\0\0\0\0\0\0\0", { 0 } },
		{ 0, 0, 2, "", "", { 0x40000000u, 0x40000001u } },
		{ 3, 5, 0, "xyz", "\0name", { 0 } },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memcpy(buf + len, &v[i].len, 4);
		memcpy(buf + len + 4, &v[i].from_len, 4);
		memcpy(buf + len + 8, &v[i].nr_fds, 4);
		len += 12;
		memcpy(buf + len, v[i].from, v[i].from_len);
		len += v[i].from_len;
		memcpy(buf + len, v[i].fds, 4 * v[i].nr_fds);
		len += 4 * v[i].nr_fds;
		memcpy(buf + len, v[i].data, v[i].len);
		len += v[i].len;
	}
	return make_seed(FUZZ_SOCKQ, buf, len, "sockq");
}

int main(int argc, char **argv)
{
	struct seed seeds[7];
	unsigned long iterations = 20000;
	const char *seed_dir = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--write-seeds") && i + 1 < argc)
			seed_dir = argv[++i];
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iterations = strtoul(argv[++i], NULL, 0);
		else
			break;
	}
	seeds[0] = record_seed();
	image_seeds(&seeds[1], &seeds[2], 0);
	seeds[3] = make_seed(FUZZ_MANIFEST_RESEALED, seeds[1].data + 1, seeds[1].len - 1,
			     "manifest-resealed");
	seeds[4] = handshake_seed();
	seeds[5] = sockq_seed();
	{
		struct seed zman;

		image_seeds(&zman, &seeds[6], TC_ZSTD_LEVEL);
		free(zman.data);
	}
	if (seed_dir && write_seeds(seed_dir, seeds, ARRAY_SIZE(seeds)) < 0) {
		perror(seed_dir);
		return 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(seeds); k++) {
		run(seeds[k].data, seeds[k].len);
		truncations(&seeds[k]);
		flips(&seeds[k]);
		mutations(&seeds[k], iterations, 0x9e3779b97f4a7c15ull + k);
		printf("%s seed (%zu bytes): ok\n", seeds[k].name, seeds[k].len);
	}
	for (; i < argc; i++) {
		char *buf;
		size_t len;

		if (read_file_at(AT_FDCWD, argv[i], &buf, &len) < 0) {
			perror(argv[i]);
			return 1;
		}
		run((const uint8_t *)buf, len);
		free(buf);
		printf("%s: ok\n", argv[i]);
	}
	for (size_t k = 0; k < ARRAY_SIZE(seeds); k++)
		free(seeds[k].data);
	return 0;
}
