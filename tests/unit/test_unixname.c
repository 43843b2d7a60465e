/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "util/unixname.h"

static socklen_t addr_of(struct sockaddr_un *sun, const char *name, bool abstract)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(sun->sun_path + 1, name, strlen(name));
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	}
	strcpy(sun->sun_path, name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1);
}

START_TEST(abstract_name_bound_then_not)
{
	char name[64];
	struct sockaddr_un sun;
	socklen_t sl;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	snprintf(name, sizeof(name), "tc-unixname-test-%d", (int)getpid());
	sl = addr_of(&sun, name, true);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unix_name_bound((const uint8_t *)sun.sun_path,
					 sl - offsetof(struct sockaddr_un, sun_path)), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sl), 0);
	ck_assert_int_eq(unix_name_bound((const uint8_t *)sun.sun_path,
					 sl - offsetof(struct sockaddr_un, sun_path)), 1);
	close(fd);
	ck_assert_int_eq(unix_name_bound((const uint8_t *)sun.sun_path,
					 sl - offsetof(struct sockaddr_un, sun_path)), 0);
}
END_TEST

/* A path's socket file left behind by a closed socket is not bound. */
START_TEST(path_bound_then_stale)
{
	char path[64];
	struct sockaddr_un sun;
	socklen_t sl;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(path, sizeof(path), "/tmp/tc-unixname-test-%d.sock", (int)getpid());
	unlink(path);
	sl = addr_of(&sun, path, false);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sl), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	/* With or without the trailing NUL the kernel keeps in the name. */
	ck_assert_int_eq(unix_name_bound((const uint8_t *)path, (uint32_t)strlen(path) + 1), 1);
	ck_assert_int_eq(unix_name_bound((const uint8_t *)path, (uint32_t)strlen(path)), 1);
	close(fd);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(unix_name_bound((const uint8_t *)path, (uint32_t)strlen(path) + 1), 0);
	unlink(path);
}
END_TEST

static Suite *unixname_suite(void)
{
	Suite *s = suite_create("unixname");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, abstract_name_bound_then_not);
	tcase_add_test(tc, path_bound_then_stale);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(unixname_suite)
