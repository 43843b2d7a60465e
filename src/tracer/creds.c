/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of credentials: uids, gids, supplementary groups and the five
 * capability sets from /proc/PID/status; securebits and the dumpable flag,
 * which only the process can ask for, by remote prctl.  The kernel keeps
 * credentials per thread, the restore per process: a thread whose
 * credentials differ from its leader's is refused by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/privilege.h"
#include "tracer/session.h"

static const char *status_line(const char *buf, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return p + klen + 1;
	return NULL;
}

static int parse_four(const char *buf, const char *key, uint32_t out[4])
{
	const char *p = status_line(buf, key);

	if (!p)
		return -ENOENT;
	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v > UINT32_MAX)
			return -EINVAL;
		out[i] = (uint32_t)v;
		p = end;
	}
	return 0;
}

static int parse_groups(const char *buf, struct creds_record *c)
{
	const char *p = status_line(buf, "Groups");
	uint32_t *g = NULL;
	size_t n = 0, cap = 0;

	if (!p)
		return -ENOENT;
	while (*p && *p != '\n') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p) {
			if (*p != ' ' && *p != '\t') {
				free(g);
				return -EINVAL;
			}
			p++;
			continue;
		}
		if (n == cap) {
			uint32_t *ng = realloc(g, (cap = cap ? cap * 2 : 16) * sizeof(*g));

			if (!ng) {
				free(g);
				return -ENOMEM;
			}
			g = ng;
		}
		g[n++] = (uint32_t)v;
		p = end;
	}
	free(c->groups);
	c->groups = (uint8_t *)g;
	c->groups_len = (uint32_t)(n * sizeof(*g));
	return 0;
}

int parse_status_creds(const char *status, struct creds_record *c)
{
	static const struct {
		const char *key;
		size_t off;
	} caps[] = {
		{ "CapInh", offsetof(struct creds_record, cap_inh) },
		{ "CapPrm", offsetof(struct creds_record, cap_prm) },
		{ "CapEff", offsetof(struct creds_record, cap_eff) },
		{ "CapBnd", offsetof(struct creds_record, cap_bnd) },
		{ "CapAmb", offsetof(struct creds_record, cap_amb) },
	};
	int r;

	r = parse_four(status, "Uid", c->uid);
	if (r == 0)
		r = parse_four(status, "Gid", c->gid);
	if (r == 0)
		r = parse_groups(status, c);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(caps); i++)
		r = parse_status_u64(status, caps[i].key, 16,
				     (uint64_t *)((uint8_t *)c + caps[i].off));
	if (r == 0)
		c->valid = 1;
	return r;
}

bool creds_same(const struct creds_record *a, const struct creds_record *b)
{
	return !memcmp(a->uid, b->uid, sizeof(a->uid)) && !memcmp(a->gid, b->gid, sizeof(a->gid)) &&
	       a->groups_len == b->groups_len &&
	       (!a->groups_len || !memcmp(a->groups, b->groups, a->groups_len)) &&
	       a->cap_inh == b->cap_inh && a->cap_prm == b->cap_prm && a->cap_eff == b->cap_eff &&
	       a->cap_bnd == b->cap_bnd && a->cap_amb == b->cap_amb;
}

/* A thread that changed its own credentials by a raw system call. */
int collect_thread_creds(struct collect_ctx *cx, const struct process_record *p, pid_t tid,
			 const char *status)
{
	struct creds_record t = { 0 };
	bool same = parse_status_creds(status, &t) == 0 && creds_same(&t, &p->creds);

	free(t.groups);
	if (!same)
		return collect_fail(cx, -EOPNOTSUPP,
				    "thread %d: credentials other than its process's "
				    "(changed by a raw system call)", tid);
	return 0;
}

int collect_creds(struct collect_ctx *cx, struct process_record *p, const char *status)
{
	long ret;
	int r;

	r = parse_status_creds(status, &p->creds);
	if (r < 0)
		return collect_fail(cx, r, "credentials in /proc/%d/status", cx->pid);
	/* Capabilities of the host act for the invoking user's processes alone. */
	if (cx->s && cx->s->priv_mode == PRIV_FILECAPS &&
	    p->creds.uid[TC_CRED_REAL] != getuid())
		return collect_fail(cx, -EPERM, "belongs to uid %u; you are uid %u",
				    p->creds.uid[TC_CRED_REAL], getuid());
	r = collect_remote(cx, cx->pid, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, &ret);
	if (r == 0 && ret < 0)
		r = (int)ret;
	if (r < 0)
		return collect_fail(cx, r, "securebits");
	p->creds.securebits = (uint32_t)ret;
	r = collect_remote(cx, cx->pid, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, &ret);
	if (r == 0 && ret < 0)
		r = (int)ret;
	if (r < 0)
		return collect_fail(cx, r, "dumpable flag");
	p->creds.dumpable = (uint32_t)ret;
	return 0;
}
