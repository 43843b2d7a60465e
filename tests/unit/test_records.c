/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "check_main.h"
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/fdkind.h"
#include "proto/record.h"
#include "sample.h"

/* Decoders are handed 8-aligned copies, as the image reader does. */
static uint8_t *copy_of(const struct tlv_buf *b, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(c);
	memcpy(c, b->data, len);
	return c;
}

START_TEST(process_round_trip)
{
	struct process_record a, b;
	struct tlv_buf buf = { 0 };
	char why[64] = "";

	sample_process(&a, 3, 4, 20, 6);
	/* Two fds' ranges of one content file; offsets and lengths past 4 GiB. */
	a.fds[3].content = strdup("shared/fds-103");
	a.fds[3].content_off = (1ull << 40) + 5;
	a.fds[3].content_len = 0x123456789ull;
	a.fds[5].content = strdup("shared/fds-103");
	a.fds[5].content_len = 7;
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_msg(process_equal(&a, &b, true, why, sizeof(why)), "differs: %s", why);
	ck_assert_uint_eq(b.fds[3].content_off, (1ull << 40) + 5);
	ck_assert_uint_eq(b.fds[3].content_len, 0x123456789ull);
	ck_assert_uint_eq(b.fds[5].content_off, 0);
	ck_assert_uint_eq(b.fds[5].content_len, 7);
	ck_assert_uint_eq(b.fds[0].content_len, 0);
	for (size_t i = 0; i < b.nr_fds; i++)
		ck_assert_int_eq(b.fds[i].content_fd, -1);
	ck_assert_uint_eq(b.nr_runs, 0);
	ck_assert_ptr_null(b.core_path);
	process_record_free(&a);
	process_record_free(&b);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(creds_round_trip)
{
	struct process_record a = { 0 }, b;
	struct tlv_buf buf = { 0 };
	uint32_t groups[] = { 24, 27, 1000 };

	a.creds = (struct creds_record){
		.valid = 1, .uid = { 1000, 0, 1000, 0 }, .gid = { 1000, 1000, 5, 1000 },
		.cap_inh = 1, .cap_prm = 0x3, .cap_eff = 0x2, .cap_bnd = 0x1ffffffffffull,
		.cap_amb = 1, .securebits = 0x10, .dumpable = 1,
	};
	a.creds.groups = malloc(sizeof(groups));
	memcpy(a.creds.groups, groups, sizeof(groups));
	a.creds.groups_len = sizeof(groups);
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_uint_eq(b.creds.valid, 1);
	ck_assert_mem_eq(b.creds.uid, a.creds.uid, sizeof(a.creds.uid));
	ck_assert_mem_eq(b.creds.gid, a.creds.gid, sizeof(a.creds.gid));
	ck_assert_uint_eq(b.creds.groups_len, sizeof(groups));
	ck_assert_mem_eq(b.creds.groups, groups, sizeof(groups));
	ck_assert_uint_eq(b.creds.cap_inh, 1);
	ck_assert_uint_eq(b.creds.cap_prm, 3);
	ck_assert_uint_eq(b.creds.cap_eff, 2);
	ck_assert_uint_eq(b.creds.cap_bnd, 0x1ffffffffffull);
	ck_assert_uint_eq(b.creds.cap_amb, 1);
	ck_assert_uint_eq(b.creds.securebits, 0x10);
	ck_assert_uint_eq(b.creds.dumpable, 1);
	process_record_free(&a);
	process_record_free(&b);
	tlv_buf_free(&buf);

	/* Root with nothing else set is still credentials, not their absence. */
	memset(&a, 0, sizeof(a));
	a.creds.valid = 1;
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_uint_eq(b.creds.valid, 1);
	ck_assert_uint_eq(b.creds.uid[0], 0);
	process_record_free(&b);
	tlv_buf_free(&buf);

	/* An image from before: no credentials at all. */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_uint_eq(b.creds.valid, 0);
	process_record_free(&b);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(creds_groups_of_odd_length)
{
	struct tlv_buf buf = { 0 };
	struct process_record b;
	long nest;
	uint8_t three[3] = { 1, 2, 3 };

	nest = tlv_nest_start(&buf, PROC_A_CREDS);
	tlv_put(&buf, CRED_A_GROUPS, three, sizeof(three));
	tlv_nest_end(&buf, nest);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), -EBADMSG);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(empty_process)
{
	struct process_record a = { 0 }, b;
	struct tlv_buf buf = { 0 };
	char why[64] = "";

	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_msg(process_equal(&a, &b, true, why, sizeof(why)), "differs: %s", why);
	ck_assert_ptr_null(b.threads);
	ck_assert_ptr_null(b.cwd);
	process_record_free(&b);
	tlv_buf_free(&buf);
	/* An empty buffer is an empty record. */
	ck_assert_int_eq(process_record_decode(NULL, 0, &b), 0);
	process_record_free(&b);
}
END_TEST

START_TEST(empty_strings_stay_empty)
{
	struct process_record a, b;
	struct tlv_buf buf = { 0 };

	sample_process(&a, 1, 1, 1, 1);
	free(a.cwd);
	a.cwd = strdup("");
	free(a.vmas[0].path);
	a.vmas[0].path = NULL;
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_ptr_nonnull(b.cwd);
	ck_assert_str_eq(b.cwd, "");
	ck_assert_ptr_null(b.vmas[0].path);
	process_record_free(&a);
	process_record_free(&b);
	tlv_buf_free(&buf);
}
END_TEST

/*
 * Every member the record's field table encodes came back as it was: the
 * kind-specific ones too, not only the common part before path.
 */
static void fd_same_part(const struct fd_record *a, const struct fd_record *b,
			 const struct field *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ma = (const uint8_t *)a + t[i].off, *mb = (const uint8_t *)b + t[i].off;

		if (t[i].kind == FK_STR) {
			const char *sa, *sb;

			memcpy(&sa, ma, sizeof(sa));
			memcpy(&sb, mb, sizeof(sb));
			ck_assert_msg(!sa == !sb && (!sa || !strcmp(sa, sb)),
				      "fd %d attribute %u: string", a->fd, t[i].type);
		} else if (t[i].kind == FK_BLOB) {
			const uint8_t *ba, *bb;
			uint32_t la, lb;

			memcpy(&ba, ma, sizeof(ba));
			memcpy(&bb, mb, sizeof(bb));
			memcpy(&la, (const uint8_t *)a + t[i].size, sizeof(la));
			memcpy(&lb, (const uint8_t *)b + t[i].size, sizeof(lb));
			ck_assert_msg(la == lb && (!la || !memcmp(ba, bb, la)),
				      "fd %d attribute %u: blob", a->fd, t[i].type);
		} else if (t[i].kind == FK_BOOL) {
			ck_assert_msg(*(const bool *)ma == *(const bool *)mb,
				      "fd %d attribute %u: bool", a->fd, t[i].type);
		} else {
			ck_assert_msg(!memcmp(ma, mb, t[i].size), "fd %d attribute %u: %zu bytes",
				      a->fd, t[i].type, t[i].size);
		}
	}
}

