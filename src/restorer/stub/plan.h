/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The restore plan: what the restorer (with libc) hands to the freestanding
 * stub, as one flat blob in a memfd.  Fixed-size little structs, offsets from
 * the start of the blob instead of pointers, so the stub reads it without any
 * parsing and can copy it next to itself when it moves into the hole.
 *
 * Included by the stub (no libc): only <stdint.h> types here.
 */
#pragma once

#include <stdint.h>

#define STUB_PLAN_MAGIC 0x324e414c50435400ull	/* "\0TCPLAN2" */

/* Flags of stub_vma.flags */
#define STUB_VMA_SHARED (1u << 0)	/* MAP_SHARED, else MAP_PRIVATE */
#define STUB_VMA_ANON (1u << 1)		/* no file: fd is -1 */
#define STUB_VMA_GROWSDOWN (1u << 2)
#define STUB_VMA_SYSV (1u << 3)		/* a SysV segment attached by shmid: fd is -1 */
/*
 * restore --lazy: its runs are not loaded; the stub registers the mapping
 * with a userfaultfd and hands that to the restorer (STUB_LAZY_FD), which
 * serves the pages on first touch and fetches the rest meanwhile.
 */
#define STUB_VMA_LAZY (1u << 4)
/* MAP_HUGETLB of pages 1 << huge_shift (private anonymous only) */
#define STUB_VMA_HUGETLB (1u << 5)
#define STUB_VMA_NORESERVE (1u << 6)	/* MAP_NORESERVE (private only) */

/* madvise to redo on a VMA (stub_vma.madv) */
#define STUB_MADV_HUGEPAGE (1u << 0)	/* before its pages are read in */
#define STUB_MADV_NOHUGEPAGE (1u << 1)	/* the same */
#define STUB_MADV_DONTFORK (1u << 2)	/* the rest after */
#define STUB_MADV_WIPEONFORK (1u << 3)
#define STUB_MADV_DONTDUMP (1u << 4)
#define STUB_MADV_MERGEABLE (1u << 5)

struct stub_vma {
	uint64_t start, end;
	uint64_t pgoff;		/* bytes */
	uint32_t prot;
	uint32_t flags;		/* STUB_VMA_* */
	int32_t fd;		/* opened by the restorer for file mappings, else -1 */
	uint32_t madv;		/* STUB_MADV_* */
	int32_t shmid;		/* STUB_VMA_SYSV: the segment, pgoff into it */
	uint32_t huge_shift;	/* STUB_VMA_HUGETLB: log2 of the page size */
	uint64_t shm_size;	/* STUB_VMA_SYSV: bytes of the segment */
};

/* Files pages come from: 0 is the core (image_fd), k an earlier generation's (base_fds[k - 1]). */
#define STUB_MAX_FILES 16

/* Pages to read from file `file` into memory. */
struct stub_run {
	uint64_t vaddr, len, file_off;
	uint32_t file;
	uint32_t pad;
};

struct stub_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct stub_itimer {
	uint64_t interval_sec, interval_usec, value_sec, value_usec;
};

/* A POSIX timer, re-created under its id (PR_TIMER_CREATE_RESTORE_IDS). */
struct stub_timer {
	int32_t id, clock, signo, notify, notify_tid;
	uint32_t pad;
	uint64_t sigval;
	uint64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

struct stub_rlimit {
	uint64_t cur, max;
};

struct stub_siginfo {
	/* 1: process-wide (rt_sigqueueinfo, sent by the leader); 0: pending on
	 * the thread whose array holds it (rt_tgsigqueueinfo, sent by itself) */
	uint32_t shared;
	uint32_t signo;
	uint8_t info[128];	/* raw siginfo_t */
};

/* Mirrors struct prctl_mm_map (linux/prctl.h); auxv is inside the plan. */
struct stub_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv_off;	/* plan offset of the auxv array */
	uint32_t auxv_size;	/* bytes */
	int32_t exe_fd;
};

