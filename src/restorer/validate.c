/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/fileid.h"
#include "restorer/validate.h"
#include "util/log.h"
#include "util/macro.h"

int validate_cpu(const struct computation *c, char *err, size_t errlen)
{
	struct cpu_record here;
	char missing[1024], then[96], now[96];

	cpu_record_host(&here);
	if (!cpu_record_missing(&c->cpu, &here, missing, sizeof(missing)))
		return 0;
	cpu_record_describe(&c->cpu, then, sizeof(then));
	cpu_record_describe(&here, now, sizeof(now));
	snprintf(err, errlen, "this CPU lacks %s (the image was made on %s; this is %s): restore it on a CPU that has them",
		 missing, then, now);
	return -ENOEXEC;
}

/* A file named in an image goes into a terminal: no control characters. */
static void printable(const char *s, char *out, size_t len)
{
	size_t i = 0;

	for (; *s && i + 1 < len; s++, i++)
		out[i] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[i] = '\0';
}

struct file_key {
	uint64_t dev, ino;
};

struct file_checks {
	const struct computation *c;
	bool ignore;
	/* Files the program writes: their changes are its own. */
	struct file_key *written;
	size_t nr_written;
	/* Names already compared, each once. */
	const char **seen;
	size_t nr_seen, cap_seen;
	size_t nr_bad;
	char *err;
	size_t errlen, errpos;
};

static bool written(const struct file_checks *fc, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < fc->nr_written; i++)
		if (fc->written[i].dev == dev && fc->written[i].ino == ino)
			return true;
	return false;
}

static int collect_written(struct file_checks *fc)
{
	const struct computation *c = fc->c;
	size_t n = 0;

	for (size_t i = 0; i < c->nr_procs; i++)
		n += c->procs[i].nr_fds + c->procs[i].nr_vmas;
	fc->written = calloc(n ? n : 1, sizeof(*fc->written));
	if (!fc->written)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_fds; k++)
			if (p->fds[k].kind == FD_REGULAR && (p->fds[k].flags & O_ACCMODE) != O_RDONLY)
				fc->written[fc->nr_written++] =
					(struct file_key){ p->fds[k].dev, p->fds[k].ino };
		for (size_t k = 0; k < p->nr_vmas; k++)
			if (p->vmas[k].kind == VMA_FILE_SHARED && (p->vmas[k].prot & PROT_WRITE))
				fc->written[fc->nr_written++] =
					(struct file_key){ p->vmas[k].dev, p->vmas[k].ino };
	}
	return 0;
}

static int mark_seen(struct file_checks *fc, const char *path)
{
	for (size_t i = 0; i < fc->nr_seen; i++)
		if (!strcmp(fc->seen[i], path))
			return 1;
	if (fc->nr_seen == fc->cap_seen) {
		size_t ncap = fc->cap_seen ? fc->cap_seen * 2 : 64;
		const char **n = realloc(fc->seen, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		fc->seen = n;
		fc->cap_seen = ncap;
	}
	fc->seen[fc->nr_seen++] = path;
	return 0;
}

static void problem(struct file_checks *fc, pid_t pid, const char *path, const char *what)
{
	char name[PATH_MAX];
	int n;

	printable(path, name, sizeof(name));
	fc->nr_bad++;
	if (fc->ignore) {
		log_warn("pid %d: %s %s; going on (--ignore-changed-files)", pid, name, what);
		return;
	}
	if (fc->errpos >= fc->errlen)
		return;
	n = snprintf(fc->err + fc->errpos, fc->errlen - fc->errpos, "%spid %d: %s %s",
		     fc->errpos ? "\n" : "", pid, name, what);
	if (n > 0)
		fc->errpos = MIN(fc->errpos + (size_t)n, fc->errlen);
}

/*
 * The file at path now, as file_id_read sees it; 1: size and mtime only (we
 * may not read it: an execute-only program).
 */
static int id_now(const char *path, struct file_id *now)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	/* Never open a FIFO or a device a damaged image names: it could block. */
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == EACCES) {
		file_id_from_stat(&st, now);
		return 1;
	}
	if (fd < 0)
		return -errno;
	return file_id_read(fd, now);
}

static int check_one(struct file_checks *fc, pid_t pid, const char *path,
		     const struct file_id *then)
{
	struct file_id now;
	char why[512], what[600];
	int r;

	if (!path || path[0] != '/' || !(then->flags & FILE_ID_F_KNOWN))
		return 0;
	r = mark_seen(fc, path);
	if (r)
		return r < 0 ? r : 0;
	r = id_now(path, &now);
	if (r == -ENOENT) {
		problem(fc, pid, path, "is gone since the dump");
		return 0;
	}
	if (r == -EINVAL) {
		problem(fc, pid, path, "is no regular file any more");
		return 0;
	}
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot be compared with the dump's: %s", strerror(-r));
		problem(fc, pid, path, what);
		return 0;
	}
	if (r == 1) {
		/* No build-id to compare with: size and mtime must do. */
		struct file_id known = *then;

		known.flags &= ~FILE_ID_F_BUILD_ID;
		if (file_id_same(&known, &now, why, sizeof(why)))
			return 0;
	} else if (file_id_same(then, &now, why, sizeof(why))) {
		return 0;
	}
	snprintf(what, sizeof(what), "changed since the dump (%s)", why);
	problem(fc, pid, path, what);
	return 0;
}

static int check_process(struct file_checks *fc, const struct process_record *p)
{
	int r;

	if (p->zombie)
		return 0;
	r = check_one(fc, p->pid, p->mm.exe, &p->mm.exe_id);
	for (size_t i = 0; i < p->nr_vmas && r == 0; i++) {
		const struct vma_record *v = &p->vmas[i];

		if (v->kind != VMA_FILE_PRIVATE && v->kind != VMA_FILE_SHARED)
			continue;
		if ((v->flags & VMA_F_DELETED) || written(fc, v->dev, v->ino))
			continue;
		r = check_one(fc, p->pid, v->path, &v->file_id);
	}
	for (size_t i = 0; i < p->nr_fds && r == 0; i++) {
		const struct fd_record *f = &p->fds[i];

		if (f->kind != FD_REGULAR || f->deleted || written(fc, f->dev, f->ino))
			continue;
		r = check_one(fc, p->pid, f->path, &f->file_id);
	}
	return r;
}

int validate_files(const struct computation *c, bool ignore_changed, char *err, size_t errlen)
{
	struct file_checks fc = { .c = c, .ignore = ignore_changed, .err = err,
				  .errlen = errlen };
	int r;

	if (errlen)
		err[0] = '\0';
	r = collect_written(&fc);
	for (size_t i = 0; i < c->nr_procs && r == 0; i++)
		r = check_process(&fc, &c->procs[i]);
	free(fc.written);
	free(fc.seen);
	if (r < 0) {
		snprintf(err, errlen, "comparing the image's files with this host's: %s",
			 strerror(-r));
		return r;
	}
	if (!fc.nr_bad || ignore_changed)
		return 0;
	if (fc.errpos < errlen)
		snprintf(err + fc.errpos, errlen - fc.errpos,
			 "\n(the program would run with other files than it was dumped with; restore --ignore-changed-files goes on anyway)");
	return -ESTALE;
}
