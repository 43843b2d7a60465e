/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/imagekey.h"
#include "restorer/restore.h"
#include "restorer/tty.h"
#include "tracer/attach.h"
#include "tracer/control.h"
#include "tracer/coord_client.h"
#include "tracer/session.h"
#include "util/log.h"
#include "util/macro.h"

/*
 * Whoever can write an image decides what it runs: one made by someone else
 * is used only when the user says they trust its owner.
 */
static bool image_owner_refused(const char *dir)
{
	struct stat st;
	struct passwd *pw;

	if (stat(dir, &st) < 0) {
		fprintf(stderr, "trace-ckpt restore: %s: %m\n", dir);
		return true;
	}
	if (st.st_uid == geteuid() || st.st_uid == 0)
		return false;
	pw = getpwuid(st.st_uid);
	fprintf(stderr,
		"trace-ckpt restore: %s is owned by uid %u (%s), not by you: whoever wrote it "
		"chose what it runs; restore --trust-owner if you trust them\n",
		dir, st.st_uid, pw ? pw->pw_name : "?");
	return true;
}

int cmd_restore(int argc, char **argv)
{
	char dir[PATH_MAX], err[2048];
	const char *arg = NULL, *coord = NULL, *secret = NULL, *addr_map = NULL, *host_map = NULL,
		   *key_file = NULL;
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	char coord_addr[256], secret_path[PATH_MAX];
	bool all_hosts = false, detach = false, trust_owner = false;
	unsigned long long generation = 0;
	unsigned int flags = 0;
	struct timespec t0, t1;
	struct terminal_lease tl = { .fd = -1 };
	struct periodic_opts po = { 0 };
	struct session s;
	bool rootless;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = periodic_opt("restore", argc, argv, &i, &po)) != 0) {
			if (r < 0)
				return 2;
		} else if (!strcmp(argv[i], "--new-pidns")) {
			flags |= RESTORE_NEW_PIDNS;
		} else if (!strcmp(argv[i], "--generation") && i + 1 < argc) {
			char *end;

			generation = strtoull(argv[++i], &end, 10);
			if (*end || !generation) {
				fprintf(stderr, "trace-ckpt restore: --generation takes a number above 0\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--trust-owner")) {
			trust_owner = true;
		} else if (!strcmp(argv[i], "--ignore-changed-files")) {
			flags |= RESTORE_IGNORE_CHANGED_FILES;
		} else if (!strcmp(argv[i], "--lazy")) {
			flags |= RESTORE_LAZY;
		} else if (!strcmp(argv[i], "--detach")) {
			detach = true;
		} else if (!strcmp(argv[i], "--all-hosts")) {
			all_hosts = true;
		} else if (!strcmp(argv[i], "--host-map") && i + 1 < argc) {
			host_map = argv[++i];
		} else if (!strcmp(argv[i], "--addr-map") && i + 1 < argc) {
			addr_map = argv[++i];
		} else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
		} else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			key_file = argv[++i];
		} else if (argv[i][0] != '-' && !arg) {
			arg = argv[i];
		} else {
			usage_of("restore", true);
			return 2;
		}
	}
	if (!arg) {
		usage_of("restore", true);
		return 2;
	}
	if (!realpath(arg, dir)) {
		fprintf(stderr, "trace-ckpt restore: %s: %m\n", arg);
		return 1;
	}
	if (!trust_owner && image_owner_refused(dir))
		return 1;
	if (detach && (all_hosts || coord || po.interval_s)) {
		fprintf(stderr, "trace-ckpt restore: --detach leaves nobody to take checkpoints or to answer a coordinator\n");
		return 2;
	}
	if (all_hosts && (po.interval_s || po.keep)) {
		fprintf(stderr, "trace-ckpt restore: with --all-hosts, the coordinator takes the checkpoints: trace-ckpt coordinator --interval\n");
		return 2;
	}
	if (all_hosts && key_file) {
		fprintf(stderr, "trace-ckpt restore: --all-hosts: the computation's secret is the key (--secret)\n");
		return 2;
	}
	if ((all_hosts || detach) && (flags & RESTORE_LAZY)) {
		fprintf(stderr, "trace-ckpt restore: --lazy needs this restore to stay and serve "
			"the pages%s\n", all_hosts ? "; with --all-hosts it is not done yet" : "");
		return 2;
	}
	if (all_hosts && (flags & RESTORE_IGNORE_CHANGED_FILES)) {
		/* Not passed on to the hosts' parts yet: refused rather than dropped. */
		fprintf(stderr, "trace-ckpt restore: --ignore-changed-files does not go with --all-hosts yet (the changed files must be put back as they were)\n");
		return 2;
	}
	if (all_hosts)
		return restore_all_hosts(dir, generation, coord, secret, host_map);
	if (generation) {
		fprintf(stderr, "trace-ckpt restore: --generation picks one of the generations a coordinator kept (--all-hosts)\n");
		return 2;
	}
	if (host_map) {
		fprintf(stderr, "trace-ckpt restore: --host-map goes with --all-hosts (one host: --addr-map OLD=NEW)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A host's part of a checkpoint of several hosts is checked with the computation's secret. */
	if (coord && coord_resolve(coord, secret, coord_addr, sizeof(coord_addr), secret_path,
				   sizeof(secret_path)) < 0)
		return 1;
	if (cli_image_key("restore", key_file, coord ? secret_path : NULL, &key) < 0)
		return 1;
	if (enter_rootless_namespace("restore", &rootless) < 0)
		return 1;
	/* Pids are ours to choose only in a pid namespace our user namespace owns. */
	if (rootless)
		flags |= RESTORE_NEW_PIDNS;
	r = session_init(&s, dir, "");
	if (r < 0) {
		log_err("cannot start the supervisor: %s", strerror(-r));
		return 1;
	}
	s.addr_map = addr_map;
	if (coord && coord_join(&s, coord_addr, secret_path, true) < 0) {
		session_done(&s);
		return 1;
	}
	if (periodic_apply(&s, &po, "restore") < 0) {
		session_done(&s);
		return 2;
	}
	r = restore_computation(&s, dir, &key, flags, &tl, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "trace-ckpt restore: %s\n", err);
		session_done(&s);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "restore: ready in %.1f ms\n",
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	terminal_lease_started(&tl);
	if (detach) {
		/* The program goes on alone, as after trace-ckpt detach. */
		r = session_detach(&s);
		terminal_lease_return(&tl);
		session_done(&s);
		return r < 0 ? 1 : 0;
	}
	r = control_listen(&s);
	if (r < 0)
		log_warn("no control socket, dumps are not possible: %s", strerror(-r));
	r = session_loop(&s);
	if (r < 0)
		log_err("supervisor: %s", strerror(-r));
	terminal_lease_return(&tl);
	r = session_exit_code(&s);
	session_done(&s);
	return r;
}
