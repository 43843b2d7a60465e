/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

static const struct field thread_fields[] = {
	F_U32(THREAD_A_TID, struct thread_record, tid),
	F_BYTES(THREAD_A_REGS, struct thread_record, regs),
	F_BLOB(THREAD_A_XSTATE, struct thread_record, xstate, xstate_len),
	F_U64(THREAD_A_SIGMASK, struct thread_record, sigmask),
	F_U64(THREAD_A_ALTSTACK_SP, struct thread_record, altstack_sp),
	F_U64(THREAD_A_ALTSTACK_SIZE, struct thread_record, altstack_size),
	F_U32(THREAD_A_ALTSTACK_FLAGS, struct thread_record, altstack_flags),
	F_U64(THREAD_A_CLEAR_CHILD_TID, struct thread_record, clear_child_tid),
	F_U64(THREAD_A_ROBUST_LIST, struct thread_record, robust_list),
	F_U64(THREAD_A_ROBUST_LEN, struct thread_record, robust_len),
	F_U64(THREAD_A_RSEQ_ADDR, struct thread_record, rseq_addr),
	F_U64(THREAD_A_RSEQ_LEN, struct thread_record, rseq_len),
	F_U32(THREAD_A_RSEQ_SIG, struct thread_record, rseq_sig),
	F_BYTES(THREAD_A_COMM, struct thread_record, comm),
};

const struct field *thread_record_fields(size_t *n)
{
	*n = ARRAY_SIZE(thread_fields);
	return thread_fields;
}

int thread_record_encode(struct tlv_buf *b, uint32_t type, const struct thread_record *t)
{
	long nest = tlv_nest_start(b, type);
	int r;

	if (nest < 0)
		return (int)nest;
	r = fields_encode(b, thread_fields, ARRAY_SIZE(thread_fields), t);
	if (r < 0)
		return r;
	for (uint32_t i = 0; t->pending && i < t->nr_pending; i++)
		tlv_put(b, THREAD_A_PENDING, t->pending[i], TC_SIGINFO_SIZE);
	return tlv_nest_end(b, nest);
}

int thread_record_decode(const struct tlv_attr *nest, struct thread_record *t)
{
	const struct tlv_attr *tb[THREAD_A_MAX + 1];
	void *pending;
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, THREAD_A_MAX);
	if (r < 0)
		return r;
	r = fields_decode(tb, thread_fields, ARRAY_SIZE(thread_fields), t);
	if (r < 0)
		return r;
	r = tlv_collect_fixed(tlv_data(nest), tlv_len(nest), THREAD_A_PENDING, TC_SIGINFO_SIZE,
			      &pending, &t->nr_pending);
	if (r < 0)
		return r;
	t->pending = pending;
	return 0;
}

void thread_record_free(struct thread_record *t)
{
	free(t->xstate);
	free(t->pending);
	t->xstate = NULL;
	t->pending = NULL;
	t->xstate_len = t->nr_pending = 0;
}
