/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The coordinator's cap on unauthenticated connections per source and the
 * rate limit of what it says about a source.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "coord/sources.h"

#define CAP 3
#define INTERVAL 1000

static struct source_addr v4(const char *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct source_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &sin.sin_addr), 1);
	source_addr_from(&a, (struct sockaddr *)&sin, sizeof(sin));
	return a;
}

static struct source_addr v6(const char *s)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct source_addr a;

	ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6.sin6_addr), 1);
	source_addr_from(&a, (struct sockaddr *)&sin6, sizeof(sin6));
	return a;
}

START_TEST(cap_per_source)
{
	struct source_table t;
	struct source_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct source *s[CAP], *x;
	struct source_say say;
	int r;

	ck_assert_int_eq(source_table_init(&t, CAP, INTERVAL), 0);
	for (int i = 0; i < CAP; i++) {
		s[i] = source_admit(&t, &a, 0, &r, &say);
		ck_assert_ptr_nonnull(s[i]);
		ck_assert_int_eq(r, 0);
		ck_assert(!say.now);
	}
	/* One more from a: closed, and said, once. */
	ck_assert_ptr_null(source_admit(&t, &a, 10, &r, &say));
	ck_assert_int_eq(r, -EUSERS);
	ck_assert(say.now);
	ck_assert_uint_eq(say.more, 0);
	ck_assert_ptr_null(source_admit(&t, &a, 20, &r, &say));
	ck_assert_int_eq(r, -EUSERS);
	ck_assert(!say.now);
	ck_assert_ptr_null(source_admit(&t, &a, 30, &r, &say));
	ck_assert(!say.now);
	/* Another source is not affected. */
	x = source_admit(&t, &b, 30, &r, &say);
	ck_assert_ptr_nonnull(x);
	/* One of a's ends: room for one more, and only one. */
	source_release(&t, s[0], 40);
	s[0] = source_admit(&t, &a, 50, &r, &say);
	ck_assert_ptr_nonnull(s[0]);
	ck_assert_ptr_null(source_admit(&t, &a, 60, &r, &say));
	ck_assert(!say.now);
	/* An interval after the first line: said again, with the count since. */
	ck_assert_ptr_null(source_admit(&t, &a, 10 + INTERVAL, &r, &say));
	ck_assert(say.now);
	ck_assert_uint_eq(say.more, 3);
	source_table_free(&t);
}
END_TEST

START_TEST(entries_go_when_idle)
{
	struct source_table t;
	struct source_addr a = v4("198.51.100.7");
	struct source *s[CAP];
	struct source_say say;
	int r;

	ck_assert_int_eq(source_table_init(&t, CAP, INTERVAL), 0);
	s[0] = source_admit(&t, &a, 0, &r, &say);
	ck_assert_uint_eq(t.nr, 1);
	/* Nothing said about it: gone with its last connection. */
	source_release(&t, s[0], 5);
	ck_assert_uint_eq(t.nr, 0);

	for (int i = 0; i < CAP; i++)
		s[i] = source_admit(&t, &a, 100, &r, &say);
	ck_assert_ptr_null(source_admit(&t, &a, 100, &r, &say));
	ck_assert(say.now);
	for (int i = 0; i < CAP; i++)
		source_release(&t, s[i], 200);
	/* A line said recently: kept, so the next refusal is counted, not said. */
	ck_assert_uint_eq(t.nr, 1);
	source_table_sweep(&t, 300);
	ck_assert_uint_eq(t.nr, 1);
	source_table_sweep(&t, 100 + INTERVAL);
	ck_assert_uint_eq(t.nr, 0);
	source_table_free(&t);
}
END_TEST

START_TEST(refusals_said_once_per_interval)
{
	struct source_table t;
	struct source_addr a = v4("203.0.113.9");
	struct source *s;
	struct source_say say;
	int r;

	ck_assert_int_eq(source_table_init(&t, CAP, INTERVAL), 0);
	s = source_admit(&t, &a, 0, &r, &say);
	source_refused(&t, s, 0, &say);
	ck_assert(say.now);
	source_release(&t, s, 0);
	for (int i = 1; i <= 5; i++) {
		s = source_admit(&t, &a, i, &r, &say);
		ck_assert_ptr_nonnull(s);
		source_refused(&t, s, i, &say);
		ck_assert(!say.now);
		source_release(&t, s, i);
	}
	s = source_admit(&t, &a, INTERVAL, &r, &say);
	source_refused(&t, s, INTERVAL, &say);
	ck_assert(say.now);
	ck_assert_uint_eq(say.more, 5);
	source_release(&t, s, INTERVAL);
	source_table_free(&t);
}
END_TEST

START_TEST(what_a_source_is)
{
	struct source_addr a, b;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	char s[64];

	/* IPv6: one /64 is one source. */
	a = v6("2001:db8:1:2::1");
	b = v6("2001:db8:1:2:ffff::9");
	ck_assert_mem_eq(&a, &b, sizeof(a));
	b = v6("2001:db8:1:3::1");
	ck_assert(memcmp(&a, &b, sizeof(a)));
	source_addr_str(&a, s, sizeof(s));
	ck_assert_str_eq(s, "2001:db8:1:2::/64");
	/* IPv4, also as a v4-mapped IPv6 address on a dual-stack socket. */
	a = v4("10.1.2.3");
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:10.1.2.3", &mapped.sin6_addr), 1);
	source_addr_from(&b, (struct sockaddr *)&mapped, sizeof(mapped));
	ck_assert_mem_eq(&a, &b, sizeof(a));
	source_addr_str(&a, s, sizeof(s));
	ck_assert_str_eq(s, "10.1.2.3");
	b = v4("10.1.2.4");
	ck_assert(memcmp(&a, &b, sizeof(a)));
}
END_TEST

/* Many sources in few buckets' worth of table: each counted on its own. */
START_TEST(many_sources)
{
	struct source_table t;
	struct source_say say;
	int r;

	ck_assert_int_eq(source_table_init(&t, 1, INTERVAL), 0);
	for (uint32_t i = 0; i < 20000; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000 + i) };
		struct source_addr a;

		source_addr_from(&a, (struct sockaddr *)&sin, sizeof(sin));
		ck_assert_ptr_nonnull(source_admit(&t, &a, 0, &r, &say));
		ck_assert_ptr_null(source_admit(&t, &a, 0, &r, &say));
		ck_assert_int_eq(r, -EUSERS);
	}
	ck_assert_uint_eq(t.nr, 20000);
	source_table_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sources");
	TCase *tc = tcase_create("sources");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, cap_per_source);
	tcase_add_test(tc, entries_go_when_idle);
	tcase_add_test(tc, refusals_said_once_per_interval);
	tcase_add_test(tc, what_a_source_is);
	tcase_add_test(tc, many_sources);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
