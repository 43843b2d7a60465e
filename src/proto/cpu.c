/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "proto/cpu.h"
#include "util/macro.h"

enum cpu_reg { R_1_ECX, R_1_EDX, R_7_EBX, R_7_ECX, R_7_EDX, R_XCR0 };

struct cpu_feature {
	uint8_t reg;		/* enum cpu_reg */
	uint8_t bit;
	const char *name;	/* as /proc/cpuinfo spells it */
};

/*
 * Only what a program can use without asking the kernel: instruction sets
 * and the xsave components.  Bits that describe the machine rather than
 * what runs on it (hypervisor, hybrid, mitigations) are left out, or every
 * move from a VM to bare metal would be refused.
 */
static const struct cpu_feature features[] = {
	{ R_1_EDX, 0, "fpu" },
	{ R_1_EDX, 4, "tsc" },
	{ R_1_EDX, 8, "cx8" },
	{ R_1_EDX, 15, "cmov" },
	{ R_1_EDX, 19, "clflush" },
	{ R_1_EDX, 23, "mmx" },
	{ R_1_EDX, 24, "fxsr" },
	{ R_1_EDX, 25, "sse" },
	{ R_1_EDX, 26, "sse2" },
	{ R_1_ECX, 0, "pni" },
	{ R_1_ECX, 1, "pclmulqdq" },
	{ R_1_ECX, 9, "ssse3" },
	{ R_1_ECX, 12, "fma" },
	{ R_1_ECX, 13, "cx16" },
	{ R_1_ECX, 19, "sse4_1" },
	{ R_1_ECX, 20, "sse4_2" },
	{ R_1_ECX, 22, "movbe" },
	{ R_1_ECX, 23, "popcnt" },
	{ R_1_ECX, 25, "aes" },
	{ R_1_ECX, 26, "xsave" },
	{ R_1_ECX, 28, "avx" },
	{ R_1_ECX, 29, "f16c" },
	{ R_1_ECX, 30, "rdrand" },
	{ R_7_EBX, 0, "fsgsbase" },
	{ R_7_EBX, 3, "bmi1" },
	{ R_7_EBX, 4, "hle" },
	{ R_7_EBX, 5, "avx2" },
	{ R_7_EBX, 8, "bmi2" },
	{ R_7_EBX, 9, "erms" },
	{ R_7_EBX, 11, "rtm" },
	{ R_7_EBX, 16, "avx512f" },
	{ R_7_EBX, 17, "avx512dq" },
	{ R_7_EBX, 18, "rdseed" },
	{ R_7_EBX, 19, "adx" },
	{ R_7_EBX, 21, "avx512ifma" },
	{ R_7_EBX, 23, "clflushopt" },
	{ R_7_EBX, 24, "clwb" },
	{ R_7_EBX, 26, "avx512pf" },
	{ R_7_EBX, 27, "avx512er" },
	{ R_7_EBX, 28, "avx512cd" },
	{ R_7_EBX, 29, "sha_ni" },
	{ R_7_EBX, 30, "avx512bw" },
	{ R_7_EBX, 31, "avx512vl" },
	{ R_7_ECX, 1, "avx512vbmi" },
	{ R_7_ECX, 5, "waitpkg" },
	{ R_7_ECX, 6, "avx512_vbmi2" },
	{ R_7_ECX, 8, "gfni" },
	{ R_7_ECX, 9, "vaes" },
	{ R_7_ECX, 10, "vpclmulqdq" },
	{ R_7_ECX, 11, "avx512_vnni" },
	{ R_7_ECX, 12, "avx512_bitalg" },
	{ R_7_ECX, 14, "avx512_vpopcntdq" },
	{ R_7_ECX, 22, "rdpid" },
	{ R_7_ECX, 27, "movdiri" },
	{ R_7_ECX, 28, "movdir64b" },
	{ R_7_EDX, 2, "avx512_4vnniw" },
	{ R_7_EDX, 3, "avx512_4fmaps" },
	{ R_7_EDX, 4, "fsrm" },
	{ R_7_EDX, 8, "avx512_vp2intersect" },
	{ R_7_EDX, 14, "serialize" },
	{ R_7_EDX, 22, "amx_bf16" },
	{ R_7_EDX, 23, "avx512_fp16" },
	{ R_7_EDX, 24, "amx_tile" },
	{ R_7_EDX, 25, "amx_int8" },
	/* XCR0: the restoring kernel must enable every component the saved
	 * xsave areas hold, or they cannot be put back. */
	{ R_XCR0, 0, "xsave:x87" },
	{ R_XCR0, 1, "xsave:sse" },
	{ R_XCR0, 2, "xsave:avx" },
	{ R_XCR0, 3, "xsave:bndregs" },
	{ R_XCR0, 4, "xsave:bndcsr" },
	{ R_XCR0, 5, "xsave:opmask" },
	{ R_XCR0, 6, "xsave:zmm_hi256" },
	{ R_XCR0, 7, "xsave:hi16_zmm" },
	{ R_XCR0, 9, "xsave:pkru" },
	{ R_XCR0, 17, "xsave:tilecfg" },
	{ R_XCR0, 18, "xsave:tiledata" },
	{ R_XCR0, 19, "xsave:apx" },
};

