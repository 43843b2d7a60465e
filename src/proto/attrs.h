/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attribute types of the records stored in an image.  These numbers are the
 * image format: never renumber or reuse one, only append (readers skip
 * types they do not know, so appending keeps old readers working).
 * Integers are little-endian, u32 or u64; strings carry their NUL.
 */
#pragma once

/* Our notes in the core file: name TC_NOTE_NAME, these types. */
#define TC_NOTE_NAME "TRACECKPT"
enum tc_note_type {
	TC_NT_PROCESS = 1,	/* desc: the process record, proc_attr TLVs */
};

enum proc_attr {
	PROC_A_UNSPEC,
	PROC_A_PID,		/* u32 */
	PROC_A_PPID,		/* u32 */
	PROC_A_PGID,		/* u32 */
	PROC_A_SID,		/* u32 */
	PROC_A_COMM,		/* 16 bytes */
	PROC_A_CWD,		/* str */
	PROC_A_UMASK,		/* u32 */
	PROC_A_PERSONALITY,	/* u64 */
	PROC_A_RLIMIT,		/* nest rlimit_attr, repeated */
	PROC_A_SIGACTION,	/* nest sigaction_attr, repeated; absent: all zero (SIG_DFL) */
	PROC_A_ITIMER,		/* nest itimer_attr, repeated */
	PROC_A_SHARED_PENDING,	/* TC_SIGINFO_SIZE bytes, repeated, in queue order */
	PROC_A_MM,		/* nest mm_attr */
	PROC_A_THREAD,		/* nest thread_attr, repeated, leader first */
	PROC_A_VMA,		/* nest vma_attr, repeated, by address */
	PROC_A_FD,		/* nest fd_attr, repeated, by fd */
	PROC_A_ZOMBIE,		/* u32 0/1 */
	PROC_A_EXIT_STATUS,	/* u32 (s32): wait status of a zombie */
	PROC_A_SUBREAPER,	/* u32 0/1 */
	PROC_A_POSIX_TIMERS,	/* struct posix_timer_record[] */
	PROC_A_CTTY_DEV,	/* u64: tty_nr */
	PROC_A_NO_NEW_PRIVS,	/* u32 */
	PROC_A_SECCOMP,		/* u32 count + struct sock_filter[], repeated, oldest first */
	PROC_A_CREDS,		/* nest creds_attr */
	PROC_A_BASE_FILE,	/* string, repeated: struct base_file.name, in order */
	PROC_A_BASE_RUN,	/* struct base_run, repeated, by address */
	PROC_A_ZSTD_PAGES_OFF,	/* u64: the page data from here is one zstd stream; 0: none */
	PROC_A_ZSTD_PAGES_END,	/* u64: where the page data ends, uncompressed */
	PROC_A_MAX = PROC_A_ZSTD_PAGES_END,
};

enum creds_attr {
	CRED_A_UNSPEC,
	CRED_A_UID_REAL,	/* u32 */
	CRED_A_UID_EFFECTIVE,	/* u32 */
	CRED_A_UID_SAVED,	/* u32 */
	CRED_A_UID_FS,		/* u32 */
	CRED_A_GID_REAL,	/* u32 */
	CRED_A_GID_EFFECTIVE,	/* u32 */
	CRED_A_GID_SAVED,	/* u32 */
	CRED_A_GID_FS,		/* u32 */
	CRED_A_GROUPS,		/* u32[] */
	CRED_A_CAP_INH,		/* u64 */
	CRED_A_CAP_PRM,		/* u64 */
	CRED_A_CAP_EFF,		/* u64 */
	CRED_A_CAP_BND,		/* u64 */
	CRED_A_CAP_AMB,		/* u64 */
	CRED_A_SECUREBITS,	/* u32 */
	CRED_A_DUMPABLE,	/* u32 */
	CRED_A_MAXTYPE = CRED_A_DUMPABLE,
};

enum rlimit_attr {
	RLIM_A_UNSPEC,
	RLIM_A_RESOURCE,	/* u32, < TC_NR_RLIMITS */
	RLIM_A_CUR,		/* u64 */
	RLIM_A_MAX,		/* u64 */
	RLIM_A_MAXTYPE = RLIM_A_MAX,
};