/* Index of each register of struct user_regs_struct in stub_thread.regs. */
enum {
	STUB_R15, STUB_R14, STUB_R13, STUB_R12, STUB_RBP, STUB_RBX, STUB_R11,
	STUB_R10, STUB_R9, STUB_R8, STUB_RAX, STUB_RCX, STUB_RDX, STUB_RSI,
	STUB_RDI, STUB_ORIG_RAX, STUB_RIP, STUB_CS, STUB_EFLAGS, STUB_RSP,
	STUB_SS, STUB_FS_BASE, STUB_GS_BASE, STUB_DS, STUB_ES, STUB_FS, STUB_GS,
	STUB_NR_REGS
};

struct stub_thread {
	int32_t tid;
	/*
	 * Bytes of the xsave image (standard format) at xstate_off, cut to
	 * the components present (the kernel refuses a frame's xstate larger
	 * than the thread's own).  The restorer has already filled in its
	 * fpx_sw_bytes and put FP_XSTATE_MAGIC2 in the 4 bytes after it, so
	 * the stub copies xstate_len + 4 bytes as they are.  512: fxsave
	 * only, no magic after it.
	 */
	uint32_t xstate_len;
	uint64_t xstate_off;	/* plan offset; 64-byte aligned; 0: none */
	/* struct user_regs_struct, as 27 u64 in its order; the restorer has
	 * already applied the system call restart fix-up */
	uint64_t regs[STUB_NR_REGS];
	uint64_t sigmask;
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;
	uint32_t pad;
	uint64_t clear_child_tid;
	uint64_t robust_list, robust_len;
	uint64_t rseq_addr, rseq_len;
	uint32_t rseq_sig;
	uint32_t nr_siginfo;	/* signals pending on this thread */
	uint64_t siginfo_off;	/* struct stub_siginfo[nr_siginfo] */
	char comm[16];		/* NUL-terminated; "": leave the name the thread gets */
};

/* A special mapping of the running kernel, relative to AT_SYSINFO_EHDR. */
struct stub_special {
	int64_t cur_off;	/* where it is in the stub, from the vdso start */
	uint64_t len;		/* 0: this kernel has no such mapping */
	uint64_t target;	/* where it must go; 0: keep no such mapping */
};

/* The stack the stub runs on once it has moved into its hole. */
#define STUB_STACK_SIZE (256u << 10)
/* The stack of each further thread while it builds its frame. */
#define STUB_THREAD_STACK_SIZE (32u << 10)
/* More threads than this in one process are refused. */
#define STUB_MAX_THREADS 8192u

/*
 * Credentials, set last before the threads are made (they inherit them):
 * the stub starts with what it needs to rebuild the process
 * (CAP_CHECKPOINT_RESTORE for the exe link) and ends with these.
 */
struct stub_creds {
	uint32_t valid;			/* 0: keep the ones the stub started with */
	uint32_t set_groups;		/* 0: setgroups is denied here (user namespace) */
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	uint32_t nr_groups;
	uint32_t securebits;
	uint64_t groups_off;		/* uint32_t[nr_groups] */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint64_t personality;
	uint32_t set_personality;
	uint32_t dumpable;		/* 0 or 1: set; else left */
};

enum { STUB_SPECIAL_VVAR, STUB_SPECIAL_VVAR_VCLOCK, STUB_SPECIAL_VDSO, STUB_NR_SPECIAL };

struct stub_plan {
	uint64_t magic;
	uint64_t size;			/* bytes of the whole blob */
	int32_t image_fd;		/* the core file */
	int32_t status_fd;		/* the stub writes struct stub_status here */
	int32_t plan_fd;
	uint32_t nr_close;		/* fds to close before reporting ready */
	uint64_t close_off;		/* int32_t[nr_close] */
	uint32_t nr_cloexec;		/* fds to set FD_CLOEXEC on */
	uint32_t pad0;
	uint64_t cloexec_off;		/* int32_t[nr_cloexec] */

