/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What goes in a process's core file besides the pages: the PT_LOAD plan and
 * the notes.  Shared by image_write.c and the tests.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>

#include "proto/attrs.h"
#include "proto/core.h"
#include "util/macro.h"

_Static_assert(sizeof(elf_gregset_t) == sizeof(struct user_regs_struct),
	       "NT_PRSTATUS registers are struct user_regs_struct");

/* First VMA that ends above addr. */
static size_t vma_find(const struct process_record *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nr_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The special mappings are never read, and writing a shared file mapping's
 * pages back would write them to the file.
 */
static bool vma_keeps_gaps_out(const struct vma_record *v)
{
	return v->kind == VMA_VDSO || v->kind == VMA_VVAR || v->kind == VMA_VVAR_VCLOCK ||
	       v->kind == VMA_FILE_SHARED;
}

/* A gap can be stored only if all of it is mapped: the restorer writes a segment back whole. */
static bool gap_is_mergeable(const struct process_record *p, uint64_t start, uint64_t end)
{
	for (size_t i = vma_find(p, start); start < end; i++) {
		if (i >= p->nr_vmas || p->vmas[i].start > start ||
		    vma_keeps_gaps_out(&p->vmas[i]))
			return false;
		start = p->vmas[i].end;
	}
	return true;
}

static uint32_t prot_to_pflags(uint32_t prot)
{
	return ((prot & PROT_READ) ? PF_R : 0) | ((prot & PROT_WRITE) ? PF_W : 0) |
	       ((prot & PROT_EXEC) ? PF_X : 0);
}

static uint32_t range_pflags(const struct process_record *p, uint64_t start, uint64_t end)
{
	uint32_t fl = 0;

	for (size_t i = vma_find(p, start); i < p->nr_vmas && p->vmas[i].start < end; i++)
		fl |= prot_to_pflags(p->vmas[i].prot);
	return fl;
}

struct gap {
	uint64_t len;
	size_t idx;	/* between run idx and idx + 1 */
};

static int gap_cmp(const void *a, const void *b)
{
	const struct gap *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* merge[i]: run i and run i + 1 share a segment. */
static int choose_merges(const struct process_record *p, size_t max_segs, bool *merge)
{
	size_t need = p->nr_runs - max_segs, n = 0;
	_cleanup_free_ struct gap *gaps = NULL;

	gaps = malloc((p->nr_runs - 1) * sizeof(*gaps));
	if (!gaps)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < p->nr_runs; i++) {
		uint64_t end = p->runs[i].vaddr + p->runs[i].len;

		if (gap_is_mergeable(p, end, p->runs[i + 1].vaddr))
			gaps[n++] = (struct gap){ p->runs[i + 1].vaddr - end, i };
	}
	if (n < need)
		return -E2BIG;
	/* Smallest gaps first: the fewest extra bytes for the segments saved. */
	qsort(gaps, n, sizeof(*gaps), gap_cmp);
	for (size_t i = 0; i < need; i++)
		merge[gaps[i].idx] = true;
	return 0;
}

static int add_piece(struct core_plan *plan, size_t *cap, uint64_t vaddr, uint64_t len, bool zero)
{
	struct core_piece *last = plan->nr_pieces ? &plan->pieces[plan->nr_pieces - 1] : NULL;

	if (last && last->zero == zero && last->vaddr + last->len == vaddr) {
		last->len += len;
		return 0;
	}
	if (plan->nr_pieces == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct core_piece *np = realloc(plan->pieces, nc * sizeof(*np));

		if (!np)
			return -ENOMEM;
		plan->pieces = np;
		*cap = nc;
	}
	plan->pieces[plan->nr_pieces++] = (struct core_piece){ vaddr, len, zero };
	return 0;
}

/*
 * Untouched pages of private anonymous memory read as zeros, so a gap there
 * is written as zeros without reading it.  In any other mapping the pages
 * not dumped are the file's or the shared object's, and zeros would be
 * wrong: those are read from the process.
 */
static int add_gap(struct core_plan *plan, size_t *cap, const struct process_record *p,
		   uint64_t start, uint64_t end)
{
	for (size_t i = vma_find(p, start); start < end; i++) {
		uint64_t e = MIN(end, p->vmas[i].end);
		int r = add_piece(plan, cap, start, e - start, p->vmas[i].kind == VMA_ANON_PRIVATE);

		if (r < 0)
			return r;
		start = e;
	}
	return 0;
}

static int check_runs(const struct process_record *p)
{
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_run *r = &p->runs[i];

		if (!r->len || (r->vaddr | r->len) % CORE_PAGE || r->vaddr + r->len < r->vaddr)
			return -EINVAL;
		if (i && r->vaddr < p->runs[i - 1].vaddr + p->runs[i - 1].len)
			return -EINVAL;
	}
	return 0;
}

