/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A core file of a real, stopped process must open in gdb: fork a child,
 * stop it with ptrace, build a minimal computation from /proc and ptrace,
 * write the image and ask `gdb -batch -ex bt` for the child's stack.
 * Exit 77 (skipped) without gdb or without ptrace.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/image.h"
#include "proto/imagekey.h"
#include "util/fileio.h"
#include "util/macro.h"

static const struct image_key test_key = { .bytes = { 7, 7, 7 }, .path = "test" };

#define SKIP 77
#define MAX_DUMPED_VMA (64ull << 20)

static int fail(const char *what)
{
	fprintf(stderr, "test_gdb_core: %s: %s\n", what, strerror(errno));
	return EXIT_FAILURE;
}

static __attribute__((noinline, noreturn)) void child_body(int fd)
{
	char c = 'r';

	(void)!write(fd, &c, 1);
	for (;;)
		pause();
}

static bool find_gdb(char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *dup, *save = NULL;
	bool found = false;

	dup = strdup(path && *path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/gdb", d);
		found = access(out, X_OK) == 0;
	}
	free(dup);
	return found;
}

static int mem_read(void *ctx, pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	char path[64];
	int fd, ret;

	(void)ctx;
	if (process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	ret = pread_full(fd, buf, len, (off_t)addr);
	close(fd);
	return ret;
}

static uint32_t prot_of(const char *perms)
{
	return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	       (perms[2] == 'x' ? PROT_EXEC : 0);
}

/* The VMAs from /proc/PID/maps; every readable ordinary one is dumped whole. */
static int collect_vmas(struct process_record *p, pid_t pid)
{
	char path[64], line[PATH_MAX + 128];
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, ino;
		unsigned int maj, min;
		char perms[8], name[PATH_MAX] = "";
		struct vma_record *v;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start, &end, perms,
			   &pgoff, &maj, &min, &ino, name) < 7)
			continue;
		if (!strcmp(name, "[vsyscall]"))
			continue;
		if (p->nr_vmas == cap) {
			cap = cap ? cap * 2 : 64;
			p->vmas = realloc(p->vmas, cap * sizeof(*p->vmas));
			p->runs = realloc(p->runs, cap * sizeof(*p->runs));
		}
		v = &p->vmas[p->nr_vmas++];
		memset(v, 0, sizeof(*v));
		v->start = start;
		v->end = end;
		v->pgoff = pgoff;
		v->prot = prot_of(perms);
		v->ino = ino;
		v->dev = makedev(maj, min);
		if (!strcmp(name, "[vdso]"))
			v->kind = VMA_VDSO;
		else if (!strcmp(name, "[vvar]"))
			v->kind = VMA_VVAR;
		else if (!strcmp(name, "[vvar_vclock]"))
			v->kind = VMA_VVAR_VCLOCK;
		else if (name[0] == '/')
			v->kind = perms[3] == 's' ? VMA_FILE_SHARED : VMA_FILE_PRIVATE;
		else
			v->kind = VMA_ANON_PRIVATE;
		if (name[0] == '/')
			v->path = strdup(name);
		else if (name[0])
			v->name = strdup(name);
		if ((v->prot & PROT_READ) && v->kind != VMA_VVAR && v->kind != VMA_VVAR_VCLOCK &&
		    end - start <= MAX_DUMPED_VMA)
			p->runs[p->nr_runs++] = (struct page_run){ start, end - start };
	}
	fclose(f);
	return 0;
}

static void collect_mm(struct process_record *p, pid_t pid)
{
	char path[64], exe[PATH_MAX], *buf = NULL, *s;
	size_t len;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	if (read_file_at(AT_FDCWD, path, &buf, &len) == 0) {
		p->mm.auxv = (uint8_t *)buf;
		p->mm.auxv_len = (uint32_t)len;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		p->mm.exe = strdup(exe);
	}
	/* Fields 48 and 49 of stat: where argv is, for the psargs gdb prints. */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file_at(AT_FDCWD, path, &buf, NULL) == 0) {
		s = strrchr(buf, ')');
		for (int field = 2; s && field < 48; field++)
			s = strchr(s + 1, ' ');
		if (s)
			sscanf(s + 1, "%" SCNu64 " %" SCNu64, &p->mm.arg_start, &p->mm.arg_end);
		free(buf);
	}
}

static int collect_thread(struct thread_record *t, pid_t pid)
{
	static const size_t xmax = 64 * 1024;
	struct iovec iov = { &t->regs, sizeof(t->regs) };

	t->tid = pid;
	if (ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	t->xstate = calloc(1, xmax);
	iov = (struct iovec){ t->xstate, xmax };
	if (ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0)
		t->xstate_len = (uint32_t)iov.iov_len;
	return 0;
}

int main(int argc, char **argv)
{
	struct computation c = { .version = TC_FORMAT_VERSION, .generation = 1 };
	struct mem_reader mr = { .read = mem_read };
	struct process_record *p;
	char gdb[PATH_MAX], tmp[] = "/tmp/tc-gdb-XXXXXX", dir[PATH_MAX], cmd[3 * PATH_MAX];
	char out[16384];
	int pfd[2], status, ret = EXIT_FAILURE;
	size_t n = 0;
	pid_t pid;
	FILE *f;
	char ch;

	(void)argc;
	if (!find_gdb(gdb, sizeof(gdb))) {
		fprintf(stderr, "test_gdb_core: no gdb, skipped\n");
		return SKIP;
	}
	if (pipe(pfd) < 0)
		return fail("pipe");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		close(pfd[0]);
		child_body(pfd[1]);
	}
	close(pfd[1]);
	if (read(pfd[0], &ch, 1) != 1)
		return fail("child start");
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
		fprintf(stderr, "test_gdb_core: ptrace: %s, skipped\n", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return SKIP;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || waitpid(pid, &status, 0) != pid)
		return fail("stopping the child");

	c.host = strdup("testhost");
	c.cmdline = strdup(argv[0]);
	c.nr_procs = 1;
	c.procs = calloc(1, sizeof(*c.procs));
	p = &c.procs[0];
	p->pid = p->real_pid = pid;
	p->ppid = getpid();
	p->pgid = getpgid(pid);
	p->sid = getsid(pid);
	snprintf(p->comm, sizeof(p->comm), "test_gdb_core");
	p->nr_threads = 1;
	p->threads = calloc(1, sizeof(*p->threads));
	if (collect_thread(&p->threads[0], pid) < 0 || collect_vmas(p, pid) < 0) {
		fail("collecting the child");
		goto out;
	}
	collect_mm(p, pid);

	if (!mkdtemp(tmp)) {
		fail("mkdtemp");
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/img", tmp);
	errno = -image_write(&c, dir, &test_key, &mr, NULL);
	if (errno) {
		fail("image_write");
		goto out_rm;
	}
	snprintf(cmd, sizeof(cmd), "%s -batch -nx -ex bt %s %s/testhost/proc-%d.core 2>&1", gdb,
		 p->mm.exe ? p->mm.exe : "/proc/self/exe", dir, pid);
	f = popen(cmd, "r");
	if (!f) {
		fail("popen gdb");
		goto out_rm;
	}
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	if (getenv("TC_GDB_VERBOSE"))
		fputs(out, stderr);
	if (strstr(out, " main ") && strstr(out, "child_body")) {
		ret = EXIT_SUCCESS;
	} else {
		fprintf(stderr, "test_gdb_core: no main/child_body in the backtrace of\n  %s\n%s\n",
			cmd, out);
	}
out_rm:
	rm_rf(tmp);
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	computation_free(&c);
	return ret;
}