	uint32_t nr_vmas;
	uint32_t nr_runs;
	uint64_t vmas_off;		/* struct stub_vma[nr_vmas], sorted */
	uint64_t runs_off;		/* struct stub_run[nr_runs] */

	struct stub_special special[STUB_NR_SPECIAL];
	struct stub_mm mm;
	struct stub_sigaction sigactions[64];	/* index sig - 1 */
	struct stub_itimer itimers[3];
	struct stub_rlimit rlimits[16];
	uint32_t nr_rlimits;
	uint32_t umask;
	char comm[16];

	uint32_t nr_siginfo;
	uint32_t nr_threads;
	uint64_t siginfo_off;		/* struct stub_siginfo[nr_siginfo] */
	/*
	 * struct stub_thread[nr_threads]; [0] is this process (the leader, tid
	 * = pid), the stub re-creates the others with these tids.
	 */
	uint64_t threads_off;

	uint32_t nr_timers;
	uint32_t pad1;
	uint64_t timers_off;		/* struct stub_timer[nr_timers] */

	struct stub_creds creds;

	uint32_t nr_base_fds;		/* at most STUB_MAX_FILES - 1 */
	int32_t base_fds[STUB_MAX_FILES - 1];
};

/* What the stub reports on status_fd: one message, then it parks. */
enum stub_stage {
	STUB_READY = 0,		/* frames built, waiting to be released */
	STUB_ERR_PLAN,
	STUB_ERR_HOLE,
	STUB_ERR_SPECIAL,
	STUB_ERR_MMAP,
	STUB_ERR_READ,
	STUB_ERR_MPROTECT,
	STUB_ERR_MM,
	STUB_ERR_SIGACTION,
	STUB_ERR_ITIMER,
	STUB_ERR_RLIMIT,
	STUB_ERR_SIGNAL,
	STUB_ERR_FD,
	STUB_ERR_THREAD,
	STUB_ERR_PROC,		/* comm, umask */
	STUB_ERR_MADVISE,
	STUB_ERR_CREDS,		/* addr: which step (enum stub_creds_step) */
	/*
	 * Not the last message: the userfaultfd of the STUB_VMA_LAZY mappings
	 * comes with it (SCM_RIGHTS), then the stub goes on; a page it
	 * touches there waits for the restorer to serve it.
	 */
	STUB_LAZY_FD,
	STUB_ERR_LAZY,		/* the userfaultfd of restore --lazy */
};

enum stub_creds_step {
	STUB_CREDS_PERSONALITY = 1,
	STUB_CREDS_BOUNDING,
	STUB_CREDS_KEEPCAPS,
	STUB_CREDS_GROUPS,
	STUB_CREDS_GIDS,
	STUB_CREDS_UIDS,
	STUB_CREDS_SECUREBITS,
	STUB_CREDS_CAPS,
	STUB_CREDS_AMBIENT,
	STUB_CREDS_DUMPABLE,
};

struct stub_status {
	uint32_t stage;		/* enum stub_stage */
	int32_t err;		/* -errno */
	uint64_t addr;		/* the mapping or object that failed; STUB_ERR_THREAD: or the tid */
	/* STUB_READY: the leader's rt_sigframe (where its uc starts: the rsp
	 * for rt_sigreturn) and a `syscall` instruction the supervisor can use. */
	uint64_t frame_sp;
	uint64_t syscall_insn;
	uint64_t unmap_start, unmap_len;	/* the stub's own area, to munmap */
	/*
	 * STUB_READY: struct stub_thread_status[nr_threads] at threads_addr in
	 * the stub's area (read it from outside before the unmap), one per
	 * thread in plan order, [0] the leader.  0 in an error report.
	 */
	uint64_t threads_addr;
	uint32_t nr_threads;
	int32_t failed_tid;	/* an error in a thread: its (inner) tid, else 0 */
};

/* Every thread, parked in pause() with its frame built. */
struct stub_thread_status {
	int32_t tid;		/* as the program sees it: in its own pid namespace */
	uint32_t pad;
	uint64_t frame_sp;	/* rsp for its rt_sigreturn */
};
