/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One thread, one epoll loop.  Every connection is a small state machine
 * driven by its socket's events: HELLO (the challenge sent, the peer's proof
 * awaited), JOIN (authenticated, its introduction awaited), MEMBER.  Nothing
 * here waits on one peer: reads take what has arrived (channel_recv_nowait),
 * sends queue what the socket does not take (channel_flush on EPOLLOUT), so
 * idle, slow or hostile connections cost a slot each and nobody time.
 * Connections not yet introduced have a deadline each, kept in a list in
 * the order they came (all have the same timeout, so that is deadline
 * order); the unauthenticated ones are counted per source (sources.h), and
 * when the slots run out the oldest one gives way to the newest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "coord/coordinator.h"
#include "coord/sources.h"
#include "proto/ctlmsg.h"
#include "proto/imagekey.h"
#include "proto/manifest.h"
#include "proto/model.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/shellword.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* From accept to the peer's introduction (JOIN). */
#define HANDSHAKE_TIMEOUT_MS 3000
/* A member's message, from its first byte to its last. */
#define FRAME_TIMEOUT_MS 5000
#define COMMIT_TIMEOUT_MS 30000
/* Unauthenticated connections one source may hold open at once. */
#define UNAUTH_PER_SOURCE 16
/* At most one line per source and kind of refusal per interval. */
#define SOURCE_LOG_INTERVAL_MS 60000
/* Handshakes at once, whatever the sources (fewer when fds are short). */
#define MAX_HANDSHAKES 8192
/* The kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096
/* Accepted per turn of the loop, so that a flood does not starve the rest. */
#define ACCEPT_BATCH 64
#define MAX_EVENTS 256
/* Handshakes ended for their deadline per turn of the loop. */
#define EXPIRE_BATCH 64
/* Messages read from one member per turn of the loop. */
#define MEMBER_BATCH 16

/* What an epoll event points at: the first field of its object. */
enum ev_kind { EV_LISTEN = 1, EV_SIGNAL, EV_TIMER, EV_CONN };

enum conn_state {
	CONN_HELLO,		/* challenge sent; unauthenticated, counted in its source */
	CONN_JOIN,		/* proved the secret; its JOIN awaited */
	CONN_MEMBER,		/* in co->m */
	CONN_DEAD,		/* closed; freed once the events in hand are done */
};

struct member {
	enum ev_kind kind;	/* EV_CONN; first */
	enum conn_state state;
	struct channel ch;
	bool want_out;		/* EPOLLOUT asked for */
	/* Until it is a member: in the list of handshakes (or of the dead). */
	struct member *prev, *next;
	int64_t deadline;
	struct source *src;	/* while CONN_HELLO */
	uint32_t role;		/* enum wire_role */
	char *host, *addr, *cmdline;
	pid_t pid;
	uint64_t generation;
	bool ready;		/* restored, waiting for GO */
	bool running;		/* not a restore waiting for GO: may be checkpointed */
	/* during a checkpoint */
	bool in_ckpt;		/* a part of the running checkpoint */
	bool replied;
	char *subdir;
	uint64_t bytes;
	uint32_t nr_procs;
	uint32_t own_ms;	/* its own dump, as it says */
	uint32_t task;		/* its batch job's task + 1; 0: none */
	/* A part restored by a job's task: where it was, and of how many parts. */
	char *old_addr;
	uint32_t parts;
	bool map_sent;
	struct wire_tcp_end *tcp_ends;	/* its TCP connections drained between hosts */
	size_t nr_tcp_ends;
};

struct barrier {
	struct member *cmd;	/* who asked; NULL: none running (unless automatic) */
	bool automatic;		/* asked by the parts themselves (READY with COUNT) */
	uint32_t count;
	int64_t deadline;
};

/* The running checkpoint, as the event handlers see it. */
struct ckpt_state {
	bool active;
	uint32_t want;		/* the answer awaited from every part; 0: none */
	int r;			/* the first failure of this step */
	char err[1024];
	struct member *cmd;	/* who asked; NULL: --interval, or it left */
	/* What the parts said when DONE (a killed part leaves right after). */
	uint64_t bytes;
	uint32_t slowest;
	char hosts[2048];
};

/* A checkpoint asked for, started once the events in hand are done. */
struct ckpt_request {
	bool pending;
	struct member *cmd;
	char *dir;
	uint32_t mode;
};

