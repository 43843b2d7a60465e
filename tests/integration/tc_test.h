/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the self-verifying integration programs.
 *
 * Output protocol (stdout, one write(2) per line, so nothing sits in a
 * stdio buffer at checkpoint time and no line is ever printed twice):
 *
 *   READY          the program's state is set up; the driver may dump
 *   tick N         N counts up by exactly 1 from 1; printed once, after the
 *                  work of tick N is done and checked
 *   BAD <what>     an inconsistency; the program exits 1 right after
 *   PASS           tick TARGET was reached and the final checks held; exit 0
 *
 * Common options: -n TARGET (ticks before PASS), -i INTERVAL_MS (sleep
 * between ticks).  Every program also checks, each tick, the process-wide
 * state that a restore must bring back: pid, /proc/self/exe, cmdline, cwd,
 * umask, comm and RLIMIT_NOFILE.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TC_UNUSED __attribute__((unused))

static TC_UNUSED void tc_write_line(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);	/* nowhere left to report to */
		buf += n;
		len -= (size_t)n;
	}
}

static TC_UNUSED __attribute__((format(printf, 1, 2)))
void tc_printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		_exit(3);
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	tc_write_line(buf, (size_t)n);
}

/* Report an inconsistency and stop: the first BAD is the interesting one. */
static TC_UNUSED __attribute__((format(printf, 1, 2), noreturn))
void tc_bad(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	memcpy(buf, "BAD ", 4);
	va_start(ap, fmt);
	n = vsnprintf(buf + 4, sizeof(buf) - 6, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 6)
		n = (int)(sizeof(buf) - 6);
	buf[4 + n] = '\n';
	tc_write_line(buf, (size_t)n + 5);
	_exit(1);
}

static TC_UNUSED void tc_ready(void)
{
	tc_write_line("READY\n", 6);
}

static TC_UNUSED void tc_tick(long n)
{
	tc_printf("tick %ld\n", n);
}

static TC_UNUSED __attribute__((noreturn)) void tc_pass(void)
{
	tc_write_line("PASS\n", 5);
	_exit(0);
}

static TC_UNUSED uint64_t tc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static TC_UNUSED uint64_t tc_mix(uint64_t x)
{
	/* splitmix64 finaliser: cheap, and every input bit matters */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Sleep ms milliseconds.  A program without signal handlers must never see
 * EINTR: a restore that does not restart an interrupted nanosleep is a bug.
 * Programs with handlers pass allow_eintr and sleep the remainder.
 */
static TC_UNUSED void tc_sleep_ms(long ms, int allow_eintr)
{
	struct timespec req = { ms / 1000, (ms % 1000) * 1000000L }, rem;

	if (ms <= 0)
		return;
	while (nanosleep(&req, &rem) < 0) {
		if (errno != EINTR)
			tc_bad("nanosleep: %s", strerror(errno));
		if (!allow_eintr)
			tc_bad("nanosleep returned EINTR with no signal handler installed");
		req = rem;
	}
}

static TC_UNUSED long tc_parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* A size: bytes, or with K, M or G (KiB, MiB, GiB; "MiB" and "MB" too), rounded down to pages. */
static TC_UNUSED size_t tc_parse_size(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v < 4096)
		goto bad;
	return (size_t)(v & ~4095ull);
bad:
	fprintf(stderr, "bad %s: %s\n", what, s);
	exit(2);
}

struct tc_opts {
	long target;		/* -n */
	long interval_ms;	/* -i */
};

/* getopt helper: returns 1 if c was a common option. */
static TC_UNUSED int tc_common_opt(int c, const char *arg, struct tc_opts *o)
{
	switch (c) {
	case 'n':
		o->target = tc_parse_long(arg, "-n");
		return 1;
	case 'i':
		o->interval_ms = tc_parse_long(arg, "-i");
		return 1;
	}
	return 0;
}

/* ---- process-wide state that must survive a restore ---- */

struct tc_proc {
	pid_t pid;
	char exe[PATH_MAX];
	char cmdline[8192];
	size_t cmdline_len;
	char cwd[PATH_MAX];
	mode_t umask;
	char comm[17];
	struct rlimit nofile;
};

static struct tc_proc tc_proc_saved;

