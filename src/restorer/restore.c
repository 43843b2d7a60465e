/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "proto/image.h"
#include "restorer/addrmap.h"
#include "restorer/creds.h"
#include "restorer/fds.h"
#include "restorer/inet.h"
#include "restorer/lazy.h"
#include "restorer/locks.h"
#include "restorer/pages.h"
#include "restorer/plan.h"
#include "restorer/procfd.h"
#include "restorer/release.h"
#include "restorer/seccomp.h"
#include "restorer/shm.h"
#include "restorer/tty.h"
#include "restorer/restore.h"
#include "restorer/validate.h"
#include "restorer/stub/plan.h"
#include "tracer/cgroup.h"
#include "tracer/coord_client.h"
#include "tracer/pidns.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/privilege.h"

#define STUB_TIMEOUT_MS 120000
#define PID_BUSY_WAIT_MS 3000

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

/*
 * The stub is exec'd with CAP_CHECKPOINT_RESTORE: with file capabilities
 * only root's own copy will do, never one the user names or could write.
 */
static int stub_trusted(const char *path)
{
	struct stat st;

	if (privilege_mode() != PRIV_FILECAPS)
		return 0;
	if (stat(path, &st) < 0)
		return neg_errno();
	return st.st_uid == 0 && !(st.st_mode & 022) ? 0 : -EPERM;
}

static int find_stub(char *out, size_t len)
{
	const char *env = getenv("TRACE_CKPT_STUB");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env && privilege_mode() != PRIV_FILECAPS) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) == 0 ? 0 : neg_errno();
	}
	/* Uninstalled: the build tree has the stub beside src/cli. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(out, len, "%s/../restorer/stub/trace-ckpt-stub", self);
		if (access(out, X_OK) == 0)
			return stub_trusted(out);
	}
	snprintf(out, len, "%s/trace-ckpt-stub", TC_LIBEXECDIR);
	return access(out, X_OK) == 0 ? stub_trusted(out) : neg_errno();
}

/* The image's checksums, checked while the stubs load it. */
struct verifier {
	pthread_t thread;
	bool started;
	const char *dir;
	const struct image_key *key;
	unsigned int flags;	/* IMAGE_VERIFY_*: restore --lazy checks plain cores piecewise */
	char err[1024];
	int r;
};

static void *verify_main(void *opaque)
{
	struct verifier *v = opaque;

	v->r = image_verify_flags(v->dir, v->key, v->flags, v->err, sizeof(v->err));
	return NULL;
}

static int verifier_join(struct verifier *v, char *err, size_t errlen)
{
	if (!v->started)
		return 0;
	pthread_join(v->thread, NULL);
	v->started = false;
	if (v->r < 0 && err)
		snprintf(err, errlen, "%s", v->err);
	return v->r;
}

#define BARRIER_TIMEOUT_MS 300000

struct restore_ctx {
	struct verifier *verify;
	struct session *s;
	const struct computation *c;
	const char *stub;
	struct desc_table descs;
	int *status_w;		/* per process: where its builder and stub report */
	int *status_r;
	bool can_setgroups;	/* not in a user namespace that denies setgroups */
	/*
	 * Where the processes being built log (a memfd, above every saved fd):
	 * their fd 2 becomes the program's, and what they say belongs with
	 * the restore's own error, printed once by the command.
	 */
	int log_fd;
	struct lazy_server *lazy;	/* restore --lazy, else NULL */
};

/* fork() with the saved pid; the old one may still be a zombie for a moment. */
static pid_t fork_with_pid(pid_t want)
{
	uint64_t deadline = now_ms() + PID_BUSY_WAIT_MS;

	for (;;) {
		pid_t r = clone_with_pid(want);

		if (r != -EEXIST || now_ms() >= deadline)
			return r;
		usleep(10000);
	}
}

static int dup_high(int fd, int base)
{
	int n = fcntl(fd, F_DUPFD, base);

	return n < 0 ? neg_errno() : n;
}

struct child_fds {
	int image, exe, status, plan;
	int bases[TC_MAX_BASE_FILES];	/* p->base_files, opened */
	int *vma;		/* per VMA of the process, -1 when anonymous */
	int *keep;		/* every fd the stub is handed */
	size_t nr_keep;
};

