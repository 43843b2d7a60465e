/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/ctlmsg.h"
#include "proto/fdkind.h"
#include "proto/image.h"
#include "proto/imagekey.h"
#include "tracer/collect.h"
#include "tracer/dump.h"
#include "tracer/inode_search.h"
#include "tracer/fileid.h"
#include "tracer/memread.h"
#include "tracer/nscheck.h"
#include "ptrace/remote.h"
#include "tracer/session.h"
#include "tracer/shared.h"
#include "tracer/tty.h"
#include "tracer/forksnap.h"
#include "tracer/snapshot.h"
#include "tracer/wptrack.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define FREEZE_TIMEOUT_MS 10000

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The image directory as an absolute path: the parent must exist. */
static int absolute_dir(const char *dir, char *out, size_t len)
{
	char parent[PATH_MAX], real[PATH_MAX];
	const char *base;
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (!slash) {
		base = parent;
		if (!getcwd(real, sizeof(real)))
			return neg_errno();
	} else {
		*slash = '\0';
		base = slash + 1;
		if (!realpath(slash == parent ? "/" : parent, real))
			return neg_errno();
	}
	if (snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static void close_process_content_fds(struct process_record *p)
{
	for (size_t k = 0; k < p->nr_fds; k++) {
		closep(&p->fds[k].content_fd);
		if (p->fds[k].in_flight)
			closep(&p->fds[k].flight_fd);
	}
	for (size_t k = 0; k < p->nr_vmas; k++)
		closep(&p->vmas[k].content_fd);
}

static void close_content_fds(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		close_process_content_fds(&c->procs[i]);
}

/*
 * Children that exited and wait for their parent: not traced any more, but
 * the parent's wait() must still find them after a restore.
 */
static int collect_zombies(struct session *s, struct computation *c, char *err, size_t errlen)
{
	size_t nprocs = c->nr_procs;

	for (size_t i = 0; i < nprocs; i++) {
		_cleanup_free_ char *children = NULL;
		char path[96], *p, *end;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", c->procs[i].real_pid,
			 c->procs[i].real_pid);
		if (read_file_at(AT_FDCWD, path, &children, NULL) < 0)
			continue;
		for (p = children;; p = end) {
			pid_t child = strtol(p, &end, 10);
			struct collect_ctx cx = { .s = s, .pid = child, .err = err, .errlen = errlen };
			struct process_record *z, *grown;
			int r;

			if (end == p)
				break;
			if (session_find(s, child))
				continue;
			grown = realloc(c->procs, (c->nr_procs + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			c->procs = grown;
			z = &c->procs[c->nr_procs];
			memset(z, 0, sizeof(*z));
			r = collect_zombie(&cx, z);
			if (r == -ENOENT)
				continue;	/* reaped meanwhile, or not a zombie: not ours */
			c->nr_procs++;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int collect_all(struct session *s, struct computation *c, struct refusal_list *refused,
		       bool defer_pages, char *err, size_t errlen)
{
	_cleanup_(inode_cache_freep) struct inode_cache *inodes = inode_cache_new();
	_cleanup_(unix_diag_table_freep) struct unix_diag_table *unix_diag = NULL;
	size_t nprocs = 0;

	for (size_t i = 0; i < s->nr_tracees; i++)
		nprocs += s->tracees[i].tid == s->tracees[i].tgid;
	c->procs = calloc(nprocs ? nprocs : 1, sizeof(*c->procs));
	if (!c->procs)
		return -ENOMEM;
	/* The root first: the restorer rebuilds the tree from it. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->nr_tracees; i++) {
			const struct tracee *t = &s->tracees[i];
			struct collect_ctx cx = { .s = s, .pid = t->tid, .err = err, .errlen = errlen,
						  .inodes = inodes, .unix_diag = &unix_diag,
						  .refused = refused, .defer_pages = defer_pages };
			struct process_record *p;
			int r;

			if (t->tid != t->tgid || (pass == 0) != (t->tid == s->root))
				continue;
			r = remote_find_syscall_insn(t->tid, &cx.syscall_insn);
			if (r < 0)
				return collect_fail(&cx, r, "no syscall instruction in [vdso]");
			p = &c->procs[c->nr_procs++];
			r = collect_process(&cx, p);
			if (r < 0 && r != -ENOMEM && refused && err[0]) {
				/* check PID: this process left out, the others looked at. */
				r = refusal_take(refused, err);
				close_process_content_fds(p);
				process_record_free(p);
				c->nr_procs--;
			}
			if (r < 0)
				return r;
		}
	}
	return collect_zombies(s, c, err, errlen);
}

/* A private copy of a file's bytes, so the program can change the file at once. */
static int stable_copy(int *fd, uint64_t size)
{
	int mem = memfd_create("trace-ckpt-copy", MFD_CLOEXEC);
	loff_t in = 0, out = 0;

	if (mem < 0)
		return neg_errno();
	while ((uint64_t)in < size) {
		ssize_t n = copy_file_range(*fd, &in, mem, &out, size - in, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? neg_errno() : 0;

			if (r == 0)
				break;	/* shorter than it was: the writer says so */
			close(mem);
			return r;
		}
	}
	close(*fd);
	*fd = mem;
	return 0;
}

/* What the writer copies from live objects, copied while still frozen. */
static int stabilize_contents(struct computation *c)
{
	for (size_t i = 0; i < c->nr_procs; i++) {
		struct process_record *p = &c->procs[i];
		int r;

		for (size_t k = 0; k < p->nr_vmas; k++) {
			if (p->vmas[k].content_fd < 0)
				continue;
			r = stable_copy(&p->vmas[k].content_fd, p->vmas[k].shm_size);
			if (r < 0)
				return r;
		}
		for (size_t k = 0; k < p->nr_fds; k++) {
			if (!p->fds[k].deleted || p->fds[k].content_fd < 0)
				continue;
			r = stable_copy(&p->fds[k].content_fd, p->fds[k].size);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void reserve_snapshot(struct session *s, struct snapshot *sn)
{
	_cleanup_free_ pid_t *pids = calloc(s->nr_tracees + 1, sizeof(*pids));
	size_t n = 0;

	memset(sn, 0, sizeof(*sn));
	if (!pids)
		return;
	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].tid == s->tracees[i].tgid)
			pids[n++] = s->tracees[i].tid;
	snapshot_reserve(sn, pids, n);
}

/*
 * An incremental dump found the pages written since the previous image
 * while frozen.  When they are few, copying them then (process_vm_readv,
 * two threads: 21 MiB in about 5 ms) costs the program less than a clone
 * does (1 GiB: some 10 ms to clone, and 15 ms more to reap it, as its
 * page tables are torn down).  Up to one page in 32, 256 MiB at most.
 */
#define COPY_WRITTEN_MAX (256ull << 20)

static bool copy_written_instead(const struct computation *c, uint64_t *own)
{
	uint64_t all = 0;

	*own = 0;
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_runs; k++)
			*own += p->runs[k].len;
		for (size_t k = 0; k < p->nr_base_runs; k++)
			all += p->base_runs[k].len;
	}
	all += *own;
	return *own <= COPY_WRITTEN_MAX && *own * 32 <= all;
}

/* What the writer would write: the pages of every run, and every content. */
static uint64_t image_bytes_estimate(const struct computation *c)
{
	uint64_t b = 0;

	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		for (size_t k = 0; k < p->nr_runs; k++)
			b += p->runs[k].len;
		for (size_t k = 0; k < p->nr_fds; k++)
			if (fd_record_has_content(&p->fds[k]))
				b += p->fds[k].size;
		for (size_t k = 0; k < p->nr_vmas; k++)
			if (p->vmas[k].shm_kind && p->vmas[k].content_fd >= 0)
				b += p->vmas[k].shm_size;
	}
	return b;
}

/* check PID: a pass's refusal is one more line, and the dump goes on looking. */
static int take_refusal(struct refusal_list *rl, char *msg, int before, int r)
{
	if (!rl || r == 0 || r == -ENOMEM)
		return r ? r : before;
	if (!msg[0])
		snprintf(msg, 256, "%s", strerror(-r));
	return refusal_take(rl, msg) < 0 ? -ENOMEM : before;
}

/*
 * In a dump's worker, once nothing is traced any more, the worker may die
 * with the supervisor: a dump killed with it while it writes leaves its
 * temporary directory, as a dump in the supervisor would.
 */
/* Connections a drain would refuse, refused before the freeze (tcpdrain_precheck). */
static int precheck_tcp(struct session *s, bool other_hosts, char *err, size_t errlen)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	size_t k = 0;

	if (session_list_pids(s, &pids, &n) < 0)
		return 0;
	/* An ssh that carried a command away: its connection is its own business (inet.c). */
	for (size_t i = 0; i < n; i++)
		if (!session_is_carried_ssh(s, pids[i]))
			pids[k++] = pids[i];
	return tcpdrain_precheck(pids, k, other_hosts, err, errlen);
}

