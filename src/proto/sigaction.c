/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/* The signal number travels with the record, so only non-default ones are stored. */
struct sigaction_item {
	uint32_t signo;
	struct sigaction_record s;
};

static const struct field sigaction_fields[] = {
	F_U32(SIGACT_A_SIGNO, struct sigaction_item, signo),
	F_U64(SIGACT_A_HANDLER, struct sigaction_item, s.handler),
	F_U64(SIGACT_A_FLAGS, struct sigaction_item, s.flags),
	F_U64(SIGACT_A_RESTORER, struct sigaction_item, s.restorer),
	F_U64(SIGACT_A_MASK, struct sigaction_item, s.mask),
};

int sigaction_record_encode(struct tlv_buf *b, uint32_t type, int signo,
			    const struct sigaction_record *s)
{
	struct sigaction_item it = { .signo = (uint32_t)signo, .s = *s };

	if (signo < 1 || signo > TC_NSIG)
		return -EINVAL;
	return fields_encode_nest(b, type, sigaction_fields, ARRAY_SIZE(sigaction_fields), &it);
}

int sigaction_record_decode(const struct tlv_attr *nest, int *signo, struct sigaction_record *s)
{
	const struct tlv_attr *tb[SIGACT_A_MAX + 1];
	struct sigaction_item it = { 0 };
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, SIGACT_A_MAX);
	if (r < 0)
		return r;
	r = fields_decode(tb, sigaction_fields, ARRAY_SIZE(sigaction_fields), &it);
	if (r < 0)
		return r;
	if (it.signo < 1 || it.signo > TC_NSIG)
		return -EBADMSG;
	*signo = (int)it.signo;
	*s = it.s;
	return 0;
}
