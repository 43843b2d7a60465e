/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Values that end up on another program's command line (ssh's host, a
 * remote shell's words) come from images and messages: hostile input.  A
 * host is checked against a strict alphabet so it can be neither an option
 * nor shell syntax; anything a remote shell reads is quoted as one word.
 */
#pragma once

#include <stdbool.h>

/*
 * A host name or numeric address: [A-Za-z0-9._:-] only, or an IPv6 address
 * in brackets ("[fd00::1]"), 1 to 255 characters, not starting with '-'.
 */
bool is_host_name(const char *s);

/* s as one word for a POSIX shell: in single quotes, each ' as '\''.  malloc'd. */
char *shell_quote(const char *s);
