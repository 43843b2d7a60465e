/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's log file, <runtime dir>/<supervisor pid>.log: once the
 * program runs, what the supervisor has to say goes there, never into the
 * program's own stderr.  A dump that fails answers with the lines written
 * while it ran, so the cause reaches the command the user typed.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct session;

/*
 * First thing a supervisor does (session_init): a log of our pid left by an
 * earlier supervisor becomes <pid>.log.old, so nothing of ours opens it.
 */
void supervisor_log_claim(void);
/* Open (create) the log next to the control socket; 0 or -errno. */
int supervisor_log_open(struct session *s);
/* From now on log lines go to the file (no-op without one). */
void supervisor_log_start(const struct session *s);
/*
 * Back to stderr: the program has ended, the command speaks again, and says
 * where the log is when something was written there.
 */
void supervisor_log_stop(const struct session *s);
/* Where the file ends now: mark before an operation to quote it after. */
off_t supervisor_log_mark(const struct session *s);
/*
 * Append to buf (NUL-terminated, of size len) the lines written since mark,
 * each indented, and where the log is; what does not fit is cut.
 */
void supervisor_log_quote(const struct session *s, off_t mark, char *buf, size_t len);
/* At the end: an empty log is removed, one that says something kept. */
void supervisor_log_close(struct session *s);