struct coordinator {
	const struct coordinator_options *o;
	uint8_t secret[SECRET_LEN];
	int listen_fd, signal_fd, timer_fd, epoll_fd;
	enum ev_kind tag_listen, tag_signal, tag_timer;
	struct member **m;	/* introduced members */
	size_t n;
	struct member *hs_head, *hs_tail;	/* handshakes, oldest first */
	size_t nr_hs, max_hs;
	struct member *dead;
	struct source_table sources;
	int64_t accept_paused_until;	/* 0: accepting */
	int64_t next_sweep;
	bool stop, tick;
	uint64_t generation;
	struct barrier barrier;
	struct ckpt_state ck;
	struct ckpt_request req;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void member_free(struct member *m)
{
	free(m->tcp_ends);
	free(m->old_addr);
	channel_close(&m->ch);
	free(m->host);
	free(m->addr);
	free(m->cmdline);
	free(m->subdir);
	free(m);
}

/* Closed now, freed after the events in hand (they may still point at it). */
static void bury(struct coordinator *co, struct member *m)
{
	if (m->ch.fd >= 0) {
		close(m->ch.fd);
		m->ch.fd = -1;
	}
	m->state = CONN_DEAD;
	m->prev = NULL;
	m->next = co->dead;
	co->dead = m;
}

static void free_dead(struct coordinator *co)
{
	while (co->dead) {
		struct member *m = co->dead;

		co->dead = m->next;
		member_free(m);
	}
}

static int send_simple(struct member *m, uint32_t type, const char *msg);

/* The ordinary ends of a member: not worth a warning about a command. */
static const char closed_why[] = "connection closed";
static const char stop_why[] = "the coordinator stops";

static void drop_member(struct coordinator *co, struct member *m, const char *why)
{
	size_t i;

	for (i = 0; i < co->n && co->m[i] != m; i++)
		;
	if (i == co->n || m->state != CONN_MEMBER)
		return;
	co->m[i] = co->m[--co->n];
	if (m->role == WIRE_ROLE_SUPERVISOR)
		log_info("coordinator: host %s (pid %d) left: %s", m->host ? m->host : "?", m->pid,
			 why);
	else if (why != closed_why && why != stop_why)
		log_warn("coordinator: a command from %s (pid %d) was dropped: %s", m->ch.peer,
			 m->pid, why);
	/*
	 * A part of the running checkpoint lost fails its step, named; one that
	 * had answered it already (DONE, then gone with its killed program) not.
	 */
	if (co->ck.want && m->in_ckpt && !m->replied && !co->ck.r) {
		snprintf(co->ck.err, sizeof(co->ck.err), "host %s was lost: %s",
			 m->host ? m->host : "?", why);
		co->ck.r = -EHOSTDOWN;
	}
	if (co->ck.cmd == m)
		co->ck.cmd = NULL;
	if (co->req.pending && co->req.cmd == m) {
		co->req.pending = false;
		free(co->req.dir);
		co->req.dir = NULL;
	}
	/* Whoever asked for the release gave up: the parts built so far end. */
	if (co->barrier.cmd == m) {
		co->barrier.cmd = NULL;
		for (size_t k = 0; k < co->n; k++)
			if (co->m[k]->ready) {
				send_simple(co->m[k], WIRE_ABORT, "the restore was called off");
				co->m[k]->ready = false;
			}
	}
	bury(co, m);
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

/* ------------------------------------------------------------ connections */

static void hs_unlink(struct coordinator *co, struct member *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		co->hs_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		co->hs_tail = m->prev;
	m->prev = m->next = NULL;
	co->nr_hs--;
}

static const char *refusal(int r)
{
	switch (r) {
	case -EACCES:
		return "it does not know the secret";
	case -ETIMEDOUT:
		return "no handshake within " STR(HANDSHAKE_TIMEOUT_MS) " ms";
	case -EBADMSG:
		return "not our protocol";
	case -ECONNRESET:
		return "it hung up";
	case -EMFILE:
		return "room made for a newer connection";
	default:
		return strerror(-r);
	}
}

/*
 * A connection not introduced ends: closed, and said -- at most once per
 * source and interval while it had not proved the secret, since anybody
 * can open those.
 */
static void end_handshake(struct coordinator *co, struct member *m, int r)
{
	int64_t now = now_ms();

	if (m->src) {
		struct source_say say;

		source_refused(&co->sources, m->src, now, &say);
		if (say.now && say.more)
			log_warn("coordinator: refused a connection from %s: %s (and %u more from there since the last such line)",
				 m->ch.peer, refusal(r), say.more);
		else if (say.now)
			log_warn("coordinator: refused a connection from %s: %s", m->ch.peer, refusal(r));
		source_release(&co->sources, m->src, now);
		m->src = NULL;
	} else {
		log_warn("coordinator: refused a connection from %s: %s", m->ch.peer, refusal(r));
	}
	hs_unlink(co, m);
	bury(co, m);
}

static void new_connection(struct coordinator *co, int fd, const struct sockaddr_storage *ss,
			   socklen_t sl)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct source_addr a;
	struct source_say say;
	struct source *src;
	struct member *m;
	int64_t now = now_ms();
	int r;

	source_addr_from(&a, (const struct sockaddr *)ss, sl);
	src = source_admit(&co->sources, &a, now, &r, &say);
	if (!src) {
		if (say.now) {
			char s[64];

			source_addr_str(&a, s, sizeof(s));
			log_warn("coordinator: %s holds %u connections that have not proved the secret, the most one source may: closing its new ones at once (%u closed since the last such line)",
				 s, co->sources.cap, say.more);
		}
		close(fd);
		return;
	}
	if (co->nr_hs >= co->max_hs)
		end_handshake(co, co->hs_head, -EMFILE);
	m = calloc(1, sizeof(*m));
	if (!m) {
		source_release(&co->sources, src, now);
		close(fd);
		return;
	}
	m->kind = EV_CONN;
	m->state = CONN_HELLO;
	m->src = src;
	m->deadline = now + HANDSHAKE_TIMEOUT_MS;
	r = channel_accept_start(&m->ch, fd);
	ev.data.ptr = &m->kind;
	if (r == 0 && epoll_ctl(co->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		r = neg_errno();
	m->prev = co->hs_tail;
	if (co->hs_tail)
		co->hs_tail->next = m;
	else
		co->hs_head = m;
	co->hs_tail = m;
	co->nr_hs++;
	if (r < 0)
		end_handshake(co, m, r);
}

/* Out of fds: let go of the oldest handshake, or stop accepting for a moment. */
static bool make_room(struct coordinator *co)
{
	if (co->hs_head) {
		end_handshake(co, co->hs_head, -EMFILE);
		return true;
	}
	if (!co->accept_paused_until) {
		log_warn("coordinator: out of file descriptors with %zu members: not accepting for 100 ms",
			 co->n);
		epoll_ctl(co->epoll_fd, EPOLL_CTL_DEL, co->listen_fd, NULL);
		co->accept_paused_until = now_ms() + 100;
	}
	return false;
}

static void accept_some(struct coordinator *co)
{
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(co->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			new_connection(co, fd, &ss, sl);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			if (make_room(co))
				continue;
			return;
		}
		/* EAGAIN: no more; others (ECONNABORTED, a network error): the next one */
		if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO && errno != EPERM)
			return;
	}
}

/* Its JOIN came: a member from now on. */
static void introduce(struct coordinator *co, struct member *m, const struct wire_in *in)
{
	struct member **nm = realloc(co->m, (co->n + 1) * sizeof(*nm));
	int one = 1;

	if (!nm) {
		end_handshake(co, m, -ENOMEM);
		return;
	}
	co->m = nm;
	hs_unlink(co, m);
	m->role = attr_u32(in, WIRE_A_ROLE, WIRE_ROLE_COMMAND);
	m->host = attr_str(in, WIRE_A_HOST);
	m->addr = attr_str(in, WIRE_A_ADDR);
	m->cmdline = attr_str(in, WIRE_A_CMDLINE);
	m->pid = (pid_t)attr_u32(in, WIRE_A_PID, 0);
	m->generation = attr_u64(in, WIRE_A_GEN, 0);
	m->running = !attr_u32(in, WIRE_A_RESTORING, 0);
	m->task = attr_u32(in, WIRE_A_TASK, 0);
	m->old_addr = attr_str(in, WIRE_A_OLD_ADDR);
	m->parts = attr_u32(in, WIRE_A_COUNT, 0);
	/* It goes into every part's address map: an address, nothing else. */
	if (m->old_addr && (!is_host_name(m->old_addr) || !m->parts || m->running ||
			    m->role != WIRE_ROLE_SUPERVISOR)) {
		log_warn("coordinator: host %s: a part with old address '%s' of %u parts: refused",
			 m->host ? m->host : "?", m->old_addr, m->parts);
		free(m->old_addr);
		m->old_addr = NULL;
		m->parts = 0;
	}
	m->state = CONN_MEMBER;
	m->ch.queue_sends = true;
	setsockopt(m->ch.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	co->m[co->n++] = m;
	co->generation = MAX(co->generation, m->generation);
	if (m->role == WIRE_ROLE_SUPERVISOR)
		log_info("coordinator: host %s (%s) joined: pid %d, %s", m->host ? m->host : "?",
			 m->addr ? m->addr : "?", m->pid, m->cmdline ? m->cmdline : "");
}

static void handle_message(struct coordinator *co, struct member *m, const struct wire_in *in);

static void conn_event(struct coordinator *co, struct member *m, uint32_t events)
{
	struct wire_in in;
	int r;

	if (m->state == CONN_DEAD)
		return;
	if (events & EPOLLOUT) {
		r = channel_flush(&m->ch);
		if (r < 0 && r != -EAGAIN) {
			drop_member(co, m, strerror(-r));
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (m->state == CONN_HELLO) {
		r = channel_accept_continue(&m->ch, co->secret);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			end_handshake(co, m, r);
			return;
		}
		/* It knows the secret: no longer one of its source's unknowns. */
		source_release(&co->sources, m->src, now_ms());
		m->src = NULL;
		m->state = CONN_JOIN;
	}
	if (m->state == CONN_JOIN) {
		r = channel_recv_nowait(&m->ch, &in);
		if (r == -EAGAIN)
			return;
		if (r == 0 && in.type != WIRE_JOIN) {
			wire_in_free(&in);
			r = -EBADMSG;
		}
		if (r < 0) {
			end_handshake(co, m, r);
			return;
		}
		introduce(co, m, &in);
		wire_in_free(&in);
	}
	for (int k = 0; k < MEMBER_BATCH && m->state == CONN_MEMBER; k++) {
		r = channel_recv_nowait(&m->ch, &in);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			drop_member(co, m, r == -ECONNRESET ? closed_why : strerror(-r));
			return;
		}
		handle_message(co, m, &in);
		wire_in_free(&in);
	}
}

/* Handshakes past their deadline; members stuck in the middle of a message. */
static void expire(struct coordinator *co, int64_t now)
{
	/* A wave of them at once is cut into turns: the next comes at once. */
	for (int k = 0; k < EXPIRE_BATCH && co->hs_head && co->hs_head->deadline <= now; k++)
		end_handshake(co, co->hs_head, -ETIMEDOUT);
	for (size_t i = co->n; i-- > 0;) {
		struct member *m = co->m[i];

		if (m->ch.rx.have && now - m->ch.rx.started >= FRAME_TIMEOUT_MS)
			drop_member(co, m, "a message was begun and not finished within " STR(FRAME_TIMEOUT_MS) " ms");
	}
	if (co->accept_paused_until && now >= co->accept_paused_until) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &co->tag_listen };

		co->accept_paused_until = 0;
		epoll_ctl(co->epoll_fd, EPOLL_CTL_ADD, co->listen_fd, &ev);
	}
	if (now >= co->next_sweep) {
		source_table_sweep(&co->sources, now);
		co->next_sweep = now + SOURCE_LOG_INTERVAL_MS / 4;
	}
}

