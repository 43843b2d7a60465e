/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Remote system calls on a child blocked in read(): they return what the
 * call returns, leave registers and signal mask exactly as they were, and
 * the interrupted read() is restarted when the child runs on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptrace/remote.h"
#include "util/fileio.h"
#include "check.h"

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void __attribute__((noreturn)) child(int rfd)
{
	sigset_t set;
	char c = 0;
	ssize_t n;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	n = read(rfd, &c, 1);
	_exit(n == 1 ? c : 100 + errno);
}

int main(void)
{
	struct user_regs_struct before, after;
	uint64_t insn, scratch, mask_before, mask_after;
	struct k_sigaction ka;
	char name[16] = "remote-name", *comm, path[64];
	long args[6] = { 0 }, ret;
	int pfd[2], status;
	pid_t pid;

	CHECK(pipe(pfd) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(pfd[1]);
		child(pfd[0]);
	}
	close(pfd[0]);
	usleep(100000);	/* let it block in read() */
	CHECK(ptrace(PTRACE_SEIZE, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD) == 0, "seize: %m");
	CHECK(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0, "interrupt: %m");
	CHECK(waitpid(pid, &status, __WALL) == pid && status >> 16 == PTRACE_EVENT_STOP,
	      "stop 0x%x", status);
	CHECK(ptrace(PTRACE_GETREGS, pid, NULL, &before) == 0, "regs");
	CHECK(ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask_before), &mask_before) == 0, "mask");
	CHECK(before.orig_rax == SYS_read, "not in read: orig_rax %lld", before.orig_rax);

	CHECK(remote_find_syscall_insn(pid, &insn) == 0, "syscall insn");
	CHECK(remote_syscall(pid, insn, SYS_getpid, args, &ret) == 0, "getpid");
	CHECK(ret == pid, "getpid %ld", ret);

	CHECK(remote_scratch(pid, sizeof(ka), &scratch) == 0, "scratch");
	CHECK(scratch < before.rsp - 128 && scratch % 16 == 0, "scratch 0x%llx",
	      (unsigned long long)scratch);
	args[0] = SIGUSR1;
	args[1] = 0;
	args[2] = (long)scratch;
	args[3] = 8;
	CHECK(remote_syscall(pid, insn, SYS_rt_sigaction, args, &ret) == 0 && ret == 0,
	      "rt_sigaction %ld", ret);
	CHECK(remote_read(pid, scratch, &ka, sizeof(ka)) == 0, "read scratch");
	CHECK(ka.handler == (uint64_t)on_usr1, "handler 0x%llx", (unsigned long long)ka.handler);

	CHECK(remote_write(pid, scratch, name, sizeof(name)) == 0, "write scratch");
	args[0] = PR_SET_NAME;
	args[1] = (long)scratch;
	CHECK(remote_syscall(pid, insn, SYS_prctl, args, &ret) == 0 && ret == 0, "prctl %ld",
	      ret);
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	CHECK(read_file_at(AT_FDCWD, path, &comm, NULL) == 0, "comm");
	CHECK(!strcmp(comm, "remote-name\n"), "comm %s", comm);
	free(comm);

	/* A failing call reports -errno in ret, not as an error of ours. */
	args[0] = -1;
	CHECK(remote_syscall(pid, insn, SYS_close, args, &ret) == 0 && ret == -EBADF,
	      "close(-1) %ld", ret);

	CHECK(ptrace(PTRACE_GETREGS, pid, NULL, &after) == 0, "regs");
	CHECK(ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask_after), &mask_after) == 0, "mask");
	CHECK(!memcmp(&before, &after, sizeof(before)), "registers changed");
	CHECK(mask_before == mask_after, "signal mask changed");

	/* The read() it was blocked in goes on. */
	CHECK(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0, "cont: %m");
	CHECK(write(pfd[1], "\x2a", 1) == 1, "write");
	for (;;) {
		CHECK(waitpid(pid, &status, __WALL) == pid, "waitpid");
		if (!WIFSTOPPED(status))
			break;
		CHECK(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0, "cont: %m");
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42, "child status 0x%x", status);
	printf("ok\n");
	return 0;
}