static void fd_same(const struct fd_record *a, const struct fd_record *b)
{
	size_t nr_parts;
	const struct field_table *const *parts = fd_record_parts(&nr_parts);

	for (size_t i = 0; i < nr_parts; i++)
		fd_same_part(a, b, parts[i]->fields, parts[i]->n);
}

START_TEST(each_record_round_trip)
{
	struct process_record p;
	struct tlv_buf buf = { 0 };
	const struct tlv_attr *a;
	char why[64] = "";

	sample_process(&p, 5, 3, 8, 5);
	for (size_t i = 0; i < p.nr_vmas; i++) {
		struct vma_record v = { 0 };

		tlv_buf_free(&buf);
		ck_assert_int_eq(vma_record_encode(&buf, 77, &p.vmas[i]), 0);
		a = (const struct tlv_attr *)buf.data;
		ck_assert_uint_eq(a->type, 77);
		ck_assert_int_eq(vma_record_decode(a, &v), 0);
		ck_assert_mem_eq(&v, &p.vmas[i], offsetof(struct vma_record, path));
		ck_assert_int_eq(!v.path, !p.vmas[i].path);
		if (v.path)
			ck_assert_str_eq(v.path, p.vmas[i].path);
		if (v.name)
			ck_assert_str_eq(v.name, p.vmas[i].name);
		ck_assert_uint_eq(v.huge_shift, p.vmas[i].huge_shift);
		vma_record_free(&v);
	}
	for (size_t i = 0; i < p.nr_threads; i++) {
		struct process_record x = { 0 }, y = { 0 };
		struct thread_record t = { 0 };

		tlv_buf_free(&buf);
		ck_assert_int_eq(thread_record_encode(&buf, 1, &p.threads[i]), 0);
		ck_assert_int_eq(thread_record_decode((const struct tlv_attr *)buf.data, &t), 0);
		x.nr_threads = y.nr_threads = 1;
		x.threads = &p.threads[i];
		y.threads = &t;
		ck_assert_msg(process_equal(&x, &y, true, why, sizeof(why)), "thread %zu: %s", i, why);
		thread_record_free(&t);
	}
	for (size_t i = 0; i < p.nr_fds; i++) {
		struct fd_record f = { 0 };

		tlv_buf_free(&buf);
		ck_assert_int_eq(fd_record_encode(&buf, 1, &p.fds[i]), 0);
		ck_assert_int_eq(fd_record_decode((const struct tlv_attr *)buf.data, &f), 0);
		ck_assert_mem_eq(&f, &p.fds[i], offsetof(struct fd_record, path));
		ck_assert_str_eq(f.path, p.fds[i].path);
		ck_assert_int_eq(f.deleted, p.fds[i].deleted);
		fd_same(&p.fds[i], &f);
		ck_assert_int_eq(f.content_fd, -1);
		fd_record_free(&f);
	}
	{
		struct mm_record m = { 0 };

		tlv_buf_free(&buf);
		ck_assert_int_eq(mm_record_encode(&buf, 1, &p.mm), 0);
		ck_assert_int_eq(mm_record_decode((const struct tlv_attr *)buf.data, &m), 0);
		ck_assert_mem_eq(&m, &p.mm, offsetof(struct mm_record, auxv));
		ck_assert_uint_eq(m.auxv_len, p.mm.auxv_len);
		ck_assert_mem_eq(m.auxv, p.mm.auxv, m.auxv_len);
		ck_assert_str_eq(m.exe, p.mm.exe);
		ck_assert_uint_eq(m.exe_ino, p.mm.exe_ino);
		mm_record_free(&m);
	}
	for (int sig = 1; sig <= TC_NSIG; sig++) {
		struct sigaction_record s;
		int got;

		tlv_buf_free(&buf);
		ck_assert_int_eq(sigaction_record_encode(&buf, 1, sig, &p.sigactions[sig - 1]), 0);
		ck_assert_int_eq(sigaction_record_decode((const struct tlv_attr *)buf.data, &got, &s), 0);
		ck_assert_int_eq(got, sig);
		ck_assert_mem_eq(&s, &p.sigactions[sig - 1], sizeof(s));
	}
	for (unsigned int i = 0; i < TC_NR_RLIMITS; i++) {
		struct rlimit_record rl;
		unsigned int res;

		tlv_buf_free(&buf);
		ck_assert_int_eq(rlimit_record_encode(&buf, 1, i, &p.rlimits[i]), 0);
		ck_assert_int_eq(rlimit_record_decode((const struct tlv_attr *)buf.data, &res, &rl), 0);
		ck_assert_uint_eq(res, i);
		ck_assert_mem_eq(&rl, &p.rlimits[i], sizeof(rl));
	}
	for (unsigned int i = 0; i < 3; i++) {
		struct itimer_record it;
		unsigned int which;

		tlv_buf_free(&buf);
		ck_assert_int_eq(itimer_record_encode(&buf, 1, i, &p.itimers[i]), 0);
		ck_assert_int_eq(itimer_record_decode((const struct tlv_attr *)buf.data, &which, &it), 0);
		ck_assert_uint_eq(which, i);
		ck_assert_mem_eq(&it, &p.itimers[i], sizeof(it));
	}
	tlv_buf_free(&buf);
	process_record_free(&p);
}
END_TEST

