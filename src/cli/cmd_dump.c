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
#include "util/macro.h"

int cmd_dump(int argc, char **argv)
{
	const struct supervisor_info *si;
	struct supervisor_info *v = NULL;
	struct tlv_buf req = { 0 };
	_cleanup_free_ uint8_t *reply = NULL;
	const struct tlv_attr *tb[CTL_A_MAX + 1];
	char abs[PATH_MAX];
	const char *dir = NULL;
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING, err = EIO;
	size_t n = 0, len;
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
	r = pid ? client_find(pid, &v, &n) : client_list(&v, &n);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt dump: %s\n", strerror(-r));
		return 1;
	}
	si = client_pick(v, n, pid);
	if (!si) {
		client_pick_explain("dump", v, n, pid);
		client_list_free(v, n);
		return 1;
	}
	tlv_put_u32(&req, CTL_A_CMD, CTL_CMD_DUMP);
	tlv_put_u32(&req, CTL_A_MODE, mode);
	if (dir)
		tlv_put_str(&req, CTL_A_DIR, dir);
	r = req.err ? req.err : client_request(si->path, &req, &reply, &len, 3600 * 1000);
	tlv_buf_free(&req);
	client_list_free(v, n);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt dump: the supervisor did not answer: %s\n", strerror(-r));
		return 1;
	}
	if (tlv_parse(reply, len, tb, CTL_A_MAX) < 0 || !tb[CTL_A_ERR] ||
	    tlv_get_u32(tb[CTL_A_ERR], &err) < 0) {
		fprintf(stderr, "trace-ckpt dump: malformed reply\n");
		return 1;
	}
	if (tb[CTL_A_MSG])
		fprintf(err ? stderr : stdout, "%s%s\n", err ? "trace-ckpt dump: " : "",
			(const char *)tlv_data(tb[CTL_A_MSG]));
	return err ? 1 : 0;
}
