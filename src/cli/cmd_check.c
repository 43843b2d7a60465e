/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/privilege.h"
#include "util/netlock.h"

#ifndef PR_SET_MM_MAP_SIZE
#define PR_SET_MM_MAP_SIZE 15
#endif

/* A child that waits to be looked at, for the ptrace checks. */
static pid_t start_sleeper(void)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		/* A program after its exec, as dumps see them (file capabilities
		 * made this process undumpable, and /proc then root's). */
		execl("/bin/sleep", "sleep", "3600", (char *)NULL);
		prctl(PR_SET_DUMPABLE, 1);
		close(ready[0]);
		close(ready[1]);
		pause();
		_exit(0);
	}
	close(ready[1]);
	/* EOF once it has exec'd (close-on-exec) or given up. */
	(void)!read(ready[0], &c, 1);
	close(ready[0]);
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
	{
		struct user_regs_struct regs;
		struct iovec riov = { &regs, sizeof(regs) };

		/* Its stack: mapped whatever program it is. */
		if (ptrace(PTRACE_GETREGSET, pid, 1 /* NT_PRSTATUS */, &riov) < 0)
			return false;
		remote = (struct iovec){ (void *)regs.rsp, 8 };
	}
	*vm_readv = process_vm_readv(pid, &local, 1, &remote, 1, 0) == 8;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	*pagemap = fd >= 0 && pread(fd, buf, 8, 0) == 8;
	if (fd >= 0)
		close(fd);
	return true;
}

static bool tcp_repair_works(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && tcp_set_repair(fd, 1) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

int cmd_check(int argc, char **argv)
{
	bool regset = false, vm_readv = false, pagemap = false, seize, all = true;
	enum privilege_mode mode = privilege_mode();
	bool root = mode == PRIV_ROOT, userns = true;
	char userns_why[512] = "";
	unsigned int mm_size = 0;
	struct clone_args ca = { 0 };
	pid_t pid;
	long r;

	const char *dir = NULL, *key_file = NULL;
	bool new_pidns = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			key_file = argv[++i];
		} else if (!strcmp(argv[i], "--new-pidns")) {
			new_pidns = true;
		} else if (argv[i][0] != '-' && !dir) {
			dir = argv[i];
		} else {
			usage_of("check", true);
			return 2;
		}
	}
	if (dir && dir[strspn(dir, "0123456789")] == '\0' && access(dir, F_OK) < 0)
		return check_pid(atoi(dir));
	if (dir)
		return check_image(dir, key_file, new_pidns);
	pid = start_sleeper();
	seize = pid > 0 && check_ptrace(pid, &regset, &vm_readv, &pagemap);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
	}
	userns = userns_available(userns_why, sizeof(userns_why)) == 1;
	/* clone3 with a bad set_tid size: EINVAL means the kernel knows set_tid. */
	ca.set_tid_size = 1;
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	struct {
		const char *what;
		bool ok;
		const char *why;
		bool needed;	/* in this mode */
	} checks[] = {
		{ "ptrace PTRACE_SEIZE/INTERRUPT", seize, "dump: freeze and read threads", true },
		{ "PTRACE_GETREGSET NT_X86_XSTATE", regset, "dump: vector registers", true },
		{ "process_vm_readv", vm_readv, "dump: memory", true },
		{ "/proc/PID/pagemap", pagemap, "dump: skip untouched pages", true },
		{ "clone3 set_tid", r < 0 && errno == EINVAL, "restore: exact pids", true },
		{ "prctl PR_SET_MM_MAP", prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &mm_size, 0, 0) == 0,
		  "restore: brk, arg/env, exe link", true },
		{ "CAP_SYS_PTRACE", privilege_has_cap(CAP_SYS_PTRACE, true), "trace processes of others", root },
		{ "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN",
		  privilege_has_cap(CAP_CHECKPOINT_RESTORE, true) ||
		  privilege_has_cap(CAP_SYS_ADMIN, true),
		  "restore: set_tid and the exe link", root },
		{ "user namespaces", userns,
		  "without root: pid namespace, set_tid and the exe link in one of your own", !root },
		{ "pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == EBADF,
		  "dump: inspect pipes and sockets", true },
		{ "vdso", getauxval(AT_SYSINFO_EHDR) != 0, "remote system calls", true },
		{ "TCP_REPAIR (CAP_NET_ADMIN on the host)", tcp_repair_works(),
		  "TCP connections to peers outside the computation; without it those are refused and connections inside are drained", false },
	};
	printf("mode: %s\n", privilege_mode_name(mode));
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const char *state = checks[i].ok ? "ok" : checks[i].needed ? "MISSING" : "no";

		if (!checks[i].needed && !checks[i].ok && (i == 6 || i == 7 || i == 8))
			continue;	/* the other mode's needs */
		printf("%-42s %-8s %s\n", checks[i].what, state, checks[i].why);
		if (checks[i].needed)
			all &= checks[i].ok;
	}
	if (!userns)
		printf("%s\n", userns_why);
	printf("%s\n", all ? "this kernel has everything trace-ckpt needs in this mode"
			   : "some features are missing: see above");
	return all ? 0 : 1;
}
