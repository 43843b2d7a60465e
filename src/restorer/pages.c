/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "restorer/pages.h"
#include "util/macro.h"

/*
 * A compressed core is uncompressed once, here, into a memfd laid out like
 * the plain file: the stub maps and copies from it as from any core, and
 * the memory is given back when the stub closes it.
 */
int pages_open(const char *path, uint64_t zoff, uint64_t zend, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC), mfd = -1;
	uint8_t *src = MAP_FAILED, *dst = MAP_FAILED;
	struct stat st;
	size_t n;
	int r = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		r = neg_errno();
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (!zoff)
		return TAKE_FD(fd);
	if (zoff > (uint64_t)st.st_size || zend < zoff) {
		snprintf(err, errlen, "%s: compressed pages out of the file", path);
		return -EBADMSG;
	}
	mfd = memfd_create("trace-ckpt-pages", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, (off_t)zend) < 0) {
		r = neg_errno();
		snprintf(err, errlen, "%s: room for its pages uncompressed (%llu bytes): %s", path,
			 (unsigned long long)zend, strerror(-r));
		return r;
	}
	src = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	dst = zend ? mmap(NULL, (size_t)zend, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0) : NULL;
	if (src == MAP_FAILED || dst == MAP_FAILED) {
		r = neg_errno();
		snprintf(err, errlen, "%s: mapping it to uncompress: %s", path, strerror(-r));
		goto out;
	}
	memcpy(dst, src, (size_t)zoff);
	n = ZSTD_decompress(dst + zoff, (size_t)(zend - zoff), src + zoff,
			    (size_t)((uint64_t)st.st_size - zoff));
	if (ZSTD_isError(n) || n != zend - zoff) {
		snprintf(err, errlen, "%s: compressed pages damaged (%s)", path,
			 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
		r = -EBADMSG;
	}
out:
	if (src != MAP_FAILED)
		munmap(src, (size_t)st.st_size);
	if (dst != MAP_FAILED && dst)
		munmap(dst, (size_t)zend);
	return r < 0 ? r : TAKE_FD(mfd);
}
