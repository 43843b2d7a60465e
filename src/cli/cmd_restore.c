/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/imagekey.h"
#include "restorer/restore.h"
#include "restorer/tty.h"
#include "tracer/attach.h"
#include "tracer/control.h"
#include "tracer/coord_client.h"
#include "tracer/session.h"
#include "util/log.h"
#include "util/macro.h"

/*
 * Whoever can write an image decides what it runs: one made by someone else
 * is used only when the user says they trust its owner.
 */
static bool image_owner_refused(const char *dir)
{
	struct stat st;
	struct passwd *pw;

	if (stat(dir, &st) < 0) {
		fprintf(stderr, "trace-ckpt restore: %s: %m\n", dir);
		return true;
	}
	if (st.st_uid == geteuid() || st.st_uid == 0)
		return false;
	pw = getpwuid(st.st_uid);
	fprintf(stderr,
		"trace-ckpt restore: %s is owned by uid %u (%s), not by you: whoever wrote it "
		"chose what it runs; restore --trust-owner if you trust them\n",
		dir, st.st_uid, pw ? pw->pw_name : "?");
	return true;
}

/* What the command line asked of restore. */
struct restore_opts {
	const char *image;	/* the directory as given */
	const char *coord, *secret, *addr_map, *host_map, *key_file;
	const char *fetch_from;	/* --fetch-from HOST: where the image is when it is not here */
	bool all_hosts, detach, trust_owner;
	unsigned long long generation;
	unsigned int flags;	/* RESTORE_* */
	struct periodic_opts po;
};

/* 0, or -EINVAL once the usage or the fault is printed. */
static int parse_restore_opts(int argc, char **argv, struct restore_opts *o)
{
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = periodic_opt("restore", argc, argv, &i, &o->po)) != 0) {
			if (r < 0)
				return -EINVAL;
		} else if (!strcmp(argv[i], "--new-pidns")) {
			o->flags |= RESTORE_NEW_PIDNS;
		} else if (!strcmp(argv[i], "--generation") && i + 1 < argc) {
			char *end;

			o->generation = strtoull(argv[++i], &end, 10);
			if (*end || !o->generation) {
				fprintf(stderr, "trace-ckpt restore: --generation takes a number above 0\n");
				return -EINVAL;
			}
		} else if (!strcmp(argv[i], "--trust-owner")) {
			o->trust_owner = true;
		} else if (!strcmp(argv[i], "--ignore-changed-files")) {
			o->flags |= RESTORE_IGNORE_CHANGED_FILES;
		} else if (!strcmp(argv[i], "--lazy")) {
			o->flags |= RESTORE_LAZY;
		} else if (!strcmp(argv[i], "--detach")) {
			o->detach = true;
		} else if (!strcmp(argv[i], "--all-hosts")) {
			o->all_hosts = true;
		} else if (!strcmp(argv[i], "--host-map") && i + 1 < argc) {
			o->host_map = argv[++i];
		} else if (!strcmp(argv[i], "--fetch-from") && i + 1 < argc) {
			o->fetch_from = argv[++i];
		} else if (!strcmp(argv[i], "--addr-map") && i + 1 < argc) {
			o->addr_map = argv[++i];
		} else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			o->coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			o->secret = argv[++i];
		} else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			o->key_file = argv[++i];
		} else if (argv[i][0] != '-' && !o->image) {
			o->image = argv[i];
		} else {
			usage_of("restore", true);
			return -EINVAL;
		}
	}
	if (!o->image) {
		usage_of("restore", true);
		return -EINVAL;
	}
	return 0;
}

/* Options that do not go together: 0, or -EINVAL once the reason is printed. */
static int check_restore_opts(const struct restore_opts *o)
{
	const char *why = NULL;

	if (o->detach && (o->all_hosts || o->coord || o->po.interval_s))
		why = "--detach leaves nobody to take checkpoints or to answer a coordinator";
	else if (o->all_hosts && (o->po.interval_s || o->po.keep))
		why = "with --all-hosts, the coordinator takes the checkpoints: trace-ckpt coordinator --interval";
	else if (o->all_hosts && o->key_file)
		why = "--all-hosts: the computation's secret is the key (--secret)";
	else if (o->all_hosts && (o->flags & RESTORE_LAZY))
		why = "--lazy needs this restore to stay and serve the pages; with --all-hosts it is not done yet";
	else if (o->detach && (o->flags & RESTORE_LAZY))
		why = "--lazy needs this restore to stay and serve the pages";
	/* Not passed on to the hosts' parts yet: refused rather than dropped. */
	else if (o->all_hosts && (o->flags & RESTORE_IGNORE_CHANGED_FILES))
		why = "--ignore-changed-files does not go with --all-hosts yet (the changed files must be put back as they were)";
	else if (!o->all_hosts && o->generation)
		why = "--generation picks one of the generations a coordinator kept (--all-hosts)";
	else if (!o->all_hosts && o->host_map)
		why = "--host-map goes with --all-hosts (one host: --addr-map OLD=NEW)";
	if (!why)
		return 0;
	fprintf(stderr, "trace-ckpt restore: %s\n", why);
	return -EINVAL;
}

/*
 * The restored program supervised until it ends (or left alone with
 * --detach): the command's exit status.
 */
