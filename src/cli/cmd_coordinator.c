/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "coord/coordinator.h"
#include "tracer/coord_client.h"
#include "util/fileio.h"
#include "util/log.h"

int cmd_coordinator(int argc, char **argv)
{
	struct coordinator_options o = { .listen = "127.0.0.1:7780", .freeze_timeout_ms = 10000,
					 .dump_timeout_ms = 300000 };
	struct periodic_opts po = { 0 };
	char secret[PATH_MAX], dir[PATH_MAX];
	const char *dir_arg = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = periodic_opt("coordinator", argc, argv, &i, &po)) != 0) {
			if (r < 0)
				return 2;
		} else if (!strcmp(argv[i], "-D") && i + 1 < argc) {
			dir_arg = argv[++i];
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			o.listen = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			o.secret_path = argv[++i];
		} else if (!strcmp(argv[i], "--freeze-timeout") && i + 1 < argc) {
			o.freeze_timeout_ms = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--dump-timeout") && i + 1 < argc) {
			o.dump_timeout_ms = atoi(argv[++i]);
		} else {
			usage_of("coordinator", true);
			return 2;
		}
	}
	if (po.interval_s && !dir_arg) {
		fprintf(stderr, "trace-ckpt coordinator: --interval needs -D DIR, where the checkpoints go\n");
		return 2;
	}
	if (dir_arg) {
		/* Every host writes its part there: the same path everywhere. */
		if (mkdir_p(dir_arg, 0700) < 0 || !realpath(dir_arg, dir)) {
			fprintf(stderr, "trace-ckpt coordinator: %s: %m\n", dir_arg);
			return 1;
		}
		o.dir = dir;
	}
	o.interval_s = po.interval_s;
	o.keep = po.keep ? po.keep : 1;
	if (!o.secret_path) {
		if (coord_default_secret(o.listen, secret, sizeof(secret)) < 0) {
			fprintf(stderr, "trace-ckpt coordinator: bad address %s (HOST:PORT)\n", o.listen);
			return 2;
		}
		o.secret_path = secret;
	}
	if (log_get_level() < LOG_INFO)
		log_set_level(LOG_INFO);
	return coordinator_run(&o) < 0 ? 1 : 0;
}
