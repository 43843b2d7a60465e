/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "coord/coordinator.h"
#include "proto/ctlmsg.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "proto/model.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/shellword.h"

#define HANDSHAKE_TIMEOUT_MS 3000
#define COMMIT_TIMEOUT_MS 30000

struct member {
	struct channel ch;
	uint32_t role;		/* enum wire_role */
	char *host, *addr, *cmdline;
	pid_t pid;
	uint64_t generation;
	bool ready;		/* restored, waiting for GO */
	bool running;		/* not a restore waiting for GO: may be checkpointed */
	/* during a checkpoint */
	bool replied;
	char *subdir;
	uint64_t bytes;
	uint32_t nr_procs;
	uint32_t own_ms;	/* its own dump, as it says */
};

struct barrier {
	struct member *cmd;	/* who asked; NULL: none running */
	uint32_t count;
	int64_t deadline;
};

struct coordinator {
	const struct coordinator_options *o;
	uint8_t secret[SECRET_LEN];
	int listen_fd, signal_fd;
	struct member **m;
	size_t n;
	uint64_t generation;
	struct barrier barrier;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void member_free(struct member *m)
{
	channel_close(&m->ch);
	free(m->host);
	free(m->addr);
	free(m->cmdline);
	free(m->subdir);
	free(m);
}

static int send_simple(struct member *m, uint32_t type, const char *msg);

static void drop_member(struct coordinator *co, size_t i, const char *why)
{
	struct member *m = co->m[i];

	if (m->role == WIRE_ROLE_SUPERVISOR)
		log_info("coordinator: host %s (pid %d) left: %s", m->host ? m->host : "?", m->pid,
			 why);
	/* Whoever asked for the release gave up: the parts built so far end. */
	if (co->barrier.cmd == m) {
		co->barrier.cmd = NULL;
		for (size_t k = 0; k < co->n; k++)
			if (co->m[k]->ready) {
				send_simple(co->m[k], WIRE_ABORT, "the restore was called off");
				co->m[k]->ready = false;
			}
	}
	member_free(m);
	co->m[i] = co->m[--co->n];
}

static char *attr_str(const struct wire_in *in, uint32_t a)
{
	char *s = NULL;

	if (in->tb[a])
		tlv_get_strdup(in->tb[a], &s);
	return s;
}

static uint32_t attr_u32(const struct wire_in *in, uint32_t a, uint32_t dflt)
{
	uint32_t v;

	return in->tb[a] && tlv_get_u32(in->tb[a], &v) == 0 ? v : dflt;
}

static uint64_t attr_u64(const struct wire_in *in, uint32_t a, uint64_t dflt)
{
	uint64_t v;

	return in->tb[a] && tlv_get_u64(in->tb[a], &v) == 0 ? v : dflt;
}

static int send_simple(struct member *m, uint32_t type, const char *msg)
{
	struct tlv_buf b = { 0 };
	int r;

	if (msg)
		tlv_put_str(&b, WIRE_A_MSG, msg);
	r = channel_send(&m->ch, type, &b);
	tlv_buf_free(&b);
	return r;
}

static void send_result(struct member *cmd, int err, const char *msg, uint64_t gen,
			const char *dir)
{
	struct tlv_buf b = { 0 };

	if (!cmd)
		return;	/* a checkpoint of --interval: nobody asked */

	tlv_put_u32(&b, WIRE_A_STATUS, (uint32_t)-err);
	tlv_put_str(&b, WIRE_A_MSG, msg);
	if (gen)
		tlv_put_u64(&b, WIRE_A_GEN, gen);
	if (dir)
		tlv_put_str(&b, WIRE_A_DIR, dir);
	channel_send(&cmd->ch, WIRE_RESULT, &b);
	tlv_buf_free(&b);
}

/* A new connection: authenticated and introduced, or refused and logged. */
static void accept_member(struct coordinator *co)
{
	int fd = accept4(co->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct member *m, **nm;
	struct wire_in in;
	int r;

	if (fd < 0)
		return;
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		return;
	}
	r = channel_accept(&m->ch, fd, co->secret, HANDSHAKE_TIMEOUT_MS);
	if (r == 0)
		r = channel_recv(&m->ch, &in, HANDSHAKE_TIMEOUT_MS);
	if (r == 0 && in.type != WIRE_JOIN) {
		wire_in_free(&in);
		r = -EBADMSG;
	}
	if (r < 0) {
		log_warn("coordinator: refused a connection from %s: %s", m->ch.peer,
			 r == -EACCES ? "it does not know the secret" : strerror(-r));
		member_free(m);
		return;
	}
	m->role = attr_u32(&in, WIRE_A_ROLE, WIRE_ROLE_COMMAND);
	m->host = attr_str(&in, WIRE_A_HOST);
	m->addr = attr_str(&in, WIRE_A_ADDR);
	m->cmdline = attr_str(&in, WIRE_A_CMDLINE);
	m->pid = (pid_t)attr_u32(&in, WIRE_A_PID, 0);
	m->generation = attr_u64(&in, WIRE_A_GEN, 0);
	m->running = !attr_u32(&in, WIRE_A_RESTORING, 0);
	wire_in_free(&in);
	nm = realloc(co->m, (co->n + 1) * sizeof(*nm));
	if (!nm) {
		member_free(m);
		return;
	}
	co->m = nm;
	co->m[co->n++] = m;
	co->generation = MAX(co->generation, m->generation);
	if (m->role == WIRE_ROLE_SUPERVISOR)
		log_info("coordinator: host %s (%s) joined: pid %d, %s", m->host ? m->host : "?",
			 m->addr ? m->addr : "?", m->pid, m->cmdline ? m->cmdline : "");
}

static size_t nr_supervisors(const struct coordinator *co)
{
	size_t k = 0;

	for (size_t i = 0; i < co->n; i++)
		k += co->m[i]->role == WIRE_ROLE_SUPERVISOR;
	return k;
}

/* Tell every supervisor; one that cannot be told fails the step. */
static int broadcast(struct coordinator *co, uint32_t type, const struct tlv_buf *b,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];
		int r;

