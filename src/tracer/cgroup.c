/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The computation's cgroup v2 directory and its freezer (see cgroup.h).
 *
 * Found on Linux 6.18 (docs/architecture.md, "The cgroup freezer"):
 * PTRACE_SEIZE and PTRACE_INTERRUPT work on the threads of a frozen cgroup,
 * and each enters its ptrace-stop while the cgroup is still frozen; once the
 * cgroup is thawed they stay in that stop until the tracer lets them go.  So
 * the order is: freeze, seize and interrupt everything, thaw, wait for the
 * stops.  The cgroup is frozen only for the seize.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptrace/seize.h"
#include "tracer/cgroup.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define CGROUP_NAME_PREFIX "trace-ckpt-"
/* How long the last processes of an ended computation may take to leave it. */
#define EMPTY_TIMEOUT_MS 1000

/* The cgroup2 mount: its mount point and the cgroup path its root is. */
static int find_cgroup2_mount(char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	_cleanup_free_ char *info = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &info, NULL);
	char *line, *save = NULL;

	if (r < 0)
		return r;
	for (line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mroot[512], mpoint[512], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %511s %511s", mroot, mpoint) != 2)
			continue;
		snprintf(mnt, mntlen, "%s", mpoint);
		snprintf(root, rootlen, "%s", mroot);
		return 0;
	}
	return -ENOENT;
}

/* Our own cgroup v2 path ("0::PATH" in /proc/self/cgroup). */
static int own_cgroup2_path(char *path, size_t len)
{
	_cleanup_free_ char *cg = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", &cg, NULL);
	char *p;

	if (r < 0)
		return r;
	if (!strncmp(cg, "0::", 3))
		p = cg + 3;
	else if ((p = strstr(cg, "\n0::")))
		p += 4;
	else
		return -ENOENT;
	snprintf(path, len, "%.*s", (int)strcspn(p, "\n"), p);
	return 0;
}

/*
 * The directory our computation's cgroup goes in: our own cgroup, if we may
 * write to it (root, or an ordinary user's delegated subtree).  why says
 * otherwise.
 */
static int find_base(char *base, size_t len, char *why, size_t whylen)
{
	char mnt[512], mroot[512], own[1024];
	const char *rel;
	char procs[1100];

	if (find_cgroup2_mount(mnt, sizeof(mnt), mroot, sizeof(mroot)) < 0) {
		snprintf(why, whylen, "no cgroup2 file system mounted");
		return -ENOENT;
	}
	if (own_cgroup2_path(own, sizeof(own)) < 0) {
		snprintf(why, whylen, "no cgroup v2 path in /proc/self/cgroup");
		return -ENOENT;
	}
	rel = own;
	if (strcmp(mroot, "/")) {
		size_t n = strlen(mroot);

		if (strncmp(own, mroot, n) || (own[n] && own[n] != '/')) {
			snprintf(why, whylen, "our cgroup %s is not below the cgroup2 mount at %s",
				 own, mnt);
			return -ENOENT;
		}
		rel = own + n;
	}
	snprintf(base, len, "%s%s%s", mnt, rel[0] == '/' || !rel[0] ? "" : "/", rel);
	while (strlen(base) > 1 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", base);
	if (faccessat(AT_FDCWD, base, W_OK, AT_EACCESS) < 0 ||
	    faccessat(AT_FDCWD, procs, W_OK, AT_EACCESS) < 0) {
		snprintf(why, whylen, "our cgroup %s is not ours to write (%s): not root, no "
			 "delegated subtree", base, strerror(errno));
		return -EACCES;
	}
	return 0;
}

/* A cgroup of ours whose supervisor is gone: removed if it is empty. */
static void remove_leftovers(int base_fd, const char *base)
{
	_cleanup_close_ int fd = dup(base_fd);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd)))
		return;
	fd = -1;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, CGROUP_NAME_PREFIX, strlen(CGROUP_NAME_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(CGROUP_NAME_PREFIX), &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		/* Not empty: its computation runs on; the kernel refuses with EBUSY. */
		if (unlinkat(base_fd, de->d_name, AT_REMOVEDIR) == 0)
			log_info("cgroup: removed %s/%s, left by a killed supervisor", base,
				 de->d_name);
		else
			log_debug("cgroup: %s/%s, left by supervisor %ld, stays: %m", base,
				  de->d_name, pid);
	}
	closedir(d);
}

