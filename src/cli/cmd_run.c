/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_job.h"
#include "proto/image_tmp.h"
#include "proto/imagekey.h"
#include "restorer/restore.h"
#include "restorer/tty.h"
#include "tracer/control.h"
#include "tracer/session.h"
#include "tracer/coord_client.h"
#include "tracer/sigckpt.h"
#include "tracer/spawn.h"
#include "util/log.h"
#include "util/macro.h"

static char *join_args(char **argv)
{
	size_t len = 1;
	char *s;

	for (char **a = argv; *a; a++)
		len += strlen(*a) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (char **a = argv; *a; a++) {
		if (a != argv)
			strcat(s, " ");
		strcat(s, *a);
	}
	return s;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* --resume found a checkpoint: it becomes the session's computation instead of CMD. */
static int resume_computation(struct session *s, const char *dir, const struct image_key *key,
			      bool rootless, uint64_t generation, struct terminal_lease *tl)
{
	char err[2048];
	struct timespec t0;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Pids are ours to choose only in a pid namespace our user namespace owns. */
	r = restore_computation(s, dir, key, rootless ? RESTORE_NEW_PIDNS : 0, tl, NULL, err,
				sizeof(err));
	if (r < 0) {
		fprintf(stderr, "trace-ckpt run: --resume: restoring %s: %s\n", dir, err);
		return r;
	}
	fprintf(stderr, "trace-ckpt run: resumed from %s (generation %llu) in %.1f ms\n", dir,
		(unsigned long long)generation, ms_since(&t0));
	if (tl)
		terminal_lease_started(tl);
	return 0;
}

/* After the checkpoint at the signal: say so, requeue if asked; the exit status. */
static int after_signal_checkpoint(const struct sigckpt *k, const struct job_opts *jo)
{
	fprintf(stderr, "trace-ckpt run: SIG%s: %s; signal to checkpoint written %.1f ms; "
		"the program is stopped\n", sigabbrev_np(k->signo), k->res.msg,
		k->signal_to_done_ns / 1e6);
	if (jo->requeue) {
		if (job_requeue() < 0)
			return 1;
		fprintf(stderr, "trace-ckpt run: job %s requeued\n", getenv("SLURM_JOB_ID"));
	}
	/* What a shell reports for a program that the signal ended. */
	return 128 + k->signo;
}

int cmd_run(int argc, char **argv)
{
	char defdir[PATH_MAX], cwd[PATH_MAX];
	const char *dir = NULL, *coord = NULL, *secret = NULL;
	char coord_addr[256], secret_path[PATH_MAX];
	struct periodic_opts po = { 0 };
	struct job_opts jo = { 0 };
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	struct terminal_lease tl = { .fd = -1 };
	struct sigckpt sk = { 0 };
	uint64_t resume_gen = 0;
	struct job_part part = { 0 };
	bool resuming = false;
	struct session s;
	bool rootless;
	char *cmdline;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if ((r = periodic_opt("run", argc, argv, &i, &po)) != 0) {
			if (r < 0)
				return 2;
		} else if ((r = job_opt(argc, argv, &i, &jo)) != 0) {
			if (r < 0)
				return 2;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "trace-ckpt run: unknown option %s\n", argv[i]);
			usage_of("run", true);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		usage_of("run", true);
		return 2;
	}
	if (job_opts_check(&jo, dir != NULL, coord != NULL) < 0)
		return 2;
	if (jo.signo && sigckpt_hold(jo.signo) < 0)
		return 1;
	if (!dir) {
		if (!getcwd(cwd, sizeof(cwd)))
			return 1;
		snprintf(defdir, sizeof(defdir), "%s/trace-ckpt.%d", cwd, getpid());
		dir = defdir;
	} else if (dir[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(defdir, sizeof(defdir), "%s/%s", cwd, dir);
		dir = defdir;
	}
	if (coord && coord_resolve(coord, secret, coord_addr, sizeof(coord_addr), secret_path,
				   sizeof(secret_path)) < 0)
		return 1;
	/*
	 * Before the namespaces: a bad checkpoint is refused with nothing set
	 * up.  A job's part of a checkpoint of several hosts is checked with
	 * the computation's secret.
	 */
	if (jo.resume) {
		if (cli_image_key("run", NULL, coord ? secret_path : NULL, &key) < 0)
			return 1;
		r = job_find_checkpoint(dir, &key, &resume_gen, coord ? &part : NULL, jo.fetch_from);
		if (r < 0)
			return 1;
		resuming = r > 0;
	}
	/* First, while we are one thread: the namespaces are made from there. */
	if (enter_rootless_namespace("run", &rootless) < 0)
		return 1;
	/* A dump of an earlier run killed while writing here left its directory. */
	image_tmp_sweep(dir);
	cmdline = join_args(argv + i);
	r = session_init(&s, dir, cmdline);
	free(cmdline);
	if (r < 0) {
		log_err("cannot start the supervisor: %s", strerror(-r));
		return 1;
	}
	if (jo.signo && (r = sigckpt_start(&s, &sk, jo.signo)) < 0) {
		log_err("cannot catch SIG%s: %s", sigabbrev_np(jo.signo), strerror(-r));
		session_done(&s);
		return 1;
	}
	r = control_listen(&s);
	if (r < 0)
		log_warn("no control socket, dumps are not possible: %s", strerror(-r));
	/*
	 * Part of a computation on several hosts: nothing starts unless it can
	 * join.  A part the job restores joins with where its host was, and
	 * learns where every other went once all have joined.
	 */
	if (coord && resuming) {
		s.part_old_addr = part.old_addr;
		s.part_count = part.count;
	}
	if (coord && coord_join(&s, coord_addr, secret_path, resuming) < 0) {
		session_done(&s);
		return 1;
	}
	if (periodic_apply(&s, &po, "run") < 0) {
		session_done(&s);
		return 2;
	}
	if (resuming) {
		if (resume_computation(&s, coord ? part.dir : dir, &key, rootless, resume_gen,
				       &tl) < 0) {
			session_done(&s);
			return 1;
		}
		r = 0;
	} else {
		r = session_spawn(&s, argv + i);
	}
	if (r < 0) {
		log_err("cannot run %s: %s", argv[i], strerror(-r));
		session_done(&s);
		return 127;
	}
	r = session_loop(&s);
	if (r < 0)
		log_err("supervisor: %s", strerror(-r));
	terminal_lease_return(&tl);
	r = session_exit_code(&s);
	session_done(&s);
	if (jo.signo && sk.done)
		r = after_signal_checkpoint(&sk, &jo);
	return r;
}
