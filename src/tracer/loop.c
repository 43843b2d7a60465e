/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's event loop: its signals, the computation's end, the
 * control socket's clients, periodic and signal checkpoints, the exec
 * traps of ssh, the coordinator.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/control.h"
#include "coord/channel.h"
#include "tracer/coord_client.h"
#include "tracer/session.h"
#include "tracer/supervisor_log.h"
#include "tracer/periodic.h"
#include "tracer/sigckpt.h"
#include "tracer/ssh.h"
#include "util/log.h"
#include "util/macro.h"

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

static int serve_until_gone(struct session *s)
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

int session_loop(struct session *s)
{
	int r;

	/* While the program runs, its terminal is its own. */
	supervisor_log_start(s);
	r = serve_until_gone(s);
	supervisor_log_stop(s);
	return r;
}
