/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/fdkind.h"
#include "proto/fileid.h"
#include "proto/image.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "util/macro.h"

static const char *vma_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[VMA_ANON_PRIVATE] = "anon", [VMA_ANON_SHARED] = "anon-shared",
		[VMA_FILE_PRIVATE] = "file", [VMA_FILE_SHARED] = "file-shared",
		[VMA_VDSO] = "vdso", [VMA_VVAR] = "vvar", [VMA_VVAR_VCLOCK] = "vvar_vclock",
	};

	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "?";
}

static uint64_t dumped_bytes(const struct process_record *p)
{
	uint64_t n = 0;

	for (size_t i = 0; i < p->nr_runs; i++)
		n += p->runs[i].len;
	return n;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_file_id(const struct file_id *id)
{
	size_t n = MIN((size_t)id->build_id_len, sizeof(id->build_id));

	if (!(id->flags & FILE_ID_F_KNOWN)) {
		printf("null");
		return;
	}
	printf("{\"size\":%llu,\"mtime_ns\":%llu,\"build_id\":", (unsigned long long)id->size,
	       (unsigned long long)id->mtime_ns);
	if (!(id->flags & FILE_ID_F_BUILD_ID) || !n) {
		printf("null}");
		return;
	}
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", id->build_id[i]);
	printf("\"}");
}

static void show_json(const struct computation *c)
{
	printf("{\"version\":%u,\"generation\":%llu,\"time_ns\":%llu,\"host\":", c->version,
	       (unsigned long long)c->generation, (unsigned long long)c->time_ns);
	json_str(c->host);
	printf(",\"cmdline\":");
	json_str(c->cmdline);
	if (c->cpu.flags & CPU_F_KNOWN) {
		char vendor[sizeof(c->cpu.vendor)];

		memcpy(vendor, c->cpu.vendor, sizeof(vendor));
		vendor[sizeof(vendor) - 1] = '\0';
		printf(",\"cpu\":{\"vendor\":");
		json_str(vendor);
		printf(",\"family\":%u,\"model\":%u,\"xcr0\":%llu,\"xstate_size\":%u}",
		       c->cpu.family, c->cpu.model, (unsigned long long)c->cpu.xcr0,
		       c->cpu.xstate_size);
	}
	printf(",\"processes\":[");
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		printf("%s{\"pid\":%d,\"ppid\":%d,\"pgid\":%d,\"sid\":%d,\"comm\":", i ? "," : "",
		       p->pid, p->ppid, p->pgid, p->sid);
		json_str(p->comm);
		printf(",\"exe\":");
		json_str(p->mm.exe);
		printf(",\"exe_id\":");
		json_file_id(&p->mm.exe_id);
		printf(",\"threads\":[");
		for (size_t t = 0; t < p->nr_threads; t++)
			printf("%s%d", t ? "," : "", p->threads[t].tid);
		printf("],\"mappings\":[");
		for (size_t v = 0; v < p->nr_vmas; v++) {
			printf("%s{\"start\":%llu,\"end\":%llu,\"prot\":%u,\"kind\":\"%s\",\"path\":",
			       v ? "," : "", (unsigned long long)p->vmas[v].start,
			       (unsigned long long)p->vmas[v].end, p->vmas[v].prot,
			       vma_kind_name(p->vmas[v].kind));
			json_str(p->vmas[v].path ? p->vmas[v].path : p->vmas[v].name);
			if (p->vmas[v].flags & VMA_F_HUGETLB)
				printf(",\"huge_page_kb\":%llu",
				       p->vmas[v].huge_shift >= 10 && p->vmas[v].huge_shift < 64 ?
				       1ull << (p->vmas[v].huge_shift - 10) : 0);
			if (p->vmas[v].file_id.flags & FILE_ID_F_KNOWN) {
				printf(",\"file_id\":");
				json_file_id(&p->vmas[v].file_id);
			}
			putchar('}');
		}
		printf("],\"fds\":[");
		for (size_t f = 0; f < p->nr_fds; f++) {
			printf("%s{\"fd\":%d,\"kind\":\"%s\",\"pos\":%llu,\"in_flight\":%s,\"path\":",
			       f ? "," : "", p->fds[f].fd, fd_kind_name(p->fds[f].kind),
			       (unsigned long long)p->fds[f].pos, p->fds[f].in_flight ? "true" : "false");
			json_str(p->fds[f].path);
			if (p->fds[f].file_id.flags & FILE_ID_F_KNOWN) {
				printf(",\"file_id\":");
				json_file_id(&p->fds[f].file_id);
			}
			putchar('}');
		}
		printf("],\"dumped_bytes\":%llu", (unsigned long long)dumped_bytes(p));
		if (p->zstd_pages_off)
			printf(",\"compressed\":{\"pages_bytes\":%llu,\"file_bytes\":%llu}",
			       (unsigned long long)(p->zstd_pages_end - p->zstd_pages_off),
			       (unsigned long long)(p->core_entry.size - MIN(p->core_entry.size,
									   p->zstd_pages_off)));
		if (p->nr_base_files) {
			printf(",\"earlier_generations\":[");
			for (size_t k = 0; k < p->nr_base_files; k++) {
				uint64_t bytes = 0;

				for (uint32_t b = 0; b < p->nr_base_runs; b++)
					if (p->base_runs[b].file == k)
						bytes += p->base_runs[b].len;
				printf("%s{\"file\":", k ? "," : "");
				json_str(p->base_files[k].name);
				printf(",\"bytes\":%llu}", (unsigned long long)bytes);
			}
			putchar(']');
		}
		putchar('}');
	}
	printf("]}\n");
}