		if (m->role != WIRE_ROLE_SUPERVISOR)
			continue;
		m->replied = false;
		r = channel_send(&m->ch, type, b);
		if (r < 0) {
			snprintf(err, errlen, "host %s: sending %s: %s", m->host, wire_msg_name(type),
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * Until every supervisor answered `want`: FAILED, a lost host or the
 * deadline fail the step, named.  Others' messages wait.
 */
static int wait_all(struct coordinator *co, uint32_t want, int timeout_ms, char *err,
		    size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd *pfd;
		struct member **who;
		size_t k = 0;
		int64_t left;
		int r;

		pfd = calloc(co->n ? co->n : 1, sizeof(*pfd));
		who = calloc(co->n ? co->n : 1, sizeof(*who));
		if (!pfd || !who) {
			free(pfd);
			free(who);
			return -ENOMEM;
		}
		for (size_t i = 0; i < co->n; i++)
			if (co->m[i]->role == WIRE_ROLE_SUPERVISOR && !co->m[i]->replied) {
				pfd[k] = (struct pollfd){ .fd = co->m[i]->ch.fd, .events = POLLIN };
				who[k++] = co->m[i];
			}
		if (k == 0) {
			free(pfd);
			free(who);
			return 0;
		}
		left = deadline - now_ms();
		r = left > 0 ? poll(pfd, k, (int)left) : 0;
		if (r < 0 && errno == EINTR) {
			free(pfd);
			free(who);
			continue;
		}
		if (r <= 0) {
			snprintf(err, errlen, "host %s did not answer %s within %d ms",
				 who[0]->host ? who[0]->host : "?",
				 want == WIRE_FROZEN ? "FREEZE" : want == WIRE_PREPARED ? "DUMP" : "COMMIT",
				 timeout_ms);
			free(pfd);
			free(who);
			return -ETIMEDOUT;
		}
		for (size_t j = 0; j < k; j++) {
			struct member *m = who[j];
			struct wire_in in;

			if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = channel_recv(&m->ch, &in, 5000);
			if (r < 0) {
				snprintf(err, errlen, "host %s was lost: %s", m->host ? m->host : "?",
					 r == -ECONNRESET ? "connection closed" : strerror(-r));
				for (size_t i = 0; i < co->n; i++)
					if (co->m[i] == m)
						drop_member(co, i, "lost during a checkpoint");
				free(pfd);
				free(who);
				return -EHOSTDOWN;
			}
			if (in.type == WIRE_FAILED) {
				char *msg = attr_str(&in, WIRE_A_MSG);

				snprintf(err, errlen, "host %s: %s", m->host ? m->host : "?",
					 msg ? msg : "failed");
				free(msg);
				m->replied = true;	/* it has thawed already */
				wire_in_free(&in);
				free(pfd);
				free(who);
				return -EIO;
			}
			if (in.type == want) {
				m->replied = true;
				m->own_ms = attr_u32(&in, WIRE_A_OWN_MS, m->own_ms);
				if (want == WIRE_PREPARED) {
					free(m->subdir);
					m->subdir = attr_str(&in, WIRE_A_SUBDIR);
					m->bytes = attr_u64(&in, WIRE_A_BYTES, 0);
					m->nr_procs = attr_u32(&in, WIRE_A_NR_PROCS, 0);
				}
			} else if (in.type == WIRE_READY) {
				m->ready = true;
			}
			wire_in_free(&in);
		}
		free(pfd);
		free(who);
	}
}

_Static_assert(SECRET_LEN == IMAGE_KEY_LEN, "the computation's secret is an image key");

/* DIR/manifest of a checkpoint of several hosts: written last, the commit point. */
static int write_top_manifest(struct coordinator *co, const char *dir, uint64_t gen,
			      char *err, size_t errlen)
{
	struct manifest man = { .version = TC_FORMAT_VERSION, .generation = gen,
				.flags = TC_COMP_F_MULTIHOST };
	struct tlv_buf b = { 0 };
	struct image_key key = { 0 };
	char tmp[PATH_MAX], final[PATH_MAX], gen_path[PATH_MAX], host[256] = "";
	struct timespec ts;
	_cleanup_close_ int fd = -1, dfd = -1;
	size_t k = 0;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	man.time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	gethostname(host, sizeof(host) - 1);
	man.host = host;
	man.members = calloc(co->n ? co->n : 1, sizeof(*man.members));
	if (!man.members)
		return -ENOMEM;
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];

		if (m->role != WIRE_ROLE_SUPERVISOR)
			continue;
		/* What a member said of itself reaches ssh at restore: a host name or nothing. */
		if (!is_host_name(m->host) || (m->addr && !is_host_name(m->addr))) {
			snprintf(err, errlen, "host '%s' (address '%s'): not a host name",
				 m->host ? m->host : "", m->addr ? m->addr : "");
			free(man.members);
			return -EINVAL;
		}
		man.members[k++] = (struct manifest_member){
			.host = m->host, .addr = m->addr, .subdir = m->subdir,
			.bytes = m->bytes, .nr_procs = m->nr_procs, .cmdline = m->cmdline };
	}
	man.nr_members = k;
	/* The computation's secret authenticates it: every host that restores holds it. */
	memcpy(key.bytes, co->secret, sizeof(key.bytes));
	r = manifest_encode(&b, &man, &key);
	image_key_wipe(&key);
	free(man.members);
	snprintf(tmp, sizeof(tmp), "%s/.manifest.%llu", dir, (unsigned long long)gen);
	snprintf(final, sizeof(final), "%s/manifest", dir);
	if (r == 0)
		r = mkdir_p(dir, 0700);
	if (r == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		r = fd < 0 ? neg_errno() : write_full(fd, b.data, b.len);
	}
	if (r == 0 && fsync(fd) < 0)
		r = neg_errno();
	/* Each generation's own name too, so an older one can be restored (--generation). */
	snprintf(gen_path, sizeof(gen_path), "%s/manifest.g%llu", dir, (unsigned long long)gen);
	if (r == 0 && (unlink(gen_path), link(tmp, gen_path) < 0))
		r = neg_errno();
	if (r == 0 && rename(tmp, final) < 0)
		r = neg_errno();
	if (r == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		fsync(dfd);
	tlv_buf_free(&b);
	if (r < 0) {
		unlink(tmp);
		snprintf(err, errlen, "writing %s: %s", final, strerror(-r));
	}
	return r;
}

/* The manifests of generations older than the keep latest (their parts go too). */
static void prune_manifests(const char *dir, uint64_t gen, uint32_t keep)
{
	char path[PATH_MAX];

	for (uint64_t g = gen > keep ? gen - keep : 0; g >= 1; g--) {
		snprintf(path, sizeof(path), "%s/manifest.g%llu", dir, (unsigned long long)g);
		if (unlink(path) < 0 && errno == ENOENT && gen - g > 2 * (uint64_t)keep + 16)
			break;	/* far back, long gone */
	}
}

static void abort_all(struct coordinator *co, const char *why)
{
	for (size_t i = 0; i < co->n; i++)
		if (co->m[i]->role == WIRE_ROLE_SUPERVISOR)
			send_simple(co->m[i], WIRE_ABORT, why);
}

/* cmd: the command that asked, or NULL (--interval); keep: 0 keeps every generation. */
static void run_checkpoint(struct coordinator *co, struct member *cmd, const char *dir,
			   uint32_t mode, uint32_t keep)
{
	char err[1024] = "", msg[4096];
	struct tlv_buf b = { 0 };
	int64_t t0 = now_ms(), t_frozen;
	uint64_t gen, bytes = 0;
	uint32_t slowest = 0;
	size_t hosts = nr_supervisors(co);
	int r;

	if (!dir || dir[0] != '/') {
		send_result(cmd, -EINVAL, "the image directory must be an absolute path", 0, NULL);
		return;
	}
	if (!hosts) {
		send_result(cmd, -ENOENT, "no supervisor has joined this coordinator", 0, NULL);
		return;
	}
	/* A host being restored reads nothing but GO: it would never freeze. */
	for (size_t i = 0; i < co->n; i++)
		if (co->m[i]->role == WIRE_ROLE_SUPERVISOR && !co->m[i]->running) {
			snprintf(msg, sizeof(msg), "host %s is being restored: no checkpoint until it is released",
				 co->m[i]->host ? co->m[i]->host : "?");
			if (!cmd)
				log_info("coordinator: %s", msg);
			send_result(cmd, -EBUSY, msg, 0, NULL);
			return;
		}
	gen = ++co->generation;
	tlv_put_u64(&b, WIRE_A_GEN, gen);
	tlv_put_str(&b, WIRE_A_DIR, dir);
	tlv_put_u32(&b, WIRE_A_MODE, mode);
	if (keep)
		tlv_put_u32(&b, WIRE_A_KEEP, keep);
	r = broadcast(co, WIRE_FREEZE, &b, err, sizeof(err));
	tlv_buf_free(&b);
	if (r == 0)
		r = wait_all(co, WIRE_FROZEN, co->o->freeze_timeout_ms, err, sizeof(err));
	t_frozen = now_ms();
	if (r == 0)
		r = broadcast(co, WIRE_DUMP, NULL, err, sizeof(err));
	if (r == 0)
		r = wait_all(co, WIRE_PREPARED, co->o->dump_timeout_ms, err, sizeof(err));
	if (r == 0)
		r = write_top_manifest(co, dir, gen, err, sizeof(err));
	if (r < 0) {
		log_warn("coordinator: checkpoint %llu called off: %s", (unsigned long long)gen, err);
		abort_all(co, err);
		co->generation = gen - 1;
		send_result(cmd, r, err, 0, NULL);
		return;
	}
	/* Committed: from here on the new generation is the valid one. */
	if (keep)
		prune_manifests(dir, gen, keep);
	r = broadcast(co, WIRE_COMMIT, NULL, err, sizeof(err));
	if (r == 0)
		r = wait_all(co, WIRE_DONE, COMMIT_TIMEOUT_MS, err, sizeof(err));
	for (size_t i = 0; i < co->n; i++)
		if (co->m[i]->role == WIRE_ROLE_SUPERVISOR) {
			bytes += co->m[i]->bytes;
			slowest = MAX(slowest, co->m[i]->own_ms);
		}
	snprintf(msg, sizeof(msg),
		 "checkpoint of %zu host%s: %s (generation %llu, %.1f MiB, all frozen in %lld ms, total %lld ms, slowest host's own dump %u ms)%s%s",
		 hosts, hosts == 1 ? "" : "s", dir, (unsigned long long)gen, bytes / 1048576.0,
		 (long long)(t_frozen - t0), (long long)(now_ms() - t0), slowest,
		 r < 0 ? "; but " : "", r < 0 ? err : "");
	for (size_t i = 0; i < co->n; i++) {
		const struct member *m = co->m[i];
		size_t len = strlen(msg);

		if (m->role != WIRE_ROLE_SUPERVISOR || len + 128 >= sizeof(msg))
			continue;
		snprintf(msg + len, sizeof(msg) - len, "\n  host %s: %s/, %u process%s, %.1f MiB, own dump %u ms",
			 m->host ? m->host : "?", m->subdir ? m->subdir : "?", m->nr_procs,
			 m->nr_procs == 1 ? "" : "es", m->bytes / 1048576.0, m->own_ms);
	}
	log_info("coordinator: %s", msg);
	send_result(cmd, 0, msg, gen, dir);
}

static void send_status(struct coordinator *co, struct member *cmd)
{
	struct tlv_buf b = { 0 };

	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];
		long nest;

