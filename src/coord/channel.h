/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An authenticated message stream between the coordinator and a peer (a
 * supervisor or a command), over TCP.
 *
 * Both ends hold the computation's secret (32 random bytes in a 0600 file).
 * Handshake: the coordinator sends a fresh nonce; the peer answers with its
 * own nonce and HMAC-SHA256(secret, "peer" | both nonces); the coordinator
 * checks it and proves itself the same way.  Every later frame carries
 * HMAC-SHA256(session key, direction | header | payload), the session key
 * being HMAC-SHA256(secret, "session" | both nonces), and a sequence number
 * per direction: a frame forged, changed, replayed or reordered ends the
 * connection.  The MACs are libsodium's; nothing here is home-made crypto.
 * There is no encryption: messages say what to do, images travel elsewhere.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/tlv.h"
#include "proto/wire.h"

#define SECRET_LEN 32

/* A frame read in pieces, as its bytes arrive (the coordinator's side). */
struct frame_rx {
	struct wire_hdr h;
	uint8_t *payload;
	uint8_t mac[WIRE_MAC_LEN];
	size_t have;		/* bytes of this frame so far */
	int64_t started;	/* ms on CLOCK_MONOTONIC when its first byte came */
};

struct channel {
	int fd;
	bool is_coordinator;
	/* channel_send queues what the socket does not take at once (channel_flush). */
	bool queue_sends;
	uint8_t key[32];
	uint64_t send_seq, recv_seq;
	char peer[64];		/* address, for messages */
	uint8_t nonce[WIRE_NONCE_LEN];	/* ours, during the handshake */
	struct frame_rx rx;
	uint8_t *out;		/* queued bytes: out[out_off..out_len) */
	size_t out_off, out_len, out_cap;
};

/* A message received: type and its attributes (payload owns the memory). */
struct wire_in {
	uint32_t type;
	uint8_t *payload;
	size_t len;
	const struct tlv_attr *tb[WIRE_A_MAX + 1];
};

void wire_in_free(struct wire_in *m);

/* Read the secret from path (must be a regular file, 0600 or stricter). */
int secret_load(const char *path, uint8_t secret[SECRET_LEN]);
/* Load path, or make a new secret there (0600) when it does not exist. */
int secret_load_or_create(const char *path, uint8_t secret[SECRET_LEN]);

/* The handshake on a connected fd, with a deadline; fd is owned by ch after. */
int channel_accept(struct channel *ch, int fd, const uint8_t secret[SECRET_LEN], int timeout_ms);
int channel_connect(struct channel *ch, int fd, const uint8_t secret[SECRET_LEN], int timeout_ms);

/*
 * The coordinator's side of the handshake without blocking, for an event
 * loop: start sends the challenge; continue reads what has arrived of the
 * peer's answer: -EAGAIN until it is whole, then 0 (the peer proved the
 * secret and was welcomed; the channel is authenticated) or an error
 * (-EACCES: a wrong proof, -EBADMSG: not a handshake).  fd is owned by ch.
 */
int channel_accept_start(struct channel *ch, int fd);
int channel_accept_continue(struct channel *ch, const uint8_t secret[SECRET_LEN]);

/* Connect to "HOST:PORT" (numeric IPv4/IPv6 or a name) and shake hands. */
int channel_open(struct channel *ch, const char *addr, const uint8_t secret[SECRET_LEN],
		 int timeout_ms);

int channel_send(struct channel *ch, uint32_t type, const struct tlv_buf *payload);
/* One message within timeout_ms (-1: no limit): -ETIMEDOUT, -ECONNRESET at EOF,
 * -EBADMSG for a frame that does not authenticate. */
int channel_recv(struct channel *ch, struct wire_in *m, int timeout_ms);
/*
 * Without blocking: 0 and one whole message, or -EAGAIN when the socket
 * holds no more of it yet (the part read so far is kept in ch->rx), or an
 * error as channel_recv.  Reads no byte past the message, so that poll
 * still says when the next one is there.
 */
int channel_recv_nowait(struct channel *ch, struct wire_in *m);
/* Send what channel_send queued (queue_sends): 0 when all went, -EAGAIN when some is left. */
int channel_flush(struct channel *ch);
static inline bool channel_has_output(const struct channel *ch)
{
	return ch->out_off < ch->out_len;
}
void channel_close(struct channel *ch);

/* Split "HOST:PORT" ("[v6]:port" too) into host and port. */
int split_host_port(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);
