/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/image_tmp.h"
#include "tracer/control.h"
#include "tracer/session.h"
#include "tracer/coord_client.h"
#include "tracer/spawn.h"
#include "util/log.h"

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

int cmd_run(int argc, char **argv)
{
	char defdir[PATH_MAX], cwd[PATH_MAX];
	const char *dir = NULL, *coord = NULL, *secret = NULL;
	char coord_addr[256], secret_path[PATH_MAX];
	struct periodic_opts po = { 0 };
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
	if (!dir) {
		if (!getcwd(cwd, sizeof(cwd)))
			return 1;
		snprintf(defdir, sizeof(defdir), "%s/trace-ckpt.%d", cwd, getpid());
		dir = defdir;
	} else if (dir[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(defdir, sizeof(defdir), "%s/%s", cwd, dir);
		dir = defdir;
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
	r = control_listen(&s);
	if (r < 0)
		log_warn("no control socket, dumps are not possible: %s", strerror(-r));
	/* Part of a computation on several hosts: nothing starts unless it can join. */
	if (coord && (coord_resolve(coord, secret, coord_addr, sizeof(coord_addr), secret_path,
				    sizeof(secret_path)) < 0 ||
		      coord_join(&s, coord_addr, secret_path, false) < 0)) {
		session_done(&s);
		return 1;
	}
	if (periodic_apply(&s, &po, "run") < 0) {
		session_done(&s);
		return 2;
	}
	r = session_spawn(&s, argv + i);
	if (r < 0) {
		log_err("cannot run %s: %s", argv[i], strerror(-r));
		session_done(&s);
		return 127;
	}
	r = session_loop(&s);
	if (r < 0)
		log_err("supervisor: %s", strerror(-r));
	r = session_exit_code(&s);
	session_done(&s);
	return r;
}