static void show_cpu(const struct cpu_record *cpu)
{
	struct cpu_record none = { 0 };
	char desc[96], features[1024];

	if (!(cpu->flags & CPU_F_KNOWN)) {
		printf("cpu: not recorded\n");
		return;
	}
	cpu_record_describe(cpu, desc, sizeof(desc));
	/* What it has is what a CPU with nothing would lack. */
	cpu_record_missing(cpu, &none, features, sizeof(features));
	printf("cpu: %s, xcr0 0x%llx, xsave area %u bytes\n  features: %s\n", desc,
	       (unsigned long long)cpu->xcr0, cpu->xstate_size, features);
}

/* An incremental image: which earlier generations' pages it takes, and how many. */
static void show_bases(const struct process_record *p)
{
	if (!p->nr_base_runs)
		return;
	printf("  incremental: pages of earlier generations, in %zu file(s):\n", p->nr_base_files);
	for (size_t k = 0; k < p->nr_base_files; k++) {
		uint64_t bytes = 0;
		uint32_t runs = 0;

		for (uint32_t i = 0; i < p->nr_base_runs; i++) {
			if (p->base_runs[i].file != k)
				continue;
			bytes += p->base_runs[i].len;
			runs++;
		}
		printf("    %s: %.1f MiB in %u run(s)\n", p->base_files[k].name, bytes / 1048576.0,
		       runs);
	}
}

