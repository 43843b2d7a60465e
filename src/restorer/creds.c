/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "restorer/creds.h"

static const char *cap_label(int cap, char *buf, size_t len)
{
	char *name = cap_to_name(cap);

	snprintf(buf, len, "%s", name ? name : "?");
	cap_free(name);
	return buf;
}

static int lowest_bit(uint64_t m)
{
	return m ? __builtin_ctzll(m) : -1;
}

int creds_check_restorable(const struct computation *c, bool privileged, uid_t my_uid,
			   gid_t my_gid, uint64_t my_bset, char *err, size_t errlen)
{
	static const char *const which[] = { "uid", "effective uid", "saved uid", "fs uid" };
	static const char *const gwhich[] = { "gid", "effective gid", "saved gid", "fs gid" };
	char name[64];

	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];
		const struct creds_record *cr = &p->creds;
		uint64_t caps = cr->cap_prm | cr->cap_eff | cr->cap_amb;

		if (p->zombie || !cr->valid)
			continue;
		if (cr->cap_bnd & ~my_bset) {
			snprintf(err, errlen,
				 "pid %d: %s in the image's bounding set; this restore has it not",
				 p->pid, cap_label(lowest_bit(cr->cap_bnd & ~my_bset), name,
						   sizeof(name)));
			return -EPERM;
		}
		if (privileged)
			continue;
		for (int k = 0; k < 4; k++) {
			if (cr->uid[k] != my_uid) {
				snprintf(err, errlen, "pid %d: %s %u in the image; you are uid %u: "
					 "restore as that user, or as root", p->pid, which[k],
					 cr->uid[k], my_uid);
				return -EPERM;
			}
			if (cr->gid[k] != my_gid) {
				snprintf(err, errlen, "pid %d: %s %u in the image; you are gid %u: "
					 "restore as a user of that group, or as root", p->pid,
					 gwhich[k], cr->gid[k], my_gid);
				return -EPERM;
			}
		}
		if (caps) {
			snprintf(err, errlen,
				 "pid %d: capability %s in the image; without root a restore "
				 "cannot give it: restore as root", p->pid,
				 cap_label(lowest_bit(caps), name, sizeof(name)));
			return -EPERM;
		}
	}
	return 0;
}

int creds_single_user(const struct computation *c, uid_t *uid, gid_t *gid,
		      const uint32_t **groups, size_t *nr_groups)
{
	const struct creds_record *first = NULL;

	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct creds_record *cr = &c->procs[i].creds;

		if (c->procs[i].zombie)
			continue;
		if (!cr->valid || cr->cap_prm || cr->cap_eff || cr->cap_amb)
			return 0;
		for (int k = 0; k < 4; k++)
			if (cr->uid[k] == 0 || cr->uid[k] != cr->uid[0] || cr->gid[k] != cr->gid[0])
				return 0;
		if (!first)
			first = cr;
		else if (cr->uid[0] != first->uid[0] || cr->gid[0] != first->gid[0])
			return 0;
	}
	if (!first)
		return 0;
	*uid = first->uid[0];
	*gid = first->gid[0];
	*groups = (const uint32_t *)first->groups;
	*nr_groups = first->groups_len / sizeof(uint32_t);
	return 1;
}

int creds_become_user(uid_t uid, gid_t gid, const uint32_t *groups, size_t nr_groups,
		      char *err, size_t errlen)
{
	gid_t *g = calloc(nr_groups + 1, sizeof(*g));
	size_t n = 0;
	int r = 0;

	if (!g)
		return -ENOMEM;
	/* 65534 is what a user namespace showed for a group it did not map. */
	for (size_t i = 0; i < nr_groups; i++)
		if (groups[i] != 65534)
			g[n++] = groups[i];
	if (setgroups(n, g) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		r = -errno;
		snprintf(err, errlen, "becoming uid %u gid %u, the image's user: %m", uid, gid);
	}
	free(g);
	if (r < 0)
		return r;
	/* Ours too, or a core of this process could be read by the user. */
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

int creds_raise_stub_caps(void)
{
	static const cap_value_t need[] = { CAP_CHECKPOINT_RESTORE, CAP_SETUID, CAP_SETGID,
					    CAP_SETPCAP };
	cap_t caps;
	int r = 0;

	cap_value_t have[4];
	int n = 0;

	if (getuid() == 0)
		return 0;	/* uid 0 keeps every capability across exec */
	caps = cap_get_proc();
	if (!caps)
		return -errno;
	/* Those we hold: all in our user namespace, one with file capabilities. */
	for (size_t i = 0; i < 4; i++) {
		cap_flag_value_t v = CAP_CLEAR;

		cap_get_flag(caps, need[i], CAP_PERMITTED, &v);
		if (v == CAP_SET)
			have[n++] = need[i];
	}
	if (n && (cap_set_flag(caps, CAP_INHERITABLE, n, have, CAP_SET) < 0 ||
		  cap_set_proc(caps) < 0))
		r = -errno;
	cap_free(caps);
	for (int i = 0; r == 0 && i < n; i++)
		if (cap_set_ambient(have[i], CAP_SET) < 0)
			r = -errno;
	return r;
}

/* The bounding set of this thread, or (known_only) every capability the kernel knows. */
static uint64_t probe_bounding_set(bool known_only)
{
	uint64_t m = 0;

	for (int i = 0; i < 64; i++) {
		int on = prctl(PR_CAPBSET_READ, i);

		if (on < 0)
			break;
		if (on || known_only)
			m |= 1ull << i;
	}
	return m;
}

uint64_t creds_bounding_set(void)
{
	return probe_bounding_set(false);
}

uint64_t creds_restore_bounding_set(enum privilege_mode mode)
{
	/* A new user namespace starts with every capability the kernel knows. */
	return probe_bounding_set(mode == PRIV_ROOTLESS);
}
