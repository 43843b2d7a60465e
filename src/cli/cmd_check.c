/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef PR_SET_MM_MAP_SIZE
#define PR_SET_MM_MAP_SIZE 15
#endif

static bool have_cap(cap_value_t c)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

/* A child that waits to be looked at, for the ptrace checks. */
static pid_t start_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static bool check_ptrace(pid_t pid, bool *regset, bool *vm_readv, bool *pagemap)
{
	char path[64], buf[4096];
	struct iovec local = { buf, 8 }, remote;
	struct iovec iov = { buf, sizeof(buf) };
	int status, fd;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		return false;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || waitpid(pid, &status, __WALL) != pid)
		return false;
	*regset = ptrace(PTRACE_GETREGSET, pid, 0x202 /* NT_X86_XSTATE */, &iov) == 0;
	remote = (struct iovec){ (void *)&start_sleeper, 8 };
	*vm_readv = process_vm_readv(pid, &local, 1, &remote, 1, 0) == 8;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	*pagemap = fd >= 0 && pread(fd, buf, 8, 0) == 8;
	if (fd >= 0)
		close(fd);
	return true;
}

int cmd_check(int argc, char **argv)
{
	bool regset = false, vm_readv = false, pagemap = false, seize, all = true;
	unsigned int mm_size = 0;
	struct clone_args ca = { 0 };
	pid_t pid;
	long r;

	(void)argc;
	(void)argv;
	pid = start_sleeper();
	seize = pid > 0 && check_ptrace(pid, &regset, &vm_readv, &pagemap);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
	}
	/* clone3 with a bad set_tid size: EINVAL means the kernel knows set_tid. */
	ca.set_tid_size = 1;
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	struct {
		const char *what;
		bool ok;
		const char *why;
	} checks[] = {
		{ "ptrace PTRACE_SEIZE/INTERRUPT", seize, "dump: freeze and read threads" },
		{ "PTRACE_GETREGSET NT_X86_XSTATE", regset, "dump: vector registers" },
		{ "process_vm_readv", vm_readv, "dump: memory" },
		{ "/proc/PID/pagemap", pagemap, "dump: skip untouched pages" },
		{ "clone3 set_tid", r < 0 && errno == EINVAL, "restore: exact pids" },
		{ "prctl PR_SET_MM_MAP", prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &mm_size, 0, 0) == 0,
		  "restore: brk, arg/env, exe link" },
		{ "CAP_SYS_PTRACE", have_cap(CAP_SYS_PTRACE), "trace processes of others" },
		{ "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN",
		  have_cap(CAP_CHECKPOINT_RESTORE) || have_cap(CAP_SYS_ADMIN),
		  "restore: set_tid and the exe link" },
		{ "pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == EBADF,
		  "dump: inspect pipes and sockets" },
		{ "vdso", getauxval(AT_SYSINFO_EHDR) != 0, "remote system calls" },
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		printf("%-42s %-8s %s\n", checks[i].what, checks[i].ok ? "ok" : "MISSING",
		       checks[i].why);
		all &= checks[i].ok;
	}
	printf("%s\n", all ? "this kernel has everything trace-ckpt needs"
			   : "some features are missing: see above");
	return all ? 0 : 1;
}
