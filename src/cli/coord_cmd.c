/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands share to talk to a coordinator. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "coord/channel.h"
#include "tracer/coord_client.h"
#include "util/macro.h"

int coord_resolve(const char *opt_addr, const char *opt_secret, char *addr, size_t addrlen,
		  char *secret, size_t secretlen)
{
	const char *a = opt_addr ? opt_addr : getenv("TRACE_CKPT_COORDINATOR");
	const char *sp = opt_secret ? opt_secret : getenv("TRACE_CKPT_SECRET");

	if (!a || !*a) {
		fprintf(stderr, "trace-ckpt: which coordinator? --coordinator HOST:PORT "
				"(or TRACE_CKPT_COORDINATOR)\n");
		return -EINVAL;
	}
	if ((size_t)snprintf(addr, addrlen, "%s", a) >= addrlen)
		return -ENAMETOOLONG;
	if (sp && *sp)
		return (size_t)snprintf(secret, secretlen, "%s", sp) >= secretlen ? -ENAMETOOLONG : 0;
	return coord_default_secret(addr, secret, secretlen);
}

int coord_command(const char *addr, const char *secret_path, struct channel *ch)
{
	uint8_t secret[SECRET_LEN];
	struct tlv_buf b = { 0 };
	int r = secret_load(secret_path, secret);

	if (r < 0) {
		fprintf(stderr, "trace-ckpt: the coordinator's secret %s: %s\n", secret_path,
			r == -EPERM ? "not a 0600 file of ours" : strerror(-r));
		return r;
	}
	r = channel_open(ch, addr, secret, 5000);
	memset(secret, 0, sizeof(secret));
	if (r < 0) {
		fprintf(stderr, "trace-ckpt: the coordinator at %s: %s\n", addr,
			r == -EACCES ? "it does not take our secret" : strerror(-r));
		return r;
	}
	tlv_put_u32(&b, WIRE_A_ROLE, WIRE_ROLE_COMMAND);
	tlv_put_u32(&b, WIRE_A_PID, (uint32_t)getpid());
	r = channel_send(ch, WIRE_JOIN, &b);
	tlv_buf_free(&b);
	if (r < 0)
		channel_close(ch);
	return r;
}

int coord_result(struct channel *ch, int timeout_ms, char *msg, size_t msglen)
{
	struct wire_in in;
	uint32_t status = EIO;
	char *m = NULL;
	int r = channel_recv(ch, &in, timeout_ms);

	if (r < 0) {
		snprintf(msg, msglen, "no answer from the coordinator: %s",
			 r == -ECONNRESET ? "it closed the connection" : strerror(-r));
		return r;
	}
	if (in.type == WIRE_RESULT && in.tb[WIRE_A_STATUS])
		tlv_get_u32(in.tb[WIRE_A_STATUS], &status);
	if (in.tb[WIRE_A_MSG])
		tlv_get_strdup(in.tb[WIRE_A_MSG], &m);
	snprintf(msg, msglen, "%s", m ? m : "?");
	free(m);
	wire_in_free(&in);
	return -(int)status;
}
