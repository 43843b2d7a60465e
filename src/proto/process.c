/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

static const struct field proc_fields[] = {
	F_U32(PROC_A_PID, struct process_record, pid),
	F_U32(PROC_A_PPID, struct process_record, ppid),
	F_U32(PROC_A_PGID, struct process_record, pgid),
	F_U32(PROC_A_SID, struct process_record, sid),
	F_BYTES(PROC_A_COMM, struct process_record, comm),
	F_STR(PROC_A_CWD, struct process_record, cwd),
	F_U32(PROC_A_UMASK, struct process_record, umask),
	F_U64(PROC_A_PERSONALITY, struct process_record, personality),
	F_U32(PROC_A_ZOMBIE, struct process_record, zombie),
	F_U32(PROC_A_EXIT_STATUS, struct process_record, exit_status),
	F_U32(PROC_A_SUBREAPER, struct process_record, child_subreaper),
	F_BLOB(PROC_A_POSIX_TIMERS, struct process_record, posix_timers, posix_timers_len),
	F_U64(PROC_A_CTTY_DEV, struct process_record, ctty_dev),
	F_U32(PROC_A_NO_NEW_PRIVS, struct process_record, no_new_privs),
	F_BLOB(PROC_A_SECCOMP, struct process_record, seccomp_filters, seccomp_filters_len),
	F_U64(PROC_A_ZSTD_PAGES_OFF, struct process_record, zstd_pages_off),
	F_U64(PROC_A_ZSTD_PAGES_END, struct process_record, zstd_pages_end),
};

static bool sigaction_is_default(const struct sigaction_record *s)
{
	return !s->handler && !s->flags && !s->restorer && !s->mask;
}

static bool itimer_is_disarmed(const struct itimer_record *it)
{
	return !it->interval_us && !it->value_us;
}

int process_record_encode(struct tlv_buf *b, const struct process_record *p)
{
	int r;

	r = fields_encode(b, proc_fields, ARRAY_SIZE(proc_fields), p);
	if (r < 0)
		return r;
	/* Every limit, even zero ones: "absent" must not read as "unlimited" to a human. */
	for (unsigned int i = 0; i < TC_NR_RLIMITS; i++)
		rlimit_record_encode(b, PROC_A_RLIMIT, i, &p->rlimits[i]);
	for (int sig = 1; sig <= TC_NSIG; sig++)
		if (!sigaction_is_default(&p->sigactions[sig - 1]))
			sigaction_record_encode(b, PROC_A_SIGACTION, sig, &p->sigactions[sig - 1]);
	for (unsigned int i = 0; i < ARRAY_SIZE(p->itimers); i++)
		if (!itimer_is_disarmed(&p->itimers[i]))
			itimer_record_encode(b, PROC_A_ITIMER, i, &p->itimers[i]);
	for (uint32_t i = 0; p->shared_pending && i < p->nr_shared_pending; i++)
		tlv_put(b, PROC_A_SHARED_PENDING, p->shared_pending[i], TC_SIGINFO_SIZE);
	mm_record_encode(b, PROC_A_MM, &p->mm);
	creds_record_encode(b, PROC_A_CREDS, &p->creds);
	for (size_t i = 0; i < p->nr_threads; i++)
		thread_record_encode(b, PROC_A_THREAD, &p->threads[i]);
	for (size_t i = 0; i < p->nr_vmas; i++)
		vma_record_encode(b, PROC_A_VMA, &p->vmas[i]);
	for (size_t i = 0; i < p->nr_fds; i++)
		fd_record_encode(b, PROC_A_FD, &p->fds[i]);
	for (size_t i = 0; i < p->nr_base_files; i++)
		tlv_put_str(b, PROC_A_BASE_FILE, p->base_files[i].name);
	for (uint32_t i = 0; i < p->nr_base_runs; i++)
		tlv_put(b, PROC_A_BASE_RUN, &p->base_runs[i], sizeof(p->base_runs[i]));
	return b->err;
}

/* Arrays are allocated zeroed and counted at once so a partial decode frees cleanly. */
static int alloc_items(const void *buf, size_t len, uint32_t type, size_t size,
		       void **arr, size_t *nr)
{
	size_t n = tlv_count(buf, len, type);

	*arr = NULL;
	*nr = 0;
	if (!n)
		return 0;
	*arr = calloc(n, size);
	if (!*arr)
		return -ENOMEM;
	*nr = n;
	return 0;
}

