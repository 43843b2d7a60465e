/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/session.h"
#include "tracer/spawn.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static void __attribute__((noreturn)) child(int go_fd, int err_fd, char *const argv[])
{
	sigset_t none;
	char c;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Wait until the supervisor has seized us: nothing may run untraced. */
	if (read(go_fd, &c, 1) != 1)
		_exit(127);
	close(go_fd);
	execvp(argv[0], argv);
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

int session_spawn(struct session *s, char *const argv[])
{
	int go[2], err[2], e = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(go, O_CLOEXEC) < 0)
		return neg_errno();
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return neg_errno();
	}
	pid = fork();
	if (pid < 0) {
		e = errno;
		goto out;
	}
	if (pid == 0) {
		close(go[1]);
		close(err[0]);
		child(go[0], err[1], argv);
	}
	close(go[0]);
	close(err[1]);
	go[0] = err[1] = -1;
	if (ptrace(PTRACE_SEIZE, pid, 0, SESSION_PTRACE_OPTIONS) < 0) {
		e = errno;
		log_err("cannot trace pid %d: %m", pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	s->root = pid;
	if (!session_add(s, pid, pid)) {
		e = ENOMEM;
		kill(pid, SIGKILL);
		goto out;
	}
	session_find(s, pid)->new_child = false;
	(void)!write(go[1], "g", 1);
	n = read(err[0], &e, sizeof(e));
	if (n == sizeof(e)) {
		log_err("cannot run %s: %s", argv[0], strerror(e));
		/* The child exits 127; let the loop reap it as the program's status. */
		e = 0;
	} else {
		e = 0;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return -e;
}
