/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * run --checkpoint-on SIG: when the supervisor gets SIG, it checkpoints the
 * whole computation into the session's directory and ends it (dump --kill),
 * so that a batch job can stop at its time limit and go on where it stopped
 * after a requeue.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tracer/dump.h"

struct session;

struct sigckpt {
	int signo;
	bool pending;		/* it came: taken once the waits that came with it are handled */
	bool done;		/* the image is written and the computation killed */
	uint64_t t_signal_ns;	/* CLOCK_MONOTONIC when it was read */
	uint64_t signal_to_done_ns;
	struct dump_result res;
};

/*
 * Before the session exists: from now on signo waits (blocked) instead of
 * ending the process, so one sent while a resume is being set up is not lost.
 */
int sigckpt_hold(int signo);
/* Catch signo from now on (it joins the session's signalfd).  0 or -errno. */
int sigckpt_start(struct session *s, struct sigckpt *k, int signo);
/* A signal read from the signalfd: true when it is the one we checkpoint on. */
bool sigckpt_note(struct session *s, int signo);
/* The loop's turn: take the checkpoint if the signal came. */
void sigckpt_fire(struct session *s);