START_TEST(out_of_range_refused)
{
	struct sigaction_record s = { 0 };
	struct rlimit_record rl = { 0 };
	struct itimer_record it = { 0 };
	struct tlv_buf buf = { 0 };
	unsigned int u;
	long n;
	int sig;

	ck_assert_int_eq(sigaction_record_encode(&buf, 1, 0, &s), -EINVAL);
	ck_assert_int_eq(sigaction_record_encode(&buf, 1, TC_NSIG + 1, &s), -EINVAL);
	ck_assert_int_eq(rlimit_record_encode(&buf, 1, TC_NR_RLIMITS, &rl), -EINVAL);
	ck_assert_int_eq(itimer_record_encode(&buf, 1, 3, &it), -EINVAL);

	/* Hand-made nests with indexes a decoder must not use. */
	n = tlv_nest_start(&buf, 1);
	tlv_put_u32(&buf, SIGACT_A_SIGNO, TC_NSIG + 1);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(sigaction_record_decode((const struct tlv_attr *)buf.data, &sig, &s), -EBADMSG);
	tlv_buf_free(&buf);
	n = tlv_nest_start(&buf, 1);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(sigaction_record_decode((const struct tlv_attr *)buf.data, &sig, &s), -EBADMSG);
	tlv_buf_free(&buf);
	n = tlv_nest_start(&buf, 1);
	tlv_put_u32(&buf, RLIM_A_RESOURCE, TC_NR_RLIMITS);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(rlimit_record_decode((const struct tlv_attr *)buf.data, &u, &rl), -EBADMSG);
	tlv_buf_free(&buf);
	n = tlv_nest_start(&buf, 1);
	tlv_put_u32(&buf, ITIMER_A_WHICH, 3);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(itimer_record_decode((const struct tlv_attr *)buf.data, &u, &it), -EBADMSG);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(wrong_sizes_refused)
{
	struct process_record p;
	struct tlv_buf buf = { 0 };
	long n;
	uint8_t regs[100] = { 0 };

	/* regs of another size */
	n = tlv_nest_start(&buf, PROC_A_THREAD);
	tlv_put(&buf, THREAD_A_REGS, regs, sizeof(regs));
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &p), -EBADMSG);
	ck_assert_ptr_null(p.threads);
	tlv_buf_free(&buf);
	/* a u32 stored as u64 */
	tlv_put_u64(&buf, PROC_A_PID, 5);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &p), -EBADMSG);
	tlv_buf_free(&buf);
	/* a siginfo of the wrong size */
	tlv_put(&buf, PROC_A_SHARED_PENDING, regs, sizeof(regs));
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &p), -EBADMSG);
	tlv_buf_free(&buf);
	/* a bool that is neither 0 nor 1 */
	n = tlv_nest_start(&buf, PROC_A_FD);
	tlv_put_u32(&buf, FD_A_DELETED, 2);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &p), -EBADMSG);
	tlv_buf_free(&buf);
	/* a string without its NUL, deep inside, after allocations were made */
	sample_process(&p, 1, 2, 3, 2);
	process_record_encode(&buf, &p);
	process_record_free(&p);
	n = tlv_nest_start(&buf, PROC_A_VMA);
	tlv_put(&buf, VMA_A_PATH, "abc", 3);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &p), -EBADMSG);
	ck_assert_ptr_null(p.vmas);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(unknown_attributes_skipped)
{
	struct process_record a, b;
	struct tlv_buf buf = { 0 };
	char why[64] = "";
	long n;

	sample_process(&a, 2, 2, 3, 2);
	/* A future writer's attributes, around and between ours. */
	tlv_put(&buf, 5000, "xyz", 3);
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	tlv_put_u64(&buf, PROC_A_MAX + 1, 42);
	n = tlv_nest_start(&buf, PROC_A_MAX + 2);
	tlv_put_u32(&buf, 1, 1);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_msg(process_equal(&a, &b, true, why, sizeof(why)), "differs: %s", why);
	process_record_free(&b);
	tlv_buf_free(&buf);

	/* Same inside a thread nest: encode a thread by hand with an extra type. */
	n = tlv_nest_start(&buf, PROC_A_THREAD);
	tlv_put_u32(&buf, THREAD_A_TID, 77);
	tlv_put_u64(&buf, THREAD_A_MAX + 5, 1);
	tlv_nest_end(&buf, n);
	ck_assert_int_eq(process_record_decode(buf.data, buf.len, &b), 0);
	ck_assert_uint_eq(b.nr_threads, 1);
	ck_assert_int_eq(b.threads[0].tid, 77);
	process_record_free(&b);
	tlv_buf_free(&buf);
	process_record_free(&a);
}
END_TEST

