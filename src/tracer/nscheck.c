/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tracer/nscheck.h"
#include "tracer/session.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static const struct {
	const char *file;	/* in /proc/PID/ns */
	const char *name;	/* for the user, with its article */
} ns_kinds[] = {
	{ "pid", "a pid" },
	{ "user", "a user" },
	{ "mnt", "a mount" },
	{ "uts", "a uts" },
	{ "ipc", "an ipc" },
	{ "net", "a network" },
};

/* 0 when it cannot be read (the process is gone, or the kernel has no such namespace). */
static ino_t ns_ino(pid_t pid, const char *file)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, file);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void comm_of(pid_t pid, char *out, size_t len)
{
	_cleanup_free_ char *comm = NULL;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_file_at(AT_FDCWD, path, &comm, NULL) < 0) {
		snprintf(out, len, "?");
		return;
	}
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(out, len, "%s", comm);
}

static int refuse(pid_t pid, const char *why, char *err, size_t errlen)
{
	char comm[32];

	comm_of(pid, comm, sizeof(comm));
	snprintf(err, errlen,
		 "pid %d (%s): %s (nested namespaces are not supported yet); the program keeps running; "
		 "start trace-ckpt inside those namespaces instead (unshare ... trace-ckpt run -- "
		 "CMD), where they are the computation's own",
		 pid, comm, why);
	return -EOPNOTSUPP;
}

int check_namespaces(const struct session *s, char *err, size_t errlen)
{
	ino_t root_ns[ARRAY_SIZE(ns_kinds)];

	for (size_t k = 0; k < ARRAY_SIZE(ns_kinds); k++)
		root_ns[k] = ns_ino(s->root, ns_kinds[k].file);
	for (size_t i = 0; i < s->nr_tracees; i++) {
		pid_t pid = s->tracees[i].tgid;
		char why[96];

		if (s->tracees[i].tid != pid)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(ns_kinds); k++) {
			ino_t ino = pid == s->root ? root_ns[k] : ns_ino(pid, ns_kinds[k].file);

			if (!ino || !root_ns[k] || ino == root_ns[k])
				continue;
			snprintf(why, sizeof(why), "in %s namespace of its own", ns_kinds[k].name);
			return refuse(pid, why, err, errlen);
		}
	}
	/* Then the parents: unshare(CLONE_NEWPID) makes the next child pid 1 of a new namespace. */
	for (size_t i = 0; i < s->nr_tracees; i++) {
		pid_t pid = s->tracees[i].tgid;
		ino_t children;

		if (s->tracees[i].tid != pid)
			continue;
		children = ns_ino(pid, "pid_for_children");
		if (children && root_ns[0] && children != root_ns[0])
			return refuse(pid, "made a pid namespace for its children", err, errlen);
	}
	return 0;
}
