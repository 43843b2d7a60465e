/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptrace/seize.h"
#include "util/fileio.h"
#include "util/macro.h"

/* How long a wait with a deadline sleeps between two looks. */
#define WAIT_POLL_NS 1000000

uint64_t ptrace_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

int ptrace_seize_thread(pid_t tid, unsigned long options)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)options) < 0)
		return neg_errno();
	return 0;
}

int ptrace_interrupt_thread(pid_t tid)
{
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return neg_errno();
	return 0;
}

int ptrace_resume_thread(pid_t tid, int sig)
{
	if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig) < 0)
		return neg_errno();
	return 0;
}

int ptrace_detach_thread(pid_t tid, int sig)
{
	if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) < 0)
		return neg_errno();
	return 0;
}

pid_t ptrace_wait_thread(pid_t tid, int *status, uint64_t deadline_ms)
{
	struct timespec pause = { 0, WAIT_POLL_NS };

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r > 0)
			return r;
		if (r < 0 && errno != EINTR)
			return neg_errno();
		if (r == 0 && ptrace_now_ms() >= deadline_ms)
			return 0;
		if (r == 0)
			nanosleep(&pause, NULL);
	}
}

bool ptrace_thread_alive(pid_t tgid, pid_t tid)
{
	char path[64], buf[512];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;

	if (syscall(SYS_tgkill, tgid, tid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !p || (p[2] != 'Z' && p[2] != 'X');
}

/* The number after key ("\nTracerPid:") in /proc/TID/status, or -errno. */
static pid_t status_number(pid_t tid, const char *key)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	char *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	r = read_file_at(AT_FDCWD, path, &status, NULL);
	if (r < 0)
		return r;
	p = strstr(status, key);
	return p ? (pid_t)strtol(p + strlen(key), NULL, 10) : -ENOENT;
}

pid_t ptrace_tracer_of(pid_t tid)
{
	return status_number(tid, "\nTracerPid:");
}

pid_t ptrace_tgid_of(pid_t tid)
{
	return status_number(tid, "\nTgid:");
}

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

int ptrace_rseq_config(pid_t tid, struct rseq_config *out)
{
	long n;

	memset(out, 0, sizeof(*out));
	n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(*out), out);
	if (n < 0)
		return neg_errno();
	return n > 0 ? 0 : -EIO;
}
