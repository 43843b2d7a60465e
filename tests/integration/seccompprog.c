/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccompprog: two seccomp filters (no_new_privs set first): one makes
 * getpriority() fail with errno 42, the other getpgid() with errno 43.
 * Every tick, in two threads, both calls must fail exactly so, no_new_privs
 * must be set and /proc/self/status must count two filters: a restore that
 * drops or reorders them is BAD.
 *
 *   seccompprog [-n TARGET] [-i INTERVAL_MS]
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "tc_test.h"

static void deny(long nr, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned int)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		tc_bad("seccomp: %s", strerror(errno));
}

static void check_filters(const char *who)
{
	char status[4096];
	const char *p;

	errno = 0;
	if (syscall(SYS_getpriority, 0, 0) != -1 || errno != 42)
		tc_bad("%s: getpriority was not refused with errno 42 (%d)", who, errno);
	errno = 0;
	if (syscall(SYS_getpgid, 0) != -1 || errno != 43)
		tc_bad("%s: getpgid was not refused with errno 43 (%d)", who, errno);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		tc_bad("%s: no_new_privs is not set", who);
	status[tc_read_file("/proc/thread-self/status", status, sizeof(status) - 1)] = '\0';
	p = strstr(status, "Seccomp_filters:");
	if (!p || atoi(p + 16) != 2)
		tc_bad("%s: %d seccomp filters, expected 2", who, p ? atoi(p + 16) : -1);
}

static volatile long worker_ticks;

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		check_filters("thread");
		worker_ticks++;
		tc_sleep_ms(5, 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	pthread_t t;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1)
		if (!tc_common_opt(c, optarg, &o)) {
			fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
			return 2;
		}
	tc_proc_init("seccompprog");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		tc_bad("no_new_privs: %s", strerror(errno));
	deny(SYS_getpriority, 42);
	deny(SYS_getpgid, 43);
	if (pthread_create(&t, NULL, worker, NULL))
		tc_bad("pthread_create");
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		check_filters("main");
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
