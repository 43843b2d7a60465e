/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "check_main.h"
#include "proto/cpu.h"

static struct cpu_record baseline(void)
{
	struct cpu_record c = { .flags = CPU_F_KNOWN, .family = 6, .model = 85 };

	memcpy(c.vendor, "GenuineIntel", 12);
	c.leaf1_edx = (1u << 25) | (1u << 26);	/* sse, sse2 */
	c.leaf1_ecx = (1u << 28);		/* avx */
	c.leaf7_ebx = (1u << 5);		/* avx2 */
	c.xcr0 = 0x7;				/* x87, sse, avx */
	c.xstate_size = 832;
	return c;
}

START_TEST(same_cpu_lacks_nothing)
{
	struct cpu_record a = baseline(), b = baseline();
	char missing[256];

	ck_assert_uint_eq(cpu_record_missing(&a, &b, missing, sizeof(missing)), 0);
	ck_assert_str_eq(missing, "");
}
END_TEST

START_TEST(avx512_missing_by_name)
{
	struct cpu_record image = baseline(), here = baseline();
	char missing[256];

	image.leaf7_ebx |= (1u << 16) | (1u << 30);	/* avx512f, avx512bw */
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 2);
	ck_assert_str_eq(missing, "avx512f, avx512bw");
	/* The other way round nothing is lacking: more is fine. */
	ck_assert_uint_eq(cpu_record_missing(&here, &image, missing, sizeof(missing)), 0);
}
END_TEST

START_TEST(xcr0_must_include_the_images)
{
	struct cpu_record image = baseline(), here = baseline();
	char missing[256];

	image.xcr0 = 0xe7 | (1ull << 10);	/* + opmask, zmm_hi256, hi16_zmm, an unnamed one */
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 4);
	ck_assert_str_eq(missing, "xsave:opmask, xsave:zmm_hi256, xsave:hi16_zmm, xsave:component10");
}
END_TEST

START_TEST(machine_bits_do_not_count)
{
	struct cpu_record image = baseline(), here = baseline();
	char missing[256];

	image.leaf1_ecx |= 1u << 31;	/* hypervisor: a VM, not a feature */
	image.leaf7_edx |= 1u << 15;	/* hybrid */
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 0);
}
END_TEST

START_TEST(xsave_area_too_small)
{
	struct cpu_record image = baseline(), here = baseline();
	char missing[256];

	image.xstate_size = 2696;
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 1);
	ck_assert_str_eq(missing, "an xsave area of 2696 bytes (here 832)");
}
END_TEST

START_TEST(unrecorded_and_truncated)
{
	struct cpu_record image = baseline(), here = { 0 };
	char missing[8];

	/* An older image recorded nothing: nothing to refuse. */
	image.flags = 0;
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 0);
	/* A short buffer still counts every feature, and stays terminated. */
	image = baseline();
	ck_assert_uint_eq(cpu_record_missing(&image, &here, missing, sizeof(missing)), 7);
	ck_assert_uint_lt(strlen(missing), sizeof(missing));
}
END_TEST

START_TEST(describe_is_printable)
{
	struct cpu_record c = baseline();
	char out[96];

	cpu_record_describe(&c, out, sizeof(out));
	ck_assert_str_eq(out, "GenuineIntel family 6 model 85");
	memcpy(c.vendor, "Evil\x1b[2Jvend\xff\xff\xff\xff", 16);
	cpu_record_describe(&c, out, sizeof(out));
	ck_assert_str_eq(out, "Evil?[2Jvend??? family 6 model 85");
}
END_TEST

START_TEST(this_host_has_what_it_has)
{
	struct cpu_record here;
	char missing[1024];

	cpu_record_host(&here);
	ck_assert_uint_eq(here.flags, CPU_F_KNOWN);
	ck_assert(here.vendor[0]);
	/* x86-64 has sse2 everywhere. */
	ck_assert(here.leaf1_edx & (1u << 26));
	ck_assert_uint_eq(cpu_record_missing(&here, &here, missing, sizeof(missing)), 0);
}
END_TEST

static Suite *cpu_suite(void)
{
	Suite *s = suite_create("cpu");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, same_cpu_lacks_nothing);
	tcase_add_test(tc, avx512_missing_by_name);
	tcase_add_test(tc, xcr0_must_include_the_images);
	tcase_add_test(tc, machine_bits_do_not_count);
	tcase_add_test(tc, xsave_area_too_small);
	tcase_add_test(tc, unrecorded_and_truncated);
	tcase_add_test(tc, describe_is_printable);
	tcase_add_test(tc, this_host_has_what_it_has);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cpu_suite)
