/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fdindex.h"
#include "proto/model.h"
#include "proto/record.h"

bool computation_holds_unix_name(const struct computation *c, const uint8_t *name, uint32_t len)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_UNIX && o->sock.name_len == len &&
			    !memcmp(o->sock.name, name, len))
				return true;
		}
	return false;
}

bool fd_record_peer_outside(const struct computation *c, const struct fd_record *f)
{
	if (f->kind != FD_INET || f->inet.state != 1 /* TCP_ESTABLISHED */)
		return false;
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_INET && o->inet.state == 1 &&
			    !memcmp(o->inet.local, f->inet.remote, sizeof(o->inet.local)) &&
			    !memcmp(o->inet.remote, f->inet.local, sizeof(o->inet.remote)))
				return false;
		}
	return true;
}

/* Port and address as IPv4 when it is one (also ::ffff:a.b.c.d), else IPv6. */
static void endpoint_of(const uint8_t *sa, uint8_t out[18])
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;

	memset(out, 0, 18);
	memcpy(&a6, sa, sizeof(a6));
	if (a6.sin6_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
		memcpy(out, &a6.sin6_port, 2);
		memcpy(out + 2, &a6.sin6_addr, 16);
		return;
	}
	if (a6.sin6_family == AF_INET6) {
		memcpy(out, &a6.sin6_port, 2);
		memcpy(out + 14, (const uint8_t *)&a6.sin6_addr + 12, 4);
		return;
	}
	memcpy(&a4, sa, sizeof(a4));
	memcpy(out, &a4.sin_port, 2);
	memcpy(out + 14, &a4.sin_addr, 4);
}

bool inet_same_endpoint(const uint8_t *a, const uint8_t *b)
{
	uint8_t x[18], y[18];

	endpoint_of(a, x);
	endpoint_of(b, y);
	return !memcmp(x, y, sizeof(x));
}

const struct fd_record *fd_record_tcp_peer(const struct computation *c, const struct fd_record *f)
{
	for (size_t i = 0; i < c->nr_procs; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds; k++) {
			const struct fd_record *o = &c->procs[i].fds[k];

			if (o->kind == FD_INET && o->inet.tcp_drained && o != f &&
			    inet_same_endpoint(o->inet.local, f->inet.remote) &&
			    inet_same_endpoint(o->inet.remote, f->inet.local))
				return o;
		}
	return NULL;
}

void inet_addr_str(const uint8_t *sa, char *buf, size_t len)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	char ip[INET6_ADDRSTRLEN] = "?";

	memcpy(&a6, sa, sizeof(a6));
	if (a6.sin6_family == AF_INET6) {
		inet_ntop(AF_INET6, &a6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a6.sin6_port));
		return;
	}
	memcpy(&a4, sa, sizeof(a4));
	inet_ntop(AF_INET, &a4.sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(a4.sin_port));
}

int base_file_set_sums(struct base_file *b, const uint64_t *sums, uint32_t n)
{
	uint64_t *copy = NULL;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, sums, n * sizeof(*copy));
	}
	free(b->chunk_sums);
	b->chunk_sums = copy;
	b->nr_chunk_sums = n;
	return 0;
}

void process_record_free(struct process_record *p)
{
	if (!p)
		return;
	free(p->cwd);
	free(p->shared_pending);
	mm_record_free(&p->mm);
	for (size_t i = 0; i < p->nr_threads; i++)
		thread_record_free(&p->threads[i]);
	free(p->threads);
	for (size_t i = 0; i < p->nr_vmas; i++)
		vma_record_free(&p->vmas[i]);
	free(p->vmas);
	free(p->runs);
	for (size_t i = 0; i < p->nr_base_files; i++) {
		free(p->base_files[i].name);
		free(p->base_files[i].path);
		free(p->base_files[i].chunk_sums);
	}
	free(p->core_entry.chunk_sums);
	free(p->base_files);
	free(p->base_runs);
	/* content_fd belongs to the collector, which closes it. */
	for (size_t i = 0; i < p->nr_fds; i++)
		fd_record_free(&p->fds[i]);
	free(p->fds);
	free(p->core_path);
	free(p->posix_timers);
	free(p->seccomp_filters);
	creds_record_free(&p->creds);
	/* Zeroed so a second free, or a free after a failed decode, is harmless. */
	memset(p, 0, sizeof(*p));
}

void computation_free(struct computation *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->cmdline);
	fd_index_free(c->index);
	free(c->index);
	for (size_t i = 0; i < c->nr_procs; i++)
		process_record_free(&c->procs[i]);
	free(c->procs);
	memset(c, 0, sizeof(*c));
}

void computation_destroy(struct computation *c)
{
	computation_free(c);
	free(c);
}
