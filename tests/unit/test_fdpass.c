/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "util/fdpass.h"

struct msg {
	uint64_t a;
	uint32_t b, c;
};

START_TEST(message_with_and_without_fd)
{
	struct msg out = { 1, 2, 3 }, in;
	int sv[2], p[2], fd = -7;
	char c = 'x';

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fdpass_send(sv[0], &out, sizeof(out), p[1]), 0);
	ck_assert_int_eq(fdpass_send(sv[0], &out, sizeof(out), -1), 0);
	ck_assert_int_eq(fdpass_recv(sv[1], &in, sizeof(in), &fd), 1);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fd, p[1]);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* The same pipe: what is written on ours comes out of it. */
	ck_assert_int_eq(write(fd, &c, 1), 1);
	c = 0;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(fd);
	ck_assert_int_eq(fdpass_recv(sv[1], &in, sizeof(in), &fd), 1);
	ck_assert_int_eq(fd, -1);
	close(sv[0]);
	ck_assert_int_eq(fdpass_recv(sv[1], &in, sizeof(in), &fd), 0);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(wrong_size_refused)
{
	struct msg in;
	int sv[2], p[2], fd = -7;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	/* A short message carrying an fd: refused, and the fd not left open. */
	ck_assert_int_eq(fdpass_send(sv[0], "ab", 2, p[0]), 0);
	ck_assert_int_eq(fdpass_recv(sv[1], &in, sizeof(in), &fd), -EBADMSG);
	ck_assert_int_eq(fd, -1);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *fdpass_suite(void)
{
	Suite *s = suite_create("fdpass");
	TCase *tc = tcase_create("fdpass");

	tcase_add_test(tc, message_with_and_without_fd);
	tcase_add_test(tc, wrong_size_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fdpass_suite)
