/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The coordinator's count of unauthenticated connections per source
 * address, so that one source cannot hold every handshake slot, and the
 * rate limit of what is logged about each source.
 *
 * A source is an IPv4 address, or the /64 of an IPv6 address: one machine
 * usually holds a whole /64, so counting single IPv6 addresses would cap
 * nothing.  Buckets are chosen by a keyed hash (SipHash, libsodium's
 * crypto_shorthash) so that a peer cannot pick addresses that collide.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct source_addr {
	uint8_t b[16];		/* IPv4 as ::ffff:a.b.c.d; IPv6 with the low 64 bits zero */
};

struct source {
	struct source_addr addr;
	uint32_t pending;	/* unauthenticated connections open now */
	uint32_t capped;	/* closed at once for the cap, not logged yet */
	uint32_t failed;	/* handshakes refused, not logged yet */
	int64_t cap_logged;	/* ms of the last line about each; -1: none */
	int64_t fail_logged;
	struct source *next;	/* in its bucket */
};

struct source_table {
	struct source **bucket;
	size_t nr_buckets;	/* a power of two */
	size_t nr;		/* entries */
	uint32_t cap;		/* unauthenticated connections per source */
	int64_t log_interval_ms;
	uint8_t hash_key[16];
};

/* What a refusal should say: nothing, or a line now with the count since the last one. */
struct source_say {
	bool now;
	uint32_t more;		/* refusals since the last line that were not logged */
};

int source_table_init(struct source_table *t, uint32_t cap, int64_t log_interval_ms);
void source_table_free(struct source_table *t);

/* The source of a peer's address; AF_INET and AF_INET6 (v4-mapped ones as IPv4). */
void source_addr_from(struct source_addr *a, const struct sockaddr *sa, socklen_t len);
/* "10.0.0.1" or "2001:db8:1:2::/64". */
void source_addr_str(const struct source_addr *a, char *buf, size_t len);

/*
 * A new unauthenticated connection from a at now (ms): the source's entry,
 * its count raised (source_release when the connection ends or proves the
 * secret), or NULL with r set: -EUSERS when the source is at the cap (say
 * tells whether to log it), -ENOMEM.
 */
struct source *source_admit(struct source_table *t, const struct source_addr *a, int64_t now,
			    int *r, struct source_say *say);
/* A handshake from s was refused: may it be logged now (at most once per interval)? */
void source_refused(struct source_table *t, struct source *s, int64_t now, struct source_say *say);
/* One of s's connections ended or was authenticated; s may be freed. */
void source_release(struct source_table *t, struct source *s, int64_t now);
/* Free the entries that hold no connection and have no recent line to limit. */
void source_table_sweep(struct source_table *t, int64_t now);
