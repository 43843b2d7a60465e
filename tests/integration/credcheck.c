/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * credcheck: its credentials must stay what they were at the start, across
 * any number of restores: uids, gids, groups, the capability sets, the
 * securebits, dumpable and the personality.  Each tick also tries to open a
 * file only root may read (-f PATH, default /etc/shadow) and prints what
 * happened, so a test can see a restore never gave it more rights.
 *
 *   credcheck [-n TARGET] [-i INTERVAL_MS] [-f PATH]
 *
 * Ticks read "tick N" as everywhere; before each, a line
 * "creds uid=U euid=E caps=C secret=ok|EACCES|..." says who it is now.
 */
#include <grp.h>
#include <sys/personality.h>

#include "tc_test.h"

struct creds {
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int ngroups;
	gid_t groups[64];
	char caps[256];		/* the Cap* lines of /proc/self/status */
	int securebits, dumpable, persona;
};

static void creds_get(struct creds *c)
{
	char status[8192], *p;
	size_t n = tc_read_file("/proc/self/status", status, sizeof(status));

	memset(c, 0, sizeof(*c));
	getresuid(&c->ruid, &c->euid, &c->suid);
	getresgid(&c->rgid, &c->egid, &c->sgid);
	c->ngroups = getgroups(64, c->groups);
	status[n < sizeof(status) ? n : sizeof(status) - 1] = '\0';
	p = strstr(status, "CapInh:");
	if (p) {
		char *amb = strstr(p, "CapAmb:");
		char *end = amb ? strchr(amb, '\n') : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		snprintf(c->caps, sizeof(c->caps), "%.*s", (int)len, p);
	}
	c->securebits = prctl(PR_GET_SECUREBITS);
	c->dumpable = prctl(PR_GET_DUMPABLE);
	c->persona = personality(0xffffffff);
}

static void creds_check(const struct creds *a, const struct creds *b)
{
	if (a->ruid != b->ruid || a->euid != b->euid || a->suid != b->suid)
		tc_bad("uids %u/%u/%u, were %u/%u/%u", b->ruid, b->euid, b->suid, a->ruid,
		       a->euid, a->suid);
	if (a->rgid != b->rgid || a->egid != b->egid || a->sgid != b->sgid)
		tc_bad("gids %u/%u/%u, were %u/%u/%u", b->rgid, b->egid, b->sgid, a->rgid,
		       a->egid, a->sgid);
	if (a->ngroups != b->ngroups ||
	    memcmp(a->groups, b->groups, sizeof(gid_t) * (a->ngroups > 0 ? a->ngroups : 0)))
		tc_bad("supplementary groups changed (%d, were %d)", b->ngroups, a->ngroups);
	if (strcmp(a->caps, b->caps))
		tc_bad("capabilities changed: [%s], were [%s]", b->caps, a->caps);
	if (a->securebits != b->securebits || a->dumpable != b->dumpable ||
	    a->persona != b->persona)
		tc_bad("securebits %d dumpable %d personality %#x, were %d %d %#x", b->securebits,
		       b->dumpable, b->persona, a->securebits, a->dumpable, a->persona);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	const char *secret = "/etc/shadow";
	struct creds start, now;
	int c;

	while ((c = getopt(argc, argv, "n:i:f:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 'f') {
			secret = optarg;
			continue;
		}
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS] [-f PATH]\n", argv[0]);
		return 2;
	}
	tc_proc_init("credcheck");
	/* Something to keep that is not the default. */
	if (personality(ADDR_NO_RANDOMIZE | personality(0xffffffff)) < 0)
		tc_bad("personality: %s", strerror(errno));
	creds_get(&start);
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		int fd = open(secret, O_RDONLY | O_CLOEXEC);
		int e = fd < 0 ? errno : 0;

		if (fd >= 0)
			close(fd);
		creds_get(&now);
		creds_check(&start, &now);
		tc_printf("creds uid=%u euid=%u caps=%s secret=%s\n", now.ruid, now.euid,
			  strstr(now.caps, "CapEff:\t0000000000000000") ? "none" : "some",
			  e == 0 ? "ok" : e == EACCES ? "EACCES" : strerror(e));
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	tc_pass();
}
