/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

static const struct field creds_fields[] = {
	F_U32(CRED_A_UID_REAL, struct creds_record, uid[TC_CRED_REAL]),
	F_U32(CRED_A_UID_EFFECTIVE, struct creds_record, uid[TC_CRED_EFFECTIVE]),
	F_U32(CRED_A_UID_SAVED, struct creds_record, uid[TC_CRED_SAVED]),
	F_U32(CRED_A_UID_FS, struct creds_record, uid[TC_CRED_FS]),
	F_U32(CRED_A_GID_REAL, struct creds_record, gid[TC_CRED_REAL]),
	F_U32(CRED_A_GID_EFFECTIVE, struct creds_record, gid[TC_CRED_EFFECTIVE]),
	F_U32(CRED_A_GID_SAVED, struct creds_record, gid[TC_CRED_SAVED]),
	F_U32(CRED_A_GID_FS, struct creds_record, gid[TC_CRED_FS]),
	F_BLOB(CRED_A_GROUPS, struct creds_record, groups, groups_len),
	F_U64(CRED_A_CAP_INH, struct creds_record, cap_inh),
	F_U64(CRED_A_CAP_PRM, struct creds_record, cap_prm),
	F_U64(CRED_A_CAP_EFF, struct creds_record, cap_eff),
	F_U64(CRED_A_CAP_BND, struct creds_record, cap_bnd),
	F_U64(CRED_A_CAP_AMB, struct creds_record, cap_amb),
	F_U32(CRED_A_SECUREBITS, struct creds_record, securebits),
	F_U32(CRED_A_DUMPABLE, struct creds_record, dumpable),
};

int creds_record_encode(struct tlv_buf *b, uint32_t type, const struct creds_record *c)
{
	if (!c->valid)
		return 0;
	/* Zero fields are left out; an empty nest still says "root, no groups". */
	return fields_encode_nest(b, type, creds_fields, ARRAY_SIZE(creds_fields), c);
}

int creds_record_decode(const struct tlv_attr *nest, struct creds_record *c)
{
	const struct tlv_attr *tb[CRED_A_MAXTYPE + 1];
	int r;

	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, CRED_A_MAXTYPE);
	if (r < 0)
		return r;
	r = fields_decode(tb, creds_fields, ARRAY_SIZE(creds_fields), c);
	if (r < 0)
		return r;
	if (c->groups_len % sizeof(uint32_t))
		return -EBADMSG;
	c->valid = 1;
	return 0;
}

void creds_record_free(struct creds_record *c)
{
	free(c->groups);
	c->groups = NULL;
	c->groups_len = 0;
}
