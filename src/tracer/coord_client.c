/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "proto/ctlmsg.h"
#include "tracer/collect.h"
#include "tracer/control.h"
#include "tracer/coord_client.h"
#include "tracer/dump.h"
#include "tracer/session.h"
#include "tracer/supervisor_log.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define JOIN_TIMEOUT_MS 5000
#define ADDR_MAP_TIMEOUT_MS 300000	/* JOIN -> ADDR_MAP: every task of the job restarting */
#define DUMP_ORDER_TIMEOUT_MS 60000	/* FROZEN -> DUMP: every host freezing */
#define COMMIT_ORDER_TIMEOUT_MS 600000	/* PREPARED -> COMMIT: every host writing */

int coord_default_secret(const char *addr, char *out, size_t len)
{
	char dir[PATH_MAX], host[256], port[16];
	int r = split_host_port(addr, host, sizeof(host), port, sizeof(port));

	if (r == 0)
		r = control_dir(dir, sizeof(dir));
	if (r == 0)
		r = mkdir_p(dir, 0700);
	if (r == 0 && (size_t)snprintf(out, len, "%s/coordinator-%s.secret", dir, port) >= len)
		r = -ENAMETOOLONG;
	return r;
}

/* This process is task N of a Slurm job (srun): SLURM_PROCID. */
int job_task(uint32_t *task)
{
	const char *id = getenv("SLURM_PROCID"), *job = getenv("SLURM_JOB_ID");
	char *end;
	unsigned long v;

	if (!id || !job || !*id)
		return -ENOENT;
	errno = 0;
	v = strtoul(id, &end, 10);
	if (*end || errno || v >= UINT32_MAX)
		return -EINVAL;
	*task = (uint32_t)v;
	return 0;
}

/* Every part of the job has joined: where each old address went. */
static int await_addr_map(struct session *s, struct channel *ch)
{
	struct wire_in in;
	int r = channel_recv(ch, &in, ADDR_MAP_TIMEOUT_MS);

	if (r < 0)
		return log_ret(r, "waiting for the other parts of the job to join: %s",
			       r == -ETIMEDOUT ? "not all of them came" : strerror(-r));
	if (in.type != WIRE_ADDR_MAP || !in.tb[WIRE_A_MSG]) {
		log_err("the coordinator sent %s, not the map of the job's hosts",
			wire_msg_name(in.type));
		wire_in_free(&in);
		return -EPROTO;
	}
	r = tlv_get_strdup(in.tb[WIRE_A_MSG], &s->part_addr_map);
	wire_in_free(&in);
	if (r < 0)
		return r;
	s->addr_map = s->part_addr_map;
	log_info("the job's %u parts have joined; addresses: %s", s->part_count, s->addr_map);
	return 0;
}

