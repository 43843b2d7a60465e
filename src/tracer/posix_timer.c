/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of POSIX timers: /proc/PID/timers names them, their clock and
 * how they notify; only the process can say how much time is left
 * (a remote timer_gettime).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "tracer/collect.h"
#include "tracer/pidns.h"
#include "tracer/procfs.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/macro.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

int parse_proc_timers(const char *buf, struct posix_timer_record **out, size_t *nr)
{
	struct posix_timer_record *v = NULL, *t = NULL;
	size_t n = 0;

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char how[16], who[8];
		int id, signo, pid, clock;
		unsigned long long val;

		if (sscanf(p, "ID: %d", &id) == 1) {
			struct posix_timer_record *g = realloc(v, (n + 1) * sizeof(*v));

			if (!g) {
				free(v);
				return -ENOMEM;
			}
			v = g;
			t = &v[n++];
			memset(t, 0, sizeof(*t));
			t->id = id;
		} else if (!t) {
			continue;
		} else if (sscanf(p, "signal: %d/%llx", &signo, &val) == 2) {
			t->signo = signo;
			t->sigval = val;
		} else if (sscanf(p, "notify: %15[a-z]/%7[a-z].%d", how, who, &pid) == 3) {
			t->notify = !strcmp(how, "none") ? SIGEV_NONE :
				    !strcmp(how, "thread") ? SIGEV_THREAD : SIGEV_SIGNAL;
			if (!strcmp(who, "tid"))
				t->notify |= SIGEV_THREAD_ID;
			t->notify_tid = pid;
		} else if (sscanf(p, "ClockID: %d", &clock) == 1) {
			t->clock = clock;
		}
	}
	*out = v;
	*nr = n;
	return 0;
}

int collect_posix_timers(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *buf = NULL;
	struct posix_timer_record *v = NULL;
	char path[64];
	uint64_t scratch;
	size_t n = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/timers", cx->pid);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	r = parse_proc_timers(buf, &v, &n);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	if (!n)
		return 0;
	p->posix_timers = (uint8_t *)v;
	p->posix_timers_len = n * sizeof(*v);
	r = collect_remote_scratch(cx, cx->pid, sizeof(struct itimerspec), &scratch);
	if (r < 0)
		return collect_fail(cx, r, "scratch memory");
	for (size_t i = 0; i < n; i++) {
		struct itimerspec its;
		long ret;

		r = collect_remote(cx, cx->pid, SYS_timer_gettime, v[i].id, scratch, 0, 0, &ret);
		if (r == 0 && ret < 0)
			r = (int)ret;
		if (r == 0)
			r = collect_read_mem(cx, scratch, &its, sizeof(its));
		if (r < 0)
			return collect_fail(cx, r, "POSIX timer %d", v[i].id);
		v[i].value_ns = its.it_value.tv_sec * 1000000000ull + its.it_value.tv_nsec;
		v[i].interval_ns = its.it_interval.tv_sec * 1000000000ull + its.it_interval.tv_nsec;
		/* The thread to signal, as the program names it. */
		if ((v[i].notify & SIGEV_THREAD_ID) && cx->s->init_pid &&
		    pidns_inner_pid(v[i].notify_tid, &v[i].notify_tid) < 0)
			return collect_fail(cx, -ESRCH, "POSIX timer %d: thread %d", v[i].id,
					    v[i].notify_tid);
	}
	return 0;
}
