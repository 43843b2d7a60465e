/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/imagekey.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define KEY_DIR "trace-ckpt"
#define KEY_NAME "image.key"

/* Separates a manifest's MAC from every other HMAC made with the same secret (channel.c). */
static const char mac_context[] = "trace-ckpt image manifest v1";

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool dir_of_ours(const char *path)
{
	struct stat st;

	return path && path[0] == '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid();
}

int image_key_default_path(char *path, size_t len, char *note, size_t notelen)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (note && notelen)
		note[0] = '\0';
	/* Relative XDG_CONFIG_HOME is invalid by the spec; one of another user's is not ours. */
	if (xdg && xdg[0] == '/' && (access(xdg, F_OK) < 0 || dir_of_ours(xdg))) {
		n = snprintf(path, len, "%s/%s/%s", xdg, KEY_DIR, KEY_NAME);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	if (xdg && *xdg)
		set_err(note, notelen, "XDG_CONFIG_HOME (%s) is not an absolute directory of uid %u: ignored for the image key",
			xdg, (unsigned int)geteuid());
	if (dir_of_ours(home)) {
		n = snprintf(path, len, "%s/.config/%s/%s", home, KEY_DIR, KEY_NAME);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	pw = getpwuid(geteuid());
	if (!pw || !dir_of_ours(pw->pw_dir))
		return -ENOENT;
	n = snprintf(path, len, "%s/.config/%s/%s", pw->pw_dir, KEY_DIR, KEY_NAME);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	set_err(note, notelen, "HOME (%s) is not a directory of uid %u: the image key is %s",
		home ? home : "unset", (unsigned int)geteuid(), path);
	return 0;
}

static int check_key_file(int fd, const char *path, bool foreign_ok, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return neg_errno();
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file: refusing it as the image key", path);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && !(foreign_ok && geteuid() == 0)) {
		set_err(err, errlen, "%s: owned by uid %u, not by you (uid %u): refusing it as the image key",
			path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen, "%s: mode %04o: others may read or change it; it must be 0600",
			path, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_size != IMAGE_KEY_LEN) {
		set_err(err, errlen, "%s: %lld bytes, not a key of %d bytes", path,
			(long long)st.st_size, IMAGE_KEY_LEN);
		return -EBADMSG;
	}
	return 0;
}

static int load_at(int dirfd, const char *name, const char *path, bool foreign_ok,
		   struct image_key *k, char *err, size_t errlen)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: %s", path,
			r == -ELOOP ? "a symbolic link: refusing it as the image key" : strerror(-r));
		return r;
	}
	r = check_key_file(fd, path, foreign_ok, err, errlen);
	if (r == 0)
		r = read_full(fd, k->bytes, IMAGE_KEY_LEN);
	if (r < 0) {
		sodium_memzero(k->bytes, sizeof(k->bytes));
		if (err && errlen && !err[0])
			set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	snprintf(k->path, sizeof(k->path), "%s", path);
	return 0;
}

int image_key_load(const char *path, bool foreign_ok, struct image_key *k, char *err,
		   size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path) {
		set_err(err, errlen, "no key file given");
		return -EINVAL;
	}
	return load_at(AT_FDCWD, path, path, foreign_ok, k, err, errlen);
}

/*
 * A new key appears complete or not at all: written to a name of its own
 * (O_EXCL), then linked to image.key, which fails if another process made
 * one first; then that one is used.
 */
static int create_at(int dirfd, const char *path, char *err, size_t errlen)
{
	uint8_t key[IMAGE_KEY_LEN];
	char tmp[64];
	_cleanup_close_ int fd = -1;
	int r;

	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		snprintf(tmp, sizeof(tmp), "%s.new-%08x", KEY_NAME, randombytes_random());
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = neg_errno();
		set_err(err, errlen, "%s: cannot make a new key: %s", path, strerror(-r));
		return r;
	}
	randombytes_buf(key, sizeof(key));
	r = write_full(fd, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (r == 0 && fsync(fd) < 0)
		r = neg_errno();
	if (r == 0 && linkat(dirfd, tmp, dirfd, KEY_NAME, 0) < 0 && errno != EEXIST)
		r = neg_errno();
	unlinkat(dirfd, tmp, 0);
	if (r < 0) {
		set_err(err, errlen, "%s: cannot make a new key: %s", path, strerror(-r));
		return r;
	}
	fsync(dirfd);
	return 0;
}

int image_key_user(struct image_key *k, char *err, size_t errlen)
{
	char path[PATH_MAX], dir[PATH_MAX], note[PATH_MAX + 128];
	_cleanup_close_ int dirfd = -1;
	struct stat st;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (sodium_init() < 0) {
		set_err(err, errlen, "libsodium cannot start");
		return -EIO;
	}
	r = image_key_default_path(path, sizeof(path), note, sizeof(note));
	if (r < 0) {
		set_err(err, errlen, "no home directory of uid %u for the image key: set XDG_CONFIG_HOME or HOME, or give --key FILE",
			(unsigned int)geteuid());
		return r;
	}
	if (note[0])
		log_warn("%s", note);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	r = mkdir_p(dir, 0700);
	if (r == 0 && (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		r = neg_errno();
	if (r == 0 && fstat(dirfd, &st) < 0)
		r = neg_errno();
	if (r < 0) {
		set_err(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	/* Whoever may change the directory may swap the key. */
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		set_err(err, errlen, "%s: %s: refusing to keep the image key there", dir,
			st.st_uid != geteuid() ? "not owned by you" : "writable by others");
		return -EPERM;
	}
	r = load_at(dirfd, KEY_NAME, path, false, k, err, errlen);
	if (r != -ENOENT)
		return r;
	if (err && errlen)
		err[0] = '\0';
	r = create_at(dirfd, path, err, errlen);
	if (r < 0)
		return r;
	log_info("made a new image key: %s", path);
	return load_at(dirfd, KEY_NAME, path, false, k, err, errlen);
}

void image_key_wipe(struct image_key *k)
{
	sodium_memzero(k->bytes, sizeof(k->bytes));
}

void image_mac(const struct image_key *k, const void *buf, size_t len, uint8_t mac[IMAGE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, k->bytes, sizeof(k->bytes));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)mac_context, sizeof(mac_context));
	crypto_auth_hmacsha256_update(&st, buf, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

bool image_mac_ok(const struct image_key *k, const void *buf, size_t len,
		  const uint8_t mac[IMAGE_MAC_LEN])
{
	uint8_t want[IMAGE_MAC_LEN];
	bool ok;

	image_mac(k, buf, len, want);
	ok = sodium_memcmp(want, mac, IMAGE_MAC_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}
