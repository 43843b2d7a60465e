/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ymm: 14 values of 256 bits live in ymm0..ymm13 for BLOCK ticks at a time,
 * across the write(2) and nanosleep(2) of every tick, where a checkpoint
 * usually lands.  The loop is hand-written assembly (no libc in between,
 * glibc's string functions use the ymm registers) that, each tick:
 *
 *   1. adds inc[i] to ymm<i> (four 64-bit lanes, upper halves included),
 *   2. does the same addition on a copy in memory (the shadow) and compares
 *      every register with it; a mismatch stops the loop,
 *   3. spins a little (so a freeze can also land in user code),
 *   4. writes the prepared "tick N" line and sleeps with raw syscalls.
 *
 * Between blocks C checks the registers (stored by the loop) against the
 * shadow and against init + ticks * inc computed independently.  MXCSR and
 * the x87 control word hold non-default values that are checked too.
 *
 *   ymm [-n TARGET] [-i INTERVAL_MS]
 */
#include "tc_test.h"

#define NREG	14
#define BLOCK	25
#define LANES	4

struct line {
	const char *p;
	long len;
};

struct ymm_args {
	uint64_t *state;		/*  0: NREG*LANES, in: start values, out: end values */
	uint64_t *shadow;		/*  8 */
	const uint64_t *inc;		/* 16 */
	const struct line *lines;	/* 24 */
	long nticks;			/* 32 */
	const struct timespec *ts;	/* 40 */
	long spins;			/* 48 */
	long fail;			/* 56: 0 ok, 1 register mismatch, 2 write, 3 nanosleep */
	long sysret;			/* 64 */
	long done;			/* 72: ticks completed */
};

long ymm_run(struct ymm_args *a);

#define LOAD(i)   "vmovdqu " #i "*32(%rax), %ymm" #i "\n\t"
#define STORE(i)  "vmovdqu %ymm" #i ", " #i "*32(%rax)\n\t"
#define ADD(i)    "vpaddq " #i "*32(%r14), %ymm" #i ", %ymm" #i "\n\t"
#define CHECK(i) \
	"vmovdqu " #i "*32(%r13), %ymm15\n\t" \
	"vpaddq " #i "*32(%r14), %ymm15, %ymm15\n\t" \
	"vmovdqu %ymm15, " #i "*32(%r13)\n\t" \
	"vpcmpeqq %ymm15, %ymm" #i ", %ymm15\n\t" \
	"vpand %ymm15, %ymm14, %ymm14\n\t"
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)

__asm__(
	".text\n"
	".globl ymm_run\n"
	".type ymm_run, @function\n"
	"ymm_run:\n\t"
	"push %rbx\n\t"
	"push %r12\n\t"
	"push %r13\n\t"
	"push %r14\n\t"
	"push %r15\n\t"
	"mov %rdi, %rbx\n\t"
	"mov 0(%rbx), %rax\n\t"
	ALL(LOAD)
	"xor %r12, %r12\n\t"
	"mov 8(%rbx), %r13\n\t"
	"mov 16(%rbx), %r14\n"
	"1:\n\t"
	"cmp 32(%rbx), %r12\n\t"
	"jge 9f\n\t"
	ALL(ADD)
	"vpcmpeqq %ymm14, %ymm14, %ymm14\n\t"
	ALL(CHECK)
	"vpmovmskb %ymm14, %eax\n\t"
	"cmp $-1, %eax\n\t"
	"jne 8f\n\t"
	"mov 48(%rbx), %rcx\n"
	"2:\n\t"
	"test %rcx, %rcx\n\t"
	"jz 3f\n\t"
	"dec %rcx\n\t"
	"jmp 2b\n"
	"3:\n\t"
	"mov %r12, %rdx\n\t"
	"shl $4, %rdx\n\t"
	"add 24(%rbx), %rdx\n\t"
	"mov 8(%rdx), %r15\n\t"
	"mov 0(%rdx), %rsi\n\t"
	"mov %r15, %rdx\n\t"
	"mov $1, %edi\n\t"
	"mov $1, %eax\n\t"		/* write */
	"syscall\n\t"
	"cmp %r15, %rax\n\t"
	"jne 7f\n\t"
	"mov 40(%rbx), %rdi\n\t"
	"xor %esi, %esi\n\t"
	"mov $35, %eax\n\t"		/* nanosleep */
	"syscall\n\t"
	"test %rax, %rax\n\t"
	"jnz 6f\n\t"
	"inc %r12\n\t"
	"jmp 1b\n"
	"8:\n\t"
	"movq $1, 56(%rbx)\n\t"
	"jmp 9f\n"
	"7:\n\t"
	"movq $2, 56(%rbx)\n\t"
	"mov %rax, 64(%rbx)\n\t"
	"jmp 9f\n"
	"6:\n\t"
	"movq $3, 56(%rbx)\n\t"
	"mov %rax, 64(%rbx)\n"
	"9:\n\t"
	"mov %r12, 72(%rbx)\n\t"
	"mov 0(%rbx), %rax\n\t"
	ALL(STORE)
	"vzeroupper\n\t"
	"mov %r12, %rax\n\t"
	"pop %r15\n\t"
	"pop %r14\n\t"
	"pop %r13\n\t"
	"pop %r12\n\t"
	"pop %rbx\n\t"
	"ret\n"
	".size ymm_run, .-ymm_run\n"
);