static int open_mapped_files(const struct process_record *p, const struct desc_table *descs,
			     struct child_fds *cf, int base, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];
		bool writable = v->kind == VMA_FILE_SHARED && (v->prot & 2 /* PROT_WRITE */);
		int fd;

		cf->vma[i] = -1;
		if (v->shm_kind) {
			int shm = descs_shm_lookup(descs, v);

			/* The table's fds are close-on-exec; the stub needs its own. */
			if (shm < 0 && descs_shm_by_id(descs, v))
				continue;	/* the stub attaches it by id */
			if (shm < 0)
				return -ENOENT;
			for (size_t k = 0; k < i && cf->vma[i] < 0; k++)
				if (p->vmas[k].shm_kind && p->vmas[k].dev == v->dev &&
				    p->vmas[k].ino == v->ino)
					cf->vma[i] = cf->vma[k];
			if (cf->vma[i] >= 0)
				continue;
			cf->vma[i] = dup_high(shm, base);
			if (cf->vma[i] < 0)
				return cf->vma[i];
			cf->keep[cf->nr_keep++] = cf->vma[i];
			continue;
		}
		if (v->kind != VMA_FILE_SHARED &&
		    (v->kind != VMA_FILE_PRIVATE || (v->flags & VMA_F_DELETED)))
			continue;
		/* One fd per file is enough: reuse an earlier VMA's. */
		for (size_t k = 0; k < i; k++)
			if (cf->vma[k] >= 0 && !strcmp(p->vmas[k].path, v->path) &&
			    (p->vmas[k].kind == v->kind || !writable)) {
				cf->vma[i] = cf->vma[k];
				break;
			}
		if (cf->vma[i] >= 0 && !writable)
			continue;
		fd = open(v->path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "pid %d mapping 0x%llx-0x%llx: %s: %m", p->pid,
				 (unsigned long long)v->start, (unsigned long long)v->end,
				 v->path);
			return neg_errno();
		}
		cf->vma[i] = dup_high(fd, base);
		close(fd);
		if (cf->vma[i] < 0)
			return cf->vma[i];
		cf->keep[cf->nr_keep++] = cf->vma[i];
	}
	return 0;
}

static void close_all_but(const struct process_record *p, const struct child_fds *cf)
{
	_cleanup_free_ int *keep = malloc((p->nr_fds + cf->nr_keep) * sizeof(*keep) + 1);
	size_t n = 0;

	if (!keep)
		return;
	for (size_t i = 0; i < p->nr_fds; i++)
		keep[n++] = p->fds[i].fd;
	for (size_t i = 0; i < cf->nr_keep; i++)
		keep[n++] = cf->keep[i];
	close_all_except(0, keep, n);
}

static void __attribute__((noreturn))
child_fail(int status_fd, uint32_t stage, int err, uint64_t addr, const char *msg)
{
	struct stub_status st = { .stage = stage, .err = err, .addr = addr };

	/* fd 2 is still the restorer's stderr until the fds are rebuilt. */
	if (msg)
		log_err("%s", msg);
	(void)!write(status_fd, &st, sizeof(st));
	_exit(127);
}

static void __attribute__((noreturn)) build_process(const struct restore_ctx *rc, size_t idx);

/* The children of p, group leaders first so members can join their group. */
static int fork_children(const struct restore_ctx *rc, size_t idx, char *err, size_t errlen)
{
	const struct process_record *p = &rc->c->procs[idx];

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 1; i < rc->c->nr_procs; i++) {
			const struct process_record *ch = &rc->c->procs[i];
			pid_t pid;

			if (ch->ppid != p->pid || (pass == 0) != (ch->pgid == ch->pid))
				continue;
			pid = fork_with_pid(ch->pid);
			if (pid == 0)
				build_process(rc, i);
			if (pid < 0) {
				snprintf(err, errlen, pid == -EEXIST ? "pid %d is in use here: "
								       "restore --new-pidns gives the "
								       "computation a pid namespace of "
								       "its own"
								     : "pid %d: clone3: %s",
					 ch->pid, strerror(-pid));
				return pid;
			}
		}
	}
	return 0;
}

/* Session and group first: children inherit them. */
static void join_session_and_group(const struct process_record *p)
{
	if (p->sid == p->pid && getsid(0) != p->pid && setsid() < 0)
		log_warn("pid %d: setsid: %m", p->pid);
	if (p->pgid == p->pid) {
		if (getpgid(0) != p->pid && setpgid(0, 0) < 0)
			log_warn("pid %d: setpgid: %m", p->pid);
	} else if (p->pgid > 0 && getpgid(0) != p->pgid && setpgid(0, p->pgid) < 0) {
		log_warn("pid %d: process group %d: %m", p->pid, p->pgid);
	}
}