		if (m->role != WIRE_ROLE_SUPERVISOR)
			continue;
		nest = tlv_nest_start(&b, WIRE_A_MEMBER);
		tlv_put_str(&b, WIRE_A_HOST, m->host ? m->host : "?");
		tlv_put_str(&b, WIRE_A_ADDR, m->addr ? m->addr : "?");
		tlv_put_u32(&b, WIRE_A_PID, (uint32_t)m->pid);
		tlv_put_str(&b, WIRE_A_CMDLINE, m->cmdline ? m->cmdline : "");
		tlv_put_u64(&b, WIRE_A_GEN, m->generation);
		if (nest >= 0)
			tlv_nest_end(&b, nest);
	}
	tlv_put_u64(&b, WIRE_A_GEN, co->generation);
	channel_send(&cmd->ch, WIRE_STATUS, &b);
	tlv_buf_free(&b);
}

/* A running barrier is done when enough restored hosts are ready, or late. */
static void check_barrier(struct coordinator *co)
{
	struct barrier *br = &co->barrier;
	uint32_t ready = 0;
	char msg[256];

	if (!br->cmd)
		return;
	for (size_t i = 0; i < co->n; i++)
		ready += co->m[i]->role == WIRE_ROLE_SUPERVISOR && co->m[i]->ready;
	if (ready >= br->count) {
		for (size_t i = 0; i < co->n; i++)
			if (co->m[i]->ready) {
				send_simple(co->m[i], WIRE_GO, NULL);
				co->m[i]->ready = false;
				co->m[i]->running = true;
			}
		snprintf(msg, sizeof(msg), "%u host%s released together", ready, ready == 1 ? "" : "s");
		send_result(br->cmd, 0, msg, 0, NULL);
		br->cmd = NULL;
	} else if (now_ms() >= br->deadline) {
		snprintf(msg, sizeof(msg), "only %u of %u hosts were restored in time", ready,
			 br->count);
		for (size_t i = 0; i < co->n; i++)
			if (co->m[i]->ready)
				send_simple(co->m[i], WIRE_ABORT, msg);
		send_result(br->cmd, -ETIMEDOUT, msg, 0, NULL);
		br->cmd = NULL;
	}
}

