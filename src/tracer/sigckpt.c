/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "proto/ctlmsg.h"
#include "tracer/session.h"
#include "tracer/sigckpt.h"
#include "util/log.h"
#include "util/macro.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sigckpt_hold(int signo)
{
	sigset_t add;

	sigemptyset(&add);
	sigaddset(&add, signo);
	return sigprocmask(SIG_BLOCK, &add, NULL) < 0 ? neg_errno() : 0;
}

int sigckpt_start(struct session *s, struct sigckpt *k, int signo)
{
	sigset_t add, mask;

	memset(k, 0, sizeof(*k));
	k->signo = signo;
	/*
	 * The signalfd reads what is blocked, and what the session blocked is
	 * what its signalfd reads: one more of each.  The program's mask is
	 * its own (spawn and the restorer set it).
	 */
	sigemptyset(&add);
	sigaddset(&add, signo);
	if (sigprocmask(SIG_BLOCK, &add, &mask) < 0)
		return neg_errno();
	sigaddset(&mask, signo);
	if (signalfd(s->signal_fd, &mask, 0) < 0)
		return neg_errno();
	s->sigckpt = k;
	return 0;
}

bool sigckpt_note(struct session *s, int signo)
{
	struct sigckpt *k = s->sigckpt;

	if (!k || signo != k->signo)
		return false;
	/* A second one while the first is handled, or after it, is the same request. */
	if (!k->pending && !k->done) {
		k->pending = true;
		k->t_signal_ns = mono_ns();
	}
	return true;
}

void sigckpt_fire(struct session *s)
{
	struct dump_request rq = { .mode = CTL_DUMP_KILL, .incremental = s->incremental,
				   .compress = s->compress };
	struct sigckpt *k = s->sigckpt;

	if (!k || !k->pending)
		return;
	k->pending = false;
	if (s->root_gone)
		return;
	if (dump_computation(s, &rq, &k->res) < 0) {
		/* The previous image, if any, is still the one to go on from. */
		log_err("checkpoint at SIG%s failed, the program runs on: %s",
			sigabbrev_np(k->signo), k->res.msg);
		return;
	}
	k->done = true;
	k->signal_to_done_ns = mono_ns() - k->t_signal_ns;
}
