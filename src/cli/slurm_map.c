/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore --all-hosts --host-map slurm: the hosts of a checkpoint placed on
 * the nodes of the Slurm job the restore runs in (a requeued job runs where
 * Slurm puts it).  The job's nodes come from `scontrol show hostnames
 * $SLURM_JOB_NODELIST`, each node's address from its NodeAddr; a host of
 * the checkpoint that is still a node of the job stays there, the others
 * take the other nodes in the job's order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/manifest.h"
#include "util/macro.h"
#include "util/shellword.h"
#include "util/slurmnodes.h"
#include "util/spawnread.h"

#define SCONTROL_OUT_MAX 65536
#define MAX_NODES 4096

/* What argv (scontrol) prints, NUL-terminated in out; -EIO if it fails. */
static int scontrol_output(char *const argv[], char *out, size_t outlen)
{
	size_t got = 0;
	int fd, r;
	pid_t pid = spawn_reader(argv, &fd);

	if (pid < 0)
		return (int)pid;
	for (;;) {
		ssize_t n = read(fd, out + got, outlen - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == outlen - 1)
			break;
	}
	close(fd);
	out[got] = '\0';
	r = wait_exit_status(pid);
	if (r != 0) {
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: %s %s %s failed (%s %d)\n",
			argv[0], argv[1], argv[2], r < 0 ? "wait" : "status", r);
		return -EIO;
	}
	return 0;
}

/* The job's nodes, one name each (pointers into buf). */
static int job_nodes(char *buf, size_t buflen, char **nodes, size_t *nr)
{
	const char *list = getenv("SLURM_JOB_NODELIST");
	char *argv[] = { "scontrol", "show", "hostnames", (char *)list, NULL };
	char *save = NULL;
	int r;

	if (!list || !*list) {
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: not inside a Slurm job "
				"(no SLURM_JOB_NODELIST)\n");
		return -ENOENT;
	}
	r = scontrol_output(argv, buf, buflen);
	if (r < 0)
		return r;
	*nr = 0;
	for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		if (!is_host_name(t)) {
			fprintf(stderr, "trace-ckpt restore: --host-map slurm: node '%s': not a host name\n",
				t);
			return -EINVAL;
		}
		if (*nr == MAX_NODES)
			return -E2BIG;
		nodes[(*nr)++] = t;
	}
	return 0;
}

/* Where to reach node: its NodeAddr (its name when Slurm has none). */
static int node_addr(const char *node, char *addr, size_t len)
{
	char *argv[] = { "scontrol", "show", "node", "-o", (char *)node, NULL };
	_cleanup_free_ char *out = malloc(SCONTROL_OUT_MAX);
	int r;

	if (!out)
		return -ENOMEM;
	r = scontrol_output(argv, out, SCONTROL_OUT_MAX);
	if (r < 0)
		return r;
	r = slurm_node_addr_of(out, addr, len);
	if (r == -ENOENT && strlen(node) < len) {
		strcpy(addr, node);
		return 0;
	}
	if (r < 0)
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: node %s: NodeAddr: %s\n", node,
			strerror(-r));
	return r;
}

int slurm_host_map(const struct manifest *m, char **map)
{
	_cleanup_free_ char *buf = malloc(SCONTROL_OUT_MAX);
	_cleanup_free_ char **nodes = calloc(MAX_NODES, sizeof(*nodes));
	_cleanup_free_ const char **old = calloc(m->nr_members + 1, sizeof(*old));
	_cleanup_free_ size_t *to = calloc(m->nr_members + 1, sizeof(*to));
	size_t nr = 0, len = 0, cap = 1;
	int r;

	*map = NULL;
	if (!buf || !nodes || !old || !to)
		return -ENOMEM;
	r = job_nodes(buf, SCONTROL_OUT_MAX, nodes, &nr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->nr_members; i++)
		old[i] = m->members[i].host;
	r = slurm_place_hosts(old, m->nr_members, (const char *const *)nodes, nr, to);
	if (r == -ENOSPC)
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: the checkpoint has %zu hosts, "
				"the job %zu nodes: ask for as many (sbatch -N %zu)\n",
			m->nr_members, nr, m->nr_members);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->nr_members; i++) {
		char addr[256];
		char *nm;

		r = node_addr(nodes[to[i]], addr, sizeof(addr));
		if (r < 0)
			goto fail;
		cap += strlen(old[i]) + strlen(addr) + 2;
		nm = realloc(*map, cap);
		if (!nm) {
			r = -ENOMEM;
			goto fail;
		}
		*map = nm;
		len += (size_t)sprintf(*map + len, "%s%s=%s", len ? "," : "", old[i], addr);
		fprintf(stderr, "trace-ckpt restore: host %s goes to node %s (%s)\n", old[i],
			nodes[to[i]], addr);
	}
	return 0;
fail:
	free(*map);
	*map = NULL;
	return r;
}
