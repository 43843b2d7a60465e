/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_list(int argc, char **argv)
{
	struct supervisor_info *v;
	size_t n;
	int r;

	(void)argv;
	if (argc != 1) {
		usage_of("list", true);
		return 2;
	}
	r = client_list(&v, &n);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt list: %s\n", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%d %s %s", v[i].nr_pids ? v[i].pids[0] : 0, v[i].cmdline ? v[i].cmdline : "",
		       v[i].dir ? v[i].dir : "-");
		printf(" (supervisor %d, %zu processes, generation %llu)\n", v[i].pid, v[i].nr_pids,
		       (unsigned long long)v[i].generation);
	}
	client_list_free(v, n);
	return 0;
}