static void show_text(const char *dir, const struct computation *c)
{
	char id[256];

	printf("image %s: generation %llu, host %s, format %u\ncommand: %s\n", dir,
	       (unsigned long long)c->generation, c->host ? c->host : "?", c->version,
	       c->cmdline ? c->cmdline : "");
	show_cpu(&c->cpu);
	for (size_t i = 0; i < c->nr_procs; i++) {
		const struct process_record *p = &c->procs[i];

		printf("\nprocess %d (%s) ppid %d pgid %d sid %d, %zu thread(s), %.1f MiB of pages\n",
		       p->pid, p->comm, p->ppid, p->pgid, p->sid, p->nr_threads,
		       dumped_bytes(p) / 1048576.0);
		if (p->zstd_pages_off && p->core_entry.size >= p->zstd_pages_off) {
			uint64_t raw = p->zstd_pages_end - p->zstd_pages_off;
			uint64_t z = p->core_entry.size - p->zstd_pages_off;

			printf("  compressed (zstd): %.1f MiB of pages in %.1f MiB, ratio %.2f\n",
			       raw / 1048576.0, z / 1048576.0, z ? (double)raw / (double)z : 0.0);
		}
		show_bases(p);
		file_id_describe(&p->mm.exe_id, id, sizeof(id));
		printf("  exe %s (%s)\n  cwd %s\n", p->mm.exe ? p->mm.exe : "?", id,
		       p->cwd ? p->cwd : "?");
		for (size_t v = 0; v < p->nr_vmas; v++) {
			const struct vma_record *m = &p->vmas[v];
			/* A file's identity once, at its first mapping. */
			bool first = m->path && (m->file_id.flags & FILE_ID_F_KNOWN) &&
				     (!v || !p->vmas[v - 1].path || strcmp(p->vmas[v - 1].path, m->path));

			if (first)
				file_id_describe(&m->file_id, id, sizeof(id));
			if (m->flags & VMA_F_HUGETLB) {
				first = true;
				snprintf(id, sizeof(id), "hugetlb, pages of %llu kB",
					 m->huge_shift >= 10 && m->huge_shift < 64 ?
					 1ull << (m->huge_shift - 10) : 0);
			}
			printf("  %012llx-%012llx %c%c%c %-11s %s%s%s%s\n", (unsigned long long)m->start,
			       (unsigned long long)m->end, m->prot & 1 ? 'r' : '-',
			       m->prot & 2 ? 'w' : '-', m->prot & 4 ? 'x' : '-',
			       vma_kind_name(m->kind), m->path ? m->path : m->name ? m->name : "",
			       first ? " (" : "", first ? id : "", first ? ")" : "");
		}
		for (size_t f = 0; f < p->nr_fds; f++) {
			const struct fd_record *d = &p->fds[f];
			char name[32];

			if (d->in_flight)
				snprintf(name, sizeof(name), "in flight #%u",
					 (unsigned int)d->fd - IN_FLIGHT_FD_BASE);
			else
				snprintf(name, sizeof(name), "fd %d", d->fd);
			id[0] = '\0';
			if (d->file_id.flags & FILE_ID_F_KNOWN) {
				char what[160];

				file_id_describe(&d->file_id, what, sizeof(what));
				snprintf(id, sizeof(id), " (%s)", what);
			}
			printf("  %s: %s %s pos %llu desc %u%s%s%s\n", name, fd_kind_name(d->kind),
			       d->path ? d->path : "", (unsigned long long)d->pos, d->desc_id,
			       d->deleted ? " (deleted)" : "",
			       d->sock.queue_fds ? " (queue carries files)" : "", id);
			if (d->kind == FD_INET && d->sock.type == SOCK_STREAM && d->inet.state != 7 &&
			    d->inet.state != 10) {
				char l[INET_ADDR_STR_MAX], r[INET_ADDR_STR_MAX];

				inet_addr_str(d->inet.local, l, sizeof(l));
				inet_addr_str(d->inet.remote, r, sizeof(r));
				printf("    TCP %s -> %s state %u, %s", l, r, d->inet.state,
				       d->inet.tcp_drained ? "drained" : "repaired");
				if (d->inet.tcp_drained && d->content && d->content_len >= 8)
					printf(", %llu bytes not read",
					       (unsigned long long)d->content_len - 8);
				printf("%s%s\n", d->inet.tcp_shut_wr ? ", shut for writing" : "",
				       d->inet.tcp_peer_gone ? ", its peer closed and gone" : "");
			} else if (d->kind == FD_INET) {
				char l[INET_ADDR_STR_MAX], r[INET_ADDR_STR_MAX];

				inet_addr_str(d->inet.local, l, sizeof(l));
				inet_addr_str(d->inet.remote, r, sizeof(r));
				printf("    %s%s %s%s%s%s\n", d->sock.type == SOCK_STREAM ? "TCP" : "UDP",
				       d->inet.family == AF_INET6 ? " (IPv6 socket)" : "", l,
				       d->inet.state == 10 ? " listening" : "",
				       d->sock.type == SOCK_DGRAM && r[0] ? " -> " : "",
				       d->sock.type == SOCK_DGRAM ? r : "");
			}
		}
	}
}

