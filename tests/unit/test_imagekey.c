/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The image key file (proto/imagekey.c) and what may reach a command line (util/shellword.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "proto/imagekey.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/shellword.h"

START_TEST(host_names)
{
	static const char *const good[] = {
		"h1", "node-01.cluster.example", "10.0.0.2", "fd00::2", "[fd00::2]", "::1",
		"a_b", "H:22",
	};
	static const char *const bad[] = {
		"", "-oProxyCommand=touch /tmp/pwned", "-p", "x'$(touch /tmp/pwned2)'", "a b",
		"h;id", "h|id", "h&", "`id`", "$HOME", "h\n", "h\t", "user@host", "a/b", "[", "[]",
		"[h1]x", "[-1::]", "[fd00::2", "fd00::2]", "x\"y", "h\\x", "*", "~root",
	};
	char longname[300];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(is_host_name(good[i]), "'%s' refused", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(!is_host_name(bad[i]), "'%s' accepted", bad[i]);
	ck_assert(!is_host_name(NULL));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert(!is_host_name(longname));
	longname[255] = '\0';
	ck_assert(is_host_name(longname));
}
END_TEST

static char *read_all(int fd, size_t *len)
{
	char *buf = calloc(1, 4096);
	ssize_t n;

	*len = 0;
	while (buf && *len < 4095 && (n = read(fd, buf + *len, 4095 - *len)) > 0)
		*len += (size_t)n;
	return buf;
}

/* What /bin/sh makes of a quoted word is the word itself, however hostile. */
START_TEST(shell_quote_is_one_word)
{
	static const char *const words[] = {
		"plain", "", "a b", "x'$(touch /tmp/pwned2)'", "'", "''", "\\'", "$(id)", "`id`",
		"a\nb", "\"; id; \"", "-oProxyCommand=x", "!!", "*", "~",
	};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		_cleanup_free_ char *q = shell_quote(words[i]), *cmd = NULL, *out = NULL;
		int p[2], status;
		size_t len = 0;
		pid_t pid;

		ck_assert_ptr_nonnull(q);
		ck_assert_int_ge(asprintf(&cmd, "printf %%s %s", q), 0);
		ck_assert_int_eq(pipe(p), 0);
		pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		out = read_all(p[0], &len);
		close(p[0]);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sh on %s", q);
		ck_assert_msg(out && len == strlen(words[i]) && !memcmp(out, words[i], len),
			      "%s came back as '%.*s'", q, (int)len, out ? out : "");
	}
}
END_TEST

static char *tmpdir(void)
{
	char *d = strdup("/tmp/tc-imagekey-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void key_path(char *buf, size_t len, const char *dir)
{
	snprintf(buf, len, "%s/trace-ckpt/image.key", dir);
}

START_TEST(user_key_made_once_0600)
{
	_cleanup_free_ char *d = tmpdir();
	struct image_key a, b;
	char err[512], path[PATH_MAX];
	struct stat st;

	setenv("XDG_CONFIG_HOME", d, 1);
	key_path(path, sizeof(path), d);
	ck_assert_msg(image_key_user(&a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(a.path, path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, IMAGE_KEY_LEN);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_int_eq(image_key_user(&b, err, sizeof(err)), 0);
	ck_assert_mem_eq(a.bytes, b.bytes, IMAGE_KEY_LEN);
	/* Another user's config directory, another key. */
	{
		_cleanup_free_ char *d2 = tmpdir();

		setenv("XDG_CONFIG_HOME", d2, 1);
		ck_assert_int_eq(image_key_user(&b, err, sizeof(err)), 0);
		ck_assert(memcmp(a.bytes, b.bytes, IMAGE_KEY_LEN) != 0);
		rm_rf(d2);
	}
	unsetenv("XDG_CONFIG_HOME");
	rm_rf(d);
}
END_TEST

/* Many first uses at once: one key, the same for all of them. */
START_TEST(user_key_race)
{
	_cleanup_free_ char *d = tmpdir();
	char err[512], path[PATH_MAX];
	struct image_key k;
	int p[2];
	enum { N = 8 };

	setenv("XDG_CONFIG_HOME", d, 1);
	ck_assert_int_eq(pipe(p), 0);
	for (int i = 0; i < N; i++) {
		if (fork() == 0) {
			struct image_key mine;
			int r = image_key_user(&mine, NULL, 0);

			if (r < 0)
				memset(mine.bytes, 0, sizeof(mine.bytes));
			_exit(write(p[1], mine.bytes, IMAGE_KEY_LEN) == IMAGE_KEY_LEN ? 0 : 1);
		}
	}
	close(p[1]);
	ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), 0);
	for (int i = 0; i < N; i++) {
		uint8_t got[IMAGE_KEY_LEN];

		ck_assert_int_eq(read_full(p[0], got, sizeof(got)), 0);
		ck_assert_mem_eq(got, k.bytes, IMAGE_KEY_LEN);
	}
	while (wait(NULL) > 0)
		;
	close(p[0]);
	key_path(path, sizeof(path), d);
	*strrchr(path, '/') = '\0';
	/* No half-made key left behind under another name. */
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) = 1", path);
		ck_assert_int_eq(system(cmd), 0);
	}
	unsetenv("XDG_CONFIG_HOME");
	rm_rf(d);
}
END_TEST

START_TEST(bad_key_files_refused)
{
	_cleanup_free_ char *d = tmpdir();
	struct image_key k;
	char err[512], path[PATH_MAX], link[PATH_MAX + 8], dir[PATH_MAX];
	int fd;

	setenv("XDG_CONFIG_HOME", d, 1);
	key_path(path, sizeof(path), d);
	ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), 0);

	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, path) && strstr(err, "0644"), "%s", err);
	ck_assert_int_eq(image_key_load(path, true, &k, err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(path, 0600), 0);

	/* Not the right size. */
	snprintf(link, sizeof(link), "%s.short", path);
	fd = open(link, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "short", 5), 5);
	close(fd);
	ck_assert_int_eq(image_key_load(link, false, &k, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, link), "%s", err);
	unlink(link);

	/* A symbolic link is not followed. */
	snprintf(link, sizeof(link), "%s.link", path);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(image_key_load(link, false, &k, err, sizeof(err)), -ELOOP);
	ck_assert_msg(strstr(err, "symbolic link"), "%s", err);
	unlink(link);

	/* Owned by someone else: refused, unless root gives it explicitly (restore --key). */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 4321, 4321), 0);
		ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), -EPERM);
		ck_assert_msg(strstr(err, "owned by uid 4321"), "%s", err);
		ck_assert_int_eq(image_key_load(path, true, &k, err, sizeof(err)), 0);
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}

	/* A key directory others may write to. */
	snprintf(dir, sizeof(dir), "%s/trace-ckpt", d);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "writable by others"), "%s", err);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(image_key_user(&k, err, sizeof(err)), 0);

	unsetenv("XDG_CONFIG_HOME");
	rm_rf(d);
}
END_TEST

