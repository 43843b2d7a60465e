/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What processes share: open file descriptions (one offset for several fds,
 * after dup, fork or SCM_RIGHTS) and pipes.  Runs once all processes are
 * collected, since sharing is only visible across them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ptrace/mem.h"
#include "tracer/collect.h"
#include "tracer/shared.h"
#include "tracer/tty.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

struct fd_ref {
	struct process_record *p;
	struct fd_record *f;
};

/* Where the fd of a record is: in its process, or ours for a file in flight. */
static pid_t ref_pid(const struct fd_ref *r)
{
	return r->f->in_flight ? getpid() : r->p->real_pid;
}

static int ref_fd(const struct fd_ref *r)
{
	return r->f->in_flight ? r->f->flight_fd : (int)r->f->fd;
}

/*
 * A total order on open file descriptions: by inode, then by the kernel's
 * own order of the file objects (kcmp), so equal neighbours share one.
 * All anon-inode fds (eventfd, epoll...) have one inode: sorting keeps
 * 10,000 of them at n log n kcmp calls.
 */
static int cmp_description(const void *x, const void *y)
{
	const struct fd_ref *a = x, *b = y;
	long k;

	if (a->f->dev != b->f->dev)
		return a->f->dev < b->f->dev ? -1 : 1;
	if (a->f->ino != b->f->ino)
		return a->f->ino < b->f->ino ? -1 : 1;
	k = syscall(SYS_kcmp, ref_pid(a), ref_pid(b), KCMP_FILE, ref_fd(a), ref_fd(b));
	if (k == 1)
		return -1;
	if (k == 2)
		return 1;
	if (k == 0)
		return 0;
	/* Unordered (3) or an error: keep a stable, distinct order. */
	return a < b ? -1 : 1;
}

static bool same_description(const struct fd_ref *a, const struct fd_ref *b)
{
	return a->f->dev == b->f->dev && a->f->ino == b->f->ino &&
	       syscall(SYS_kcmp, ref_pid(a), ref_pid(b), KCMP_FILE, ref_fd(a), ref_fd(b)) == 0;
}

static int number_descriptions(struct fd_ref *refs, size_t n)
{
	_cleanup_free_ struct fd_ref *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	uint32_t next = 0;

	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, refs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_description);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_description(&sorted[i - 1], &sorted[i]))
			next++;
		sorted[i].f->desc_id = next;
	}
	return 0;
}

/* Copy a pipe's buffered bytes into a memfd, consuming nothing (tee). */
static int peek_pipe(struct fd_ref *r, char *err, size_t errlen)
{
	_cleanup_close_ int h = -1, tmp_r = -1, tmp_w = -1, mem = -1;
	struct collect_ctx cx = { .pid = r->p->real_pid, .err = err, .errlen = errlen };
	char path[64];
	int tmp[2], size, avail = -1;
	ssize_t n, total = 0;

	/* A read end of the same pipe, whichever end the program holds. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ref_pid(r), ref_fd(r));
	h = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (h < 0)
		return collect_fail(&cx, neg_errno(), "fd %d: pipe", r->f->fd);
	size = fcntl(h, F_GETPIPE_SZ);
	if (size < 0)
		return collect_fail(&cx, neg_errno(), "fd %d: pipe size", r->f->fd);
	r->f->pipe.size = size;
	/* Nothing buffered (the common case): nothing to copy, no pipe to make. */
	if (ioctl(h, FIONREAD, &avail) == 0 && avail == 0) {
		r->f->size = 0;
		return 0;
	}
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0)
		return neg_errno();
	tmp_r = tmp[0];
	tmp_w = tmp[1];
	/*
	 * Ours must hold all that is buffered.  An ordinary user past
	 * fs.pipe-user-pages-soft gets one-page pipes only: enough when that
	 * is all there is to copy.
	 */
	if (fcntl(tmp_w, F_GETPIPE_SZ) < avail && fcntl(tmp_w, F_SETPIPE_SZ, size) < 0)
		return collect_fail(&cx, neg_errno(),
				    "fd %d: a pipe of %d bytes to copy its %d buffered bytes%s",
				    r->f->fd, size, avail,
				    errno == EPERM ? " (this user's pipe buffers are used up: "
						     "sysctl fs.pipe-user-pages-soft)" : "");
	n = tee(h, tmp_w, size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno != EAGAIN)
		return collect_fail(&cx, neg_errno(), "fd %d: tee", r->f->fd);
	mem = memfd_create("trace-ckpt-pipe", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	while (n > 0 && total < n) {
		char buf[65536];
		ssize_t got = read(tmp_r, buf, sizeof(buf));
		int e;

		if (got <= 0)
			break;
		e = write_full(mem, buf, got);
		if (e < 0)
			return e;
		total += got;
	}
	r->f->size = total;
	r->f->content_fd = TAKE_FD(mem);
	return 0;
}