enum sigaction_attr {
	SIGACT_A_UNSPEC,
	SIGACT_A_SIGNO,		/* u32, 1..TC_NSIG */
	SIGACT_A_HANDLER,	/* u64 */
	SIGACT_A_FLAGS,		/* u64 */
	SIGACT_A_RESTORER,	/* u64 */
	SIGACT_A_MASK,		/* u64 */
	SIGACT_A_MAX = SIGACT_A_MASK,
};

enum itimer_attr {
	ITIMER_A_UNSPEC,
	ITIMER_A_WHICH,		/* u32: ITIMER_REAL, _VIRTUAL, _PROF */
	ITIMER_A_INTERVAL_US,	/* u64 */
	ITIMER_A_VALUE_US,	/* u64 */
	ITIMER_A_MAX = ITIMER_A_VALUE_US,
};

enum mm_attr {
	MM_A_UNSPEC,
	MM_A_START_CODE,	/* u64, like all up to MM_A_ENV_END */
	MM_A_END_CODE,
	MM_A_START_DATA,
	MM_A_END_DATA,
	MM_A_START_BRK,
	MM_A_BRK,
	MM_A_START_STACK,
	MM_A_ARG_START,
	MM_A_ARG_END,
	MM_A_ENV_START,
	MM_A_ENV_END,
	MM_A_AUXV,		/* bytes: Elf64_auxv_t array */
	MM_A_EXE,		/* str */
	MM_A_EXE_DEV,		/* u64 */
	MM_A_EXE_INO,		/* u64 */
	MM_A_EXE_ID,		/* struct file_id */
	MM_A_MAX = MM_A_EXE_ID,
};

enum thread_attr {
	THREAD_A_UNSPEC,
	THREAD_A_TID,		/* u32 */
	THREAD_A_REGS,		/* struct user_regs_struct */
	THREAD_A_XSTATE,	/* bytes: xsave area */
	THREAD_A_SIGMASK,	/* u64 */
	THREAD_A_PENDING,	/* TC_SIGINFO_SIZE bytes, repeated, in queue order */
	THREAD_A_ALTSTACK_SP,	/* u64 */
	THREAD_A_ALTSTACK_SIZE,	/* u64 */
	THREAD_A_ALTSTACK_FLAGS, /* u32 */
	THREAD_A_CLEAR_CHILD_TID, /* u64 */
	THREAD_A_ROBUST_LIST,	/* u64 */
	THREAD_A_ROBUST_LEN,	/* u64 */
	THREAD_A_RSEQ_ADDR,	/* u64 */
	THREAD_A_RSEQ_LEN,	/* u64 */
	THREAD_A_RSEQ_SIG,	/* u32 */
	THREAD_A_COMM,		/* 16 bytes, NUL-padded; absent in images before it */
	THREAD_A_MAX = THREAD_A_COMM,
};

enum vma_attr {
	VMA_A_UNSPEC,
	VMA_A_START,		/* u64 */
	VMA_A_END,		/* u64 */
	VMA_A_PGOFF,		/* u64, bytes */
	VMA_A_PROT,		/* u32 */
	VMA_A_FLAGS,		/* u32 VMA_F_* */
	VMA_A_KIND,		/* u32 enum vma_kind */
	VMA_A_DEV,		/* u64 */
	VMA_A_INO,		/* u64 */
	VMA_A_PATH,		/* str */
	VMA_A_NAME,		/* str */
	VMA_A_SHM_KIND,		/* u32 enum shm_kind */
	VMA_A_SHM_SEALS,	/* u32 */
	VMA_A_SHM_SIZE,		/* u64 */
	VMA_A_SYSV_ID,		/* u32 (s32) */
	VMA_A_SYSV_KEY,		/* u32 */
	VMA_A_SYSV_MODE,	/* u32 */
	VMA_A_CONTENT,		/* str: relative to the host directory */
	VMA_A_FILE_ID,		/* struct file_id */
	VMA_A_HUGE_SHIFT,	/* u32: VMA_F_HUGETLB, log2 of the page size */
	VMA_A_MAX = VMA_A_HUGE_SHIFT,
};