int coord_join(struct session *s, const char *addr, const char *secret_path, bool restoring)
{
	uint32_t task;
	uint8_t secret[SECRET_LEN];
	struct channel *ch = calloc(1, sizeof(*ch));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256] = "?", me[64] = "";
	struct tlv_buf b = { 0 };
	int r;

	if (!ch)
		return -ENOMEM;
	r = secret_load(secret_path, secret);
	if (r < 0) {
		log_err("the coordinator's secret %s: %s", secret_path,
			r == -EPERM ? "not a 0600 file of ours" : strerror(-r));
		free(ch);
		return r;
	}
	r = channel_open(ch, addr, secret, JOIN_TIMEOUT_MS);
	memset(secret, 0, sizeof(secret));
	if (r < 0) {
		log_err("joining the coordinator at %s: %s", addr,
			r == -EACCES ? "it does not take our secret" : strerror(-r));
		free(ch);
		return r;
	}
	gethostname(host, sizeof(host) - 1);
	/* How the coordinator's host reaches us: our end of this connection. */
	if (getsockname(ch->fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, me, sizeof(me), NULL, 0, NI_NUMERICHOST);
	tlv_put_u32(&b, WIRE_A_ROLE, WIRE_ROLE_SUPERVISOR);
	tlv_put_str(&b, WIRE_A_HOST, host);
	tlv_put_str(&b, WIRE_A_ADDR, me);
	tlv_put_u32(&b, WIRE_A_PID, (uint32_t)getpid());
	tlv_put_str(&b, WIRE_A_CMDLINE, s->cmdline ? s->cmdline : "");
	tlv_put_u64(&b, WIRE_A_GEN, s->generation);
	tlv_put_u32(&b, WIRE_A_RESTORING, restoring);
	if (job_task(&task) == 0)
		tlv_put_u32(&b, WIRE_A_TASK, task + 1);
	if (restoring && s->part_old_addr) {
		tlv_put_str(&b, WIRE_A_OLD_ADDR, s->part_old_addr);
		tlv_put_u32(&b, WIRE_A_COUNT, s->part_count);
	}
	r = channel_send(ch, WIRE_JOIN, &b);
	tlv_buf_free(&b);
	if (r == 0 && restoring && s->part_old_addr)
		r = await_addr_map(s, ch);
	if (r < 0) {
		channel_close(ch);
		free(ch);
		return log_ret(r, "joining the coordinator at %s: %m", addr);
	}
	s->coord = ch;
	free(s->coord_secret);
	s->coord_secret = realpath(secret_path, NULL);
	log_debug("joined the coordinator at %s as %s (%s)", addr, host, me);
	return 0;
}

/* why = "called off: <the coordinator's words>" for an ABORT. */
static void abort_reason(const struct wire_in *in, char *why, size_t whylen)
{
	char *msg = NULL;

	if (in->tb[WIRE_A_MSG])
		tlv_get_strdup(in->tb[WIRE_A_MSG], &msg);
	snprintf(why, whylen, "called off: %s", msg ? msg : "?");
	free(msg);
}

/* The next message of the coordinator: want, or -ECANCELED for ABORT. */
static int await(struct channel *ch, uint32_t want, int timeout_ms, char *why, size_t whylen)
{
	for (;;) {
		struct wire_in in;
		uint32_t type;
		int r = channel_recv(ch, &in, timeout_ms);

		if (r < 0) {
			snprintf(why, whylen, "the coordinator: %s",
				 r == -ECONNRESET ? "lost" : strerror(-r));
			return r;
		}
		type = in.type;
		if (type == WIRE_ABORT)
			abort_reason(&in, why, whylen);
		wire_in_free(&in);
		if (type == want)
			return 0;
		if (type == WIRE_ABORT)
			return -ECANCELED;
	}
}

struct global_dump {
	struct channel *ch;
	char why[512];
	bool why_is_fault;	/* not a called-off checkpoint: FAILED is sent */
	struct wire_in piece;	/* the last TCP_BYTES taken */
	char subdir[300];
	uint64_t waited_ns;	/* for the coordinator's orders: not our own work */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int await_timed(struct global_dump *g, uint32_t want, int timeout_ms)
{
	uint64_t t0 = mono_ns();
	int r = await(g->ch, want, timeout_ms, g->why, sizeof(g->why));

	g->waited_ns += mono_ns() - t0;
	return r;
}

static int on_frozen(void *arg)
{
	struct global_dump *g = arg;
	int r = channel_send(g->ch, WIRE_FROZEN, NULL);

	return r < 0 ? r : await_timed(g, WIRE_DUMP, DUMP_ORDER_TIMEOUT_MS);
}

/* A message that is not the one due: ABORT (-ECANCELED), or a fault (-EPROTO). */
static int unexpected(struct global_dump *g, const struct wire_in *in, uint32_t want)
{
	if (in->type == WIRE_ABORT) {
		abort_reason(in, g->why, sizeof(g->why));
		return -ECANCELED;
	}
	snprintf(g->why, sizeof(g->why), "the coordinator sent %s where %s was due",
		 wire_msg_name(in->type), wire_msg_name(want));
	g->why_is_fault = true;
	return -EPROTO;
}

/* The next message of the coordinator, which must be want (ABORT: -ECANCELED). */
static int await_msg(struct global_dump *g, uint32_t want, struct wire_in *in)
{
	uint64_t t0 = mono_ns();
	int r = channel_recv(g->ch, in, DUMP_ORDER_TIMEOUT_MS);

	g->waited_ns += mono_ns() - t0;
	if (r < 0) {
		snprintf(g->why, sizeof(g->why), "the coordinator: %s",
			 r == -ECONNRESET ? "lost" : strerror(-r));
		return r;
	}
	if (in->type == want)
		return 0;
	r = unexpected(g, in, want);
	wire_in_free(in);
	return r;
}

static int tcp_ends(void *arg, const struct wire_tcp_end *mine, size_t n,
		    struct wire_tcp_end **all, size_t *nr_all)
{
	struct global_dump *g = arg;
	struct tlv_buf b = { 0 };
	struct wire_in in;
	int r = wire_put_tcp_ends(&b, mine, n);