/* EPOLLOUT for the members with queued output, and only for them. */
static void sync_output(struct coordinator *co)
{
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];
		bool want = channel_has_output(&m->ch);
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
					  .data.ptr = &m->kind };

		if (want != m->want_out && epoll_ctl(co->epoll_fd, EPOLL_CTL_MOD, m->ch.fd, &ev) == 0)
			m->want_out = want;
	}
}

/* The next moment something is due: a deadline of a handshake or a message. */
static int64_t next_due(const struct coordinator *co, int64_t due)
{
#define EARLIER(t) (due = due < 0 || (t) < due ? (t) : due)
	if (co->hs_head)
		EARLIER(co->hs_head->deadline);
	if (co->accept_paused_until)
		EARLIER(co->accept_paused_until);
	for (size_t i = 0; i < co->n; i++)
		if (co->m[i]->ch.rx.have)
			EARLIER(co->m[i]->ch.rx.started + FRAME_TIMEOUT_MS);
#undef EARLIER
	return due;
}

/*
 * One turn: what happened within timeout_ms (-1: until something does),
 * handled.  Never called from within itself: what would start a checkpoint
 * is only noted here (co->req, co->tick) and started by the caller.
 */
static void dispatch(struct coordinator *co, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int64_t now = now_ms(), due = next_due(co, timeout_ms < 0 ? -1 : now + timeout_ms);
	int n;

	/* What was queued since the last turn (a broadcast) is waited on too. */
	sync_output(co);
	n = epoll_wait(co->epoll_fd, ev, MAX_EVENTS,
		       due < 0 ? -1 : (int)MIN(MAX(due - now, 0), (int64_t)INT32_MAX));

	for (int i = 0; i < n; i++) {
		enum ev_kind *k = ev[i].data.ptr;

		switch (*k) {
		case EV_LISTEN:
			accept_some(co);
			break;
		case EV_SIGNAL: {
			struct signalfd_siginfo si;

			if (read(co->signal_fd, &si, sizeof(si)) == sizeof(si))
				co->stop = true;
			break;
		}
		case EV_TIMER: {
			uint64_t ticks;

			/* Ticks missed during a checkpoint make one more, not a burst. */
			if (read(co->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
				co->tick = true;
			break;
		}
		case EV_CONN:
			conn_event(co, (struct member *)k, ev[i].events);
			break;
		}
	}
	expire(co, now_ms());
	sync_output(co);
	free_dead(co);
}
static size_t nr_supervisors(const struct coordinator *co)
{
	size_t k = 0;

	for (size_t i = 0; i < co->n; i++)
		k += co->m[i]->role == WIRE_ROLE_SUPERVISOR;
	return k;
}

/* Tell every part of the checkpoint; one that cannot be told fails the step. */
static int broadcast(struct coordinator *co, uint32_t type, const struct tlv_buf *b,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];
		int r;

		if (!m->in_ckpt)
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
 * Until every part answered `want`: FAILED, a lost host or the deadline
 * fail the step, named.  The loop goes on meanwhile: handshakes, status
 * requests and the others' messages are served as at any other time.
 */
static int wait_all(struct coordinator *co, uint32_t want, int timeout_ms, char *err,
		    size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r;

	co->ck.want = want;
	co->ck.r = 0;
	for (;;) {
		struct member *late = NULL;
		int64_t left;

		if (co->ck.r) {
			snprintf(err, errlen, "%s", co->ck.err);
			r = co->ck.r;
			break;
		}
		for (size_t i = 0; i < co->n && !late; i++)
			if (co->m[i]->in_ckpt && !co->m[i]->replied)
				late = co->m[i];
		if (!late) {
			r = 0;
			break;
		}
		if (co->stop) {
			snprintf(err, errlen, "the coordinator was stopped");
			r = -ECANCELED;
			break;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "host %s did not answer %s within %d ms",
				 late->host ? late->host : "?",
				 want == WIRE_FROZEN ? "FREEZE" : want == WIRE_PREPARED ? "DUMP" :
				 want == WIRE_TCP_ENDS ? "DUMP (its TCP connections)" :
				 want == WIRE_TCP_SENT ? "TCP_PEERS (its bytes in flight)" : "COMMIT",
				 timeout_ms);
			r = -ETIMEDOUT;
			break;
		}
		dispatch(co, (int)MIN(left, (int64_t)INT32_MAX));
	}
	co->ck.want = 0;
	return r;
}

/* A part's answer during a checkpoint. */
static void ckpt_answer(struct coordinator *co, struct member *m, const struct wire_in *in)
{
	if (!co->ck.want || !m->in_ckpt || m->replied || co->ck.r)
		return;
	if (in->type == WIRE_FAILED) {
		char *msg = attr_str(in, WIRE_A_MSG);

		snprintf(co->ck.err, sizeof(co->ck.err), "host %s: %s", m->host ? m->host : "?",
			 msg ? msg : "failed");
		free(msg);
		m->replied = true;	/* it has thawed already */
		co->ck.r = -EIO;
	} else if (in->type == co->ck.want) {
		if (in->type == WIRE_TCP_ENDS) {
			int r = wire_get_tcp_ends(in->payload, in->len, &m->tcp_ends, &m->nr_tcp_ends);

			if (r < 0) {
				snprintf(co->ck.err, sizeof(co->ck.err), "host %s: its TCP connections: %s",
					 m->host ? m->host : "?",
					 r == -E2BIG ? "too many between hosts" : strerror(-r));
				co->ck.r = r;
				return;
			}
		}
		m->replied = true;
		m->own_ms = attr_u32(in, WIRE_A_OWN_MS, m->own_ms);
		if (in->type == WIRE_DONE) {
			size_t len = strlen(co->ck.hosts);

			co->ck.bytes += m->bytes;
			co->ck.slowest = MAX(co->ck.slowest, m->own_ms);
			if (len + 128 < sizeof(co->ck.hosts))
				snprintf(co->ck.hosts + len, sizeof(co->ck.hosts) - len,
					 "\n  host %s: %s/, %u process%s, %.1f MiB, own dump %u ms",
					 m->host ? m->host : "?", m->subdir ? m->subdir : "?",
					 m->nr_procs, m->nr_procs == 1 ? "" : "es", m->bytes / 1048576.0,
					 m->own_ms);
		}
		if (in->type == WIRE_PREPARED) {
			free(m->subdir);
			m->subdir = attr_str(in, WIRE_A_SUBDIR);
			m->bytes = attr_u64(in, WIRE_A_BYTES, 0);
			m->nr_procs = attr_u32(in, WIRE_A_NR_PROCS, 0);
		}
	}
}

_Static_assert(SECRET_LEN == IMAGE_KEY_LEN, "the computation's secret is an image key");

/*
 * The connections drained between hosts: every part lists its ends, gets
 * the list of all (each host works out its peers and which end accepts),
 * and says when its send queues are empty; once all have, each reads its
 * ends out and the bytes go to the peers' hosts (forward_tcp_bytes).
 */
static int tcp_exchange(struct coordinator *co, char *err, size_t errlen)
{
	struct tlv_buf b = { 0 };
	size_t total = 0;
	int r;

	for (size_t i = 0; i < co->n; i++) {
		free(co->m[i]->tcp_ends);
		co->m[i]->tcp_ends = NULL;
		co->m[i]->nr_tcp_ends = 0;
	}
	r = wait_all(co, WIRE_TCP_ENDS, co->o->dump_timeout_ms, err, errlen);
	for (size_t i = 0; r == 0 && i < co->n; i++) {
		const struct member *m = co->m[i];

		if (!m->in_ckpt)
			continue;
		total += m->nr_tcp_ends;
		if (total > WIRE_TCP_ENDS_MAX) {
			snprintf(err, errlen, "more than %d TCP connections between hosts",
				 WIRE_TCP_ENDS_MAX / 2);
			r = -E2BIG;
		} else {
			r = wire_put_tcp_ends(&b, m->tcp_ends, m->nr_tcp_ends);
		}
	}
	if (r == 0)
		r = broadcast(co, WIRE_TCP_PEERS, &b, err, errlen);
	tlv_buf_free(&b);
	if (r == 0)
		r = wait_all(co, WIRE_TCP_SENT, co->o->dump_timeout_ms, err, errlen);
	if (r == 0)
		r = broadcast(co, WIRE_TCP_ARRIVED, NULL, err, errlen);
	if (r == 0 && total)
		log_debug("coordinator: %zu TCP ends between hosts drained", total);
	return r;
}

/* A host's bytes for the other end of one of its connections: to that end's host. */
static void forward_tcp_bytes(struct coordinator *co, struct member *from,
			      const struct wire_in *in)
{
	const struct tlv_attr *l = in->tb[WIRE_A_LOCAL], *rm = in->tb[WIRE_A_REMOTE];
	struct tlv_buf b = { 0 };
	struct member *to = NULL;

	bool own = false;

	/* Only after TCP_ARRIVED, while the parts write. */
	if (!co->ck.active || co->ck.want != WIRE_PREPARED || !from->in_ckpt || co->ck.r)
		return;
	if (l && rm && tlv_len(l) == WIRE_ADDR_LEN && tlv_len(rm) == WIRE_ADDR_LEN) {
		for (size_t k = 0; k < from->nr_tcp_ends && !own; k++)
			own = inet_same_endpoint(from->tcp_ends[k].local, tlv_data(l)) &&
			      inet_same_endpoint(from->tcp_ends[k].remote, tlv_data(rm));
		for (size_t i = 0; i < co->n && !to && own; i++)
			for (size_t k = 0; co->m[i]->in_ckpt && k < co->m[i]->nr_tcp_ends && !to; k++)
				if (inet_same_endpoint(co->m[i]->tcp_ends[k].local, tlv_data(rm)) &&
				    inet_same_endpoint(co->m[i]->tcp_ends[k].remote, tlv_data(l)))
					to = co->m[i];
	}
	if (!to) {
		char la[INET_ADDR_STR_MAX] = "?", ra[INET_ADDR_STR_MAX] = "?";

		if (l && rm && tlv_len(l) == WIRE_ADDR_LEN && tlv_len(rm) == WIRE_ADDR_LEN) {
			inet_addr_str(tlv_data(l), la, sizeof(la));
			inet_addr_str(tlv_data(rm), ra, sizeof(ra));
		}
		snprintf(co->ck.err, sizeof(co->ck.err),
			 "host %s: bytes for TCP connection %s -> %s, %s", from->host ? from->host : "?",
			 la, ra, own ? "whose other end no host has" : "which it did not list");
		co->ck.r = -EBADMSG;
		return;
	}
	/* The payload as it came, authenticated again for its new channel. */
	if (tlv_put_raw(&b, in->payload, in->len) == 0 &&
	    channel_send(&to->ch, WIRE_TCP_BYTES, &b) < 0 && !co->ck.r) {
		snprintf(co->ck.err, sizeof(co->ck.err), "host %s: sending TCP_BYTES: lost",
			 to->host ? to->host : "?");
		co->ck.r = -ECONNRESET;
	}
	tlv_buf_free(&b);
}

/* DIR/manifest of a checkpoint of several hosts: written last, the commit point. */
static int write_top_manifest(struct coordinator *co, const char *dir, uint64_t gen,
			      char *err, size_t errlen)
{
	struct manifest man = { .version = TC_FORMAT_VERSION, .generation = gen,
				.flags = TC_COMP_F_MULTIHOST };
	struct image_key key = { 0 };
	char gen_name[64], host[256] = "";
	struct timespec ts;
	_cleanup_close_ int dfd = -1;
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

		if (!m->in_ckpt)
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
			.bytes = m->bytes, .nr_procs = m->nr_procs, .cmdline = m->cmdline,
			.task = m->task };
	}
	man.nr_members = k;
	/* The computation's secret authenticates it: every host that restores holds it. */
	memcpy(key.bytes, co->secret, sizeof(key.bytes));
	/* Each generation's own name too, so an older one can be restored (--generation). */
	snprintf(gen_name, sizeof(gen_name), "manifest.g%llu", (unsigned long long)gen);
	r = mkdir_p(dir, 0700);
	if (r == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = neg_errno();
	if (r == 0)
		r = manifest_write_at(dfd, dir, "manifest", gen_name, &man, &key, 0, NULL, err,
				      errlen);
	else
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
	image_key_wipe(&key);
	free(man.members);
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
		if (co->m[i]->in_ckpt)
			send_simple(co->m[i], WIRE_ABORT, why);
}