#define MXCSR_VAL	0xffc0u		/* round toward zero, FTZ, DAZ, all masked */
#define X87_CW_VAL	0x0e7fu		/* round toward zero, 53-bit precision */

static unsigned get_mxcsr(void)
{
	unsigned v;

	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static unsigned get_x87cw(void)
{
	unsigned short v;

	__asm__ volatile("fnstcw %0" : "=m"(v));
	return v;
}

static uint64_t init_val[NREG * LANES], inc_val[NREG * LANES];
static uint64_t state[NREG * LANES], shadow[NREG * LANES];

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	static char text[BLOCK][32];
	struct line lines[BLOCK];
	struct timespec ts;
	long done = 0;
	int c;

	while ((c = getopt(argc, argv, "n:i:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	if (!__builtin_cpu_supports("avx2")) {
		printf("SKIP: no AVX2\n");
		return 77;
	}

	tc_proc_init("ymm");
	for (int i = 0; i < NREG * LANES; i++) {
		/* every lane distinct, upper 128 bits included */
		init_val[i] = tc_mix(0x1000 + (uint64_t)i);
		inc_val[i] = tc_mix(0x2000 + (uint64_t)i) | 1;
	}
	memcpy(state, init_val, sizeof(state));
	memcpy(shadow, init_val, sizeof(shadow));
	ts.tv_sec = o.interval_ms / 1000;
	ts.tv_nsec = (o.interval_ms % 1000) * 1000000L;
	{
		unsigned m = MXCSR_VAL;
		unsigned short cw = X87_CW_VAL;

		__asm__ volatile("ldmxcsr %0" : : "m"(m));
		__asm__ volatile("fldcw %0" : : "m"(cw));
	}
	tc_ready();

	while (done < o.target) {
		long k = o.target - done < BLOCK ? o.target - done : BLOCK;
		struct ymm_args a = {
			.state = state, .shadow = shadow, .inc = inc_val,
			.lines = lines, .nticks = k, .ts = &ts, .spins = 200000,
		};

		for (long t = 0; t < k; t++) {
			int len = snprintf(text[t], sizeof(text[t]), "tick %ld\n", done + t + 1);

			lines[t].p = text[t];
			lines[t].len = len;
		}
		ymm_run(&a);
		if (a.fail == 1) {
			for (int i = 0; i < NREG * LANES; i++)
				if (state[i] != shadow[i])
					tc_bad("tick %ld: ymm%d lane %d = %#llx, expected %#llx",
					       done + a.done + 1, i / LANES, i % LANES,
					       (unsigned long long)state[i],
					       (unsigned long long)shadow[i]);
			tc_bad("tick %ld: ymm registers differ from their shadow",
			       done + a.done + 1);
		}
		if (a.fail == 2)
			tc_bad("tick %ld: write returned %ld", done + a.done + 1, a.sysret);
		if (a.fail == 3)
			tc_bad("tick %ld: nanosleep returned %ld (%s)", done + a.done + 1,
			       a.sysret, strerror((int)-a.sysret));
		if (a.done != k)
			tc_bad("ymm loop ran %ld ticks of %ld", a.done, k);
		done += k;

		for (int i = 0; i < NREG * LANES; i++) {
			uint64_t want = init_val[i] + (uint64_t)done * inc_val[i];

			if (state[i] != want || shadow[i] != want)
				tc_bad("after tick %ld: ymm%d lane %d = %#llx, shadow %#llx, expected %#llx",
				       done, i / LANES, i % LANES,
				       (unsigned long long)state[i],
				       (unsigned long long)shadow[i],
				       (unsigned long long)want);
		}
		if (get_mxcsr() != MXCSR_VAL)
			tc_bad("after tick %ld: MXCSR %#x, expected %#x", done, get_mxcsr(),
			       MXCSR_VAL);
		if (get_x87cw() != X87_CW_VAL)
			tc_bad("after tick %ld: x87 control word %#x, expected %#x", done,
			       get_x87cw(), X87_CW_VAL);
		tc_proc_check();
	}
	tc_pass();
}
