/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stddef.h>

#include "proto/fdkind.h"
#include "proto/model.h"
#include "util/macro.h"

static const struct fd_kind_info fd_kinds[] = {
	[FD_REGULAR] = { .name = "file", .what = "file" },
	[FD_STDIO] = { .name = "stdio", .what = "stdio", .in_flight_refusal = "a terminal" },
	[FD_DEVICE] = { .name = "device", .what = "device" },
	[FD_PIPE] = { .name = "pipe", .what = "pipe", .has_content = true },
	[FD_EVENTFD] = { .name = "eventfd", .what = "eventfd" },
	[FD_SIGNALFD] = { .name = "signalfd", .what = "signalfd" },
	[FD_TIMERFD] = { .name = "timerfd", .what = "timerfd" },
	[FD_EPOLL] = { .name = "epoll", .what = "epoll", .in_flight_refusal = "an epoll fd" },
	[FD_UNIX] = { .name = "unix", .what = "unix socket", .has_content = true },
	[FD_INOTIFY] = { .name = "inotify", .what = "inotify" },
	[FD_INET] = { .name = "inet", .what = "inet socket", .has_content = true },
	[FD_TTY] = { .name = "tty", .what = "terminal", .has_content = true,
		     .in_flight_refusal = "a terminal" },
	[FD_DEAD_END] = { .name = "dead-end", .what = "dead end",
			  .in_flight_refusal = "a carried ssh connection" },
};

_Static_assert(ARRAY_SIZE(fd_kinds) == FD_KIND_MAX + 1, "an fd kind without its entry");

const struct fd_kind_info *fd_kind_info(uint32_t kind)
{
	return kind < ARRAY_SIZE(fd_kinds) && fd_kinds[kind].name ? &fd_kinds[kind] : NULL;
}

const char *fd_kind_name(uint32_t kind)
{
	const struct fd_kind_info *k = fd_kind_info(kind);

	return k ? k->name : "?";
}

bool fd_record_has_content(const struct fd_record *f)
{
	const struct fd_kind_info *k = fd_kind_info(f->kind);

	return f->deleted || (k && k->has_content && f->content_fd >= 0);
}
