/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "restorer/shm.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

/* /proc/self/map_files: CAP_CHECKPOINT_RESTORE of the host, for this open only. */
static int open_map_file(const char *path)
{
	PRIV_SCOPE(CAP_CHECKPOINT_RESTORE);

	return open(path, O_RDWR | O_CLOEXEC);
}

static int open_shm_next_id(void)
{
	PRIV_SCOPE(CAP_CHECKPOINT_RESTORE);

	return open("/proc/sys/kernel/shm_next_id", O_WRONLY | O_CLOEXEC);
}

/* The saved contents, at most the object's size, into fd. */
static int fill_from_image(const struct vma_record *v, int fd)
{
	_cleanup_close_ int src = -1;

	if (!v->content)
		return 0;
	src = open(v->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	return copy_contents(src, 0, fd, MIN(v->shm_size, (uint64_t)lseek(src, 0, SEEK_END)));
}

/*
 * As root: an fd on a fresh object of the same kind, size and contents
 * (SysV: only for a segment saved without an id).
 */
static int create_shm(const struct vma_record *v)
{
	_cleanup_close_ int fd = -1;
	char path[96];
	int r;

	switch (v->shm_kind) {
	case SHM_ANON: {
		/* Only a real shared anonymous mapping shows as "/dev/zero (deleted)". */
		void *m = mmap(NULL, v->shm_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return neg_errno();
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
			 (unsigned long)m + v->shm_size);
		fd = open_map_file(path);
		r = fd < 0 ? neg_errno() : 0;
		munmap(m, v->shm_size);
		if (r < 0)
			return r;
		break;
	}
	case SHM_MEMFD:
		fd = memfd_create(v->path + strlen("/memfd:"),
				  MFD_CLOEXEC | (v->shm_seals ? MFD_ALLOW_SEALING : 0));
		if (fd < 0 || ftruncate(fd, v->shm_size) < 0)
			return neg_errno();
		break;
	case SHM_SYSV: {
		int id, vfd;
		void *m;

		/* The program knows its segment by id: ask the kernel for that one. */
		vfd = v->sysv_id >= 0 ? open_shm_next_id() : -1;
		if (vfd >= 0) {
			dprintf(vfd, "%d", v->sysv_id);
			close(vfd);
		}
		id = shmget(v->sysv_id >= 0 ? (key_t)v->sysv_key : IPC_PRIVATE, v->shm_size,
			    IPC_CREAT | IPC_EXCL | (v->sysv_mode & 0777));
		if (id < 0)
			return neg_errno();
		if (v->sysv_id >= 0 && id != v->sysv_id) {
			shmctl(id, IPC_RMID, NULL);
			return -EADDRINUSE;
		}
		m = shmat(id, NULL, 0);
		if (m == (void *)-1)
			return neg_errno();
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
			 (unsigned long)m + ALIGN_UP(v->shm_size, 4096));
		fd = open_map_file(path);
		r = fd < 0 ? neg_errno() : 0;
		shmdt(m);
		/*
		 * Removed but still attached when saved: remove it again now;
		 * our fd keeps it alive for the processes that map it.  Else it
		 * is left for the program (a failed restore removes it).
		 */
		if (r < 0 || (v->sysv_mode & SHM_DEST))
			shmctl(id, IPC_RMID, NULL);
		if (r < 0)
			return r;
		break;
	}
	default:
		return -EOPNOTSUPP;
	}
	r = fill_from_image(v, fd);
	if (r < 0)
		return r;
	if (v->shm_kind == SHM_MEMFD && v->shm_seals && fcntl(fd, F_ADD_SEALS, v->shm_seals) < 0)
		return neg_errno();
	return TAKE_FD(fd);
}

/*
 * Without root (nor file capabilities) there is no /proc/self/map_files to
 * turn a mapping into an fd.  Shared anonymous memory becomes a memfd: the program then sees
 * "/memfd:trace-ckpt-shared-anon (deleted)" instead of "/dev/zero
 * (deleted)" in its maps, but what it relies on, the same pages shared by
 * every process that maps them, is kept (and a later dump saves it as a
 * memfd).
 */
