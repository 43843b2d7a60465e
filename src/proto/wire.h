/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages between the coordinator and the supervisors (and the commands
 * that ask the coordinator for something).  A frame on the TCP stream is a
 * struct wire_hdr, len bytes of TLV attributes (enum wire_attr) and a
 * WIRE_MAC_LEN-byte MAC of both; see src/coord/channel.h for the keys.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x31574354u	/* "TCW1" */
#define WIRE_MAC_LEN 32
#define WIRE_NONCE_LEN 32
#define WIRE_MAX_PAYLOAD (1u << 20)

struct wire_hdr {
	uint32_t magic;
	uint32_t type;		/* enum wire_msg */
	uint32_t len;		/* payload bytes */
	uint32_t flags;		/* 0 */
	uint64_t seq;		/* per direction, from 1 after the handshake */
};

enum wire_msg {
	/* handshake: unauthenticated frames, the proofs carry the secret */
	WIRE_CHALLENGE = 1,	/* coordinator: NONCE */
	WIRE_HELLO,		/* peer: NONCE, PROOF */
	WIRE_WELCOME,		/* coordinator: PROOF */
	/* authenticated from here on */
	WIRE_JOIN,		/* ROLE, HOST, ADDR, PID, CMDLINE, GEN */
	WIRE_FREEZE,		/* coordinator -> supervisor: GEN, DIR, MODE */
	WIRE_FROZEN,		/* supervisor */
	WIRE_DUMP,		/* coordinator: collect and write */
	WIRE_PREPARED,		/* supervisor: SUBDIR, BYTES, NR_PROCS */
	WIRE_COMMIT,		/* coordinator: the top manifest is written */
	WIRE_DONE,		/* supervisor: thawed or killed; OWN_MS */
	WIRE_ABORT,		/* coordinator: MSG; thaw, drop what was written */
	WIRE_FAILED,		/* supervisor: MSG */
	WIRE_CHECKPOINT,	/* command -> coordinator: DIR, MODE, TIMEOUT_MS */
	WIRE_RESULT,		/* coordinator -> command: STATUS, MSG, GEN, DIR */
	WIRE_STATUS,		/* command -> coordinator; the answer: MEMBER... */
	WIRE_READY,		/* restoring supervisor: built, waiting for GO */
	WIRE_GO,		/* coordinator: release the restored computation */
	WIRE_BARRIER,		/* command -> coordinator: COUNT, TIMEOUT_MS; RESULT when all READY */
};

enum wire_attr {
	WIRE_A_UNSPEC,
	WIRE_A_NONCE,		/* WIRE_NONCE_LEN bytes */
	WIRE_A_PROOF,		/* WIRE_MAC_LEN bytes */
	WIRE_A_ROLE,		/* u32 enum wire_role */
	WIRE_A_HOST,		/* str */
	WIRE_A_ADDR,		/* str: how to reach the host (ssh) */
	WIRE_A_PID,		/* u32 */
	WIRE_A_CMDLINE,		/* str */
	WIRE_A_GEN,		/* u64 */
	WIRE_A_DIR,		/* str */
	WIRE_A_MODE,		/* u32 enum ctl_dump_mode */
	WIRE_A_SUBDIR,		/* str: the host's part, relative to DIR */
	WIRE_A_BYTES,		/* u64 */
	WIRE_A_NR_PROCS,	/* u32 */
	WIRE_A_MSG,		/* str */
	WIRE_A_STATUS,		/* u32: positive errno, 0 on success */
	WIRE_A_TIMEOUT_MS,	/* u32 */
	WIRE_A_MEMBER,		/* nest: ROLE, HOST, ADDR, PID, CMDLINE, GEN */
	WIRE_A_COUNT,		/* u32 */
	WIRE_A_OWN_MS,		/* u32: DONE: the host's own dump, freeze to thaw/kill */
	WIRE_A_KEEP,		/* u32: FREEZE: generations each host keeps (0: all) */
	WIRE_A_RESTORING,	/* u32: JOIN: 1 from a restore, not running until GO */
	WIRE_A_MAX = WIRE_A_RESTORING,
};

enum wire_role {
	WIRE_ROLE_SUPERVISOR = 1,	/* a supervisor of this host's part */
	WIRE_ROLE_COMMAND,		/* dump --all-hosts, list, restore --all-hosts */
};

/* A frame header that can be followed: magic, no flags, a sane length. */
bool wire_hdr_ok(const struct wire_hdr *h);
const char *wire_msg_name(uint32_t type);