/*
 * keep: 0 keeps every generation.  The command that asked (co->ck.cmd) may
 * leave while this runs: it is cleared then.
 */
static void checkpoint_steps(struct coordinator *co, const char *dir, uint32_t mode,
			     uint32_t keep)
{
	char err[1024] = "", msg[4096];
	struct tlv_buf b = { 0 };
	int64_t t0 = now_ms(), t_frozen;
	uint64_t gen, bytes = 0;
	uint32_t slowest = 0;
	size_t hosts = nr_supervisors(co);
	int r;

	if (!dir || dir[0] != '/') {
		send_result(co->ck.cmd, -EINVAL, "the image directory must be an absolute path", 0, NULL);
		return;
	}
	if (!hosts) {
		send_result(co->ck.cmd, -ENOENT, "no supervisor has joined this coordinator", 0, NULL);
		return;
	}
	/* A host being restored reads nothing but GO: it would never freeze. */
	for (size_t i = 0; i < co->n; i++)
		if (co->m[i]->role == WIRE_ROLE_SUPERVISOR && !co->m[i]->running) {
			snprintf(msg, sizeof(msg), "host %s is being restored: no checkpoint until it is released",
				 co->m[i]->host ? co->m[i]->host : "?");
			if (!co->ck.cmd)
				log_info("coordinator: %s", msg);
			send_result(co->ck.cmd, -EBUSY, msg, 0, NULL);
			return;
		}
	for (size_t i = 0; i < co->n; i++)
		co->m[i]->in_ckpt = co->m[i]->role == WIRE_ROLE_SUPERVISOR;
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
		r = tcp_exchange(co, err, sizeof(err));
	if (r == 0)
		r = wait_all(co, WIRE_PREPARED, co->o->dump_timeout_ms, err, sizeof(err));
	if (r == 0)
		r = write_top_manifest(co, dir, gen, err, sizeof(err));
	if (r < 0) {
		log_warn("coordinator: checkpoint %llu called off: %s", (unsigned long long)gen, err);
		abort_all(co, err);
		co->generation = gen - 1;
		send_result(co->ck.cmd, r, err, 0, NULL);
		return;
	}
	/* Committed: from here on the new generation is the valid one. */
	if (keep)
		prune_manifests(dir, gen, keep);
	r = broadcast(co, WIRE_COMMIT, NULL, err, sizeof(err));
	if (r == 0)
		r = wait_all(co, WIRE_DONE, COMMIT_TIMEOUT_MS, err, sizeof(err));
	bytes = co->ck.bytes;
	slowest = co->ck.slowest;
	snprintf(msg, sizeof(msg),
		 "checkpoint of %zu host%s: %s (generation %llu, %.1f MiB, all frozen in %lld ms, total %lld ms, slowest host's own dump %u ms)%s%s",
		 hosts, hosts == 1 ? "" : "s", dir, (unsigned long long)gen, bytes / 1048576.0,
		 (long long)(t_frozen - t0), (long long)(now_ms() - t0), slowest,
		 r < 0 ? "; but " : "", r < 0 ? err : "");
	if (strlen(msg) + strlen(co->ck.hosts) < sizeof(msg))
		strcat(msg, co->ck.hosts);
	log_info("coordinator: %s", msg);
	send_result(co->ck.cmd, 0, msg, gen, dir);
}

