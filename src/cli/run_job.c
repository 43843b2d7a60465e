/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * run --resume, --checkpoint-on SIG and --requeue: one line in a batch
 * script makes a job that stops at its time limit with a checkpoint and goes
 * on from it when the scheduler starts it again, however often.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_job.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"

/*
 * Signals a scheduler or a user sends on purpose.  Not CHLD (the supervisor
 * lives by it), KILL and STOP (cannot be caught), the ones faults raise, or
 * CONT (Slurm sends it to every process of a job it ends).
 */
static int parse_signal(const char *v)
{
	static const int allowed[] = { SIGUSR1, SIGUSR2, SIGTERM, SIGHUP, SIGINT, SIGQUIT,
				       SIGXCPU, SIGALRM, SIGVTALRM, SIGPROF, SIGURG, SIGPWR,
				       SIGWINCH };
	char *end;
	long n;

	if (!strncasecmp(v, "SIG", 3))
		v += 3;
	n = strtol(v, &end, 10);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		const char *name = sigabbrev_np(allowed[i]);

		if ((end != v && !*end && n == allowed[i]) || (name && !strcasecmp(v, name)))
			return allowed[i];
	}
	return -EINVAL;
}

int job_opt(int argc, char **argv, int *i, struct job_opts *o)
{
	if (!strcmp(argv[*i], "--resume")) {
		o->resume = true;
		return 1;
	}
	if (!strcmp(argv[*i], "--requeue")) {
		o->requeue = true;
		return 1;
	}
	if (!strcmp(argv[*i], "--fetch-from")) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "trace-ckpt run: --fetch-from takes the host whose disk holds the checkpoint\n");
			return -1;
		}
		o->fetch_from = argv[++*i];
		return 1;
	}
	if (strcmp(argv[*i], "--checkpoint-on"))
		return 0;
	if (*i + 1 >= argc || (o->signo = parse_signal(argv[*i + 1])) < 0) {
		fprintf(stderr, "trace-ckpt run: --checkpoint-on takes a signal: USR1, USR2, TERM, "
			"HUP, INT, QUIT, XCPU, ALRM, ... (a name or its number)\n");
		return -1;
	}
	(*i)++;
	return 1;
}

int job_opts_check(const struct job_opts *o, bool dir_given, bool coord)
{
	const char *id = getenv("SLURM_JOB_ID");

	if (o->resume && !dir_given) {
		fprintf(stderr, "trace-ckpt run: --resume needs --dir DIR: where the job's checkpoint is\n");
		return -1;
	}
	if (o->fetch_from && !o->resume) {
		fprintf(stderr, "trace-ckpt run: --fetch-from goes with --resume: where the checkpoint to resume is\n");
		return -1;
	}
	if (o->requeue && !o->signo) {
		fprintf(stderr, "trace-ckpt run: --requeue goes with --checkpoint-on SIG: the job is "
			"requeued after the checkpoint at SIG\n");
		return -1;
	}
	if (o->requeue && (!id || !*id || strspn(id, "0123456789") != strlen(id))) {
		fprintf(stderr, "trace-ckpt run: --requeue: not in a Slurm batch job (SLURM_JOB_ID is %s)\n",
			id && *id ? "not a number" : "not set");
		return -1;
	}
	if (o->signo && coord) {
		fprintf(stderr, "trace-ckpt run: --checkpoint-on is for a job on one host; several "
			"hosts are checkpointed by their coordinator (dump --all-hosts)\n");
		return -1;
	}
	return 0;
}

