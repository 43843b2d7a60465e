/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum fuzz_kind {
	FUZZ_RECORD,
	FUZZ_MANIFEST,
	FUZZ_CORE,
	FUZZ_MANIFEST_RESEALED,
	FUZZ_HANDSHAKE,		/* what a peer sends the coordinator before it is authenticated */
	FUZZ_SOCKQ,		/* a socket's queued messages, with their senders */
	FUZZ_NR_KINDS,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
