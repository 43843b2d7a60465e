/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder side of credentials: what a restore may give.  The stub sets them
 * (stub/plan.h, struct stub_creds); here is the policy, checked before
 * anything starts, so a restore never makes a process with credentials the
 * restoring user could not have given it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/model.h"
#include "util/privilege.h"

/*
 * Every process of c can be given its credentials by us: as root (privileged)
 * anything within our bounding set; otherwise only our own uid and gid in
 * all four places and no capabilities.  -EPERM with the first refusal in err
 * ("pid 12: uid 0 in the image; you are uid 1001").
 */
int creds_check_restorable(const struct computation *c, bool privileged, uid_t my_uid,
			   gid_t my_gid, uint64_t my_bset, char *err, size_t errlen);

/*
 * The one ordinary user every process of c is (same uids and gids, not 0,
 * no capabilities): 1 and *uid, *gid, *groups (c's, not a copy), *nr_groups;
 * 0 when c has root, capabilities, several users or no credentials.
 */
int creds_single_user(const struct computation *c, uid_t *uid, gid_t *gid,
		      const uint32_t **groups, size_t *nr_groups);

/*
 * Root restoring an ordinary user's image becomes that user first, for
 * everything the restore does on the image's behalf (opening its files).
 */
int creds_become_user(uid_t uid, gid_t gid, const uint32_t *groups, size_t nr_groups,
		      char *err, size_t errlen);

/* The capabilities the stub starts with when we are not uid 0 (ambient). */
int creds_raise_stub_caps(void);

/* Our bounding set, as a mask. */
uint64_t creds_bounding_set(void);

/*
 * The bounding set a restore in mode will have: ours as root or with file
 * capabilities; a rootless restore runs in a user namespace of its own,
 * whose bounding set is full whatever ours is.  For check, which stays out
 * of that namespace.
 */
uint64_t creds_restore_bounding_set(enum privilege_mode mode);
