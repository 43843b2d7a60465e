/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "proto/ctlmsg.h"
#include "proto/tlv.h"
#include "trace-ckpt.h"
#include "util/macro.h"

int tc_dump(pid_t pid, const char *dir, enum tc_dump_mode mode, char *msg, size_t msglen)
{
	return tc_dump_flags(pid, dir, mode, 0, msg, msglen);
}

int tc_dump_flags(pid_t pid, const char *dir, enum tc_dump_mode mode, unsigned int flags,
		  char *msg, size_t msglen)
{
	const struct supervisor_info *si;
	struct supervisor_info *v = NULL;
	struct tlv_buf req = { 0 };
	_cleanup_free_ uint8_t *reply = NULL;
	const struct tlv_attr *tb[CTL_A_MAX + 1];
	uint32_t err = EIO;
	size_t n = 0, len;
	int r;

	if (msg && msglen)
		msg[0] = '\0';
	r = pid ? client_find(pid, &v, &n) : client_list(&v, &n);
	if (r < 0)
		return r;
	si = client_pick(v, n, pid);
	if (!si) {
		client_list_free(v, n);
		return -ESRCH;
	}
	tlv_put_u32(&req, CTL_A_CMD, CTL_CMD_DUMP);
	tlv_put_u32(&req, CTL_A_MODE, mode == TC_DUMP_KILL    ? CTL_DUMP_KILL
				      : mode == TC_DUMP_CHECK ? CTL_DUMP_CHECK
							      : CTL_DUMP_LEAVE_RUNNING);
	if (dir)
		tlv_put_str(&req, CTL_A_DIR, dir);
	if (flags)
		tlv_put_u32(&req, CTL_A_FLAGS,
			    ((flags & TC_DUMP_F_INCREMENTAL) ? CTL_DUMP_F_INCREMENTAL : 0) |
			    ((flags & TC_DUMP_F_COMPRESS) ? CTL_DUMP_F_COMPRESS : 0));
	r = req.err ? req.err : client_request(si->path, &req, &reply, &len, 3600 * 1000);
	tlv_buf_free(&req);
	client_list_free(v, n);
	if (r < 0)
		return r;
	if (tlv_parse(reply, len, tb, CTL_A_MAX) < 0 || !tb[CTL_A_ERR] ||
	    tlv_get_u32(tb[CTL_A_ERR], &err) < 0)
		return -EBADMSG;
	if (msg && msglen && tb[CTL_A_MSG])
		snprintf(msg, msglen, "%.*s", (int)tlv_len(tb[CTL_A_MSG]),
			 (const char *)tlv_data(tb[CTL_A_MSG]));
	return -(int)err;
}
