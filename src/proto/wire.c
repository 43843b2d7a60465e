/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "proto/wire.h"

bool wire_hdr_ok(const struct wire_hdr *h)
{
	return h->magic == WIRE_MAGIC && !h->flags && h->len <= WIRE_MAX_PAYLOAD &&
	       h->type >= WIRE_CHALLENGE && h->type <= WIRE_BARRIER;
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
		[WIRE_GO] = "GO", [WIRE_BARRIER] = "BARRIER",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "?";
}
