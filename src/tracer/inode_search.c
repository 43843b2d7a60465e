/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding a path for an inode by looking for it: see inode_search.h.  The
 * computation is frozen meanwhile, so the search is bounded and a directory
 * entry costs one getdents record unless its inode number is one looked for.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tracer/inode_search.h"
#include "tracer/procfs.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

struct cached_inode {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct inode_cache {
	struct cached_inode *v;
	size_t n;
};

struct inode_cache *inode_cache_new(void)
{
	return calloc(1, sizeof(struct inode_cache));
}

void inode_cache_free(struct inode_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	free(c);
}

static const char *cache_find(const struct inode_cache *c, dev_t dev, ino_t ino)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->v[i].dev == dev && c->v[i].ino == ino)
			return c->v[i].path;
	return NULL;
}

static int cache_add(struct inode_cache *c, dev_t dev, ino_t ino, const char *path)
{
	struct cached_inode *v;
	char *dup;

	if (!c || cache_find(c, dev, ino))
		return 0;
	dup = strdup(path);
	v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!dup || !v) {
		free(dup);
		if (v)
			c->v = v;
		return -ENOMEM;
	}
	c->v = v;
	c->v[c->n++] = (struct cached_inode){ dev, ino, dup };
	return 0;
}

/* Directories already listed, by device and inode: open addressing. */
struct dir_set {
	struct { dev_t dev; ino_t ino; bool used; } *v;
	size_t cap, n;
};

static size_t dir_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;

	return (size_t)(h >> 17) & (cap - 1);
}

/* 1 when newly added, 0 when there already, -ENOMEM. */
static int dir_set_add(struct dir_set *s, dev_t dev, ino_t ino)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct dir_set bigger = { .cap = s->cap ? 2 * s->cap : 256 };

		bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
		if (!bigger.v)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++)
			if (s->v[k].used)
				dir_set_add(&bigger, s->v[k].dev, s->v[k].ino);
		free(s->v);
		*s = bigger;
	}
	for (i = dir_hash(dev, ino, s->cap); s->v[i].used; i = (i + 1) & (s->cap - 1))
		if (s->v[i].dev == dev && s->v[i].ino == ino)
			return 0;
	s->v[i].used = true;
	s->v[i].dev = dev;
	s->v[i].ino = ino;
	s->n++;
	return 1;
}

struct walk_dir {
	char *path;
	unsigned int depth;
};

struct search {
	int root;			/* /proc/PID/root */
	struct inode_query *q;
	size_t n, left;
	size_t budget;			/* directory entries still to look at */
	struct dir_set listed, walked;
	struct walk_dir *queue;
	size_t head, tail, cap;
};

/* path as the process would resolve it: absolute symbolic links stay in its root. */
static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));

	return fd < 0 ? neg_errno() : (int)fd;
}

static bool is_target_dev(const struct search *s, dev_t dev)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->q[i].path && s->q[i].dev == dev)
			return true;
	return false;
}

/*
 * Whatever way path was found, it only counts if the process, resolving it,
 * would reach the same inode: the answer is checked so.
 */
static int take_if_same(struct search *s, const char *path, dev_t dev, ino_t ino)
{
	_cleanup_close_ int fd = -1;
	struct stat st = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		if (s->q[i].path || s->q[i].dev != dev || s->q[i].ino != ino)
			continue;
		if (fd < 0) {
			fd = open_in_root(s->root, path, O_PATH | O_NOFOLLOW);
			if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
				return 0;
		}
		s->q[i].path = strdup(path);
		if (!s->q[i].path)
			return -ENOMEM;
		s->q[i].symlink = S_ISLNK(st.st_mode);
		s->left--;
	}
	return 0;
}

static bool wanted_ino(const struct search *s, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->q[i].path && s->q[i].dev == dev && s->q[i].ino == ino)
			return true;
	return false;
}

static int join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", strcmp(dir, "/") ? dir : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int enqueue(struct search *s, const char *path, unsigned int depth)
{
	char *dup;

	if (s->tail == s->cap) {
		/* Room is made at the front first: a long walk would grow without bound. */
		if (s->head > s->cap / 2) {
			memmove(s->queue, s->queue + s->head, (s->tail - s->head) * sizeof(*s->queue));
			s->tail -= s->head;
			s->head = 0;
		} else {
			size_t ncap = s->cap ? 2 * s->cap : 64;
			struct walk_dir *q = realloc(s->queue, ncap * sizeof(*q));

			if (!q)
				return -ENOMEM;
			s->queue = q;
			s->cap = ncap;
		}
	}
	dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	s->queue[s->tail++] = (struct walk_dir){ dup, depth };
	return 0;
}