/* When the program was let go (session_thaw). */
static uint64_t dump_thaw(struct session *s)
{
	uint64_t let_go = session_thaw(s);

	if (!s->in_dump_worker || s->nr_tracees)
		return let_go;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->supervisor_pid)
		raise(SIGKILL);
	return let_go;
}

/*
 * Once the program runs again the worker writes at a lower priority, so
 * the program keeps its CPU: on 2 cores a forking program of 1 GiB was
 * held up 55 ms by the writer's two threads after a freeze of 14 ms.  The
 * threads the writer starts inherit it.
 */
#define WRITE_BEHIND_NICE 10

static void write_behind(const struct session *s)
{
	if (s->in_dump_worker && setpriority(PRIO_PROCESS, 0, WRITE_BEHIND_NICE) < 0)
		log_debug("dump: nice %d: %m", WRITE_BEHIND_NICE);
}

/*
 * What is looked at across processes once every process's own state is
 * collected, in this order: TCP connections (locked, or drained between
 * the processes and hosts of the computation), then whatever is shared --
 * open file descriptions, pipes' bytes, unix peers, terminals, shared
 * memory (shared.c) -- then the senders of queued datagrams.
 */
typedef int (*cross_pass)(struct session *s, struct computation *c,
			  const struct dump_request *rq, char *err, size_t errlen);