START_TEST(truncated_process)
{
	struct process_record a, b;
	struct tlv_buf buf = { 0 };

	sample_process(&a, 4, 2, 4, 3);
	ck_assert_int_eq(process_record_encode(&buf, &a), 0);
	/* Every cut is either at an attribute boundary or refused; never a crash or leak. */
	for (size_t len = 0; len < buf.len; len++) {
		uint8_t *c = copy_of(&buf, len);
		int r = process_record_decode(c, len, &b);

		ck_assert_msg(r == 0 || r == -EBADMSG, "len %zu: %d", len, r);
		process_record_free(&b);
		free(c);
	}
	process_record_free(&a);
	tlv_buf_free(&buf);
}
END_TEST

START_TEST(free_twice_is_harmless)
{
	struct process_record p;
	struct computation c;

	sample_process(&p, 1, 2, 2, 2);
	process_record_free(&p);
	process_record_free(&p);
	process_record_free(NULL);
	sample_computation(&c, 3);
	computation_free(&c);
	computation_free(&c);
	computation_destroy(NULL);
}
END_TEST

static void set_addr(uint8_t *sa, const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	memset(sa, 0, 28);
	memcpy(sa, &a, sizeof(a));
}

/* A drained connection's path, half-closed state and options survive the image. */
START_TEST(drained_tcp_round_trip)
{
	struct fd_record f = { .fd = 4, .kind = FD_INET, .inet.family = AF_INET,
			       .sock.type = 1, .inet.state = 5, .inet.tcp_drained = 1,
			       .inet.tcp_shut_wr = 1, .inet.tcp_cork = 1, .sock.buf_lock = 3, .inet.tcp_peer_gone = 1,
			       .sock.sndbuf = 8192, .sock.nodelay = 1 }, g = { 0 };
	struct tlv_buf buf = { 0 };

	set_addr(f.inet.local, "127.0.0.1", 5000);
	set_addr(f.inet.remote, "127.0.0.2", 41000);
	ck_assert_int_eq(fd_record_encode(&buf, 1, &f), 0);
	ck_assert_int_eq(fd_record_decode((const struct tlv_attr *)buf.data, &g), 0);
	ck_assert_uint_eq(g.inet.tcp_drained, 1);
	ck_assert_uint_eq(g.inet.tcp_shut_wr, 1);
	ck_assert_uint_eq(g.inet.tcp_cork, 1);
	ck_assert_uint_eq(g.sock.buf_lock, 3);
	ck_assert_uint_eq(g.inet.tcp_peer_gone, 1);
	ck_assert_uint_eq(g.inet.state, 5);
	ck_assert_uint_eq(g.sock.sndbuf, 8192);
	ck_assert_mem_eq(g.inet.local, f.inet.local, 28);
	ck_assert_mem_eq(g.inet.remote, f.inet.remote, 28);
	ck_assert(!g.inet.tcp_consumed);	/* collector only */
	fd_record_free(&g);
	tlv_buf_free(&buf);
}
END_TEST

