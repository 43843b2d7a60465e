/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore --fetch-from HOST DIR: an image written to a disk of another node
 * (a node-local checkpoint directory), copied here through ssh before it is
 * restored.  What comes from the other host is untrusted until its manifest
 * verifies under the key the restore uses; only then are the files it lists
 * copied, each at the size it gives, into DIR.fetch-XXXXXX next to DIR,
 * which becomes DIR when complete.  Their checksums are checked by the
 * restore, as for any image.  A DIR that exists is not touched: on a shared
 * filesystem nothing is copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/manifest.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/shellword.h"
#include "util/spawnread.h"

#define MANIFEST_MAX (256u << 20)

/* ssh HOST SCRIPT with its stdout on *out; the pid, or -errno. */
static pid_t ssh_reader(const char *host, const char *script, int *out)
{
	char *argv[] = { "ssh", "-o", "BatchMode=yes", "--", (char *)host, (char *)script, NULL };

	return spawn_reader(argv, out);
}

static int ssh_status(pid_t pid, const char *host, char *err, size_t errlen)
{
	int r = wait_exit_status(pid);

	if (r == 0)
		return 0;
	snprintf(err, errlen, "ssh %s: %s %d", host, r < 0 ? "wait" : "status", r);
	return r < 0 ? r : -EIO;
}

/* The remote file DIR/NAME, whole, into a malloc'd buffer of at most max bytes. */
static int fetch_whole(const char *host, const char *dir, const char *name, size_t max,
		       uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	_cleanup_free_ char *path = NULL, *q = NULL, *script = NULL;
	size_t cap = 1 << 16, got = 0;
	uint8_t *b = malloc(cap);
	int fd = -1, r = 0;
	pid_t pid;

	if (!b || asprintf(&path, "%s/%s", dir, name) < 0 || !(q = shell_quote(path)) ||
	    asprintf(&script, "cat -- %s", q) < 0) {
		free(b);
		return -ENOMEM;
	}
	pid = ssh_reader(host, script, &fd);
	if (pid < 0) {
		free(b);
		return (int)pid;
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			uint8_t *nb = cap < max ? realloc(b, MIN((size_t)cap * 2, max + 1)) : NULL;

			if (!nb) {
				r = cap < max ? -ENOMEM : -EFBIG;
				break;
			}
			b = nb;
			cap = MIN((size_t)cap * 2, max + 1);
		}
		n = read(fd, b + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = neg_errno();
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r < 0)
		kill(pid, SIGKILL);
	if (r == 0)
		r = ssh_status(pid, host, err, errlen);
	else
		ssh_status(pid, host, (char[128]){ 0 }, 128);
	if (r == -EFBIG)
		snprintf(err, errlen, "%s:%s: larger than %zu bytes", host, path, max);
	if (r < 0) {
		free(b);
		return r;
	}
	*buf = b;
	*len = got;
	return 0;
}

/* Parents of rel below dirfd, 0700 (a listed path may be "shared/fds-..."). */
static int make_parents(int dirfd, const char *rel)
{
	char sub[PATH_MAX];

	if (strlen(rel) >= sizeof(sub))
		return -ENAMETOOLONG;
	strcpy(sub, rel);
	for (char *s = strchr(sub, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(dirfd, sub, 0700) < 0 && errno != EEXIST)
			return neg_errno();
		*s = '/';
	}
	return 0;
}

