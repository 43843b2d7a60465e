/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real glibc process (vdso clock, TLS, rseq, nanosleep) through the stub:
 * a child counts into a pipe; the test freezes it, takes its state with
 * ptrace, /proc and remote system calls (a crude dump of its own: every
 * mapping becomes an anonymous copy), kills it, and rebuilds it with
 * plan_build, the stub and stub_release.  The restored process must go on
 * counting from where it was.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "restorer/plan.h"
#include "restorer/release.h"
#include "ptrace/remote.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "check.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size, signature, flags, pad;
};

static void __attribute__((noreturn)) counter(int wfd)
{
	for (unsigned long i = 1;; i++) {
		struct timespec ts;
		char buf[64];
		int n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(buf, sizeof(buf), "%lu %ld\n", i, (long)ts.tv_sec);
		if (write(wfd, buf, n) != n)
			_exit(3);
		usleep(5000);
	}
}

/* The last complete count read (for about 300 ms at most), or 0. */
static unsigned long read_counts(int rfd, int ms, unsigned long *first)
{
	static char line[256];
	static size_t have;
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	unsigned long last = 0;

	struct timespec t0, now;

	*first = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (poll(&pfd, 1, ms) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > 300)
			ms = 0;
		ssize_t n = read(rfd, line + have, sizeof(line) - 1 - have);
		char *nl;

		if (n <= 0)
			break;
		have += n;
		line[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			last = strtoul(line, NULL, 10);
			if (!*first)
				*first = last;
			memmove(line, nl + 1, have - (nl + 1 - line) + 1);
			have -= nl + 1 - line;
		}
		if (ms)
			ms = 50;
	}
	return last;
}

static uint64_t stat_field(const char *stat, int field)
{
	const char *p = strrchr(stat, ')') + 2;

	for (int i = 3; i < field; i++)
		p = strchr(p, ' ') + 1;
	return strtoull(p, NULL, 10);
}

static void dump(pid_t pid, struct process_record *p, int image_fd, uint64_t *insn)
{
	struct thread_record *t = calloc(1, sizeof(*t));
	char path[64], *maps, *stat, *auxv, *save = NULL;
	struct rseq_config rc;
	struct iovec iov;
	uint64_t scratch, off = 0, head, len;
	long args[6] = { 0 }, ret;
	size_t auxv_len, cap = 64;

	CHECK(t, "calloc");
	p->pid = pid;
	p->threads = t;
	p->nr_threads = 1;
	t->tid = pid;
	CHECK(ptrace(PTRACE_GETREGS, pid, NULL, &t->regs) == 0, "regs");
	t->xstate = aligned_alloc(64, 65536);
	iov = (struct iovec){ t->xstate, 65536 };
	CHECK(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0, "xstate: %m");
	t->xstate_len = iov.iov_len;
	CHECK(ptrace(PTRACE_GETSIGMASK, pid, sizeof(t->sigmask), &t->sigmask) == 0, "mask");
	t->altstack_flags = SS_DISABLE;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(rc), &rc) > 0) {
		t->rseq_addr = rc.rseq_abi_pointer;
		t->rseq_len = rc.rseq_abi_size;
		t->rseq_sig = rc.signature;
	}
	CHECK(syscall(SYS_get_robust_list, pid, &head, &len) == 0, "robust list");
	t->robust_list = head;
	t->robust_len = len;

	CHECK(remote_find_syscall_insn(pid, insn) == 0, "syscall insn");
	CHECK(remote_scratch(pid, 8, &scratch) == 0, "scratch");
	args[0] = PR_GET_TID_ADDRESS;
	args[1] = (long)scratch;
	CHECK(remote_syscall(pid, *insn, SYS_prctl, args, &ret) == 0 && ret == 0, "tid addr");
	CHECK(remote_read(pid, scratch, &t->clear_child_tid, 8) == 0, "tid addr");
	args[0] = 0;
	CHECK(remote_syscall(pid, *insn, SYS_brk, args, &ret) == 0 && ret > 0, "brk");

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	CHECK(read_file_at(AT_FDCWD, path, &stat, NULL) == 0, "stat");
	p->mm.start_code = stat_field(stat, 26);
	p->mm.end_code = stat_field(stat, 27);
	p->mm.start_stack = stat_field(stat, 28);
	p->mm.start_data = stat_field(stat, 45);
	p->mm.end_data = stat_field(stat, 46);
	p->mm.start_brk = stat_field(stat, 47);
	p->mm.brk = (uint64_t)ret;
	p->mm.arg_start = stat_field(stat, 48);
	p->mm.arg_end = stat_field(stat, 49);
	p->mm.env_start = stat_field(stat, 50);
	p->mm.env_end = stat_field(stat, 51);
	free(stat);
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	CHECK(read_file_at(AT_FDCWD, path, &auxv, &auxv_len) == 0, "auxv");
	p->mm.auxv = (uint8_t *)auxv;
	p->mm.auxv_len = auxv_len;
	strcpy(p->comm, "live");
	p->umask = 022;
	for (int i = 0; i < TC_NR_RLIMITS; i++) {
		struct rlimit rl;

		CHECK(prlimit(pid, i, NULL, &rl) == 0, "rlimit");
		p->rlimits[i].cur = rl.rlim_cur;
		p->rlimits[i].max = rl.rlim_max;
	}

	/* Every mapping an anonymous copy of itself. */
	p->vmas = calloc(cap, sizeof(*p->vmas));
	p->runs = calloc(cap, sizeof(*p->runs));
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	CHECK(read_file_at(AT_FDCWD, path, &maps, NULL) == 0, "maps");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	int mem = open(path, O_RDONLY);
	CHECK(mem >= 0, "mem: %m");
	for (char *l = strtok_r(maps, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;
		char perms[8], *name = strchr(l, '[');
		struct vma_record *v;

		CHECK(sscanf(l, "%llx-%llx %7s", &s, &e, perms) == 3, "maps line %s", l);
		if (name && !strcmp(name, "[vsyscall]"))
			continue;
		CHECK(p->nr_vmas < cap, "too many mappings");
		v = &p->vmas[p->nr_vmas++];
		v->start = s;
		v->end = e;
		v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			  (perms[2] == 'x' ? PROT_EXEC : 0);
		v->kind = VMA_ANON_PRIVATE;
		if (name && !strcmp(name, "[vdso]"))
			v->kind = VMA_VDSO;
		else if (name && !strcmp(name, "[vvar]"))
			v->kind = VMA_VVAR;
		else if (name && !strcmp(name, "[vvar_vclock]"))
			v->kind = VMA_VVAR_VCLOCK;
		if (name && !strcmp(name, "[stack]"))
			v->flags = VMA_F_STACK | VMA_F_GROWSDOWN;
		if (v->kind != VMA_ANON_PRIVATE || !v->prot)
			continue;
		char *buf = malloc(e - s);

		CHECK(buf && pread_full(mem, buf, e - s, s) == 0, "mem at 0x%llx: %m", s);
		CHECK(pwrite_full(image_fd, buf, e - s, off) == 0, "image");
		free(buf);
		p->runs[p->nr_runs++] = (struct page_run){ s, e - s, off };
		off += e - s;
	}
	close(mem);
	free(maps);
}

