/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The level is set once by main() from -v/TRACE_CKPT_DEBUG; it is not state of a session. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/*
 * Where lines go: stderr unless a supervisor, once its program runs, points
 * them at its log file (the program's terminal is not the supervisor's).
 */
void log_to_fd(int fd);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* log_err and return the given negative errno, so call sites stay one line. */
#define log_ret(err, ...) ({ log_err(__VA_ARGS__); (err); })
