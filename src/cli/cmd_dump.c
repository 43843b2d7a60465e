/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "trace-ckpt.h"
#include "util/macro.h"

int cmd_dump(int argc, char **argv)
{
	char abs[PATH_MAX], msg[2048];
	const char *dir = NULL;
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING;
	pid_t pid = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-D") || !strcmp(argv[i], "--dir")) && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--kill")) {
			mode = CTL_DUMP_KILL;
		} else if (!strcmp(argv[i], "--leave-running")) {
			mode = CTL_DUMP_LEAVE_RUNNING;
		} else if (argv[i][0] != '-' && !pid) {
			pid = atoi(argv[i]);
			if (pid <= 0) {
				fprintf(stderr, "trace-ckpt dump: bad pid %s\n", argv[i]);
				return 2;
			}
		} else {
			usage_of("dump", true);
			return 2;
		}
	}
	/* The supervisor has its own cwd: hand it an absolute path. */
	if (dir && dir[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return 1;
		snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
		dir = abs;
	}
	r = tc_dump(pid, dir, mode == CTL_DUMP_KILL ? TC_DUMP_KILL : TC_DUMP_LEAVE_RUNNING, msg,
		    sizeof(msg));
	if (r == -ESRCH && !msg[0]) {
		struct supervisor_info *v = NULL;
		size_t n = 0;

		if (client_list(&v, &n) == 0)
			client_pick_explain("dump", v, n, pid);
		client_list_free(v, n);
		return 1;
	}
	if (r < 0 && !msg[0])
		snprintf(msg, sizeof(msg), "the supervisor did not answer: %s", strerror(-r));
	fprintf(r < 0 ? stderr : stdout, "%s%s\n", r < 0 ? "trace-ckpt dump: " : "", msg);
	return r < 0 ? 1 : 0;
}