static int decode_one(const struct tlv_attr *a, struct process_record *p,
		      size_t *nt, size_t *nv, size_t *nf, size_t *nb)
{
	switch (a->type) {
	case PROC_A_RLIMIT: {
		struct rlimit_record rl;
		unsigned int res;
		int r = rlimit_record_decode(a, &res, &rl);

		if (r == 0)
			p->rlimits[res] = rl;
		return r;
	}
	case PROC_A_SIGACTION: {
		struct sigaction_record s;
		int sig, r = sigaction_record_decode(a, &sig, &s);

		if (r == 0)
			p->sigactions[sig - 1] = s;
		return r;
	}
	case PROC_A_ITIMER: {
		struct itimer_record it;
		unsigned int which;
		int r = itimer_record_decode(a, &which, &it);

		if (r == 0)
			p->itimers[which] = it;
		return r;
	}
	case PROC_A_THREAD:
		return thread_record_decode(a, &p->threads[(*nt)++]);
	case PROC_A_VMA:
		return vma_record_decode(a, &p->vmas[(*nv)++]);
	case PROC_A_FD:
		return fd_record_decode(a, &p->fds[(*nf)++]);
	case PROC_A_BASE_FILE:
		return tlv_get_strdup(a, &p->base_files[(*nb)++].name);
	}
	return 0;
}

static int decode(const void *buf, size_t len, struct process_record *p)
{
	const struct tlv_attr *tb[PROC_A_MAX + 1], *a;
	size_t rem, nt = 0, nv = 0, nf = 0, nb = 0;
	void *arr;
	int r;

	r = tlv_parse(buf, len, tb, PROC_A_MAX);
	if (r < 0)
		return r;
	r = fields_decode(tb, proc_fields, ARRAY_SIZE(proc_fields), p);
	if (r < 0)
		return r;
	if (tb[PROC_A_MM]) {
		r = mm_record_decode(tb[PROC_A_MM], &p->mm);
		if (r < 0)
			return r;
	}
	if (tb[PROC_A_CREDS]) {
		r = creds_record_decode(tb[PROC_A_CREDS], &p->creds);
		if (r < 0)
			return r;
	}
	r = tlv_collect_fixed(buf, len, PROC_A_SHARED_PENDING, TC_SIGINFO_SIZE, &arr,
			      &p->nr_shared_pending);
	if (r < 0)
		return r;
	p->shared_pending = arr;
	r = alloc_items(buf, len, PROC_A_THREAD, sizeof(*p->threads), &arr, &p->nr_threads);
	if (r < 0)
		return r;
	p->threads = arr;
	r = alloc_items(buf, len, PROC_A_VMA, sizeof(*p->vmas), &arr, &p->nr_vmas);
	if (r < 0)
		return r;
	p->vmas = arr;
	r = alloc_items(buf, len, PROC_A_FD, sizeof(*p->fds), &arr, &p->nr_fds);
	if (r < 0)
		return r;
	p->fds = arr;
	for (size_t i = 0; i < p->nr_fds; i++) {
		p->fds[i].content_fd = -1;
		p->fds[i].inet.repair_fd = -1;
		p->fds[i].tty.hold_fd = -1;
		p->fds[i].flight_fd = -1;
	}
	r = alloc_items(buf, len, PROC_A_BASE_FILE, sizeof(*p->base_files), &arr,
			&p->nr_base_files);
	if (r < 0)
		return r;
	p->base_files = arr;
	r = tlv_collect_fixed(buf, len, PROC_A_BASE_RUN, sizeof(struct base_run), &arr,
			      &p->nr_base_runs);
	if (r < 0)
		return r;
	p->base_runs = arr;
	tlv_for_each(a, buf, len, rem) {
		r = decode_one(a, p, &nt, &nv, &nf, &nb);
		if (r < 0)
			return r;
	}
	return 0;
}

int process_record_decode(const void *buf, size_t len, struct process_record *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	r = decode(buf, len, p);
	if (r < 0)
		process_record_free(p);
	return r;
}
