/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "proto/model.h"
#include "util/macro.h"
#include "util/shellword.h"

#define MANIFEST_HDRLEN 16
#define CHECKSUM_ATTR_LEN (TLV_HDRLEN + sizeof(uint64_t))
#define MAC_ATTR_LEN (TLV_HDRLEN + IMAGE_MAC_LEN)

static const struct field man_fields[] = {
	F_U32(MAN_A_VERSION, struct manifest, version),
	F_U64(MAN_A_GENERATION, struct manifest, generation),
	F_U64(MAN_A_TIME_NS, struct manifest, time_ns),
	F_STR(MAN_A_HOST, struct manifest, host),
	F_STR(MAN_A_CMDLINE, struct manifest, cmdline),
	F_U32(MAN_A_FLAGS, struct manifest, flags),
	F_BYTES(MAN_A_CPU, struct manifest, cpu),
};

static const struct field manp_fields[] = {
	F_U32(MANP_A_PID, struct manifest_proc, pid),
	F_U32(MANP_A_PPID, struct manifest_proc, ppid),
	F_U32(MANP_A_PGID, struct manifest_proc, pgid),
	F_U32(MANP_A_SID, struct manifest_proc, sid),
	F_STR(MANP_A_HOST, struct manifest_proc, host),
	F_STR(MANP_A_CORE, struct manifest_proc, core),
};

static const struct field manf_fields[] = {
	F_STR(MANF_A_PATH, struct manifest_file, path),
	F_U64(MANF_A_SIZE, struct manifest_file, size),
	F_U64(MANF_A_XXH3, struct manifest_file, xxh3),
	F_U64(MANF_A_HEAD_LEN, struct manifest_file, head_len),
	F_U64(MANF_A_HEAD_XXH3, struct manifest_file, head_xxh3),
	F_BLOB(MANF_A_CHUNK_SUMS, struct manifest_file, chunk_sums, chunk_sums_len),
};

static uint64_t chunks_of(uint64_t bytes)
{
	return (bytes + TC_CHUNK_SIZE - 1) / TC_CHUNK_SIZE;
}

static const struct field manm_fields[] = {
	F_STR(MANM_A_HOST, struct manifest_member, host),
	F_STR(MANM_A_ADDR, struct manifest_member, addr),
	F_STR(MANM_A_SUBDIR, struct manifest_member, subdir),
	F_U64(MANM_A_BYTES, struct manifest_member, bytes),
	F_U32(MANM_A_NR_PROCS, struct manifest_member, nr_procs),
	F_STR(MANM_A_CMDLINE, struct manifest_member, cmdline),
	F_U32(MANM_A_TASK, struct manifest_member, task),
};

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->nr_members; i++) {
		free(m->members[i].host);
		free(m->members[i].addr);
		free(m->members[i].subdir);
		free(m->members[i].cmdline);
	}
	free(m->members);
	free(m->host);
	free(m->cmdline);
	for (size_t i = 0; i < m->nr_procs; i++) {
		free(m->procs[i].host);
		free(m->procs[i].core);
	}
	free(m->procs);
	for (size_t i = 0; i < m->nr_files; i++) {
		free(m->files[i].path);
		free(m->files[i].chunk_sums);
	}
	free(m->files);
	memset(m, 0, sizeof(*m));
}

bool image_path_is_safe(const char *path)
{
	const char *p = path;

	if (!*path || *path == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
		else
			break;
	}
	return p[-1] != '/';
}

