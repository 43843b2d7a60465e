/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an image may rely on of the CPU it was made on: the program chose
 * its code paths (glibc's ifuncs, a JIT's) by these flags once, at start,
 * and its threads' xsave areas hold the components of XCR0.  Restored on a
 * CPU without them it would die of SIGILL, or worse, later.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPU_F_KNOWN (1u << 0)	/* recorded (older images: 0, nothing to compare) */

/* Stored whole in the manifest (one attribute): a fixed layout, no padding. */
struct cpu_record {
	uint32_t flags;			/* CPU_F_* */
	char vendor[16];		/* "GenuineIntel", "AuthenticAMD"...; NUL-terminated */
	uint32_t family, model, stepping;
	uint32_t leaf1_ecx, leaf1_edx;	/* CPUID.1 */
	uint32_t leaf7_ebx, leaf7_ecx, leaf7_edx;	/* CPUID.(7,0) */
	uint32_t xstate_size;		/* CPUID.(0xd,0).EBX: the xsave area for XCR0 */
	uint64_t xcr0;			/* xgetbv(0): the state components enabled */
};

/* This CPU, as the kernel lets user space see it (CPUID, XGETBV). */
void cpu_record_host(struct cpu_record *out);

/*
 * What the image's CPU had (of the features that matter to a program) and
 * this one lacks, as a comma-separated list of names in missing (empty:
 * nothing).  Returns how many.  Pure: unit tested with made-up records.
 */
size_t cpu_record_missing(const struct cpu_record *image, const struct cpu_record *here,
			  char *missing, size_t len);

/* "GenuineIntel family 6 model 85", for messages. */
void cpu_record_describe(const struct cpu_record *c, char *out, size_t len);
