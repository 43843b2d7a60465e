/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The nft scripts of the network lock: what the dump and restore ask nft. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "util/netlock.h"

static struct sockaddr_in v4(const char *a, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 v6(const char *a, int port)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

START_TEST(one_statement_per_family)
{
	struct sockaddr_in l1 = v4("10.0.0.1", 7700), r1 = v4("10.0.0.2", 40000);
	struct sockaddr_in l2 = v4("127.0.0.1", 6379), r2 = v4("127.0.0.1", 51000);
	struct sockaddr_in6 l3 = v6("::1", 8080), r3 = v6("fe80::2", 9);
	struct netlock_conn c[] = { { &l1, &r1 }, { &l3, &r3 }, { &l2, &r2 } };
	char *s = netlock_script("PRE; ", "add", c, 3);

	ck_assert_ptr_nonnull(s);
	/* From the peer's side in: its address and port first. */
	ck_assert_str_eq(s, "PRE; "
		"add element inet trace_ckpt conns4 { 10.0.0.2 . 40000 . 10.0.0.1 . 7700, "
		"127.0.0.1 . 51000 . 127.0.0.1 . 6379 }; "
		"add element inet trace_ckpt conns6 { fe80::2 . 9 . ::1 . 8080 }; ");
	free(s);
}
END_TEST

/* A dual-stack socket's IPv4 connection is locked as the IPv4 packets it gets. */
START_TEST(v4_mapped_is_ipv4)
{
	struct sockaddr_in6 l = v6("::ffff:10.0.0.1", 7700), r = v6("::ffff:10.0.0.9", 5000);
	struct netlock_conn c = { &l, &r };
	char *s = netlock_script("", "add", &c, 1);

	ck_assert_str_eq(s, "add element inet trace_ckpt conns4 { 10.0.0.9 . 5000 . 10.0.0.1 . 7700 }; ");
	free(s);
}
END_TEST

START_TEST(only_the_sets_used)
{
	struct sockaddr_in6 l = v6("2001:db8::1", 1), r = v6("2001:db8::2", 2);
	struct netlock_conn c = { &l, &r };
	struct sockaddr_un_like { sa_family_t f; char pad[30]; } bad = { AF_UNIX, { 0 } };
	struct netlock_conn junk = { &bad, &bad };
	char *s = netlock_script("", "delete", &c, 1);

	ck_assert_str_eq(s, "delete element inet trace_ckpt conns6 { 2001:db8::2 . 2 . 2001:db8::1 . 1 }; ");
	free(s);
	/* Nothing it can name: nothing asked. */
	s = netlock_script("", "delete", &junk, 1);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

static Suite *netlock_suite(void)
{
	Suite *s = suite_create("netlock");
	TCase *tc = tcase_create("script");

	tcase_add_test(tc, one_statement_per_family);
	tcase_add_test(tc, only_the_sets_used);
	tcase_add_test(tc, v4_mapped_is_ipv4);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(netlock_suite)
