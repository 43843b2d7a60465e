/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "util/shellword.h"

#define HOST_MAX 255

static bool host_chars_ok(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

bool is_host_name(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > HOST_MAX || s[0] == '-')
		return false;
	/* Brackets only around the whole of an IPv6 address, nothing else inside. */
	if (s[0] == '[')
		return n > 2 && s[n - 1] == ']' && memchr(s + 1, ':', n - 2) &&
		       host_chars_ok(s + 1, n - 2, ":.");
	return host_chars_ok(s, n, "._:-");
}

char *shell_quote(const char *s)
{
	size_t len = 3;
	char *out, *p;

	for (const char *c = s; *c; c++)
		len += *c == '\'' ? 4 : 1;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	*p++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}