	if (r == 0)
		r = channel_send(g->ch, WIRE_TCP_ENDS, &b);
	tlv_buf_free(&b);
	if (r == 0)
		r = await_msg(g, WIRE_TCP_PEERS, &in);
	if (r < 0)
		return r;
	*all = NULL;
	*nr_all = 0;
	r = wire_get_tcp_ends(in.payload, in.len, all, nr_all);
	wire_in_free(&in);
	return r;
}

static int tcp_sent(void *arg)
{
	struct global_dump *g = arg;

	return channel_send(g->ch, WIRE_TCP_SENT, NULL);
}

#define FRAME_TIMEOUT_MS 5000

/*
 * The next message, waiting at most timeout_ms for one to begin (-EAGAIN:
 * none); one that has begun is read to its end, so that no frame is left
 * half read for the blocking reads of the steps after.
 */
static int recv_whole(struct global_dump *g, struct wire_in *in, int timeout_ms)
{
	uint64_t deadline = mono_ns() / 1000000 + (uint64_t)MAX(timeout_ms, 0);

	for (;;) {
		struct pollfd pfd = { .fd = g->ch->fd, .events = POLLIN };
		uint64_t now = mono_ns() / 1000000;
		bool started;
		int r = channel_recv_nowait(g->ch, in), left;

		if (r != -EAGAIN)
			return r;
		started = g->ch->rx.have > 0;
		if (!started && now >= deadline)
			return -EAGAIN;
		left = started ? FRAME_TIMEOUT_MS : (int)(deadline - now);
		r = poll(&pfd, 1, left);
		if (r == 0 && started)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return neg_errno();
	}
}

/* Without blocking: the drain goes on reading meanwhile. */
static int tcp_arrived(void *arg)
{
	struct global_dump *g = arg;
	struct wire_in in;
	int r = recv_whole(g, &in, 0);

	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		snprintf(g->why, sizeof(g->why), "the coordinator: %s",
			 r == -ECONNRESET ? "lost" : strerror(-r));
		return r;
	}
	r = in.type == WIRE_TCP_ARRIVED ? 1 : unexpected(g, &in, WIRE_TCP_ARRIVED);
	wire_in_free(&in);
	return r;
}

static int tcp_give(void *arg, const struct tcp_bytes_piece *p)
{
	struct global_dump *g = arg;
	struct tlv_buf b = { 0 };
	int r;

	tlv_put(&b, WIRE_A_LOCAL, p->local, WIRE_ADDR_LEN);
	tlv_put(&b, WIRE_A_REMOTE, p->remote, WIRE_ADDR_LEN);
	tlv_put(&b, WIRE_A_DATA, p->data, p->len);
	tlv_put_u32(&b, WIRE_A_LAST, p->last);
	if (p->peeked)
		tlv_put_u32(&b, WIRE_A_PEEKED, 1);
	r = channel_send(g->ch, WIRE_TCP_BYTES, &b);
	tlv_buf_free(&b);
	return r;
}

