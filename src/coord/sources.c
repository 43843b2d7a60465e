/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/sources.h"

#define SOURCE_BUCKETS 4096

int source_table_init(struct source_table *t, uint32_t cap, int64_t log_interval_ms)
{
	memset(t, 0, sizeof(*t));
	if (sodium_init() < 0)
		return -EIO;
	t->bucket = calloc(SOURCE_BUCKETS, sizeof(*t->bucket));
	if (!t->bucket)
		return -ENOMEM;
	t->nr_buckets = SOURCE_BUCKETS;
	t->cap = cap;
	t->log_interval_ms = log_interval_ms;
	crypto_shorthash_keygen(t->hash_key);
	return 0;
}

void source_table_free(struct source_table *t)
{
	for (size_t i = 0; t->bucket && i < t->nr_buckets; i++)
		while (t->bucket[i]) {
			struct source *s = t->bucket[i];

			t->bucket[i] = s->next;
			free(s);
		}
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

void source_addr_from(struct source_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		a->b[10] = a->b[11] = 0xff;
		memcpy(a->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *v6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(v6))
			memcpy(a->b, v6, 16);
		else
			memcpy(a->b, v6, 8);
	}
}

static bool is_v4(const struct source_addr *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a->b, prefix, sizeof(prefix));
}

void source_addr_str(const struct source_addr *a, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN] = "?";

	if (is_v4(a)) {
		inet_ntop(AF_INET, a->b + 12, s, sizeof(s));
		snprintf(buf, len, "%s", s);
	} else {
		inet_ntop(AF_INET6, a->b, s, sizeof(s));
		snprintf(buf, len, "%s/64", s);
	}
}

static size_t bucket_of(const struct source_table *t, const struct source_addr *a)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, a->b, sizeof(a->b), t->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (t->nr_buckets - 1));
}

/* A line about it now, or one more to count for the next. */
static void rate_limit(const struct source_table *t, int64_t *last, uint32_t *unsaid, int64_t now,
		       struct source_say *say)
{
	if (*last < 0 || now - *last >= t->log_interval_ms) {
		*say = (struct source_say){ .now = true, .more = *unsaid };
		*last = now;
		*unsaid = 0;
	} else {
		*say = (struct source_say){ 0 };
		(*unsaid)++;
	}
}

static bool idle(const struct source_table *t, const struct source *s, int64_t now)
{
	return !s->pending && (s->cap_logged < 0 || now - s->cap_logged >= t->log_interval_ms) &&
	       (s->fail_logged < 0 || now - s->fail_logged >= t->log_interval_ms);
}

struct source *source_admit(struct source_table *t, const struct source_addr *a, int64_t now,
			    int *r, struct source_say *say)
{
	struct source **slot = &t->bucket[bucket_of(t, a)], *s;

	*say = (struct source_say){ 0 };
	for (s = *slot; s; s = s->next)
		if (!memcmp(&s->addr, a, sizeof(*a)))
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			*r = -ENOMEM;
			return NULL;
		}
		s->addr = *a;
		s->cap_logged = s->fail_logged = -1;
		s->next = *slot;
		*slot = s;
		t->nr++;
	}
	if (s->pending >= t->cap) {
		rate_limit(t, &s->cap_logged, &s->capped, now, say);
		*r = -EUSERS;
		return NULL;
	}
	s->pending++;
	*r = 0;
	return s;
}

void source_refused(struct source_table *t, struct source *s, int64_t now, struct source_say *say)
{
	rate_limit(t, &s->fail_logged, &s->failed, now, say);
}

static void unlink_free(struct source_table *t, struct source *s)
{
	struct source **p = &t->bucket[bucket_of(t, &s->addr)];

	while (*p && *p != s)
		p = &(*p)->next;
	if (*p) {
		*p = s->next;
		t->nr--;
		free(s);
	}
}

void source_release(struct source_table *t, struct source *s, int64_t now)
{
	if (s->pending)
		s->pending--;
	if (idle(t, s, now))
		unlink_free(t, s);
}

void source_table_sweep(struct source_table *t, int64_t now)
{
	for (size_t i = 0; i < t->nr_buckets; i++) {
		struct source **p = &t->bucket[i];

		while (*p) {
			struct source *s = *p;

			if (idle(t, s, now)) {
				*p = s->next;
				t->nr--;
				free(s);
			} else {
				p = &s->next;
			}
		}
	}
}
