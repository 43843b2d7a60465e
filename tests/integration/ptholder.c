/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ptholder PID: a tracer of our own that holds every thread of PID (as gdb
 * or strace would), passing each signal on, until it is killed; the kernel
 * lets the threads go then.  Prints "held N" once it holds N threads.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: ptholder PID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/task", argv[1]);
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
			fprintf(stderr, "ptholder: PTRACE_SEIZE %d: %m\n", tid);
			return 1;
		}
		n++;
	}
	closedir(d);
	printf("held %d\n", n);
	fflush(stdout);
	for (;;) {
		int status, sig;
		pid_t w = waitpid(-1, &status, __WALL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return 0;
		if (!WIFSTOPPED(status))
			continue;
		sig = status >> 16 ? 0 : WSTOPSIG(status);
		ptrace(PTRACE_CONT, w, 0, sig);
	}
}
