/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DIR/manifest: what the image holds and the checksum of every file in it.
 * Layout in attrs.h (MANIFEST_MAGIC, enum man_attr).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/cpu.h"
#include "proto/tlv.h"

struct manifest_proc {
	pid_t pid, ppid, pgid, sid;
	char *host;
	char *core;		/* core file, relative to DIR */
};

struct manifest_file {
	char *path;		/* relative to DIR */
	uint64_t size;
	uint64_t xxh3;
	/*
	 * A core file's records come first: checked alone before they are
	 * read, while the pages behind them are checked as they load (0: no
	 * such part, the whole file is checked first).
	 */
	uint64_t head_len, head_xxh3;
	/* MANF_A_CHUNK_SUMS: u64 each, chunk_sums_len bytes; NULL: none */
	uint64_t *chunk_sums;
	uint32_t chunk_sums_len;
};

/* A host of a checkpoint of several hosts (TC_COMP_F_MULTIHOST). */
struct manifest_member {
	char *host;
	char *addr;
	char *subdir;		/* relative to DIR: a single-host image */
	uint64_t bytes;
	uint32_t nr_procs;
	char *cmdline;
	uint32_t task;		/* its batch job's task (SLURM_PROCID) + 1; 0: none */
};

struct manifest {
	uint32_t version;	/* TC_FORMAT_VERSION of the writer */
	uint64_t generation;
	uint64_t time_ns;
	char *host;
	char *cmdline;
	uint32_t flags;
	size_t nr_procs;
	struct manifest_proc *procs;
	size_t nr_files;
	struct manifest_file *files;
	size_t nr_members;
	struct manifest_member *members;
	/*
	 * In the manifest, not in each process's record: it is one host's,
	 * read once, and a check of an image against this host (check DIR)
	 * needs no core file for it.
	 */
	struct cpu_record cpu;
};

void manifest_free(struct manifest *m);

struct image_key;

/* The whole file: header, attributes, MAC under key, checksum.  Appends to an empty b. */
int manifest_encode(struct tlv_buf *b, const struct manifest *m, const struct image_key *key);

/*
 * Parse and verify a whole manifest file held in buf: its checksum, then its
 * MAC under key (-EKEYREJECTED when it does not match or is missing), then
 * its records.  key NULL skips the MAC: only for a caller that says the
 * image is untrusted (show --no-verify) and for the fuzzer.  On error m is
 * freed and err says what is wrong with it.  Paths are checked to be
 * relative and free of ".." so a damaged manifest cannot point outside DIR;
 * hosts and addresses of the members to be host names (is_host_name).
 */
int manifest_parse(const void *buf, size_t len, const struct image_key *key, struct manifest *m,
		   char *err, size_t errlen);

/* A relative path that stays below its directory: no "..", no leading '/'. */
bool image_path_is_safe(const char *path);

/*
 * DIR/NAME (dirfd open on DIR, named dir in errors) into m, authenticated
 * with key (manifest_parse); err: "DIR/NAME: what is wrong".
 */
int manifest_read_at(int dirfd, const char *dir, const char *name, const struct image_key *key,
		     struct manifest *m, char *err, size_t errlen);
/*
 * m, authenticated with key, into DIR/NAME atomically: a temporary file,
 * fsync, hard-linked as DIR/ALSO too when also is not NULL, renamed over
 * NAME, fsync of DIR.  *bytes (may be NULL): its size.  MANIFEST_NO_SYNC:
 * no fsync; the caller makes the whole directory durable at once.
 */
#define MANIFEST_NO_SYNC 1u
int manifest_write_at(int dirfd, const char *dir, const char *name, const char *also,
		      const struct manifest *m, const struct image_key *key, unsigned int flags,
		      uint64_t *bytes, char *err, size_t errlen);
