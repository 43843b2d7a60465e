/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collectors: each reads one kind of state of a frozen process into its
 * record.  They run while every thread is in a ptrace-stop.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/model.h"
#include "proto/wire.h"

struct session;
struct inode_cache;
struct unix_diag_table;

/*
 * Files a process's sockets hold in flight (SCM_RIGHTS), as our own fds
 * from MSG_PEEK, waiting to be collected once its fd table is: each one
 * becomes an fd record numbered IN_FLIGHT_FD_BASE + its index.
 */
struct in_flight_list {
	int *fds;
	size_t n, done;
};

/*
 * check PID: every refusal, not the first only.  A collector that refuses
 * an fd or a process has it left out, its reason kept here, and the dump
 * goes on looking; it writes nothing.
 */
struct refusal_list {
	char *text;		/* lines */
	size_t len, cap;
	unsigned int n;
};

/* Keep cx->err as one more refusal and clear it for the next; 0 or -ENOMEM. */
int refusal_take(struct refusal_list *rl, char *err);
void refusal_list_free(struct refusal_list *rl);

struct collect_ctx {
	struct session *s;
	pid_t pid;		/* the process, in the supervisor's pid namespace */
	uint64_t syscall_insn;	/* a `syscall` instruction mapped in it */
	char *err;		/* the first failure, for the user */
	size_t errlen;
	struct in_flight_list *flights;	/* NULL: fds in flight are refused */
	pid_t names_pid;	/* whose cwd and root paths resolve in; 0: pid's */
	/* The process's writable mappings, [start, end) pairs by address, read
	 * once for every scratch buffer of its threads (collect_remote_scratch). */
	struct refusal_list *refused;	/* NULL: the first refusal ends the dump */
	uint64_t (*writable)[2];
	size_t nr_writable;
	bool writable_read;
	struct inode_cache *inodes;	/* paths found by search in this dump; may be NULL */
	/* This dump's unix sockets, loaded at the first one; NULL: each asked alone. */
	struct unix_diag_table **unix_diag;
	uint64_t start_time;		/* /proc/PID/stat starttime, from collect_mm */
	/*
	 * A leave-running dump that clones: which pages of its private
	 * mappings a process has (and their madvise flags) is looked up in
	 * the clone once the program runs again (collect_vmas_finish), not
	 * while it is frozen: both walk every page table (4 GiB: 60 ms).
	 */
	bool defer_pages;
};

void unix_diag_table_free(struct unix_diag_table *t);
static inline void unix_diag_table_freep(struct unix_diag_table **t)
{
	unix_diag_table_free(*t);
}

/* Take our fd h on a file in flight (h is ours from then on); *num: its fd number. */
int collect_keep_in_flight(struct collect_ctx *cx, int h, uint32_t *num);

