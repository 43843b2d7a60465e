/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of seccomp filters and no_new_privs: loaded last, in the released
 * process, by remote system calls (the stub must not run under them), every
 * filter with SECCOMP_FILTER_FLAG_TSYNC so all its threads have it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/model.h"

struct session;
/* run --coordinator's exec trap gets a listener, which goes to s (session_add_exec_listener). */
int seccomp_restore(struct session *s, pid_t pid, uint64_t syscall_insn,
		    const struct process_record *p, char *err, size_t errlen);
