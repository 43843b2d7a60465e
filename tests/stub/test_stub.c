/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stub end to end, without the dumper: a hand-made process record whose
 * memory is a page of machine code (the payload below), a data page and a
 * stack, with registers, FPU state, signal state and special mappings of its
 * own.  The test builds the plan, runs the stub (path in TRACE_CKPT_STUB),
 * releases it and checks the registers and /proc; the payload then checks
 * from inside and exits 42 if all is as saved.  Then two broken plans, which
 * the stub must refuse with the right stage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cpuid.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restorer/plan.h"
#include "restorer/release.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "check.h"

#define CODE		0x10000000ull
#define DATA		0x10010000ull
#define STACK_LO	0x10100000ull
#define STACK_HI	0x10120000ull
#define SPECIAL_BASE	0x30000000ull
#define RSEQ_AREA	(DATA + 0x100)
#define ROBUST_HEAD	(DATA + 0x200)
#define TID_ADDR	(DATA + 0x300)
#define RSEQ_SIG	0x53053053u

#define DATA_MAGIC	0x1122334455667788ull
#define FS_MAGIC	0xabcdef0123456789ull
#define XMM0_MAGIC	0x0102030405060708ull
#define YMM1_MAGIC	0x1020304050607080ull
#define STACK_MAGIC	0x5a5a5a5a12345678ull
#define SIGMASK		((1ull << (SIGUSR2 - 1)) | (1ull << (SIGHUP - 1)))
#define PENDING		(1ull << (SIGUSR2 - 1))

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/*
 * The restored program.  It was "stopped" right after a getpid() the kernel
 * would restart, so it starts at that syscall.  Each check leaves its number
 * in edi, the exit code if it fails.  Data page: [0] DATA_MAGIC, [1] FS_MAGIC,
 * [2] set by the SIGUSR1 handler, [3] expected mask, [4] expected pending set,
 * [5] xmm0, [6] upper half of ymm1, [7] what (%rsp) holds.
 */
extern const char tp_start[], tp_handler[], tp_restorer[], tp_end[];
__asm__(".pushsection .rodata\n"
	"tp_start:\n"
	"	syscall\n"
	"	mov $1, %edi\n"
	"	cmp $0x1234, %rbx\n"
	"	jne 1f\n"
	"	mov $2, %edi\n"
	"	cmp (%r12), %r13\n"
	"	jne 1f\n"
	"	mov $3, %edi\n"
	"	mov %fs:8, %rax\n"
	"	cmp %rax, %r14\n"
	"	jne 1f\n"
	"	mov $4, %edi\n"
	"	movq %xmm0, %rax\n"
	"	cmp 40(%r12), %rax\n"
	"	jne 1f\n"
	"	mov $5, %edi\n"
	"	vextractf128 $1, %ymm1, %xmm2\n"
	"	movq %xmm2, %rax\n"
	"	cmp 48(%r12), %rax\n"
	"	jne 1f\n"
	"	mov $6, %edi\n"
	"	mov (%rsp), %rax\n"
	"	cmp 56(%r12), %rax\n"
	"	jne 1f\n"
	"	mov $7, %edi\n"
	"	cmpq $0x77, 16(%r12)\n"
	"	jne 1f\n"
	"	sub $16, %rsp\n"
	"	mov $14, %eax\n"		/* rt_sigprocmask(SIG_BLOCK, NULL, rsp, 8) */
	"	xor %edi, %edi\n"
	"	xor %esi, %esi\n"
	"	mov %rsp, %rdx\n"
	"	mov $8, %r10d\n"
	"	syscall\n"
	"	mov (%rsp), %rax\n"
	"	add $16, %rsp\n"
	"	mov $8, %edi\n"
	"	cmp 24(%r12), %rax\n"
	"	jne 1f\n"
	"	sub $16, %rsp\n"
	"	mov $127, %eax\n"		/* rt_sigpending(rsp, 8) */
	"	mov %rsp, %rdi\n"
	"	mov $8, %esi\n"
	"	syscall\n"
	"	mov (%rsp), %rax\n"
	"	add $16, %rsp\n"
	"	mov $9, %edi\n"
	"	cmp 32(%r12), %rax\n"
	"	jne 1f\n"
	"	mov $42, %edi\n"
	"1:	mov $231, %eax\n"
	"	syscall\n"
	"tp_handler:\n"
	"	movq $0x77, 16(%r12)\n"
	"	ret\n"
	"tp_restorer:\n"
	"	mov $15, %eax\n"
	"	syscall\n"
	"tp_end:\n"
	".popsection\n");

