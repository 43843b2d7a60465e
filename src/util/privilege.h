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
#include <sys/capability.h>
#include <sys/types.h>

enum privilege_mode {
	PRIV_ROOT,
	PRIV_ROOTLESS,
	/*
	 * An ordinary user running a binary installed with file capabilities
	 * (README, "Without root"): the capabilities are in the permitted set
	 * only, raised into the effective set around the one call that needs
	 * each (priv_raise) and never while opening a path the user chose.
	 * No user namespace: it would cost the host's capabilities.
	 */
	PRIV_FILECAPS,
};

/* The capabilities the file-capability install is given (README). */
#define PRIV_FILECAPS_SET "cap_sys_admin,cap_checkpoint_restore,cap_net_admin,cap_net_raw,cap_dac_read_search"

/* The mode of this process: PRIV_ROOT only with full capabilities on the host. */
enum privilege_mode privilege_mode(void);
const char *privilege_mode_name(enum privilege_mode m);

/*
 * With file capabilities: lower every effective capability, keep them
 * permitted.  Called first thing in main; a no-op in the other modes.
 */
void priv_lower_all(void);

/*
 * Raise cap into the effective set if it is permitted and not effective yet;
 * returns a token for priv_lower (0: nothing was raised).  Root has them
 * all effective already, rootless none: both no-ops.
 */
int priv_raise(int cap);
void priv_lower(const int *token);
#define _cleanup_priv_ __attribute__((cleanup(priv_lower)))
/* cap effective until the end of the enclosing scope (the variable is only
 * read by its cleanup, which clang calls unused). */
#define PRIV_SCOPE(cap) \
	_cleanup_priv_ __attribute__((unused)) int PRIV_UNIQ(priv_, __LINE__) = priv_raise(cap)
#define PRIV_UNIQ(a, b) PRIV_UNIQ2(a, b)
#define PRIV_UNIQ2(a, b) a##b

/*
 * Raise cap into the ambient set too, for a program we exec that must have
 * it (nft, the stub).  Returns 0 or -errno; priv_ambient_clear undoes.
 */
int priv_ambient_raise(int cap);
void priv_ambient_clear(void);

/* cap is in our effective (else permitted) set. */
bool privilege_has_cap(int cap, bool effective);

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
