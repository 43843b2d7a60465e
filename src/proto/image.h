/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image on disk:
 *
 *   DIR/manifest                    TLV: version, generation, time, host,
 *                                   processes (pid, ppid, pgid, sid, host),
 *                                   every file with its size and XXH3-64,
 *                                   HMAC-SHA256 of all that (imagekey.h)
 *   DIR/<host>/proc-<pid>.core      one ELF core per process (gdb opens it)
 *   DIR/<host>/shared/fds-<pid>     what the process's fds hold (deleted files,
 *                                   pipes, queues), each fd's at an offset
 *   DIR/<host>/shared/shm-...       shared memory objects
 *
 * Written in DIR.tmp-XXXXXX next to DIR, fsynced, then renamed over DIR;
 * directories 0700, files 0600.  The writer locks DIR.tmp-XXXXXX.lock while
 * it writes, and removes the temporary directories of writers that died
 * (image_tmp.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/model.h"

struct image_key;

/*
 * Where the writer gets the dumped pages from: read len bytes of process
 * pid's memory at addr into buf (page aligned, len a multiple of the page
 * size).  Returns 0 or -errno.  Called from the writer's reader thread.
 */
struct mem_reader {
	int (*read)(void *ctx, pid_t real_pid, uint64_t addr, void *buf, size_t len);
	void *ctx;
	/*
	 * May be NULL.  Once every page is read, before the image is made
	 * durable: 0 if what was read is what the processes held at the
	 * dump (a source that died meanwhile may have read as zeros).
	 */
	int (*intact)(void *ctx);
	/*
	 * May be NULL.  Every page of real_pid below addr has been read and
	 * will not be read again: a source that holds a copy of them may let
	 * it go.  Called by the thread that called image_write, with addr
	 * rising for each process.
	 */
	void (*release)(void *ctx, pid_t real_pid, uint64_t addr);
};

struct image_stats {
	uint64_t bytes_written;		/* all files */
	uint64_t bytes_linked;		/* earlier generations' files, linked */
	uint64_t pages_dumped;
	uint64_t write_ns;		/* time spent in image_write */
};

/* The manifest is authenticated with key (imagekey.h). */
int image_write(const struct computation *c, const char *dir, const struct image_key *key,
		const struct mem_reader *mr, struct image_stats *st);
/* Same; the image DIR had is kept as DIR.1 (and DIR.1 as DIR.2...), keep of them. */
int image_write_keep(const struct computation *c, const char *dir, unsigned int keep,
		     const struct image_key *key, const struct mem_reader *mr,
		     struct image_stats *st);

/*
 * Read DIR/manifest and every core file into a computation.  The manifest's
 * MAC under key is checked first (key NULL: not checked, for show
 * --no-verify only), then every file's size and checksum; on a mismatch the
 * error names the file.  Page contents are not read: runs carry their file
 * offsets, and process_record.core_path names the core file.
 */
int image_read(const char *dir, const struct image_key *key, struct computation **out, char *err,
	       size_t errlen);

/*
 * Same, but files larger than 1 MiB are only checked for presence and size:
 * the caller runs image_verify() alongside its own work and must not use
 * the image's contents for anything lasting before that succeeded.
 */
#define IMAGE_READ_SIZES_ONLY (1u << 0)
int image_read_flags(const char *dir, const struct image_key *key, struct computation **out,
		     unsigned int flags, char *err, size_t errlen);
/* The manifest's MAC, every file's size and checksum; err names the bad one. */
int image_verify(const char *dir, const struct image_key *key, char *err, size_t errlen);
/*
 * Files with chunk sums (plain cores) only by size: their caller checks each
 * piece before it uses it (restore --lazy).
 */
#define IMAGE_VERIFY_SKIP_CHUNKED (1u << 0)
int image_verify_flags(const char *dir, const struct image_key *key, unsigned int flags, char *err,
		       size_t errlen);

/* Checksum of a whole file, as stored in the manifest. */
int image_file_checksum(int fd, uint64_t *sum, uint64_t *size);
