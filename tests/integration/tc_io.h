/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * I/O helpers for the multi-process integration programs: whole reads and
 * writes with a deadline (a restore that loses a pipe's contents must end
 * in BAD, not in a hang), bounded waits for children.
 */
#pragma once

#include <poll.h>
#include <sys/wait.h>

#include "tc_test.h"

#define TC_IO_TIMEOUT_MS 30000

/*
 * Read exactly len bytes from fd within timeout_ms.  Returns len, or 0 when
 * the stream ended before the first byte; anything else is BAD.
 */
static TC_UNUSED size_t tc_read_full(int fd, void *buf, size_t len, long timeout_ms,
				     const char *what)
{
	uint64_t deadline = tc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = tc_now_ns();
		ssize_t n;
		int r;

		if (now >= deadline)
			tc_bad("%s: nothing to read for %ld ms (%zu of %zu bytes)", what,
			       timeout_ms, got, len);
		r = poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			tc_bad("%s: poll: %s", what, strerror(errno));
		if (r == 0)
			continue;
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			tc_bad("%s: read: %s", what, strerror(errno));
		if (n == 0) {
			if (got == 0)
				return 0;
			tc_bad("%s: end of stream after %zu of %zu bytes", what, got, len);
		}
		got += (size_t)n;
	}
	return got;
}

static TC_UNUSED void tc_write_full(int fd, const void *buf, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tc_bad("%s: write: %s", what, n < 0 ? strerror(errno) : "wrote 0");
		done += (size_t)n;
	}
}

/* Wait, bounded, for child pid to end with exit status code. */
static TC_UNUSED void tc_wait_child(pid_t pid, int code, long timeout_ms, const char *what)
{
	uint64_t deadline = tc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			tc_bad("%s: waitpid(%d): %s", what, (int)pid, strerror(errno));
		if (r == pid)
			break;
		if (r != 0)
			tc_bad("%s: waitpid(%d) returned %d", what, (int)pid, (int)r);
		if (tc_now_ns() > deadline)
			tc_bad("%s: pid %d did not end in %ld ms", what, (int)pid, timeout_ms);
		tc_sleep_ms(2, 1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		tc_bad("%s: pid %d ended with status %#x, expected exit %d", what, (int)pid,
		       status, code);
}
