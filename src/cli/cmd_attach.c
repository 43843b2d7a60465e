/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tracer/attach.h"
#include "tracer/control.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

static char *cmdline_of(pid_t pid)
{
	char path[64];
	char *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (read_file_at(AT_FDCWD, path, &buf, &len) < 0)
		return strdup("?");
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return buf;
}

/*
 * With file capabilities the kernel's own check is not enough to rely on:
 * only the invoking user's processes are taken, by their real uid.
 */
static bool not_the_users(pid_t pid)
{
	char path[64], line[256];
	unsigned int ruid = 0;
	bool found = false;
	FILE *f;

	if (privilege_mode() != PRIV_FILECAPS)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &ruid) == 1) {
			found = true;
			break;
		}
	if (f)
		fclose(f);
	if (found && ruid == getuid())
		return false;
	if (found)
		fprintf(stderr, "trace-ckpt attach: pid %d belongs to uid %u; you are uid %u\n", pid,
			ruid, getuid());
	else
		fprintf(stderr, "trace-ckpt attach: pid %d: no such process\n", pid);
	return true;
}

int cmd_attach(int argc, char **argv)
{
	char defdir[PATH_MAX], cwd[PATH_MAX];
	_cleanup_free_ char *cmdline = NULL;
	const char *dir = NULL;
	struct periodic_opts po = { 0 };
	struct session s;
	size_t nr_threads = 0;
	pid_t pid = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = periodic_opt("attach", argc, argv, &i, &po)) != 0) {
			if (r < 0)
				return 2;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (argv[i][0] != '-' && !pid)
			pid = atoi(argv[i]);
		else {
			usage_of("attach", true);
			return 2;
		}
	}
	if (pid <= 0) {
		usage_of("attach", true);
		return 2;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	if (!dir)
		snprintf(defdir, sizeof(defdir), "%s/trace-ckpt.%d", cwd, pid);
	else if (dir[0] != '/')
		snprintf(defdir, sizeof(defdir), "%s/%s", cwd, dir);
	else
		snprintf(defdir, sizeof(defdir), "%s", dir);
	if (not_the_users(pid))
		return 1;
	cmdline = cmdline_of(pid);
	r = session_init(&s, defdir, cmdline);
	if (r < 0) {
		log_err("cannot start the supervisor: %s", strerror(-r));
		return 1;
	}
	if (periodic_apply(&s, &po, "attach") < 0) {
		session_done(&s);
		return 2;
	}
	r = session_attach(&s, pid, &nr_threads);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt attach: pid %d: %s\n", pid, strerror(-r));
		session_done(&s);
		return 1;
	}
	r = control_listen(&s);
	if (r < 0)
		log_warn("no control socket, dumps are not possible: %s", strerror(-r));
	fprintf(stderr, "attach: supervising pid %d (%zu threads)\n", pid, nr_threads);
	r = session_loop(&s);
	if (r < 0)
		log_err("supervisor: %s", strerror(-r));
	r = s.quit ? 0 : session_exit_code(&s);
	session_done(&s);
	return r;
}