static void serve_member(struct coordinator *co, size_t i)
{
	struct member *m = co->m[i];
	struct wire_in in;
	int r = channel_recv(&m->ch, &in, 5000);

	if (r < 0) {
		drop_member(co, i, r == -ECONNRESET ? "connection closed" : strerror(-r));
		return;
	}
	switch (in.type) {
	case WIRE_CHECKPOINT:
		if (m->role == WIRE_ROLE_COMMAND) {
			_cleanup_free_ char *dir = attr_str(&in, WIRE_A_DIR);

			run_checkpoint(co, m, dir, attr_u32(&in, WIRE_A_MODE, CTL_DUMP_LEAVE_RUNNING),
				       0);
		}
		break;
	case WIRE_STATUS:
		if (m->role == WIRE_ROLE_COMMAND)
			send_status(co, m);
		break;
	case WIRE_BARRIER:
		if (m->role != WIRE_ROLE_COMMAND)
			break;
		if (co->barrier.cmd) {
			send_result(m, -EBUSY, "a restore is being released already", 0, NULL);
			break;
		}
		co->barrier = (struct barrier){ m, attr_u32(&in, WIRE_A_COUNT, 1),
						now_ms() + attr_u32(&in, WIRE_A_TIMEOUT_MS, 120000) };
		break;
	case WIRE_READY:
		m->ready = true;
		m->generation = attr_u64(&in, WIRE_A_GEN, m->generation);
		co->generation = MAX(co->generation, m->generation);
		break;
	default:
		break;
	}
	wire_in_free(&in);
	check_barrier(co);
}

