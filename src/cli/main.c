/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "util/log.h"
#include "util/privilege.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *summary;
} commands[] = {
	{ "run", cmd_run, "run [--dir DIR [--resume [--fetch-from HOST]]] [--checkpoint-on SIG [--requeue]] [--interval S [--keep N]] [--incremental] [--compress] [--coordinator H:P [--secret F]] -- CMD [ARGS...]",
	  "run CMD supervised, in the foreground; exits with CMD's status" },
	{ "dump", cmd_dump, "dump [PID] [-D DIR] [--leave-running | --kill] [--incremental] [--compress] [--all-hosts --coordinator H:P]",
	  "checkpoint the computation PID belongs to (default: the only one)" },
	{ "restore", cmd_restore,
	  "restore [--new-pidns] [--trust-owner] [--ignore-changed-files] [--lazy] [--detach | --interval S [--keep N] [--incremental] [--compress]] [--fetch-from HOST] [--all-hosts [--generation N] [--host-map OLD=NEW,... | slurm]] [--coordinator H:P [--secret F]] [--key FILE] DIR",
	  "restart the computation saved in DIR and supervise it in the foreground" },
	{ "attach", cmd_attach, "attach [--dir DIR] [--interval S [--keep N]] [--incremental] [--compress] PID",
	  "supervise the running process PID and its descendants, in the foreground" },
	{ "detach", cmd_detach, "detach [PID]",
	  "stop supervising a computation and leave it running untouched" },
	{ "check", cmd_check, "check [[--key F] [--new-pidns] DIR | PID]",
	  "say which mode this is and which kernel features trace-ckpt needs here; with DIR, "
	  "whether that image would restore here and, if not, why; with PID, whether a dump of "
	  "its computation would work, how big and how long" },
	{ "list", cmd_list, "list [--all-hosts --coordinator H:P]",
	  "list the supervised computations of this user (or every host's part)" },
	{ "status", cmd_status, "status [--coordinator H:P] [--secret F]",
	  "every host's part of a computation on several hosts, from its coordinator" },
	{ "coordinator", cmd_coordinator,
	  "coordinator [--listen H:P] [--secret F] [--interval S -D DIR [--keep N]] [--freeze-timeout MS] [--dump-timeout MS]",
	  "the rendezvous of the supervisors of a computation on several hosts" },
	{ "show", cmd_show, "show [--key FILE | --no-verify] DIR [--json]", "describe the image in DIR" },
};

void usage_of(const char *cmd, bool to_stderr)
{
	FILE *f = to_stderr ? stderr : stdout;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			fprintf(f, "usage: trace-ckpt %s\n  %s\n", commands[i].usage,
				commands[i].summary);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: trace-ckpt [-v] [--version] COMMAND [ARGS...]\n\n"
		   "Checkpoint and restart unmodified Linux programs from the outside.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-50s %s\n", commands[i].usage, commands[i].summary);
	fprintf(f, "\nEach command takes --help. See trace-ckpt(1).\n");
}

int main(int argc, char **argv)
{
	const char *dbg = getenv("TRACE_CKPT_DEBUG");
	int i = 1;

	/* Installed with file capabilities: none effective unless raised for a call. */
	priv_lower_all();
	if (dbg && *dbg)
		log_set_level(LOG_DEBUG);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_set_level(log_get_level() < LOG_INFO ? LOG_INFO : LOG_DEBUG);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("trace-ckpt %s\n", TC_VERSION);
			return 0;
		} else {
			fprintf(stderr, "trace-ckpt: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name))
			continue;
		for (int j = i + 1; j < argc && strcmp(argv[j], "--"); j++)
			if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
				usage_of(commands[k].name, false);
				return 0;
			}
		return commands[k].fn(argc - i, argv + i);
	}
	fprintf(stderr, "trace-ckpt: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
