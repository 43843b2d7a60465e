/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * procfds: fds held open on the program's own /proc files, across dumps.
 *
 *   - /proc/self/status (close-on-exec): each tick its Pid and Name must be
 *     this process's;
 *   - /proc/thread-self/stat opened by a second thread and kept (the path is
 *     /proc/PID/task/TID/stat, a thread that exists only once the stub has
 *     made it): its first field must be that thread's tid;
 *   - /proc/self/task/TID/comm of that thread and a dup of it: they share
 *     one offset, and read the thread's name;
 *   - /proc/self/cmdline with its offset left at 1;
 *   - /proc/self/mountinfo watched by an epoll fd: fdinfo must list the watch.
 *
 * A file of another process, a lost offset or flag, or a lost watch end in BAD.
 *
 *   procfds [-n TARGET] [-i INTERVAL_MS]
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "tc_test.h"

#define WORKER_NAME "procfds-w"

struct worker {
	pid_t tid;
	int stat_fd;
	int ready;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_setname_np(pthread_self(), WORKER_NAME);
	pthread_mutex_lock(&w->lock);
	w->tid = (pid_t)syscall(SYS_gettid);
	w->stat_fd = open("/proc/thread-self/stat", O_RDONLY);
	w->ready = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (;;)
		pause();
	return NULL;
}

/* The whole of fd's file from offset 0, NUL-terminated. */
static void pread_all(int fd, char *buf, size_t size, const char *what, long tick)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	if (n < 0)
		tc_bad("tick %ld: reading %s (fd %d): %s", tick, what, fd, strerror(errno));
	buf[n] = '\0';
}

static long field_after(const char *text, const char *key)
{
	const char *s = strstr(text, key);

	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

static void check_status(int fd, long tick)
{
	char buf[8192];

	pread_all(fd, buf, sizeof(buf), "/proc/self/status", tick);
	if (field_after(buf, "\nPid:\t") != getpid())
		tc_bad("tick %ld: /proc/self/status fd says Pid %ld, we are %d", tick,
		       field_after(buf, "\nPid:\t"), getpid());
	if (strncmp(buf, "Name:\ttc-procfds\n", 17))
		tc_bad("tick %ld: /proc/self/status fd names another: %.30s", tick, buf);
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		tc_bad("tick %ld: /proc/self/status fd lost FD_CLOEXEC", tick);
}

static void check_thread(const struct worker *w, int comm_fd, int comm_dup, long tick)
{
	char buf[1024];
	off_t at;
	ssize_t n;

	pread_all(w->stat_fd, buf, sizeof(buf), "the thread's stat", tick);
	if (strtol(buf, NULL, 10) != w->tid || !strstr(buf, "(" WORKER_NAME ")"))
		tc_bad("tick %ld: thread-self stat fd is not thread %d's: %.40s", tick, w->tid,
		       buf);
	if (fcntl(w->stat_fd, F_GETFD) & FD_CLOEXEC)
		tc_bad("tick %ld: thread-self stat fd gained FD_CLOEXEC", tick);

	/* One description: what one fd reads moves the other's offset. */
	if (lseek(comm_fd, 0, SEEK_SET) != 0)
		tc_bad("tick %ld: lseek comm: %s", tick, strerror(errno));
	n = read(comm_fd, buf, 4);
	if (n != 4 || memcmp(buf, WORKER_NAME, 4))
		tc_bad("tick %ld: comm fd read %zd bytes: %.4s", tick, n, buf);
	at = lseek(comm_dup, 0, SEEK_CUR);
	if (at != 4)
		tc_bad("tick %ld: comm's dup is at %lld after 4 bytes read by the other fd", tick,
		       (long long)at);
	n = read(comm_dup, buf, sizeof(buf) - 1);
	if (n < 0)
		tc_bad("tick %ld: comm dup read: %s", tick, strerror(errno));
	buf[n] = '\0';
	if (strcmp(buf, &(WORKER_NAME "\n")[4]))
		tc_bad("tick %ld: comm dup read '%s' after the first 4 bytes", tick, buf);
}

static void check_watch(int ep, int watched, long tick)
{
	char path[64], buf[4096], want[32];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	tc_read_file(path, buf, sizeof(buf));
	snprintf(want, sizeof(want), "tfd: %8d", watched);
	if (!strstr(buf, want))
		tc_bad("tick %ld: epoll fd %d no longer watches fd %d (mountinfo)", tick, ep,
		       watched);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct worker w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct epoll_event ev = { .events = EPOLLPRI | EPOLLERR, .data.u64 = 7 };
	int c, status_fd, comm_fd, comm_dup, cmd_fd, mounts_fd, ep;
	char path[64], one;
	pthread_t th;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("procfds");
	if (pthread_create(&th, NULL, worker_main, &w))
		tc_bad("pthread_create failed");
	pthread_mutex_lock(&w.lock);
	while (!w.ready)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	if (w.stat_fd < 0)
		tc_bad("/proc/thread-self/stat: %s", strerror(errno));

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", w.tid);
	status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	comm_fd = open(path, O_RDONLY);
	comm_dup = dup(comm_fd);
	cmd_fd = open("/proc/self/cmdline", O_RDONLY);
	mounts_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (status_fd < 0 || comm_fd < 0 || comm_dup < 0 || cmd_fd < 0 || mounts_fd < 0 || ep < 0)
		tc_bad("opening the /proc files: %s", strerror(errno));
	if (read(cmd_fd, &one, 1) != 1)
		tc_bad("reading /proc/self/cmdline: %s", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, mounts_fd, &ev) < 0)
		tc_bad("epoll_ctl on mountinfo: %s", strerror(errno));
	tc_ready();

	for (long n = 1; n <= o.target; n++) {
		check_status(status_fd, n);
		check_thread(&w, comm_fd, comm_dup, n);
		if (lseek(cmd_fd, 0, SEEK_CUR) != 1)
			tc_bad("tick %ld: /proc/self/cmdline fd is at %lld, left at 1", n,
			       (long long)lseek(cmd_fd, 0, SEEK_CUR));
		check_watch(ep, mounts_fd, n);
		tc_proc_check();
		tc_sleep_ms(o.interval_ms, 0);
		tc_tick(n);
	}
	tc_pass();
}
