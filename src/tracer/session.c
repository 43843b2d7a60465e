/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/control.h"
#include "coord/channel.h"
#include "tracer/coord_client.h"
#include "tracer/session.h"
#include "tracer/wptrack.h"
#include "tracer/periodic.h"
#include "tracer/sigckpt.h"
#include "tracer/ssh.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/netlock.h"
#include "util/privilege.h"

/* Tried rather than deduced: what counts is the network namespace's owner. */
static bool tcp_repair_allowed(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = tcp_set_repair(fd, 1) == 0;
	close(fd);
	return ok;
}

int session_init(struct session *s, const char *default_dir, const char *cmdline)
{
	const char *tcp_env;
	sigset_t mask;

	memset(s, 0, sizeof(*s));
	s->signal_fd = -1;
	s->control_fd = -1;
	s->periodic_fd = -1;
	s->root_pidfd = -1;
	s->supervisor_pid = getpid();
	s->default_dir = default_dir ? strdup(default_dir) : NULL;
	s->cmdline = strdup(cmdline ? cmdline : "");
	if ((default_dir && !s->default_dir) || !s->cmdline)
		return -ENOMEM;

	/*
	 * SIGINT/SIGQUIT from the terminal reach the program through its
	 * process group; the supervisor must outlive them to report its exit.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return neg_errno();
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->signal_fd < 0)
		return neg_errno();
	session_note_stdio(s);
	s->can_repair_tcp = tcp_repair_allowed();
	s->priv_mode = privilege_mode();
	tcp_env = getenv("TRACE_CKPT_TCP");
	if (tcp_env && strcmp(tcp_env, "drain") && strcmp(tcp_env, "auto"))
		log_warn("TRACE_CKPT_TCP=%s: neither \"drain\" nor \"auto\"; auto it is", tcp_env);
	/* Both paths tested on a machine that has the privilege (README, "Without root"). */
	s->tcp_drain = !s->can_repair_tcp || (tcp_env && !strcmp(tcp_env, "drain"));
	return 0;
}

void session_done(struct session *s)
{
	if (s->coord) {
		channel_close(s->coord);
		free(s->coord);
	}
	free(s->coord_secret);
	free(s->part_addr_map);
	wptrack_forget(s);
	free(s->carried_ssh);
	for (size_t i = 0; i < s->nr_exec_listeners; i++)
		close(s->exec_listeners[i]);
	free(s->exec_listeners);
	for (size_t i = 0; i < s->nr_dead_ends; i++)
		close(s->dead_ends[i]);
	free(s->dead_ends);
	free(s->dead_end_inos);
	control_close(s);
	closep(&s->signal_fd);
	closep(&s->periodic_fd);
	closep(&s->root_pidfd);
	free(s->tracees);
	free(s->default_dir);
	free(s->cmdline);
	memset(s, 0, sizeof(*s));
	s->signal_fd = s->control_fd = s->periodic_fd = s->root_pidfd = -1;
}

/* A restored computation has one exec trap per process: the first ones are served. */
#define EXEC_LISTENERS_POLLED 1024

static void session_drop_exec_listener(struct session *s, int fd)
{
	for (size_t i = 0; i < s->nr_exec_listeners; i++)
		if (s->exec_listeners[i] == fd) {
			close(fd);
			s->exec_listeners[i] = s->exec_listeners[--s->nr_exec_listeners];
			return;
		}
}

int session_add_exec_listener(struct session *s, int fd)
{
	int *n = realloc(s->exec_listeners, (s->nr_exec_listeners + 1) * sizeof(*n));

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	s->exec_listeners = n;
	s->exec_listeners[s->nr_exec_listeners++] = fd;
	return 0;
}

void session_note_carried_ssh(struct session *s, pid_t pid)
{
	pid_t *n = realloc(s->carried_ssh, (s->nr_carried_ssh + 1) * sizeof(*n));

	if (!n)
		return;
	s->carried_ssh = n;
	s->carried_ssh[s->nr_carried_ssh++] = pid;
}

bool session_is_carried_ssh(const struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nr_carried_ssh; i++)
		if (s->carried_ssh[i] == pid)
			return true;
	return false;
}