enum breakage { BREAK_NONE, BREAK_OVERLAP, BREAK_SHORT_IMAGE, BREAK_NO_VDSO };

struct fixture {
	struct process_record p;
	struct vma_record vmas[6];
	struct page_run runs[3];
	struct thread_record thread;
	uint8_t pending[1][TC_SIGINFO_SIZE];
	uint8_t shared_pending[1][TC_SIGINFO_SIZE];
	uint8_t *xstate;
	char auxv[1024];
	uint8_t code[4096], data[4096], stack[4096];
	struct user_regs_struct want;	/* after the restart fix-up */
	int image_fd;
};

/* This CPU's xsave image with xmm0 and ymm1 holding known values. */
static uint8_t *make_xstate(uint32_t *len)
{
	unsigned int a, b, c, d;
	uint64_t ymm = YMM1_MAGIC;
	uint8_t *buf;

	__cpuid_count(0xd, 0, a, b, c, d);
	buf = aligned_alloc(64, ALIGN_UP(b, 64));
	CHECK(buf, "aligned_alloc");
	memset(buf, 0, b);
	__asm__ volatile("movq %[x], %%xmm0\n\t"
			 "vbroadcastsd %[y], %%ymm1\n\t"
			 "xsave64 (%[buf])"
			 :
			 : [x] "r"(XMM0_MAGIC), [y] "m"(ymm), [buf] "r"(buf), "a"(-1), "d"(-1)
			 : "xmm0", "xmm1", "memory");
	*len = b;
	return buf;
}

static void add_vma(struct fixture *f, uint64_t start, uint64_t end, uint32_t prot,
		    uint32_t kind, uint32_t flags)
{
	struct vma_record *v = &f->vmas[f->p.nr_vmas++];

	memset(v, 0, sizeof(*v));
	v->start = start;
	v->end = end;
	v->prot = prot;
	v->kind = kind;
	v->flags = flags;
}

