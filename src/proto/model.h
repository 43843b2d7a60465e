/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-memory model of a checkpointed computation.  The tracer's collectors
 * fill it, the image writer turns it into files, the image reader turns files
 * back into it, and the restorer consumes it.  Pure data: no ptrace, no /proc.
 *
 * Pointers are owned by the record that holds them and freed by
 * computation_free().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "proto/cpu.h"

#define TC_FORMAT_VERSION 2
#define TC_NSIG 64
#define TC_NR_RLIMITS 16
#define TC_SIGINFO_SIZE 128

/* The computation had a pid namespace of its own (pid 1 was our init). */
#define TC_COMP_F_PIDNS (1u << 0)
/* DIR/manifest of a checkpoint of several hosts: members, one subdirectory each. */
#define TC_COMP_F_MULTIHOST (1u << 1)

/*
 * What a file was at the dump, to tell at restore whether it is still the
 * same: the restorer opens files by name, and a rebuilt program or a
 * swapped library under the same name would run wrong.  A fixed-size
 * struct, stored whole (one attribute).
 */
#define TC_BUILD_ID_MAX 64
#define FILE_ID_F_KNOWN (1u << 0)	/* recorded (older images: 0, nothing to compare) */
#define FILE_ID_F_BUILD_ID (1u << 1)	/* an ELF file with an NT_GNU_BUILD_ID note */
struct file_id {
	uint32_t flags;		/* FILE_ID_F_* */
	uint32_t build_id_len;	/* <= TC_BUILD_ID_MAX; checked again after reading */
	uint64_t size;		/* st_size */
	uint64_t mtime_ns;	/* st_mtim */
	uint8_t build_id[TC_BUILD_ID_MAX];
};

enum vma_kind {
	VMA_ANON_PRIVATE = 1,	/* heap, stack, MAP_PRIVATE|MAP_ANONYMOUS */
	VMA_ANON_SHARED,	/* MAP_SHARED|MAP_ANONYMOUS ("/dev/zero (deleted)") */
	VMA_FILE_PRIVATE,	/* contents: the file, plus the pages the program changed */
	VMA_FILE_SHARED,	/* contents: left to the file */
	VMA_VDSO,		/* only addresses are kept for the special mappings */
	VMA_VVAR,
	VMA_VVAR_VCLOCK,
};

#define VMA_F_GROWSDOWN (1u << 0)	/* the [stack] */
#define VMA_F_HEAP (1u << 1)		/* [heap] */
#define VMA_F_STACK (1u << 2)		/* [stack] */
#define VMA_F_DELETED (1u << 3)		/* the mapped file is unlinked */
/* What madvise(2) set on it, as /proc/PID/smaps VmFlags shows it. */
#define VMA_F_HUGEPAGE (1u << 4)	/* hg: MADV_HUGEPAGE */
#define VMA_F_NOHUGEPAGE (1u << 5)	/* nh: MADV_NOHUGEPAGE */
#define VMA_F_DONTFORK (1u << 6)	/* dc: MADV_DONTFORK */
#define VMA_F_WIPEONFORK (1u << 7)	/* wf: MADV_WIPEONFORK */
#define VMA_F_DONTDUMP (1u << 8)	/* dd: MADV_DONTDUMP */
#define VMA_F_MERGEABLE (1u << 9)	/* mg: MADV_MERGEABLE */
/*
 * ht: hugetlb memory (MAP_HUGETLB), of pages 1 << vma_record.huge_shift;
 * nr: no swap or huge pages reserved for it (MAP_NORESERVE).
 */
#define VMA_F_HUGETLB (1u << 10)
#define HUGE_SHIFT_MIN 13	/* the sizes of huge pages an image may give */
#define HUGE_SHIFT_MAX 31
#define VMA_F_NORESERVE (1u << 11)
#define VMA_F_MADVISED (VMA_F_HUGEPAGE | VMA_F_NOHUGEPAGE | VMA_F_DONTFORK | \
			VMA_F_WIPEONFORK | VMA_F_DONTDUMP | VMA_F_MERGEABLE)

