/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/control.h"
#include "coord/channel.h"
#include "tracer/cgroup.h"
#include "tracer/session.h"
#include "tracer/supervisor_log.h"
#include "tracer/wptrack.h"
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
	s->log_fd = -1;
	s->periodic_fd = -1;
	s->root_pidfd = -1;
	s->cgroup_fd = -1;
	s->supervisor_pid = getpid();
	supervisor_log_claim();
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
	if (s->lazy)
		s->lazy_free(s->lazy);
	/* Only the supervisor: a dump worker's copy of the session ends before the computation. */
	if (!s->in_dump_worker && getpid() == s->supervisor_pid)
		session_cgroup_remove(s);
	control_close(s);
	supervisor_log_close(s);
	closep(&s->signal_fd);
	closep(&s->periodic_fd);
	closep(&s->root_pidfd);
	closep(&s->cgroup_fd);
	free(s->cgroup_path);
	free(s->tracees);
	free(s->default_dir);
	free(s->cmdline);
	memset(s, 0, sizeof(*s));
	s->signal_fd = s->control_fd = s->periodic_fd = s->root_pidfd = s->log_fd = s->cgroup_fd = -1;
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
