/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "proto/model.h"
#include "tracer/procfs.h"

int parse_maps_line(const char *line, struct maps_entry *e)
{
	char perms[5];
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n",
		   &e->start, &e->end, perms, &e->pgoff, &e->dev_major, &e->dev_minor,
		   &e->ino, &n) != 7)
		return -EINVAL;
	if (strlen(perms) != 4 || e->end <= e->start)
		return -EINVAL;
	e->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	e->shared = perms[3] == 's';
	line += n;
	while (*line == ' ')
		line++;
	e->path = line;
	e->path_len = strcspn(line, "\n");
	return 0;
}

int parse_stat(const char *buf, struct proc_stat *st)
{
	const char *p = strrchr(buf, ')');
	unsigned long long f[52];
	char *end;
	int i;

	memset(st, 0, sizeof(*st));
	if (!p || p[1] != ' ')
		return -EINVAL;
	st->pid = strtol(buf, NULL, 10);
	st->state = p[2];
	p += 3;
	/* f[k] is field k + 1 in proc(5) numbering, from field 4 on. */
	for (i = 3; i < 52; i++) {
		f[i] = strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
	}
	if (i < 51)
		return -EINVAL;
	st->exit_code = i > 51 ? (int)f[51] : 0;
	st->ppid = f[3];
	st->pgrp = f[4];
	st->session = f[5];
	st->tty_nr = (uint32_t)f[6];
	st->start_time = f[21];
	st->start_code = f[25];
	st->end_code = f[26];
	st->start_stack = f[27];
	st->start_data = f[44];
	st->end_data = f[45];
	st->start_brk = f[46];
	st->arg_start = f[47];
	st->arg_end = f[48];
	st->env_start = f[49];
	st->env_end = f[50];
	return 0;
}

static const char *find_key(const char *buf, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return p + klen + 1;
	return NULL;
}

int parse_status_u64(const char *buf, const char *key, int base, uint64_t *v)
{
	const char *p = find_key(buf, key);
	char *end;

	if (!p)
		return -ENOENT;
	*v = strtoull(p, &end, base);
	return end == p ? -EINVAL : 0;
}

int parse_status_last_u64(const char *buf, const char *key, uint64_t *v)
{
	const char *p = find_key(buf, key);
	int found = -EINVAL;

	if (!p)
		return -ENOENT;
	while (*p && *p != '\n') {
		char *end;
		unsigned long long x = strtoull(p, &end, 10);

		if (end == p) {
			p++;
			continue;
		}
		*v = x;
		found = 0;
		p = end;
	}
	return found;
}

int parse_status_name(const char *buf, char out[16])
{
	const char *p = find_key(buf, "Name");
	size_t n = 0;

	if (!p)
		return -ENOENT;
	if (*p == '\t')
		p++;
	/* The kernel escapes a newline and a backslash of the name, nothing else. */
	for (; *p && *p != '\n' && n < 15; p++) {
		if (*p == '\\' && (p[1] == 'n' || p[1] == '\\'))
			out[n++] = *++p == 'n' ? '\n' : '\\';
		else
			out[n++] = *p;
	}
	if (*p && *p != '\n')
		return -EINVAL;
	memset(out + n, 0, 16 - n);
	return 0;
}

static int parse_pair_ns(const char *buf, const char *key, uint64_t *ns)
{
	const char *p = find_key(buf, key);
	long long sec, nsec;

	if (!p || sscanf(p, " (%lld, %lld)", &sec, &nsec) != 2 || sec < 0 || nsec < 0)
		return -EINVAL;
	*ns = (uint64_t)sec * 1000000000ull + (uint64_t)nsec;
	return 0;
}

int parse_timerfd_fdinfo(const char *buf, struct timerfd_info *ti)
{
	uint64_t v;

	memset(ti, 0, sizeof(*ti));
	if (parse_status_u64(buf, "clockid", 10, &v) < 0)
		return -EINVAL;
	ti->clockid = v;
	if (parse_status_u64(buf, "ticks", 10, &ti->ticks) < 0)
		return -EINVAL;
	if (parse_status_u64(buf, "settime flags", 8, &v) == 0)
		ti->settime_flags = v;
	if (parse_pair_ns(buf, "it_value", &ti->value_ns) < 0 ||
	    parse_pair_ns(buf, "it_interval", &ti->interval_ns) < 0)
		return -EINVAL;
	return 0;
}

int parse_epoll_fdinfo(const char *buf, struct epoll_watch **out, size_t *nr)
{
	struct epoll_watch *w = NULL;
	size_t n = 0;

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		int tfd;
		unsigned int events;
		unsigned long long data;
		struct epoll_watch *g;

		if (strncmp(p, "tfd:", 4))
			continue;
		if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3) {
			free(w);
			return -EINVAL;
		}
		g = realloc(w, (n + 1) * sizeof(*w));
		if (!g) {
			free(w);
			return -ENOMEM;
		}
		w = g;
		w[n++] = (struct epoll_watch){ .tfd = tfd, .events = events, .data = data };
	}
	*out = w;
	*nr = n;
	return 0;
}