/* In the new process: its children, its fds, then become the stub. */
static void __attribute__((noreturn)) build_process(const struct restore_ctx *rc, size_t idx)
{
	const struct process_record *p = &rc->c->procs[idx];
	int base = rc->descs.base, status_fd, r;
	char err[PATH_MAX + 256] = "";
	struct child_fds cf = { .image = -1, .exe = -1, .plan = -1 };
	struct plan_fds pf;
	char plan_arg[16];
	char *argv[] = { "trace-ckpt-stub", plan_arg, NULL };
	char *envp[] = { NULL };

	/* Our status pipe only: the others' must see EOF when theirs go away. */
	status_fd = dup_high(rc->status_w[idx], base);
	if (status_fd < 0)
		_exit(127);
	join_session_and_group(p);
	tty_join_process(rc->c, &rc->descs, p);
	/* Before the children: orphans of theirs must come to us. */
	if (p->child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("pid %d: PR_SET_CHILD_SUBREAPER: %m", p->pid);
	if (p->zombie) {
		struct rlimit no_core = { 0, 0 };

		/* Die the way it died; the parent's wait() will say so. */
		if (WIFSIGNALED(p->exit_status)) {
			setrlimit(RLIMIT_CORE, &no_core);
			signal(WTERMSIG(p->exit_status), SIG_DFL);
			kill(getpid(), WTERMSIG(p->exit_status));
		}
		_exit(WEXITSTATUS(p->exit_status));
	}
	r = fork_children(rc, idx, err, sizeof(err));
	if (r < 0)
		child_fail(status_fd, STUB_ERR_PROC, r, 0, err);

	cf.status = status_fd;
	cf.vma = malloc((p->nr_vmas + 1) * sizeof(int));
	cf.keep = malloc((p->nr_vmas + 8 + p->nr_base_files) * sizeof(int));
	if (!cf.vma || !cf.keep)
		child_fail(status_fd, STUB_ERR_FD, -ENOMEM, 0, "out of memory");
	if (chdir(p->cwd) < 0) {
		snprintf(err, sizeof(err), "pid %d: working directory %s: %m", p->pid, p->cwd);
		child_fail(status_fd, STUB_ERR_FD, neg_errno(), 0, err);
	}
	cf.image = pages_open(p->core_path, p->zstd_pages_off, p->zstd_pages_end, err,
			      sizeof(err));
	if (cf.image < 0)
		child_fail(status_fd, STUB_ERR_FD, cf.image, 0, err);
	cf.exe = open(p->mm.exe, O_RDONLY | O_CLOEXEC);
	if (cf.exe < 0) {
		snprintf(err, sizeof(err), "pid %d: %s: %m", p->pid, p->mm.exe);
		child_fail(status_fd, STUB_ERR_FD, neg_errno(), 0, err);
	}
	cf.image = dup_high(cf.image, base);
	cf.exe = dup_high(cf.exe, base);
	cf.keep[cf.nr_keep++] = status_fd;
	if (rc->log_fd >= 0)
		cf.keep[cf.nr_keep++] = rc->log_fd;
	cf.keep[cf.nr_keep++] = cf.image;
	cf.keep[cf.nr_keep++] = cf.exe;
	for (size_t i = 0; i < p->nr_base_files && i < TC_MAX_BASE_FILES; i++) {
		const struct base_file *bf = &p->base_files[i];
		int fd = pages_open(bf->path, bf->zstd_pages_off, bf->zstd_pages_end, err,
				    sizeof(err));

		if (fd < 0)
			child_fail(status_fd, STUB_ERR_FD, fd, 0, err);
		cf.bases[i] = dup_high(fd, base);
		cf.keep[cf.nr_keep++] = cf.bases[i];
	}
	r = open_mapped_files(p, &rc->descs, &cf, base, err, sizeof(err));
	if (r < 0)
		child_fail(status_fd, STUB_ERR_FD, r, 0, err);
	r = restore_fds(p, &rc->descs, err, sizeof(err));
	if (r < 0)
		child_fail(status_fd, STUB_ERR_FD, r, 0, err);

	pf = (struct plan_fds){
		.image_fd = cf.image,
		.status_fd = status_fd,
		.exe_fd = cf.exe,
		.vma_fds = cf.vma,
		.base_fds = cf.bases,
		.can_setgroups = rc->can_setgroups,
		.lazy = rc->lazy != NULL,
	};
	r = plan_build(p, &pf, &cf.plan);
	if (r < 0) {
		snprintf(err, sizeof(err), "pid %d: restore plan: %s", p->pid, strerror(-r));
		child_fail(status_fd, STUB_ERR_PLAN, r, 0, err);
	}
	cf.plan = dup_high(cf.plan, base);
	cf.keep[cf.nr_keep++] = cf.plan;
	snprintf(plan_arg, sizeof(plan_arg), "%d", cf.plan);
	/* Before the fds are trimmed: libcap may open files of its own. */
	r = creds_raise_stub_caps();
	if (r < 0) {
		snprintf(err, sizeof(err), "pid %d: capabilities for the stub: %s", p->pid,
			 strerror(-r));
		child_fail(status_fd, STUB_ERR_PROC, r, 0, err);
	}
	close_all_but(p, &cf);
	umask(p->umask);
	execve(rc->stub, argv, envp);
	child_fail(status_fd, STUB_ERR_PLAN, neg_errno(), 0, NULL);
}

static bool in_hugetlb(const struct process_record *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (addr >= p->vmas[i].start && addr < p->vmas[i].end)
			return p->vmas[i].flags & VMA_F_HUGETLB;
	return false;
}

static const char *stage_name(uint32_t stage)
{
	static const char *const names[] = {
		[STUB_READY] = "ready", [STUB_ERR_PLAN] = "plan",
		[STUB_ERR_HOLE] = "finding a hole for the stub",
		[STUB_ERR_SPECIAL] = "moving vdso/vvar", [STUB_ERR_MMAP] = "mapping",
		[STUB_ERR_READ] = "reading pages", [STUB_ERR_MPROTECT] = "mprotect",
		[STUB_ERR_MM] = "prctl(PR_SET_MM_MAP)", [STUB_ERR_SIGACTION] = "sigaction",
		[STUB_ERR_ITIMER] = "itimer", [STUB_ERR_RLIMIT] = "rlimit",
		[STUB_ERR_SIGNAL] = "pending signals", [STUB_ERR_FD] = "fds",
		[STUB_ERR_THREAD] = "threads", [STUB_ERR_PROC] = "process tree, comm or umask",
		[STUB_ERR_MADVISE] = "madvise", [STUB_ERR_CREDS] = "credentials",
		[STUB_ERR_LAZY] = "userfaultfd of restore --lazy",
	};

	return stage < ARRAY_SIZE(names) && names[stage] ? names[stage] : "?";
}

static const char *creds_step_name(uint64_t step)
{
	static const char *const names[] = {
		[STUB_CREDS_PERSONALITY] = "personality", [STUB_CREDS_BOUNDING] = "bounding set",
		[STUB_CREDS_KEEPCAPS] = "keep-caps", [STUB_CREDS_GROUPS] = "groups",
		[STUB_CREDS_GIDS] = "gids", [STUB_CREDS_UIDS] = "uids",
		[STUB_CREDS_SECUREBITS] = "securebits", [STUB_CREDS_CAPS] = "capability sets",
		[STUB_CREDS_AMBIENT] = "ambient capabilities", [STUB_CREDS_DUMPABLE] = "dumpable",
	};

	return step < ARRAY_SIZE(names) && names[step] ? names[step] : "?";
}

/*
 * One status, the fd that came with it (-1: none) and the sender's pid as
 * we see it (SO_PASSCRED: the kernel's word, whatever pid namespace it is
 * in; 0 if not known).
 */
static int read_status(int status_fd, struct stub_status *st, int *fd, pid_t *sender)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct iovec iov = { st, sizeof(*st) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
			     .msg_controllen = sizeof(cm) };
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	*sender = 0;
	do
		n = recvmsg(status_fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return neg_errno();
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(fd, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*sender = uc.pid;
		}
	if (n == 0)
		return -EPIPE;
	/* A stream: the rest of a status may come in pieces. */
	if ((size_t)n < sizeof(*st)) {
		int r = read_full(status_fd, (char *)st + n, sizeof(*st) - n);

		if (r < 0) {
			closep(fd);
			return r;
		}
	}
	return 0;
}

/*
 * The stub's last status; a restore --lazy stub's userfaultfd on the way
 * goes to the page server, with the stub's pid for its kill.
 */
static int wait_stub(const struct restore_ctx *rc, const struct process_record *p, int status_fd,
		     struct stub_status *st, char *err, size_t errlen)
{
	for (;;) {
		struct pollfd pfd = { .fd = status_fd, .events = POLLIN };
		int r = poll(&pfd, 1, STUB_TIMEOUT_MS), fd;
		pid_t pid;

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return neg_errno();
		r = read_status(status_fd, st, &fd, &pid);
		if (r < 0) {
			log_debug("pid %d: stub status: %s", p->pid, strerror(-r));
			return -ECHILD;
		}
		if (st->stage != STUB_LAZY_FD) {
			closep(&fd);
			return 0;
		}
		if (fd < 0 || !rc->lazy) {
			closep(&fd);
			snprintf(err, errlen, "pid %d: the stub sent %s", p->pid,
				 fd < 0 ? "no userfaultfd" : "a userfaultfd nobody asked for");
			return -EPROTO;
		}
		r = lazy_server_add(rc->lazy, (size_t)(p - rc->c->procs), pid, fd, err, errlen);
		if (r < 0)
			return r;
	}
}

/* In init, or in the supervisor without a namespace: the root and the orphans. */
static pid_t spawn_top(void *opaque)
{
	const struct restore_ctx *rc = opaque;
	pid_t root = -ESRCH;

	for (size_t i = 0; i < rc->c->nr_procs; i++) {
		const struct process_record *p = &rc->c->procs[i];
		pid_t pid;

		/* Whose parent is not in the image: children of init (or of us). */
		if (i != 0 && p->ppid > 0 && p->ppid != 1) {
			bool parent_in_image = false;

			for (size_t k = 0; k < rc->c->nr_procs; k++)
				parent_in_image |= rc->c->procs[k].pid == p->ppid;
			if (parent_in_image)
				continue;
		}
		pid = fork_with_pid(p->pid);
		if (pid == 0)
			build_process(rc, i);
		if (pid < 0) {
			struct stub_status st = { .stage = STUB_ERR_PROC, .err = pid };

			(void)!write(rc->status_w[i], &st, sizeof(st));
			return pid;
		}
		if (i == 0)
			root = pid;
	}
	return root;
}

/*
 * Hand a ready process to the session: its threads get their saved
 * registers back and stay stopped until the whole computation is ready.
 */
struct proc_opens {
	const struct process_record *p;
	char *err;
	size_t errlen;
};

static int open_proc_fds(pid_t pid, uint64_t insn, void *arg)
{
	struct proc_opens *po = arg;

	return procfd_open_in(pid, insn, po->p, po->err, po->errlen);
}

/*
 * A restored program once read 0 bytes from /proc/self/cmdline (cause not
 * found yet): look before it runs, and say what the kernel has if so.
 */
static void check_cmdline(const struct process_record *p, pid_t pid)
{
	_cleanup_free_ char *cmdline = NULL, *maps = NULL;
	char path[64];
	size_t len = 0;

	if (p->mm.arg_end <= p->mm.arg_start)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (read_file_at(AT_FDCWD, path, &cmdline, &len) < 0 || len > 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	read_file_at(AT_FDCWD, path, &maps, NULL);
	log_warn("pid %d: /proc/%d/cmdline is empty; arguments at [0x%llx, 0x%llx), maps:\n%s",
		 p->pid, pid, (unsigned long long)p->mm.arg_start,
		 (unsigned long long)p->mm.arg_end, maps ? maps : "?");
}

/* One restored process in the release: what its stub reported, its threads. */
struct released {
	size_t idx;			/* in the computation */
	pid_t pid;			/* as we see it */
	struct stub_thread_status *ts;
	pid_t *tids;
	struct proc_opens po;
	struct release_hook hook;
};

/*
 * Every process's stub let go of at once (stub_release_processes: each
 * stage over all threads of all of them), then each process's threads
 * added to the session, its locks taken and its seccomp filters put back.
 */
static int release_all(const struct restore_ctx *rc, const struct stub_status *st, char *err,
		       size_t errlen)
{
	const struct computation *c = rc->c;
	struct session *s = rc->s;
	_cleanup_free_ struct released *rel = calloc(c->nr_procs ? c->nr_procs : 1, sizeof(*rel));
	_cleanup_free_ struct stub_release_job *jobs =
		calloc(c->nr_procs ? c->nr_procs : 1, sizeof(*jobs));
	size_t n = 0, failed = 0;
	int r = 0;

	if (!rel || !jobs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_procs && r == 0; i++) {
		const struct process_record *p = &c->procs[i];
		struct released *e = &rel[n];
		pid_t pid = p->pid;

		if (p->zombie)
			continue;
		if ((c->flags & TC_COMP_F_PIDNS) && pidns_outer_pid(s->init_pid, p->pid, &pid) < 0) {
			snprintf(err, errlen, "pid %d: lost in the pid namespace", p->pid);
			r = -ESRCH;
			break;
		}
		check_cmdline(p, pid);
		*e = (struct released){ .idx = i, .pid = pid,
					.po = { .p = p, .err = err, .errlen = errlen } };
		e->hook = (struct release_hook){ .fn = open_proc_fds, .arg = &e->po };
		n++;
		r = stub_read_threads(pid, &st[i], &e->ts);
		if (r == 0 && !(e->tids = calloc(st[i].nr_threads, sizeof(*e->tids))))
			r = -ENOMEM;
		if (r < 0) {
			snprintf(err, errlen, "pid %d: releasing the restored process: %s", p->pid,
				 strerror(-r));
			break;
		}
		jobs[n - 1] = (struct stub_release_job){ .pid = pid, .st = &st[i], .ts = e->ts,
							 .n = st[i].nr_threads,
							 .outer_tids = e->tids, .hook = &e->hook };
	}
	if (r == 0) {
		err[0] = '\0';
		r = stub_release_processes(jobs, n, SESSION_PTRACE_OPTIONS, &failed);
		/* Else the /proc fd that could not be opened, by name. */
		if (r < 0 && !err[0])
			snprintf(err, errlen, "pid %d: releasing the restored process: %s",
				 c->procs[rel[failed].idx].pid, strerror(-r));
	}
	for (size_t k = 0; k < n && r == 0; k++) {
		const struct process_record *p = &c->procs[rel[k].idx];
		const struct stub_status *sk = &st[rel[k].idx];

		for (uint32_t t = 0; t < sk->nr_threads && r == 0; t++) {
			struct tracee *tr = session_add(s, rel[k].tids[t], rel[k].pid);

			if (!tr) {
				r = -ENOMEM;
				break;
			}
			tr->new_child = false;
			tr->state = TRACEE_STOPPED;
		}
		if (r == 0)
			r = locks_take_posix(rel[k].pid, sk->syscall_insn, p, err, errlen);
		/* Last: a filter could forbid what comes before. */
		if (r == 0)
			r = seccomp_restore(s, rel[k].pid, sk->syscall_insn, p, err, errlen);
		if (r == 0 && rel[k].idx == 0)
			s->root = rel[k].pid;
	}
	for (size_t k = 0; k < n; k++) {
		free(rel[k].ts);
		free(rel[k].tids);
	}
	return r;
}

/* Every process this supervisor started, and theirs, by /proc's children lists. */
static void kill_descendants(pid_t pid, int depth)
{
	_cleanup_free_ char *children = NULL;
	char path[96];
	char *p, *end;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	if (depth > 64 || read_file_at(AT_FDCWD, path, &children, NULL) < 0)
		return;
	for (p = children;; p = end) {
		pid_t child = strtol(p, &end, 10);

		if (end == p)
			break;
		kill(child, SIGSTOP);
		kill_descendants(child, depth + 1);
		kill(child, SIGKILL);
	}
}

static void kill_everything(struct restore_ctx *rc)
{
	struct session *s = rc->s;

	kill_descendants(getpid(), 0);
	if (s->init_pid) {
		kill(s->init_pid, SIGKILL);
		s->init_pid = 0;
	}
	while (waitpid(-1, NULL, __WALL) > 0)
		;
	s->nr_tracees = 0;
	s->root = 0;
}

/* Above every saved fd, appending: the log the processes being built share. */
static int open_build_log(int base)
{
	int fd = memfd_create("trace-ckpt-restore-log", MFD_CLOEXEC), high;

	if (fd < 0)
		return neg_errno();
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		close(fd);
		return neg_errno();
	}
	/* Close-on-exec: the stub and the program never see it. */
	high = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (high < 0)
		high = neg_errno();
	close(fd);
	return high;
}

/*
 * What the processes logged while they were built: on failure it is the
 * detail of err, quoted under it; otherwise the user's to read (warnings).
 */
static void report_build_log(int fd, int r, char *err, size_t errlen)
{
	char text[4096], *line, *next;
	size_t used = err ? strnlen(err, errlen) : 0;
	ssize_t n;

	if (fd < 0)
		return;
	n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return;
	text[n] = '\0';
	if (r == 0 || !err) {
		(void)!write(STDERR_FILENO, text, n);
		return;
	}
	for (line = text; *line && used + 1 < errlen; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line)
			used += snprintf(err + used, errlen - used, "\n  %s", line);
	}
}