static void setup(struct fixture *f)
{
	struct stub_special sp[STUB_NR_SPECIAL];
	size_t code_len = tp_end - tp_start, auxv_len;
	uint64_t *data = (uint64_t *)f->data;
	struct user_regs_struct *r = &f->thread.regs;
	char *auxv;
	int64_t lo = 0;
	int i;

	memset(f, 0, sizeof(*f));
	CHECK(plan_read_specials(sp) == 0, "plan_read_specials");
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		if (sp[i].len && sp[i].cur_off < lo)
			lo = sp[i].cur_off;
	}

	memcpy(f->code, tp_start, code_len);
	data[0] = DATA_MAGIC;
	data[1] = FS_MAGIC;
	data[3] = SIGMASK;
	data[4] = PENDING;
	data[5] = XMM0_MAGIC;
	data[6] = YMM1_MAGIC;
	data[7] = STACK_MAGIC;
	*(uint64_t *)(f->stack + 0x800) = STACK_MAGIC;

	f->p.vmas = f->vmas;
	add_vma(f, CODE, CODE + 4096, PROT_READ | PROT_EXEC, VMA_ANON_PRIVATE, 0);
	add_vma(f, DATA, DATA + 4096, PROT_READ | PROT_WRITE, VMA_ANON_PRIVATE, 0);
	add_vma(f, STACK_LO, STACK_HI, PROT_READ | PROT_WRITE, VMA_ANON_PRIVATE,
		VMA_F_GROWSDOWN | VMA_F_STACK);
	/* In the kernel's own order and layout, somewhere free. */
	for (i = 0; i < STUB_NR_SPECIAL; i++) {
		static const uint32_t kinds[] = { VMA_VVAR, VMA_VVAR_VCLOCK, VMA_VDSO };
		uint64_t at = SPECIAL_BASE + (uint64_t)(sp[i].cur_off - lo);

		if (sp[i].len)
			add_vma(f, at, at + sp[i].len, PROT_READ | (i == STUB_SPECIAL_VDSO ?
							PROT_EXEC : 0), kinds[i], 0);
	}

	f->p.runs = f->runs;
	f->p.nr_runs = 3;
	f->runs[0] = (struct page_run){ CODE, 4096, 0 };
	f->runs[1] = (struct page_run){ DATA, 4096, 4096 };
	f->runs[2] = (struct page_run){ STACK_HI - 4096, 4096, 8192 };
	f->image_fd = fileno(tmpfile());
	CHECK(f->image_fd >= 0, "tmpfile: %m");
	CHECK(pwrite_full(f->image_fd, f->code, 4096, 0) == 0, "image");
	CHECK(pwrite_full(f->image_fd, f->data, 4096, 4096) == 0, "image");
	CHECK(pwrite_full(f->image_fd, f->stack, 4096, 8192) == 0, "image");

	f->p.pid = getpid();
	strcpy(f->p.comm, "stubtest");
	f->p.umask = 027;
	for (i = 0; i < TC_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
		struct rlimit rl;

		CHECK(getrlimit(i, &rl) == 0, "getrlimit");
		f->p.rlimits[i].cur = rl.rlim_cur;
		f->p.rlimits[i].max = rl.rlim_max;
	}
	f->p.sigactions[SIGUSR1 - 1].handler = CODE + (tp_handler - tp_start);
	f->p.sigactions[SIGUSR1 - 1].flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
	f->p.sigactions[SIGUSR1 - 1].restorer = CODE + (tp_restorer - tp_start);
	f->p.sigactions[SIGTERM - 1].handler = (uint64_t)SIG_IGN;

	((int32_t *)f->shared_pending[0])[0] = SIGUSR2;
	((int32_t *)f->shared_pending[0])[2] = SI_QUEUE;
	f->p.nr_shared_pending = 1;
	f->p.shared_pending = f->shared_pending;
	((int32_t *)f->pending[0])[0] = SIGUSR1;
	((int32_t *)f->pending[0])[2] = SI_USER;

	f->p.mm.start_code = CODE;
	f->p.mm.end_code = CODE + 4096;
	f->p.mm.start_data = DATA;
	f->p.mm.end_data = DATA + 4096;
	f->p.mm.start_brk = DATA + 4096;
	f->p.mm.brk = DATA + 4096;
	f->p.mm.start_stack = STACK_HI - 0x100;
	f->p.mm.arg_start = f->p.mm.arg_end = STACK_HI - 0x100;
	f->p.mm.env_start = f->p.mm.env_end = STACK_HI - 0x100;
	CHECK(read_file_at(AT_FDCWD, "/proc/self/auxv", &auxv, &auxv_len) == 0, "auxv");
	CHECK(auxv_len <= sizeof(f->auxv), "auxv of %zu bytes", auxv_len);
	memcpy(f->auxv, auxv, auxv_len);
	free(auxv);
	f->p.mm.auxv = (uint8_t *)f->auxv;
	f->p.mm.auxv_len = auxv_len;

	f->p.nr_threads = 1;
	f->p.threads = &f->thread;
	f->thread.tid = getpid();
	f->thread.sigmask = SIGMASK;
	f->thread.nr_pending = 1;
	f->thread.pending = f->pending;
	f->thread.altstack_flags = SS_DISABLE;
	f->thread.clear_child_tid = TID_ADDR;
	f->thread.robust_list = ROBUST_HEAD;
	f->thread.robust_len = 24;
	f->thread.rseq_addr = RSEQ_AREA;
	f->thread.rseq_len = 32;
	f->thread.rseq_sig = RSEQ_SIG;
	f->xstate = make_xstate(&f->thread.xstate_len);
	f->thread.xstate = f->xstate;

	/* Stopped in getpid(), which the kernel would restart. */
	r->rip = CODE + 2;
	r->orig_rax = SYS_getpid;
	r->rax = (uint64_t)-514;	/* -ERESTARTNOHAND */
	r->rsp = STACK_HI - 0x800;
	r->rbx = 0x1234;
	r->rbp = 0xbbbb;
	r->r12 = DATA;
	r->r13 = DATA_MAGIC;
	r->r14 = FS_MAGIC;
	r->r15 = 0xf15;
	r->rcx = 0xc;
	r->rdx = 0xd;
	r->rsi = 0x51;
	r->rdi = 0xd1;
	r->r8 = 8;
	r->r9 = 9;
	r->r10 = 10;
	r->r11 = 0x246;
	r->cs = 0x33;
	r->ss = 0x2b;
	r->eflags = 0x246;
	r->fs_base = DATA;
	r->gs_base = 0x6660000;
	f->want = *r;
	CHECK(plan_fix_syscall_restart(&f->want), "restart fix-up");
}

