/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helpers: fully populated records, deep comparison, a fake page source. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/image.h"
#include "proto/imagekey.h"
#include "proto/model.h"

/* The key the tests' images and manifests are authenticated with. */
extern const struct image_key sample_key;

/* Every field set, all values derived from seed so two samples differ. */
void sample_process(struct process_record *p, unsigned int seed, size_t nr_threads,
		    size_t nr_vmas, size_t nr_fds);
void sample_computation(struct computation *c, size_t nr_procs);

/*
 * Compare everything the record encoding carries (not runs, core_path,
 * real_pid, content_fd; fd content only when with_content).  On a
 * difference, why names the field.
 */
bool process_equal(const struct process_record *a, const struct process_record *b,
		   bool with_content, char *why, size_t len);

/* The byte at addr of fake process pid, as the fake mem_reader returns it. */
static inline unsigned char pattern_byte(pid_t pid, unsigned long long addr)
{
	unsigned long long x = addr * 0x9e3779b97f4a7c15ull + (unsigned long long)pid;

	return (unsigned char)(x >> 29);
}

struct fake_mem {
	int fail_at_call;	/* 0: never; n: the nth call returns -EFAULT */
	int calls;
};

void fake_mem_reader(struct mem_reader *mr, struct fake_mem *fm);

/* A fresh directory under $TMPDIR (or /tmp); removed with rm_rf by the caller. */
char *make_tmpdir(void);
