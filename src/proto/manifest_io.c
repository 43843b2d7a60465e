/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one reader and the one writer of manifest files: a host's image
 * (DIR/manifest) and the top manifest of a checkpoint of several hosts
 * (DIR/manifest, DIR/manifest.g<N>) go through the same two functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/manifest.h"
#include "proto/tlv.h"
#include "util/fileio.h"
#include "util/macro.h"

int manifest_read_at(int dirfd, const char *dir, const char *name, const struct image_key *key,
		     struct manifest *m, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	char why[1024] = "";
	size_t len = 0;
	int r;

	r = read_file_at(dirfd, name, &buf, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name,
			 r == -ENOENT ? "missing" : strerror(-r));
		return r;
	}
	r = manifest_parse(buf, len, key, m, why, sizeof(why));
	/* why starts with "manifest: " (its own words), or is empty. */
	if (r < 0)
		snprintf(err, errlen, "%s/%s%s", dir, name,
			 !strncmp(why, "manifest", 8) ? why + 8 : ": unreadable");
	return r;
}

int manifest_write_at(int dirfd, const char *dir, const char *name, const char *also,
		      const struct manifest *m, const struct image_key *key, unsigned int flags,
		      uint64_t *bytes, char *err, size_t errlen)
{
	bool sync = !(flags & MANIFEST_NO_SYNC);
	struct tlv_buf b = { 0 };
	char tmp[256];
	_cleanup_close_ int fd = -1;
	int r;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	r = manifest_encode(&b, m, key);
	if (r == 0) {
		unlinkat(dirfd, tmp, 0);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		r = fd < 0 ? neg_errno() : write_full(fd, b.data, b.len);
	}
	if (r == 0 && sync && fsync(fd) < 0)
		r = neg_errno();
	if (r == 0 && also && (unlinkat(dirfd, also, 0), linkat(dirfd, tmp, dirfd, also, 0) < 0))
		r = neg_errno();
	/* The rename is the commit point: before it the old manifest holds, after it the new. */
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = neg_errno();
	if (r == 0 && sync && fsync(dirfd) < 0)
		r = neg_errno();
	if (r == 0 && bytes)
		*bytes = b.len;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		snprintf(err, errlen, "writing %s/%s: %s", dir, name, strerror(-r));
	}
	tlv_buf_free(&b);
	return r;
}