/* Record the first failure as "pid P: <what>: <strerror>" and return err. */
int collect_fail(struct collect_ctx *cx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * What trace-ckpt cannot keep, refused in one line with the way past it:
 * "pid P <what>: not supported; <advice>".  Returns -EOPNOTSUPP.
 */
int collect_refuse(struct collect_ctx *cx, const char *advice, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define CLOSE_IT "close it before a checkpoint (trace-ckpt check PID lists everything a dump " \
		 "would refuse)"

/* A remote system call in the process's leader (or tid) thread. */
int collect_remote(struct collect_ctx *cx, pid_t tid, long nr, long a0, long a1, long a2,
		   long a3, long *ret);
struct remote_call;
/* Several in a row in each of nt threads, all at once (remote_syscalls_threads). */
int collect_remote_threads(struct collect_ctx *cx, const pid_t *tids, size_t nt,
			   struct remote_call *calls, size_t n, int *errs);
/* Read len bytes of scratch memory below tid's red zone after a remote call. */
int collect_remote_scratch(struct collect_ctx *cx, pid_t tid, size_t len, uint64_t *addr);
int collect_read_mem(struct collect_ctx *cx, uint64_t addr, void *buf, size_t len);
/* Our own handle on the open file description of the process's fd (pidfd_getfd). */
int collect_fd_handle(struct collect_ctx *cx, int fd);

int collect_process(struct collect_ctx *cx, struct process_record *p);
/* -ENOENT when cx->pid is no zombie. */
int collect_zombie(struct collect_ctx *cx, struct process_record *p);
int collect_threads(struct collect_ctx *cx, struct process_record *p);
int collect_vmas(struct collect_ctx *cx, struct process_record *p);
/*
 * After collect_vmas with defer_pages: the madvise flags of p's mappings
 * and the pages of those still pages_deferred, read in cx->pid (p's clone,
 * or p itself while frozen).  p->runs come out in address order.
 */
int collect_vmas_finish(struct collect_ctx *cx, struct process_record *p);
/* The madvise flags of p's mappings (smaps VmFlags), of cx->pid. */
int collect_vma_flags(struct collect_ctx *cx, struct process_record *p);
/* The pages of one of p's private mappings, now, into p->runs (any order). */
int collect_vma_pages(struct collect_ctx *cx, struct process_record *p, struct vma_record *v);
/* This kernel has PAGEMAP_SCAN (6.7), which vma_has_pages needs. */
bool pagemap_scan_works(void);
/* 1: the process behind pagemap has a page of v the image would store; 0: none. */
int vma_has_pages(int pagemap, const struct vma_record *v);
int collect_mm(struct collect_ctx *cx, struct process_record *p);
int collect_sigactions(struct collect_ctx *cx, struct process_record *p, const char *status);
int collect_itimers(struct collect_ctx *cx, struct process_record *p);
int collect_seccomp(struct collect_ctx *cx, struct process_record *p, const char *status);
/* Before the threads: each thread's are compared with them (collect_thread_creds). */
int collect_creds(struct collect_ctx *cx, struct process_record *p, const char *status);
int collect_thread_creds(struct collect_ctx *cx, const struct process_record *p, pid_t tid,
			 const char *status);
/* The Uid, Gid, Groups and Cap* lines of /proc/PID/status (not securebits, dumpable). */
int parse_status_creds(const char *status, struct creds_record *c);
bool creds_same(const struct creds_record *a, const struct creds_record *b);
int collect_posix_timers(struct collect_ctx *cx, struct process_record *p);
/* /proc/PID/timers into a malloc'd array (ids, clocks, signals; no times). */
int parse_proc_timers(const char *buf, struct posix_timer_record **out, size_t *nr);
int collect_fds(struct collect_ctx *cx, struct process_record *p);
int collect_inet_socket(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type,
			uint64_t ino);
/*
 * A host's part of a checkpoint of several hosts: how its drained TCP
 * connections meet their other ends on the other hosts, through the
 * coordinator (tracer/coord_client.c).  Each returns 0 or -errno
 * (-ECANCELED: the checkpoint was called off).
 */
struct tcp_bytes_piece {
	uint8_t local[WIRE_ADDR_LEN], remote[WIRE_ADDR_LEN];	/* the sender's end */
	const uint8_t *data;
	size_t len;
	bool last;
	bool peeked;		/* still in the sender's queue: not to be sent again now */
};
struct tcp_exchange {
	/* Ours out, everybody's (ours too) back: *all is malloc'd. */
	int (*ends)(void *arg, const struct wire_tcp_end *mine, size_t n,
		    struct wire_tcp_end **all, size_t *nr_all);
	/* Our send queues are empty. */
	int (*sent)(void *arg);
	/* Everybody's are: 1; not yet: 0 (without waiting; poll fd). */
	int (*arrived)(void *arg);
	int fd;
	/* A piece of what one of our ends had not read, for its peer's host. */
	int (*give)(void *arg, const struct tcp_bytes_piece *p);
	/*
	 * A piece for one of our ends: 1 (p->data valid until the next call),
	 * 0: none within timeout_ms.
	 */
	int (*take)(void *arg, struct tcp_bytes_piece *p, int timeout_ms);
	void *arg;
};
/* Once every fd is known: lock the connections, then read them.  x: NULL on one host. */
int collect_tcp_connections(struct computation *c, const struct tcp_exchange *x, char *err,
			    size_t errlen);
/* Out of repair mode (unless killed), and unlocked (but a killed program's peers outside). */
void release_tcp_connections(struct computation *c, bool killed);
/* An established (or half-closed) TCP socket to be drained: its options and our handle. */
int tcpdrain_collect_socket(struct collect_ctx *cx, struct fd_record *f, int h);
/* The other end of a drained connection is drained too, even where it could be repaired. */
void tcpdrain_pull_peers(struct computation *c);
/*
 * Drain every such connection into its records' contents: both ends in c,
 * or (x) one end here and the other on another host of the computation.
 */
int tcpdrain_connections(struct computation *c, const struct tcp_exchange *x, char *err,
			 size_t errlen);
/*
 * Before anything stops, without TCP_REPAIR: a connection of the processes
 * pids to a peer that is neither one of them nor (other_hosts) on another
 * host is refused by name, as the dump would refuse it once frozen.
 */
int tcpdrain_precheck(const pid_t *pids, size_t nr_pids, bool other_hosts, char *err,
		      size_t errlen);
/* Unless killed: what was read out goes back into the program's queues. */
void tcpdrain_release(struct computation *c, bool killed);
int collect_unix_socket(struct collect_ctx *cx, struct fd_record *f, int h, int domain, int type,
			uint64_t ino);
/* A socket: by its family, to collect_unix_socket or collect_inet_socket (socket.c). */
int collect_socket(struct collect_ctx *cx, struct fd_record *f, uint64_t ino);
/*
 * Every queued datagram's sender is in the computation, unbound, or gone:
 * one that is still there outside could not send it again at restore.
 */
int check_unix_senders(const struct computation *c, char *err, size_t errlen);
int collect_anon_fd(struct collect_ctx *cx, struct fd_record *f, const char *link,
		    const char *fdinfo);