/* The part of the checkpoint m (of several hosts) that this task of the job restores. */
static int find_part(const char *dir, const struct manifest *m, struct job_part *part)
{
	const char *id = getenv("SLURM_PROCID");
	char *end;
	unsigned long task;

	if (!m->nr_members) {
		fprintf(stderr, "trace-ckpt run: --resume --coordinator: %s is the checkpoint of one "
			"host, not of several\n", dir);
		return -1;
	}
	errno = 0;
	task = id && *id && getenv("SLURM_JOB_ID") ? strtoul(id, &end, 10) : ULONG_MAX;
	if (task == ULONG_MAX || *end || errno) {
		fprintf(stderr, "trace-ckpt run: --resume: %s is a checkpoint of several hosts, and "
			"this is no task of a Slurm job (SLURM_PROCID): start it with srun\n", dir);
		return -1;
	}
	for (size_t i = 0; i < m->nr_members; i++) {
		const struct manifest_member *mb = &m->members[i];

		if (mb->task != task + 1)
			continue;
		/* From the image: a name within DIR, an address that goes into a map. */
		if (!mb->subdir || !mb->subdir[0] || strchr(mb->subdir, '/') ||
		    !strcmp(mb->subdir, ".") || !strcmp(mb->subdir, "..") ||
		    !mb->addr || !*mb->addr || strpbrk(mb->addr, ",= ") ||
		    (size_t)snprintf(part->dir, sizeof(part->dir), "%s/%s", dir, mb->subdir) >=
			    sizeof(part->dir) ||
		    (size_t)snprintf(part->old_addr, sizeof(part->old_addr), "%s", mb->addr) >=
			    sizeof(part->old_addr)) {
			fprintf(stderr, "trace-ckpt run: --resume: %s: the part of task %lu is "
				"malformed\n", dir, task);
			return -1;
		}
		part->count = (uint32_t)m->nr_members;
		return 0;
	}
	fprintf(stderr, "trace-ckpt run: --resume: %s has no part for task %lu of the job (%zu "
		"parts, from tasks started by srun): run the job with as many tasks as before\n",
		dir, task, m->nr_members);
	return -1;
}

/* A node-local DIR (or part) that is not here, from host: 0 or -1 (said). */
static int fetch_missing(const char *dir, const char *host, const struct image_key *key)
{
	char path[PATH_MAX + 16], err[2048] = "";
	struct stat st;

	snprintf(path, sizeof(path), "%s/manifest", dir);
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return 0;
	fprintf(stderr, "trace-ckpt run: --resume: %s is not here: fetching it from %s\n", path, host);
	if (fetch_image(dir, "manifest", host, key, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace-ckpt run: --resume --fetch-from %s: %s\n", host, err);
		return -1;
	}
	return 0;
}

int job_find_checkpoint(const char *dir, const struct image_key *key, uint64_t *generation,
			struct job_part *part, const char *fetch_from)
{
	char path[PATH_MAX + 16], err[2048];
	struct manifest m = { 0 };
	struct stat st;
	int r;

	if (fetch_from && fetch_missing(dir, fetch_from, key) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/manifest", dir);
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	/* Whoever can write the image decides what it runs. */
	if (stat(dir, &st) == 0 && st.st_uid != geteuid() && st.st_uid != 0) {
		fprintf(stderr, "trace-ckpt run: --resume: %s is owned by uid %u, not by you: "
			"its checkpoint is not used (trace-ckpt restore --trust-owner if you trust them)\n",
			dir, st.st_uid);
		return -1;
	}
	r = read_top_manifest(dir, key, &m, err, sizeof(err));
	if (r < 0) {
		/*
		 * The writer renames a complete image into place, so a killed
		 * checkpoint never leaves this: the image was damaged or is not
		 * the user's.  Starting afresh would throw the job's progress
		 * away at the next checkpoint; the user decides.
		 */
		fprintf(stderr, "trace-ckpt run: --resume: %s; remove %s to start the program afresh\n",
			err, dir);
		return -1;
	}
	if (m.nr_members && !part) {
		fprintf(stderr, "trace-ckpt run: --resume: %s is a checkpoint of several hosts: "
			"trace-ckpt restore --all-hosts, or run --resume --coordinator under srun\n",
			dir);
		manifest_free(&m);
		return -1;
	}
	if (part) {
		r = find_part(dir, &m, part);
		/* The part was written on its host's own disk: from there. */
		if (r == 0 && fetch_from)
			r = fetch_missing(part->dir, part->old_addr, key);
		if (r < 0) {
			manifest_free(&m);
			return -1;
		}
	}
	*generation = m.generation;
	manifest_free(&m);
	return 1;
}

int job_requeue(void)
{
	const char *id = getenv("SLURM_JOB_ID");
	char *argv[] = { "scontrol", "requeue", (char *)id, NULL };
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		/* The supervisor's blocked signals are not scontrol's. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "trace-ckpt run: --requeue: cannot run scontrol: %m\n");
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "trace-ckpt run: scontrol requeue %s failed (status %d)\n", id,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -EIO;
	}
	return 0;
}