/* cmd: the command that asked, or NULL (--interval). */
static void run_checkpoint(struct coordinator *co, struct member *cmd, const char *dir,
			   uint32_t mode, uint32_t keep)
{
	co->ck = (struct ckpt_state){ .active = true, .cmd = cmd };
	checkpoint_steps(co, dir, mode, keep);
	for (size_t i = 0; i < co->n; i++)
		co->m[i]->in_ckpt = false;
	co->ck = (struct ckpt_state){ 0 };
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

/*
 * The parts restored by a job's tasks (each knows only its own old
 * address): once as many as they say there are have joined, every one is
 * told the whole map, old address to the one its part joined from.
 */
static void check_addr_map(struct coordinator *co)
{
	_cleanup_free_ char *map = NULL;
	size_t waiting = 0, len = 0;
	uint32_t parts = 0;

	for (size_t i = 0; i < co->n; i++) {
		const struct member *m = co->m[i];

		if (m->old_addr && !m->map_sent) {
			waiting++;
			parts = MAX(parts, m->parts);
			len += strlen(m->old_addr) + (m->addr ? strlen(m->addr) : 1) + 2;
		}
	}
	if (!waiting || waiting < parts)
		return;
	/* Each old host once, each to an address the others can reach. */
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];
		const char *why = NULL;

		if (!m->old_addr || m->map_sent)
			continue;
		if (!m->addr || !is_host_name(m->addr) || !strncmp(m->addr, "127.", 4) ||
		    !strcmp(m->addr, "::1"))
			why = "it joined over loopback: the others could not reach it there";
		for (size_t k = 0; k < i && !why; k++)
			if (co->m[k]->old_addr && !co->m[k]->map_sent &&
			    !strcmp(co->m[k]->old_addr, m->old_addr))
				why = "another part has the same old address";
		if (why) {
			char msg[256];

			snprintf(msg, sizeof(msg), "the part of old host %s: %s", m->old_addr, why);
			log_warn("coordinator: %s", msg);
			send_simple(m, WIRE_ABORT, msg);
			m->map_sent = true;
			return;
		}
	}
	map = calloc(1, len + 1);
	if (!map)
		return;
	for (size_t i = 0; i < co->n; i++) {
		const struct member *m = co->m[i];

		if (m->old_addr && !m->map_sent)
			snprintf(map + strlen(map), len + 1 - strlen(map), "%s%s=%s",
				 map[0] ? "," : "", m->old_addr, m->addr ? m->addr : "?");
	}
	for (size_t i = 0; i < co->n; i++) {
		struct member *m = co->m[i];

		if (m->old_addr && !m->map_sent) {
			send_simple(m, WIRE_ADDR_MAP, map);
			m->map_sent = true;
		}
	}
	log_info("coordinator: %zu parts restored by the job's tasks: %s", waiting, map);
}