static int listen_on(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *ai;
	char host[256], port[16];
	int fd = -1, one = 1, r;

	r = split_host_port(addr, host, sizeof(host), port, sizeof(port));
	if (r < 0)
		return r;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EADDRNOTAVAIL;
	r = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		r = neg_errno();
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : r;
}

int coordinator_run(const struct coordinator_options *o)
{
	struct coordinator co = { .o = o, .listen_fd = -1, .signal_fd = -1 };
	_cleanup_close_ int timer_fd = -1;
	sigset_t stop;
	int r;

	r = secret_load_or_create(o->secret_path, co.secret);
	if (r < 0) {
		log_err("coordinator: the secret %s: %s", o->secret_path,
			r == -EPERM ? "not a 0600 file of ours" : strerror(-r));
		return r;
	}
	co.listen_fd = listen_on(o->listen);
	if (co.listen_fd < 0) {
		log_err("coordinator: listening on %s: %s", o->listen, strerror(-co.listen_fd));
		return co.listen_fd;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	co.signal_fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (o->interval_s) {
		struct itimerspec its = { .it_interval = { .tv_sec = o->interval_s },
					  .it_value = { .tv_sec = o->interval_s } };

		timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL) < 0) {
			log_err("coordinator: a checkpoint every %u s: %m", o->interval_s);
			close(co.listen_fd);
			close(co.signal_fd);
			return -errno;
		}
	}
	fprintf(stderr, "coordinator: listening on %s, secret in %s\n", o->listen, o->secret_path);
	if (o->interval_s)
		fprintf(stderr, "coordinator: a checkpoint every %u s into %s, the %u latest kept\n",
			o->interval_s, o->dir, o->keep);
	for (;;) {
		struct pollfd *pfd = calloc(co.n + 3, sizeof(*pfd));
		size_t n = co.n;

		if (!pfd)
			break;
		pfd[0] = (struct pollfd){ .fd = co.listen_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = co.signal_fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = timer_fd, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			pfd[i + 3] = (struct pollfd){ .fd = co.m[i]->ch.fd, .events = POLLIN };
		r = poll(pfd, n + 3, co.barrier.cmd ? 100 : -1);
		if (r < 0 && errno != EINTR) {
			free(pfd);
			break;
		}
		if (r > 0 && (pfd[1].revents & POLLIN)) {
			free(pfd);
			break;
		}
		/* From the last: dropping a member moves the last one into its slot. */
		for (size_t i = n; r > 0 && i-- > 0;)
			if (i < co.n && pfd[i + 3].revents && co.m[i]->ch.fd == pfd[i + 3].fd)
				serve_member(&co, i);
		if (r > 0 && (pfd[0].revents & POLLIN))
			accept_member(&co);
		if (r > 0 && (pfd[2].revents & POLLIN)) {
			uint64_t ticks;

			/* Ticks missed during a checkpoint make one more, not a burst. */
			if (read(timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
			    nr_supervisors(&co) && !co.barrier.cmd)
				run_checkpoint(&co, NULL, o->dir, CTL_DUMP_LEAVE_RUNNING, o->keep);
		}
		check_barrier(&co);
		free(pfd);
	}
	while (co.n)
		drop_member(&co, co.n - 1, "the coordinator stops");
	free(co.m);
	close(co.listen_fd);
	close(co.signal_fd);
	return 0;
}
