/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "tracer/collect.h"

int collect_itimers(struct collect_ctx *cx, struct process_record *p)
{
	uint64_t scratch;
	int r;

	r = collect_remote_scratch(cx, cx->pid, sizeof(struct itimerval), &scratch);
	if (r < 0)
		return collect_fail(cx, r, "scratch memory");
	for (int which = 0; which < 3; which++) {
		struct itimerval it;
		long ret;

		r = collect_remote(cx, cx->pid, SYS_getitimer, which, scratch, 0, 0, &ret);
		if (r < 0 || ret < 0)
			return collect_fail(cx, r < 0 ? r : (int)ret, "itimer %d", which);
		r = collect_read_mem(cx, scratch, &it, sizeof(it));
		if (r < 0)
			return collect_fail(cx, r, "itimer %d", which);
		p->itimers[which].interval_us =
			it.it_interval.tv_sec * 1000000ull + it.it_interval.tv_usec;
		p->itimers[which].value_us = it.it_value.tv_sec * 1000000ull + it.it_value.tv_usec;
		/*
		 * A periodic ITIMER_REAL that fired while its SIGALRM is still
		 * pending reads as disarmed: the kernel re-arms it only when the
		 * signal is taken.  Restored as 0 it would stay disarmed for good;
		 * arm it one period ahead, as taking the signal would have.
		 */
		if (which == ITIMER_REAL && !p->itimers[which].value_us)
			p->itimers[which].value_us = p->itimers[which].interval_us;
	}
	return 0;
}