static void child(struct fixture *f, const char *stub, int status_fd, enum breakage how)
{
	int vma_fds[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	struct plan_fds pf = { 0 };
	struct stub_plan plan;
	struct stub_vma v;
	char arg[16];
	int memfd, exe_fd;

	exe_fd = open("/proc/self/exe", O_RDONLY);
	CHECK(exe_fd >= 0, "exe: %m");
	pf.image_fd = f->image_fd;
	pf.status_fd = status_fd;
	pf.exe_fd = exe_fd;
	pf.vma_fds = vma_fds;
	if (how == BREAK_SHORT_IMAGE)
		f->runs[1].file_off = 1 << 20;
	if (how == BREAK_NO_VDSO)
		f->p.nr_vmas = 3;
	CHECK(plan_build(&f->p, &pf, &memfd) == 0, "plan_build");
	if (how == BREAK_OVERLAP) {
		/* Past plan_build's checks: the stub must catch it itself. */
		CHECK(pread_full(memfd, &plan, sizeof(plan), 0) == 0, "plan");
		CHECK(pread_full(memfd, &v, sizeof(v), plan.vmas_off) == 0, "plan");
		v.end = DATA + 4096;
		CHECK(pwrite_full(memfd, &v, sizeof(v), plan.vmas_off) == 0, "plan");
	}
	snprintf(arg, sizeof(arg), "%d", memfd);
	execl(stub, "trace-ckpt-stub", arg, (char *)NULL);
	fprintf(stderr, "exec %s: %m\n", stub);
	_exit(126);
}

static pid_t start_stub(struct fixture *f, const char *stub, enum breakage how,
			struct stub_status *st)
{
	int pfd[2];
	pid_t pid;

	CHECK(pipe(pfd) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(pfd[0]);
		child(f, stub, pfd[1], how);
	}
	close(pfd[1]);
	memset(st, 0, sizeof(*st));
	CHECK(read_full(pfd[0], st, sizeof(*st)) == 0, "no status from the stub");
	close(pfd[0]);
	return pid;
}

static bool has_maps_line(pid_t pid, uint64_t start, const char *name)
{
	char path[64], *buf, *line, *save = NULL;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, NULL) == 0, "maps");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s;

		if (sscanf(line, "%llx", &s) == 1 && s == start && strstr(line, name))
			found = true;
	}
	free(buf);
	return found;
}

