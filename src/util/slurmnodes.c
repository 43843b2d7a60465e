/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/shellword.h"
#include "util/slurmnodes.h"

int slurm_node_field(const char *line, const char *name, char *value, size_t len)
{
	size_t nl = strlen(name), n;
	const char *p = line;

	/* A field starts a line or follows a space: "X-NodeAddr=" is not it. */
	for (;; p += nl) {
		p = strstr(p, name);
		if (!p)
			return -ENOENT;
		if ((p == line || p[-1] == ' ' || p[-1] == '\t') && p[nl] == '=')
			break;
	}
	p += nl + 1;
	n = strcspn(p, " \t\n");
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(value, p, n);
	value[n] = '\0';
	return is_host_name(value) ? 0 : -EINVAL;
}

int slurm_node_addr_of(const char *line, char *addr, size_t len)
{
	return slurm_node_field(line, "NodeAddr", addr, len);
}

int slurm_place_hosts(const char *const *old, size_t nr_old, const char *const *nodes,
		      size_t nr_nodes, size_t *to)
{
	bool *used = calloc(nr_nodes ? nr_nodes : 1, sizeof(*used));
	bool *placed = calloc(nr_old ? nr_old : 1, sizeof(*placed));
	size_t next = 0;
	int r = 0;

	if (!used || !placed) {
		r = -ENOMEM;
		goto out;
	}
	if (nr_nodes < nr_old) {
		r = -ENOSPC;
		goto out;
	}
	/* Those still in the job first, so a later host cannot take their node. */
	for (size_t i = 0; i < nr_old; i++)
		for (size_t j = 0; j < nr_nodes; j++)
			if (!used[j] && !strcmp(old[i], nodes[j])) {
				used[j] = placed[i] = true;
				to[i] = j;
				break;
			}
	for (size_t i = 0; i < nr_old; i++) {
		if (placed[i])
			continue;
		while (used[next])
			next++;
		used[next] = true;
		to[i] = next;
	}
out:
	free(used);
	free(placed);
	return r;
}
