/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#include "tracer/collect.h"
#include "tracer/procfs.h"

/* The kernel's struct sigaction for rt_sigaction on x86_64. */
struct kernel_sigaction {
	uint64_t handler, flags, restorer, mask;
};

int collect_sigactions(struct collect_ctx *cx, struct process_record *p, const char *status)
{
	uint64_t caught = 0, ignored = 0, scratch;
	int r;

	if (parse_status_u64(status, "SigCgt", 16, &caught) < 0 ||
	    parse_status_u64(status, "SigIgn", 16, &ignored) < 0)
		return collect_fail(cx, -EINVAL, "/proc/%d/status: no SigCgt/SigIgn", cx->pid);
	r = collect_remote_scratch(cx, cx->pid, sizeof(struct kernel_sigaction), &scratch);
	if (r < 0)
		return collect_fail(cx, r, "scratch memory");
	for (int sig = 1; sig <= TC_NSIG; sig++) {
		uint64_t bit = 1ull << (sig - 1);
		struct kernel_sigaction ka;
		long ret;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/*
		 * Only caught signals (and SIGCHLD, whose SA_NOCLDWAIT matters
		 * even at SIG_DFL) need the process's own word; the rest are
		 * fully told by SigIgn.
		 */
		if (!(caught & bit) && sig != SIGCHLD) {
			p->sigactions[sig - 1].handler = (ignored & bit) ? 1 : 0;
			continue;
		}
		r = collect_remote(cx, cx->pid, SYS_rt_sigaction, sig, 0, scratch, 8, &ret);
		if (r < 0 || ret < 0)
			return collect_fail(cx, r < 0 ? r : (int)ret, "signal %d: sigaction", sig);
		r = collect_read_mem(cx, scratch, &ka, sizeof(ka));
		if (r < 0)
			return collect_fail(cx, r, "signal %d: sigaction", sig);
		p->sigactions[sig - 1] = (struct sigaction_record){
			.handler = ka.handler, .flags = ka.flags,
			.restorer = ka.restorer, .mask = ka.mask,
		};
	}
	return 0;
}