/* A running barrier is done when enough restored hosts are ready, or late. */
static void check_barrier(struct coordinator *co)
{
	struct barrier *br = &co->barrier;
	uint32_t ready = 0;
	char msg[256];

	check_addr_map(co);
	if (!br->cmd && !br->automatic)
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
		if (br->automatic)
			log_info("coordinator: %s", msg);
		send_result(br->cmd, 0, msg, 0, NULL);
		br->cmd = NULL;
		br->automatic = false;
	} else if (now_ms() >= br->deadline) {
		snprintf(msg, sizeof(msg), "only %u of %u hosts were restored in time", ready,
			 br->count);
		for (size_t i = 0; i < co->n; i++)
			if (co->m[i]->ready)
				send_simple(co->m[i], WIRE_ABORT, msg);
		if (br->automatic)
			log_warn("coordinator: %s", msg);
		send_result(br->cmd, -ETIMEDOUT, msg, 0, NULL);
		br->cmd = NULL;
		br->automatic = false;
	}
}

static void handle_message(struct coordinator *co, struct member *m, const struct wire_in *in)
{
	switch (in->type) {
	case WIRE_CHECKPOINT:
		if (m->role != WIRE_ROLE_COMMAND)
			break;
		if (co->ck.active || co->req.pending) {
			send_result(m, -EBUSY, "a checkpoint is running already", 0, NULL);
			break;
		}
		co->req = (struct ckpt_request){ .pending = true, .cmd = m,
						 .dir = attr_str(in, WIRE_A_DIR),
						 .mode = attr_u32(in, WIRE_A_MODE, CTL_DUMP_LEAVE_RUNNING) };
		break;
	case WIRE_STATUS:
		if (m->role == WIRE_ROLE_COMMAND)
			send_status(co, m);
		break;
	case WIRE_BARRIER:
		if (m->role != WIRE_ROLE_COMMAND)
			break;
		if (co->barrier.cmd || co->barrier.automatic) {
			send_result(m, -EBUSY, "a restore is being released already", 0, NULL);
			break;
		}
		co->barrier = (struct barrier){ .cmd = m, .count = attr_u32(in, WIRE_A_COUNT, 1),
						.deadline = now_ms() + attr_u32(in, WIRE_A_TIMEOUT_MS, 120000) };
		break;
	case WIRE_READY:
		/* The parts a job's tasks restored release themselves, all together. */
		if (m->old_addr && m->map_sent && !co->barrier.cmd && !co->barrier.automatic)
			co->barrier = (struct barrier){ .automatic = true, .count = m->parts,
							.deadline = now_ms() + 300000 };
		m->ready = true;
		m->generation = attr_u64(in, WIRE_A_GEN, m->generation);
		co->generation = MAX(co->generation, m->generation);
		break;
	case WIRE_TCP_BYTES:
		if (m->role == WIRE_ROLE_SUPERVISOR)
			forward_tcp_bytes(co, m, in);
		break;
	case WIRE_TCP_ENDS:
	case WIRE_TCP_SENT:
	case WIRE_FROZEN:
	case WIRE_PREPARED:
	case WIRE_DONE:
	case WIRE_FAILED:
		if (m->role == WIRE_ROLE_SUPERVISOR)
			ckpt_answer(co, m, in);
		break;
	default:
		break;
	}
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
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
			break;
		r = neg_errno();
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : r;
}