enum fd_attr {
	FD_A_UNSPEC,
	FD_A_FD,		/* u32 (s32) */
	FD_A_KIND,		/* u32 enum fd_kind */
	FD_A_FLAGS,		/* u32 */
	FD_A_CLOEXEC,		/* u32 */
	FD_A_POS,		/* u64 */
	FD_A_STDIO_INDEX,	/* u32 */
	FD_A_MODE,		/* u32 */
	FD_A_DEV,		/* u64 */
	FD_A_INO,		/* u64 */
	FD_A_SIZE,		/* u64 */
	FD_A_PATH,		/* str */
	FD_A_DELETED,		/* u32 0/1 */
	FD_A_CONTENT,		/* str: relative to the host directory */
	FD_A_DESC_ID,		/* u32 */
	FD_A_PIPE_INO,		/* u64 */
	FD_A_PIPE_SIZE,		/* u32 */
	FD_A_EVENTFD_COUNT,	/* u64 */
	FD_A_EVENTFD_SEMAPHORE,	/* u32 */
	FD_A_SIGNALFD_MASK,	/* u64 */
	FD_A_TIMERFD_CLOCK,	/* u32 */
	FD_A_TIMERFD_FLAGS,	/* u32 */
	FD_A_TIMERFD_TICKS,	/* u64 */
	FD_A_TIMERFD_VALUE,	/* u64 ns */
	FD_A_TIMERFD_INTERVAL,	/* u64 ns */
	FD_A_EPOLL_WATCHES,	/* struct epoll_watch[] */
	FD_A_SOCK_TYPE,		/* u32 */
	FD_A_SOCK_INO,		/* u64 */
	FD_A_PEER_INO,		/* u64 */
	FD_A_SOCK_PASSCRED,	/* u32 */
	FD_A_SOCK_SNDBUF,	/* u32 */
	FD_A_SOCK_RCVBUF,	/* u32 */
	FD_A_INOTIFY_WATCHES,	/* packed inotify_watch_hdr + path */
	FD_A_INET_FAMILY,	/* u32 */
	FD_A_INET_STATE,	/* u32 */
	FD_A_INET_LOCAL,	/* 28 bytes */
	FD_A_INET_REMOTE,	/* 28 bytes */
	FD_A_INET_BACKLOG,	/* u32 */
	FD_A_TCP_SND_SEQ,	/* u32 */
	FD_A_TCP_RCV_SEQ,	/* u32 */
	FD_A_TCP_MSS,		/* u32 */
	FD_A_TCP_SND_WSCALE,	/* u32 */
	FD_A_TCP_RCV_WSCALE,	/* u32 */
	FD_A_TCP_OPTIONS,	/* u32 */
	FD_A_TCP_TIMESTAMP,	/* u32 */
	FD_A_TCP_WINDOW,	/* 5 x u32 */
	FD_A_SOCK_NODELAY,	/* u32 */
	FD_A_SOCK_REUSEADDR,	/* u32 */
	FD_A_SOCK_KEEPALIVE,	/* u32 */
	FD_A_SOCK_STATE,	/* u32 */
	FD_A_SOCK_NAME,		/* bytes: sun_path */
	FD_A_SOCK_DIR,		/* str */
	FD_A_SOCK_FILE_MODE,	/* u32 */
	FD_A_SOCK_UNLINKED,	/* u32 */
	FD_A_SOCK_BACKLOG,	/* u32 */
	FD_A_SOCK_PENDING,	/* u64[] inodes */
	FD_A_PEER_NAME,		/* bytes: sun_path */
	FD_A_TTY_KIND,		/* u32 enum tty_kind */
	FD_A_TTY_INDEX,		/* u32 */
	FD_A_TTY_TERMIOS,	/* struct termios */
	FD_A_TTY_ROWS,		/* u32 */
	FD_A_TTY_COLS,		/* u32 */
	FD_A_TTY_XPIXEL,	/* u32 */
	FD_A_TTY_YPIXEL,	/* u32 */
	FD_A_TTY_LOCKED,	/* u32 */
	FD_A_TTY_PACKET,	/* u32 */
	FD_A_TTY_FG_PGRP,	/* u32 (s32) */
	FD_A_TTY_SID,		/* u32 (s32) */
	FD_A_LOCKS,		/* struct file_lock_record[] */
	FD_A_SOCK_V6ONLY,	/* u32 */
	FD_A_SOCK_QUEUE_FROM,	/* u32: queued datagrams carry their senders */
	FD_A_SOCK_QUEUE_FDS,	/* u32: queued messages carry fds in flight */
	FD_A_IN_FLIGHT,		/* u32: a file in flight in a socket, in no fd table */
	FD_A_FILE_ID,		/* struct file_id */
	FD_A_TCP_DRAINED,	/* u32: the connection was drained, not repaired (no TCP_REPAIR) */
	FD_A_TCP_SHUT_WR,	/* u32: this end had shut its writing (its FIN was sent) */
	FD_A_TCP_CORK,		/* u32 */
	FD_A_SOCK_BUF_LOCK,	/* u32: SO_BUF_LOCK, the buffer sizes the program set itself */
	FD_A_TCP_PEER_GONE,	/* u32: drained, its peer had closed (no process holds it) */
	FD_A_TCP_REMOTE,	/* u32 enum tcp_remote: drained, its peer on another host */
	FD_A_CONTENT_OFF,	/* u64: where the fd's bytes start in its content file */
	FD_A_CONTENT_LEN,	/* u64: how many bytes (format version 2 and up) */
	FD_A_MAX = FD_A_CONTENT_LEN,
};

