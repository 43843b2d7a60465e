/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "lib/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tlv_buf;

int cmd_run(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* check DIR: would a restore start here?  0 yes, 1 no, 2 usage. */
int check_image(const char *dir, const char *key_file, bool new_pidns);
/* check PID: would a dump of its computation work?  0 yes, 1 no, 2 usage. */
int check_pid(pid_t pid);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_coordinator(int argc, char **argv);
int cmd_status(int argc, char **argv);
/* list --all-hosts: every host's part, from the coordinator. */
int list_all_hosts(const char *coord, const char *secret);

/*
 * Without root: enter a user namespace of our own (util/privilege.h) before
 * anything else happens, and say so in *rootless.  -1: said why on stderr.
 */
int enter_rootless_namespace(const char *cmd, bool *rootless);

struct channel;
/* The coordinator's address and secret file: options, else environment, else defaults. */
int coord_resolve(const char *opt_addr, const char *opt_secret, char *addr, size_t addrlen,
		  char *secret, size_t secretlen);
/* Connect to the coordinator as a command (said on stderr on failure). */
int coord_command(const char *addr, const char *secret_path, struct channel *ch);
struct manifest;
struct image_key;
/* DIR/manifest, parsed and checked: its MAC under key (NULL: show --no-verify) first. */
int read_top_manifest(const char *dir, const struct image_key *key, struct manifest *m, char *err,
		      size_t errlen);
/* DIR/manifest.gGEN (0: DIR/manifest, the latest). */
int read_top_manifest_gen(const char *dir, uint64_t gen, const struct image_key *key,
			  struct manifest *m, char *err, size_t errlen);
/*
 * The key an image is checked with: FILE of --key (root may give another
 * user's), else the computation's secret at secret_path when not NULL, else
 * the user's own (made on first use).  Said on stderr on failure.
 */
int cli_image_key(const char *cmd, const char *key_file, const char *secret_path,
		  struct image_key *k);
/* restore --all-hosts DIR: the exit status for the command. */
int restore_all_hosts(const char *dir, uint64_t gen, const char *coord, const char *secret,
		      const char *host_map);
/*
 * restore --fetch-from HOST: the image DIR (absolute) as HOST has it, copied
 * here through ssh once its manifest (DIR/NAME) verifies under key; a top
 * manifest (no files) goes into a DIR that is here already (fetch_image.c).
 */
int fetch_image(const char *dir, const char *name, const char *host,
		const struct image_key *key, char *err, size_t errlen);
/*
 * --host-map slurm: "HOST=NODEADDR,..." for every member of m, placed on
 * the nodes of the Slurm job this runs in (said on stderr on failure).
 */
int slurm_host_map(const struct manifest *m, char **map);
/* Its RESULT: 0 or -errno, and its message. */
int coord_result(struct channel *ch, int timeout_ms, char *msg, size_t msglen);

/* run, attach and restore: --interval S (a checkpoint every S seconds into the
 * session's directory, the program left running), --keep N (the N latest kept:
 * DIR, DIR.1, ...), --incremental (each stores only the pages written since
 * the one before; a chain is cut every 8). */
struct periodic_opts {
	unsigned int interval_s, keep;
	bool incremental;	/* --incremental: those checkpoints store only what changed */
	bool compress;		/* --compress: their pages compressed */
};
struct session;
/* argv[*i] is one of them: 1 (its value taken, *i moved on); 0: not ours; -1: bad (said). */
int periodic_opt(const char *cmd, int argc, char **argv, int *i, struct periodic_opts *o);
/* Once the session exists: start the timer if asked.  0 or -errno (said). */
int periodic_apply(struct session *s, const struct periodic_opts *o, const char *cmd);

/* Usage text of a subcommand, shared by --help and errors. */
void usage_of(const char *cmd, bool to_stderr);