/* The other end of a drained connection is found by its swapped addresses, never itself. */
START_TEST(drained_tcp_peer)
{
	struct fd_record fds[3] = { 0 };
	struct process_record procs[2] = { { .nr_fds = 2, .fds = fds }, { .nr_fds = 1, .fds = fds + 2 } };
	struct computation c = { .nr_procs = 2, .procs = procs };
	char s[INET_ADDR_STR_MAX];

	for (int i = 0; i < 3; i++) {
		fds[i].kind = FD_INET;
		fds[i].inet.tcp_drained = 1;
	}
	set_addr(fds[0].inet.local, "127.0.0.1", 5000);
	set_addr(fds[0].inet.remote, "127.0.0.1", 41000);
	memcpy(fds[1].inet.local, fds[0].inet.local, 28);	/* a dup of fd 0: not its peer */
	memcpy(fds[1].inet.remote, fds[0].inet.remote, 28);
	memcpy(fds[2].inet.local, fds[0].inet.remote, 28);
	memcpy(fds[2].inet.remote, fds[0].inet.local, 28);
	ck_assert_ptr_eq(fd_record_tcp_peer(&c, &fds[0]), &fds[2]);
	ck_assert_ptr_eq(fd_record_tcp_peer(&c, &fds[2]), &fds[0]);
	fds[2].inet.tcp_drained = 0;	/* repaired: not a drained peer */
	ck_assert_ptr_null(fd_record_tcp_peer(&c, &fds[0]));
	inet_addr_str(fds[0].inet.local, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1:5000");
	/* A dual-stack listener's end sees its IPv4 peer as ::ffff:127.0.0.1. */
	{
		struct sockaddr_in6 m = { .sin6_family = AF_INET6, .sin6_port = htons(41000) };

		ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr), 1);
		memset(fds[2].inet.local, 0, 28);
		memcpy(fds[2].inet.local, &m, sizeof(m));
		m.sin6_port = htons(5000);
		memset(fds[2].inet.remote, 0, 28);
		memcpy(fds[2].inet.remote, &m, sizeof(m));
		fds[2].inet.tcp_drained = 1;
		ck_assert_ptr_eq(fd_record_tcp_peer(&c, &fds[0]), &fds[2]);
		ck_assert(inet_same_endpoint(fds[2].inet.local, fds[0].inet.remote));
		ck_assert(!inet_same_endpoint(fds[2].inet.local, fds[0].inet.local));
		inet_addr_str(fds[2].inet.local, s, sizeof(s));
		ck_assert_str_eq(s, "[::ffff:127.0.0.1]:41000");
	}
}
END_TEST