static int pass_tcp(struct session *s, struct computation *c, const struct dump_request *rq,
		    char *err, size_t errlen)
{
	(void)s;
	return collect_tcp_connections(c, rq->hooks ? rq->hooks->tcp : NULL, err, errlen);
}

static int pass_shared(struct session *s, struct computation *c, const struct dump_request *rq,
		       char *err, size_t errlen)
{
	(void)s;
	(void)rq;
	return collect_shared(c, err, errlen);
}

static int pass_unix_senders(struct session *s, struct computation *c,
			     const struct dump_request *rq, char *err, size_t errlen)
{
	(void)s;
	(void)rq;
	return check_unix_senders(c, err, errlen);
}

static const cross_pass cross_passes[] = { pass_tcp, pass_shared, pass_unix_senders };

/* ", incremental: 12.0 MiB as before", or nothing. */
static const char *incr_note(const struct dump_result *res, char *note, size_t len)
{
	if (!res->base_bytes)
		return "";
	snprintf(note, len, ", incremental: %.1f MiB as before", res->base_bytes / 1048576.0);
	return note;
}

/*
 * Before anything stops: the image directory, the computation seized (not
 * stopped), what a dump would refuse whatever it found, the image key and
 * the previous image.  On failure nothing was frozen; res->msg says why.
 */
static int dump_prepare(struct session *s, const struct dump_request *rq, struct dump_result *res,
			struct image_key *key)
{
	const char *dir = rq->dir ? rq->dir : s->default_dir;
	int r;

	memset(res, 0, sizeof(*res));
	if (!dir) {
		snprintf(res->msg, sizeof(res->msg), "no image directory given");
		return -EINVAL;
	}
	r = absolute_dir(dir, res->dir, sizeof(res->dir));
	if (r < 0) {
		snprintf(res->msg, sizeof(res->msg), "image directory %s: %s", dir, strerror(-r));
		return r;
	}
	if (s->root_gone) {
		snprintf(res->msg, sizeof(res->msg), "the computation has exited");
		return -ESRCH;
	}
	/*
	 * Detached, the computation is seized first (nothing stops): the
	 * snapshot's room is sized by its processes, and one that somebody
	 * else traces is refused before anything of it stood still.
	 */
	if (s->in_dump_worker)
		prctl(PR_SET_PDEATHSIG, 0);	/* from here it must outlive the supervisor */
	if ((r = session_seize_all(s, res->msg, sizeof(res->msg))) < 0) {
		dump_thaw(s);
		return r;
	}
	/* Refused before anything stops: the program does not even notice. */
	r = check_namespaces(s, res->msg, sizeof(res->msg));
	if (r == 0 && s->tcp_drain && rq->mode != CTL_DUMP_CHECK)
		r = precheck_tcp(s, rq->hooks != NULL, res->msg, sizeof(res->msg));
	if (r < 0) {
		dump_thaw(s);
		return r;
	}
	/*
	 * Before anything is frozen.  A host's part of a checkpoint of several
	 * hosts is the computation's, which every host holds the secret of;
	 * any other image is its user's.
	 */
	if (rq->hooks && s->coord_secret)
		r = image_key_load(s->coord_secret, false, key, res->msg, sizeof(res->msg));
	else
		r = image_key_user(key, res->msg, sizeof(res->msg));
	if (r < 0) {
		dump_thaw(s);
		return r;
	}
	/* The previous image is read now, not while the program stands still. */
	if (!rq->hooks)
		wptrack_prepare(s, res->dir, key, rq->mode, rq->incremental);
	return 0;
}

