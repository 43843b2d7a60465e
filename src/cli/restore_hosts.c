/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * restore --all-hosts: every host's part of a multi-host image restored on
 * its host (this one directly, the others through ssh), each joining the
 * coordinator, and all released at once when every part is built.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "coord/channel.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "proto/model.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/shellword.h"

#define BARRIER_WAIT_MS 300000

int read_top_manifest(const char *dir, const struct image_key *key, struct manifest *m, char *err,
		      size_t errlen)
{
	return read_top_manifest_gen(dir, 0, key, m, err, errlen);
}

int read_top_manifest_gen(const char *dir, uint64_t gen, const struct image_key *key,
			  struct manifest *m, char *err, size_t errlen)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[64];
	int r;

	if (dirfd < 0) {
		r = neg_errno();
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	if (gen)
		snprintf(name, sizeof(name), "manifest.g%llu", (unsigned long long)gen);
	else
		snprintf(name, sizeof(name), "manifest");
	return manifest_read_at(dirfd, dir, name, key, m, err, errlen);
}

/*
 * One host's part: restore PART --coordinator ADDR --secret PATH, here or
 * through ssh.  ssh joins its remote words into one line for the remote
 * shell, so each is quoted as one word of a POSIX shell; the host is a
 * checked host name after "--", never an option.
 */
static pid_t start_part(const char *self, const struct manifest_member *mb, const char *dir,
			const char *addr, const char *secret, const char *target,
			const char *addr_map, bool local)
{
	_cleanup_free_ char *q_self = NULL, *q_addr = NULL, *q_secret = NULL, *q_map = NULL,
			    *q_part = NULL, *q_from = NULL;
	/*
	 * A part going to another host is fetched from its old one if that
	 * host's directory was not shared (the restore there looks first).
	 */
	const char *from = mb->addr && strcmp(target, mb->addr) ? mb->addr : NULL;
	char part[PATH_MAX], *script = NULL;
	pid_t pid;

	if ((size_t)snprintf(part, sizeof(part), "%s/%s", dir, mb->subdir) >= sizeof(part)) {
		fprintf(stderr, "trace-ckpt restore: %s/%s: name too long\n", dir, mb->subdir);
		return -1;
	}
	if (!local) {
		q_self = shell_quote(self);
		q_addr = shell_quote(addr);
		q_secret = shell_quote(secret);
		q_map = addr_map ? shell_quote(addr_map) : NULL;
		q_part = shell_quote(part);
		q_from = from ? shell_quote(from) : NULL;
		if (!q_self || !q_addr || !q_secret || !q_part || (addr_map && !q_map) ||
		    (from && !q_from) ||
		    asprintf(&script, "t=%s; [ -x \"$t\" ] || t=trace-ckpt; exec \"$t\" restore "
				      "--coordinator %s --secret %s %s%s %s%s %s",
			     q_self, q_addr, q_secret, q_map ? "--addr-map " : "",
			     q_map ? q_map : "", q_from ? "--fetch-from " : "",
			     q_from ? q_from : "", q_part) < 0) {
			fprintf(stderr, "trace-ckpt restore: out of memory\n");
			return -1;
		}
	}
	pid = fork();
	if (pid != 0) {
		free(script);
		return pid;
	}
	if (local) {
		execl(self, self, "restore", "--coordinator", addr, "--secret", secret, part,
		      (char *)NULL);
	} else {
		/* The path of the secret, not the secret: the remote side has its own copy there. */
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, 0);
		execlp("ssh", "ssh", "-o", "BatchMode=yes", "--", target, script, (char *)NULL);
	}
	fprintf(stderr, "trace-ckpt restore: starting the part of %s: %m\n", mb->host);
	_exit(127);
}

/*
 * The coordinator's answer to the barrier; a part that ends before (it could
 * not be built) calls the whole restore off at once.
 */
static int await_release(struct channel *ch, pid_t *pids, const struct manifest *m, char *msg,
			 size_t msglen, int *rc)
{
	for (int waited = 0; waited < BARRIER_WAIT_MS + 10000; waited += 200) {
		struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
		int status;

		if (poll(&pfd, 1, 200) > 0)
			return coord_result(ch, 10000, msg, msglen);
		for (size_t i = 0; i < m->nr_members; i++) {
			if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			*rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			snprintf(msg, msglen, "the part of host %s ended before it was built (status %d)",
				 m->members[i].host, *rc);
			if (!*rc)
				*rc = 1;
			return -ECHILD;
		}
	}
	snprintf(msg, msglen, "no answer from the coordinator");
	return -ETIMEDOUT;
}

/*
 * Where each member goes: --host-map OLD=NEW,... with OLD a host name or
 * address of the image.  targets[i] is the address to restore member i on;
 * *addr_map gets "OLDADDR=NEWADDR,..." for every member that moves.
 */
