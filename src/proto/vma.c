/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

static const struct field vma_fields[] = {
	F_U64(VMA_A_START, struct vma_record, start),
	F_U64(VMA_A_END, struct vma_record, end),
	F_U64(VMA_A_PGOFF, struct vma_record, pgoff),
	F_U32(VMA_A_PROT, struct vma_record, prot),
	F_U32(VMA_A_FLAGS, struct vma_record, flags),
	F_U32(VMA_A_KIND, struct vma_record, kind),
	F_U64(VMA_A_DEV, struct vma_record, dev),
	F_U64(VMA_A_INO, struct vma_record, ino),
	F_STR(VMA_A_PATH, struct vma_record, path),
	F_STR(VMA_A_NAME, struct vma_record, name),
	F_U32(VMA_A_SHM_KIND, struct vma_record, shm_kind),
	F_U32(VMA_A_SHM_SEALS, struct vma_record, shm_seals),
	F_U64(VMA_A_SHM_SIZE, struct vma_record, shm_size),
	F_U32(VMA_A_SYSV_ID, struct vma_record, sysv_id),
	F_U32(VMA_A_SYSV_KEY, struct vma_record, sysv_key),
	F_U32(VMA_A_SYSV_MODE, struct vma_record, sysv_mode),
	F_STR(VMA_A_CONTENT, struct vma_record, content),
	F_BYTES(VMA_A_FILE_ID, struct vma_record, file_id),
	F_U32(VMA_A_HUGE_SHIFT, struct vma_record, huge_shift),
};

const struct field *vma_record_fields(size_t *n)
{
	*n = ARRAY_SIZE(vma_fields);
	return vma_fields;
}

int vma_record_encode(struct tlv_buf *b, uint32_t type, const struct vma_record *v)
{
	return fields_encode_nest(b, type, vma_fields, ARRAY_SIZE(vma_fields), v);
}

int vma_record_decode(const struct tlv_attr *nest, struct vma_record *v)
{
	const struct tlv_attr *tb[VMA_A_MAX + 1];
	int r;

	v->content_fd = -1;
	r = tlv_parse(tlv_data(nest), tlv_len(nest), tb, VMA_A_MAX);
	if (r < 0)
		return r;
	return fields_decode(tb, vma_fields, ARRAY_SIZE(vma_fields), v);
}

void vma_record_free(struct vma_record *v)
{
	free(v->path);
	free(v->name);
	free(v->content);
	v->path = v->name = v->content = NULL;
}
