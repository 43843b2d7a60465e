/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/*
 * Limits are stored by resource number rather than as an array so a kernel
 * with more limits, or an image from one, needs no format change.
 */
struct rlimit_item {
	uint32_t resource;
	struct rlimit_record rl;
};

static const struct field rlimit_fields[] = {
	F_U32(RLIM_A_RESOURCE, struct rlimit_item, resource),
	F_U64(RLIM_A_CUR, struct rlimit_item, rl.cur),
	F_U64(RLIM_A_MAX, struct rlimit_item, rl.max),
};

int rlimit_record_encode(struct tlv_buf *b, uint32_t type, unsigned int resource,
			 const struct rlimit_record *rl)
{
	struct rlimit_item it = { .resource = resource, .rl = *rl };

	if (resource >= TC_NR_RLIMITS)
		return -EINVAL;
	return fields_encode_nest(b, type, rlimit_fields, ARRAY_SIZE(rlimit_fields), &it);
}

int rlimit_record_decode(const struct tlv_attr *nest, unsigned int *resource,
			 struct rlimit_record *rl)
{
	const struct tlv_attr *tb[RLIM_A_MAXTYPE + 1];
	struct rlimit_item it = { 0 };
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, RLIM_A_MAXTYPE);
	if (r < 0)
		return r;
	r = fields_decode(tb, rlimit_fields, ARRAY_SIZE(rlimit_fields), &it);
	if (r < 0)
		return r;
	if (it.resource >= TC_NR_RLIMITS)
		return -EBADMSG;
	*resource = it.resource;
	*rl = it.rl;
	return 0;
}
