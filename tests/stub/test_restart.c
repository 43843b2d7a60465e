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

/* A relative sleep with a rem asks for the time left, written there. */
static void expect_left(long nr, unsigned long long flags, bool with_rem, bool left)
{
	struct user_regs_struct r;

	memset(&r, 0, sizeof(r));
	r.orig_rax = (unsigned long long)nr;
	r.rax = (unsigned long long)-516;
	r.rip = 0x1000;
	if (nr == SYS_nanosleep) {
		r.rdi = 0x5000;
		r.rsi = with_rem ? 0x6000 : 0;
	} else {
		r.rsi = flags;
		r.rdx = 0x5000;
		r.r10 = with_rem ? 0x6000 : 0;
	}
	if (!plan_fix_syscall_restart(&r) || r.rax != (unsigned long long)nr || r.rip != 0xffe ||
	    (nr == SYS_nanosleep ? r.rdi : r.rdx) != (left ? 0x6000u : 0x5000u) ||
	    (nr == SYS_nanosleep ? r.rsi : r.r10) != (with_rem ? 0x6000u : 0u)) {
		fprintf(stderr, "FAIL sleep %ld flags %llu rem %d: request 0x%llx\n", nr, flags,
			with_rem, nr == SYS_nanosleep ? r.rdi : r.rdx);
		failed = 1;
	}
}

int main(void)
{
	expect_left(SYS_nanosleep, 0, true, true);
	expect_left(SYS_nanosleep, 0, false, false);
	expect_left(SYS_clock_nanosleep, 0, true, true);
	expect_left(SYS_clock_nanosleep, 0, false, false);
	expect_left(SYS_clock_nanosleep, 1, true, false);	/* TIMER_ABSTIME */
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