static uint8_t *blob_of(const void *data, uint32_t len)
{
	uint8_t *b = malloc(len);

	ck_assert_ptr_nonnull(b);
	memcpy(b, data, len);
	return b;
}

/* A record of kind k with the members its collector sets, as a dump would have them. */
static void sample_of_kind(struct fd_record *f, uint32_t k)
{
	static const struct epoll_watch watches[] = { { 3, 0x80000001u, 7 }, { 5, 4, 1ull << 40 } };
	static const uint8_t inotify[] = { 1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, '/', 't', 'm', 'p', 0,
					   0, 0, 0 };
	static const uint64_t pending[] = { 91001, 91002 };
	static const struct file_lock_record lock = { FILE_LOCK_OFD, 1, 10, 20 };
	static const uint8_t termios[60] = { 1, 2, 3, 4, 5 };

	memset(f, 0, sizeof(*f));
	f->fd = 3 + (int32_t)k;
	f->kind = k;
	f->flags = 04002;
	f->desc_id = 100 + k;
	f->content_fd = -1;
	switch (k) {
	case FD_REGULAR:
		f->path = strdup("/tmp/data");
		f->mode = 0100600;
		f->pos = 123;
		f->locks = blob_of(&lock, sizeof(lock));
		f->locks_len = sizeof(lock);
		f->file_id.size = 4096;
		break;
	case FD_STDIO:
		f->stdio_index = 2;
		f->tty.termios = blob_of(termios, sizeof(termios));
		f->tty.termios_len = sizeof(termios);
		break;
	case FD_DEVICE:
		f->path = strdup("/dev/null");
		f->mode = 020666;
		break;
	case FD_PIPE:
		f->pipe.ino = 77001;
		f->pipe.size = 65536;
		f->content = strdup("shared/fds-1");
		f->content_len = 7;
		break;
	case FD_EVENTFD:
		f->eventfd.count = 0xfffffffffffffffeull;
		f->eventfd.semaphore = 1;
		break;
	case FD_SIGNALFD:
		f->signalfd.mask = 1ull << 63 | 1ull << 9;
		break;
	case FD_TIMERFD:
		f->timerfd.clock = 7;
		f->timerfd.flags = 1;
		f->timerfd.ticks = 3;
		f->timerfd.value_ns = 1500000000ull;
		f->timerfd.interval_ns = 250000000ull;
		break;
	case FD_EPOLL:
		f->epoll.watches = blob_of(watches, sizeof(watches));
		f->epoll.watches_len = sizeof(watches);
		break;
	case FD_UNIX:
		f->sock.type = 5;
		f->sock.ino = 90001;
		f->sock.peer_ino = 90002;
		f->sock.passcred = 1;
		f->sock.sndbuf = 212992;
		f->sock.rcvbuf = 106496;
		f->sock.state = 10;
		f->sock.name = blob_of("\0abstract", 9);
		f->sock.name_len = 9;
		f->sock.dir = strdup("/run/app");
		f->sock.file_mode = 0755;
		f->sock.unlinked = 1;
		f->sock.backlog = 64;
		f->sock.pending = blob_of(pending, sizeof(pending));
		f->sock.pending_len = sizeof(pending);
		f->sock.queue_from = 1;
		f->sock.queue_fds = 1;
		f->sock.peer_name = blob_of("/run/peer", 9);
		f->sock.peer_name_len = 9;
		f->content = strdup("shared/fds-1");
		f->content_off = 7;
		f->content_len = 4096;
		break;
	case FD_INOTIFY:
		f->inotify.watches = blob_of(inotify, sizeof(inotify));
		f->inotify.watches_len = sizeof(inotify);
		break;
	case FD_INET:
		f->sock.type = 1;
		f->inet.family = AF_INET;
		f->inet.state = 1;
		set_addr(f->inet.local, "10.0.0.1", 8080);
		set_addr(f->inet.remote, "10.0.0.2", 50000);
		f->inet.backlog = 128;
		f->inet.tcp_snd_seq = 0xfedcba98u;
		f->inet.tcp_rcv_seq = 0x01234567u;
		f->inet.tcp_mss = 1448;
		f->inet.tcp_snd_wscale = 7;
		f->inet.tcp_rcv_wscale = 9;
		f->inet.tcp_options = 7;
		f->inet.tcp_timestamp = 424242;
		for (int i = 0; i < 5; i++)
			f->inet.tcp_window[i] = 1000u * (uint32_t)(i + 1);
		f->sock.nodelay = 1;
		f->sock.reuseaddr = 1;
		f->sock.keepalive = 1;
		f->sock.v6only = 1;
		f->inet.tcp_drained = 1;
		f->inet.tcp_shut_wr = 1;
		f->inet.tcp_cork = 1;
		f->sock.buf_lock = 3;
		f->inet.tcp_peer_gone = 1;
		f->inet.tcp_remote = TCP_REMOTE_ACCEPTS;
		f->content = strdup("shared/fds-1");
		f->content_off = 0xfffffffffffff000ull;
		f->content_len = 0xfffull;
		break;
	case FD_TTY:
		f->tty.kind = TTY_MASTER;
		f->tty.index = 4;
		f->tty.termios = blob_of(termios, sizeof(termios));
		f->tty.termios_len = sizeof(termios);
		f->tty.rows = 50;
		f->tty.cols = 132;
		f->tty.xpixel = 800;
		f->tty.ypixel = 600;
		f->tty.locked = 1;
		f->tty.packet = 1;
		f->tty.fg_pgrp = 42;
		f->tty.sid = 41;
		break;
	case FD_DEAD_END:
		f->sock.ino = 93001;
		break;
	default:
		ck_abort_msg("kind %u has no sample", k);
	}
}