static int create_memfd(const struct vma_record *v)
{
	_cleanup_close_ int fd = -1;
	const char *name = v->shm_kind == SHM_MEMFD ? v->path + strlen("/memfd:")
						    : "trace-ckpt-shared-anon";
	int r;

	fd = memfd_create(name, MFD_CLOEXEC | (v->shm_seals ? MFD_ALLOW_SEALING : 0));
	if (fd < 0 || ftruncate(fd, v->shm_size) < 0)
		return neg_errno();
	r = fill_from_image(v, fd);
	if (r < 0)
		return r;
	if (v->shm_kind == SHM_MEMFD && v->shm_seals && fcntl(fd, F_ADD_SEALS, v->shm_seals) < 0)
		return neg_errno();
	return TAKE_FD(fd);
}

/* Whether the user namespace that owns our IPC namespace is our own. */
static int ipcns_owned_by_our_userns(void)
{
	_cleanup_close_ int ipc = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int owner = -1;
	struct stat o, u;

	if (ipc < 0)
		return neg_errno();
	owner = ioctl(ipc, NS_GET_USERNS);
	if (owner < 0)
		return neg_errno();
	if (fstat(owner, &o) < 0 || stat("/proc/self/ns/user", &u) < 0)
		return neg_errno();
	return o.st_ino == u.st_ino && o.st_dev == u.st_dev;
}

/*
 * SysV ids are chosen through /proc/sys/kernel/shm_next_id, which only
 * whoever holds CAP_CHECKPOINT_RESTORE over the IPC namespace may write.
 * The host's is not ours: the restore gets an IPC namespace of its own,
 * owned by its user namespace (the restored processes, made after, are
 * in it too).  The computation then sees no SysV objects of the host.
 */
static int own_ipc_namespace(struct desc_table *t)
{
	int r;

	if (t->own_ipcns)
		return 0;
	if (unshare(CLONE_NEWIPC) < 0)
		return log_ret(neg_errno(), "a new IPC namespace for SysV segments: %m");
	r = ipcns_owned_by_our_userns();
	if (r <= 0)
		return log_ret(r < 0 ? r : -EPERM,
			       "the new IPC namespace is not owned by the restore's user namespace");
	t->own_ipcns = true;
	return 0;
}

/*
 * A SysV segment under its saved id (without root, in the IPC namespace of
 * our own).  Every process attaches it by that id (the stub does), as the
 * program did: an fd from map_files would map it without counting as an
 * attach, so a removed segment would lose its id as soon as we let go, and
 * without root there is no such fd.  The contents go in through our own
 * attach, held until every process has its own; a segment removed while
 * attached is removed again at once (Linux lets a removed segment be
 * attached by id while it is attached).
 */
static int create_sysv_by_id(const struct vma_record *v, struct desc_table *t, bool own_ns,
			     struct shm_entry *e)
{
	_cleanup_close_ int src = -1, vfd = -1;
	uint64_t have = 0;
	void *m;
	int id, r;

