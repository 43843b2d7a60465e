/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which privilege model trace-ckpt runs under, and the user namespace that
 * gives an ordinary user what checkpointing needs.
 *
 * - root: euid 0 with CAP_SYS_ADMIN and CAP_SYS_PTRACE in the initial user
 *   namespace.  Everything, TCP_REPAIR and the network lock included.
 * - rootless: anyone else.  `run` and `restore` enter a user namespace that
 *   maps the user's own uid and gid to themselves; there the supervisor
 *   holds CAP_CHECKPOINT_RESTORE (clone3 set_tid, PR_SET_MM_MAP exe_fd) over
 *   the pid and mount namespaces it makes.  What needs the host's network
 *   namespace (TCP_REPAIR, nftables) is refused by name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum privilege_mode {
	PRIV_ROOT,
	PRIV_ROOTLESS,
};

/* The mode of this process: PRIV_ROOT only with full capabilities on the host. */
enum privilege_mode privilege_mode(void);
const char *privilege_mode_name(enum privilege_mode m);

/* This process is in the initial user namespace (its uid_map maps everything). */
bool privilege_in_init_userns(void);

/*
 * Enter a new user namespace mapping our uid and gid to themselves
 * (setgroups denied, as the kernel requires of an unprivileged gid_map).
 * Must be called while single-threaded.  On failure, err says why in words,
 * naming the sysctl when user namespaces are switched off.
 */
int userns_enter_own(char *err, size_t errlen);

/*
 * Unprivileged user namespaces are usable here: 1 yes, 0 no (why in err),
 * without entering one (a child tries).
 */
int userns_available(char *err, size_t errlen);

/*
 * The directory for control sockets, logs and secrets: /run/trace-ckpt for
 * root; for anyone else $XDG_RUNTIME_DIR/trace-ckpt when XDG_RUNTIME_DIR is
 * theirs, else /tmp/trace-ckpt-UID.  With create, it is made 0700 and
 * checked: a directory (not a link), owned by us, mode 0700; otherwise
 * -EPERM, with the reason in err.
 */
int runtime_dir(char *buf, size_t len, bool create, char *err, size_t errlen);