int manifest_encode(struct tlv_buf *b, const struct manifest *m, const struct image_key *key)
{
	uint32_t hdr[2] = { MANIFEST_HDR_VERSION, 0 };
	uint8_t head[MANIFEST_HDRLEN], mac[IMAGE_MAC_LEN];

	if (b->len || !key)
		return -EINVAL;
	memcpy(head, MANIFEST_MAGIC, 8);
	memcpy(head + 8, hdr, sizeof(hdr));
	/* The header is not an attribute; its 16 bytes keep the attributes aligned. */
	tlv_put_raw(b, head, sizeof(head));
	fields_encode(b, man_fields, ARRAY_SIZE(man_fields), m);
	for (size_t i = 0; i < m->nr_procs; i++)
		fields_encode_nest(b, MAN_A_PROC, manp_fields, ARRAY_SIZE(manp_fields), &m->procs[i]);
	for (size_t i = 0; i < m->nr_files; i++)
		fields_encode_nest(b, MAN_A_FILE, manf_fields, ARRAY_SIZE(manf_fields), &m->files[i]);
	for (size_t i = 0; i < m->nr_members; i++)
		fields_encode_nest(b, MAN_A_MEMBER, manm_fields, ARRAY_SIZE(manm_fields),
				   &m->members[i]);
	if (b->err)
		return b->err;
	image_mac(key, b->data, b->len, mac);
	tlv_put(b, MAN_A_MAC, mac, sizeof(mac));
	if (b->err)
		return b->err;
	return tlv_put_u64(b, MAN_A_CHECKSUM, XXH3_64bits(b->data, b->len));
}

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The MAC attribute right before the checksum, and whether it holds.  What
 * it covers is checked before a single attribute is looked at.
 */
static int check_mac(const uint8_t *buf, size_t len, const struct image_key *key, char *err,
		     size_t errlen)
{
	struct tlv_attr a;
	size_t off;

	if (len < MANIFEST_HDRLEN + MAC_ATTR_LEN + CHECKSUM_ATTR_LEN)
		goto none;
	off = len - CHECKSUM_ATTR_LEN - MAC_ATTR_LEN;
	memcpy(&a, buf + off, sizeof(a));
	if (a.type != MAN_A_MAC || a.len != MAC_ATTR_LEN)
		goto none;
	if (!key)
		return 0;
	if (!image_mac_ok(key, buf, off, buf + off + TLV_HDRLEN)) {
		set_err(err, errlen, "manifest: MAC does not match (tampered, or made by another user; key %s)",
			key->path[0] ? key->path : "given");
		return -EKEYREJECTED;
	}
	return 0;
none:
	if (!key)
		return 0;
	set_err(err, errlen, "manifest: no MAC: written by a trace-ckpt before images were authenticated, or altered; it cannot be trusted (take a new checkpoint)");
	return -EKEYREJECTED;
}