	if (v->sysv_id < 0)
		return log_ret(-EOPNOTSUPP, "SysV segment without an id (saved by root after "
			       "it was removed): restore it as root");
	r = own_ns ? own_ipc_namespace(t) : 0;
	if (r < 0)
		return r;
	vfd = open_shm_next_id();
	if (vfd < 0 || dprintf(vfd, "%d", v->sysv_id) < 0)
		return log_ret(neg_errno(), "SysV segment %d: shm_next_id: %m", v->sysv_id);
	id = shmget((v->sysv_mode & SHM_DEST) ? IPC_PRIVATE : (key_t)v->sysv_key, v->shm_size,
		    IPC_CREAT | IPC_EXCL | (v->sysv_mode & 0777));
	if (id < 0)
		return neg_errno();
	if (id != v->sysv_id) {
		shmctl(id, IPC_RMID, NULL);
		return -EADDRINUSE;
	}
	m = shmat(id, NULL, 0);
	if (m == (void *)-1) {
		r = neg_errno();
		shmctl(id, IPC_RMID, NULL);
		return r;
	}
	if (v->sysv_mode & SHM_DEST)
		shmctl(id, IPC_RMID, NULL);
	*e = (struct shm_entry){ v->dev, v->ino, -1, id, m };
	if (!v->content)
		return 0;
	src = open(v->content, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	while (have < v->shm_size) {
		ssize_t n = pread(src, (char *)m + have, v->shm_size - have, have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return neg_errno();
		if (n == 0)
			break;
		have += n;
	}
	return 0;
}

int descs_shm_lookup(const struct desc_table *t, const struct vma_record *v)
{
	for (size_t i = 0; i < t->nr_shm; i++)
		if (t->shm[i].dev == v->dev && t->shm[i].ino == v->ino)
			return t->shm[i].fd;
	return -1;
}

bool descs_shm_by_id(const struct desc_table *t, const struct vma_record *v)
{
	for (size_t i = 0; i < t->nr_shm; i++)
		if (t->shm[i].dev == v->dev && t->shm[i].ino == v->ino)
			return t->shm[i].fd < 0 && t->shm[i].attached;
	return false;
}

static bool shm_known(const struct desc_table *t, const struct vma_record *v)
{
	for (size_t i = 0; i < t->nr_shm; i++)
		if (t->shm[i].dev == v->dev && t->shm[i].ino == v->ino)
			return true;
	return false;
}

int shms_open(const struct computation *c, struct desc_table *t, char *err, size_t errlen)
{
	bool map_files = privilege_mode() != PRIV_ROOTLESS;

	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_vmas; k++) {
			const struct vma_record *v = &p->vmas[k];
			struct shm_entry e = { .fd = -1, .sysv_id = -1 }, *n;
			int fd;

			if (!v->shm_kind || shm_known(t, v))
				continue;
			if (v->shm_kind == SHM_SYSV && (v->sysv_id >= 0 || !map_files))
				fd = create_sysv_by_id(v, t, !map_files, &e);
			else if (map_files)
				fd = create_shm(v);
			else
				fd = create_memfd(v);
			if (fd < 0) {
				snprintf(err, errlen, "pid %d mapping 0x%llx: shared memory %s: %s",
					 p->pid, (unsigned long long)v->start,
					 v->path ? v->path : "", strerror(-fd));
				if (e.attached)
					shmdt(e.attached);
				return fd;
			}
			if (!e.attached) {
				fd = move_above(fd, t->base);
				if (fd < 0)
					return fd;
				e = (struct shm_entry){ v->dev, v->ino, fd, -1, NULL };
			}
			n = realloc(t->shm, (t->nr_shm + 1) * sizeof(*n));
			if (!n) {
				if (e.fd >= 0)
					close(e.fd);
				if (e.attached)
					shmdt(e.attached);
				return -ENOMEM;
			}
			t->shm = n;
			t->shm[t->nr_shm++] = e;
		}
	}
	return 0;
}

int shm_open_memfd(const struct desc_table *t, const struct fd_record *f, int flags)
{
	_cleanup_close_ int src = -1, fd = -1;
	int r;

	for (size_t i = 0; i < t->nr_shm; i++)
		if (t->shm[i].dev == f->dev && t->shm[i].ino == f->ino && t->shm[i].fd >= 0)
			return fd_reopen(t->shm[i].fd, flags);
	/* Mapped by nobody: a memfd of its own (its seals were not saved). */
	fd = memfd_create(f->path + strlen("/memfd:"), MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, f->size) < 0)
		return neg_errno();
	if (f->content) {
		uint64_t off, len;

		src = fd_content_open(f, &off, &len);
		if (src < 0)
			return src;
		r = copy_contents(src, off, fd, MIN(len, f->size));
		if (r < 0)
			return r;
	}
	return fd_reopen(fd, flags);
}

void shms_close(struct desc_table *t)
{
	for (size_t i = 0; i < t->nr_shm; i++) {
		if (t->shm[i].fd >= 0)
			close(t->shm[i].fd);
		if (t->shm[i].attached)
			shmdt(t->shm[i].attached);
	}
	free(t->shm);
	t->shm = NULL;
	t->nr_shm = 0;
}
