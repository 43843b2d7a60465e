/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan_fix_syscall_restart: which stops are turned back into the call. */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "restorer/plan.h"

static int failed;

static void expect(long orig_rax, long rax, bool fixed)
{
	struct user_regs_struct r;
	bool got;

	memset(&r, 0, sizeof(r));
	r.orig_rax = (unsigned long long)orig_rax;
	r.rax = (unsigned long long)rax;
	r.rip = 0x1000;
	got = plan_fix_syscall_restart(&r);
	if (got != fixed || (fixed && (r.rax != (unsigned long long)orig_rax || r.rip != 0xffe)) ||
	    (!fixed && (r.rax != (unsigned long long)rax || r.rip != 0x1000))) {
		fprintf(stderr, "FAIL orig_rax %ld rax %ld: fixed %d rax %lld rip 0x%llx\n",
			orig_rax, rax, got, (long long)r.rax, r.rip);
		failed = 1;
	}
}

int main(void)
{
	expect(SYS_read, -512, true);	/* ERESTARTSYS */
	expect(SYS_nanosleep, -516, true);	/* ERESTART_RESTARTBLOCK: the call itself */
	expect(SYS_pause, -514, true);	/* ERESTARTNOHAND */
	expect(SYS_wait4, -513, true);	/* ERESTARTNOINTR */
	expect(SYS_read, -4, false);	/* EINTR: the program sees it */
	expect(SYS_read, -515, false);	/* not a restart code */
	expect(SYS_read, 12, false);	/* stopped at syscall exit */
	expect(-1, -512, false);	/* not in a system call */
	expect(0, -512, true);	/* read is 0 */
	if (!failed)
		printf("ok\n");
	return failed;
}
