/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "cli/cli.h"
#include "util/privilege.h"

int enter_rootless_namespace(const char *cmd, bool *rootless)
{
	char err[512];

	*rootless = privilege_mode() == PRIV_ROOTLESS;
	if (!*rootless)
		return 0;
	if (userns_enter_own(err, sizeof(err)) < 0) {
		fprintf(stderr, "trace-ckpt %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}
