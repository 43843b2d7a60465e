/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <unistd.h>

#include "util/log.h"

static enum log_level max_level = LOG_WARN;
static int sink_fd = STDERR_FILENO;

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_to_fd(int fd)
{
	sink_fd = fd >= 0 ? fd : STDERR_FILENO;
}

enum log_level log_get_level(void)
{
	return max_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	n = snprintf(buf, sizeof(buf), "trace-ckpt[%d]: %s: ", getpid(), prefix[level]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line so lines of several processes do not interleave. */
	(void)!write(sink_fd, buf, n);
}