int core_plan_build(const struct process_record *p, size_t max_segs, struct core_plan *plan)
{
	_cleanup_free_ bool *merge = NULL;
	size_t pcap = 0;
	uint64_t off = 0;
	int r;

	memset(plan, 0, sizeof(*plan));
	if (max_segs == 0)
		return -EINVAL;
	r = check_runs(p);
	if (r < 0)
		return r;
	if (!p->nr_runs)
		return 0;
	merge = calloc(p->nr_runs, sizeof(*merge));
	plan->segs = calloc(MIN(p->nr_runs, max_segs), sizeof(*plan->segs));
	if (!merge || !plan->segs) {
		r = -ENOMEM;
		goto fail;
	}
	if (p->nr_runs > max_segs) {
		r = choose_merges(p, max_segs, merge);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_run *run = &p->runs[i];
		struct core_seg *s;

		if (i == 0 || !merge[i - 1]) {
			s = &plan->segs[plan->nr_segs++];
			s->vaddr = run->vaddr;
			s->off = off;
		} else {
			const struct page_run *prev = &p->runs[i - 1];

			s = &plan->segs[plan->nr_segs - 1];
			r = add_gap(plan, &pcap, p, prev->vaddr + prev->len, run->vaddr);
			if (r < 0)
				goto fail;
		}
		r = add_piece(plan, &pcap, run->vaddr, run->len, false);
		if (r < 0)
			goto fail;
		s->len = run->vaddr + run->len - s->vaddr;
		off = s->off + s->len;
	}
	for (size_t i = 0; i < plan->nr_segs; i++) {
		struct core_seg *s = &plan->segs[i];

		s->pflags = range_pflags(p, s->vaddr, s->vaddr + s->len);
	}
	plan->data_bytes = off;
	return 0;
fail:
	core_plan_free(plan);
	return r;
}

void core_plan_free(struct core_plan *plan)
{
	free(plan->segs);
	free(plan->pieces);
	memset(plan, 0, sizeof(*plan));
}

/* ELF notes of a core file are 4-byte aligned, as the kernel writes them. */
static void note_put(struct tlv_buf *b, const char *name, uint32_t type, const void *desc,
		     size_t len)
{
	static const uint8_t zero[4];
	Elf64_Nhdr h = {
		.n_namesz = strlen(name) + 1,
		.n_descsz = (Elf64_Word)len,
		.n_type = type,
	};

	if (len > UINT32_MAX) {
		b->err = b->err ? b->err : -EMSGSIZE;
		return;
	}
	tlv_put_raw(b, &h, sizeof(h));
	tlv_put_raw(b, name, h.n_namesz);
	tlv_put_raw(b, zero, ALIGN_UP(h.n_namesz, 4) - h.n_namesz);
	tlv_put_raw(b, desc, len);
	tlv_put_raw(b, zero, ALIGN_UP(len, 4) - len);
}

static void note_prstatus(struct tlv_buf *b, const struct process_record *p,
			  const struct thread_record *t)
{
	struct elf_prstatus st;

	memset(&st, 0, sizeof(st));
	st.pr_pid = t->tid;
	st.pr_ppid = p->ppid;
	st.pr_pgrp = p->pgid;
	st.pr_sid = p->sid;
	st.pr_sighold = t->sigmask;
	memcpy(&st.pr_reg, &t->regs, sizeof(st.pr_reg));
	st.pr_fpvalid = t->xstate_len >= sizeof(struct user_fpregs_struct);
	note_put(b, "CORE", NT_PRSTATUS, &st, sizeof(st));
}

