/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libtraceckpt: checkpoint a supervised computation from another program.
 * The computation must run under `trace-ckpt run` (or `attach`, `restore`)
 * of the same user; these calls talk to its supervisor.
 */
#ifndef TRACE_CKPT_H
#define TRACE_CKPT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tc_dump_mode {
	TC_DUMP_LEAVE_RUNNING = 0,	/* the computation goes on (default) */
	TC_DUMP_KILL = 1,		/* ended once the image is safe on disk */
	TC_DUMP_CHECK = 2,		/* nothing written: would a dump work, how big */
};

/*
 * Checkpoint the computation pid belongs to (0: the user's only one) into
 * dir (NULL: the supervisor's default).  Returns 0 or -errno; on failure
 * msg (if not NULL) says what failed.  On success msg holds the summary.
 */
int tc_dump(pid_t pid, const char *dir, enum tc_dump_mode mode, char *msg, size_t msglen);

/*
 * Store only the pages written since the previous image in dir (which
 * keeps the earlier generations' cores it needs as hard links); the first
 * such dump stores everything and starts counting.
 */
#define TC_DUMP_F_INCREMENTAL (1u << 0)
/* Compress the pages (zstd); a restore uncompresses each core once, into memory. */
#define TC_DUMP_F_COMPRESS (1u << 1)
int tc_dump_flags(pid_t pid, const char *dir, enum tc_dump_mode mode, unsigned int flags,
		  char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif

#endif
