/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ssh carries processes into the computation.  `run --coordinator` starts
 * the program under a seccomp filter that holds only execve/execveat for
 * the supervisor, through a user notification (nothing is traced; every
 * other system call pays nothing).  When the file to
 * run is an ssh with a remote command, the supervisor first hands the
 * computation's secret to the other host over ssh itself (stdin, never a
 * command line), then rewrites the command so the other side runs it as
 *
 *     trace-ckpt run --coordinator ADDR --secret PATH -- sh -c 'COMMAND'
 *
 * and lets the exec go on.  A host without trace-ckpt is said so, and the
 * command runs there unsupervised.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "ptrace/remote.h"
#include "tracer/session.h"
#include "tracer/ssh.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/shellword.h"

#define MAX_ARGS 512
#define MAX_ARG_LEN 8192
#define SECRET_COPY_TIMEOUT_MS 30000
#define NOT_INSTALLED 3		/* exit status of the secret copy without trace-ckpt */

/* ssh's options that take an argument (ssh(1)). */
static const char ssh_opts_with_arg[] = "BbcDEeFIiJLlmOoPpQRSWw";

static int read_cstring(pid_t pid, uint64_t addr, char *buf, size_t max)
{
	size_t got = 0;

	while (got < max) {
		/* Up to the end of the page: the next one may not be mapped. */
		size_t chunk = MIN(max - got, 4096 - ((addr + got) & 4095));
		char *nul;
		int r = remote_read(pid, addr + got, buf + got, chunk);

		if (r < 0)
			return r;
		nul = memchr(buf + got, '\0', chunk);
		if (nul)
			return 0;
		got += chunk;
	}
	return -E2BIG;
}

