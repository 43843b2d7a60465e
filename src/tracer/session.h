/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's session: every thread it traces, its control socket and
 * what it needs to answer dump requests.  The only mutable state of the
 * supervisor lives here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SESSION_PTRACE_OPTIONS                                                 \
	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |      \
	 PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP)

enum tracee_state {
	TRACEE_RUNNING,
	TRACEE_STOPPED,		/* in a ptrace-stop we caused (freeze) or saw */
	TRACEE_GROUP_STOPPED,	/* job-control stop, kept with PTRACE_LISTEN */
};

struct tracee {
	pid_t tid;		/* in the supervisor's pid namespace */
	pid_t tgid;
	enum tracee_state state;
	bool new_child;		/* auto-attached, its first stop not seen yet */
	bool group_stop;	/* was in a job-control stop when frozen */
	bool vfork_released;	/* a vfork child let run to its exec (freeze.c) */
};

struct stdio_id {
	bool valid;
	uint64_t dev, ino;
};

/*
 * A process whose written pages are tracked between checkpoints (wptrack.c):
 * its private memory is registered, write-protected, with a userfaultfd in
 * asynchronous mode that we hold.
 */
struct wp_track {
	pid_t pid;		/* in the supervisor's pid namespace */
	uint64_t start_time;	/* /proc/PID/stat starttime: the same process */
	int uffd;
	bool fresh;		/* made by this dump (a worker sends it back) */
	bool seen;		/* its process was in this dump */
};

struct channel;
struct computation;
struct control_conn;
struct sigckpt;

struct session {
	pid_t root;		/* the process `run` started or `restore` rebuilt */
	pid_t init_pid;		/* pid 1 of the computation's pid namespace, or 0 */
	int root_status;	/* wait status once it is gone */
	bool root_gone;
	bool attached;		/* attach: the tree hangs from root, not our child */
	int root_pidfd;		/* attach: tells when root is gone, or -1 */
	bool killed_by_dump;	/* dump --kill ended the computation */
	pid_t supervisor_pid;	/* getpid() of the supervisor (a dump worker is another) */
	bool in_dump_worker;	/* this process is a dump's worker (dump.c) */
	/* The computation's cgroup v2 directory, frozen first at a dump (cgroup.c), or -1. */
	int cgroup_fd;
	char *cgroup_path;

	struct tracee *tracees;
	size_t nr_tracees, cap_tracees;

	struct stdio_id stdio[3];	/* the supervisor's own fds 0-2 */

	int signal_fd;
	int control_fd;
	char *control_path;
	int log_fd;		/* the supervisor's log (supervisor_log.c), or -1 */
	/*
	 * restore --lazy: the page server still bringing memory in
	 * (src/restorer/lazy.c, which the tracer does not link).  A dump
	 * settles it first: pages not in yet are not in the page tables.
	 */
	void *lazy;
	int (*lazy_settle)(void *lazy, int timeout_ms);
	void (*lazy_free)(void *lazy);
	char *log_path;
	struct control_conn *control_conns;	/* its clients (control.c) */
	size_t nr_control_conns;
	uint64_t control_seq;	/* order of their requests */
	char *default_dir;	/* where dump writes unless told otherwise */
	char *cmdline;		/* for list and the manifest */
	uint64_t generation;	/* of the last image written */
	int periodic_fd;	/* timerfd of run --interval, or -1 */
	struct sigckpt *sigckpt;	/* run --checkpoint-on SIG, or NULL */
	unsigned int keep;	/* images before the latest kept in default_dir.N */
	bool quit;
	struct channel *coord;	/* the coordinator of several hosts, or NULL */
	char *coord_secret;	/* the path of its secret */
	const char *addr_map;	/* restore on other hosts: "OLD=NEW,..." or NULL */
	/* A part restored by a batch job's task (run --resume under srun): the
	 * address its host had, of how many parts; the map the coordinator
	 * sent back (addr_map points at it). */
	const char *part_old_addr;
	uint32_t part_count;
	char *part_addr_map;
	pid_t *carried_ssh;	/* ssh clients whose command went to another host */
	int *exec_listeners;	/* the exec traps' seccomp listeners (ssh.c) */
	size_t nr_exec_listeners;
	size_t nr_carried_ssh;
	bool can_repair_tcp;	/* TCP_REPAIR works here (CAP_NET_ADMIN on the host) */
	int priv_mode;		/* enum privilege_mode, at session_init */
	/* Established TCP connections are drained rather than repaired: no
	 * TCP_REPAIR here, or TRACE_CKPT_TCP=drain asked for it. */
	bool tcp_drain;
	/*
	 * Incremental checkpoints: the tracked processes, and the image their
	 * written pages are counted from (generation 0: none, the next dump
	 * stores everything).
	 */
	bool incremental;	/* run --incremental: periodic and signal dumps too */
	bool compress;		/* run --compress: the same */
	struct wp_track *tracks;
	size_t nr_tracks;
	uint64_t incr_generation, incr_time_ns;
	uint64_t incr_dev, incr_ino;	/* that image's directory */
	/* During a dump: 0 off, 1 scan and re-protect, 2 also arm the untracked. */
	int wp_mode;
	struct computation *incr_parent;	/* the image above, read before the freeze */
	int *dead_ends;		/* our ends of the FD_DEAD_END sockets restored */
	uint64_t *dead_end_inos;	/* and the inodes of the program's ends */
	size_t nr_dead_ends;
};

