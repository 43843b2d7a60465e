/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/pidns.h"
#include "tracer/session.h"
#include "tracer/spawn.h"
#include "tracer/ssh.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

struct spawn_args {
	int go_fd, err_fd, ready_fd;
	char *const *argv;
	bool trap_exec;		/* stop every exec for the supervisor (ssh) */
};

static void __attribute__((noreturn)) child(const struct spawn_args *a)
{
	sigset_t none;
	char c;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * A supervisor with file capabilities is undumpable, and so is this
	 * fork of it until its exec: let it seize us now.  EOF tells it.
	 */
	prctl(PR_SET_DUMPABLE, 1);
	close(a->ready_fd);
	/* Wait until the supervisor is ready (run --coordinator: has seized us). */
	if (read(a->go_fd, &c, 1) != 1)
		_exit(127);
	close(a->go_fd);
	if (a->trap_exec && (e = ssh_install_exec_trap()) < 0) {
		e = -e;
		(void)!write(a->err_fd, &e, sizeof(e));
		_exit(127);
	}
	execvp(a->argv[0], a->argv);
	e = errno;
	(void)!write(a->err_fd, &e, sizeof(e));
	_exit(127);
}

/* In init: the program's first process. */
static pid_t spawn_first(void *opaque)
{
	pid_t pid = clone_with_pid(0);

	if (pid == 0)
		child(opaque);
	return pid;
}

int session_spawn(struct session *s, char *const argv[])
{
	int go[2], err[2], ready[2] = { -1, -1 }, e = 0, r;
	struct spawn_args args;
	pid_t pid;
	ssize_t n;

	if (pipe2(go, O_CLOEXEC) < 0)
		return neg_errno();
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return neg_errno();
	}
	if (pipe2(ready, O_CLOEXEC) < 0) {
		e = errno;
		goto out;
	}
	args = (struct spawn_args){ .go_fd = go[0], .err_fd = err[1], .ready_fd = ready[1],
				    .argv = argv, .trap_exec = s->coord != NULL };
	{
		int keep[] = { go[0], err[1], ready[1], -1 };

		r = pidns_start(spawn_first, &args, keep, &s->init_pid);
	}
	if (r < 0) {
		e = -r;
		goto out;
	}
	r = pidns_first_child(s->init_pid, &pid, 5000);
	if (r < 0) {
		e = -r;
		log_err("pid namespace %d: the first process did not start: %s", s->init_pid,
			strerror(e));
		kill(s->init_pid, SIGKILL);
		waitpid(s->init_pid, NULL, 0);
		goto out;
	}
	close(go[0]);
	close(err[1]);
	closep(&ready[1]);
	go[0] = err[1] = -1;
	{
		char c;

		/* EOF: it made itself dumpable (and init let go of the pipe). */
		(void)!read(ready[0], &c, 1);
	}
	s->root = pid;
	if (session_detached(s)) {
		/*
		 * Nothing is traced between checkpoints: init holds the
		 * computation together and hands us the root's exit status.
		 */
		(void)!write(go[1], "g", 1);
		n = read(err[0], &e, sizeof(e));
		if (n == sizeof(e))
			log_err("cannot run %s: %s", argv[0], strerror(e));
		e = 0;
		goto out;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, SESSION_PTRACE_OPTIONS) < 0) {
		e = errno;
		log_err("cannot trace pid %d: %m", pid);
		kill(s->init_pid, SIGKILL);
		waitpid(s->init_pid, NULL, 0);
		goto out;
	}
	s->root = pid;
	if (!session_add(s, pid, pid)) {
		e = ENOMEM;
		kill(s->init_pid, SIGKILL);
		goto out;
	}
	session_find(s, pid)->new_child = false;
	(void)!write(go[1], "g", 1);
	/*
	 * EOF: the exec happened.  Else the child exits 127, the program's
	 * status.  Its exec may stop for us first (the ssh trap): serve it.
	 */
	for (;;) {
		struct pollfd pfd = { .fd = err[0], .events = POLLIN };
		int status;

		if (poll(&pfd, 1, 10) != 0)
			break;
		if (waitpid(pid, &status, WNOHANG | __WALL) == pid &&
		    session_handle_wait(s, pid, status) < 0)
			break;
	}
	n = read(err[0], &e, sizeof(e));
	if (n == sizeof(e))
		log_err("cannot run %s: %s", argv[0], strerror(e));
	e = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (err[i] >= 0)
			close(err[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
	return -e;
}
