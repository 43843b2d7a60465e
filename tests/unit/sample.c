/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sample.h"

const struct image_key sample_key = {
	.bytes = { 0x54, 0x43, 0x4b, 0x50, 0x74, 0x65, 0x73, 0x74, 1, 2, 3, 4, 5, 6, 7, 8,
		   9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 },
	.path = "(the tests' key)",
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

static char * __attribute__((format(printf, 1, 2))) fmt(const char *f, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return xstrdup(buf);
}

static void fill_bytes(void *p, size_t len, unsigned int seed)
{
	unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		c[i] = (unsigned char)(seed * 131 + i * 7 + 1);
}

static void sample_thread(struct thread_record *t, unsigned int seed, unsigned int i)
{
	t->tid = (pid_t)(1000 + seed * 100 + i);
	fill_bytes(&t->regs, sizeof(t->regs), seed + i);
	t->xstate_len = 832 + 64 * i;
	t->xstate = xcalloc(1, t->xstate_len);
	fill_bytes(t->xstate, t->xstate_len, seed ^ i);
	t->sigmask = 0x1234ull << i;
	t->nr_pending = i % 3;
	if (t->nr_pending) {
		t->pending = xcalloc(t->nr_pending, sizeof(*t->pending));
		fill_bytes(t->pending, t->nr_pending * sizeof(*t->pending), seed + 7 * i);
	}
	t->altstack_sp = 0x7f0000000000ull + i * 0x10000;
	t->altstack_size = 65536;
	t->altstack_flags = i & 1;
	t->clear_child_tid = 0x7f1234567890ull + i;
	t->robust_list = 0x7f00000010a0ull + i;
	t->robust_len = 24;
	t->rseq_addr = 0x7f00000020e0ull + i * 0x1000;
	t->rseq_len = 32;
	t->rseq_sig = 0x53053053;
	if (i)
		snprintf(t->comm, sizeof(t->comm), "worker-%u\n\\", i);
}

/* Every other one with a build-id: ELF and data files. */
static void sample_file_id(struct file_id *id, unsigned int seed, unsigned int i)
{
	id->flags = FILE_ID_F_KNOWN;
	id->size = 10000 + seed * 100 + i;
	id->mtime_ns = 1700000000000000000ull + seed * 1000 + i;
	if (i % 2 == 0) {
		id->flags |= FILE_ID_F_BUILD_ID;
		id->build_id_len = 20;
		for (unsigned int k = 0; k < 20; k++)
			id->build_id[k] = (uint8_t)(seed * 7 + i * 3 + k);
	}
}

static void sample_vma(struct vma_record *v, unsigned int seed, unsigned int i)
{
	v->start = 0x400000ull + (uint64_t)i * 0x100000;
	v->end = v->start + 0x10000 * (1 + (i % 4));
	v->pgoff = (i % 2) ? (uint64_t)i * 4096 : 0;
	v->prot = 1 | ((i % 3) ? 2 : 4);
	v->flags = i % 5 == 0 ? 1 : 0;
	v->kind = 1 + i % 7;
	v->dev = 0x803 + seed;
	v->ino = 1000 + i;
	if (v->kind == 3 || v->kind == 4) {
		v->path = fmt("/usr/lib/lib%u-%u.so", seed, i);
		sample_file_id(&v->file_id, seed, i);
	}
	if (i % 4 == 1)
		v->name = fmt("[anon:s%u-%u]", seed, i);
	if (v->kind == 1 && i % 2) {
		v->flags |= VMA_F_HUGETLB | VMA_F_NORESERVE;
		v->huge_shift = 21;
	}
}

static void sample_fd(struct fd_record *f, unsigned int seed, unsigned int i)
{
	f->fd = (int32_t)i * 2 + (i > 2 ? 3 : 0);
	f->kind = 1 + i % 3;
	f->flags = 02 | (i & 1 ? 02000 : 0);
	f->cloexec = i & 1;
	f->pos = (uint64_t)i * 4096 + seed;
	f->stdio_index = i % 3;
	f->mode = 0100644;
	f->dev = 0x803;
	f->ino = 5000 + seed * 10 + i;
	f->size = 100 + i;
	f->path = fmt("/tmp/file-%u-%u", seed, i);
	if (i % 2)
		sample_file_id(&f->file_id, seed + 100, i);
	f->deleted = i % 4 == 3;
	f->content_fd = -1;
}

void sample_process(struct process_record *p, unsigned int seed, size_t nr_threads,
		    size_t nr_vmas, size_t nr_fds)
{
	memset(p, 0, sizeof(*p));
	p->pid = (pid_t)(100 + seed);
	p->ppid = seed ? 100 : 1;
	p->pgid = 100;
	p->sid = 99;
	p->real_pid = 0;
	snprintf(p->comm, sizeof(p->comm), "proc%u", seed);
	p->cwd = fmt("/home/u%u/work%u", seed, seed);
	p->umask = 022;
	p->personality = 0x0040000 + seed;
	for (unsigned int i = 0; i < TC_NR_RLIMITS; i++) {
		p->rlimits[i].cur = i == 4 ? 0 : 1000 + i;
		p->rlimits[i].max = i % 2 ? ~0ull : 2000 + i;
	}
	for (unsigned int i = 0; i < TC_NSIG; i += 3) {
		p->sigactions[i].handler = i % 2 ? 1 : 0x401000 + i;
		p->sigactions[i].flags = 0x04000000 | i;
		p->sigactions[i].restorer = 0x7f0000001000ull + i;
		p->sigactions[i].mask = 1ull << i;
	}
	p->itimers[0] = (struct itimer_record){ 500000, 250000 + seed };
	p->itimers[2] = (struct itimer_record){ 0, 1000 };
	p->nr_shared_pending = 2;
	p->shared_pending = xcalloc(2, sizeof(*p->shared_pending));
	fill_bytes(p->shared_pending, 2 * sizeof(*p->shared_pending), seed + 99);

	p->mm = (struct mm_record){
		0x400000, 0x401000, 0x600000, 0x601000, 0x602000, 0x623000, 0x7ffd00000000,
		0x7ffd00001000, 0x7ffd00001020, 0x7ffd00001020, 0x7ffd00001100,
	};
	p->mm.auxv_len = 16 * 20;
	p->mm.auxv = xcalloc(1, p->mm.auxv_len);
	fill_bytes(p->mm.auxv, p->mm.auxv_len - 16, seed);
	p->mm.exe = fmt("/usr/bin/prog%u", seed);
	p->mm.exe_dev = 0x803;
	p->mm.exe_ino = 4242 + seed;
	sample_file_id(&p->mm.exe_id, seed + 200, 0);

	p->nr_threads = nr_threads;
	p->threads = xcalloc(nr_threads, sizeof(*p->threads));
	for (size_t i = 0; i < nr_threads; i++)
		sample_thread(&p->threads[i], seed, (unsigned int)i);
	p->nr_vmas = nr_vmas;
	p->vmas = xcalloc(nr_vmas, sizeof(*p->vmas));
	for (size_t i = 0; i < nr_vmas; i++)
		sample_vma(&p->vmas[i], seed, (unsigned int)i);
	p->nr_fds = nr_fds;
	p->fds = xcalloc(nr_fds, sizeof(*p->fds));
	for (size_t i = 0; i < nr_fds; i++)
		sample_fd(&p->fds[i], seed, (unsigned int)i);
}

void sample_computation(struct computation *c, size_t nr_procs)
{
	memset(c, 0, sizeof(*c));
	c->version = TC_FORMAT_VERSION;
	c->generation = 7;
	c->time_ns = 1700000000123456789ull;
	c->host = xstrdup("node-a");
	c->cmdline = xstrdup("./sim --steps 1000");
	c->cpu.flags = CPU_F_KNOWN;
	memcpy(c->cpu.vendor, "GenuineIntel", 12);
	c->cpu.family = 6;
	c->cpu.model = 85;
	c->cpu.leaf7_ebx = 1u << 16;
	c->cpu.xcr0 = 0xe7;
	c->cpu.xstate_size = 2696;
	c->nr_procs = nr_procs;
	c->procs = xcalloc(nr_procs, sizeof(*c->procs));
	for (size_t i = 0; i < nr_procs; i++)
		sample_process(&c->procs[i], (unsigned int)i, 1 + i, 6, 4);
}

#define CMP(field)                                                              \
	do {                                                                    \
		if (memcmp(&a->field, &b->field, sizeof(a->field))) {           \
			snprintf(why, len, "%s", #field);                       \
			return false;                                           \
		}                                                               \
	} while (0)

static bool str_eq(const char *x, const char *y)
{
	return (!x && !y) || (x && y && !strcmp(x, y));
}

static bool mem_eq(const void *x, size_t xl, const void *y, size_t yl)
{
	return xl == yl && (!xl || !memcmp(x, y, xl));
}

#define CMPSTR(field)                                                           \
	do {                                                                    \
		if (!str_eq(a->field, b->field)) {                              \
			snprintf(why, len, "%s", #field);                       \
			return false;                                           \
		}                                                               \
	} while (0)

static bool thread_equal(const struct thread_record *a, const struct thread_record *b,
			 char *why, size_t len)
{
	CMP(tid);
	CMP(regs);
	CMP(sigmask);
	CMP(altstack_sp);
	CMP(altstack_size);
	CMP(altstack_flags);
	CMP(clear_child_tid);
	CMP(robust_list);
	CMP(robust_len);
	CMP(rseq_addr);
	CMP(rseq_len);
	CMP(rseq_sig);
	CMP(comm);
	if (!mem_eq(a->xstate, a->xstate_len, b->xstate, b->xstate_len)) {
		snprintf(why, len, "thread xstate");
		return false;
	}
	if (!mem_eq(a->pending, a->nr_pending * sizeof(*a->pending), b->pending,
		    b->nr_pending * sizeof(*b->pending))) {
		snprintf(why, len, "thread pending");
		return false;
	}
	return true;
}

static bool vma_equal(const struct vma_record *a, const struct vma_record *b, char *why,
		      size_t len)
{
	CMP(start);
	CMP(end);
	CMP(pgoff);
	CMP(prot);
	CMP(flags);
	CMP(kind);
	CMP(dev);
	CMP(ino);
	CMPSTR(path);
	CMPSTR(name);
	CMP(file_id);
	CMP(huge_shift);
	return true;
}

static bool fd_equal(const struct fd_record *a, const struct fd_record *b, bool with_content,
		     char *why, size_t len)
{
	CMP(fd);
	CMP(kind);
	CMP(flags);
	CMP(cloexec);
	CMP(pos);
	CMP(stdio_index);
	CMP(mode);
	CMP(dev);
	CMP(ino);
	CMP(size);
	CMPSTR(path);
	CMP(file_id);
	CMP(deleted);
	if (with_content) {
		CMPSTR(content);
		CMP(content_off);
		CMP(content_len);
	}
	return true;
}

bool process_equal(const struct process_record *a, const struct process_record *b,
		   bool with_content, char *why, size_t len)
{
	CMP(pid);
	CMP(ppid);
	CMP(pgid);
	CMP(sid);
	CMP(comm);
	CMPSTR(cwd);
	CMP(umask);
	CMP(personality);
	CMP(rlimits);
	CMP(sigactions);
	CMP(itimers);
	if (!mem_eq(a->shared_pending, a->nr_shared_pending * sizeof(*a->shared_pending),
		    b->shared_pending, b->nr_shared_pending * sizeof(*b->shared_pending))) {
		snprintf(why, len, "shared_pending");
		return false;
	}
	CMP(mm.start_code);
	CMP(mm.end_code);
	CMP(mm.start_data);
	CMP(mm.end_data);
	CMP(mm.start_brk);
	CMP(mm.brk);
	CMP(mm.start_stack);
	CMP(mm.arg_start);
	CMP(mm.arg_end);
	CMP(mm.env_start);
	CMP(mm.env_end);
	CMPSTR(mm.exe);
	CMP(mm.exe_dev);
	CMP(mm.exe_ino);
	CMP(mm.exe_id);
	if (!mem_eq(a->mm.auxv, a->mm.auxv_len, b->mm.auxv, b->mm.auxv_len)) {
		snprintf(why, len, "mm.auxv");
		return false;
	}
	CMP(nr_threads);
	for (size_t i = 0; i < a->nr_threads; i++)
		if (!thread_equal(&a->threads[i], &b->threads[i], why, len))
			return false;
	CMP(nr_vmas);
	for (size_t i = 0; i < a->nr_vmas; i++)
		if (!vma_equal(&a->vmas[i], &b->vmas[i], why, len))
			return false;
	CMP(nr_fds);
	for (size_t i = 0; i < a->nr_fds; i++)
		if (!fd_equal(&a->fds[i], &b->fds[i], with_content, why, len))
			return false;
	return true;
}

static int fake_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct fake_mem *fm = ctx;
	unsigned char *c = buf;

	if (addr % 4096 || len % 4096 || (uintptr_t)buf % 4096)
		return -EINVAL;
	fm->calls++;
	if (fm->fail_at_call && fm->calls == fm->fail_at_call)
		return -EFAULT;
	for (size_t i = 0; i < len; i++)
		c[i] = pattern_byte(pid, addr + i);
	return 0;
}

void fake_mem_reader(struct mem_reader *mr, struct fake_mem *fm)
{
	*mr = (struct mem_reader){ .read = fake_read, .ctx = fm };
}

char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/tc-unit-XXXXXX", base) < 0)
		abort();
	if (!mkdtemp(path))
		abort();
	return path;
}