/*
 * The computation stopped, still the one that was seized, and the other
 * hosts told (a global checkpoint).  On failure it runs again and sn is
 * given back.
 */
static int dump_freeze(struct session *s, const struct dump_request *rq, struct dump_result *res,
		       struct snapshot *sn)
{
	int r = session_freeze(s, FREEZE_TIMEOUT_MS, res->msg, sizeof(res->msg));

	if (r == 0 && (s->root_gone || !session_find(s, s->root))) {
		snprintf(res->msg, sizeof(res->msg), "pid %d exited during the dump", s->root);
		r = -ESRCH;
	}
	/*
	 * Again for what happened meanwhile (a process born while freezing, an
	 * unshare): still before anything is written.
	 */
	if (r == 0)
		r = check_namespaces(s, res->msg, sizeof(res->msg));
	if (r == 0 && rq->hooks && (r = rq->hooks->frozen(rq->hooks->arg)) < 0)
		snprintf(res->msg, sizeof(res->msg), "the checkpoint was called off");
	if (r < 0) {
		snapshot_release(sn);
		dump_thaw(s);
	}
	return r;
}

/* When a dump stopped the program and let it go, for its figures. */
struct dump_times {
	uint64_t start, frozen, thawed;	/* CLOCK_MONOTONIC ns */
	uint64_t collected, cloned;	/* the frozen time's phases, for the debug log */
	uint64_t reap_stall;	/* a process stopped again while the clones were reaped */
};

/* res, for the command to print: the dump's figures, or why it failed (r). */
static void dump_report(struct session *s, const struct dump_request *rq, struct dump_result *res,
			const struct computation *c, uint64_t bytes_written,
			const struct dump_times *tm, int r)
{
	char note[64];

	if (r == 0 && rq->mode == CTL_DUMP_CHECK) {
		res->frozen_ns = tm->thawed - tm->frozen;
		res->total_ns = now_ns(CLOCK_MONOTONIC) - tm->start;
		snprintf(res->msg, sizeof(res->msg),
			 "a dump would work: about %.1f MiB to write, %zu process%s (frozen %.1f ms to "
			 "look)", res->bytes / 1048576.0, c->nr_procs, c->nr_procs == 1 ? "" : "es",
			 res->frozen_ns / 1e6);
	} else if (r == 0) {
		s->generation = c->generation;
		res->generation = c->generation;
		res->bytes = bytes_written;
		res->time_ns = c->time_ns;
		for (size_t i = 0; i < c->nr_procs; i++)
			for (uint32_t k = 0; k < c->procs[i].nr_base_runs; k++)
				res->base_bytes += c->procs[i].base_runs[k].len;
		/* The clones' reaping stopped a process once more, briefly. */
		res->frozen_ns = tm->thawed - tm->frozen + tm->reap_stall;
		res->total_ns = now_ns(CLOCK_MONOTONIC) - tm->start;
		snprintf(res->msg, sizeof(res->msg), "checkpoint: %s (generation %llu, %.1f MiB%s, frozen %.1f ms, total %.1f ms)",
			 res->dir, (unsigned long long)res->generation, res->bytes / 1048576.0,
			 incr_note(res, note, sizeof(note)), res->frozen_ns / 1e6, res->total_ns / 1e6);
	} else if (!res->msg[0]) {
		snprintf(res->msg, sizeof(res->msg), "dump failed: %s", strerror(-r));
	}
}