/*
 * DIR/manifest: "TCKPMAN1", u32 header version, u32 zero, then man_attr
 * TLVs, the last but one MAN_A_MAC (HMAC-SHA256 of every byte before it),
 * the last one MAN_A_CHECKSUM: XXH3-64 of every byte before it.  A manifest
 * without the MAC (written before there was one) is refused.
 */
#define MANIFEST_MAGIC "TCKPMAN1"
#define MANIFEST_HDR_VERSION 1

enum man_attr {
	MAN_A_UNSPEC,
	MAN_A_VERSION,		/* u32 TC_FORMAT_VERSION */
	MAN_A_GENERATION,	/* u64 */
	MAN_A_TIME_NS,		/* u64 */
	MAN_A_HOST,		/* str */
	MAN_A_CMDLINE,		/* str */
	MAN_A_PROC,		/* nest man_proc_attr, repeated, root first */
	MAN_A_FILE,		/* nest man_file_attr, repeated */
	MAN_A_CHECKSUM,		/* u64, last */
	MAN_A_FLAGS,		/* u32 TC_COMP_F_* */
	MAN_A_MEMBER,		/* nest man_member_attr, repeated: a host of a multi-host image */
	MAN_A_MAC,		/* u8[32]: HMAC-SHA256 of every byte before it (imagekey.h); last but one */
	MAN_A_CPU,		/* struct cpu_record */
	MAN_A_MAX = MAN_A_CPU,
};

enum man_proc_attr {
	MANP_A_UNSPEC,
	MANP_A_PID,		/* u32 */
	MANP_A_PPID,		/* u32 */
	MANP_A_PGID,		/* u32 */
	MANP_A_SID,		/* u32 */
	MANP_A_HOST,		/* str */
	MANP_A_CORE,		/* str: path of the core file relative to DIR */
	MANP_A_MAX = MANP_A_CORE,
};

enum man_member_attr {
	MANM_A_UNSPEC,
	MANM_A_HOST,		/* str */
	MANM_A_ADDR,		/* str: where to reach it (ssh) */
	MANM_A_SUBDIR,		/* str: its part, relative to DIR */
	MANM_A_BYTES,		/* u64 */
	MANM_A_NR_PROCS,	/* u32 */
	MANM_A_CMDLINE,		/* str */
	MANM_A_TASK,		/* u32: the batch job's task + 1 */
	MANM_A_MAX = MANM_A_TASK,
};

enum man_file_attr {
	MANF_A_UNSPEC,
	MANF_A_PATH,		/* str: relative to DIR */
	MANF_A_SIZE,		/* u64 */
	MANF_A_XXH3,		/* u64: XXH3-64 of the whole file */
	MANF_A_HEAD_LEN,	/* u64: a core's headers and notes, [0, HEAD_LEN) */
	MANF_A_HEAD_XXH3,	/* u64: XXH3-64 of those bytes alone */
	/*
	 * A plain core's pages, [HEAD_LEN, SIZE), in pieces of TC_CHUNK_SIZE:
	 * u64 XXH3-64 of each, in order (restore --lazy checks each piece
	 * before it serves a page of it).  Absent: compressed, or older.
	 */
	MANF_A_CHUNK_SUMS,
	MANF_A_MAX = MANF_A_CHUNK_SUMS,
};
