/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tlv.h"
#include "proto/wire.h"

bool wire_hdr_ok(const struct wire_hdr *h)
{
	return h->magic == WIRE_MAGIC && !h->flags && h->len <= WIRE_MAX_PAYLOAD &&
	       h->type >= WIRE_CHALLENGE && h->type <= WIRE_MSG_MAX;
}

const char *wire_msg_name(uint32_t type)
{
	static const char *const names[] = {
		[WIRE_CHALLENGE] = "CHALLENGE", [WIRE_HELLO] = "HELLO",
		[WIRE_WELCOME] = "WELCOME", [WIRE_JOIN] = "JOIN", [WIRE_FREEZE] = "FREEZE",
		[WIRE_FROZEN] = "FROZEN", [WIRE_DUMP] = "DUMP", [WIRE_PREPARED] = "PREPARED",
		[WIRE_COMMIT] = "COMMIT", [WIRE_DONE] = "DONE", [WIRE_ABORT] = "ABORT",
		[WIRE_FAILED] = "FAILED", [WIRE_CHECKPOINT] = "CHECKPOINT",
		[WIRE_RESULT] = "RESULT", [WIRE_STATUS] = "STATUS", [WIRE_READY] = "READY",
		[WIRE_GO] = "GO", [WIRE_BARRIER] = "BARRIER", [WIRE_TCP_ENDS] = "TCP_ENDS",
		[WIRE_TCP_PEERS] = "TCP_PEERS", [WIRE_TCP_SENT] = "TCP_SENT",
		[WIRE_TCP_ARRIVED] = "TCP_ARRIVED", [WIRE_TCP_BYTES] = "TCP_BYTES",
		[WIRE_ADDR_MAP] = "ADDR_MAP",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "?";
}

int wire_put_tcp_ends(struct tlv_buf *b, const struct wire_tcp_end *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		long nest = tlv_nest_start(b, WIRE_A_TCP_END);
		int r;

		if (nest < 0)
			return (int)nest;
		r = tlv_put(b, WIRE_A_LOCAL, e[i].local, WIRE_ADDR_LEN);
		if (r == 0)
			r = tlv_put(b, WIRE_A_REMOTE, e[i].remote, WIRE_ADDR_LEN);
		if (r == 0)
			r = tlv_put_u32(b, WIRE_A_LISTENS, e[i].listens);
		if (r == 0)
			r = tlv_nest_end(b, nest);
		if (r < 0)
			return r;
	}
	return 0;
}

int wire_get_tcp_ends(const void *payload, size_t len, struct wire_tcp_end **ends, size_t *n)
{
	const struct tlv_attr *a;
	size_t rem;

	tlv_for_each(a, payload, len, rem) {
		const struct tlv_attr *tb[WIRE_A_MAX + 1];
		struct wire_tcp_end *grown, e = { 0 };

		if (a->type != WIRE_A_TCP_END)
			continue;
		if (tlv_parse(tlv_data(a), tlv_len(a), tb, WIRE_A_MAX) < 0 || !tb[WIRE_A_LOCAL] ||
		    !tb[WIRE_A_REMOTE] || tlv_len(tb[WIRE_A_LOCAL]) != WIRE_ADDR_LEN ||
		    tlv_len(tb[WIRE_A_REMOTE]) != WIRE_ADDR_LEN ||
		    (tb[WIRE_A_LISTENS] && tlv_get_u32(tb[WIRE_A_LISTENS], &e.listens) < 0))
			return -EBADMSG;
		if (*n >= WIRE_TCP_ENDS_MAX)
			return -E2BIG;
		memcpy(e.local, tlv_data(tb[WIRE_A_LOCAL]), WIRE_ADDR_LEN);
		memcpy(e.remote, tlv_data(tb[WIRE_A_REMOTE]), WIRE_ADDR_LEN);
		e.listens = !!e.listens;
		grown = realloc(*ends, (*n + 1) * sizeof(**ends));
		if (!grown)
			return -ENOMEM;
		*ends = grown;
		grown[(*n)++] = e;
	}
	return 0;
}
