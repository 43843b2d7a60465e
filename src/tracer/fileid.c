/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The identity of every file a restore opens by name again: the
 * executables, the mapped files and the files open by path.  Read once per
 * file (by dev and inode) per dump: a hundred processes map the same libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "proto/fileid.h"
#include "tracer/fileid.h"
#include "util/log.h"
#include "util/macro.h"

struct id_cache_entry {
	uint64_t dev, ino;
	bool used;
	struct file_id id;	/* flags 0: could not be read */
};

/* Open addressing by dev and inode: 3,000 files open cost no 3,000 x 3,000. */
struct id_cache {
	struct id_cache_entry *e;
	size_t n, cap;		/* cap: a power of two, at most half full */
};

/*
 * A file we may not read (opened write-only by its owner), or whose
 * contents no restore compares (one the program writes): size and mtime.
 */
static int id_of_path(const char *path, bool contents, struct file_id *id)
{
	_cleanup_close_ int fd = -1;
	struct statfs sfs;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	/* Only regular files: opening a device or a FIFO can do things. */
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	/*
	 * /proc and /sys files are made anew for whoever looks (their mtime is
	 * when they were looked up, their /proc/PID the process's): nothing to
	 * compare at a restore.
	 */
	if (statfs(path, &sfs) == 0 &&
	    (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC ||
	     sfs.f_type == DEBUGFS_MAGIC || sfs.f_type == TRACEFS_MAGIC ||
	     sfs.f_type == CGROUP2_SUPER_MAGIC || sfs.f_type == CGROUP_SUPER_MAGIC ||
	     sfs.f_type == SECURITYFS_MAGIC || sfs.f_type == BPF_FS_MAGIC))
		return -ENOENT;
	fd = contents ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) : -1;
	if (fd >= 0)
		return file_id_read(fd, id);
	file_id_from_stat(&st, id);
	return 0;
}

static size_t slot_of(uint64_t dev, uint64_t ino, size_t cap)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

static struct id_cache_entry *find_slot(struct id_cache_entry *e, size_t cap, uint64_t dev,
					uint64_t ino)
{
	size_t i = slot_of(dev, ino, cap);

	while (e[i].used && (e[i].dev != dev || e[i].ino != ino))
		i = (i + 1) & (cap - 1);
	return &e[i];
}

static int grow(struct id_cache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 256;
	struct id_cache_entry *n = calloc(ncap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->e[i].used)
			*find_slot(n, ncap, c->e[i].dev, c->e[i].ino) = c->e[i];
	free(c->e);
	c->e = n;
	c->cap = ncap;
	return 0;
}

/*
 * The identity of the file (dev, ino), reading it from path the first
 * time.  A file that cannot be read keeps no identity: the dump does not
 * fail for it, the restore then has nothing to compare.
 */
static int lookup(struct id_cache *c, uint64_t dev, uint64_t ino, const char *path,
		  bool contents, const char *what, struct file_id *out)
{
	struct id_cache_entry *e;
	int r;

	if (2 * (c->n + 1) > c->cap && (r = grow(c)) < 0)
		return r;
	e = find_slot(c->e, c->cap, dev, ino);
	if (e->used) {
		*out = e->id;
		return 0;
	}
	e->used = true;
	e->dev = dev;
	e->ino = ino;
	c->n++;
	r = id_of_path(path, contents, &e->id);
	if (r < 0 && r != -ENOENT)
		log_warn("%s: cannot read what it is (%s): a restore will not check it", what,
			 strerror(-r));
	if (r < 0)
		memset(&e->id, 0, sizeof(e->id));
	*out = e->id;
	return 0;
}

static bool vma_file_is_named(const struct vma_record *v)
{
	return (v->kind == VMA_FILE_PRIVATE || v->kind == VMA_FILE_SHARED) && v->path &&
	       v->path[0] == '/' && !(v->flags & VMA_F_DELETED) && v->shm_kind == SHM_NONE;
}

static int process_file_ids(struct id_cache *cache, struct process_record *p)
{
	char path[PATH_MAX + 64], what[PATH_MAX + 64];
	int r;

	if (p->zombie)
		return 0;
	if (p->mm.exe) {
		snprintf(path, sizeof(path), "/proc/%d/exe", p->real_pid);
		snprintf(what, sizeof(what), "pid %d: executable %s", p->real_pid, p->mm.exe);
		r = lookup(cache, p->mm.exe_dev, p->mm.exe_ino, path, true, what,
			   &p->mm.exe_id);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->nr_vmas; i++) {
		struct vma_record *v = &p->vmas[i];

		if (!vma_file_is_named(v))
			continue;
		/* The name as the process sees it: its own root. */
		snprintf(path, sizeof(path), "/proc/%d/root%s", p->real_pid, v->path);
		snprintf(what, sizeof(what), "pid %d: mapped file %s", p->real_pid, v->path);
		r = lookup(cache, v->dev, v->ino, path, true, what, &v->file_id);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->nr_fds; i++) {
		struct fd_record *f = &p->fds[i];

		if (f->kind != FD_REGULAR || f->deleted || !S_ISREG(f->mode) || !f->path)
			continue;
		if (f->in_flight)
			snprintf(path, sizeof(path), "/proc/self/fd/%d", f->flight_fd);
		else
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->real_pid, f->fd);
		snprintf(what, sizeof(what), "pid %d fd %d: %s", p->real_pid, f->fd, f->path);
		/* The program's own output: a restore does not compare it, no need to read it. */
		r = lookup(cache, f->dev, f->ino, path, (f->flags & O_ACCMODE) == O_RDONLY, what,
			   &f->file_id);
		if (r < 0)
			return r;
	}
	return 0;
}

int collect_file_ids(struct computation *c)
{
	struct id_cache cache = { 0 };
	int r = 0;

	for (size_t i = 0; i < c->nr_procs && r == 0; i++)
		r = process_file_ids(&cache, &c->procs[i]);
	free(cache.e);
	return r;
}