static void free_args(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int read_argv(pid_t pid, uint64_t addr, char ***out, size_t *nr)
{
	char **v = calloc(MAX_ARGS + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (; n < MAX_ARGS; n++) {
		uint64_t p;
		char buf[MAX_ARG_LEN];
		int r = remote_read(pid, addr + n * 8, &p, sizeof(p));

		if (r == 0 && !p)
			break;
		if (r == 0)
			r = read_cstring(pid, p, buf, sizeof(buf));
		if (r == 0 && !(v[n] = strdup(buf)))
			r = -ENOMEM;
		if (r < 0) {
			free_args(v, n);
			return r;
		}
	}
	*out = v;
	*nr = n;
	return 0;
}

/* Index of the host in an ssh command line, and of its remote command (0: none). */
static int ssh_host_index(char **argv, size_t n, size_t *host, size_t *cmd)
{
	size_t i = 1;

	while (i < n && argv[i][0] == '-') {
		const char *a = argv[i] + 1;

		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		for (; *a; a++)
			if (strchr(ssh_opts_with_arg, *a)) {
				if (!a[1])
					i++;	/* the argument is the next word */
				break;
			}
		i++;
	}
	if (i >= n)
		return -ENOENT;
	*host = i;
	*cmd = i + 1 < n ? i + 1 : 0;
	return 0;
}

static char *join_words(char **v, size_t from, size_t n)
{
	size_t len = 1;
	char *out;

	for (size_t i = from; i < n; i++)
		len += strlen(v[i]) + 1;
	out = calloc(1, len);
	if (!out)
		return NULL;
	for (size_t i = from; i < n; i++) {
		if (i > from)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	return out;
}

/*
 * The secret onto the other host, through ssh with the program's own
 * options: 0, NOT_INSTALLED when trace-ckpt is not there, or -errno.
 */
static int hand_over_secret(const char *ssh, char **argv, size_t host, const char *tc,
			    const char *secret_path, char *remote_tc, size_t remote_tc_len)
{
	uint8_t secret[SECRET_LEN];
	_cleanup_free_ char *q_tc = shell_quote(tc), *q_path = shell_quote(secret_path),
			    *script = NULL;
	char **v = calloc(host + 3, sizeof(*v));
	int in[2], out[2], status, r;
	ssize_t n;
	pid_t pid;

	if (!v || !q_tc || !q_path)
		goto nomem;
	/* Ours at the same path, else the one in the remote PATH: it says which. */
	if (asprintf(&script, "t=%s; [ -x \"$t\" ] || t=$(command -v trace-ckpt) || exit %d; "
			      "umask 077; mkdir -p \"$(dirname %s)\" && cat > %s && echo \"$t\"",
		     q_tc, NOT_INSTALLED, q_path, q_path) < 0)
		goto nomem;
	memcpy(v, argv, (host + 1) * sizeof(*v));
	v[host + 1] = script;
	r = secret_load(secret_path, secret);
	if (r < 0 || pipe2(in, O_CLOEXEC) < 0) {
		free(v);
		return r < 0 ? r : neg_errno();
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		free(v);
		return neg_errno();
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(ssh, v);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r = pid < 0 ? neg_errno() : write_full(in[1], secret, sizeof(secret));
	memset(secret, 0, sizeof(secret));
	close(in[1]);
	free(v);
	if (pid < 0) {
		close(out[0]);
		return r;
	}
	/* The remote trace-ckpt's path, one line (EOF when ssh ends). */
	n = read(out[0], remote_tc, remote_tc_len - 1);
	close(out[0]);
	remote_tc[n > 0 ? n : 0] = '\0';
	remote_tc[strcspn(remote_tc, "\n")] = '\0';
	/* Our own child: wait for it, with a limit. */
	for (int waited = 0;; waited += 10) {
		struct timespec ts = { 0, 10000000 };
		pid_t w = waitpid(pid, &status, WNOHANG | __WALL);

		if (w == pid)
			break;
		if (waited >= SECRET_COPY_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, __WALL);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == NOT_INSTALLED)
		return NOT_INSTALLED;
	return WIFEXITED(status) && !WEXITSTATUS(status) && remote_tc[0] == '/' ? 0 : -EIO;
nomem:
	free(v);
	return -ENOMEM;
}

/*
 * The remote command replaced, without changing a register: the string goes
 * below the thread's red zone (it is blocked in execve, its stack below rsp
 * is dead), argv[cmd] points at it and argv[cmd + 1] ends the array (ssh
 * joins the words after the host with spaces, so one word that holds them
 * all is the same command).  The array shrinks: it is written in place.
 */
static int put_command(pid_t tid, uint64_t argv_addr, size_t cmd, const char *line)
{
	_cleanup_free_ char *sc = NULL;
	uint64_t sp = 0, base, ptrs[2];
	size_t len = strlen(line) + 1;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	r = read_file_at(AT_FDCWD, path, &sc, NULL);
	if (r < 0)
		return r;
	/* "NR ARG1 ... ARG6 SP PC" of the call it is blocked in. */
	if (sscanf(sc, "%*d %*x %*x %*x %*x %*x %*x %" SCNx64, &sp) != 1 || !sp)
		return -EIO;
	base = (sp - 128 - len) & ~15ull;
	r = remote_write(tid, base, line, len);
	if (r < 0)
		return r;
	ptrs[0] = base;
	ptrs[1] = 0;
	return remote_write(tid, argv_addr + cmd * 8, ptrs, sizeof(ptrs));
}

/* Whether path names a file (in tid's view) that an exec could run. */
static bool runnable(pid_t tid, const char *file)
{
	char path[PATH_MAX + 64];

	if (file[0] != '/')
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", tid, file);
	else
		snprintf(path, sizeof(path), "/proc/%d/root%s", tid, file);
	return access(path, X_OK) == 0;
}

/*
 * One exec of the computation, told by the seccomp filter (tid blocked in
 * it): if it runs ssh with a remote command, carry that command into the
 * computation.  Returns whether it rewrote it.
 */
static bool carry_ssh(struct session *s, pid_t tid, const struct seccomp_data *d)
{
	char file[PATH_MAX], tc[PATH_MAX], remote_tc[PATH_MAX];
	const char *base;
	char **argv = NULL;
	size_t n = 0, host, cmd;
	uint64_t argv_addr;
	_cleanup_free_ char *command = NULL, *quoted = NULL, *q_tc = NULL, *q_secret = NULL,
			    *q_coord = NULL, *line = NULL;
	bool at = d->nr == SYS_execveat, done = false;
	int r;

	if (!at && d->nr != SYS_execve)
		return false;
	if (read_cstring(tid, at ? d->args[1] : d->args[0], file, sizeof(file)) < 0)
		return false;
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	/*
	 * Slurm's launcher starts its tasks through slurmd, out of reach: said
	 * once per exec, and a dump refuses the connections to those tasks.
	 */
	if (!strcmp(base, "srun") && (at || runnable(tid, file))) {
		log_warn("pid %d: srun: the tasks it starts run outside the computation (only ssh carries processes into it; with Open MPI, OMPI_MCA_plm=rsh launches through ssh)",
			 tid);
		return false;
	}
	/* execvp tries each directory of PATH: only the ssh that exists is carried. */
	if (strcmp(base, "ssh") || (!at && !runnable(tid, file)))
		return false;
	argv_addr = at ? d->args[2] : d->args[1];
	if (read_argv(tid, argv_addr, &argv, &n) < 0)
		return false;
	if (ssh_host_index(argv, n, &host, &cmd) < 0 || !cmd)
		goto out;	/* an interactive login: nothing to carry over */
	if (!s->coord || !s->coord_secret) {
		log_warn("pid %d: ssh %s: no coordinator (run --coordinator): the remote command runs outside the computation",
			 tid, argv[host]);
		goto out;
	}
	if (!realpath("/proc/self/exe", tc))
		goto out;
	command = join_words(argv, cmd, n);
	if (!command)
		goto out;
	/* Carried over already (an ssh wrapper script execs the real ssh). */
	if (strstr(command, "' run --coordinator '") &&
	    (command[0] == '\'' || !strncmp(command, "TRACE_CKPT_TCP=drain '", 22)))
		goto out;
	r = hand_over_secret(file, argv, host, tc, s->coord_secret, remote_tc, sizeof(remote_tc));
	if (r == NOT_INSTALLED) {
		log_err("pid %d: host %s has no trace-ckpt (neither %s nor in its PATH): the remote command runs there unsupervised, outside the computation",
			tid, argv[host], tc);
		goto out;
	}
	if (r < 0) {
		log_err("pid %d: ssh %s: handing over the computation's secret: %s; the remote command runs unsupervised",
			tid, argv[host], strerror(-r));
		goto out;
	}
	quoted = shell_quote(command);
	/* ssh joins the words for the remote shell: each one quoted for it. */
	q_tc = shell_quote(remote_tc);
	q_secret = shell_quote(s->coord_secret);
	q_coord = shell_quote(s->coord->peer);
	if (!quoted || !q_tc || !q_secret || !q_coord ||
	    asprintf(&line, "%s%s run --coordinator %s --secret %s -- sh -c %s",
		     /* One way for the TCP connections of the whole computation. */
		     s->tcp_drain && s->can_repair_tcp ? "TRACE_CKPT_TCP=drain " : "", q_tc,
		     q_coord, q_secret, quoted) < 0) {
		line = NULL;
		goto out;
	}
	r = put_command(tid, argv_addr, cmd, line);
	if (r < 0) {
		log_warn("pid %d: ssh %s: rewriting its command: %s", tid, argv[host], strerror(-r));
	} else {
		log_info("pid %d: ssh %s: the remote command joins the computation", tid, argv[host]);
		session_note_carried_ssh(s, tid);
		done = true;
	}
out:
	free_args(argv, n);
	return done;
}

void ssh_on_exec_notify(struct session *s, int listener)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;

	if (seccomp_notify_alloc(&req, &resp) < 0)
		return;
	/* Gone meanwhile (killed in its exec): nothing to answer. */
	if (seccomp_notify_receive(listener, req) == 0) {
		carry_ssh(s, (pid_t)req->pid, &req->data);
		resp->id = req->id;
		resp->val = 0;
		resp->error = 0;
		/* The kernel reads argv again now: the rewritten one, if it was. */
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (seccomp_notify_respond(listener, resp) < 0 &&
		    seccomp_notify_id_valid(listener, req->id) == 0)
			log_warn("pid %d: letting its exec go on: %m", req->pid);
	}
	seccomp_notify_free(req, resp);
}

static int exec_trap_ctx(bool legacy, scmp_filter_ctx *out)
{
	uint32_t action = legacy ? SCMP_ACT_TRACE(1) : SCMP_ACT_NOTIFY;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	/* As root, no no_new_privs: setuid programs inside keep working. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, geteuid() == 0 ? 0 : 1);
	if (r == 0)
		r = seccomp_rule_add(ctx, action, SCMP_SYS(execve), 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, action, SCMP_SYS(execveat), 0);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

int ssh_install_exec_trap(int *listener)
{
	scmp_filter_ctx ctx;
	int r = exec_trap_ctx(false, &ctx);

	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	if (r == 0) {
		*listener = seccomp_notify_fd(ctx);
		if (*listener < 0)
			r = *listener;
	}
	seccomp_release(ctx);
	return r;
}

int ssh_exec_trap_program(bool legacy, uint8_t **prog, size_t *len)
{
	_cleanup_close_ int mem = memfd_create("trace-ckpt-trap", MFD_CLOEXEC);
	scmp_filter_ctx ctx;
	off_t end;
	int r;

	if (mem < 0)
		return neg_errno();
	r = exec_trap_ctx(legacy, &ctx);
	if (r < 0)
		return r;
	r = seccomp_export_bpf(ctx, mem);
	seccomp_release(ctx);
	if (r < 0)
		return r;
	end = lseek(mem, 0, SEEK_END);
	if (end <= 0)
		return -EIO;
	*prog = malloc((size_t)end);
	if (!*prog)
		return -ENOMEM;
	*len = (size_t)end;
	if (pread(mem, *prog, *len, 0) != (ssize_t)*len) {
		free(*prog);
		*prog = NULL;
		return -EIO;
	}
	return 0;
}