static uint64_t status_field(pid_t pid, const char *key, int base)
{
	char path[64], *buf, *at;
	uint64_t v;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, NULL) == 0, "status");
	at = strstr(buf, key);
	CHECK(at, "%s in %s", key, path);
	v = strtoull(at + strlen(key), NULL, base);
	free(buf);
	return v;
}

static void check_restored(struct fixture *f, pid_t pid)
{
	struct user_regs_struct r;
	struct rseq_config rc;
	char path[64], exe[256], self[256], *buf;
	uint64_t head = 0, len = 0;
	size_t n;
	int k;

	CHECK(ptrace(PTRACE_GETREGS, pid, NULL, &r) == 0, "GETREGS");
#define REG(x) CHECK(r.x == f->want.x, #x " 0x%llx, want 0x%llx", r.x, f->want.x)
	REG(rip);
	REG(rsp);
	REG(rax);
	REG(rbx);
	REG(rcx);
	REG(rdx);
	REG(rsi);
	REG(rdi);
	REG(rbp);
	REG(r8);
	REG(r9);
	REG(r10);
	REG(r11);
	REG(r12);
	REG(r13);
	REG(r14);
	REG(r15);
	REG(cs);
	REG(ss);
	REG(fs_base);
	REG(gs_base);
	CHECK((r.eflags & 0xcd5) == (f->want.eflags & 0xcd5), "eflags 0x%llx", r.eflags);
#undef REG

	/* Nothing of the stub is left; the special mappings are where saved. */
	for (k = 0; k < 6 && f->vmas[k].end; k++) {
		if (f->vmas[k].kind == VMA_VDSO)
			CHECK(has_maps_line(pid, f->vmas[k].start, "[vdso]"), "[vdso] not moved");
		if (f->vmas[k].kind == VMA_VVAR)
			CHECK(has_maps_line(pid, f->vmas[k].start, "[vvar]"), "[vvar] not moved");
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, &n) == 0, "maps");
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned long long s, e;
		bool known = false;

		sscanf(l, "%llx-%llx", &s, &e);
		for (k = 0; k < (int)f->p.nr_vmas; k++)
			known |= s >= f->vmas[k].start && e <= f->vmas[k].end;
		known |= strstr(l, "[vsyscall]") != NULL;
		CHECK(known, "left over: %s", l);
	}
	free(buf);

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, NULL) == 0, "comm");
	CHECK(!strcmp(buf, "stubtest\n"), "comm %s", buf);
	free(buf);
	CHECK(status_field(pid, "Umask:", 8) == 027, "umask");
	CHECK(status_field(pid, "SigBlk:", 16) == SIGMASK, "SigBlk");
	CHECK(status_field(pid, "SigIgn:", 16) == 1ull << (SIGTERM - 1), "SigIgn");
	CHECK(status_field(pid, "SigCgt:", 16) == 1ull << (SIGUSR1 - 1), "SigCgt");
	CHECK(status_field(pid, "ShdPnd:", 16) == 1ull << (SIGUSR2 - 1), "ShdPnd");
	CHECK(status_field(pid, "SigPnd:", 16) == 1ull << (SIGUSR1 - 1), "SigPnd");

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	CHECK(n > 0, "exe link");
	exe[n] = 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n] = 0;
	CHECK(!strcmp(exe, self), "exe %s, want %s", exe, self);

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, &n) == 0, "auxv");
	CHECK(n >= f->p.mm.auxv_len && !memcmp(buf, f->auxv, f->p.mm.auxv_len), "auxv differs");
	free(buf);

	CHECK(ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(rc), &rc) == sizeof(rc),
	      "rseq config: %m");
	CHECK(rc.rseq_abi_pointer == RSEQ_AREA && rc.signature == RSEQ_SIG, "rseq 0x%llx",
	      (unsigned long long)rc.rseq_abi_pointer);
	CHECK(syscall(SYS_get_robust_list, pid, &head, &len) == 0, "get_robust_list: %m");
	CHECK(head == ROBUST_HEAD && len == 24, "robust list 0x%llx", (unsigned long long)head);
	/* The stub's fds are closed: only the test's own are left. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, f->image_fd);
	CHECK(access(path, F_OK) != 0, "image fd %d still open", f->image_fd);
}

static int test_restore(const char *stub)
{
	struct fixture *f = malloc(sizeof(*f));
	struct stub_status st;
	pid_t pid;
	int status;

	CHECK(f, "malloc");
	setup(f);
	pid = start_stub(f, stub, BREAK_NONE, &st);
	CHECK(st.stage == STUB_READY, "stage %u err %d at 0x%llx", st.stage, st.err,
	      (unsigned long long)st.addr);
	CHECK(stub_release(pid, &st, PTRACE_O_TRACESYSGOOD) == 0, "stub_release");
	check_restored(f, pid);
	CHECK(ptrace(PTRACE_DETACH, pid, NULL, NULL) == 0, "detach");
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status), "the restored process died: status 0x%x", status);
	CHECK(WEXITSTATUS(status) == 42, "payload check %d failed", WEXITSTATUS(status));
	close(f->image_fd);
	free(f->xstate);
	free(f);
	printf("ok restore\n");
	return 0;
}

static int test_broken(const char *stub, enum breakage how, uint32_t stage, int err,
		       uint64_t addr)
{
	struct fixture *f = malloc(sizeof(*f));
	struct stub_status st;
	pid_t pid;
	int status;

	CHECK(f, "malloc");
	setup(f);
	pid = start_stub(f, stub, how, &st);
	CHECK(st.stage == stage, "stage %u, want %u (err %d)", st.stage, stage, st.err);
	CHECK(st.err == err, "err %d, want %d", st.err, err);
	CHECK(st.addr == addr, "addr 0x%llx, want 0x%llx", (unsigned long long)st.addr,
	      (unsigned long long)addr);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127, "status 0x%x", status);
	close(f->image_fd);
	free(f->xstate);
	free(f);
	printf("ok broken plan %d: stage %u\n", how, stage);
	return 0;
}

/* Saved without special mappings: the stub drops its own, and without a
 * [vdso] there is no syscall instruction to release it with. */
