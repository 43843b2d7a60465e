/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Collector of seccomp filters: each BPF program of the process, by
 * PTRACE_SECCOMP_GET_FILTER (index 0 is the newest), kept oldest first so
 * the restore loads them in the order they were loaded; and no_new_privs.
 * Strict mode cannot be set from outside: refused by name.
 */
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "tracer/collect.h"
#include "tracer/procfs.h"
#include "tracer/ssh.h"
#include "tracer/session.h"
#include "util/macro.h"
#include "util/privilege.h"

#define MAX_FILTERS 64

/*
 * Without root the kernel shows no filter; the one trace-ckpt installed
 * itself (run --coordinator's ssh trap) is known without looking.
 */
static int collect_own_trap(struct collect_ctx *cx, struct process_record *p, const char *status)
{
	uint64_t nr_filters = 0;
	uint8_t *prog = NULL, *blob;
	size_t len = 0;
	uint32_t n;
	int r;

	parse_status_u64(status, "Seccomp_filters", 10, &nr_filters);
	if (!cx->s || !cx->s->coord || nr_filters != 1)
		return collect_fail(cx, -EACCES,
				    "seccomp filter: reading it needs CAP_SYS_ADMIN on the host, "
				    "which trace-ckpt without root does not have");
	r = ssh_exec_trap_program(false, &prog, &len);
	if (r < 0)
		return collect_fail(cx, r, "seccomp filter: the ssh trap's program");
	blob = malloc(sizeof(n) + len);
	if (!blob) {
		free(prog);
		return -ENOMEM;
	}
	n = (uint32_t)(len / sizeof(struct sock_filter));
	memcpy(blob, &n, sizeof(n));
	memcpy(blob + sizeof(n), prog, len);
	free(prog);
	p->seccomp_filters = blob;
	p->seccomp_filters_len = (uint32_t)(sizeof(n) + len);
	return 0;
}

int collect_seccomp(struct collect_ctx *cx, struct process_record *p, const char *status)
{
	uint64_t mode = 0, nnp = 0;
	long lens[MAX_FILTERS];
	size_t nr = 0, total = 0, off = 0;
	uint8_t *blob;

	parse_status_u64(status, "NoNewPrivs", 10, &nnp);
	p->no_new_privs = (uint32_t)nnp;
	if (parse_status_u64(status, "Seccomp", 10, &mode) < 0 || mode == 0)
		return 0;
	if (mode == 1)
		return collect_refuse(cx, "a process in strict mode may call nothing but read, "
				      "write and exit, so none of its state can be read or rebuilt",
				      "seccomp strict mode");
	PRIV_SCOPE(CAP_SYS_ADMIN);
	for (; nr < MAX_FILTERS; nr++) {
		lens[nr] = ptrace(PTRACE_SECCOMP_GET_FILTER, cx->pid, (void *)nr, NULL);
		if (lens[nr] < 0 && errno == ENOENT)
			break;
		/* The kernel shows filters only to CAP_SYS_ADMIN of the host. */
		if (lens[nr] < 0 && errno == EACCES)
			return collect_own_trap(cx, p, status);
		if (lens[nr] <= 0)
			return collect_fail(cx, lens[nr] < 0 ? neg_errno() : -EINVAL,
					    "seccomp filter %zu", nr);
		total += sizeof(uint32_t) + (size_t)lens[nr] * sizeof(struct sock_filter);
	}
	if (nr == MAX_FILTERS)
		return collect_fail(cx, -EOPNOTSUPP, "more than %d seccomp filters", MAX_FILTERS);
	blob = malloc(total ? total : 1);
	if (!blob)
		return -ENOMEM;
	/* Oldest first: the order to load them in again. */
	for (size_t i = nr; i-- > 0;) {
		uint32_t n = (uint32_t)lens[i];

		memcpy(blob + off, &n, sizeof(n));
		off += sizeof(n);
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, cx->pid, (void *)i, blob + off) != lens[i]) {
			free(blob);
			return collect_fail(cx, errno ? neg_errno() : -EIO, "seccomp filter %zu", i);
		}
		off += (size_t)lens[i] * sizeof(struct sock_filter);
	}
	p->seccomp_filters = blob;
	p->seccomp_filters_len = (uint32_t)total;
	return 0;
}