static int show_hosts(const char *dir, const struct manifest *top, const struct image_key *key,
		      bool json)
{
	int rc = 0;

	if (json) {
		printf("{\"generation\":%llu,\"hosts\":[", (unsigned long long)top->generation);
		for (size_t i = 0; i < top->nr_members; i++)
			printf("%s{\"host\":\"%s\",\"addr\":\"%s\",\"dir\":\"%s\",\"processes\":%u,\"bytes\":%llu}",
			       i ? "," : "", top->members[i].host,
			       top->members[i].addr ? top->members[i].addr : "",
			       top->members[i].subdir, top->members[i].nr_procs,
			       (unsigned long long)top->members[i].bytes);
		printf("]}\n");
		return 0;
	}
	printf("%s: checkpoint of %zu hosts, generation %llu, coordinated from %s\n", dir,
	       top->nr_members, (unsigned long long)top->generation, top->host ? top->host : "?");
	for (size_t i = 0; i < top->nr_members; i++) {
		const struct manifest_member *mb = &top->members[i];
		struct computation *c = NULL;
		char part[PATH_MAX], err[1024] = "";

		printf("\nhost %s (%s): %s/, %u processes, %.1f MiB: %s\n", mb->host,
		       mb->addr ? mb->addr : "?", mb->subdir, mb->nr_procs, mb->bytes / 1048576.0,
		       mb->cmdline ? mb->cmdline : "");
		snprintf(part, sizeof(part), "%s/%s", dir, mb->subdir);
		if (image_read(part, key, &c, err, sizeof(err)) < 0) {
			printf("  (not readable here: %s)\n", err);
			rc = 1;
			continue;
		}
		show_text(part, c);
		computation_destroy(c);
	}
	return rc;
}

int cmd_show(int argc, char **argv)
{
	_cleanup_(image_key_wipe) struct image_key key = { 0 };
	const struct image_key *kp = &key;
	struct computation *c = NULL;
	const char *dir = NULL, *key_file = NULL;
	bool json = false, verify = true;
	char err[1024] = "";
	struct manifest top;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--no-verify"))
			verify = false;
		else if (!strcmp(argv[i], "--key") && i + 1 < argc)
			key_file = argv[++i];
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else {
			usage_of("show", true);
			return 2;
		}
	}
	if (!dir || (key_file && !verify)) {
		usage_of("show", true);
		return 2;
	}
	if (verify && cli_image_key("show", key_file, NULL, &key) < 0)
		return 1;
	if (!verify) {
		fprintf(stderr, "trace-ckpt show: --no-verify: %s is not authenticated; what it says may be forged\n",
			dir);
		kp = NULL;
	}
	/* Several hosts: the tree, then each host's part. */
	r = read_top_manifest(dir, kp, &top, err, sizeof(err));
	if (r == 0) {
		bool hosts = top.flags & TC_COMP_F_MULTIHOST;

		r = hosts ? show_hosts(dir, &top, kp, json) : 0;
		manifest_free(&top);
		if (hosts)
			return r;
	} else if (r == -EKEYREJECTED) {
		fprintf(stderr, "trace-ckpt show: %s\n", err);
		if (!key_file)
			fprintf(stderr, "trace-ckpt show: if %s is an image of several hosts, its key is the computation's secret: show --key SECRET-FILE\n",
				dir);
		return 1;
	}
	err[0] = '\0';
	r = image_read(dir, kp, &c, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "trace-ckpt show: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	if (json)
		show_json(c);
	else
		show_text(dir, c);
	computation_destroy(c);
	return 0;
}
