/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "proto/fileid.h"
#include "util/macro.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* 1: found; 0: none in this chunk. */
static int note_build_id(Elf_Data *d, uint8_t *out, size_t cap, size_t *len)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!d)
		return 0;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((const char *)d->d_buf + name_off, "GNU", 4) || !nh.n_descsz)
			continue;
		if (nh.n_descsz > cap)
			return -EMSGSIZE;
		memcpy(out, (const char *)d->d_buf + desc_off, nh.n_descsz);
		*len = nh.n_descsz;
		return 1;
	}
	return 0;
}

static void elf_endp(Elf **e)
{
	if (*e)
		elf_end(*e);
}

int elf_build_id(int fd, uint8_t *out, size_t cap, size_t *len)
{
	__attribute__((cleanup(elf_endp))) Elf *e = NULL;
	size_t nph = 0;
	Elf_Scn *scn = NULL;
	int r;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF)
		return -ENOENT;
	/* Program headers first: a stripped library may have no sections. */
	if (elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			r = note_build_id(elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz,
							       ELF_T_NHDR), out, cap, len);
			if (r)
				return r < 0 ? r : 0;
		}
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		r = note_build_id(elf_getdata(scn, NULL), out, cap, len);
		if (r)
			return r < 0 ? r : 0;
	}
	return -ENOENT;
}

void file_id_from_stat(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->flags = FILE_ID_F_KNOWN;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
}

int file_id_read(int fd, struct file_id *id)
{
	struct stat st;
	size_t len = 0;

	memset(id, 0, sizeof(*id));
	if (fstat(fd, &st) < 0)
		return -errno;
	file_id_from_stat(&st, id);
	/* A 64-byte header at least, or it is no ELF file worth asking. */
	if (S_ISREG(st.st_mode) && st.st_size >= 64 &&
	    elf_build_id(fd, id->build_id, sizeof(id->build_id), &len) == 0) {
		id->flags |= FILE_ID_F_BUILD_ID;
		id->build_id_len = (uint32_t)len;
	}
	return 0;
}

static void hex(const uint8_t *b, size_t n, char *out, size_t len)
{
	size_t pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && pos + 3 <= len; i++)
		pos += (size_t)snprintf(out + pos, len - pos, "%02x", b[i]);
}

static void time_str(uint64_t ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(out, len, "%llu ns", (unsigned long long)ns);
		return;
	}
	snprintf(out + strlen(out), len - strlen(out), ".%09llu UTC",
		 (unsigned long long)(ns % 1000000000ull));
}

static size_t id_len(const struct file_id *id)
{
	if (!(id->flags & FILE_ID_F_BUILD_ID))
		return 0;
	return MIN((size_t)id->build_id_len, sizeof(id->build_id));
}

bool file_id_same(const struct file_id *then, const struct file_id *now, char *why, size_t len)
{
	size_t then_len = id_len(then), now_len = id_len(now);
	char a[2 * TC_BUILD_ID_MAX + 1], b[2 * TC_BUILD_ID_MAX + 1];

	if (len)
		why[0] = '\0';
	if (!(then->flags & FILE_ID_F_KNOWN))
		return true;	/* an older image: nothing to compare with */
	if (then_len && (then_len != now_len || memcmp(then->build_id, now->build_id, then_len))) {
		hex(then->build_id, then_len, a, sizeof(a));
		if (now_len)
			hex(now->build_id, now_len, b, sizeof(b));
		else
			snprintf(b, sizeof(b), "none");
		snprintf(why, len, "build-id %s now %s", a, b);
		return false;
	}
	if (then->size != now->size) {
		snprintf(why, len, "size %llu now %llu", (unsigned long long)then->size,
			 (unsigned long long)now->size);
		return false;
	}
	/* Same build-id and size: the same program, wherever it was copied. */
	if (then_len)
		return true;
	if (then->mtime_ns != now->mtime_ns) {
		time_str(then->mtime_ns, a, sizeof(a));
		time_str(now->mtime_ns, b, sizeof(b));
		snprintf(why, len, "mtime %s now %s", a, b);
		return false;
	}
	return true;
}

void file_id_describe(const struct file_id *id, char *out, size_t len)
{
	char t[64], b[2 * TC_BUILD_ID_MAX + 1];
	size_t n = id_len(id);

	if (!(id->flags & FILE_ID_F_KNOWN)) {
		snprintf(out, len, "not recorded");
		return;
	}
	time_str(id->mtime_ns, t, sizeof(t));
	if (n)
		hex(id->build_id, n, b, sizeof(b));
	snprintf(out, len, "size %llu, mtime %s%s%s", (unsigned long long)id->size, t,
		 n ? ", build-id " : "", n ? b : "");
}