static int dump_once(struct session *s, const struct dump_request *rq, struct dump_result *res)
{
	struct computation c = { .version = TC_FORMAT_VERSION };
	struct memread_ctx mctx;
	struct mem_reader mr = { 0 };
	struct snapshot sn = { 0 };
	struct image_stats st = { 0 };
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	char host[256] = "localhost";
	struct dump_times tm = { .start = now_ns(CLOCK_MONOTONIC) };
	bool thawed = false, forking, forked = false, defer_pages;
	uint64_t own;
	struct fork_snapshot fs;
	bool checking = rq->mode == CTL_DUMP_CHECK;
	_cleanup_(refusal_list_free) struct refusal_list refused = { 0 };
	/* The session's own directory keeps its older images (run --keep). */
	unsigned int keep = rq->dir ? 0 : s->keep;
	int r;

	r = dump_prepare(s, rq, res, &key);
	if (r < 0)
		return r;

	/*
	 * A program that goes on after the dump is thawed before the write.
	 * Not a host's part of a global checkpoint: thawed before the others
	 * have read their connections, it could send them bytes their images
	 * would hold and its own would not; it thaws after the commit.
	 */
	forking = rq->mode == CTL_DUMP_LEAVE_RUNNING && !rq->hooks && s->in_dump_worker &&
		  forksnap_wanted();
	if (rq->mode == CTL_DUMP_LEAVE_RUNNING && !rq->hooks && !forking)
		reserve_snapshot(s, &sn);
	/* Incremental: the walk that finds written pages protects them again, frozen. */
	defer_pages = forking && !s->wp_mode && pagemap_scan_works();
	tm.frozen = now_ns(CLOCK_MONOTONIC);
	r = dump_freeze(s, rq, res, &sn);
	if (r < 0)
		return r;
	gethostname(host, sizeof(host) - 1);
	c.host = strdup(host);
	c.cmdline = strdup(s->cmdline);
	c.generation = rq->generation ? rq->generation : s->generation + 1;
	c.zstd_level = rq->compress ? TC_ZSTD_LEVEL : 0;
	if (s->init_pid)
		c.flags |= TC_COMP_F_PIDNS;
	c.time_ns = now_ns(CLOCK_REALTIME);
	if (!c.host || !c.cmdline) {
		r = -ENOMEM;
		goto out;
	}
	r = collect_all(s, &c, checking ? &refused : NULL, defer_pages, res->msg, sizeof(res->msg));
	for (size_t i = 0; i < ARRAY_SIZE(cross_passes) && (r == 0 || checking); i++)
		r = take_refusal(checking ? &refused : NULL, res->msg, r,
				 cross_passes[i](s, &c, rq, res->msg, sizeof(res->msg)));
	if (r == 0)
		r = collect_file_ids(&c);
	if (r < 0)
		goto out;
	cpu_record_host(&c.cpu);
	if (checking) {
		res->bytes = image_bytes_estimate(&c);
		if (refused.n) {
			r = -EOPNOTSUPP;
			snprintf(res->msg, sizeof(res->msg), "%u thing%s a dump would refuse:\n%s",
				 refused.n, refused.n == 1 ? "" : "s", refused.text);
		}
		goto out;
	}

	if (forking && s->wp_mode && copy_written_instead(&c, &own) &&
	    snapshot_reserve_exact(&sn, own) == 0)
		forking = false;
	tm.collected = now_ns(CLOCK_MONOTONIC);
	if (forking && forksnap_take(s, &c, defer_pages, &fs) == 0) {
		tm.cloned = now_ns(CLOCK_MONOTONIC);
		/* From the clones once the program runs again. */
		forked = stabilize_contents(&c) == 0;
		if (!forked) {
			forksnap_release(&fs, true, NULL);
		} else {
			release_tcp_connections(&c, false);
			finish_ttys(&c, false);
			tm.thawed = dump_thaw(s);
			thawed = true;
			log_debug("dump: frozen %llu us: freeze and collect %llu, clones %llu, thaw %llu",
				  (unsigned long long)(tm.thawed - tm.frozen) / 1000,
				  (unsigned long long)(tm.collected - tm.frozen) / 1000,
				  (unsigned long long)(tm.cloned - tm.collected) / 1000,
				  (unsigned long long)(tm.thawed - tm.cloned) / 1000);
			write_behind(s);
			forksnap_reader(&fs, &mr);
			if (defer_pages)
				r = forksnap_complete(&fs, &c, res->msg, sizeof(res->msg));
			if (r == 0)
				r = image_write_keep(&c, res->dir, keep, &key, &mr, &st);
			/* Whatever failed, a clone killed meanwhile is the reason to give. */
			if (r < 0 && forksnap_intact(&fs) < 0)
				snprintf(res->msg, sizeof(res->msg), "a copy-on-write clone of the "
					 "program was killed during the dump (the OOM killer?): the "
					 "program runs on; nothing was written to %s", res->dir);
			forksnap_release(&fs, false, &tm.reap_stall);
		}
	}
	/* Still frozen: what was left to the clones is read in the processes. */
	for (size_t i = 0; i < c.nr_procs && defer_pages && !forked && r == 0; i++) {
		struct collect_ctx cx = { .s = s, .pid = c.procs[i].real_pid, .err = res->msg,
					  .errlen = sizeof(res->msg) };

		if (c.procs[i].nr_vmas)	/* a zombie has none */
			r = collect_vmas_finish(&cx, &c.procs[i]);
	}
	if (r < 0) {
		/* failed above */
	} else if (forked) {
		/* written above */
	} else if (sn.buf && snapshot_take(&sn, &c) == 0 && stabilize_contents(&c) == 0) {
		tm.cloned = now_ns(CLOCK_MONOTONIC);
		release_tcp_connections(&c, false);
		finish_ttys(&c, false);
		tm.thawed = dump_thaw(s);
		thawed = true;
		log_debug("dump: frozen %llu us: freeze and collect %llu, copy of %zu bytes %llu, "
			  "thaw %llu", (unsigned long long)(tm.thawed - tm.frozen) / 1000,
			  (unsigned long long)(tm.collected - tm.frozen) / 1000, sn.used,
			  (unsigned long long)(tm.cloned - tm.collected) / 1000,
			  (unsigned long long)(tm.thawed - tm.cloned) / 1000);
		write_behind(s);
		snapshot_reader(&sn, &mr);
		r = image_write_keep(&c, res->dir, keep, &key, &mr, &st);
		log_debug("dump: written %llu us after the thaw",
			  (unsigned long long)(now_ns(CLOCK_MONOTONIC) - tm.thawed) / 1000);
	} else {
		memread_init(&mctx, &mr);
		r = image_write_keep(&c, res->dir, keep, &key, &mr, &st);
		memread_done(&mctx);
	}
	if (r < 0 && !res->msg[0])
		snprintf(res->msg, sizeof(res->msg), "writing the image to %s: %s", res->dir,
			 strerror(-r));
	if (r == 0 && rq->hooks &&
	    (r = rq->hooks->written(rq->hooks->arg, res->dir, st.bytes_written, c.nr_procs)) < 0) {
		rm_rf(res->dir);
		snprintf(res->msg, sizeof(res->msg), "the checkpoint was called off");
	}
out:
	release_tcp_connections(&c, r == 0 && rq->mode == CTL_DUMP_KILL);
	finish_ttys(&c, r == 0 && rq->mode == CTL_DUMP_KILL);
	close_content_fds(&c);
	snapshot_release(&sn);
	if (r == 0 && rq->mode == CTL_DUMP_KILL) {
		/* SIGKILL ends ptrace-stopped tasks too; the loop reaps them. */
		s->killed_by_dump = true;
		for (size_t i = 0; i < s->nr_tracees; i++)
			if (s->tracees[i].tid == s->tracees[i].tgid)
				kill(s->tracees[i].tid, SIGKILL);
	}
	if (!thawed) {
		tm.thawed = dump_thaw(s);
	}
	dump_report(s, rq, res, &c, st.bytes_written, &tm, r);
	computation_free(&c);
	return r;
}