static int watch(struct coordinator *co, int fd, enum ev_kind *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(co->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? neg_errno() : 0;
}

/*
 * Room for many handshakes at once: the soft fd limit raised to the hard
 * one, and the handshakes kept well below it so that members and the
 * manifest always find an fd.
 */
static size_t handshake_slots(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > MAX_HANDSHAKES + 256)
		return MAX_HANDSHAKES;
	return rl.rlim_cur > 256 + 64 ? (size_t)rl.rlim_cur - 256 : 64;
}

static int setup(struct coordinator *co)
{
	const struct coordinator_options *o = co->o;
	sigset_t stop;
	int r;

	r = secret_load_or_create(o->secret_path, co->secret);
	if (r < 0)
		return log_ret(r, "coordinator: the secret %s: %s", o->secret_path,
			       r == -EPERM ? "not a 0600 file of ours" : strerror(-r));
	r = source_table_init(&co->sources, UNAUTH_PER_SOURCE, SOURCE_LOG_INTERVAL_MS);
	if (r < 0)
		return log_ret(r, "coordinator: %s", strerror(-r));
	co->max_hs = handshake_slots();
	co->listen_fd = listen_on(o->listen);
	if (co->listen_fd < 0)
		return log_ret(co->listen_fd, "coordinator: listening on %s: %s", o->listen,
			       strerror(-co->listen_fd));
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	co->signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	co->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (co->signal_fd < 0 || co->epoll_fd < 0)
		return log_ret(neg_errno(), "coordinator: signalfd, epoll: %m");
	if (o->interval_s) {
		struct itimerspec its = { .it_interval = { .tv_sec = o->interval_s },
					  .it_value = { .tv_sec = o->interval_s } };

		co->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (co->timer_fd < 0 || timerfd_settime(co->timer_fd, 0, &its, NULL) < 0)
			return log_ret(neg_errno(), "coordinator: a checkpoint every %u s: %m",
				       o->interval_s);
	}
	r = watch(co, co->listen_fd, &co->tag_listen);
	if (r == 0)
		r = watch(co, co->signal_fd, &co->tag_signal);
	if (r == 0 && co->timer_fd >= 0)
		r = watch(co, co->timer_fd, &co->tag_timer);
	if (r < 0)
		return log_ret(r, "coordinator: epoll: %s", strerror(-r));
	return 0;
}