/* Shared memory objects: saved once, whichever processes map them. */
enum shm_kind {
	SHM_NONE = 0,
	SHM_ANON,	/* MAP_SHARED|MAP_ANONYMOUS, shared across fork: "/dev/zero (deleted)" */
	SHM_MEMFD,	/* memfd_create(): "/memfd:NAME (deleted)" */
	SHM_SYSV,	/* shmget()/shmat(): "/SYSV<key> (deleted)" */
};

struct vma_record {
	uint64_t start, end;	/* [start, end), page aligned */
	uint64_t pgoff;		/* offset in the file, in bytes */
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint32_t flags;		/* VMA_F_* */
	uint32_t kind;		/* enum vma_kind */
	uint64_t dev, ino;	/* of the mapped file, to check it is the same on restore */
	char *path;		/* mapped file, without " (deleted)"; NULL when anonymous */
	char *name;		/* "[heap]", "[anon:name]"...; NULL when none */

	/* Shared memory object behind the VMA (identified by dev, ino). */
	uint32_t shm_kind;	/* enum shm_kind */
	uint32_t shm_seals;	/* memfd: F_GET_SEALS */
	uint64_t shm_size;	/* bytes of the whole object */
	int32_t sysv_id;	/* SysV: shmid, key and mode to recreate it with */
	uint32_t sysv_key, sysv_mode;
	/* Where the object's bytes are in the image (relative to the host
	 * directory; absolute after image_read); set by the writer. */
	char *content;
	/* Collector only: a handle on the object for the writer (-1: none,
	 * another VMA of the same object carries it). */
	int content_fd;
	/* Collector only: its written pages are tracked (tracer/wptrack.h). */
	bool wp_tracked;
	/* Collector only: its pages are to be found in the process's clone,
	 * after the thaw (tracer/forksnap.h); its madvise flags too. */
	bool pages_deferred;
	/* Collector only: the clone does not show its pages; copied while frozen. */
	bool copied_frozen;
	/* A mapped file (not deleted): what it was at the dump. */
	struct file_id file_id;
	/* VMA_F_HUGETLB: log2 of its page size (21: 2 MiB), else 0. */
	uint32_t huge_shift;
};

/*
 * A run of dumped pages: contiguous in memory and in the core file, one
 * PT_LOAD segment.  Pages of a VMA that are in no run were never touched
 * (anonymous) or are the file's own (file-backed) and are not stored.
 */
struct page_run {
	uint64_t vaddr, len;	/* page aligned */
	uint64_t file_off;	/* offset in the core file: set by writer and reader */
};

/*
 * Pages of an incremental image that did not change since an earlier
 * generation: contiguous in memory and in that generation's core file,
 * which this image holds as a hard link, base_files[file].  Packed,
 * PROC_A_BASE_RUN each: the layout is part of the format.
 */
struct base_run {
	uint64_t vaddr, len;	/* page aligned */
	uint64_t file_off;	/* page aligned, in base_files[file] */
	uint32_t file;
	uint32_t pad;
};

/* Earlier generations one image may take pages from (a chain this long is merged). */
#define TC_MAX_BASE_FILES 15

/* A plain core's pages are checksummed in pieces this big (MANF_A_CHUNK_SUMS). */
#define TC_CHUNK_SIZE (1ull << 20)

struct base_file {
	char *name;		/* the record's: a file name in the host's directory */
	char *path;		/* writer: the file to link; reader: absolute path */
	uint64_t size, xxh3, head_len, head_xxh3;	/* its manifest entry */
	uint64_t *chunk_sums;	/* its manifest entry's, or NULL */
	uint32_t nr_chunk_sums;
	uint64_t zstd_pages_off, zstd_pages_end;	/* reader: a compressed core's */
};