/*
 * Some state is passing through and cannot be saved without being lost
 * (inotify events not read yet): such a collector says -EAGAIN, and the dump
 * is tried again once the program has had a moment to take it in.
 */
#define DUMP_TRIES 50
#define DUMP_RETRY_MS 5

static int dump_retrying(struct session *s, const struct dump_request *rq,
			 struct dump_result *res)
{
	for (int i = 1;; i++) {
		int r = dump_once(s, rq, res);

		wptrack_finish(s);
		/* Several hosts: the coordinator tries again if it wants to. */
		if (r != -EAGAIN || i == DUMP_TRIES || rq->hooks)
			return r;
		log_debug("dump: %s; again", res->msg);
		/* The program runs meanwhile: its ptrace stops are served. */
		for (int k = 0; k < DUMP_RETRY_MS && !s->root_gone; k++) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
			session_drain_waits(s);
		}
	}
}

struct worker_result {
	int r;
	bool killed_by_dump;
	bool wp_scanned;	/* written pages were counted (and protected again) */
	bool wp_valid;		/* from this image on; the tracked processes follow */
	struct dump_result res;
};

/* The supervisor's side of a worker's dump: what its written-page tracking counts from. */
static void note_tracking(struct session *s, const struct dump_request *rq,
			  const struct worker_result *wr)
{
	if (wr->r == 0 && rq->mode == CTL_DUMP_KILL) {
		wptrack_forget(s);
		s->incr_generation = 0;
	} else if (wr->r == 0 && wr->wp_valid) {
		struct stat st;

		s->incr_generation = stat(wr->res.dir, &st) == 0 ? wr->res.generation : 0;
		s->incr_dev = st.st_dev;
		s->incr_ino = st.st_ino;
		s->incr_time_ns = wr->res.time_ns;
	} else if (wr->wp_scanned) {
		/* Counted and not kept: the next image must hold everything. */
		s->incr_generation = 0;
	}
}

