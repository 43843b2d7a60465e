/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the hosts of a checkpoint go in the Slurm job that restores it
 * (restore --all-hosts --host-map slurm).  What scontrol prints is read as
 * untrusted text: every name and address must be a host name.
 */
#pragma once

#include <stddef.h>

/*
 * The NAME= field (NodeName, NodeAddr) of one line of `scontrol show node
 * -o` into value: 0, -ENOENT (no such field), -EINVAL (not a host name) or
 * -ENAMETOOLONG.
 */
int slurm_node_field(const char *line, const char *name, char *value, size_t len);
/* slurm_node_field(line, "NodeAddr", ...). */
int slurm_node_addr_of(const char *line, char *addr, size_t len);

/*
 * to[i] is the node old[i] goes to: a host of the checkpoint that is a node
 * of the job stays there; the others take the job's unused nodes in their
 * order.  -ENOSPC: fewer nodes than hosts.
 */
int slurm_place_hosts(const char *const *old, size_t nr_old, const char *const *nodes,
		      size_t nr_nodes, size_t *to);
