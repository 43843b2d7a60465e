// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracer/session.h"
#include "tracer/supervisor_log.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

/* How much of a failed dump's lines its answer quotes. */
#define SUPERVISOR_LOG_QUOTE (4u << 10)

/* <runtime dir>/<our pid>.log into path; create: the directory too. */
static int log_path_of(char *path, size_t len, bool create)
{
	char dir[PATH_MAX], err[PATH_MAX + 128];
	int r = runtime_dir(dir, sizeof(dir), create, err, sizeof(err));

	if (r < 0)
		return r;
	if ((size_t)snprintf(path, len, "%s/%d.log", dir, getpid()) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void supervisor_log_claim(void)
{
	char path[PATH_MAX], old[PATH_MAX + 8];
	struct stat st;

	/*
	 * A pid used again: what the earlier supervisor said is kept as .old
	 * for a glance, and ours starts empty, so that what we quote and count
	 * is ours alone.  Before anything we fork may open it (the page
	 * server of restore --lazy writes into our log once it is there).
	 */
	if (log_path_of(path, sizeof(path), false) == 0 && lstat(path, &st) == 0) {
		snprintf(old, sizeof(old), "%s.old", path);
		(void)rename(path, old);
	}
}

int supervisor_log_open(struct session *s)
{
	char path[PATH_MAX];
	int fd, r;

	r = log_path_of(path, sizeof(path), true);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return neg_errno();
	s->log_path = strdup(path);
	if (!s->log_path) {
		close(fd);
		return -ENOMEM;
	}
	s->log_fd = fd;
	return 0;
}

void supervisor_log_start(const struct session *s)
{
	if (s->log_fd >= 0)
		log_to_fd(s->log_fd);
}

static size_t log_lines(const struct session *s)
{
	_cleanup_close_ int fd = open(s->log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char chunk[4096];
	size_t lines = 0;
	ssize_t n;

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += chunk[i] == '\n';
	return lines;
}

void supervisor_log_stop(const struct session *s)
{
	size_t lines;

	log_to_fd(-1);
	if (s->log_fd < 0 || s->in_dump_worker)
		return;
	lines = log_lines(s);
	if (lines)
		log_warn("what the supervisor had to say while the program ran: %s (%zu line%s)",
			 s->log_path, lines, lines == 1 ? "" : "s");
}

off_t supervisor_log_mark(const struct session *s)
{
	off_t end;

	if (s->log_fd < 0)
		return -1;
	end = lseek(s->log_fd, 0, SEEK_END);
	return end < 0 ? -1 : end;
}

void supervisor_log_quote(const struct session *s, off_t mark, char *buf, size_t len)
{
	char text[SUPERVISOR_LOG_QUOTE + 1];
	_cleanup_close_ int fd = -1;
	size_t used = strnlen(buf, len);
	ssize_t n;
	char *line, *next;

	if (s->log_fd < 0 || mark < 0 || used + 1 >= len)
		return;
	/* Our fd is append-only: read through a fresh one. */
	fd = open(s->log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	n = pread(fd, text, SUPERVISOR_LOG_QUOTE, mark);
	if (n < 0)
		n = 0;
	text[n] = '\0';
	if (!n)
		return;		/* nothing was logged: the cause says it all */
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line)
			used += snprintf(buf + used, len - used, "\n  %s", line);
		if (used + 1 >= len)
			return;
	}
	snprintf(buf + used, len - used, "\n(the supervisor's log: %s)", s->log_path);
}

void supervisor_log_close(struct session *s)
{
	struct stat st;

	if (s->log_fd < 0)
		return;
	log_to_fd(-1);
	/* A dump worker shares the file with its supervisor: only that one removes it. */
	if (!s->in_dump_worker && fstat(s->log_fd, &st) == 0 && st.st_size == 0)
		unlink(s->log_path);
	closep(&s->log_fd);
	free(s->log_path);
	s->log_path = NULL;
}
