/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checkpoints every few seconds, taken by the supervisor itself: a job
 * that is killed or loses its host goes on from the last one.  Each is a
 * dump into the session's directory that leaves the program running, the
 * image before it kept as DIR.1 and so on (session.keep).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "proto/ctlmsg.h"
#include "tracer/dump.h"
#include "tracer/periodic.h"
#include "tracer/session.h"
#include "util/log.h"
#include "util/macro.h"

int periodic_start(struct session *s, unsigned int interval_s, unsigned int keep)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = interval_s },
		.it_value = { .tv_sec = interval_s },
	};
	int fd;

	if (interval_s == 0 || keep == 0 || !s->default_dir)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return neg_errno();
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	closep(&s->periodic_fd);
	s->periodic_fd = fd;
	s->keep = keep - 1;
	return 0;
}

void periodic_fire(struct session *s)
{
	struct dump_request rq = { .mode = CTL_DUMP_LEAVE_RUNNING, .incremental = s->incremental,
				   .compress = s->compress };
	struct dump_result res;
	uint64_t expirations;

	/* Ticks missed while a dump ran are one checkpoint, not a burst of them. */
	if (read(s->periodic_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	if (s->root_gone)
		return;
	if (dump_computation(s, &rq, &res) < 0)
		log_warn("periodic checkpoint into %s failed: %s", s->default_dir, res.msg);
	else
		log_info("%s", res.msg);
}