static bool in_computation(const struct fd_ref *refs, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].p->real_pid == pid)
			return true;
	return false;
}

/*
 * Whether a process outside the computation holds this pipe: then its
 * missing end is out there and cannot follow.  Else that end was closed
 * everywhere (make -j's jobserver pipe), and the pipe is rebuilt so.
 */
static pid_t pipe_holder_outside(const struct fd_ref *refs, size_t n, uint64_t ino)
{
	char want[64];
	struct dirent *de;
	pid_t found = 0;
	DIR *proc = opendir("/proc");

	if (!proc)
		return 0;
	snprintf(want, sizeof(want), "pipe:[%llu]", (unsigned long long)ino);
	while (!found && (de = readdir(proc))) {
		pid_t pid = strtol(de->d_name, NULL, 10);
		char path[64];
		struct dirent *fe;
		DIR *fds;

		if (pid <= 0 || pid == getpid() || in_computation(refs, n, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char link[64];
			ssize_t l = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);

			if (l > 0) {
				link[l] = '\0';
				if (!strcmp(link, want)) {
					found = pid;
					break;
				}
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* A pipe record: its inode, and where it is in refs. */
struct pipe_ref {
	uint64_t ino;
	size_t at;
};

static int cmp_pipe_ref(const void *x, const void *y)
{
	const struct pipe_ref *a = x, *b = y;

	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return (a->at > b->at) - (a->at < b->at);
}

/* One pipe: the first of its records (in refs' order) holds its bytes. */
static int collect_pipe(struct fd_ref *refs, size_t n, const struct pipe_ref *v, size_t nr,
			char *err, size_t errlen)
{
	struct fd_ref *first = &refs[v[0].at];
	bool reader = false, writer = false;

	for (size_t k = 0; k < nr; k++) {
		struct fd_record *f = refs[v[k].at].f;

		f->content_fd = -1;
		reader |= (f->flags & O_ACCMODE) == O_RDONLY;
		writer |= (f->flags & O_ACCMODE) == O_WRONLY;
	}
	/* An anonymous pipe whose other end is outside cannot be rebuilt. */
	if (!first->f->path && !(reader && writer)) {
		struct collect_ctx cx = { .pid = first->p->real_pid, .err = err, .errlen = errlen };
		pid_t holder = pipe_holder_outside(refs, n, first->f->pipe.ino);

		if (holder)
			return collect_fail(&cx, -EOPNOTSUPP,
					    "fd %d: pipe:[%llu] shared with pid %d, outside the computation",
					    first->f->fd, (unsigned long long)first->f->pipe.ino,
					    holder);
	}
	return peek_pipe(first, err, errlen);
}

/*
 * Every pipe once, in the order of its first record, by a sorted list:
 * thousands of pipes are no n * n.
 */
static int collect_pipes(struct fd_ref *refs, size_t n, char *err, size_t errlen)
{
	_cleanup_free_ struct pipe_ref *v = malloc((n ? n : 1) * sizeof(*v));
	size_t nr = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (refs[i].f->kind == FD_PIPE)
			v[nr++] = (struct pipe_ref){ refs[i].f->pipe.ino, i };
	qsort(v, nr, sizeof(*v), cmp_pipe_ref);
	/* In refs' order, so the first failure said is the one the program's fds meet first. */
	for (size_t i = 0; i < n; i++) {
		const struct pipe_ref key = { refs[i].f->pipe.ino, i }, *hit;
		size_t g, end;
		int r;

		if (refs[i].f->kind != FD_PIPE)
			continue;
		hit = bsearch(&key, v, nr, sizeof(*v), cmp_pipe_ref);
		if (!hit)
			continue;
		g = (size_t)(hit - v);
		if (g > 0 && v[g - 1].ino == v[g].ino)
			continue;	/* not its pipe's first record */
		for (end = g + 1; end < nr && v[end].ino == v[g].ino; end++)
			;
		r = collect_pipe(refs, n, v + g, end - g, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The id, mode and size of a SysV segment, by the inode its mapping shows:
 * the kernel numbers a segment's file with its id.  (Not by key: a removed
 * segment, and every IPC_PRIVATE one, shows key 0.)
 */
static int sysv_lookup(struct vma_record *v)
{
	_cleanup_free_ char *list = NULL;
	char *line, *save = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/sysvipc/shm", &list, NULL);

	if (r < 0)
		return r;
	line = strtok_r(list, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		unsigned long long size, ino;
		int key, id, perms, cpid, lpid, nattch, uid, gid, cuid, cgid;
		long atime, dtime, ctime;

		if (sscanf(line, "%d %d %o %llu %d %d %d %d %d %d %d %ld %ld %ld %*u %*u %llu", &key,
			   &id, &perms, &size, &cpid, &lpid, &nattch, &uid, &gid, &cuid, &cgid,
			   &atime, &dtime, &ctime, &ino) < 4)
			continue;
		if (id < 0 || (uint64_t)id != v->ino)
			continue;
		v->sysv_id = id;
		v->sysv_mode = perms & 01777;	/* with SHM_DEST */
		v->shm_size = size;
		return 0;
	}
	return -ENOENT;
}

/* The first VMA, in process order, of the object v maps, if not v itself. */
static struct vma_record *shm_first(struct computation *c, size_t upto, struct vma_record *v)
{
	for (size_t a = 0; a <= upto; a++)
		for (size_t b = 0; b < c->procs[a].nr_vmas; b++) {
			struct vma_record *o = &c->procs[a].vmas[b];

			if (o == v)
				return NULL;
			if (o->shm_kind && o->dev == v->dev && o->ino == v->ino)
				return o;
		}
	return NULL;
}

/* As root (or with file capabilities): a handle on the object through the mapping itself. */
static int shm_by_map_files(struct process_record *p, struct vma_record *v,
			    struct collect_ctx *cx)
{
	char path[96];
	struct stat st;
	int fd, seals;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", p->real_pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	{
		PRIV_SCOPE(CAP_CHECKPOINT_RESTORE);

		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return collect_fail(cx, neg_errno(), "shared memory at 0x%llx",
				    (unsigned long long)v->start);
	v->content_fd = fd;
	v->shm_size = st.st_size;
	seals = fcntl(fd, F_GET_SEALS);
	v->shm_seals = seals > 0 ? seals : 0;
	/* Not listed: removed while attached (only the mapping keeps it). */
	if (v->shm_kind == SHM_SYSV && sysv_lookup(v) < 0) {
		v->sysv_id = -1;
		v->sysv_mode = SHM_DEST | (st.st_mode & 0777);
	}
	return 0;
}

/*
 * Without root, /proc/PID/map_files is closed to us (it wants
 * CAP_CHECKPOINT_RESTORE on the host), so an object is had by another way:
 * an fd of the computation on it, its bytes copied out of a process that
 * maps it, or the SysV segment attached by its id.
 */

#define SHM_COPY_BATCH (4u << 20)

static bool all_zero(const char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Write buf at off into mem, leaving zero pages as holes (the file stays sparse). */
static int write_sparse(int mem, const char *buf, size_t len, uint64_t off)
{
	for (size_t at = 0; at < len;) {
		size_t run = 0;

		while (at + run < len && !all_zero(buf + at + run, MIN((size_t)4096, len - at - run)))
			run += MIN((size_t)4096, len - at - run);
		if (run) {
			if (pwrite(mem, buf + at, run, off + at) != (ssize_t)run)
				return neg_errno();
			at += run;
		} else {
			at += MIN((size_t)4096, len - at);
		}
	}
	return 0;
}

struct shm_range {
	uint64_t off, len;
};

/*
 * The object's bytes, from the processes that map it, into mem: each part
 * once, from the first mapping that shows it.  Every page is read, touched
 * or not: a shared page may be in the object and mapped by nobody
 * (swapped, or unmapped by MADV_DONTNEED), so pagemap cannot tell which
 * pages hold data; reading a never-touched page allocates it in the object.
 */
static int copy_from_mappings(struct computation *c, const struct vma_record *v, int mem,
			      uint64_t *size, struct collect_ctx *cx)
{
	_cleanup_free_ struct shm_range *done = NULL;
	_cleanup_free_ char *buf = malloc(SHM_COPY_BATCH);
	size_t nr_done = 0, cap = 0;

	if (!buf)
		return -ENOMEM;
	*size = 0;
	for (size_t a = 0; a < c->nr_procs; a++) {
		struct process_record *p = &c->procs[a];
		struct ptrace_mem pm;
		int r = 0;

		ptrace_mem_init(&pm);
		for (size_t b = 0; b < p->nr_vmas; b++) {
			const struct vma_record *o = &p->vmas[b];
			uint64_t len = o->end - o->start;
			bool covered = false;

			if (!o->shm_kind || o->dev != v->dev || o->ino != v->ino)
				continue;
			if (o->pgoff + len > *size)
				*size = o->pgoff + len;
			for (size_t i = 0; i < nr_done && !covered; i++)
				covered = done[i].off <= o->pgoff &&
					  o->pgoff + len <= done[i].off + done[i].len;
			if (covered)
				continue;
			if (nr_done == cap) {
				struct shm_range *n = realloc(done, (cap * 2 + 4) * sizeof(*n));

				if (!n) {
					ptrace_mem_done(&pm);
					return -ENOMEM;
				}
				done = n;
				cap = cap * 2 + 4;
			}
			done[nr_done++] = (struct shm_range){ o->pgoff, len };
			for (uint64_t at = 0; at < len; at += SHM_COPY_BATCH) {
				size_t chunk = MIN((uint64_t)SHM_COPY_BATCH, len - at);

				r = ptrace_mem_read(&pm, p->real_pid, o->start + at, buf, chunk);
				if (r == 0)
					r = write_sparse(mem, buf, chunk, o->pgoff + at);
				if (r < 0) {
					struct collect_ctx pcx = *cx;

					ptrace_mem_done(&pm);
					pcx.pid = p->real_pid;
					return collect_fail(&pcx, r, "shared memory at 0x%llx: copying its bytes",
							    (unsigned long long)(o->start + at));
				}
			}
		}
		ptrace_mem_done(&pm);
	}
	if (ftruncate(mem, *size) < 0)
		return neg_errno();
	return 0;
}

/* Whether /proc/PID/smaps shows "mw" (VM_MAYWRITE) in the VmFlags of the VMA at start. */
static int vma_may_write(pid_t pid, uint64_t start, bool *may_write)
{
	_cleanup_free_ char *smaps = NULL;
	char path[64], want[32];
	const char *at, *flags;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	r = read_file_at(AT_FDCWD, path, &smaps, NULL);
	if (r < 0)
		return r;
	snprintf(want, sizeof(want), "%llx-", (unsigned long long)start);
	for (at = smaps; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
		if (!strncmp(at, want, strlen(want)))
			break;
	if (!at || !(flags = strstr(at, "\nVmFlags:")))
		return -ENOENT;
	for (flags += 9; *flags && *flags != '\n'; flags++)
		if (flags[0] == 'm' && flags[1] == 'w' && flags[-1] == ' ' &&
		    (flags[2] == ' ' || flags[2] == '\n' || !flags[2])) {
			*may_write = true;
			return 0;
		}
	*may_write = false;
	return 0;
}

/*
 * The seals of a memfd that no fd of the computation holds: F_GET_SEALS
 * needs an fd, which only map_files could give.  Neither can the program
 * get one again (map_files needs the same privilege), so what it can still
 * see of the seals is through its mappings alone: F_SEAL_WRITE means no
 * mapping of it may become writable (no "mw" in VmFlags), and restoring
 * F_SEAL_WRITE gives exactly that back.  F_SEAL_SHRINK, F_SEAL_GROW,
 * F_SEAL_SEAL and F_SEAL_EXEC only ever act on calls that take an fd.
 * What cannot be seen from here is F_SEAL_FUTURE_WRITE on an object whose
 * older mappings stayed writable (madvise(MADV_REMOVE) fails with it): not
 * kept, and said so.
 */
static int memfd_seals_without_fd(struct computation *c, const struct vma_record *v,
				  uint32_t *seals, struct collect_ctx *cx)
{
	for (size_t a = 0; a < c->nr_procs; a++) {
		struct process_record *p = &c->procs[a];

		for (size_t b = 0; b < p->nr_vmas; b++) {
			const struct vma_record *o = &p->vmas[b];
			bool mw;
			int r;

			if (!o->shm_kind || o->dev != v->dev || o->ino != v->ino)
				continue;
			r = vma_may_write(p->real_pid, o->start, &mw);
			if (r < 0) {
				struct collect_ctx pcx = *cx;

				pcx.pid = p->real_pid;
				return collect_fail(&pcx, r, "shared memory at 0x%llx: VmFlags in smaps",
						    (unsigned long long)o->start);
			}
			if (mw) {
				*seals = 0;
				log_warn("pid %d: %s at 0x%llx: no fd of the computation holds it, so its "
					 "seals cannot be read without root; restored without seals "
					 "(F_SEAL_FUTURE_WRITE would not be kept)",
					 cx->pid, v->path, (unsigned long long)v->start);
				return 0;
			}
		}
	}
	*seals = F_SEAL_WRITE;
	return 0;
}

/* An fd of the computation (or one in flight) on the object v maps, as our own handle. */
static int memfd_from_fds(const struct fd_ref *refs, size_t n, const struct vma_record *v)
{
	for (size_t i = 0; i < n; i++) {
		const struct fd_ref *r = &refs[i];
		_cleanup_close_ int pidfd = -1;
		int h;

		if (r->f->dev != v->dev || r->f->ino != v->ino)
			continue;
		if (r->f->in_flight) {
			h = fcntl(r->f->flight_fd, F_DUPFD_CLOEXEC, 0);
			return h < 0 ? neg_errno() : h;
		}
		pidfd = syscall(SYS_pidfd_open, r->p->real_pid, 0);
		if (pidfd < 0)
			return neg_errno();
		h = syscall(SYS_pidfd_getfd, pidfd, (int)r->f->fd, 0);
		return h < 0 ? neg_errno() : h;
	}
	return -ENOENT;
}

static bool same_ipc_namespace(pid_t pid)
{
	char path[64];
	struct stat ours, theirs;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	return stat("/proc/self/ns/ipc", &ours) == 0 && stat(path, &theirs) == 0 &&
	       ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev;
}

/*
 * A SysV segment's inode number is its id (the kernel numbers the file so),
 * which the program may use: attach it by that id ourselves, read-only, to
 * copy its bytes.  That sets its attach and detach times and last pid.
 */
static int sysv_by_id(const struct vma_record *v, int mem, struct collect_ctx *cx,
		      struct vma_record *out)
{
	struct shmid_ds ds;
	int id = (int)v->ino;
	void *m;
	int r;

	if (!same_ipc_namespace(cx->pid))
		return collect_fail(cx, -EOPNOTSUPP,
				    "SysV segment %d at 0x%llx: in another IPC namespace than ours",
				    id, (unsigned long long)v->start);
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return collect_fail(cx, neg_errno(), "SysV segment %d at 0x%llx: shmctl IPC_STAT",
				    id, (unsigned long long)v->start);
	m = shmat(id, NULL, SHM_RDONLY);
	if (m == (void *)-1)
		return collect_fail(cx, neg_errno(), "SysV segment %d at 0x%llx: shmat", id,
				    (unsigned long long)v->start);
	r = write_sparse(mem, m, ds.shm_segsz & ~7ul, 0);
	if (r == 0 && (ds.shm_segsz & 7) &&
	    pwrite(mem, (char *)m + (ds.shm_segsz & ~7ul), ds.shm_segsz & 7,
		   ds.shm_segsz & ~7ul) < 0)
		r = neg_errno();
	shmdt(m);
	if (r == 0 && ftruncate(mem, ds.shm_segsz) < 0)
		r = neg_errno();
	if (r < 0)
		return collect_fail(cx, r, "SysV segment %d: copying its bytes", id);
	out->sysv_id = id;
	out->sysv_mode = ds.shm_perm.mode & 01777;	/* with SHM_DEST */
	out->shm_size = ds.shm_segsz;
	return 0;
}

static int shm_without_map_files(struct computation *c, const struct fd_ref *refs, size_t n,
				 struct vma_record *v, struct collect_ctx *cx)
{
	_cleanup_close_ int mem = -1;
	struct stat st;
	int h, seals, r;

	if (v->shm_kind == SHM_MEMFD) {
		h = memfd_from_fds(refs, n, v);
		if (h >= 0) {
			if (fstat(h, &st) < 0) {
				r = neg_errno();
				close(h);
				return collect_fail(cx, r, "%s at 0x%llx", v->path,
						    (unsigned long long)v->start);
			}
			v->content_fd = h;
			v->shm_size = st.st_size;
			seals = fcntl(h, F_GET_SEALS);
			v->shm_seals = seals > 0 ? seals : 0;
			return 0;
		}
		if (h != -ENOENT)
			return collect_fail(cx, h, "%s at 0x%llx: pidfd_getfd", v->path,
					    (unsigned long long)v->start);
	}
	mem = memfd_create("trace-ckpt-shm", MFD_CLOEXEC);
	if (mem < 0)
		return neg_errno();
	if (v->shm_kind == SHM_SYSV) {
		r = sysv_by_id(v, mem, cx, v);
	} else {
		r = copy_from_mappings(c, v, mem, &v->shm_size, cx);
		if (r == 0 && v->shm_kind == SHM_MEMFD)
			r = memfd_seals_without_fd(c, v, &v->shm_seals, cx);
	}
	if (r < 0)
		return r;
	v->content_fd = TAKE_FD(mem);
	return 0;
}

/* One handle per shared memory object, whoever maps it. */
static int collect_shm(struct computation *c, const struct fd_ref *refs, size_t n, char *err,
		       size_t errlen)
{
	bool map_files = privilege_mode() != PRIV_ROOTLESS;

	for (size_t i = 0; i < c->nr_procs; i++) {
		struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_vmas; k++) {
			struct vma_record *v = &p->vmas[k], *first;
			struct collect_ctx cx = { .pid = p->real_pid, .err = err, .errlen = errlen };
			int r;

			if (!v->shm_kind)
				continue;
			first = shm_first(c, i, v);
			if (first) {
				v->shm_size = first->shm_size;
				v->shm_seals = first->shm_seals;
				v->sysv_id = first->sysv_id;
				v->sysv_mode = first->sysv_mode;
				continue;
			}
			r = map_files ? shm_by_map_files(p, v, &cx)
				      : shm_without_map_files(c, refs, n, v, &cx);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A socket whose peer is outside cannot be reconnected, unless it is a
 * connection a listener of ours has not accepted yet, or a datagram
 * socket connected to a name.  By a sorted list of the computation's
 * sockets and pending connections: 10,000 fds are no n * n.
 */
static int check_unix_peers(const struct fd_ref *refs, size_t n, char *err, size_t errlen)
{
	_cleanup_free_ uint64_t *socks = malloc((n ? n : 1) * sizeof(*socks));
	_cleanup_free_ uint64_t *pending = NULL;
	size_t ns = 0, np = 0, cap = 0;

	for (size_t i = 0; i < n; i++)
		if (refs[i].f->kind == FD_UNIX)
			cap += refs[i].f->sock.pending_len / 8;
	pending = malloc((cap ? cap : 1) * sizeof(*pending));
	if (!socks || !pending)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct fd_record *o = refs[i].f;
		const uint64_t *pend = (const uint64_t *)o->sock.pending;

		if (o->kind != FD_UNIX)
			continue;
		socks[ns++] = o->sock.ino;
		for (size_t j = 0; j < o->sock.pending_len / 8; j++)
			pending[np++] = pend[j];
	}
	qsort(socks, ns, sizeof(*socks), cmp_u64);
	qsort(pending, np, sizeof(*pending), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		const struct fd_record *f = refs[i].f;
		struct collect_ctx cx = { .pid = refs[i].p->real_pid, .err = err, .errlen = errlen };

		if (f->kind != FD_UNIX || !f->sock.peer_ino || f->sock.peer_name)
			continue;
		/* Its peer is one of ours, or it waits in one of our listeners' queues. */
		if (bsearch(&f->sock.peer_ino, socks, ns, sizeof(*socks), cmp_u64) ||
		    bsearch(&f->sock.ino, pending, np, sizeof(*pending), cmp_u64))
			continue;
		return collect_fail(&cx, -EOPNOTSUPP,
				    "fd %d: unix socket connected to a process outside the computation",
				    refs[i].f->fd);
	}
	return 0;
}

int collect_shared(struct computation *c, char *err, size_t errlen)
{
	_cleanup_free_ struct fd_ref *refs = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < c->nr_procs; i++)
		n += c->procs[i].nr_fds;
	refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++)
			refs[n++] = (struct fd_ref){ &c->procs[i], &c->procs[i].fds[k] };
	r = number_descriptions(refs, n);
	if (r < 0)
		return r;
	r = collect_pipes(refs, n, err, errlen);
	if (r < 0)
		return r;
	r = check_unix_peers(refs, n, err, errlen);
	if (r < 0)
		return r;
	r = collect_ttys(c, err, errlen);
	if (r < 0)
		return r;
	return collect_shm(c, refs, n, err, errlen);
}