START_TEST(default_path)
{
	_cleanup_free_ char *d = tmpdir();
	char path[PATH_MAX], want[PATH_MAX], note[PATH_MAX + 128];

	setenv("XDG_CONFIG_HOME", d, 1);
	ck_assert_int_eq(image_key_default_path(path, sizeof(path), note, sizeof(note)), 0);
	key_path(want, sizeof(want), d);
	ck_assert_str_eq(path, want);
	ck_assert_str_eq(note, "");
	/* Relative: not valid by the XDG spec, so HOME. */
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	setenv("HOME", d, 1);
	ck_assert_int_eq(image_key_default_path(path, sizeof(path), note, sizeof(note)), 0);
	snprintf(want, sizeof(want), "%s/.config/trace-ckpt/image.key", d);
	ck_assert_str_eq(path, want);
	unsetenv("XDG_CONFIG_HOME");
	/* A HOME of another user (sudo keeping it): passed over, and said so. */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(d, 4321, 4321), 0);
		ck_assert_int_eq(image_key_default_path(path, sizeof(path), note, sizeof(note)), 0);
		ck_assert_msg(strncmp(path, d, strlen(d)) != 0, "%s", path);
		ck_assert_msg(strstr(note, "HOME") && strstr(note, d), "%s", note);
		ck_assert_int_eq(chown(d, 0, 0), 0);
	}
	rm_rf(d);
}
END_TEST

START_TEST(mac_depends_on_key_and_bytes)
{
	struct image_key a = { .bytes = { 1 } }, b = { .bytes = { 2 } };
	uint8_t m1[IMAGE_MAC_LEN], m2[IMAGE_MAC_LEN];

	image_mac(&a, "manifest", 8, m1);
	ck_assert(image_mac_ok(&a, "manifest", 8, m1));
	ck_assert(!image_mac_ok(&b, "manifest", 8, m1));
	ck_assert(!image_mac_ok(&a, "manifesT", 8, m1));
	ck_assert(!image_mac_ok(&a, "manifest", 7, m1));
	image_mac(&b, "manifest", 8, m2);
	ck_assert(memcmp(m1, m2, sizeof(m1)) != 0);
}
END_TEST

static Suite *imagekey_suite(void)
{
	Suite *s = suite_create("imagekey");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, host_names);
	tcase_add_test(tc, shell_quote_is_one_word);
	tcase_add_test(tc, user_key_made_once_0600);
	tcase_add_test(tc, user_key_race);
	tcase_add_test(tc, bad_key_files_refused);
	tcase_add_test(tc, default_path);
	tcase_add_test(tc, mac_depends_on_key_and_bytes);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(imagekey_suite)
