/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building the stub's plan (src/restorer/stub/plan.h) from a process record.
 * Everything the stub would otherwise have to decide is decided here, with
 * libc and error messages: the system call restart fix-up, the signal frame's
 * FPU state header, which fds to close, whether the special mappings fit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/user.h>

#include "proto/model.h"
#include "restorer/stub/plan.h"

/* The fds the restore driver opened in the new process for the stub. */
struct plan_fds {
	int image_fd;		/* the core file, read with pread */
	int status_fd;		/* where the stub reports (struct stub_status) */
	int exe_fd;		/* for /proc/PID/exe; -1: leave it (the stub's) */
	/* [p->nr_vmas]: the opened file of each file mapping, -1 for the others;
	 * one fd may serve several mappings.  A private file mapping without an
	 * fd is rebuilt anonymous (all its pages must then be in the image). */
	const int *vma_fds;
	/* More fds the stub closes before it reports ready (optional). */
	const int *close_fds;
	size_t nr_close;
	/* fds to set FD_CLOEXEC on; NULL: the record's fds with cloexec set. */
	const int *cloexec_fds;
	size_t nr_cloexec;
	/* p->base_files[k], opened; the stub closes them too. */
	const int *base_fds;
	/* setgroups works here (not in a user namespace that denies it). */
	bool can_setgroups;
	/* restore --lazy: the mappings plan_vma_lazy accepts are served later. */
	bool lazy;
};

/*
 * Whether restore --lazy leaves p's mapping v to be served on first touch:
 * private anonymous memory a userfaultfd can serve, where a page not yet
 * there means the image's page in the parent and in a forked child alike
 * (not wipe-on-fork), not huge pages (served in small ones), not PROT_NONE,
 * not KSM's.  Not where the arguments and environment are either: the
 * kernel reads those for /proc/PID/cmdline and environ in a way a
 * userfaultfd cannot serve (it would read nothing).
 */
bool plan_vma_lazy(const struct process_record *p, const struct vma_record *v);

/*
 * Write the plan for p into a new memfd, *memfd_out: without FD_CLOEXEC, to be
 * passed to the stub as its argument.  The stub closes image_fd, exe_fd, the
 * vma fds, close_fds and the memfd itself before it reports, and status_fd
 * after.  Must run in the process that becomes the stub (it reads this
 * kernel's special mappings from /proc/self/maps).  Returns 0 or -errno,
 * logged with what was refused.
 */
int plan_build(const struct process_record *p, const struct plan_fds *fds, int *memfd_out);

/*
 * This kernel's [vvar], [vvar_vclock] and [vdso] in the calling process:
 * cur_off and len of each (len 0: absent), relative to the [vdso].  target
 * is left 0.  -ENOENT if there is no [vdso].
 */
int plan_read_specials(struct stub_special sp[STUB_NR_SPECIAL]);

/*
 * Set the targets of sp (as filled by plan_read_specials) to where p had its
 * special mappings; refuse (-EOPNOTSUPP, logged) when p's sizes or their
 * layout differ from this kernel's.  If p had none, all targets stay 0.
 */
int plan_match_specials(const struct process_record *p, struct stub_special sp[STUB_NR_SPECIAL]);

/*
 * If regs show the thread stopped in an interrupted system call the kernel
 * would restart (orig_rax >= 0, rax -ERESTARTSYS, -ERESTARTNOINTR,
 * -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK), make it the call again:
 * rax = orig_rax, rip -= 2.  The restart block of RESTART_RESTARTBLOCK does
 * not survive into a new process, the original call does; a relative
 * nanosleep or clock_nanosleep that had a rem is made asking for the time
 * left the kernel wrote there (its request register points at rem).
 * Returns whether it changed regs.
 */
bool plan_fix_syscall_restart(struct user_regs_struct *regs);