static void note_fpregs(struct tlv_buf *b, const struct thread_record *t)
{
	if (!t->xstate || t->xstate_len < sizeof(struct user_fpregs_struct))
		return;
	/* The legacy FXSAVE area is the first 512 bytes of the xsave layout. */
	note_put(b, "CORE", NT_FPREGSET, t->xstate, sizeof(struct user_fpregs_struct));
	note_put(b, "LINUX", NT_X86_XSTATE, t->xstate, t->xstate_len);
}

static void note_prpsinfo(struct tlv_buf *b, const struct process_record *p, const char *psargs)
{
	struct elf_prpsinfo ps;

	memset(&ps, 0, sizeof(ps));
	/* Every process is stopped while it is dumped. */
	ps.pr_state = 3;
	ps.pr_sname = 'T';
	ps.pr_pid = p->pid;
	ps.pr_ppid = p->ppid;
	ps.pr_pgrp = p->pgid;
	ps.pr_sid = p->sid;
	memcpy(ps.pr_fname, p->comm, MIN(sizeof(ps.pr_fname), sizeof(p->comm)));
	ps.pr_fname[sizeof(ps.pr_fname) - 1] = '\0';
	strncpy(ps.pr_psargs, psargs ? psargs : ps.pr_fname, sizeof(ps.pr_psargs) - 1);
	note_put(b, "CORE", NT_PRPSINFO, &ps, sizeof(ps));
}

static bool vma_in_nt_file(const struct vma_record *v)
{
	return v->path && (v->kind == VMA_FILE_PRIVATE || v->kind == VMA_FILE_SHARED);
}

/* NT_FILE: count, page size, (start, end, page offset) each, then the names. */
static void note_file(struct tlv_buf *b, const struct process_record *p)
{
	struct tlv_buf d = { 0 };
	uint64_t hdr[2] = { 0, CORE_PAGE };

	for (size_t i = 0; i < p->nr_vmas; i++)
		hdr[0] += vma_in_nt_file(&p->vmas[i]);
	if (!hdr[0])
		return;
	tlv_put_raw(&d, hdr, sizeof(hdr));
	for (size_t i = 0; i < p->nr_vmas; i++) {
		const struct vma_record *v = &p->vmas[i];
		uint64_t e[3] = { v->start, v->end, v->pgoff / CORE_PAGE };

		if (vma_in_nt_file(v))
			tlv_put_raw(&d, e, sizeof(e));
	}
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (vma_in_nt_file(&p->vmas[i]))
			tlv_put_raw(&d, p->vmas[i].path, strlen(p->vmas[i].path) + 1);
	if (d.err)
		b->err = b->err ? b->err : d.err;
	else
		note_put(b, "CORE", NT_FILE, d.data, d.len);
	tlv_buf_free(&d);
}

/*
 * The kernel's order: the first thread's notes carry the process-wide ones
 * after its registers; gdb takes the first NT_PRSTATUS as the current thread.
 */
int core_notes_build(struct tlv_buf *out, const struct process_record *p, const char *psargs,
		     const void *rec, size_t rec_len)
{
	for (size_t i = 0; i < p->nr_threads; i++) {
		note_prstatus(out, p, &p->threads[i]);
		if (i == 0) {
			note_prpsinfo(out, p, psargs);
			if (p->mm.auxv && p->mm.auxv_len)
				note_put(out, "CORE", NT_AUXV, p->mm.auxv, p->mm.auxv_len);
			note_file(out, p);
		}
		note_fpregs(out, &p->threads[i]);
	}
	if (!p->nr_threads) {
		note_prpsinfo(out, p, psargs);
		note_file(out, p);
	}
	note_put(out, TC_NOTE_NAME, TC_NT_PROCESS, rec, rec_len);
	return out->err;
}
