/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "util/macro.h"

int cmd_detach(int argc, char **argv)
{
	const struct supervisor_info *si;
	struct supervisor_info *v = NULL;
	struct tlv_buf req = { 0 };
	_cleanup_free_ uint8_t *reply = NULL;
	const struct tlv_attr *tb[CTL_A_MAX + 1];
	uint32_t err = 1;
	size_t n = 0, len;
	pid_t pid = 0;
	int r;

	if (argc > 2 || (argc == 2 && (pid = atoi(argv[1])) <= 0)) {
		usage_of("detach", true);
		return 2;
	}
	r = pid ? client_find(pid, &v, &n) : client_list(&v, &n);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt detach: %s\n", strerror(-r));
		return 1;
	}
	si = client_pick(v, n, pid);
	if (!si) {
		client_pick_explain("detach", v, n, pid);
		client_list_free(v, n);
		return 1;
	}
	tlv_put_u32(&req, CTL_A_CMD, CTL_CMD_DETACH);
	r = req.err ? req.err : client_request(si->path, &req, &reply, &len, 60000);
	tlv_buf_free(&req);
	client_list_free(v, n);
	if (r < 0 || tlv_parse(reply, len, tb, CTL_A_MAX) < 0 || !tb[CTL_A_ERR] ||
	    tlv_get_u32(tb[CTL_A_ERR], &err) < 0) {
		fprintf(stderr, "trace-ckpt detach: no answer from the supervisor\n");
		return 1;
	}
	if (err)
		fprintf(stderr, "trace-ckpt detach: %s\n",
			tb[CTL_A_MSG] ? (const char *)tlv_data(tb[CTL_A_MSG]) : strerror(err));
	return err ? 1 : 0;
}