/* "lock:\t1: POSIX  ADVISORY  WRITE 4965 fe:00:10954106 10 109" */
static int parse_lock_line(const char *line, struct file_lock_record *l)
{
	char kind[16], mode[16], rw[16], end[24];
	unsigned long long start;
	int id, pid;

	if (sscanf(line, "%d: %15s %15s %15s %d %*s %llu %23s", &id, kind, mode, rw, &pid, &start,
		   end) != 7)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	if (!strcmp(kind, "POSIX"))
		l->kind = FILE_LOCK_POSIX;
	else if (!strcmp(kind, "FLOCK"))
		l->kind = FILE_LOCK_FLOCK;
	else if (!strcmp(kind, "OFDLCK"))
		l->kind = FILE_LOCK_OFD;
	else
		l->kind = FILE_LOCK_OTHER;
	if (!strcmp(rw, "READ"))
		l->type = F_RDLCK;
	else if (!strcmp(rw, "WRITE"))
		l->type = F_WRLCK;
	else
		l->kind = FILE_LOCK_OTHER;
	l->start = start;
	if (strcmp(end, "EOF")) {
		char *e;
		unsigned long long last = strtoull(end, &e, 10);

		if (*e || last < start)
			return -EINVAL;
		l->len = last - start + 1;
	}
	return 0;
}

int parse_fdinfo_locks(const char *buf, struct file_lock_record **out, size_t *nr)
{
	struct file_lock_record *v = NULL;
	size_t n = 0;

	*out = NULL;
	*nr = 0;
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		struct file_lock_record *nv;

		if (strncmp(p, "lock:", 5))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		if (parse_lock_line(p + 5, &v[n]) < 0) {
			free(v);
			return -EINVAL;
		}
		n++;
	}
	*out = v;
	*nr = n;
	return 0;
}

int parse_fdinfo(const char *buf, uint64_t *pos, uint32_t *flags)
{
	uint64_t f;
	int r;

	r = parse_status_u64(buf, "pos", 10, pos);
	if (r < 0)
		return r;
	r = parse_status_u64(buf, "flags", 8, &f);
	if (r < 0)
		return r;
	*flags = (uint32_t)f;
	return 0;
}

uint32_t parse_vmflags(const char *value)
{
	static const struct {
		char code[3];
		uint32_t bit;
	} known[] = {
		{ "hg", VMA_F_HUGEPAGE }, { "nh", VMA_F_NOHUGEPAGE }, { "dc", VMA_F_DONTFORK },
		{ "wf", VMA_F_WIPEONFORK }, { "dd", VMA_F_DONTDUMP }, { "mg", VMA_F_MERGEABLE },
		{ "ht", VMA_F_HUGETLB }, { "nr", VMA_F_NORESERVE },
	};
	uint32_t bits = 0;

	for (const char *p = value; *p && *p != '\n';) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t\n");
		for (size_t i = 0; n == 2 && i < sizeof(known) / sizeof(known[0]); i++)
			if (!memcmp(p, known[i].code, 2))
				bits |= known[i].bit;
		p += n;
	}
	return bits;
}

int parse_inotify_watch_line(const char *line, struct inotify_watch_line *w)
{
	unsigned int wd, mask, ignored, bytes;
	unsigned long long ino, sdev;
	int type, used = 0, n;

	memset(w, 0, sizeof(*w));
	if (sscanf(line, "inotify wd:%x ino:%llx sdev:%llx mask:%x ignored_mask:%x%n", &wd, &ino,
		   &sdev, &mask, &ignored, &used) != 5 || !used)
		return -EINVAL;
	w->wd = wd;
	w->ino = ino;
	w->sdev = sdev;
	w->mask = mask;
	line += used;
	/* The kernel leaves the handle out where the file system cannot make one. */
	n = sscanf(line, " fhandle-bytes:%x fhandle-type:%x f_handle:%256[0-9a-fA-F]", &bytes,
		   &type, w->handle_hex);
	if (n <= 0)
		return 0;
	if (n != 3 || !bytes || bytes > 128 || strlen(w->handle_hex) != 2 * (size_t)bytes) {
		memset(w->handle_hex, 0, sizeof(w->handle_hex));
		return -EINVAL;
	}
	w->handle_bytes = bytes;
	w->handle_type = type;
	return 0;
}

dev_t kernel_dev_to_dev(uint64_t kdev)
{
	return makedev((unsigned int)(kdev >> 20) & 0xfff, (unsigned int)(kdev & 0xfffff));
}

bool inotify_mask_restorable(uint32_t mask)
{
	return (mask & IN_ALL_EVENTS) && !(mask & ~(IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT));
}
