/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/macro.h"
#include "util/unixname.h"

int unix_name_bound(const uint8_t *name, uint32_t len)
{
	_cleanup_free_ char *list = NULL;
	char want[110];
	size_t n;
	char *line, *save = NULL;
	int r;

	/* As /proc/net/unix prints it: '@' for the leading NUL, no trailing NUL. */
	while (len && name[len - 1] == '\0' && name[0] != '\0')
		len--;
	if (!len || len >= sizeof(want))
		return 0;
	memcpy(want, name, len);
	want[len] = '\0';
	for (n = 0; n < len; n++)
		if (want[n] == '\0')
			want[n] = '@';
	r = read_file_at(AT_FDCWD, "/proc/net/unix", &list, NULL);
	if (r < 0)
		return r;
	/* The first line is the header. */
	line = strtok_r(list, "\n", &save);
	while (line && (line = strtok_r(NULL, "\n", &save))) {
		char *path = line;

		/* Num RefCount Protocol Flags Type St Inode [Path] */
		for (int field = 0; field < 7 && path; field++) {
			path = strchr(path, ' ');
			while (path && *path == ' ')
				path++;
		}
		if (path && !strcmp(path, want))
			return 1;
	}
	return 0;
}
