/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding and seizing the computation at dump time.  Nothing of it is traced
 * between checkpoints, so its threads are found by walking its tree of
 * processes: from init's children in its pid namespace, from the root of an
 * attached tree, or from the supervisor's own children (a restore without a
 * pid namespace).  A process's threads are seized before its children are
 * listed: with PTRACE_O_TRACEFORK|CLONE a child born after that is seized by
 * the kernel, one born before is in the list.  A thread cloned by one not
 * seized yet is not: hence walks until one finds nothing new.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "ptrace/seize.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define WALK_DEPTH_MAX 256
#define SEIZE_WALKS_MAX 1000

typedef int (*visit_fn)(struct session *s, pid_t pid, void *arg);

static int walk_below(struct session *s, pid_t pid, bool visit_self, int depth, visit_fn fn,
		      void *arg)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (depth > WALK_DEPTH_MAX)
		return -ELOOP;
	if (visit_self) {
		r = fn(s, pid, arg);
		if (r < 0)
			return r;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone meanwhile: its children went to init */
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *children = NULL;
		char cpath[96];
		char *p, *end;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
		if (read_file_at(AT_FDCWD, cpath, &children, NULL) < 0)
			continue;
		for (p = children; r >= 0; p = end) {
			pid_t child = strtol(p, &end, 10);

			if (end == p)
				break;
			/* A dump's worker is the supervisor's child too. */
			if (child == getpid())
				continue;
			r = walk_below(s, child, true, depth + 1, fn, arg);
		}
	}
	closedir(d);
	return r;
}

static int walk_tree(struct session *s, visit_fn fn, void *arg)
{
	if (s->attached)
		return walk_below(s, s->root, true, 0, fn, arg);
	if (s->init_pid)
		return walk_below(s, s->init_pid, false, 0, fn, arg);
	/* Restored without a pid namespace: its top processes are ours. */
	return walk_below(s, s->supervisor_pid, false, 0, fn, arg);
}

struct pid_list {
	pid_t *v;
	size_t n, cap;
};

static int add_pid(struct session *s, pid_t pid, void *arg)
{
	struct pid_list *l = arg;

	(void)s;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		pid_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pid;
	return 0;
}

int session_list_pids(struct session *s, pid_t **pids, size_t *nr)
{
	struct pid_list l = { 0 };
	int r = walk_tree(s, add_pid, &l);

	if (r < 0) {
		free(l.v);
		return r;
	}
	*pids = l.v;
	*nr = l.n;
	return 0;
}

/* Why tid cannot be seized, by name: above all, somebody else traces it. */
static int refuse(pid_t pid, pid_t tid, int r, char *err, size_t errlen)
{
	pid_t tracer = ptrace_tracer_of(tid);
	_cleanup_free_ char *comm = NULL;
	char path[64];

	if (tracer > 0 && tracer != getpid()) {
		snprintf(path, sizeof(path), "/proc/%d/comm", tracer);
		if (read_file_at(AT_FDCWD, path, &comm, NULL) == 0)
			comm[strcspn(comm, "\n")] = '\0';
		snprintf(err, errlen,
			 "pid %d thread %d is traced by pid %d (%s): a debugger or tracer holds it; "
			 "not dumped, both left running (detach it and dump again)",
			 pid, tid, tracer, comm ? comm : "?");
		return -EBUSY;
	}
	snprintf(err, errlen, "pid %d thread %d: PTRACE_SEIZE: %s", pid, tid, strerror(-r));
	return r;
}

struct seize_pass {
	bool added;
	char *err;
	size_t errlen;
};

/* Seize thread tid of process pid unless it is ours already. */
static int seize_thread(struct session *s, pid_t pid, pid_t tid, struct seize_pass *sp)
{
	struct tracee *t;
	int r;

	if (tid <= 0 || session_find(s, tid))
		return 0;
	/* A zombie cannot be seized; a dump finds it through its parent. */
	if (!ptrace_thread_alive(pid, tid))
		return 0;
	r = ptrace_seize_thread(tid, SESSION_PTRACE_OPTIONS);
	if (r < 0) {
		if (r == -ESRCH || !ptrace_thread_alive(pid, tid))
			return 0;	/* exited meanwhile */
		/*
		 * Ours already: born of a seized thread, its event not
		 * waited for yet.  Its first stop comes.
		 */
		if (ptrace_tracer_of(tid) == getpid()) {
			if (!session_add(s, tid, pid))
				return -ENOMEM;
			sp->added = true;
			return 0;
		}
		return refuse(pid, tid, r, sp->err, sp->errlen);
	}
	t = session_add(s, tid, pid);
	if (!t)
		return -ENOMEM;
	t->new_child = false;
	sp->added = true;
	return 0;
}

static int seize_threads(struct session *s, pid_t pid, void *arg)
{
	struct seize_pass *sp = arg;
	char path[64];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone meanwhile */
	while (r >= 0 && (de = readdir(d)))
		r = seize_thread(s, pid, strtol(de->d_name, NULL, 10), sp);
	closedir(d);
	return r;
}

/* One walk: seize what is new; *added says whether there was any. */
int session_seize_pass(struct session *s, bool *added, char *err, size_t errlen)
{
	char buf[512];
	struct seize_pass sp = { .err = err ? err : buf, .errlen = err ? errlen : sizeof(buf) };
	int r;

	sp.err[0] = '\0';
	r = walk_tree(s, seize_threads, &sp);
	*added = sp.added;
	if (r < 0 && !sp.err[0])
		snprintf(sp.err, sp.errlen, "walking the processes of the computation: %s",
			 strerror(-r));
	if (r < 0 && !err)
		log_err("%s", buf);
	return r;
}

int session_seize_all(struct session *s, char *err, size_t errlen)
{
	for (int i = 0; i < SEIZE_WALKS_MAX; i++) {
		bool added;
		int r = session_seize_pass(s, &added, err, errlen);

		if (r < 0 || !added)
			return r;
	}
	if (err)
		snprintf(err, errlen, "the computation makes new threads faster than they can be seized");
	return -EAGAIN;
}

/* The threads listed in the cgroup dir_fd and in those below it (a program's own). */
static int seize_cgroup_dir(struct session *s, int dir_fd, const char *path, int depth,
			    struct seize_pass *sp)
{
	_cleanup_free_ char *threads = NULL;
	struct dirent *de;
	char *p, *end;
	DIR *d;
	int fd, r;

	if (depth > WALK_DEPTH_MAX)
		return -ELOOP;
	r = read_file_at(dir_fd, "cgroup.threads", &threads, NULL);
	if (r < 0) {
		snprintf(sp->err, sp->errlen, "%s/cgroup.threads: %s", path, strerror(-r));
		return r;
	}
	for (p = threads; r >= 0; p = end) {
		pid_t tid = strtol(p, &end, 10), tgid;

		if (end == p)
			break;
		if (session_find(s, tid))
			continue;
		tgid = ptrace_tgid_of(tid);
		if (tgid > 0)
			r = seize_thread(s, tgid, tid, sp);
	}
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r < 0 || fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_close_ int sub = -1;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			r = seize_cgroup_dir(s, sub, path, depth + 1, sp);
	}
	closedir(d);
	return r;
}

int session_seize_cgroup(struct session *s, char *err, size_t errlen)
{
	char buf[512];
	struct seize_pass sp = { .err = err ? err : buf, .errlen = err ? errlen : sizeof(buf) };
	int r;

	sp.err[0] = '\0';
	r = seize_cgroup_dir(s, s->cgroup_fd, s->cgroup_path, 0, &sp);
	if (r < 0 && !err)
		log_err("%s", buf);
	return r;
}