int coordinator_run(const struct coordinator_options *o)
{
	struct coordinator co = { .o = o, .listen_fd = -1, .signal_fd = -1, .timer_fd = -1,
				  .epoll_fd = -1, .tag_listen = EV_LISTEN, .tag_signal = EV_SIGNAL,
				  .tag_timer = EV_TIMER };
	int r = setup(&co);

	if (r == 0) {
		fprintf(stderr, "coordinator: listening on %s, secret in %s\n", o->listen,
			o->secret_path);
		if (o->interval_s)
			fprintf(stderr, "coordinator: a checkpoint every %u s into %s, the %u latest kept\n",
				o->interval_s, o->dir, o->keep);
	}
	while (r == 0 && !co.stop) {
		dispatch(&co, co.barrier.cmd || co.barrier.automatic ? 100 : -1);
		if (co.req.pending && !co.stop) {
			struct ckpt_request req = co.req;

			co.req = (struct ckpt_request){ 0 };
			run_checkpoint(&co, req.cmd, req.dir, req.mode, 0);
			free(req.dir);
		}
		if (co.tick && !co.stop) {
			co.tick = false;
			if (nr_supervisors(&co) && !co.barrier.cmd && !co.barrier.automatic)
				run_checkpoint(&co, NULL, o->dir, CTL_DUMP_LEAVE_RUNNING, o->keep);
		}
		check_barrier(&co);
		sync_output(&co);
		free_dead(&co);
	}
	while (co.n)
		drop_member(&co, co.m[co.n - 1], stop_why);
	while (co.hs_head) {
		struct member *m = co.hs_head;

		hs_unlink(&co, m);
		bury(&co, m);
	}
	free_dead(&co);
	free(co.m);
	free(co.req.dir);
	source_table_free(&co.sources);
	sodium_memzero(co.secret, sizeof(co.secret));
	closep(&co.listen_fd);
	closep(&co.signal_fd);
	closep(&co.timer_fd);
	closep(&co.epoll_fd);
	return r;
}