static int build_tree(struct restore_ctx *rc, char *err, size_t errlen)
{
	const struct computation *c = rc->c;
	struct session *s = rc->s;
	_cleanup_free_ struct stub_status *st = calloc(c->nr_procs, sizeof(*st));
	_cleanup_free_ int *keep = calloc(c->nr_procs + rc->descs.n + rc->descs.nr_shm + 2,
					  sizeof(int));
	uint64_t t0 = now_us(), t_forked, t_ready, t_verified;
	size_t nk = 0;
	int r = 0;

	if (!st || !keep)
		return -ENOMEM;
	if (rc->log_fd >= 0)
		keep[nk++] = rc->log_fd;
	for (size_t i = 0; i < c->nr_procs; i++)
		keep[nk++] = rc->status_w[i];
	for (size_t i = 0; i < rc->descs.n; i++)
		keep[nk++] = rc->descs.v[i].fd;
	for (size_t i = 0; i < rc->descs.nr_shm; i++)
		if (rc->descs.shm[i].fd >= 0)	/* -1: a SysV segment held by id */
			keep[nk++] = rc->descs.shm[i].fd;
	keep[nk] = -1;
	log_to_fd(rc->log_fd);	/* what we fork inherits it */
	if (c->flags & TC_COMP_F_PIDNS)
		r = pidns_start(spawn_top, rc, keep, &s->init_pid);
	else
		spawn_top(rc);	/* a process it could not make says so on its status pipe */
	log_to_fd(-1);
	t_forked = now_us();
	for (size_t i = 0; i < c->nr_procs; i++)
		closep(&rc->status_w[i]);
	if (r < 0) {
		snprintf(err, errlen, "cannot start the processes: %s", strerror(-r));
		return r;
	}
	/*
	 * Checksumming a big image costs as much as loading it: do both at
	 * once.  Only now, with every fork of ours done: the builders fork
	 * with raw clone3, which would not make a second thread's locks safe.
	 */
	rc->verify->started =
		pthread_create(&rc->verify->thread, NULL, verify_main, rc->verify) == 0;
	if (!rc->verify->started) {
		r = image_verify_flags(rc->verify->dir, rc->verify->key, rc->verify->flags, err,
				       errlen);
		if (r < 0)
			return r;
	}

	/* A barrier: nothing of the program runs before every process is ready. */
	for (size_t i = 0; i < c->nr_procs && r == 0; i++) {
		const struct process_record *p = &c->procs[i];

		if (p->zombie)
			continue;
		r = wait_stub(rc, p, rc->status_r[i], &st[i], err, errlen);
		if (r == 0 && st[i].stage == STUB_ERR_CREDS) {
			r = st[i].err < 0 ? st[i].err : -EIO;
			snprintf(err, errlen, "pid %d%s%.0d: setting its credentials (%s): %s", p->pid,
				 st[i].failed_tid ? " thread " : "", st[i].failed_tid,
				 creds_step_name(st[i].addr), strerror(-r));
		} else if (r == 0 && st[i].stage == STUB_ERR_PROC && st[i].err == -EEXIST) {
			r = -EEXIST;
			snprintf(err, errlen, "pid %d is in use here: restore --new-pidns gives the "
				 "computation a pid namespace of its own", p->pid);
		} else if (r == 0 && st[i].stage != STUB_READY) {
			r = st[i].err < 0 ? st[i].err : -EIO;
			/* Address 0: not a mapping's failure (the process being built). */
			if (st[i].addr)
				snprintf(err, errlen, "pid %d: %s at 0x%llx: %s%s", p->pid,
					 stage_name(st[i].stage), (unsigned long long)st[i].addr,
					 strerror(-r), in_hugetlb(p, st[i].addr) ?
					 " (hugetlb memory: no huge page free for it? see "
					 "/proc/sys/vm/nr_hugepages)" : "");
			else
				snprintf(err, errlen, "pid %d: %s: %s", p->pid,
					 stage_name(st[i].stage), strerror(-r));
		} else if (r == -ETIMEDOUT || r == -ECHILD) {
			snprintf(err, errlen, "pid %d: the stub %s", p->pid,
				 r == -ETIMEDOUT ? "timed out" : "died before it was ready");
		}
	}
	/*
	 * Nothing runs from an image whose checksums do not hold.  With --lazy
	 * the plain cores' pieces the stubs loaded are checked now, the others
	 * by the page server before it serves a page of them.
	 */
	t_ready = now_us();
	if (r == 0)
		r = verifier_join(rc->verify, err, errlen);
	t_verified = now_us();
	for (size_t i = 0; rc->lazy && i < c->nr_procs && r == 0; i++)
		if (!c->procs[i].zombie)
			r = lazy_verify_loaded(&c->procs[i], err, errlen);
	if (r == 0)
		r = release_all(rc, st, err, errlen);
	log_debug("restore: %zu processes: started in %llu us, ready %llu us later, checksums "
		  "%llu us later, released %llu us later", c->nr_procs,
		  (unsigned long long)(t_forked - t0), (unsigned long long)(t_ready - t_forked),
		  (unsigned long long)(t_verified - t_ready),
		  (unsigned long long)(now_us() - t_verified));
	return r;
}