void session_cgroup_create(struct session *s)
{
	const char *env = getenv("TRACE_CKPT_CGROUP");
	char base[1200], why[1400], name[64];
	_cleanup_close_ int base_fd = -1;
	int fd, r;

	if (s->cgroup_fd >= 0)
		return;
	if (env && !strcmp(env, "off")) {
		log_info("cgroup freezer: not used (TRACE_CKPT_CGROUP=off); a dump freezes with "
			 "ptrace alone");
		return;
	}
	if (find_base(base, sizeof(base), why, sizeof(why)) < 0) {
		log_info("cgroup freezer: not used: %s; a dump freezes with ptrace alone", why);
		return;
	}
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0) {
		log_info("cgroup freezer: not used: %s: %m; a dump freezes with ptrace alone", base);
		return;
	}
	remove_leftovers(base_fd, base);
	snprintf(name, sizeof(name), CGROUP_NAME_PREFIX "%d", s->supervisor_pid);
	/*
	 * One of an earlier supervisor with our pid, killed: removed if empty;
	 * if not, its processes are not ours to freeze.
	 */
	r = mkdirat(base_fd, name, 0755);
	if (r < 0 && errno == EEXIST && unlinkat(base_fd, name, AT_REMOVEDIR) == 0)
		r = mkdirat(base_fd, name, 0755);
	if (r < 0) {
		log_info("cgroup freezer: not used: making %s/%s: %m; a dump freezes with ptrace "
			 "alone", base, name);
		return;
	}
	fd = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || faccessat(fd, "cgroup.freeze", W_OK, AT_EACCESS) < 0) {
		log_info("cgroup freezer: not used: %s/%s/cgroup.freeze: %m; a dump freezes with "
			 "ptrace alone", base, name);
		closep(&fd);
		(void)unlinkat(base_fd, name, AT_REMOVEDIR);
		return;
	}
	if (asprintf(&s->cgroup_path, "%s/%s", base, name) < 0) {
		s->cgroup_path = NULL;
		close(fd);
		(void)unlinkat(base_fd, name, AT_REMOVEDIR);
		return;
	}
	s->cgroup_fd = fd;
	log_info("cgroup freezer: the computation goes in %s", s->cgroup_path);
}

static int write_at(int dir_fd, const char *file, const char *text)
{
	_cleanup_close_ int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return neg_errno();
	if (write(fd, text, len) != (ssize_t)len)
		return neg_errno();
	return 0;
}

int session_cgroup_add(struct session *s, pid_t pid)
{
	char text[24];
	int r;

	if (s->cgroup_fd < 0)
		return -ENOENT;
	snprintf(text, sizeof(text), "%d", pid);
	r = write_at(s->cgroup_fd, "cgroup.procs", text);
	if (r < 0) {
		log_info("cgroup freezer: not used: moving pid %d into %s: %s; a dump freezes with "
			 "ptrace alone", pid, s->cgroup_path, strerror(-r));
		session_cgroup_remove(s);
	}
	return r;
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * How often cgroup.events is read again while waiting.  The kernel marks
 * the file POLLPRI when a value changes, but at most once in 10 ms
 * (cgroup_file_notify): a freeze of one thread that took 0.5 ms was seen
 * up to 15 ms late.  What the file says is current when read.
 */
#define EVENTS_REREAD_US 100
#define EVENTS_REREAD_FOR_MS 20

/* Wait until cgroup.events says "key value", up to deadline_ms. */
static int wait_event(int dir_fd, const char *key_value, uint64_t deadline_ms)
{
	_cleanup_close_ int fd = openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	uint64_t reread_until = ptrace_now_ms() + EVENTS_REREAD_FOR_MS;

	if (fd < 0)
		return neg_errno();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		struct timespec step = { 0, EVENTS_REREAD_US * 1000L };
		char events[256];
		ssize_t n = pread(fd, events, sizeof(events) - 1, 0);
		uint64_t now;

		if (n < 0)
			return neg_errno();
		events[n] = '\0';
		if (strstr(events, key_value))
			return 0;
		now = ptrace_now_ms();
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		/* After the first 20 ms, a long wait (a task in D state): the notification. */
		if (now >= reread_until) {
			step.tv_sec = (deadline_ms - now) / 1000;
			step.tv_nsec = (long)((deadline_ms - now) % 1000) * 1000000L;
		}
		if (ppoll(&pfd, 1, &step, NULL) < 0 && errno != EINTR)
			return neg_errno();
	}
}

void session_cgroup_remove(struct session *s)
{
	if (s->cgroup_fd < 0)
		return;
	/*
	 * The computation has ended: its last processes may still be leaving.
	 * Otherwise (detach, a supervisor that gives up) it runs on in there,
	 * and the next run removes the cgroup once it is empty.
	 */
	if (s->root_gone)
		(void)wait_event(s->cgroup_fd, "populated 0",
				 ptrace_now_ms() + EMPTY_TIMEOUT_MS);
	closep(&s->cgroup_fd);
	if (rmdir(s->cgroup_path) < 0 && errno != ENOENT)
		log_info("cgroup: %s stays: %m (the next run removes it once empty)",
			 s->cgroup_path);
	free(s->cgroup_path);
	s->cgroup_path = NULL;
}

