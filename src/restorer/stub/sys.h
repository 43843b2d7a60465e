/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stub's own system calls: no libc.  Every wrapper returns the raw kernel
 * value, so errors are -errno in the range [-4095, -1].
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define __NR_read		0
#define __NR_write		1
#define __NR_close		3
#define __NR_mmap		9
#define __NR_mprotect		10
#define __NR_munmap		11
#define __NR_rt_sigaction	13
#define __NR_rt_sigprocmask	14
#define __NR_rt_sigreturn	15
#define __NR_ioctl		16
#define __NR_pread64		17
#define __NR_mremap		25
#define __NR_shmat		30
#define __NR_madvise		28
#define __NR_pause		34
#define __NR_sendmsg		46
#define __NR_nanosleep		35
#define __NR_setitimer		38
#define __NR_getpid		39
#define __NR_fcntl		72
#define __NR_umask		95
#define __NR_rt_sigqueueinfo	129
#define __NR_sigaltstack	131
#define __NR_setresuid		117
#define __NR_setresgid		119
#define __NR_setfsuid		122
#define __NR_setfsgid		123
#define __NR_capget		125
#define __NR_capset		126
#define __NR_personality	135
#define __NR_prctl		157
#define __NR_setgroups		116
#define __NR_timer_create	222
#define __NR_timer_settime	223
#define PR_TIMER_CREATE_RESTORE_IDS	77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF	0
#define PR_TIMER_CREATE_RESTORE_IDS_ON	1
#define __NR_arch_prctl		158
#define __NR_gettid		186
#define __NR_futex		202
#define __NR_set_tid_address	218
#define __NR_exit_group		231
#define __NR_set_robust_list	273
#define __NR_rt_tgsigqueueinfo	297
#define __NR_prlimit64		302
#define __NR_userfaultfd	323
#define __NR_rseq		334
#define __NR_clone3		435

#define PROT_READ	0x1
#define PROT_WRITE	0x2
#define PROT_EXEC	0x4
#define MAP_SHARED	0x01
#define MAP_PRIVATE	0x02
#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_GROWSDOWN	0x0100
#define MAP_NORESERVE		0x4000
#define MAP_HUGETLB		0x40000
#define MAP_HUGE_SHIFT		26
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE	1
#define MREMAP_FIXED	2
#define SHM_RDONLY	010000
#define SHM_EXEC	0100000

#define SIG_SETMASK	2
#define F_SETFD		2
#define FD_CLOEXEC	1
#define PR_SET_NAME	15
#define PR_GET_DUMPABLE	3
#define PR_SET_DUMPABLE	4
#define PR_SET_KEEPCAPS	8
#define PR_CAPBSET_READ	23
#define PR_CAPBSET_DROP	24
#define PR_GET_SECUREBITS	27
#define PR_SET_SECUREBITS	28
#define PR_CAP_AMBIENT	47
#define PR_CAP_AMBIENT_RAISE	2
#define PR_CAP_AMBIENT_CLEAR_ALL	4
#define SECBIT_KEEP_CAPS	(1u << 4)
#define LINUX_CAPABILITY_VERSION_3	0x20080522
#define PR_SET_MM	35
#define PR_SET_MM_MAP	14
#define ARCH_SET_GS	0x1001
#define ARCH_SET_FS	0x1002
#define CLONE_VM	0x00000100
#define CLONE_FS	0x00000200
#define CLONE_FILES	0x00000400
#define CLONE_SIGHAND	0x00000800
#define CLONE_THREAD	0x00010000
#define CLONE_SYSVSEM	0x00040000
#define FUTEX_WAIT_PRIVATE	128
#define FUTEX_WAKE_PRIVATE	129
#define SS_ONSTACK	1
#define SS_DISABLE	2

#define EPERM		1
#define EINVAL		22
#define EINTR		4
#define EAGAIN		11
#define EEXIST		17
#define O_CLOEXEC	02000000
#define EIO		5
#define EFAULT		14
#define ENOMEM		12
#define EOPNOTSUPP	95
#define ENOSPC		28

#define PAGE_SIZE	4096ul

static inline long sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys0(nr) sys6(nr, 0, 0, 0, 0, 0, 0)
#define sys1(nr, a) sys6(nr, (long)(a), 0, 0, 0, 0, 0)
#define sys2(nr, a, b) sys6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(nr, a, b, c) sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(nr, a, b, c, d) sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(nr, a, b, c, d, e) sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static inline int is_err(long ret)
{
	return (unsigned long)ret >= (unsigned long)-4095;
}

static inline long sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
	return sys6(__NR_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}

static inline __attribute__((noreturn)) void sys_exit_group(int code)
{
	for (;;)
		sys1(__NR_exit_group, code);
}