static TC_UNUSED size_t tc_read_file(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		tc_bad("open %s: %s", path, strerror(errno));
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tc_bad("read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got;
}

static TC_UNUSED void tc_proc_get(struct tc_proc *p)
{
	ssize_t n;

	memset(p, 0, sizeof(*p));
	p->pid = getpid();
	n = readlink("/proc/self/exe", p->exe, sizeof(p->exe) - 1);
	if (n < 0)
		tc_bad("readlink /proc/self/exe: %s", strerror(errno));
	p->cmdline_len = tc_read_file("/proc/self/cmdline", p->cmdline,
				      sizeof(p->cmdline));
	if (!getcwd(p->cwd, sizeof(p->cwd)))
		tc_bad("getcwd: %s", strerror(errno));
	p->umask = umask(0);
	umask(p->umask);
	if (prctl(PR_GET_NAME, p->comm, 0, 0, 0) < 0)
		tc_bad("PR_GET_NAME: %s", strerror(errno));
	if (getrlimit(RLIMIT_NOFILE, &p->nofile) < 0)
		tc_bad("getrlimit: %s", strerror(errno));
}

/*
 * Give the process values that differ from what a fresh process would get,
 * so that a restore which forgets one of them is caught.
 */
static TC_UNUSED void tc_proc_init(const char *name)
{
	char comm[16];
	struct rlimit rl;

	snprintf(comm, sizeof(comm), "tc-%s", name);
	if (prctl(PR_SET_NAME, comm, 0, 0, 0) < 0)
		tc_bad("PR_SET_NAME: %s", strerror(errno));
	umask(027);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max < 777 ? rl.rlim_max : 777;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			tc_bad("setrlimit: %s", strerror(errno));
	}
	tc_proc_get(&tc_proc_saved);
}

static TC_UNUSED void tc_proc_check(void)
{
	static struct tc_proc now;
	const struct tc_proc *s = &tc_proc_saved;

	tc_proc_get(&now);
	if (now.pid != s->pid)
		tc_bad("getpid() is %d, was %d", (int)now.pid, (int)s->pid);
	if (strcmp(now.exe, s->exe))
		tc_bad("/proc/self/exe is '%s', was '%s'", now.exe, s->exe);
	if (now.cmdline_len != s->cmdline_len ||
	    memcmp(now.cmdline, s->cmdline, s->cmdline_len)) {
		/* What the kernel has: passing or for good, and the mm's arg/env bounds. */
		static char stat[1024], maps[65536];
		size_t again[3], n = tc_read_file("/proc/self/stat", stat, sizeof(stat) - 1);
		char *tail;

		stat[n] = '\0';
		tail = strrchr(stat, ')');
		for (int k = 0; tail && k < 46; k++)
			tail = strchr(tail + 1, ' ');
		for (int k = 0; k < 3; k++) {
			tc_sleep_ms(20, 0);
			again[k] = tc_read_file("/proc/self/cmdline", now.cmdline, sizeof(now.cmdline));
		}
		const char *stack;

		n = tc_read_file("/proc/self/maps", maps, sizeof(maps) - 1);
		maps[n] = '\0';
		stack = strstr(maps, "[stack]");
		stack = !stack ? "?" : stack - maps > 80 ? stack - 80 : maps;
		tc_bad("/proc/self/cmdline changed (%zu bytes, was %zu; %zu, %zu, %zu bytes 20, 40, 60 ms later); stat ends%s; maps: %s",
		       now.cmdline_len, s->cmdline_len, again[0], again[1], again[2],
		       tail ? tail : " ?", stack);
	}
	if (strcmp(now.cwd, s->cwd))
		tc_bad("cwd is '%s', was '%s'", now.cwd, s->cwd);
	if (now.umask != s->umask)
		tc_bad("umask is %03o, was %03o", (unsigned)now.umask, (unsigned)s->umask);
	if (strcmp(now.comm, s->comm))
		tc_bad("comm is '%s', was '%s'", now.comm, s->comm);
	if (now.nofile.rlim_cur != s->nofile.rlim_cur ||
	    now.nofile.rlim_max != s->nofile.rlim_max)
		tc_bad("RLIMIT_NOFILE is %llu/%llu, was %llu/%llu",
		       (unsigned long long)now.nofile.rlim_cur,
		       (unsigned long long)now.nofile.rlim_max,
		       (unsigned long long)s->nofile.rlim_cur,
		       (unsigned long long)s->nofile.rlim_max);
}
