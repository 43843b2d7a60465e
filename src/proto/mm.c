/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

static const struct field mm_fields[] = {
	F_U64(MM_A_START_CODE, struct mm_record, start_code),
	F_U64(MM_A_END_CODE, struct mm_record, end_code),
	F_U64(MM_A_START_DATA, struct mm_record, start_data),
	F_U64(MM_A_END_DATA, struct mm_record, end_data),
	F_U64(MM_A_START_BRK, struct mm_record, start_brk),
	F_U64(MM_A_BRK, struct mm_record, brk),
	F_U64(MM_A_START_STACK, struct mm_record, start_stack),
	F_U64(MM_A_ARG_START, struct mm_record, arg_start),
	F_U64(MM_A_ARG_END, struct mm_record, arg_end),
	F_U64(MM_A_ENV_START, struct mm_record, env_start),
	F_U64(MM_A_ENV_END, struct mm_record, env_end),
	F_BLOB(MM_A_AUXV, struct mm_record, auxv, auxv_len),
	F_STR(MM_A_EXE, struct mm_record, exe),
	F_U64(MM_A_EXE_DEV, struct mm_record, exe_dev),
	F_U64(MM_A_EXE_INO, struct mm_record, exe_ino),
	F_BYTES(MM_A_EXE_ID, struct mm_record, exe_id),
};

int mm_record_encode(struct tlv_buf *b, uint32_t type, const struct mm_record *m)
{
	return fields_encode_nest(b, type, mm_fields, ARRAY_SIZE(mm_fields), m);
}

int mm_record_decode(const struct tlv_attr *nest, struct mm_record *m)
{
	const struct tlv_attr *tb[MM_A_MAX + 1];
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, MM_A_MAX);
	if (r < 0)
		return r;
	return fields_decode(tb, mm_fields, ARRAY_SIZE(mm_fields), m);
}

void mm_record_free(struct mm_record *m)
{
	free(m->auxv);
	free(m->exe);
	m->auxv = NULL;
	m->exe = NULL;
	m->auxv_len = 0;
}
