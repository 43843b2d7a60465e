/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "util/fileio.h"
#include "util/macro.h"

int collect_mm(struct collect_ctx *cx, struct process_record *p)
{
	_cleanup_free_ char *statbuf = NULL, *auxv = NULL;
	struct mm_record *mm = &p->mm;
	char path[64], exe[PATH_MAX];
	struct proc_stat st;
	struct stat sb;
	size_t len;
	ssize_t n;
	long brk;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", cx->pid);
	r = read_file_at(AT_FDCWD, path, &statbuf, NULL);
	if (r < 0 || parse_stat(statbuf, &st) < 0)
		return collect_fail(cx, r < 0 ? r : -EINVAL, "%s", path);
	cx->start_time = st.start_time;
	mm->start_code = st.start_code;
	mm->end_code = st.end_code;
	mm->start_data = st.start_data;
	mm->end_data = st.end_data;
	mm->start_brk = st.start_brk;
	mm->start_stack = st.start_stack;
	mm->arg_start = st.arg_start;
	mm->arg_end = st.arg_end;
	mm->env_start = st.env_start;
	mm->env_end = st.env_end;

	/* The current break is in no /proc file; brk(0) answers it. */
	r = collect_remote(cx, cx->pid, SYS_brk, 0, 0, 0, 0, &brk);
	if (r < 0)
		return collect_fail(cx, r, "brk");
	mm->brk = brk;

	snprintf(path, sizeof(path), "/proc/%d/auxv", cx->pid);
	r = read_file_at(AT_FDCWD, path, &auxv, &len);
	if (r < 0)
		return collect_fail(cx, r, "%s", path);
	mm->auxv = (uint8_t *)TAKE_PTR(auxv);
	mm->auxv_len = len;

	snprintf(path, sizeof(path), "/proc/%d/exe", cx->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return collect_fail(cx, neg_errno(), "%s", path);
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		return collect_refuse(cx, "it was removed or replaced since the program started, "
				      "and a restore maps it again by its path: put that build back "
				      "there", "executable %s: deleted", exe);
	if (stat(path, &sb) < 0)
		return collect_fail(cx, neg_errno(), "%s", path);
	mm->exe = strdup(exe);
	mm->exe_dev = sb.st_dev;
	mm->exe_ino = sb.st_ino;
	return mm->exe ? 0 : -ENOMEM;
}