static int test_no_vdso(const char *stub)
{
	struct fixture *f = malloc(sizeof(*f));
	struct stub_status st;
	char path[64], *buf;
	pid_t pid;

	CHECK(f, "malloc");
	setup(f);
	pid = start_stub(f, stub, BREAK_NO_VDSO, &st);
	CHECK(st.stage == STUB_READY, "stage %u err %d", st.stage, st.err);
	CHECK(st.syscall_insn == 0, "syscall insn 0x%llx", (unsigned long long)st.syscall_insn);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	CHECK(read_file_at(AT_FDCWD, path, &buf, NULL) == 0, "maps");
	CHECK(!strstr(buf, "[vdso]") && !strstr(buf, "[vvar"), "special mappings left:\n%s", buf);
	free(buf);
	CHECK(stub_release(pid, &st, 0) == -ENOENT, "release without a vdso");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(f->image_fd);
	free(f->xstate);
	free(f);
	printf("ok no vdso\n");
	return 0;
}

int main(void)
{
	const char *stub = getenv("TRACE_CKPT_STUB");
	unsigned int a, b, c, d;

	if (!stub || !*stub) {
		fprintf(stderr, "set TRACE_CKPT_STUB to the stub\n");
		return 77;
	}
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE)) {
		fprintf(stderr, "no AVX: skipped\n");
		return 77;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "needs root (PR_SET_MM_MAP with exe_fd): skipped\n");
		return 77;
	}
	log_set_level(LOG_DEBUG);
	test_restore(stub);
	test_broken(stub, BREAK_OVERLAP, STUB_ERR_PLAN, -EINVAL, DATA);
	test_broken(stub, BREAK_SHORT_IMAGE, STUB_ERR_READ, -EIO, DATA);
	test_no_vdso(stub);
	return 0;
}