static uint64_t reg_of(const struct cpu_record *c, unsigned int reg)
{
	switch (reg) {
	case R_1_ECX:
		return c->leaf1_ecx;
	case R_1_EDX:
		return c->leaf1_edx;
	case R_7_EBX:
		return c->leaf7_ebx;
	case R_7_ECX:
		return c->leaf7_ecx;
	case R_7_EDX:
		return c->leaf7_edx;
	default:
		return c->xcr0;
	}
}

static void append(char *out, size_t len, size_t *pos, const char *name)
{
	int n;

	if (*pos >= len)
		return;
	n = snprintf(out + *pos, len - *pos, "%s%s", *pos ? ", " : "", name);
	if (n > 0)
		*pos += (size_t)n;
}

size_t cpu_record_missing(const struct cpu_record *image, const struct cpu_record *here,
			  char *missing, size_t len)
{
	size_t n = 0, pos = 0;
	uint64_t unnamed;

	if (len)
		missing[0] = '\0';
	if (!(image->flags & CPU_F_KNOWN))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
		uint64_t bit = 1ull << features[i].bit;

		if ((reg_of(image, features[i].reg) & bit) && !(reg_of(here, features[i].reg) & bit)) {
			append(missing, len, &pos, features[i].name);
			n++;
		}
	}
	/* Every XCR0 component counts, named or not: the xsave areas hold them. */
	unnamed = image->xcr0 & ~here->xcr0;
	for (size_t i = 0; i < ARRAY_SIZE(features); i++)
		if (features[i].reg == R_XCR0)
			unnamed &= ~(1ull << features[i].bit);
	for (unsigned int b = 0; b < 64; b++) {
		char name[32];

		if (!(unnamed & (1ull << b)))
			continue;
		snprintf(name, sizeof(name), "xsave:component%u", b);
		append(missing, len, &pos, name);
		n++;
	}
	/* Same components, a smaller area: the saved xstate would not fit. */
	if (!n && here->xstate_size && image->xstate_size > here->xstate_size) {
		char name[64];

		snprintf(name, sizeof(name), "an xsave area of %u bytes (here %u)",
			 image->xstate_size, here->xstate_size);
		append(missing, len, &pos, name);
		n++;
	}
	return n;
}

void cpu_record_describe(const struct cpu_record *c, char *out, size_t len)
{
	char vendor[sizeof(c->vendor)];

	memcpy(vendor, c->vendor, sizeof(vendor));
	vendor[sizeof(vendor) - 1] = '\0';
	/* A hostile image's vendor goes into a terminal: printable only. */
	for (char *p = vendor; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	snprintf(out, len, "%s family %u model %u", vendor[0] ? vendor : "unknown CPU", c->family,
		 c->model);
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

void cpu_record_host(struct cpu_record *out)
{
	unsigned int a, b, c, d, max;
	unsigned int base_family, base_model;

	memset(out, 0, sizeof(*out));
	if (!__get_cpuid(0, &max, &b, &c, &d))
		return;
	out->flags = CPU_F_KNOWN;
	memcpy(out->vendor, &b, 4);
	memcpy(out->vendor + 4, &d, 4);
	memcpy(out->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	out->leaf1_ecx = c;
	out->leaf1_edx = d;
	base_family = (a >> 8) & 0xf;
	base_model = (a >> 4) & 0xf;
	out->stepping = a & 0xf;
	out->family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
	out->model = base_family == 0x6 || base_family == 0xf ?
		     base_model | (((a >> 16) & 0xf) << 4) : base_model;
	if (max >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		out->leaf7_ebx = b;
		out->leaf7_ecx = c;
		out->leaf7_edx = d;
	}
	/* OSXSAVE: the kernel enabled xsave, so xgetbv may run. */
	if (out->leaf1_ecx & (1u << 27)) {
		out->xcr0 = xgetbv0();
		if (max >= 0xd) {
			__cpuid_count(0xd, 0, a, b, c, d);
			out->xstate_size = b;
		}
	}
}