int main(void)
{
	const char *stub = getenv("TRACE_CKPT_STUB");
	struct process_record p;
	struct stub_status st;
	unsigned long before, after, first;
	int pfd[2], spfd[2], image_fd, status;
	uint64_t insn;
	pid_t pid, rpid;

#ifdef __SANITIZE_ADDRESS__
	/* The child would carry the sanitizer's terabytes of shadow mappings,
	 * which this test's crude dump copies whole. */
	fprintf(stderr, "built with AddressSanitizer: skipped\n");
	return 77;
#endif
	if (!stub || !*stub || geteuid() != 0) {
		fprintf(stderr, "needs root and TRACE_CKPT_STUB: skipped\n");
		return 77;
	}
	CHECK(pipe(pfd) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(pfd[0]);
		counter(pfd[1]);
	}
	before = read_counts(pfd[0], 1000, &first);
	CHECK(before > 0, "the child does not count");

	CHECK(ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0, "seize: %m");
	CHECK(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0, "interrupt");
	CHECK(waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status), "stop");
	before = MAX(before, read_counts(pfd[0], 100, &first));
	memset(&p, 0, sizeof(p));
	image_fd = fileno(tmpfile());
	dump(pid, &p, image_fd, &insn);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, __WALL) == pid, "reap");
	before = MAX(before, read_counts(pfd[0], 50, &first));

	CHECK(pipe(spfd) == 0, "pipe");
	rpid = fork();
	CHECK(rpid >= 0, "fork");
	if (rpid == 0) {
		int vma_fds[64], memfd;
		struct plan_fds pf = { .image_fd = image_fd, .status_fd = spfd[1], .exe_fd = -1,
				       .vma_fds = vma_fds };
		char arg[16];

		close(pfd[0]);
		close(spfd[0]);
		for (int i = 0; i < 64; i++)
			vma_fds[i] = -1;
		CHECK(plan_build(&p, &pf, &memfd) == 0, "plan_build");
		snprintf(arg, sizeof(arg), "%d", memfd);
		execl(stub, "trace-ckpt-stub", arg, (char *)NULL);
		_exit(126);
	}
	close(spfd[1]);
	CHECK(read_full(spfd[0], &st, sizeof(st)) == 0, "no status");
	CHECK(st.stage == STUB_READY, "stage %u err %d at 0x%llx", st.stage, st.err,
	      (unsigned long long)st.addr);
	CHECK(stub_release(rpid, &st, 0) == 0, "release");
	CHECK(ptrace(PTRACE_DETACH, rpid, NULL, NULL) == 0, "detach");

	after = read_counts(pfd[0], 1000, &first);
	CHECK(after > 0, "the restored process does not count");
	CHECK(first == before + 1, "restored count starts at %lu, was at %lu", first, before);
	kill(rpid, SIGKILL);
	waitpid(rpid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "the restored process died on its own: 0x%x", status);
	printf("ok: counted to %lu, restored and counted on from %lu to %lu\n", before, first,
	       after);
	return 0;
}
