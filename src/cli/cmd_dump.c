/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "coord/channel.h"
#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "trace-ckpt.h"
#include "util/macro.h"

/* One consistent checkpoint of every host's part, run by the coordinator. */
static int dump_all_hosts(const char *coord, const char *secret, const char *dir, uint32_t mode)
{
	char addr[256], secret_path[PATH_MAX], msg[4096];
	struct channel ch;
	struct tlv_buf b = { 0 };
	int r;

	if (!dir) {
		fprintf(stderr, "trace-ckpt dump: --all-hosts needs -D DIR\n");
		return 2;
	}
	if (coord_resolve(coord, secret, addr, sizeof(addr), secret_path, sizeof(secret_path)) < 0 ||
	    coord_command(addr, secret_path, &ch) < 0)
		return 1;
	tlv_put_str(&b, WIRE_A_DIR, dir);
	tlv_put_u32(&b, WIRE_A_MODE, mode);
	r = channel_send(&ch, WIRE_CHECKPOINT, &b);
	tlv_buf_free(&b);
	if (r < 0)
		snprintf(msg, sizeof(msg), "the coordinator: %s", strerror(-r));
	else
		r = coord_result(&ch, 3600 * 1000, msg, sizeof(msg));
	channel_close(&ch);
	fprintf(r < 0 ? stderr : stdout, "%s%s\n", r < 0 ? "trace-ckpt dump: " : "", msg);
	return r < 0 ? 1 : 0;
}

int cmd_dump(int argc, char **argv)
{
	char abs[PATH_MAX], msg[16384];
	const char *dir = NULL, *coord = NULL, *secret = NULL;
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING;
	bool all_hosts = false;
	unsigned int flags = 0;
	pid_t pid = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-D") || !strcmp(argv[i], "--dir")) && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--kill")) {
			mode = CTL_DUMP_KILL;
		} else if (!strcmp(argv[i], "--leave-running")) {
			mode = CTL_DUMP_LEAVE_RUNNING;
		} else if (!strcmp(argv[i], "--incremental")) {
			flags |= TC_DUMP_F_INCREMENTAL;
		} else if (!strcmp(argv[i], "--compress")) {
			flags |= TC_DUMP_F_COMPRESS;
		} else if (!strcmp(argv[i], "--all-hosts")) {
			all_hosts = true;
		} else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
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
	if (all_hosts && flags) {
		fprintf(stderr, "trace-ckpt dump: --incremental and --compress are for one host's "
			"computation today; a checkpoint of several hosts stores everything as it is\n");
		return 2;
	}
	if (all_hosts)
		return dump_all_hosts(coord, secret, dir, mode);
	r = tc_dump_flags(pid, dir, mode == CTL_DUMP_KILL ? TC_DUMP_KILL : TC_DUMP_LEAVE_RUNNING,
			  flags, msg, sizeof(msg));
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