/*
 * The guard: waits on a pipe from the freezer.  A byte: thawed, nothing to
 * do.  EOF: the freezer died with the cgroup frozen; thaw it, or the program
 * would stand still for ever.  Its own session: a signal to the supervisor's
 * process group or terminal does not reach it.  It keeps no other fd.
 */
static void __attribute__((noreturn)) guard_main(int rd, int freeze_fd)
{
	int keep[] = { rd, freeze_fd };
	ssize_t n;
	char c;

	setsid();
	close_all_except(0, keep, ARRAY_SIZE(keep));
	do
		n = read(rd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		(void)!pwrite(freeze_fd, "0", 1, 0);
	_exit(0);
}

static int guard_start(struct cgroup_freeze *cf)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return neg_errno();
	pid = fork();
	if (pid < 0) {
		int r = neg_errno();

		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0)
		guard_main(p[0], cf->freeze_fd);
	close(p[0]);
	cf->guard = pid;
	cf->guard_fd = p[1];
	return 0;
}

static void guard_stop(struct cgroup_freeze *cf)
{
	if (cf->guard_fd >= 0 && write(cf->guard_fd, "t", 1) != 1)
		log_debug("cgroup freeze guard %d: %m", cf->guard);
	closep(&cf->guard_fd);
	if (cf->guard > 0)
		while (waitpid(cf->guard, NULL, 0) < 0 && errno == EINTR)
			;
	cf->guard = 0;
}

/* A fault test's knob: the cgroup stays frozen this long after the seize. */
static void hold_for_fault_test(void)
{
	const char *env = getenv("TRACE_CKPT_HOLD_FROZEN_MS");
	long ms = env ? strtol(env, NULL, 10) : 0;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	if (ms > 0)
		nanosleep(&ts, NULL);
}

int session_cgroup_freeze(struct session *s, struct cgroup_freeze *cf, int timeout_ms)
{
	int r;

	cf->guard = 0;
	cf->guard_fd = -1;
	cf->freeze_fd = -1;
	if (s->cgroup_fd < 0)
		return -ENOENT;
	cf->freeze_fd = openat(s->cgroup_fd, "cgroup.freeze", O_WRONLY | O_CLOEXEC);
	if (cf->freeze_fd < 0)
		return log_ret(neg_errno(), "%s/cgroup.freeze: %m", s->cgroup_path);
	/* The guard first: from the write below on, somebody must thaw it. */
	r = guard_start(cf);
	if (r < 0) {
		closep(&cf->freeze_fd);
		return log_ret(r, "cgroup freeze guard: fork: %s", strerror(-r));
	}
	if (pwrite(cf->freeze_fd, "1", 1, 0) != 1) {
		r = neg_errno();
		log_warn("%s/cgroup.freeze: %s", s->cgroup_path, strerror(-r));
	} else if (timeout_ms > 0) {
		r = wait_event(s->cgroup_fd, "frozen 1", ptrace_now_ms() + timeout_ms);
		if (r < 0)
			log_warn("%s: not frozen in %d ms: %s; freezing with ptrace alone",
				 s->cgroup_path, timeout_ms, strerror(-r));
	}
	if (r < 0)
		session_cgroup_thaw(s, cf);
	return r;
}

void session_cgroup_thaw(struct session *s, struct cgroup_freeze *cf)
{
	uint64_t before, cpu0, cpu1;

	if (cf->freeze_fd < 0)
		return;
	hold_for_fault_test();
	before = clock_ns(CLOCK_MONOTONIC);
	cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (pwrite(cf->freeze_fd, "0", 1, 0) != 1)
		log_warn("%s/cgroup.freeze: thawing: %m", s->cgroup_path);
	cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	/*
	 * The write wakes every task of the cgroup in one pass under the
	 * cgroup's lock; the first of them often take the CPU from us before
	 * the write returns, and we wait for the program to run a while.
	 * The program was let go once the write had done its work: its own
	 * CPU time, not the wall time until it returns.
	 */
	cf->thawed_ns = before + (cpu1 - cpu0);
	log_debug("cgroup thaw: the write took %llu us of CPU, returned after %llu us",
		  (unsigned long long)(cpu1 - cpu0) / 1000,
		  (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - before) / 1000);
	guard_stop(cf);
	closep(&cf->freeze_fd);
}