/* Every member the sample set is one the field table encodes (none left out of it). */
static void all_in_table(const struct fd_record *a)
{
	static const struct fd_record zero = { .content_fd = -1 };
	struct fd_record x;
	size_t nr_parts;
	const struct field_table *const *parts = fd_record_parts(&nr_parts);

	memcpy(&x, a, sizeof(x));
	for (size_t p = 0; p < nr_parts; p++)
		for (size_t i = 0; i < parts[p]->n; i++) {
			const struct field *t = &parts[p]->fields[i];
			uint8_t *m = (uint8_t *)&x + t->off;
			size_t len = t->kind == FK_STR || t->kind == FK_BLOB ? sizeof(void *) : t->size;

			memset(m, 0, len);
			if (t->kind == FK_BLOB)
				memset((uint8_t *)&x + t->size, 0, sizeof(uint32_t));
		}
	ck_assert_msg(!memcmp(&x, &zero, sizeof(x)), "fd kind %u: a member not in the field table",
		      a->kind);
}

/* Each kind's own members survive the image, every kind of the table. */
START_TEST(every_kind_round_trip)
{
	for (uint32_t k = 1; k <= FD_KIND_MAX; k++) {
		struct fd_record a, b = { 0 };
		struct tlv_buf buf = { 0 };

		ck_assert_ptr_nonnull(fd_kind_info(k));
		sample_of_kind(&a, k);
		all_in_table(&a);
		ck_assert_int_eq(fd_record_encode(&buf, 1, &a), 0);
		ck_assert_int_eq(fd_record_decode((const struct tlv_attr *)buf.data, &b), 0);
		fd_same(&a, &b);
		ck_assert_int_eq(b.content_fd, -1);
		fd_record_free(&a);
		fd_record_free(&b);
		tlv_buf_free(&buf);
	}
	ck_assert_ptr_null(fd_kind_info(0));
	ck_assert_ptr_null(fd_kind_info(FD_KIND_MAX + 1));
	ck_assert_str_eq(fd_kind_name(FD_KIND_MAX + 1), "?");
}
END_TEST