struct thread_record {
	pid_t tid;			/* in the computation's pid namespace */
	char comm[16];			/* its name (PR_SET_NAME); "" for the leader: the process's */
	struct user_regs_struct regs;	/* as read at the stop; fs_base/gs_base included */
	uint8_t *xstate;		/* NT_X86_XSTATE, xsave layout */
	uint32_t xstate_len;
	uint64_t sigmask;		/* blocked signals, bit (sig - 1) */
	uint32_t nr_pending;		/* signals pending on this thread */
	uint8_t (*pending)[TC_SIGINFO_SIZE];	/* raw siginfo_t each */
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;
	uint64_t clear_child_tid;	/* set_tid_address */
	uint64_t robust_list, robust_len;
	uint64_t rseq_addr, rseq_len;
	uint32_t rseq_sig;
};

struct sigaction_record {
	uint64_t handler;	/* SIG_DFL = 0, SIG_IGN = 1, else an address */
	uint64_t flags;		/* SA_* */
	uint64_t restorer;
	uint64_t mask;		/* bit (sig - 1) */
};

struct itimer_record {
	uint64_t interval_us, value_us;	/* value 0: disarmed */
};

/* A POSIX timer (timer_create), with the id the program knows it by. */
struct posix_timer_record {
	int32_t id;
	int32_t clock;
	int32_t signo;
	int32_t notify;		/* SIGEV_SIGNAL, SIGEV_NONE, | SIGEV_THREAD_ID */
	int32_t notify_tid;	/* SIGEV_THREAD_ID: in the computation's pid namespace */
	uint32_t pad;
	uint64_t sigval;
	uint64_t value_ns, interval_ns;	/* time left (0: disarmed), period */
};

struct rlimit_record {
	uint64_t cur, max;	/* RLIM_INFINITY as in the kernel */
};

/* The fields prctl(PR_SET_MM_MAP) takes, read from /proc/PID/stat and brk(0). */
struct mm_record {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint8_t *auxv;		/* raw Elf64_auxv_t array up to and including AT_NULL */
	uint32_t auxv_len;
	char *exe;		/* /proc/PID/exe */
	uint64_t exe_dev, exe_ino;
	struct file_id exe_id;	/* the executable at the dump */
};

/* How a drained connection whose peer is on another host is made again. */
enum tcp_remote {
	TCP_REMOTE_NONE,	/* its peer is here, or gone */
	TCP_REMOTE_CONNECTS,	/* this end binds its old address and connects */
	TCP_REMOTE_ACCEPTS,	/* this end is accepted on its old address */
	TCP_REMOTE_MAX = TCP_REMOTE_ACCEPTS,
};

enum fd_kind {
	FD_REGULAR = 1,	/* a file (or directory) opened by path */
	FD_STDIO,	/* the supervisor's own stdin/stdout/stderr: rebound to the restorer's */
	FD_DEVICE,	/* a character device opened by path (/dev/null, /dev/zero, /dev/urandom...) */
	FD_PIPE,	/* a pipe (path NULL) or a FIFO (path set); its buffered bytes in content */
	FD_EVENTFD,	/* eventfd: its counter */
	FD_SIGNALFD,	/* signalfd: its mask */
	FD_TIMERFD,	/* timerfd: clock, time left, interval, expirations not read */
	FD_EPOLL,	/* epoll: its interest list */
	FD_UNIX,	/* a connected unix socket whose peer is in the computation */
	FD_INOTIFY,	/* inotify: its watches, by path */
	FD_INET,	/* TCP (listening or established, by TCP_REPAIR) or UDP, IPv4/IPv6 */
	FD_TTY,		/* a pty end in the computation, or a terminal outside it (tty.kind) */
	/* The connection of an ssh client that carried its command to another
	 * host: that command is restored there on its own; here the client gets
	 * a socket nobody writes to, and stays (a launcher such as mpirun takes
	 * its exit for the remote command's). */
	FD_DEAD_END,
	/* A new kind goes above, and in every table of docs/adding-a-kind.md. */
	FD_KIND_MAX = FD_DEAD_END,
};