static int map_hosts(const struct manifest *m, const char *host_map, char **targets,
		     char **addr_map)
{
	_cleanup_free_ char *copy = host_map ? strdup(host_map) : NULL;
	size_t cap = 1, len = 0;
	char *save = NULL;

	*addr_map = NULL;
	for (size_t i = 0; i < m->nr_members; i++)
		targets[i] = m->members[i].addr;
	if (!host_map)
		return 0;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		bool found = false;

		if (!eq) {
			fprintf(stderr, "trace-ckpt restore: --host-map %s: OLD=NEW[,OLD=NEW...]\n", tok);
			return -EINVAL;
		}
		*eq = '\0';
		/* NEW goes to ssh and, as an address, to every restoring host. */
		if (!is_host_name(eq + 1)) {
			fprintf(stderr, "trace-ckpt restore: --host-map: host '%s': not a host name\n",
				eq + 1);
			return -EINVAL;
		}
		for (size_t i = 0; i < m->nr_members; i++) {
			const struct manifest_member *mb = &m->members[i];
			char *nm;

			if (strcmp(tok, mb->host) && (!mb->addr || strcmp(tok, mb->addr)))
				continue;
			found = true;
			targets[i] = strdup(eq + 1);
			cap += strlen(mb->addr ? mb->addr : "") + strlen(eq + 1) + 2;
			nm = realloc(*addr_map, cap);
			if (!targets[i] || !nm)
				return -ENOMEM;
			*addr_map = nm;
			len += (size_t)sprintf(*addr_map + len, "%s%s=%s", len ? "," : "",
					       mb->addr ? mb->addr : "", eq + 1);
		}
		if (!found) {
			fprintf(stderr, "trace-ckpt restore: --host-map: no host %s in the image\n", tok);
			return -ENOENT;
		}
	}
	return 0;
}

static void free_targets(const struct manifest *m, char **targets)
{
	for (size_t i = 0; targets && i < m->nr_members; i++)
		if (targets[i] != m->members[i].addr)
			free(targets[i]);
}

/* Every member must be reachable by a host name before any part is started. */
static int check_targets(const struct manifest *m, char **targets, bool local_ok, const char *here)
{
	for (size_t i = 0; i < m->nr_members; i++) {
		if (local_ok && !strcmp(m->members[i].host, here))
			continue;
		if (!targets[i] || !is_host_name(targets[i])) {
			fprintf(stderr, "trace-ckpt restore: host %s: %s%s%s\n", m->members[i].host,
				targets[i] ? "'" : "no address in the manifest",
				targets[i] ? targets[i] : "",
				targets[i] ? "': not a host name" : " (--host-map it to one)");
			return -EINVAL;
		}
	}
	return 0;
}

int restore_all_hosts(const char *dir, uint64_t gen, const char *coord, const char *secret,
		      const char *host_map)
{
	_cleanup_free_ char *addr_map = NULL, *slurm_map = NULL;
	_cleanup_free_ char **targets = NULL;
	char addr[256], secret_path[PATH_MAX], self[PATH_MAX], host[256] = "", err[1024] = "",
	     msg[1024];
	_cleanup_free_ pid_t *pids = NULL;
	struct manifest m;
	struct channel ch;
	struct tlv_buf b = { 0 };
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	int r, status, rc = 0;

	/* The computation's secret authenticates the manifest: before it is read. */
	if (coord_resolve(coord, secret, addr, sizeof(addr), secret_path, sizeof(secret_path)) < 0 ||
	    !realpath("/proc/self/exe", self))
		return 1;
	if (image_key_load(secret_path, false, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace-ckpt restore: the computation's secret: %s\n", err);
		return 1;
	}
	if (read_top_manifest_gen(dir, gen, &key, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace-ckpt restore: %s\n", err);
		return 1;
	}
	if (!(m.flags & TC_COMP_F_MULTIHOST) || !m.nr_members) {
		fprintf(stderr, "trace-ckpt restore: %s is the image of one host: restore it without --all-hosts\n",
			dir);
		manifest_free(&m);
		return 1;
	}
	gethostname(host, sizeof(host) - 1);
	/* Requeued, the job may run on other nodes: Slurm says which. */
	if (host_map && !strcmp(host_map, "slurm")) {
		if (slurm_host_map(&m, &slurm_map) < 0) {
			manifest_free(&m);
			return 1;
		}
		host_map = slurm_map;
	}
	pids = calloc(m.nr_members, sizeof(*pids));
	targets = calloc(m.nr_members, sizeof(*targets));
	if (!pids || !targets || map_hosts(&m, host_map, targets, &addr_map) < 0 ||
	    check_targets(&m, targets, !addr_map, host) < 0 ||
	    coord_command(addr, secret_path, &ch) < 0) {
		free_targets(&m, targets);
		manifest_free(&m);
		return 1;
	}
	for (size_t i = 0; i < m.nr_members; i++) {
		const struct manifest_member *mb = &m.members[i];

		/* Moving: every part through ssh to its new address, this host's too. */
		pids[i] = start_part(self, mb, dir, addr, secret_path, targets[i], addr_map,
				     !addr_map && !strcmp(mb->host, host));
		if (pids[i] < 0)
			rc = 1;
	}
	tlv_put_u32(&b, WIRE_A_COUNT, (uint32_t)m.nr_members);
	tlv_put_u32(&b, WIRE_A_TIMEOUT_MS, BARRIER_WAIT_MS);
	r = rc ? -ECHILD : channel_send(&ch, WIRE_BARRIER, &b);
	tlv_buf_free(&b);
	if (r == 0)
		r = await_release(&ch, pids, &m, msg, sizeof(msg), &rc);
	else
		snprintf(msg, sizeof(msg), "%s", strerror(-r));
	channel_close(&ch);
	fprintf(stderr, "restore: %s%s\n", r < 0 ? "failed: " : "", msg);
	/* Called off: every part that was built is told by the coordinator and ends. */
	for (size_t i = 0; i < m.nr_members; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &status, 0) < 0)
			continue;
		if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status)))
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	free_targets(&m, targets);
	manifest_free(&m);
	return r < 0 && !rc ? 1 : rc;
}
