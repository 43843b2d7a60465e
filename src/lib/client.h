/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client of the supervisors' control sockets: finding the supervisors
 * of this user and asking one of them.  Part of libtraceckpt; the command
 * links it too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tlv_buf;

/* A live supervisor as the control socket tells it. */
struct supervisor_info {
	pid_t pid;
	char path[108];		/* its control socket */
	char *cmdline, *dir;
	pid_t *pids;		/* every process it traces */
	size_t nr_pids;
	uint64_t generation;
	bool unanswered;	/* did not answer in time: busy, or its clients slots full */
};

/* Every live supervisor of this user; stale sockets are removed. */
int client_list(struct supervisor_info **out, size_t *nr);
/* The supervisor of pid when /proc names it, else the same as client_list. */
int client_find(pid_t pid, struct supervisor_info **out, size_t *nr);
void client_list_free(struct supervisor_info *v, size_t nr);
/* Send a request and receive the reply (malloc'd, *len bytes). */
int client_request(const char *path, const struct tlv_buf *req, uint8_t **reply, size_t *len,
		   int timeout_ms);

/* The supervisor of pid (any of its processes), or the only one when pid is 0. */
const struct supervisor_info *client_pick(const struct supervisor_info *v, size_t n, pid_t pid);
void client_pick_explain(const char *cmd, const struct supervisor_info *v, size_t n, pid_t pid);