static int supervise_restored(struct session *s, struct terminal_lease *tl, bool detach)
{
	int r;

	terminal_lease_started(tl);
	if (detach) {
		/* The program goes on alone, as after trace-ckpt detach. */
		r = session_detach(s);
		terminal_lease_return(tl);
		session_done(s);
		return r < 0 ? 1 : 0;
	}
	r = control_listen(s);
	if (r < 0)
		log_warn("no control socket, dumps are not possible: %s", strerror(-r));
	r = session_loop(s);
	if (r < 0)
		log_err("supervisor: %s", strerror(-r));
	terminal_lease_return(tl);
	r = session_exit_code(s);
	session_done(s);
	return r;
}

/*
 * --fetch-from HOST: a checkpoint directory on a disk of HOST only (node-local)
 * is copied here first, checked with the key this restore uses.  0 when it
 * is here (or was fetched), else -errno once said.
 */
static int fetch_if_missing(const struct restore_opts *o)
{
	char path[PATH_MAX], err[2048] = "", coord_addr[256], secret_path[PATH_MAX];
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	char name[64] = "manifest", probe[PATH_MAX];
	struct stat st;
	int r;

	/* Several hosts: the top manifest this restore reads (DIR may hold this node's part). */
	if (o->all_hosts && o->generation)
		snprintf(name, sizeof(name), "manifest.g%llu", o->generation);
	if ((size_t)snprintf(probe, sizeof(probe), "%s/%s", o->image, name) >= sizeof(probe))
		return -ENAMETOOLONG;
	if (stat(o->all_hosts ? probe : o->image, &st) == 0 || errno != ENOENT)
		return 0;
	if (o->image[0] == '/') {
		r = snprintf(path, sizeof(path), "%s", o->image);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return neg_errno();
		r = snprintf(path, sizeof(path), "%s/%s", cwd, o->image);
	}
	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	/* The image of several hosts, and each host's part: the computation's secret. */
	if (o->coord || o->all_hosts) {
		if (coord_resolve(o->coord, o->secret, coord_addr, sizeof(coord_addr), secret_path,
				  sizeof(secret_path)) < 0)
			return -EINVAL;
		r = cli_image_key("restore", NULL, secret_path, &key);
	} else {
		r = cli_image_key("restore", o->key_file, NULL, &key);
	}
	if (r < 0)
		return r;
	fprintf(stderr, "trace-ckpt restore: %s%s%s is not here: fetching it from %s\n", path,
		o->all_hosts ? "/" : "", o->all_hosts ? name : "", o->fetch_from);
	r = fetch_image(path, name, o->fetch_from, &key, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "trace-ckpt restore: --fetch-from %s: %s\n", o->fetch_from, err);
	return r;
}

int cmd_restore(int argc, char **argv)
{
	char dir[PATH_MAX], err[2048];
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	char coord_addr[256], secret_path[PATH_MAX];
	struct restore_opts o = { 0 };
	struct timespec t0;
	uint64_t let_go;
	struct terminal_lease tl = { .fd = -1 };
	struct session s;
	bool rootless;
	int r;

	if (parse_restore_opts(argc, argv, &o) < 0)
		return 2;
	if (o.fetch_from && fetch_if_missing(&o) < 0)
		return 1;
	if (!realpath(o.image, dir)) {
		fprintf(stderr, "trace-ckpt restore: %s: %m\n", o.image);
		return 1;
	}
	if (!o.trust_owner && image_owner_refused(dir))
		return 1;
	if (check_restore_opts(&o) < 0)
		return 2;
	if (o.all_hosts)
		return restore_all_hosts(dir, o.generation, o.coord, o.secret, o.host_map);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A host's part of a checkpoint of several hosts is checked with the computation's secret. */
	if (o.coord && coord_resolve(o.coord, o.secret, coord_addr, sizeof(coord_addr), secret_path,
				     sizeof(secret_path)) < 0)
		return 1;
	if (cli_image_key("restore", o.key_file, o.coord ? secret_path : NULL, &key) < 0)
		return 1;
	if (enter_rootless_namespace("restore", &rootless) < 0)
		return 1;
	/* Pids are ours to choose only in a pid namespace our user namespace owns. */
	if (rootless)
		o.flags |= RESTORE_NEW_PIDNS;
	r = session_init(&s, dir, "");
	if (r < 0) {
		log_err("cannot start the supervisor: %s", strerror(-r));
		return 1;
	}
	s.addr_map = o.addr_map;
	if (o.coord && coord_join(&s, coord_addr, secret_path, true) < 0) {
		session_done(&s);
		return 1;
	}
	if (periodic_apply(&s, &o.po, "restore") < 0) {
		session_done(&s);
		return 2;
	}
	r = restore_computation(&s, dir, &key, o.flags, &tl, &let_go, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "trace-ckpt restore: %s\n", err);
		session_done(&s);
		return 1;
	}
	/* Up to when the program runs again, not what we do after meanwhile. */
	fprintf(stderr, "restore: ready in %.1f ms\n",
		(let_go - (t0.tv_sec * 1000000000ull + t0.tv_nsec)) / 1e6);
	return supervise_restored(&s, &tl, o.detach);
}