int session_hold_dead_end(struct session *s, int fd, uint64_t program_end_ino)
{
	int *nf = realloc(s->dead_ends, (s->nr_dead_ends + 1) * sizeof(*nf));
	uint64_t *ni;

	if (!nf)
		return -ENOMEM;
	s->dead_ends = nf;
	ni = realloc(s->dead_end_inos, (s->nr_dead_ends + 1) * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	s->dead_end_inos = ni;
	s->dead_ends[s->nr_dead_ends] = fd;
	s->dead_end_inos[s->nr_dead_ends++] = program_end_ino;
	return 0;
}

bool session_is_dead_end(const struct session *s, uint64_t ino)
{
	for (size_t i = 0; i < s->nr_dead_ends; i++)
		if (s->dead_end_inos[i] == ino)
			return true;
	return false;
}

void session_note_stdio(struct session *s)
{
	for (int i = 0; i < 3; i++) {
		struct stat st;

		s->stdio[i].valid = fstat(i, &st) == 0;
		if (s->stdio[i].valid) {
			s->stdio[i].dev = st.st_dev;
			s->stdio[i].ino = st.st_ino;
		}
	}
}

struct tracee *session_find(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nr_tracees; i++)
		if (s->tracees[i].tid == tid)
			return &s->tracees[i];
	return NULL;
}

struct tracee *session_add(struct session *s, pid_t tid, pid_t tgid)
{
	struct tracee *t = session_find(s, tid);

	if (t)
		return t;
	if (s->nr_tracees == s->cap_tracees) {
		size_t cap = s->cap_tracees ? s->cap_tracees * 2 : 16;
		struct tracee *n = realloc(s->tracees, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->tracees = n;
		s->cap_tracees = cap;
	}
	t = &s->tracees[s->nr_tracees++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->tgid = tgid;
	t->state = TRACEE_RUNNING;
	t->new_child = true;
	return t;
}

void session_remove(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nr_tracees; i++) {
		if (s->tracees[i].tid != tid)
			continue;
		s->tracees[i] = s->tracees[--s->nr_tracees];
		return;
	}
}

bool session_alive(pid_t tgid, pid_t tid)
{
	char path[64], buf[512];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;

	if (syscall(SYS_tgkill, tgid, tid, 0) < 0 && errno == ESRCH)
		return false;
	/* A zombie never stops again: it only waits to be reaped. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !p || (p[2] != 'Z' && p[2] != 'X');
}

static void resume(pid_t tid, int sig)
{
	if (ptrace(PTRACE_CONT, tid, 0, sig) < 0 && errno != ESRCH)
		log_debug("tid %d: PTRACE_CONT: %m", tid);
}

int session_handle_wait(struct session *s, pid_t tid, int status)
{
	struct tracee *t = session_find(s, tid);
	int event = status >> 16;
	int sig;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		/* init leaves with the root's status (pidns.c): the computation ended. */
		if (tid == s->root || (s->init_pid && tid == s->init_pid)) {
			s->root_status = status;
			s->root_gone = true;
		}
		session_remove(s, tid);
		return 0;
	}
	if (!WIFSTOPPED(status))
		return 0;
	if (!t) {
		/* Not one of ours any more (let go at a thaw): let it go again. */
		if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0 && errno != ESRCH)
			log_debug("tid %d: PTRACE_DETACH: %m", tid);
		return 0;
	}
	sig = WSTOPSIG(status);

	if (sig == SIGTRAP && event) {
		unsigned long msg = 0;

		switch (event) {
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE:
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0) {
				pid_t child = (pid_t)msg;
				pid_t tgid = event == PTRACE_EVENT_CLONE ? t->tgid : child;

				/* It may have exited, and been reaped, before this event. */
				if (session_alive(tgid, child) && !session_add(s, child, tgid))
					return -ENOMEM;
			}
			break;
		case PTRACE_EVENT_EXEC:
			/* A non-leader thread that execs takes the leader's tid. */
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0 &&
			    (pid_t)msg != tid)
				session_remove(s, (pid_t)msg);
			break;
		default:
			break;
		}
		resume(tid, 0);
		return 0;
	}
	if (event == PTRACE_EVENT_STOP && t->new_child) {
		/* The first stop of an auto-attached child. */
		t->new_child = false;
		resume(tid, 0);
		return 0;
	}
	if (event == PTRACE_EVENT_STOP) {
		/* Group-stop: keep the job-control stop, but stay notified. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			t->state = TRACEE_GROUP_STOPPED;
			if (ptrace(PTRACE_LISTEN, tid, 0, 0) < 0 && errno != ESRCH)
				log_debug("tid %d: PTRACE_LISTEN: %m", tid);
			return 0;
		}
		t->state = TRACEE_RUNNING;
		resume(tid, 0);
		return 0;
	}
	if (sig == (SIGTRAP | 0x80)) {
		resume(tid, 0);
		return 0;
	}
	/* Signal-delivery-stop: the signal was meant for the program. */
	t->state = TRACEE_RUNNING;
	resume(tid, sig);
	return 0;
}

