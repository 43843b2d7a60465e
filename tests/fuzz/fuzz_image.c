/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz entry point for everything the image reader parses from disk: the
 * first byte picks the parser, the rest is its input.
 *   0: a TLV process record (the TRACECKPT note's contents)
 *   1: a whole manifest file
 *   2: a whole ELF core file
 *   3: a manifest whose checksum is recomputed first, so mutations get past
 *      it into the attributes
 *   4: the bytes a peer sends the coordinator before it is authenticated
 *      (frames, the HELLO attributes), read by channel_accept()
 *   5: a socket's queued messages (proto/sockq.h), with senders and files
 * Besides not crashing, a record or manifest that parses must re-encode to
 * something that parses again to the same bytes (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include "coord/channel.h"
#include "fuzz.h"
#include "proto/attrs.h"
#include "proto/core.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "proto/record.h"
#include "proto/sockq.h"

static const struct image_key fuzz_key = { .bytes = { 1, 2, 3 }, .path = "fuzz" };

static void fuzz_record(const uint8_t *buf, size_t len)
{
	struct process_record p, q;
	struct tlv_buf a = { 0 }, b = { 0 };

	if (process_record_decode(buf, len, &p) < 0)
		return;
	if (process_record_encode(&a, &p) < 0)
		abort();
	if (process_record_decode(a.data, a.len, &q) < 0)
		abort();
	if (process_record_encode(&b, &q) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
		abort();
	process_record_free(&p);
	process_record_free(&q);
	tlv_buf_free(&a);
	tlv_buf_free(&b);
}

static void fuzz_manifest(const uint8_t *buf, size_t len)
{
	struct manifest m, n;
	struct tlv_buf a = { 0 }, b = { 0 };
	char err[256];

	/* Unauthenticated: the fuzzer cannot forge a MAC, and the parser behind it must hold. */
	if (manifest_parse(buf, len, NULL, &m, err, sizeof(err)) < 0)
		return;
	if (manifest_encode(&a, &m, &fuzz_key) < 0)
		abort();
	if (manifest_parse(a.data, a.len, &fuzz_key, &n, err, sizeof(err)) < 0)
		abort();
	if (manifest_encode(&b, &n, &fuzz_key) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len))
		abort();
	manifest_free(&m);
	manifest_free(&n);
	tlv_buf_free(&a);
	tlv_buf_free(&b);
}

static void fuzz_manifest_resealed(uint8_t *buf, size_t len)
{
	struct tlv_attr h = { TLV_HDRLEN + sizeof(uint64_t), MAN_A_CHECKSUM };
	uint64_t sum;

	if (len >= 32 && len % 8 == 0) {
		sum = XXH3_64bits(buf, len - 16);
		memcpy(buf + len - 16, &h, sizeof(h));
		memcpy(buf + len - 8, &sum, sizeof(sum));
	}
	fuzz_manifest(buf, len);
}

static void fuzz_core(uint8_t *buf, size_t len)
{
	struct process_record p;
	char err[256];

	if (core_parse_buffer(buf, len, &p, err, sizeof(err)) == 0)
		process_record_free(&p);
}

static void fuzz_handshake(const uint8_t *buf, size_t len)
{
	static const uint8_t secret[SECRET_LEN];
	struct channel ch;
	int sv[2];

	/* Whatever fits in the socket at once: the coordinator reads it all. */
	if (len > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (write(sv[1], buf, len) == (ssize_t)len) {
		shutdown(sv[1], SHUT_WR);
		/* Nobody can know the secret here: it must never be accepted. */
		if (channel_accept(&ch, sv[0], secret, 100) == 0)
			abort();
		/* Closes sv[0] and frees the part of a frame read so far. */
		channel_close(&ch);
	} else {
		close(sv[0]);
	}
	close(sv[1]);
}

/* Every message must lie inside the buffer, and the walk must end. */
static void fuzz_sockq(const uint8_t *buf, size_t len)
{
	struct sockq_msg m;
	size_t off = 0, last;
	int r;

	do {
		last = off;
		r = sockq_next(buf, len, &off, SOCKQ_FROM | SOCKQ_FDS, &m);
		if (r > 0 && (off <= last || off > len || m.data < buf || m.data + m.len > buf + len ||
			      (m.from_len && (m.from < buf || m.from + m.from_len > buf + len)) ||
			      (m.nr_fds && (m.fds < buf || m.fds + 4 * (size_t)m.nr_fds > buf + len))))
			abort();
	} while (r > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	if (size < 1)
		return 0;
	/* The parsers get malloc'd (aligned) buffers, as they do from the reader. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	switch (data[0] % FUZZ_NR_KINDS) {
	case FUZZ_RECORD:
		fuzz_record(buf, size - 1);
		break;
	case FUZZ_MANIFEST:
		fuzz_manifest(buf, size - 1);
		break;
	case FUZZ_CORE:
		fuzz_core(buf, size - 1);
		break;
	case FUZZ_MANIFEST_RESEALED:
		fuzz_manifest_resealed(buf, size - 1);
		break;
	case FUZZ_HANDSHAKE:
		fuzz_handshake(buf, size - 1);
		break;
	case FUZZ_SOCKQ:
		fuzz_sockq(buf, size - 1);
		break;
	}
	free(buf);
	return 0;
}