enum tty_kind {
	TTY_MASTER = 1,	/* /dev/ptmx: the pty is re-created; slaves reopen through it */
	TTY_SLAVE,	/* /dev/pts/N whose master is in the computation */
	TTY_TERMINAL,	/* a terminal outside (the user's): the restorer's terminal */
};

/*
 * FD_INOTIFY watches, packed: per watch a u32 wd, a u32 mask, a u32 path
 * length (with its NUL), then the path, padded to 4 bytes.
 */
struct inotify_watch_hdr {
	int32_t wd;
	uint32_t mask;
	uint32_t path_len;
};

/* One entry of an epoll interest list (FD_EPOLL), as fdinfo shows it. */
struct epoll_watch {
	int32_t tfd;		/* the watched fd, in the process that holds the epoll fd */
	uint32_t events;	/* EPOLLIN... with EPOLLET, EPOLLONESHOT... */
	uint64_t data;
};

enum file_lock_kind {
	FILE_LOCK_POSIX = 1,	/* fcntl F_SETLK: the process's, taken again by it */
	FILE_LOCK_FLOCK,	/* flock(): the open file description's */
	FILE_LOCK_OFD,		/* fcntl F_OFD_SETLK: the open file description's */
	FILE_LOCK_OTHER,	/* a lease or delegation: not supported */
};

/* A lock held through an fd, as its fdinfo shows it. */
struct file_lock_record {
	uint32_t kind;		/* enum file_lock_kind */
	uint32_t type;		/* F_RDLCK, F_WRLCK */
	uint64_t start;
	uint64_t len;		/* 0: to the end of the file, however long */
};

/* FD_PIPE. */
struct fd_pipe {
	uint64_t ino;		/* which pipe; its ends share it */
	uint32_t size;		/* F_GETPIPE_SZ */
};

/* FD_EVENTFD. */
struct fd_eventfd {
	uint64_t count;
	uint32_t semaphore;
};

/* FD_SIGNALFD. */
struct fd_signalfd {
	uint64_t mask;		/* bit (sig - 1) */
};

/* FD_TIMERFD. */
struct fd_timerfd {
	uint32_t clock, flags;	/* clockid; TFD_TIMER_ABSTIME... */
	uint64_t ticks, value_ns, interval_ns;
};

/* FD_EPOLL. */
struct fd_epoll {
	uint8_t *watches;	/* struct epoll_watch[] */
	uint32_t watches_len;	/* bytes */
};

/* FD_INOTIFY. */
struct fd_inotify {
	uint8_t *watches;	/* packed inotify_watch_hdr + path */
	uint32_t watches_len;
};

/*
 * Any socket (FD_UNIX, FD_INET; the inode of an FD_DEAD_END).  A unix
 * socket's queued messages are in content as [u32 length][bytes] records,
 * to be received by this end.
 */
struct fd_sock {
	uint32_t type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint64_t ino, peer_ino;	/* the socket and its unix peer, by inode */
	uint32_t passcred, sndbuf, rcvbuf;
	/* FD_UNIX beyond pairs: TCP_ESTABLISHED (connected), TCP_LISTEN or
	 * TCP_CLOSE (unconnected), as sock_diag says. */
	uint32_t state;
	uint8_t *name;		/* bound address: sun_path bytes (abstract: a leading NUL) */
	uint32_t name_len;
	char *dir;		/* a relative name: the directory it was bound in */
	uint32_t file_mode;	/* the socket file's mode bits */
	uint32_t unlinked;	/* its file was removed after bind */
	uint32_t backlog;	/* TCP_LISTEN */
	/* TCP_LISTEN: u64 inodes of the connections not accepted yet, oldest first. */
	uint8_t *pending;
	uint32_t pending_len;
	/*
	 * A datagram queue (FD_UNIX datagram or seqpacket, UDP) whose records
	 * are [u32 length][u32 address length][sender's address][bytes]: a
	 * unix name as sun_path bytes (none: an unbound sender), a struct
	 * sockaddr_in or _in6.  Older images have [u32 length][bytes].
	 */
	uint32_t queue_from;
	/*
	 * The queue's records also carry the fds passed with them
	 * (SCM_RIGHTS), as fd numbers of in-flight records of this process
	 * (proto/sockq.h).
	 */
	uint32_t queue_fds;
	/* A datagram socket connected to a socket outside the computation: its
	 * name, connected to again at restore. */
	uint8_t *peer_name;
	uint32_t peer_name_len;
	uint32_t nodelay, reuseaddr, keepalive, v6only;
	uint32_t buf_lock;	/* SO_BUF_LOCK: sizes the program set, kept as they were */
};

