/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

#define NR_ITIMERS 3

struct itimer_item {
	uint32_t which;
	struct itimer_record it;
};

static const struct field itimer_fields[] = {
	F_U32(ITIMER_A_WHICH, struct itimer_item, which),
	F_U64(ITIMER_A_INTERVAL_US, struct itimer_item, it.interval_us),
	F_U64(ITIMER_A_VALUE_US, struct itimer_item, it.value_us),
};

int itimer_record_encode(struct tlv_buf *b, uint32_t type, unsigned int which,
			 const struct itimer_record *it)
{
	struct itimer_item item = { .which = which, .it = *it };

	if (which >= NR_ITIMERS)
		return -EINVAL;
	return fields_encode_nest(b, type, itimer_fields, ARRAY_SIZE(itimer_fields), &item);
}

int itimer_record_decode(const struct tlv_attr *nest, unsigned int *which,
			 struct itimer_record *it)
{
	const struct tlv_attr *tb[ITIMER_A_MAX + 1];
	struct itimer_item item = { 0 };
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, ITIMER_A_MAX);
	if (r < 0)
		return r;
	r = fields_decode(tb, itimer_fields, ARRAY_SIZE(itimer_fields), &item);
	if (r < 0)
		return r;
	if (item.which >= NR_ITIMERS)
		return -EBADMSG;
	*which = item.which;
	*it = item.it;
	return 0;
}