static int parse(const uint8_t *buf, size_t len, const struct image_key *key, struct manifest *m,
		 char *err, size_t errlen)
{
	const struct tlv_attr *tb[MAN_A_MAX + 1], *a;
	struct tlv_attr last;
	const uint8_t *body;
	size_t body_len, rem, np = 0, nf = 0, nm = 0;
	uint32_t hdr_version;
	uint64_t sum;
	int r;

	if (len < MANIFEST_HDRLEN + TLV_HDRLEN + sizeof(sum) || memcmp(buf, MANIFEST_MAGIC, 8)) {
		set_err(err, errlen, "manifest: not a trace-ckpt manifest (bad magic or too short)");
		return -EBADMSG;
	}
	memcpy(&hdr_version, buf + 8, sizeof(hdr_version));
	if (hdr_version != MANIFEST_HDR_VERSION) {
		set_err(err, errlen, "manifest: layout version %u is not supported", hdr_version);
		return -EPROTONOSUPPORT;
	}
	/* The checksum attribute is the last 16 bytes and covers everything before it. */
	memcpy(&last, buf + len - TLV_HDRLEN - sizeof(sum), sizeof(last));
	if (last.type != MAN_A_CHECKSUM || last.len != TLV_HDRLEN + sizeof(sum) || len % 8) {
		set_err(err, errlen, "manifest: truncated (no checksum at the end)");
		return -EBADMSG;
	}
	memcpy(&sum, buf + len - sizeof(sum), sizeof(sum));
	if (sum != XXH3_64bits(buf, len - TLV_HDRLEN - sizeof(sum))) {
		set_err(err, errlen, "manifest: checksum mismatch (damaged)");
		return -EBADMSG;
	}
	r = check_mac(buf, len, key, err, errlen);
	if (r < 0)
		return r;
	body = buf + MANIFEST_HDRLEN;
	body_len = len - MANIFEST_HDRLEN - TLV_HDRLEN - sizeof(sum);
	r = tlv_parse(body, body_len, tb, MAN_A_MAX);
	if (r < 0)
		goto bad;
	r = fields_decode(tb, man_fields, ARRAY_SIZE(man_fields), m);
	if (r < 0)
		goto bad;
	m->nr_procs = tlv_count(body, body_len, MAN_A_PROC);
	m->nr_files = tlv_count(body, body_len, MAN_A_FILE);
	m->nr_members = tlv_count(body, body_len, MAN_A_MEMBER);
	m->procs = calloc(m->nr_procs ? m->nr_procs : 1, sizeof(*m->procs));
	m->files = calloc(m->nr_files ? m->nr_files : 1, sizeof(*m->files));
	m->members = calloc(m->nr_members ? m->nr_members : 1, sizeof(*m->members));
	if (!m->procs || !m->files || !m->members) {
		m->nr_procs = m->nr_files = m->nr_members = 0;
		return -ENOMEM;
	}
	tlv_for_each(a, body, body_len, rem) {
		const struct tlv_attr *sub[MAX(MAX((int)MANP_A_MAX, (int)MANF_A_MAX), (int)MANM_A_MAX) + 1];

		if (a->type == MAN_A_PROC) {
			struct manifest_proc *p = &m->procs[np++];

			r = tlv_parse(tlv_data(a), tlv_len(a), sub, MANP_A_MAX);
			if (r == 0)
				r = fields_decode(sub, manp_fields, ARRAY_SIZE(manp_fields), p);
			if (r == 0 && (!p->core || !image_path_is_safe(p->core)))
				r = -EBADMSG;
		} else if (a->type == MAN_A_FILE) {
			struct manifest_file *f = &m->files[nf++];

			r = tlv_parse(tlv_data(a), tlv_len(a), sub, MANF_A_MAX);
			if (r == 0)
				r = fields_decode(sub, manf_fields, ARRAY_SIZE(manf_fields), f);
			if (r == 0 && (!f->path || !image_path_is_safe(f->path)))
				r = -EBADMSG;
			/* One sum per chunk of a core's pages, exactly. */
			if (r == 0 && f->chunk_sums &&
			    (f->head_len > f->size ||
			     f->chunk_sums_len != sizeof(uint64_t) *
				     chunks_of(f->size - f->head_len)))
				r = -EBADMSG;
		} else if (a->type == MAN_A_MEMBER) {
			struct manifest_member *mb = &m->members[nm++];

			r = tlv_parse(tlv_data(a), tlv_len(a), sub, MANM_A_MAX);
			if (r == 0)
				r = fields_decode(sub, manm_fields, ARRAY_SIZE(manm_fields), mb);
			/* Each host's part is one directory right below DIR. */
			if (r == 0 && (!mb->host || !mb->subdir || !image_path_is_safe(mb->subdir) ||
				       strchr(mb->subdir, '/')))
				r = -EBADMSG;
			/* Both may reach ssh's command line: neither an option nor shell text. */
			if (r == 0 && (!is_host_name(mb->host) || (mb->addr && !is_host_name(mb->addr)))) {
				set_err(err, errlen, "manifest: host '%s': not a host name",
					is_host_name(mb->host) ? mb->addr : mb->host);
				return -EBADMSG;
			}
		}
		if (r < 0)
			goto bad;
	}
	if (!m->host || !image_path_is_safe(m->host) || strchr(m->host, '/')) {
		r = -EBADMSG;
		goto bad;
	}
	return 0;
bad:
	if (r == -EBADMSG)
		set_err(err, errlen, "manifest: malformed record");
	return r;
}

int manifest_parse(const void *buf, size_t len, const struct image_key *key, struct manifest *m,
		   char *err, size_t errlen)
{
	int r;

	memset(m, 0, sizeof(*m));
	r = parse(buf, len, key, m, err, errlen);
	if (r < 0) {
		if (r == -ENOMEM)
			set_err(err, errlen, "manifest: out of memory");
		manifest_free(m);
	}
	return r;
}