static int tcp_take(void *arg, struct tcp_bytes_piece *p, int timeout_ms)
{
	struct global_dump *g = arg;
	const struct tlv_attr *l, *rm, *d;
	uint32_t last = 0, peeked = 0;
	int r;

	wire_in_free(&g->piece);
	r = recv_whole(g, &g->piece, timeout_ms);
	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		memset(&g->piece, 0, sizeof(g->piece));
		snprintf(g->why, sizeof(g->why), "the coordinator: %s",
			 r == -ECONNRESET ? "lost" : strerror(-r));
		return r;
	}
	if (g->piece.type != WIRE_TCP_BYTES)
		return unexpected(g, &g->piece, WIRE_TCP_BYTES);
	l = g->piece.tb[WIRE_A_LOCAL];
	rm = g->piece.tb[WIRE_A_REMOTE];
	d = g->piece.tb[WIRE_A_DATA];
	if (!l || !rm || !d || tlv_len(l) != WIRE_ADDR_LEN || tlv_len(rm) != WIRE_ADDR_LEN ||
	    !g->piece.tb[WIRE_A_LAST] || tlv_get_u32(g->piece.tb[WIRE_A_LAST], &last) < 0 ||
	    (g->piece.tb[WIRE_A_PEEKED] && tlv_get_u32(g->piece.tb[WIRE_A_PEEKED], &peeked) < 0)) {
		snprintf(g->why, sizeof(g->why), "a malformed TCP_BYTES from the coordinator");
		g->why_is_fault = true;
		return -EBADMSG;
	}
	memcpy(p->local, tlv_data(l), WIRE_ADDR_LEN);
	memcpy(p->remote, tlv_data(rm), WIRE_ADDR_LEN);
	p->data = tlv_data(d);
	p->len = tlv_len(d);
	p->last = last != 0;
	p->peeked = peeked != 0;
	return 1;
}

static int on_written(void *arg, const char *dir, uint64_t bytes, size_t nr_procs)
{
	struct global_dump *g = arg;
	struct tlv_buf b = { 0 };
	int r;

	(void)dir;
	tlv_put_str(&b, WIRE_A_SUBDIR, g->subdir);
	tlv_put_u64(&b, WIRE_A_BYTES, bytes);
	tlv_put_u32(&b, WIRE_A_NR_PROCS, (uint32_t)nr_procs);
	r = channel_send(g->ch, WIRE_PREPARED, &b);
	tlv_buf_free(&b);
	return r < 0 ? r : await_timed(g, WIRE_COMMIT, COMMIT_ORDER_TIMEOUT_MS);
}

/*
 * This host's parts of generations older than the keep latest, once gen is
 * committed: DIR/<host>.g<M> for M <= gen - keep.
 */
static void prune_generations(const char *top, const char *host, uint64_t gen, uint32_t keep)
{
	size_t hl = strlen(host);
	struct dirent *de;
	DIR *d = opendir(top);

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *num = de->d_name + hl + 2;
		char path[PATH_MAX];
		uint64_t m;
		char *end;

		if (strncmp(de->d_name, host, hl) || strncmp(de->d_name + hl, ".g", 2) ||
		    !isdigit((unsigned char)*num))
			continue;
		m = strtoull(num, &end, 10);
		if (*end || m + keep > gen)
			continue;
		snprintf(path, sizeof(path), "%s/%s", top, de->d_name);
		if (rm_rf(path) < 0)
			log_warn("%s: could not remove an older generation: %m", path);
	}
	closedir(d);
}

