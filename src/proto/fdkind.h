/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every layer knows of a kind of fd (enum fd_kind): the table here
 * holds what the image, the tracer and `show` share; how a kind is
 * collected and opened again are the tables of the layers that do it
 * (tracer/anonfd.c anon_kinds, restorer/fds.c desc_kinds), indexed by the
 * same enum.  docs/adding-a-kind.md lists every entry a new kind needs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct fd_record;

struct fd_kind_info {
	/* What `show` prints (text and JSON): never change one, scripts read it. */
	const char *name;
	/* What a restore error calls an fd of this kind that has no path. */
	const char *what;
	/* The image holds its bytes in a content file when the collector left
	 * a readable fd in content_fd (a pipe's buffer, a socket's queues). */
	bool has_content;
	/* It cannot be saved in flight in a unix socket: what the refusal
	 * calls it.  NULL: it can. */
	const char *in_flight_refusal;
};

/* The kind's entry, or NULL for a number no kind has (a newer image, a damaged one). */
const struct fd_kind_info *fd_kind_info(uint32_t kind);

/* fd_kind_info(kind)->name, or "?". */
const char *fd_kind_name(uint32_t kind);

/* The image holds this fd's contents (a deleted file, a pipe's buffer). */
bool fd_record_has_content(const struct fd_record *f);
