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

/* `scontrol show node -o` prints a line of about 1 KiB per node. */
#define SCONTROL_OUT_MAX (16u << 20)
#define MAX_NODES 4096
#define ADDR_MAX 256

/* What argv (scontrol) prints, NUL-terminated in *out (malloc'd); -EIO if it fails. */
static int scontrol_output(char *const argv[], char **out)
{
	size_t got = 0, cap = 65536;
	char *buf = malloc(cap);
	int fd, r;
	pid_t pid;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	pid = spawn_reader(argv, &fd);
	if (pid < 0) {
		free(buf);
		return (int)pid;
	}
	for (;;) {
		ssize_t n;

		if (got == cap - 1 && cap < SCONTROL_OUT_MAX) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				close(fd);
				wait_exit_status(pid);
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		if (got == cap - 1)
			break;	/* more than any job's nodes print: scontrol fails on EPIPE */
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	r = wait_exit_status(pid);
	if (r != 0) {
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: %s %s %s failed (%s %d)\n",
			argv[0], argv[1], argv[2], r < 0 ? "wait" : "status", r);
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* The job's nodes, one name each (pointers into *buf, malloc'd). */
static int job_nodes(const char *list, char **buf, char **nodes, size_t *nr)
{
	char *argv[] = { "scontrol", "show", "hostnames", (char *)list, NULL };
	char *save = NULL;
	int r;

	r = scontrol_output(argv, buf);
	if (r < 0)
		return r;
	*nr = 0;
	for (char *t = strtok_r(*buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
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

/*
 * Where to reach each node: its NodeAddr (its name when Slurm has none),
 * from one `scontrol show node -o LIST` for all of them (one call per node
 * took a second for a job of 32).
 */
static int node_addrs(const char *list, char *const *nodes, size_t nr, char (*addrs)[ADDR_MAX])
{
	char *argv[] = { "scontrol", "show", "node", "-o", (char *)list, NULL };
	_cleanup_free_ char *out = NULL;
	char *save = NULL;
	int r = scontrol_output(argv, &out);

	if (r < 0)
		return r;
	for (size_t i = 0; i < nr; i++)
		snprintf(addrs[i], ADDR_MAX, "%s", nodes[i]);
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[ADDR_MAX], addr[ADDR_MAX];
		size_t i;

		if (slurm_node_field(line, "NodeName", name, sizeof(name)) < 0)
			continue;
		for (i = 0; i < nr && strcmp(nodes[i], name); i++)
			;
		if (i == nr)
			continue;	/* not one of the job's */
		r = slurm_node_addr_of(line, addr, sizeof(addr));
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			fprintf(stderr, "trace-ckpt restore: --host-map slurm: node %s: NodeAddr: %s\n",
				name, strerror(-r));
			return r;
		}
		memcpy(addrs[i], addr, sizeof(addr));
	}
	return 0;
}

int slurm_host_map(const struct manifest *m, char **map)
{
	const char *list = getenv("SLURM_JOB_NODELIST");
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char **nodes = calloc(MAX_NODES, sizeof(*nodes));
	_cleanup_free_ const char **old = calloc(m->nr_members + 1, sizeof(*old));
	_cleanup_free_ size_t *to = calloc(m->nr_members + 1, sizeof(*to));
	_cleanup_free_ char (*addrs)[ADDR_MAX] = NULL;
	size_t nr = 0, len = 0, cap = 1;
	int r;

	*map = NULL;
	if (!nodes || !old || !to)
		return -ENOMEM;
	if (!list || !*list) {
		fprintf(stderr, "trace-ckpt restore: --host-map slurm: not inside a Slurm job "
				"(no SLURM_JOB_NODELIST)\n");
		return -ENOENT;
	}
	r = job_nodes(list, &buf, nodes, &nr);
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
	addrs = calloc(nr ? nr : 1, sizeof(*addrs));
	if (!addrs)
		return -ENOMEM;
	r = node_addrs(list, nodes, nr, addrs);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->nr_members; i++) {
		const char *addr = addrs[to[i]];
		char *nm;

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