/*
 * FD_INET; an established TCP connection's queues are in content as
 * [u32 length][send queue][u32 length][receive queue].
 */
struct fd_inet {
	uint32_t family, state;	/* TCP_ESTABLISHED, TCP_LISTEN; 0 for UDP */
	uint8_t local[28], remote[28];	/* struct sockaddr_in / _in6 */
	uint32_t backlog;
	uint32_t tcp_snd_seq, tcp_rcv_seq, tcp_mss, tcp_snd_wscale, tcp_rcv_wscale;
	uint32_t tcp_options;	/* TCPI_OPT_* */
	uint32_t tcp_timestamp;
	uint32_t tcp_window[5];	/* struct tcp_repair_window */
	/*
	 * Drained instead of repaired (an ordinary user has no TCP_REPAIR, or
	 * TRACE_CKPT_TCP=drain): both ends are in the computation, the send
	 * queues had flowed into their peers, and content holds
	 * [u32 0][u32 length][what this end had not read] on one record of
	 * the socket.  state may then also be TCP_FIN_WAIT1/2 or
	 * TCP_CLOSE_WAIT: a connection shut in one direction.
	 */
	uint32_t tcp_drained;
	uint32_t tcp_shut_wr;	/* this end had called shutdown(SHUT_WR) */
	/* TCP_CLOSE_WAIT, its peer closed by a process now gone (an orphan
	 * socket, or none): no peer record; the restore plays the peer. */
	uint32_t tcp_peer_gone;
	/*
	 * enum tcp_remote.  Drained with its peer on another host of the
	 * computation: content is [u32 1][u32 length][bytes]: what the peer
	 * had not read, which this end sends again before anything new.
	 */
	uint32_t tcp_remote;
	uint32_t tcp_cork;	/* TCP_CORK */
	/* Collector only: bytes of its receive queue were read out (drained)
	 * and must go back before the program runs on. */
	bool tcp_consumed;
	/* Collector only: our handle on an established TCP socket, put in
	 * repair mode once tcp_locked (its peer's packets are dropped). */
	int repair_fd;
	bool tcp_locked;
};

/*
 * FD_TTY and a terminal FD_STDIO: termios is a struct termios; a master's
 * content is [u32 length][bytes the master had not read][u32 length]
 * [bytes the slave had not read].
 */
struct fd_tty {
	uint32_t kind;		/* enum tty_kind */
	uint32_t index;		/* N of /dev/pts/N */
	uint8_t *termios;
	uint32_t termios_len;
	uint32_t rows, cols, xpixel, ypixel;
	uint32_t locked, packet;	/* TIOCGPTLCK, TIOCGPKT */
	int32_t fg_pgrp;	/* foreground process group (computation's pids); 0: none of ours */
	int32_t sid;		/* its session, 0 when outside the computation */
	/* Collector only: our handle on a pty master whose queues were taken. */
	int hold_fd;
};

/*
 * One fd: the members every kind has, then a part per kind (or family)
 * with what only it has.  The encoding is flat (proto/fd.c): a part is a
 * grouping of members, not a nest, so images from before read the same.
 */