int session_drain_waits(struct session *s)
{
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid == 0)
			return 0;
		if (tid < 0)
			return errno == ECHILD ? 0 : neg_errno();
		if (session_handle_wait(s, tid, status) < 0)
			return -ENOMEM;
	}
}

static void forward_signal(struct session *s, int sig)
{
	if (s->root > 0 && !s->root_gone)
		kill(s->root, sig);
}

/*
 * The root of an attached tree is not our child: its pidfd says it is gone,
 * but only its parent learns how it ended.  Killed by our own dump --kill,
 * we know.
 */
static void note_attached_root_gone(struct session *s)
{
	s->root_gone = true;
	if (s->killed_by_dump) {
		s->root_status = SIGKILL;
		return;
	}
	s->root_status = 0;
	log_info("pid %d is gone; its exit status goes to its parent, not to attach", s->root);
}

int session_loop(struct session *s)
{
	while (!s->root_gone && !s->quit) {
		struct pollfd pfd[4 + CONTROL_MAX_CONNS + EXEC_LISTENERS_POLLED] = {
			{ .fd = s->signal_fd, .events = POLLIN },
			{ .fd = s->coord ? s->coord->fd : -1, .events = POLLIN },
			{ .fd = s->periodic_fd, .events = POLLIN },
			{ .fd = s->root_pidfd, .events = POLLIN },
		};
		size_t nctl = control_pollfds(s, pfd + 4), nx = 0;
		int r;

		for (size_t i = 0; i < s->nr_exec_listeners && nx < EXEC_LISTENERS_POLLED; i++)
			pfd[4 + nctl + nx++] = (struct pollfd){ .fd = s->exec_listeners[i],
								.events = POLLIN };
		r = poll(pfd, 4 + nctl + nx, control_poll_timeout(s));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return neg_errno();
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (sigckpt_note(s, (int)si.ssi_signo))
					continue;
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP)
					forward_signal(s, si.ssi_signo);
			}
		}
		r = session_drain_waits(s);
		if (r < 0)
			return r;
		if (s->root_pidfd >= 0 && (pfd[3].revents & POLLIN) && !s->root_gone)
			note_attached_root_gone(s);
		control_handle(s, pfd + 4, nctl);
		for (size_t i = 0; i < nx; i++) {
			struct pollfd *x = &pfd[4 + nctl + i];

			if (x->revents & POLLIN)
				ssh_on_exec_notify(s, x->fd);
			/* Every process under that filter is gone. */
			else if (x->revents & (POLLHUP | POLLERR))
				session_drop_exec_listener(s, x->fd);
		}
		if (s->coord && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			coord_serve(s);
		if (s->periodic_fd >= 0 && (pfd[2].revents & POLLIN) && !s->root_gone)
			periodic_fire(s);
		if (s->sigckpt && !s->root_gone)
			sigckpt_fire(s);
		/* One request per turn: the stops that came meanwhile are served first. */
		if (!s->quit)
			control_run_queued(s);
	}
	return 0;
}

int session_exit_code(const struct session *s)
{
	if (WIFEXITED(s->root_status))
		return WEXITSTATUS(s->root_status);
	if (WIFSIGNALED(s->root_status))
		return 128 + WTERMSIG(s->root_status);
	return 1;
}