int session_init(struct session *s, const char *default_dir, const char *cmdline);
void session_done(struct session *s);

struct tracee *session_find(struct session *s, pid_t tid);
struct tracee *session_add(struct session *s, pid_t tid, pid_t tgid);
void session_remove(struct session *s, pid_t tid);

/* Record the supervisor's own stdio so dumps can tell which fds are it. */
void session_note_stdio(struct session *s);

/*
 * Handle one wait status of a traced thread outside a freeze: resume it,
 * pass signals through, follow new children.  Returns 0 or -errno.
 */
int session_handle_wait(struct session *s, pid_t tid, int status);

/*
 * Between checkpoints nothing is traced: the computation is held together
 * by its pid namespace's init, whose exit status is the root's, or for
 * attach by a pidfd of the root.  A computation of several hosts too: ssh's
 * exec is held for the supervisor by a seccomp user notification (ssh.c),
 * not a ptrace stop.  A dump seizes every thread (session_seize_all) and
 * session_thaw lets them all go.
 */

/* A listener of an exec trap (ssh.c) the session serves from now on; it takes fd. */
int session_add_exec_listener(struct session *s, int fd);

/*
 * Seize every thread of the computation not traced yet (PTRACE_SEIZE, no
 * stop), walking its tree of processes until a walk finds nothing new.  A
 * thread somebody else traces is refused by name in err.
 */
int session_seize_all(struct session *s, char *err, size_t errlen);
/* One walk of the above; *added says whether it seized anything. */
int session_seize_pass(struct session *s, bool *added, char *err, size_t errlen);

/*
 * Seize every thread listed in the computation's cgroup (s->cgroup_fd), and
 * in the cgroups below it, not seized yet: while it is frozen, all there is.
 */
int session_seize_cgroup(struct session *s, char *err, size_t errlen);

/* Every process of the computation (tgids), walking its tree; malloc'd. */
int session_list_pids(struct session *s, pid_t **pids, size_t *nr);

/*
 * Stop every thread (PTRACE_INTERRUPT) and wait until each is in a
 * ptrace-stop, following children born meanwhile (and, detached, seizing
 * them first, until the set is complete and stable); then put them back:
 * session_thaw resumes them, detached it lets them go.  err (may be NULL)
 * says why it failed.  session_thaw returns when (CLOCK_MONOTONIC ns) the
 * last thread was let go: the end of the time the program stood still.
 */
int session_freeze(struct session *s, int timeout_ms, char *err, size_t errlen);
uint64_t session_thaw(struct session *s);

/* The ssh client pid carried a command to another host (see FD_DEAD_END). */
void session_note_carried_ssh(struct session *s, pid_t pid);
bool session_is_carried_ssh(const struct session *s, pid_t pid);
/* Keep our end of a dead-end socket open as long as we supervise. */
int session_hold_dead_end(struct session *s, int fd, uint64_t program_end_ino);
bool session_is_dead_end(const struct session *s, uint64_t ino);

/* Handle every wait status there is now (session_handle_wait); never blocks. */
int session_drain_waits(struct session *s);

/* The event loop; returns when the root process is gone. */
int session_loop(struct session *s);

/* Exit status for the supervisor's own exit: the root's, 128+sig when killed. */
int session_exit_code(const struct session *s);