struct fd_record {
	int32_t fd;
	uint32_t kind;		/* enum fd_kind */
	uint32_t flags;		/* open flags from fdinfo (O_ACCMODE, O_APPEND, O_NONBLOCK...) */
	uint32_t cloexec;	/* FD_CLOEXEC */
	uint64_t pos;		/* file offset */
	uint32_t stdio_index;	/* FD_STDIO: which of the restorer's fds 0..2 to bind */
	uint32_t mode;		/* st_mode of the file */
	uint64_t dev, ino, size;
	char *path;		/* without " (deleted)" */
	bool deleted;		/* unlinked while open: contents are in the image */
	/*
	 * The open file description, numbered across the computation: fds
	 * with the same desc_id share one (after dup, fork or SCM_RIGHTS),
	 * so an offset moved through one moves for all.  0: not known.
	 */
	uint32_t desc_id;
	/*
	 * A file in flight in a unix socket's queue, in no fd table: its fd
	 * number (IN_FLIGHT_FD_BASE and up) only names it for the queue that
	 * carries it.  It is opened at restore and sent again, never installed.
	 */
	uint32_t in_flight;
	/* Collector only: our own fd on a file in flight (from MSG_PEEK). */
	int flight_fd;
	/* Restorer only, never encoded: a file of /proc/PID of a process or
	 * thread of the computation, opened by the process (procfd.h). */
	bool proc_own;
	uint8_t *locks;		/* struct file_lock_record[] */
	uint32_t locks_len;	/* bytes */
	/*
	 * Where the fd's bytes are in the image: the file of its process's
	 * contents (relative to the image's host directory, absolute once
	 * read), and the range of it that is this fd's.  Set by the writer;
	 * the reader checks the range against the file.  content_len is the
	 * bytes saved, which size need not be (a deleted file that shrank
	 * while copied, a queue's headers).
	 */
	char *content;
	uint64_t content_off, content_len;
	/* Collector only, never encoded: a handle the writer copies contents from
	 * (size bytes from offset 0), for deleted files and pipe buffers. */
	int content_fd;
	/* FD_REGULAR, a regular file not deleted: what it was at the dump. */
	struct file_id file_id;

	struct fd_pipe pipe;
	struct fd_eventfd eventfd;
	struct fd_signalfd signalfd;
	struct fd_timerfd timerfd;
	struct fd_epoll epoll;
	struct fd_inotify inotify;
	struct fd_sock sock;
	struct fd_inet inet;
	struct fd_tty tty;
};

/* Who a process is: what /proc/PID/status and prctl say of its credentials. */
#define TC_CRED_REAL 0
#define TC_CRED_EFFECTIVE 1
#define TC_CRED_SAVED 2
#define TC_CRED_FS 3
struct creds_record {
	uint32_t valid;			/* 0: an image from before credentials were kept */
	uint32_t uid[4], gid[4];	/* TC_CRED_* */
	uint8_t *groups;		/* uint32_t[], supplementary groups */
	uint32_t groups_len;		/* bytes */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t securebits;		/* PR_GET_SECUREBITS */
	uint32_t dumpable;		/* PR_GET_DUMPABLE */
};

struct process_record {
	pid_t pid, ppid, pgid, sid;	/* in the computation's pid namespace */
	pid_t real_pid;			/* collector only: pid in the supervisor's namespace */
	char comm[16];
	char *cwd;
	uint32_t umask;
	uint64_t personality;
	struct rlimit_record rlimits[TC_NR_RLIMITS];
	struct sigaction_record sigactions[TC_NSIG];	/* index sig - 1 */
	struct itimer_record itimers[3];		/* ITIMER_REAL, _VIRTUAL, _PROF */
	uint32_t nr_shared_pending;			/* process-wide pending signals */
	uint8_t (*shared_pending)[TC_SIGINFO_SIZE];
	struct mm_record mm;

	size_t nr_threads;
	struct thread_record *threads;	/* threads[0] is the thread group leader */
	size_t nr_vmas;
	struct vma_record *vmas;	/* sorted by address */
	size_t nr_runs;
	struct page_run *runs;		/* sorted by address */
	/* An incremental image: pages kept from earlier generations. */
	size_t nr_base_files;
	struct base_file *base_files;
	uint32_t nr_base_runs;
	struct base_run *base_runs;	/* sorted by address, none in runs */
	size_t nr_fds;
	struct fd_record *fds;		/* sorted by fd */

