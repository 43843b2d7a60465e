/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which key restore and show check an image with (proto/imagekey.h). */
#include <stdio.h>

#include "cli/cli.h"
#include "proto/imagekey.h"

int cli_image_key(const char *cmd, const char *key_file, const char *secret_path,
		  struct image_key *k)
{
	char err[PATH_MAX + 256] = "";
	int r;

	if (key_file)
		r = image_key_load(key_file, true, k, err, sizeof(err));
	else if (secret_path)
		r = image_key_load(secret_path, false, k, err, sizeof(err));
	else
		r = image_key_user(k, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "trace-ckpt %s: %s\n", cmd, err);
	return r;
}
