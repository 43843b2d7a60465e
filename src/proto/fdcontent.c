/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "util/fileio.h"
#include "util/macro.h"

int fd_content_open(const struct fd_record *f, uint64_t *off, uint64_t *len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!f->content)
		return -ENOENT;
	fd = open(f->content, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return neg_errno();
	/* image_read checked the range; the file is looked at again as it is opened. */
	if (!S_ISREG(st.st_mode) || f->content_off > (uint64_t)st.st_size ||
	    f->content_len > (uint64_t)st.st_size - f->content_off)
		return -EBADMSG;
	*off = f->content_off;
	*len = f->content_len;
	return TAKE_FD(fd);
}

int fd_content_read(const struct fd_record *f, uint8_t **buf, size_t *len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *b = NULL;
	uint64_t off, n;
	int r;

	*buf = NULL;
	*len = 0;
	fd = fd_content_open(f, &off, &n);
	if (fd < 0)
		return fd;
	if (n > SIZE_MAX - 1 || off > (uint64_t)INT64_MAX)
		return -EFBIG;
	b = malloc(n ? n : 1);
	if (!b)
		return -ENOMEM;
	r = pread_full(fd, b, n, (off_t)off);
	if (r < 0)
		return r;
	*buf = TAKE_PTR(b);
	*len = n;
	return 0;
}