/* How long a dump waits for a restore --lazy to bring the rest of memory in. */
#define LAZY_SETTLE_TIMEOUT_MS 60000

/*
 * Detached, a dump runs in a worker process of its own, which is the tracer
 * while the computation is seized: a supervisor killed at any moment cannot
 * leave a thread mid remote system call, nor frozen; the worker finishes
 * what holds the program (puts every register back, lets go) on its own.
 * Several hosts: in the supervisor, which the coordinator channel is.
 */
int dump_computation(struct session *s, const struct dump_request *rq, struct dump_result *res)
{
	struct worker_result wr;
	int p[2], status, r;
	pid_t w;

	/* After restore --lazy: a page not in yet is not in the page tables either. */
	if (s->lazy) {
		r = s->lazy_settle(s->lazy, LAZY_SETTLE_TIMEOUT_MS);
		if (r < 0) {
			memset(res, 0, sizeof(*res));
			snprintf(res->msg, sizeof(res->msg), "the restore --lazy is still bringing "
				 "memory in after %d s: dump again later", LAZY_SETTLE_TIMEOUT_MS / 1000);
			return r;
		}
		s->lazy_free(s->lazy);
		s->lazy = NULL;
	}
	if (rq->hooks)
		return dump_retrying(s, rq, res);
	memset(res, 0, sizeof(*res));
	/* Datagrams: the result, then one per tracked process, with its userfaultfd. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0) {
		r = neg_errno();
		snprintf(res->msg, sizeof(res->msg), "dump worker: socketpair: %s", strerror(-r));
		return r;
	}
	w = fork();
	if (w < 0) {
		r = neg_errno();
		close(p[0]);
		close(p[1]);
		snprintf(res->msg, sizeof(res->msg), "dump worker: fork: %s", strerror(-r));
		return r;
	}
	if (w == 0) {
		close(p[0]);
		s->in_dump_worker = true;
		memset(&wr, 0, sizeof(wr));
		wr.r = dump_retrying(s, rq, &wr.res);
		wr.killed_by_dump = s->killed_by_dump;
		wr.wp_scanned = s->wp_mode > 0;
		wr.wp_valid = wr.r == 0 && s->wp_mode == 2;
		if (send(p[1], &wr, sizeof(wr), MSG_NOSIGNAL) == sizeof(wr) && wr.wp_valid)
			(void)wptrack_send(s, p[1]);
		_exit(0);
	}
	close(p[1]);
	r = recv(p[0], &wr, sizeof(wr), 0) == sizeof(wr) ? 0 : -EIO;
	if (r == 0)
		wptrack_receive(s, p[0], wr.wp_valid);
	close(p[0]);
	while (waitpid(w, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		snprintf(res->msg, sizeof(res->msg), "the dump worker (pid %d) died: %s", w,
			 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no result");
		return -EIO;
	}
	*res = wr.res;
	if (wr.r == 0)
		s->generation = wr.res.generation;
	s->killed_by_dump |= wr.killed_by_dump;
	note_tracking(s, rq, &wr);
	return wr.r;
}