/* Every file m lists, in one ssh (cat of them all, split by their sizes), into dirfd. */
static int fetch_files(const char *host, const char *dir, const struct manifest *m, int dirfd,
		       char *err, size_t errlen)
{
	_cleanup_free_ char *script = strdup("cat --");
	_cleanup_free_ uint8_t *buf = malloc(1 << 20);
	int fd = -1, r = 0;
	pid_t pid;

	if (!script || !buf)
		return -ENOMEM;
	if (!m->nr_files)
		return 0;
	for (size_t i = 0; i < m->nr_files; i++) {
		_cleanup_free_ char *path = NULL, *q = NULL;
		char *ns = NULL;

		if (asprintf(&path, "%s/%s", dir, m->files[i].path) < 0 || !(q = shell_quote(path)) ||
		    asprintf(&ns, "%s %s", script, q) < 0)
			return -ENOMEM;
		free(script);
		script = ns;
	}
	pid = ssh_reader(host, script, &fd);
	if (pid < 0)
		return (int)pid;
	for (size_t i = 0; i < m->nr_files && r == 0; i++) {
		const struct manifest_file *f = &m->files[i];
		_cleanup_close_ int out = -1;
		uint64_t left = f->size;

		r = make_parents(dirfd, f->path);
		if (r == 0) {
			out = openat(dirfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (out < 0)
				r = neg_errno();
		}
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", f->path, strerror(-r));
			break;
		}
		while (left && r == 0) {
			ssize_t n = read(fd, buf, MIN(left, (uint64_t)(1 << 20)));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? neg_errno() : -EIO;
				snprintf(err, errlen, "%s:%s/%s: %llu bytes short", host, dir, f->path,
					 (unsigned long long)left);
				break;
			}
			r = write_full(out, buf, (size_t)n);
			if (r < 0)
				snprintf(err, errlen, "%s: %s", f->path, strerror(-r));
			left -= (uint64_t)n;
		}
		if (r == 0 && fsync(out) < 0) {
			r = neg_errno();
			snprintf(err, errlen, "%s: fsync: %s", f->path, strerror(-r));
		}
	}
	/* More than the manifest says: not the image it describes. */
	if (r == 0) {
		ssize_t n = read(fd, buf, 1);

		if (n != 0) {
			r = -EIO;
			snprintf(err, errlen, "%s:%s: more bytes than its manifest lists", host, dir);
		}
	}
	close(fd);
	if (r < 0)
		kill(pid, SIGKILL);
	/* The first fault said is the one to say. */
	if (r < 0) {
		char ignored[128];

		ssh_status(pid, host, ignored, sizeof(ignored));
		return r;
	}
	return ssh_status(pid, host, err, errlen);
}

/* buf as DIR/NAME, atomically, unless someone put it there first. */
static int put_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	char tmp[NAME_MAX + 1];
	int r;

	if (dirfd < 0)
		return neg_errno();
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.fetch-%d", name, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	r = write_full(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = neg_errno();
	if (r == 0 && renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) < 0 && errno != EEXIST)
		r = neg_errno();
	unlinkat(dirfd, tmp, 0);
	return r;
}

int fetch_image(const char *dir, const char *name, const char *host,
		const struct image_key *key, char *err, size_t errlen)
{
	_cleanup_free_ char *tmp = NULL, *parent = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int dirfd = -1;
	struct manifest m = { 0 };
	struct stat st;
	size_t len = 0;
	int r;

	if (!is_host_name(host)) {
		snprintf(err, errlen, "%s: not a host name", host);
		return -EINVAL;
	}
	if (dir[0] != '/') {
		snprintf(err, errlen, "%s: --fetch-from needs an absolute path", dir);
		return -EINVAL;
	}
	/* Nothing is used before its MAC holds: not even the list of files. */
	r = fetch_whole(host, dir, name, MANIFEST_MAX, &buf, &len, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s:%s/%s: %s", host, dir, name, strerror(-r));
		return r;
	}
	r = manifest_parse(buf, len, key, &m, err, errlen);
	if (r < 0)
		return r;
	if (stat(dir, &st) == 0) {
		/*
		 * The top manifest of several hosts lists no files: the
		 * directory may hold this node's own part already.
		 */
		if (m.nr_files) {
			snprintf(err, errlen, "%s is here without its %s: not fetched over it", dir,
				 name);
			r = -EEXIST;
		} else {
			r = put_file(dir, name, buf, len);
			if (r < 0)
				snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(-r));
		}
		goto out;
	}
	parent = strdup(dir);
	if (!parent || asprintf(&tmp, "%s.fetch-XXXXXX", dir) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	/* A node-local directory: its parents may not be here yet. */
	*strrchr(parent, '/') = '\0';
	r = *parent ? mkdir_p(parent, 0700) : 0;
	if (r < 0 || !mkdtemp(tmp)) {
		r = r < 0 ? r : neg_errno();
		snprintf(err, errlen, "%s: %s", *parent ? parent : "/", strerror(-r));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = neg_errno();
		goto out;
	}
	r = put_file(tmp, name, buf, len);
	if (r == 0)
		r = fetch_files(host, dir, &m, dirfd, err, errlen);
	if (r == 0 && fsync(dirfd) < 0)
		r = neg_errno();
	if (r == 0 && rename(tmp, dir) < 0) {
		r = neg_errno();
		/* Another restore fetched it meanwhile: that one is as good. */
		if (r == -EEXIST || r == -ENOTEMPTY)
			r = 0;
		else
			snprintf(err, errlen, "%s: %s", dir, strerror(-r));
	} else if (r == 0) {
		free(tmp);
		tmp = NULL;
	}
	if (r < 0 && !err[0])
		snprintf(err, errlen, "fetching %s:%s: %s", host, dir, strerror(-r));
out:
	if (tmp)
		rm_rf(tmp);
	manifest_free(&m);
	return r;
}
