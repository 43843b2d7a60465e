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
	/*
	 * During DUMP, the TCP connections drained between hosts
	 * (tracer/tcpdrain.c): each host lists its ends, everyone gets the
	 * list of all; each says when what it sent has all been taken in,
	 * and once all have, reads its ends out and hands the bytes to the
	 * peer's host, which keeps them to send again.
	 */
	WIRE_TCP_ENDS,		/* supervisor: TCP_END... */
	WIRE_TCP_PEERS,		/* coordinator -> every part: TCP_END... of them all */
	WIRE_TCP_SENT,		/* supervisor: its send queues are empty */
	WIRE_TCP_ARRIVED,	/* coordinator: everybody's are */
	WIRE_TCP_BYTES,		/* supervisor -> coordinator -> the peer's host: LOCAL, REMOTE, DATA, LAST */
	/*
	 * A part restored by a task of a batch job (run --resume under srun):
	 * once every part has joined, each is told where every old address
	 * went (the addresses the parts joined from).
	 */
	WIRE_ADDR_MAP,		/* coordinator -> restoring part: MSG "OLD=NEW,..." */
	WIRE_MSG_MAX = WIRE_ADDR_MAP,
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
	WIRE_A_TCP_END,		/* nest: LOCAL, REMOTE, LISTENS */
	WIRE_A_LOCAL,		/* 28 bytes: struct sockaddr_in or _in6, zero-padded */
	WIRE_A_REMOTE,		/* 28 bytes, as LOCAL */
	WIRE_A_LISTENS,		/* u32: a listener of the computation takes connections to LOCAL */
	WIRE_A_DATA,		/* bytes */
	WIRE_A_LAST,		/* u32: the last piece of DATA for this end */
	WIRE_A_TASK,		/* u32: JOIN: the batch job's task (SLURM_PROCID) + 1 */
	WIRE_A_OLD_ADDR,	/* str: JOIN of a restoring part: the address its host had */
	WIRE_A_PEEKED,		/* u32: TCP_BYTES still in the sender's queue (not read out) */
	WIRE_A_MAX = WIRE_A_PEEKED,
};

enum wire_role {
	WIRE_ROLE_SUPERVISOR = 1,	/* a supervisor of this host's part */
	WIRE_ROLE_COMMAND,		/* dump --all-hosts, list, restore --all-hosts */
};

/* A frame header that can be followed: magic, no flags, a sane length. */
bool wire_hdr_ok(const struct wire_hdr *h);
const char *wire_msg_name(uint32_t type);

/* One end of a TCP connection drained between hosts (WIRE_A_TCP_END). */
#define WIRE_ADDR_LEN 28
#define WIRE_TCP_ENDS_MAX 8192	/* of the whole computation: PEERS fits one frame */
struct wire_tcp_end {
	uint8_t local[WIRE_ADDR_LEN], remote[WIRE_ADDR_LEN];
	uint32_t listens;
};

struct tlv_buf;
int wire_put_tcp_ends(struct tlv_buf *b, const struct wire_tcp_end *e, size_t n);
/*
 * Every TCP_END of a payload, appended to *ends (*n of them, realloc'd);
 * -EBADMSG for a malformed one, -E2BIG past WIRE_TCP_ENDS_MAX in all.
 */
int wire_get_tcp_ends(const void *payload, size_t len, struct wire_tcp_end **ends, size_t *n);
