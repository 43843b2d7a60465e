/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stub tests' one assertion: print where and why, then exit 1 (they are
 * plain programs, run by meson, without a test framework around them).
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n");                                \
			exit(1);                                              \
		}                                                             \
	} while (0)
