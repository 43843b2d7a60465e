/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cpuclaim DIR: make the image in DIR claim it was made on a CPU with
 * avx512pf and avx512er (Xeon Phi only), through the manifest encoder and
 * signed with the user's own key, as a dump on such a CPU would have made
 * it: a restore must refuse it on any other CPU.  Exits 77 on a CPU that has
 * them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "util/fileio.h"

#define AVX512PF (1u << 26)
#define AVX512ER (1u << 27)

int main(int argc, char **argv)
{
	struct cpu_record here;
	struct image_key key;
	struct manifest m;
	struct tlv_buf b = { 0 };
	char path[4096], tmp[4200], err[256];
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: cpuclaim DIR\n");
		return 2;
	}
	cpu_record_host(&here);
	if (here.leaf7_ebx & (AVX512PF | AVX512ER)) {
		printf("skip: this CPU has avx512pf or avx512er\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/manifest", argv[1]);
	snprintf(tmp, sizeof(tmp), "%s.cpuclaim", path);
	if (image_key_user(&key, err, sizeof(err)) < 0) {
		fprintf(stderr, "cpuclaim: %s\n", err);
		return 1;
	}
	r = read_file_at(AT_FDCWD, path, &buf, &len);
	if (r < 0 || manifest_parse(buf, len, &key, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "cpuclaim: %s: %s\n", path, r < 0 ? strerror(-r) : err);
		return 1;
	}
	if (!(m.cpu.flags & CPU_F_KNOWN)) {
		fprintf(stderr, "cpuclaim: %s records no CPU\n", path);
		return 1;
	}
	m.cpu.leaf7_ebx |= AVX512PF | AVX512ER;
	r = manifest_encode(&b, &m, &key);
	image_key_wipe(&key);
	fd = r < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, b.data, b.len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		perror("cpuclaim: writing the manifest");
		return 1;
	}
	tlv_buf_free(&b);
	manifest_free(&m);
	free(buf);
	return 0;
}
