/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Find a `syscall` instruction in an image of the [vdso].  Shared by the stub
 * (no libc) and the supervisor (src/tracer/remote.c): header only.
 *
 * A stray 0f 05 inside another instruction would be fatal to a remote
 * syscall, so only the shape the vdso's fallback paths use is accepted:
 * `mov $imm32, %eax` (b8 xx xx xx xx) directly followed by `syscall`
 * (0f 05), searched in the executable sections named by the image's own
 * .text section named by the image's own section headers (not in
 * .altinstr_replacement, whose bytes are never executed where they lie).
 * Without usable section headers the whole image is searched.
 */
#pragma once

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

static inline long vdso_scan_range(const uint8_t *img, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i + 7 <= to; i++) {
		if (img[i] == 0xb8 && img[i + 5] == 0x0f && img[i + 6] == 0x05)
			return (long)(i + 5);
	}
	return -1;
}

static inline int vdso_is_text(const uint8_t *img, uint64_t len, const Elf64_Shdr *strtab,
				uint32_t name)
{
	static const char text[] = ".text";
	uint64_t i, at;

	if (!strtab || strtab->sh_offset >= len || name >= strtab->sh_size)
		return 1;	/* cannot tell: accept any executable section */
	at = strtab->sh_offset + name;
	for (i = 0; i < sizeof(text); i++) {
		if (at + i >= len || img[at + i] != (uint8_t)text[i])
			return 0;
	}
	return 1;
}

/* Returns the offset of a `syscall` instruction in img[0..len), or -1. */
static inline long vdso_find_syscall(const uint8_t *img, uint64_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	const Elf64_Shdr *sh, *strtab = NULL;
	uint64_t i;
	long off;

	if (len < sizeof(*eh) || img[EI_MAG0] != ELFMAG0 || img[EI_MAG1] != ELFMAG1 ||
	    img[EI_MAG2] != ELFMAG2 || img[EI_MAG3] != ELFMAG3)
		return -1;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff >= len ||
	    eh->e_shnum > (len - eh->e_shoff) / sizeof(Elf64_Shdr) || eh->e_shnum == 0)
		return vdso_scan_range(img, 0, len);

	sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	if (eh->e_shstrndx < eh->e_shnum && sh[eh->e_shstrndx].sh_type == SHT_STRTAB)
		strtab = &sh[eh->e_shstrndx];
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_EXECINSTR) ||
		    !vdso_is_text(img, len, strtab, sh[i].sh_name))
			continue;
		/* In the vdso, section addresses are offsets from its start. */
		if (sh[i].sh_addr >= len || sh[i].sh_size > len - sh[i].sh_addr)
			continue;
		off = vdso_scan_range(img, sh[i].sh_addr, sh[i].sh_addr + sh[i].sh_size);
		if (off >= 0)
			return off;
	}
	return -1;
}