/*
 * Look at path itself and at its entries; with walk, the subdirectories
 * (up to depth INODE_SEARCH_DEPTH) go on the queue.  What cannot be opened
 * or read is passed over: the search only finds, it never needs everything.
 */
static int look_in(struct search *s, const char *path, unsigned int depth, bool walk)
{
	_cleanup_close_ int fd = open_in_root(s->root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r;

	if (fd < 0)
		return fd == -ENOMEM ? fd : 0;
	if (fstat(fd, &st) < 0)
		return 0;
	r = dir_set_add(walk ? &s->walked : &s->listed, st.st_dev, st.st_ino);
	if (r <= 0)
		return r;
	r = take_if_same(s, path, st.st_dev, st.st_ino);
	if (r < 0 || !s->left || !is_target_dev(s, st.st_dev))
		return r;
	d = fdopendir(fd);
	if (!d)
		return neg_errno() == -ENOMEM ? -ENOMEM : 0;
	fd = -1;
	while (s->left && s->budget && (de = readdir(d))) {
		char child[PATH_MAX];
		bool dir = de->d_type == DT_DIR;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		s->budget--;
		if (join(child, sizeof(child), path, de->d_name) < 0)
			continue;
		/* d_ino of a mount point is the covered directory's: its root is looked at when opened. */
		if (wanted_ino(s, st.st_dev, de->d_ino)) {
			struct stat cs;

			if (fstatat(dirfd(d), de->d_name, &cs, AT_SYMLINK_NOFOLLOW) == 0) {
				r = take_if_same(s, child, cs.st_dev, cs.st_ino);
				if (r < 0)
					break;
			}
		}
		if (!walk || depth >= INODE_SEARCH_DEPTH)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat cs;

			dir = fstatat(dirfd(d), de->d_name, &cs, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISDIR(cs.st_mode);
		}
		if (dir) {
			r = enqueue(s, child, depth + 1);
			if (r < 0)
				break;
		}
	}
	closedir(d);
	return r < 0 ? r : 0;
}

static int walk_below(struct search *s, const char *start)
{
	int r = enqueue(s, start, 0);

	while (r == 0 && s->head < s->tail) {
		struct walk_dir w = s->queue[s->head++];

		if (s->left && s->budget)
			r = look_in(s, w.path, w.depth, true);
		free(w.path);
	}
	/* What an early stop left queued. */
	while (s->head < s->tail)
		free(s->queue[s->head++].path);
	s->head = s->tail = 0;
	return r;
}

struct path_list {
	char **v;
	size_t n;
};

static void path_list_free(struct path_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int path_list_add(struct path_list *l, const char *path, size_t len)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n] = strndup(path, len);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

/* A file's path and every directory above it. */
static int add_with_parents(struct path_list *l, const char *path, size_t len)
{
	static const char deleted[] = " (deleted)";
	int r;

	if (!len || path[0] != '/')
		return 0;
	if (len >= sizeof(deleted) && !memcmp(path + len - (sizeof(deleted) - 1), deleted,
					     sizeof(deleted) - 1))
		return 0;
	while (len > 1) {
		r = path_list_add(l, path, len);
		if (r < 0)
			return r;
		while (len > 1 && path[len - 1] != '/')
			len--;
		if (len > 1)
			len--;	/* the slash, but not the root's */
	}
	return path_list_add(l, "/", 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_fd_paths(struct path_list *l, pid_t pid)
{
	char dir[64], link[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while (r == 0 && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

		if (n > 0)
			r = add_with_parents(l, link, (size_t)n);
	}
	closedir(d);
	return r;
}

static int add_mapped_paths(struct path_list *l, pid_t pid)
{
	_cleanup_free_ char *maps = NULL;
	char path[64], *line, *save = NULL;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (read_file_at(AT_FDCWD, path, &maps, NULL) < 0)
		return 0;
	for (line = strtok_r(maps, "\n", &save); r == 0 && line; line = strtok_r(NULL, "\n", &save)) {
		struct maps_entry e;

		if (parse_maps_line(line, &e) == 0)
			r = add_with_parents(l, e.path, e.path_len);
	}
	return r;
}

/* $HOME of the environment the process started with: cheap, and often right. */
static int add_home(struct path_list *l, pid_t pid)
{
	_cleanup_free_ char *env = NULL;
	char path[64];
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	if (read_file_at(AT_FDCWD, path, &env, &len) < 0)
		return 0;
	for (size_t off = 0; off < len; off += strlen(env + off) + 1)
		if (!strncmp(env + off, "HOME=/", 6))
			return path_list_add(l, env + off + 5, strlen(env + off + 5));
	return 0;
}

/* The mount points (\ooo escapes undone) in pid's root of the devices still looked for. */
static int add_mounts(struct path_list *l, const struct search *s, pid_t pid)
{
	_cleanup_free_ char *mi = NULL;
	char path[64], *line, *save = NULL;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if (read_file_at(AT_FDCWD, path, &mi, NULL) < 0)
		return 0;
	for (line = strtok_r(mi, "\n", &save); r == 0 && line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int ma, mi_;
		char point[PATH_MAX], plain[PATH_MAX];
		size_t k = 0;

		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &ma, &mi_, point) != 3 ||
		    !is_target_dev(s, makedev(ma, mi_)))
			continue;
		for (const char *p = point; *p && k < sizeof(plain) - 1; p++) {
			unsigned int c;

			if (p[0] == '\\' && sscanf(p + 1, "%3o", &c) == 1 && p[1] && p[2] && p[3]) {
				plain[k++] = (char)c;
				p += 3;
			} else {
				plain[k++] = *p;
			}
		}
		plain[k] = '\0';
		r = path_list_add(l, plain, k);
	}
	return r;
}

static int search_run(struct search *s, pid_t pid)
{
	struct path_list near = { 0 }, starts = { 0 };
	char path[64], cwd[PATH_MAX];
	ssize_t n;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = '\0';
	r = add_with_parents(&near, cwd, n > 0 ? (size_t)n : 0);
	if (r == 0)
		r = add_fd_paths(&near, pid);
	if (r == 0)
		r = add_mapped_paths(&near, pid);
	if (r == 0 && cwd[0] == '/')
		r = path_list_add(&starts, cwd, strlen(cwd));
	if (r == 0)
		r = add_home(&starts, pid);
	if (r == 0)
		r = add_mounts(&starts, s, pid);
	if (r == 0)
		r = add_with_parents(&near, "/", 1);
	if (r < 0)
		goto out;

	qsort(near.v, near.n, sizeof(*near.v), cmp_str);
	for (size_t i = 0; r == 0 && s->left && s->budget && i < near.n; i++)
		if (!i || strcmp(near.v[i], near.v[i - 1]))
			r = look_in(s, near.v[i], 0, false);
	for (size_t i = 0; r == 0 && s->left && s->budget && i < starts.n; i++)
		r = walk_below(s, starts.v[i]);
out:
	path_list_free(&near);
	path_list_free(&starts);
	return r;
}

int inode_search(struct inode_cache *cache, pid_t pid, struct inode_query *q, size_t n,
		 size_t *entries)
{
	struct search s = { .q = q, .n = n, .budget = INODE_SEARCH_ENTRIES };
	char root[64];
	int r = 0;

	*entries = 0;
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	s.root = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.root < 0)
		return neg_errno();
	for (size_t i = 0; i < n; i++) {
		q[i].path = NULL;
		s.left++;
	}
	/* A path found before still counts only if it still leads there. */
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *known = cache_find(cache, q[i].dev, q[i].ino);

		if (known && !q[i].path)
			r = take_if_same(&s, known, q[i].dev, q[i].ino);
	}
	if (r == 0 && s.left)
		r = search_run(&s, pid);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (q[i].path)
			r = cache_add(cache, q[i].dev, q[i].ino, q[i].path);
	*entries = INODE_SEARCH_ENTRIES - s.budget;
	log_debug("pid %d: inode search: %zu of %zu found, %zu entries looked at", pid,
		  n - s.left, n, *entries);
	close(s.root);
	free(s.walked.v);
	free(s.listed.v);
	free(s.queue);
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			free(q[i].path);
			q[i].path = NULL;
		}
	}
	return r;
}