static int settle_lazy(void *server, int timeout_ms)
{
	return lazy_server_settle(server, timeout_ms);
}

static void free_lazy(void *server)
{
	lazy_server_free(server);
}

/* The page server goes on serving in the session, which does not link us. */
static void session_hand_lazy(struct session *s, struct lazy_server *ls)
{
	s->lazy = ls;
	s->lazy_settle = settle_lazy;
	s->lazy_free = free_lazy;
}

static pid_t outer_pgrp(pid_t inner, void *arg)
{
	struct session *s = arg;
	pid_t outer = inner;

	if (s->init_pid && pidns_outer_pid(s->init_pid, inner, &outer) < 0)
		return 0;
	return outer;
}

/*
 * Who the restore acts as.  Root restoring an ordinary user's image becomes
 * that user, in a user namespace of its own like any user: nothing done on
 * the image's behalf may have more rights than its user had.  Then every
 * process's credentials must be ours to give.
 */
static int restore_as_who(const struct computation *c, unsigned int *flags, bool *can_setgroups,
			  char *err, size_t errlen)
{
	enum privilege_mode mode = privilege_mode();
	const uint32_t *groups;
	size_t nr_groups;
	uid_t uid;
	gid_t gid;
	int r;

	if (mode == PRIV_ROOT && creds_single_user(c, &uid, &gid, &groups, &nr_groups)) {
		r = creds_become_user(uid, gid, groups, nr_groups, err, errlen);
		if (r == 0)
			r = userns_enter_own(err, errlen);
		if (r < 0)
			return r;
		log_info("restoring as uid %u gid %u, the image's user", uid, gid);
		mode = PRIV_ROOTLESS;
		*flags |= RESTORE_NEW_PIDNS;
	}
	/* With file capabilities, the user is who the processes may be. */
	*can_setgroups = mode == PRIV_ROOT;
	return creds_check_restorable(c, mode == PRIV_ROOT, getuid(), getgid(),
				      creds_bounding_set(), err, errlen);
}

