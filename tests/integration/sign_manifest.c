/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sign_manifest: rewrite DIR/manifest the way an attacker (or the test of
 * one) would, for driver.sh --mode auth.  Not part of trace-ckpt.
 *
 *   sign_manifest --checksum-only DIR
 *       only the trailing checksum made right again (after a byte was changed)
 *   sign_manifest [--key KEYFILE | --no-mac] [--sum REL]... [--member HOST ADDR]... [--version N] DIR
 *       --sum REL       DIR/REL's size and checksum put in the manifest
 *       --version N     the manifest says format version N
 *       --member H A    an image of several hosts, with these members (parts part1, part2, ...)
 *       --key KEYFILE   MAC'd with that key; without it the old MAC is kept as it was
 *       --no-mac        no MAC at all, as before images were authenticated
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "proto/attrs.h"
#include "proto/image.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "util/fileio.h"
#include "util/macro.h"

#define CHECKSUM_TAIL 16
#define MAC_ATTR (8 + IMAGE_MAC_LEN)

static int usage(void)
{
	fprintf(stderr, "usage: sign_manifest --checksum-only DIR\n"
			"       sign_manifest [--key KEYFILE | --no-mac] [--sum REL]... [--member HOST ADDR]... [--version N] DIR\n");
	return 2;
}

static void reseal(uint8_t *buf, size_t len)
{
	uint64_t sum = XXH3_64bits(buf, len - CHECKSUM_TAIL);

	memcpy(buf + len - sizeof(sum), &sum, sizeof(sum));
}

static int write_manifest(const char *dir, const void *buf, size_t len)
{
	char path[4096];
	int fd, r;

	snprintf(path, sizeof(path), "%s/manifest", dir);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	r = write_full(fd, buf, len);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		return 1;
	}
	return 0;
}

static int set_sum(struct manifest *m, const char *dir, const char *rel)
{
	char path[4096];
	uint64_t sum, size;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	r = image_file_checksum(fd, &sum, &size);
	close(fd);
	for (size_t i = 0; r == 0 && i < m->nr_files; i++) {
		if (strcmp(m->files[i].path, rel))
			continue;
		m->files[i].xxh3 = sum;
		m->files[i].size = size;
		return 0;
	}
	fprintf(stderr, "%s: %s\n", rel, r < 0 ? strerror(-r) : "not in the manifest");
	return -1;
}

static int add_member(struct manifest *m, const char *host, const char *addr)
{
	struct manifest_member *mb;
	struct manifest_member *nv;

	nv = realloc(m->members, (m->nr_members + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	m->members = nv;
	mb = &m->members[m->nr_members++];
	memset(mb, 0, sizeof(*mb));
	mb->host = strdup(host);
	mb->addr = strdup(addr);
	mb->cmdline = strdup("crafted");
	mb->nr_procs = 1;
	/* A plain name: a refusal must be for the host, not for its directory. */
	if (asprintf(&mb->subdir, "part%zu", m->nr_members) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *key_file = NULL, *dir;
	_cleanup_free_ char *buf = NULL;
	uint8_t old_mac[IMAGE_MAC_LEN];
	bool have_old_mac = false, no_mac = false, checksum_only = false, members = false;
	struct image_key key = { .path = "dummy" };
	struct manifest m;
	struct tlv_buf out = { 0 };
	char err[1024], path[4096];
	size_t len;
	int r, i;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--checksum-only"))
			checksum_only = true;
		else if (!strcmp(argv[i], "--no-mac"))
			no_mac = true;
		else if (!strcmp(argv[i], "--key") && i + 2 < argc)
			key_file = argv[++i];
		else if (!strcmp(argv[i], "--sum") && i + 2 < argc)
			i++;
		else if (!strcmp(argv[i], "--member") && i + 3 < argc)
			i += 2;
		else if (!strcmp(argv[i], "--version") && i + 2 < argc)
			i++;
		else
			return usage();
	}
	if (i != argc - 1 || (key_file && no_mac))
		return usage();
	dir = argv[argc - 1];
	snprintf(path, sizeof(path), "%s/manifest", dir);
	r = read_file_at(AT_FDCWD, path, &buf, &len);
	if (r < 0 || len < CHECKSUM_TAIL + MAC_ATTR) {
		fprintf(stderr, "%s: %s\n", path, r < 0 ? strerror(-r) : "too short");
		return 1;
	}
	if (checksum_only) {
		reseal((uint8_t *)buf, len);
		return write_manifest(dir, buf, len);
	}
	{
		struct tlv_attr a;

		memcpy(&a, buf + len - CHECKSUM_TAIL - MAC_ATTR, sizeof(a));
		if (a.type == MAN_A_MAC && a.len == MAC_ATTR) {
			memcpy(old_mac, buf + len - CHECKSUM_TAIL - IMAGE_MAC_LEN, IMAGE_MAC_LEN);
			have_old_mac = true;
		}
	}
	if (key_file && image_key_load(key_file, true, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (manifest_parse(buf, len, NULL, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 1;
	}
	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--sum") && set_sum(&m, dir, argv[++i]) < 0)
			return 1;
		if (!strcmp(argv[i], "--member")) {
			if (!members) {
				/* Only what a coordinator writes: members, no processes or files. */
				for (size_t k = 0; k < m.nr_procs; k++) {
					free(m.procs[k].host);
					free(m.procs[k].core);
				}
				for (size_t k = 0; k < m.nr_files; k++)
					free(m.files[k].path);
				m.nr_procs = m.nr_files = 0;
				m.flags |= TC_COMP_F_MULTIHOST;
				members = true;
			}
			if (add_member(&m, argv[i + 1], argv[i + 2]) < 0)
				return usage();
			i += 2;
		}
		if (!strcmp(argv[i], "--version"))
			m.version = (uint32_t)strtoul(argv[++i], NULL, 0);
		if (!strcmp(argv[i], "--key"))
			i++;
	}
	if (manifest_encode(&out, &m, &key) < 0) {
		fprintf(stderr, "encoding: out of memory\n");
		return 1;
	}
	manifest_free(&m);
	if (no_mac) {
		/* Cut the MAC out, the checksum after it again. */
		memmove(out.data + out.len - CHECKSUM_TAIL - MAC_ATTR, out.data + out.len - CHECKSUM_TAIL,
			CHECKSUM_TAIL);
		out.len -= MAC_ATTR;
	} else if (!key_file) {
		if (!have_old_mac) {
			fprintf(stderr, "%s: no MAC to keep\n", path);
			return 1;
		}
		memcpy(out.data + out.len - CHECKSUM_TAIL - IMAGE_MAC_LEN, old_mac, IMAGE_MAC_LEN);
	}
	reseal(out.data, out.len);
	r = write_manifest(dir, out.data, out.len);
	tlv_buf_free(&out);
	return r;
}
