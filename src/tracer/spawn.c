/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/cgroup.h"
#include "tracer/pidns.h"
#include "tracer/session.h"
#include "tracer/spawn.h"
#include "tracer/ssh.h"
#include "util/fdpass.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

struct spawn_args {
	int go_fd, err_fd, ready_fd;
	int trap_fd;		/* hold every exec for the supervisor (ssh): the trap's listener goes here; -1: none */
	char *const *argv;
};

/* fd to the other end of the unix socket sock (SCM_RIGHTS). */
static int send_fd(int sock, int fd)
{
	return fdpass_send(sock, "l", 1, fd);
}

/* The fd the child sent on sock, within timeout_ms. */
static int recv_fd(int sock, int timeout_ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char c;
	int fd, r;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	r = fdpass_recv(sock, &c, 1, &fd);
	if (r <= 0 || fd < 0) {
		closep(&fd);
		return r < 0 ? r : -EIO;
	}
	return fd;
}

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
	if (a->trap_fd >= 0) {
		int listener = -1;

		e = ssh_install_exec_trap(&listener);
		if (e == 0)
			e = send_fd(a->trap_fd, listener);
		if (e < 0) {
			e = -e;
			(void)!write(a->err_fd, &e, sizeof(e));
			_exit(127);
		}
		close(listener);
		close(a->trap_fd);
	}
	execvp(a->argv[0], a->argv);
	e = errno;
	(void)!write(a->err_fd, &e, sizeof(e));
	_exit(127);
}

/* The exec went (err_fd's EOF) or failed (its errno there): true; a held exec served: false. */
static bool exec_done(struct session *s, int err_fd, int listener)
{
	struct pollfd pfd[2] = { { .fd = err_fd, .events = POLLIN },
				 { .fd = listener, .events = POLLIN } };

	if (poll(pfd, 2, -1) < 0)
		return errno != EINTR;
	if (pfd[0].revents)
		return true;
	if (pfd[1].revents & POLLIN)
		ssh_on_exec_notify(s, listener);
	return (pfd[1].revents & (POLLHUP | POLLERR)) != 0;
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
	int go[2], err[2], ready[2] = { -1, -1 }, trap[2] = { -1, -1 }, e = 0, r;
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
	if (pipe2(ready, O_CLOEXEC) < 0 ||
	    (s->coord && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, trap) < 0)) {
		e = errno;
		goto out;
	}
	args = (struct spawn_args){ .go_fd = go[0], .err_fd = err[1], .ready_fd = ready[1],
				    .trap_fd = trap[1], .argv = argv };
	{
		int keep[] = { go[0], err[1], ready[1], trap[1], -1 };

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
	/*
	 * Still waiting for go, it has no child yet: all it makes from now on
	 * is born in the cgroup.
	 */
	session_cgroup_create(s);
	if (s->cgroup_fd >= 0)
		(void)session_cgroup_add(s, pid);
	/*
	 * Nothing is traced between checkpoints: init holds the computation
	 * together and hands us the root's exit status.
	 */
	(void)!write(go[1], "g", 1);
	closep(&trap[1]);
	/* Its own exec is held by the trap too: served here until it happened. */
	if (trap[0] >= 0) {
		int l = recv_fd(trap[0], 5000);

		if (l >= 0 && session_add_exec_listener(s, l) == 0)
			while (!exec_done(s, err[0], l))
				;
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
		if (trap[i] >= 0)
			close(trap[i]);
	}
	return -e;
}
