/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "coord/channel.h"

/* Every host's part, as the coordinator knows them. */
int list_all_hosts(const char *coord, const char *secret)
{
	char addr[256], secret_path[PATH_MAX];
	const struct tlv_attr *a;
	struct channel ch;
	struct wire_in in;
	size_t rem;
	int r;

	if (coord_resolve(coord, secret, addr, sizeof(addr), secret_path, sizeof(secret_path)) < 0 ||
	    coord_command(addr, secret_path, &ch) < 0)
		return 1;
	r = channel_send(&ch, WIRE_STATUS, NULL);
	if (r == 0)
		r = channel_recv(&ch, &in, 10000);
	channel_close(&ch);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt list: the coordinator: %s\n", strerror(-r));
		return 1;
	}
	tlv_for_each(a, in.payload, in.len, rem) {
		const struct tlv_attr *tb[WIRE_A_MAX + 1];
		char *host = NULL, *maddr = NULL, *cmdline = NULL;
		uint32_t pid = 0;
		uint64_t gen = 0;

		if (a->type != WIRE_A_MEMBER || tlv_parse(tlv_data(a), tlv_len(a), tb, WIRE_A_MAX) < 0)
			continue;
		if (tb[WIRE_A_HOST])
			tlv_get_strdup(tb[WIRE_A_HOST], &host);
		if (tb[WIRE_A_ADDR])
			tlv_get_strdup(tb[WIRE_A_ADDR], &maddr);
		if (tb[WIRE_A_CMDLINE])
			tlv_get_strdup(tb[WIRE_A_CMDLINE], &cmdline);
		if (tb[WIRE_A_PID])
			tlv_get_u32(tb[WIRE_A_PID], &pid);
		if (tb[WIRE_A_GEN])
			tlv_get_u64(tb[WIRE_A_GEN], &gen);
		printf("%s %s %s (supervisor %u, generation %llu)\n", host ? host : "?",
		       maddr ? maddr : "?", cmdline ? cmdline : "", pid, (unsigned long long)gen);
		free(host);
		free(maddr);
		free(cmdline);
	}
	wire_in_free(&in);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	const char *coord = NULL, *secret = NULL;
	bool all_hosts = false;
	struct supervisor_info *v;
	size_t n;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all-hosts")) {
			all_hosts = true;
		} else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
		} else {
			usage_of("list", true);
			return 2;
		}
	}
	if (all_hosts)
		return list_all_hosts(coord, secret);
	r = client_list(&v, &n);
	if (r < 0) {
		fprintf(stderr, "trace-ckpt list: %s\n", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].unanswered) {
			printf("? (supervisor %d, not answering)\n", v[i].pid);
			continue;
		}
		printf("%d %s %s", v[i].nr_pids ? v[i].pids[0] : 0, v[i].cmdline ? v[i].cmdline : "",
		       v[i].dir ? v[i].dir : "-");
		printf(" (supervisor %d, %zu processes, generation %llu)\n", v[i].pid, v[i].nr_pids,
		       (unsigned long long)v[i].generation);
	}
	client_list_free(v, n);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	const char *coord = NULL, *secret = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--coordinator") && i + 1 < argc) {
			coord = argv[++i];
		} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
			secret = argv[++i];
		} else {
			usage_of("status", true);
			return 2;
		}
	}
	return list_all_hosts(coord, secret);
}