	/* A zombie: exited, not yet waited for by its parent; nothing but
	 * its ids and its wait status is kept. */
	uint32_t zombie;
	int32_t exit_status;		/* as wait() reports it */
	uint32_t child_subreaper;	/* PR_SET_CHILD_SUBREAPER */
	uint64_t ctty_dev;		/* controlling terminal (tty_nr of /proc/PID/stat), 0: none */
	uint32_t no_new_privs;
	/* seccomp filters, oldest first: per filter a u32 count of instructions
	 * and that many struct sock_filter. */
	uint8_t *seccomp_filters;
	uint32_t seccomp_filters_len;
	uint8_t *posix_timers;		/* struct posix_timer_record[] */
	uint32_t posix_timers_len;	/* bytes */
	struct creds_record creds;

	/*
	 * A compressed core (dump --compress): from this offset on the file
	 * is one zstd stream of the page data, which uncompressed would end at
	 * zstd_pages_end; the PT_LOAD offsets count in that uncompressed file.
	 */
	uint64_t zstd_pages_off, zstd_pages_end;

	char *core_path;		/* reader only: the core file of this process */
	struct base_file core_entry;	/* reader only: core_path's manifest entry */
};

struct fd_index;

struct computation {
	uint32_t version;	/* TC_FORMAT_VERSION */
	uint64_t generation;	/* 1 for the first checkpoint of a computation, then +1 */
	uint64_t time_ns;	/* CLOCK_REALTIME at the freeze */
	char *host;		/* host name of the supervisor that dumped it */
	char *cmdline;		/* what `run` started, for list/show */
	uint32_t flags;		/* TC_COMP_F_* */
	size_t nr_procs;
	struct process_record *procs;	/* procs[0] is the root of the tree */
	struct cpu_record cpu;	/* the CPU it was dumped on (in the manifest) */
	int zstd_level;		/* writer only: compress the cores' pages (dump --compress); 0: not */
#define TC_ZSTD_LEVEL 1		/* fast: the write should keep up with the disk */
	struct fd_index *index;	/* reader only: fds by inode (proto/fdindex.h) */
};

/* Free what c and p own, not c or p themselves (they may be on the stack). */
/* An established TCP connection whose other end is not in c. */
bool fd_record_peer_outside(const struct computation *c, const struct fd_record *f);

/* The other end of a drained connection f (the first record of that socket), or NULL. */
const struct fd_record *fd_record_tcp_peer(const struct computation *c, const struct fd_record *f);

/*
 * Two struct sockaddr_in or _in6 name the same port and address: an IPv4
 * address and its IPv6 form ::ffff:a.b.c.d (a dual-stack socket's view) are
 * the same.
 */
bool inet_same_endpoint(const uint8_t *a, const uint8_t *b);

/* "ADDR:PORT" or "[ADDR]:PORT" of a struct sockaddr_in or _in6 (inet.local...). */
#define INET_ADDR_STR_MAX 64
void inet_addr_str(const uint8_t *sa, char *buf, size_t len);

/* A unix socket of c is bound to this name (sun_path bytes), of any type, listeners too. */
bool computation_holds_unix_name(const struct computation *c, const uint8_t *name, uint32_t len);

/* Fd numbers of files in flight: above any fd table (fs.nr_open is at most 2^30 - 64). */
#define IN_FLIGHT_FD_BASE 0x40000000u


void computation_free(struct computation *c);
void process_record_free(struct process_record *p);
/* b's chunk sums become a copy of sums[n] (n 0: none); 0 or -ENOMEM. */
int base_file_set_sums(struct base_file *b, const uint64_t *sums, uint32_t n);
/* computation_free() and free(c): for a computation from image_read(). */
void computation_destroy(struct computation *c);