static void global_checkpoint(struct session *s, const struct wire_in *in)
{
	struct global_dump g = { .ch = s->coord };
	struct tcp_exchange tcp = { .ends = tcp_ends, .sent = tcp_sent, .arrived = tcp_arrived,
				    .fd = s->coord->fd, .give = tcp_give, .take = tcp_take,
				    .arg = &g };
	struct dump_hooks hooks = { on_frozen, on_written, &tcp, &g };
	struct dump_request rq = { .hooks = &hooks };
	struct dump_result res;
	char host[256] = "?", dir[PATH_MAX];
	_cleanup_free_ char *top = NULL;
	uint32_t mode = CTL_DUMP_LEAVE_RUNNING, keep = 0;
	off_t mark = -1;
	struct tlv_buf b = { 0 };
	int r;

	if (in->tb[WIRE_A_KEEP])
		tlv_get_u32(in->tb[WIRE_A_KEEP], &keep);
	if (in->tb[WIRE_A_DIR])
		tlv_get_strdup(in->tb[WIRE_A_DIR], &top);
	if (in->tb[WIRE_A_MODE])
		tlv_get_u32(in->tb[WIRE_A_MODE], &mode);
	if (in->tb[WIRE_A_GEN])
		tlv_get_u64(in->tb[WIRE_A_GEN], &rq.generation);
	gethostname(host, sizeof(host) - 1);
	snprintf(g.subdir, sizeof(g.subdir), "%s.g%llu", host, (unsigned long long)rq.generation);
	r = top ? mkdir_p(top, 0700) : -EINVAL;
	if (r < 0) {
		snprintf(res.msg, sizeof(res.msg), "image directory %s: %s", top ? top : "?",
			 strerror(-r));
	} else {
		snprintf(dir, sizeof(dir), "%s/%s", top, g.subdir);
		rq.dir = dir;
		rq.mode = (int)mode;
		mark = supervisor_log_mark(s);
		r = dump_computation(s, &rq, &res);
		if (r < 0)
			supervisor_log_quote(s, mark, res.msg, sizeof(res.msg));
	}
	wire_in_free(&g.piece);
	if (r == 0) {
		log_info("%s", res.msg);
		tlv_put_u32(&b, WIRE_A_OWN_MS,
			    (uint32_t)((res.total_ns - MIN(res.total_ns, g.waited_ns)) / 1000000));
		channel_send(s->coord, WIRE_DONE, &b);
		tlv_buf_free(&b);
		if (keep)
			prune_generations(top, host, rq.generation, keep);
		return;
	}
	if (g.why[0] && !g.why_is_fault) {
		log_warn("global checkpoint %llu: %s", (unsigned long long)rq.generation, g.why);
		return;
	}
	if (g.why_is_fault && strlen(res.msg) + strlen(g.why) + 4 < sizeof(res.msg))
		snprintf(res.msg + strlen(res.msg), sizeof(res.msg) - strlen(res.msg), " (%s)", g.why);
	log_warn("global checkpoint %llu: %s", (unsigned long long)rq.generation, res.msg);
	tlv_put_str(&b, WIRE_A_MSG, res.msg);
	channel_send(s->coord, WIRE_FAILED, &b);
	tlv_buf_free(&b);
}

void coord_serve(struct session *s)
{
	struct wire_in in;
	int r = channel_recv(s->coord, &in, 5000);

	if (r < 0) {
		log_warn("the coordinator is gone (%s): this host's part runs on alone",
			 r == -ECONNRESET ? "connection closed" : strerror(-r));
		channel_close(s->coord);
		free(s->coord);
		s->coord = NULL;
		return;
	}
	if (in.type == WIRE_FREEZE)
		global_checkpoint(s, &in);
	wire_in_free(&in);
}

int coord_wait_go(struct session *s, int timeout_ms)
{
	struct tlv_buf b = { 0 };
	char why[512] = "";
	int r;

	tlv_put_u64(&b, WIRE_A_GEN, s->generation);
	/* The parts a job's tasks restored: released when all of them are built. */
	if (s->part_old_addr)
		tlv_put_u32(&b, WIRE_A_COUNT, s->part_count);
	r = channel_send(s->coord, WIRE_READY, &b);
	tlv_buf_free(&b);
	if (r == 0)
		r = await(s->coord, WIRE_GO, timeout_ms, why, sizeof(why));
	if (r < 0)
		log_err("waiting for the other hosts: %s", why[0] ? why : strerror(-r));
	return r;
}