int restore_computation(struct session *s, const char *dir, const struct image_key *key,
			unsigned int flags, struct terminal_lease *tl, uint64_t *let_go_ns,
			char *err, size_t errlen)
{
	struct verifier verify = {
		.dir = dir, .key = key,
		.flags = (flags & RESTORE_LAZY) ? IMAGE_VERIFY_SKIP_CHUNKED : 0,
	};
	struct restore_ctx rc = { .s = s, .verify = &verify, .log_fd = -1 };
	struct computation *c = NULL;
	char stub[PATH_MAX];
	uint64_t t0 = now_us(), t_read = 0, t_opened = 0, t_built = 0, t_let_go = 0;
	int r;

	err[0] = '\0';
	r = find_stub(stub, sizeof(stub));
	if (r < 0) {
		if (r == -EPERM)
			snprintf(err, errlen, "%s: not root's, or writable by others: with file "
				 "capabilities only root's installed stub runs", stub);
		else
			snprintf(err, errlen, "cannot find trace-ckpt-stub (set TRACE_CKPT_STUB): %s",
				 strerror(-r));
		return r;
	}
	/* The MAC first: nothing of an image it does not vouch for is used. */
	if (!key) {
		snprintf(err, errlen, "no key to check the image with");
		return -EINVAL;
	}
	r = image_read_flags(dir, key, &c, IMAGE_READ_SIZES_ONLY, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}

	t_read = now_us();
	r = restore_as_who(c, &flags, &rc.can_setgroups, err, errlen);
	if (r < 0)
		goto out;
	if (s->addr_map && (r = computation_map_addrs(c, s->addr_map, err, errlen)) < 0)
		goto out;
	/* Before any process exists: a refusal leaves nothing to clean up. */
	r = validate_cpu(c, err, errlen);
	if (r == 0)
		r = validate_files(c, flags & RESTORE_IGNORE_CHANGED_FILES, err, errlen);
	if (r == 0)
		r = validate_huge_pages(c, err, errlen);
	if (r < 0)
		goto out;
	/* Pids taken on this host (an attached computation): ours will be free. */
	if (flags & RESTORE_NEW_PIDNS)
		c->flags |= TC_COMP_F_PIDNS;
	rc.c = c;
	rc.stub = stub;
	rc.status_w = calloc(c->nr_procs, sizeof(int));
	rc.status_r = calloc(c->nr_procs, sizeof(int));
	if (!rc.status_w || !rc.status_r) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->nr_procs; i++)
		rc.status_w[i] = rc.status_r[i] = -1;
	rc.descs.hold_netlock = s->coord != NULL;
	procfd_mark(c);
	r = descs_open(c, &rc.descs, err, errlen);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < c->nr_procs && r == 0; i++) {
		int p[2];

		/* A socket: a restore --lazy stub sends its userfaultfd along. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
			r = neg_errno();
			break;
		}
		rc.status_r[i] = p[0];
		/* Who sent a message, in our pid namespace (a lazy stub's pid). */
		(void)setsockopt(p[0], SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int));
		rc.status_w[i] = fcntl(p[1], F_DUPFD_CLOEXEC, rc.descs.base);
		close(p[1]);
	}
	if (r == 0 && (flags & RESTORE_LAZY)) {
		/* Asked here, as whoever the stubs will be: they make the userfaultfds. */
		r = lazy_check_possible(err, errlen);
		if (r == 0 && (r = lazy_server_new(&rc.lazy, c)) < 0)
			snprintf(err, errlen, "restore --lazy: %s", strerror(-r));
	}
	t_opened = now_us();
	if (r == 0) {
		rc.log_fd = open_build_log(rc.descs.base);
		if (rc.log_fd < 0)
			log_debug("no log for the processes being built: %s", strerror(-rc.log_fd));
		r = build_tree(&rc, err, errlen);
		report_build_log(rc.log_fd, r, err, errlen);
	}
	t_built = now_us();
	if (r == 0)
		s->generation = c->generation;
	/* Part of a computation on several hosts: they all go on at once. */
	if (r == 0 && s->coord && (r = coord_wait_go(s, BARRIER_TIMEOUT_MS)) < 0)
		snprintf(err, errlen, "the other hosts were not restored: %s", strerror(-r));
	if (r == 0 && s->coord)
		inet_unlock_peers(c);
	if (r < 0) {
		/* Nothing half-built stays behind, not even a FIN on the wire. */
		inet_quiesce(c, &rc.descs);
		kill_everything(&rc);
		goto out;
	}
	/* The dead ends stay open as long as we supervise. */
	for (size_t i = 0; i < rc.descs.nr_dead_ends; i++)
		if (session_hold_dead_end(s, rc.descs.dead_ends[i], rc.descs.dead_end_inos[i]) == 0)
			rc.descs.dead_ends[i] = -1;
	s->generation = c->generation;
	free(s->cmdline);
	s->cmdline = strdup(c->cmdline ? c->cmdline : "");
	if (tl && (r = terminal_lease_take(tl, c, outer_pgrp, s)) < 0)
		log_warn("the terminal: %s", strerror(-r));
	r = 0;
	/* Every process stopped, none can fork: all of them go into a cgroup of their own. */
	session_cgroup_create(s);
	for (size_t i = 0; i < s->nr_tracees && s->cgroup_fd >= 0; i++)
		if (s->tracees[i].tid == s->tracees[i].tgid)
			(void)session_cgroup_add(s, s->tracees[i].tgid);
	/* Everything is in place: let the computation go on. */
	t_let_go = session_thaw(s);
	if (let_go_ns)
		*let_go_ns = t_let_go;
	if (rc.lazy) {
		session_hand_lazy(s, rc.lazy);
		rc.lazy = NULL;
	}
	log_debug("restore: image read in %llu us, its objects opened in %llu us, the processes "
		  "built in %llu us, let go %llu us later", (unsigned long long)(t_read - t0),
		  (unsigned long long)(t_opened - t_read), (unsigned long long)(t_built - t_opened),
		  (unsigned long long)(t_let_go / 1000 - t_built));
out:
	verifier_join(&verify, NULL, 0);
	descs_close(&rc.descs);
	for (size_t i = 0; rc.status_r && i < c->nr_procs; i++) {
		closep(&rc.status_r[i]);
		closep(&rc.status_w[i]);
	}
	free(rc.status_r);
	free(rc.status_w);
	closep(&rc.log_fd);
	lazy_server_free(rc.lazy);
	computation_destroy(c);
	return r;
}