/*
 * Images from before read the same: the numbers of the fd record's
 * attributes are the format's, never renumbered (image-format.md).
 */
START_TEST(fd_attribute_numbers_fixed)
{
	static const uint32_t numbers[][2] = {
		{ FD_A_FD, 1 }, { FD_A_KIND, 2 }, { FD_A_PATH, 11 }, { FD_A_CONTENT, 13 },
		{ FD_A_DESC_ID, 14 }, { FD_A_PIPE_INO, 15 }, { FD_A_PIPE_SIZE, 16 },
		{ FD_A_EVENTFD_COUNT, 17 }, { FD_A_SIGNALFD_MASK, 19 }, { FD_A_TIMERFD_CLOCK, 20 },
		{ FD_A_TIMERFD_INTERVAL, 24 }, { FD_A_EPOLL_WATCHES, 25 }, { FD_A_SOCK_TYPE, 26 },
		{ FD_A_SOCK_RCVBUF, 31 }, { FD_A_INOTIFY_WATCHES, 32 }, { FD_A_INET_FAMILY, 33 },
		{ FD_A_INET_REMOTE, 36 }, { FD_A_TCP_SND_SEQ, 38 }, { FD_A_TCP_WINDOW, 45 },
		{ FD_A_SOCK_STATE, 49 }, { FD_A_PEER_NAME, 56 }, { FD_A_TTY_KIND, 57 },
		{ FD_A_TTY_SID, 67 }, { FD_A_LOCKS, 68 }, { FD_A_SOCK_V6ONLY, 69 },
		{ FD_A_IN_FLIGHT, 72 }, { FD_A_FILE_ID, 73 }, { FD_A_TCP_DRAINED, 74 },
		{ FD_A_TCP_REMOTE, 79 }, { FD_A_CONTENT_OFF, 80 }, { FD_A_CONTENT_LEN, 81 },
		{ FD_A_MAX, 81 },
	};
	struct tlv_buf buf = { 0 };
	struct fd_record f = { 0 };
	long nest;

	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		ck_assert_msg(numbers[i][0] == numbers[i][1], "attribute %u is now %u",
			      numbers[i][1], numbers[i][0]);
	/* A record written by hand with the format's numbers. */
	nest = tlv_nest_start(&buf, 1);
	tlv_put_u32(&buf, 2, FD_INET);
	tlv_put_u32(&buf, 38, 0xabcdef01u);
	tlv_put_u32(&buf, 57, TTY_SLAVE);
	tlv_put_u32(&buf, 79, TCP_REMOTE_CONNECTS);
	tlv_put_u64(&buf, 80, 1ull << 33);
	tlv_put_u64(&buf, 81, 12345);
	tlv_nest_end(&buf, nest);
	ck_assert_int_eq(fd_record_decode((const struct tlv_attr *)buf.data, &f), 0);
	ck_assert_uint_eq(f.kind, FD_INET);
	ck_assert_uint_eq(f.inet.tcp_snd_seq, 0xabcdef01u);
	ck_assert_uint_eq(f.tty.kind, TTY_SLAVE);
	ck_assert_uint_eq(f.inet.tcp_remote, TCP_REMOTE_CONNECTS);
	ck_assert_uint_eq(f.content_off, 1ull << 33);
	ck_assert_uint_eq(f.content_len, 12345);
	fd_record_free(&f);
	tlv_buf_free(&buf);
}
END_TEST

static Suite *records_suite(void)
{
	Suite *s = suite_create("records");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, process_round_trip);
	tcase_add_test(tc, empty_process);
	tcase_add_test(tc, empty_strings_stay_empty);
	tcase_add_test(tc, each_record_round_trip);
	tcase_add_test(tc, out_of_range_refused);
	tcase_add_test(tc, wrong_sizes_refused);
	tcase_add_test(tc, unknown_attributes_skipped);
	tcase_add_test(tc, truncated_process);
	tcase_add_test(tc, free_twice_is_harmless);
	tcase_add_test(tc, creds_round_trip);
	tcase_add_test(tc, creds_groups_of_odd_length);
	tcase_add_test(tc, drained_tcp_round_trip);
	tcase_add_test(tc, drained_tcp_peer);
	tcase_add_test(tc, every_kind_round_trip);
	tcase_add_test(tc, fd_attribute_numbers_fixed);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(records_suite)
