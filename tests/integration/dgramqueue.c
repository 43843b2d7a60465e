/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dgramqueue: datagrams that wait in their receivers' queues, each with the
 * sender it came from.  Every receiver stays LAG datagrams behind its
 * senders, so a checkpoint always finds queues that are not empty; every
 * datagram read is checked for its sender's address (the source port, the
 * unix name) and for being the next of that sender: one lost, repeated,
 * reordered or coming from another address is BAD.
 *
 *   UDP, IPv4: a socket bound to 0.0.0.0 hears from one bound to 127.0.0.1
 *     (sendto) and one connected to it; a socket connected to its only
 *     sender hears from it.
 *   UDP, IPv6: a socket bound to [::] (dual stack) hears from one bound to
 *     [::1] and from an IPv4 socket (a mapped address).
 *   Unix datagrams: a socket bound to an abstract name hears from one bound
 *     to a path, one bound to an abstract name, one bound to a relative
 *     name, an unbound one, and, every tick, a new socket bound to an
 *     abstract name or a path and closed at once (its datagram outlives it,
 *     the path's socket file stays until the next one); the
 *     two ends of a socketpair, one of them bound afterwards, hear from
 *     each other.
 *   Unix seqpacket: a connection whose other end (bound to a name) sent a
 *     message and one of no bytes, then closed: both read from that name,
 *     then the end; and a connection to a listener of ours whose accepted
 *     end sent a message and closed.
 *
 *   dgramqueue [-n TARGET] [-i INTERVAL_MS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tc_test.h"

/* A unix datagram socket queues at most net.unix.max_dgram_qlen (10) of them. */
#define LAG 4
#define PER_TICK 2
#define MAX_SENDERS 8

struct dgram {
	uint32_t sender;
	uint32_t pad;
	uint64_t seq;
	uint64_t check;
};

struct receiver;

struct sender {
	const char *name;
	int fd;
	struct receiver *to;
	int connected;		/* send(), not sendto() */
	int transient;		/* a new socket per datagram, bound to names[seq % 2] */
	struct sockaddr_storage addr;	/* its own address, as the receiver sees it */
	socklen_t addr_len;
	struct sockaddr_storage dst;	/* where it sends to, if not its receiver's address */
	socklen_t dst_len;
	uint64_t seq;
};

struct receiver {
	const char *name;
	int fd;
	struct sockaddr_storage addr;	/* where senders send to */
	socklen_t addr_len;
	struct sender *senders[MAX_SENDERS];
	int nr_senders;
	uint64_t next[MAX_SENDERS];
	uint64_t sent, got;
};

/* The closed senders' names: an abstract one, and a path whose socket file stays behind. */
static char transient_names[2][4200];

static socklen_t transient_addr(struct sockaddr_un *sun, uint64_t seq);

static socklen_t sockaddr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static socklen_t abstract_addr(struct sockaddr_un *sun, const char *name)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, strlen(name));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static socklen_t path_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		tc_bad("socket path too long: %s", path);
	strcpy(sun->sun_path, path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static socklen_t transient_addr(struct sockaddr_un *sun, uint64_t seq)
{
	return seq % 2 ? path_addr(sun, transient_names[1]) : abstract_addr(sun, transient_names[0]);
}

static int inet_socket(int family, const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		tc_bad("socket: %s", strerror(errno));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (bind(fd, (struct sockaddr *)&ss, sockaddr_len(&ss)) < 0)
		tc_bad("bind %s: %s", ip, strerror(errno));
	return fd;
}

static void own_addr(int fd, struct sockaddr_storage *ss, socklen_t *sl, const char *who)
{
	*sl = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)ss, sl) < 0)
		tc_bad("%s: getsockname: %s", who, strerror(errno));
}

/* Where an IPv4 sender appears to a dual-stack IPv6 receiver. */
static void mapped(struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memcpy(&a4, ss, sizeof(a4));
	memset(ss, 0, sizeof(*ss));
	a6->sin6_family = AF_INET6;
	a6->sin6_port = a4.sin_port;
	a6->sin6_addr.s6_addr[10] = 0xff;
	a6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&a6->sin6_addr.s6_addr[12], &a4.sin_addr, 4);
	*sl = sizeof(*a6);
}

static void add_sender(struct receiver *r, struct sender *s)
{
	if (r->nr_senders == MAX_SENDERS)
		tc_bad("too many senders");
	s->to = r;
	r->senders[r->nr_senders++] = s;
}

/* Two addresses are the same: family, port and address, or the unix name's bytes. */
static int same_addr(const struct sockaddr_storage *a, socklen_t al,
		     const struct sockaddr_storage *b, socklen_t bl)
{
	if (a->ss_family != b->ss_family && al && bl)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	/* Unbound: getsockname says just the family, recvfrom may say nothing. */
	if (al <= offsetof(struct sockaddr_un, sun_path) || bl <= offsetof(struct sockaddr_un, sun_path))
		return al <= offsetof(struct sockaddr_un, sun_path) &&
		       bl <= offsetof(struct sockaddr_un, sun_path);
	return al == bl && !memcmp(a, b, al);
}

static void describe(const struct sockaddr_storage *ss, socklen_t sl, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else if (sl <= offsetof(struct sockaddr_un, sun_path)) {
		snprintf(buf, len, "(unbound)");
	} else {
		const struct sockaddr_un *u = (const void *)ss;
		int n = (int)(sl - offsetof(struct sockaddr_un, sun_path));

		if (u->sun_path[0])
			snprintf(buf, len, "%.*s", n, u->sun_path);
		else
			snprintf(buf, len, "@%.*s", n - 1, u->sun_path + 1);
	}
}

static void send_one(struct sender *s)
{
	struct receiver *r = s->to;
	struct dgram d = { .seq = s->seq };
	ssize_t n;
	int fd = s->fd;

	for (int i = 0; i < r->nr_senders; i++)
		if (r->senders[i] == s)
			d.sender = (uint32_t)i;
	d.check = tc_mix(d.seq * 31 + d.sender);
	if (s->transient) {
		struct sockaddr_un sun;
		socklen_t sl = transient_addr(&sun, s->seq);

		if (s->seq % 2)
			unlink(transient_names[1]);	/* what the last one left */
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sl) < 0)
			tc_bad("%s: bind %s: %s", s->name, transient_names[s->seq % 2], strerror(errno));
	}
	if (s->connected)
		n = send(fd, &d, sizeof(d), MSG_DONTWAIT);
	else if (s->dst_len)
		n = sendto(fd, &d, sizeof(d), MSG_DONTWAIT, (struct sockaddr *)&s->dst, s->dst_len);
	else
		n = sendto(fd, &d, sizeof(d), MSG_DONTWAIT, (struct sockaddr *)&r->addr, r->addr_len);
	if (n != (ssize_t)sizeof(d))
		tc_bad("%s -> %s: send: %s", s->name, r->name, n < 0 ? strerror(errno) : "short");
	if (s->transient)
		close(fd);
	s->seq++;
	r->sent++;
}

/* The sender a datagram from `from` must have come from, for datagram d. */
static void check_one(struct receiver *r, const struct dgram *d, ssize_t len,
		      const struct sockaddr_storage *from, socklen_t fl)
{
	struct sender *s;
	char got[160], want[160];

	if (len != (ssize_t)sizeof(*d) || d->sender >= (uint32_t)r->nr_senders ||
	    d->check != tc_mix(d->seq * 31 + d->sender))
		tc_bad("%s: a damaged datagram of %zd bytes", r->name, len);
	s = r->senders[d->sender];
	if (d->seq != r->next[d->sender])
		tc_bad("%s: from %s datagram %llu, expected %llu", r->name, s->name,
		       (unsigned long long)d->seq, (unsigned long long)r->next[d->sender]);
	r->next[d->sender]++;
	if (s->transient) {
		struct sockaddr_storage ss;
		socklen_t sl = transient_addr((struct sockaddr_un *)&ss, d->seq);

		if (!same_addr(from, fl, &ss, sl)) {
			describe(from, fl, got, sizeof(got));
			describe(&ss, sl, want, sizeof(want));
			tc_bad("%s: datagram %llu of %s from %s, expected %s", r->name,
			       (unsigned long long)d->seq, s->name, got, want);
		}
		return;
	}
	if (!same_addr(from, fl, &s->addr, s->addr_len)) {
		describe(from, fl, got, sizeof(got));
		describe(&s->addr, s->addr_len, want, sizeof(want));
		tc_bad("%s: datagram %llu of %s came from %s, expected %s", r->name,
		       (unsigned long long)d->seq, s->name, got, want);
	}
}

/* Read until only LAG are left; each within 10 s: a lost one ends the test. */
static void drain(struct receiver *r)
{
	while (r->sent - r->got > LAG) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct dgram d;
		ssize_t len;
		int n;

		do {
			n = poll(&pfd, 1, 10000);
		} while (n < 0 && errno == EINTR);
		if (n <= 0)
			tc_bad("%s: no datagram in 10 s (%llu sent, %llu read)", r->name,
			       (unsigned long long)r->sent, (unsigned long long)r->got);
		memset(&from, 0, sizeof(from));
		len = recvfrom(r->fd, &d, sizeof(d), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0)
			tc_bad("%s: recvfrom: %s", r->name, strerror(errno));
		check_one(r, &d, len, &from, fl);
		r->got++;
	}
}

/*
 * A seqpacket connection whose other end, bound to a name, sent two
 * messages (one of no bytes) and closed: made each tick, read the next.
 */
static int make_widowed(long n)
{
	struct sockaddr_un sun;
	char name[64], text[32];
	socklen_t sl;
	int sp[2];

	snprintf(name, sizeof(name), "tc-dgq-%d-wid%ld", (int)getpid(), n % 2);
	snprintf(text, sizeof(text), "w-%ld", n);
	sl = abstract_addr(&sun, name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    bind(sp[1], (struct sockaddr *)&sun, sl) < 0 ||
	    send(sp[1], text, strlen(text), 0) != (ssize_t)strlen(text) || send(sp[1], "", 0, 0) != 0)
		tc_bad("widowed seqpacket %ld: %s", n, strerror(errno));
	close(sp[1]);
	return sp[0];
}

static void check_widowed(int fd, long n)
{
	struct sockaddr_un want, from;
	char name[64], text[32], buf[64];
	socklen_t wl, fl;
	ssize_t got;

	snprintf(name, sizeof(name), "tc-dgq-%d-wid%ld", (int)getpid(), n % 2);
	snprintf(text, sizeof(text), "w-%ld", n);
	wl = abstract_addr(&want, name);
	for (int k = 0; k < 3; k++) {
		const char *expect = k == 0 ? text : "";

		fl = sizeof(from);
		memset(&from, 0, sizeof(from));
		got = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (got != (ssize_t)strlen(expect) || memcmp(buf, expect, strlen(expect)))
			tc_bad("widowed seqpacket %ld, read %d: %zd bytes, expected %zu", n, k, got,
			       strlen(expect));
		/* Two messages from the closed end's name, then the end (no name). */
		if (k < 2 && (fl != wl || memcmp(&from, &want, wl)))
			tc_bad("widowed seqpacket %ld, message %d: not from @%s", n, k, name);
	}
	close(fd);
}

/*
 * A seqpacket connection accepted by a listener of ours, whose accepted end
 * sent a message and closed: the message comes from the listener's name,
 * which the restore cannot bind for it (the listener holds it).
 */
static int make_accepted_widow(int listener, const struct sockaddr_un *at, socklen_t al, long n)
{
	char text[32];
	int cl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), acc;

	snprintf(text, sizeof(text), "a-%ld", n);
	if (cl < 0 || connect(cl, (const struct sockaddr *)at, al) < 0 ||
	    (acc = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
	    send(acc, text, strlen(text), 0) != (ssize_t)strlen(text))
		tc_bad("accepted seqpacket %ld: %s", n, strerror(errno));
	close(acc);
	return cl;
}

static void check_accepted_widow(int fd, long n)
{
	char text[32], buf[64];
	ssize_t got;

	snprintf(text, sizeof(text), "a-%ld", n);
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (got != (ssize_t)strlen(text) || memcmp(buf, text, strlen(text)))
		tc_bad("accepted seqpacket %ld: read %zd bytes", n, got);
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (got != 0)
		tc_bad("accepted seqpacket %ld: %zd bytes after its message, not the end", n, got);
	close(fd);
}

static void check_own_addr(const struct sender *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (s->transient)
		return;
	own_addr(s->fd, &ss, &sl, s->name);
	if (ss.ss_family == AF_INET && s->addr.ss_family == AF_INET6)
		mapped(&ss, &sl);
	if (!same_addr(&ss, sl, &s->addr, s->addr_len))
		tc_bad("%s: its own address changed", s->name);
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	struct receiver r4 = { .name = "udp4 0.0.0.0" }, r6 = { .name = "udp6 [::]" },
			rc = { .name = "udp4 connected" }, ru = { .name = "unix @recv" },
			pa = { .name = "pair end a" }, pb = { .name = "pair end b" };
	struct sender a4 = { .name = "udp4 bound" }, b4 = { .name = "udp4 connected", .connected = 1 },
		      c4 = { .name = "udp4 peer", .connected = 1 }, a6 = { .name = "udp6 [::1]" },
		      m4 = { .name = "udp4 to [::]" }, up = { .name = "unix path" },
		      ua = { .name = "unix abstract" }, ur = { .name = "unix relative" },
		      un = { .name = "unix unbound" }, ut = { .name = "unix closed", .transient = 1 },
		      sa = { .name = "pair a", .connected = 1 }, sb = { .name = "pair b", .connected = 1 };
	struct receiver *recv_all[] = { &r4, &r6, &rc, &ru, &pa, &pb };
	struct sender *send_all[] = { &a4, &b4, &c4, &a6, &m4, &up, &ua, &ur, &un, &ut, &sa, &sb };
	char cwd[4096], path[4200], rel[64], abs_name[64];
	struct sockaddr_un sun;
	struct sockaddr_un acc_at;
	socklen_t sl, acc_len;
	int c, pair[2], widowed, listener, acc_widow;

	while ((c = getopt(argc, argv, "n:i:")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		fprintf(stderr, "usage: %s [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	tc_proc_init("dgramqueue");
	if (!getcwd(cwd, sizeof(cwd)))
		tc_bad("getcwd: %s", strerror(errno));

	/* UDP, IPv4 */
	r4.fd = inet_socket(AF_INET, "0.0.0.0");
	own_addr(r4.fd, &r4.addr, &r4.addr_len, r4.name);
	inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&r4.addr)->sin_addr);
	a4.fd = inet_socket(AF_INET, "127.0.0.1");
	own_addr(a4.fd, &a4.addr, &a4.addr_len, a4.name);
	add_sender(&r4, &a4);
	b4.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (b4.fd < 0 || connect(b4.fd, (struct sockaddr *)&r4.addr, r4.addr_len) < 0)
		tc_bad("%s: connect: %s", b4.name, strerror(errno));
	own_addr(b4.fd, &b4.addr, &b4.addr_len, b4.name);
	add_sender(&r4, &b4);
	rc.fd = inet_socket(AF_INET, "127.0.0.1");
	own_addr(rc.fd, &rc.addr, &rc.addr_len, rc.name);
	c4.fd = inet_socket(AF_INET, "127.0.0.1");
	own_addr(c4.fd, &c4.addr, &c4.addr_len, c4.name);
	if (connect(c4.fd, (struct sockaddr *)&rc.addr, rc.addr_len) < 0 ||
	    connect(rc.fd, (struct sockaddr *)&c4.addr, c4.addr_len) < 0)
		tc_bad("connected pair: %s", strerror(errno));
	add_sender(&rc, &c4);

	/* UDP, IPv6 (dual stack) */
	r6.fd = inet_socket(AF_INET6, "::");
	own_addr(r6.fd, &r6.addr, &r6.addr_len, r6.name);
	inet_pton(AF_INET6, "::1", &((struct sockaddr_in6 *)&r6.addr)->sin6_addr);
	a6.fd = inet_socket(AF_INET6, "::1");
	own_addr(a6.fd, &a6.addr, &a6.addr_len, a6.name);
	add_sender(&r6, &a6);
	m4.fd = inet_socket(AF_INET, "127.0.0.1");
	own_addr(m4.fd, &m4.addr, &m4.addr_len, m4.name);
	mapped(&m4.addr, &m4.addr_len);
	{
		struct sockaddr_in *d = (struct sockaddr_in *)&m4.dst;

		d->sin_family = AF_INET;
		d->sin_port = ((struct sockaddr_in6 *)&r6.addr)->sin6_port;
		d->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m4.dst_len = sizeof(*d);
	}
	add_sender(&r6, &m4);

	/* Unix datagrams, unconnected, by name */
	snprintf(abs_name, sizeof(abs_name), "tc-dgq-%d-recv", (int)getpid());
	ru.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ru.addr_len = abstract_addr((struct sockaddr_un *)&ru.addr, abs_name);
	if (ru.fd < 0 || bind(ru.fd, (struct sockaddr *)&ru.addr, ru.addr_len) < 0)
		tc_bad("%s: bind: %s", ru.name, strerror(errno));
	snprintf(path, sizeof(path), "%s/dgq-%d.sock", cwd, (int)getpid());
	snprintf(rel, sizeof(rel), "dgq-%d-rel.sock", (int)getpid());
	snprintf(abs_name, sizeof(abs_name), "tc-dgq-%d-send", (int)getpid());
	snprintf(transient_names[0], sizeof(transient_names[0]), "tc-dgq-%d-gone0", (int)getpid());
	snprintf(transient_names[1], sizeof(transient_names[1]), "%s/dgq-%d-gone.sock", cwd,
		 (int)getpid());
	unlink(path);
	unlink(rel);
	up.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sl = path_addr(&sun, path);
	if (up.fd < 0 || bind(up.fd, (struct sockaddr *)&sun, sl) < 0)
		tc_bad("%s: bind %s: %s", up.name, path, strerror(errno));
	ua.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sl = abstract_addr(&sun, abs_name);
	if (ua.fd < 0 || bind(ua.fd, (struct sockaddr *)&sun, sl) < 0)
		tc_bad("%s: bind: %s", ua.name, strerror(errno));
	ur.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sl = path_addr(&sun, rel);
	if (ur.fd < 0 || bind(ur.fd, (struct sockaddr *)&sun, sl) < 0)
		tc_bad("%s: bind %s: %s", ur.name, rel, strerror(errno));
	un.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (un.fd < 0)
		tc_bad("%s: socket: %s", un.name, strerror(errno));
	ut.fd = -1;
	for (struct sender **s = (struct sender *[]){ &up, &ua, &ur, &un, &ut, NULL }; *s; s++) {
		if ((*s)->fd >= 0)
			own_addr((*s)->fd, &(*s)->addr, &(*s)->addr_len, (*s)->name);
		add_sender(&ru, *s);
	}

	/* A socketpair, end b bound to a name afterwards: a's datagrams come from that name. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0)
		tc_bad("socketpair: %s", strerror(errno));
	snprintf(abs_name, sizeof(abs_name), "tc-dgq-%d-pairb", (int)getpid());
	sl = abstract_addr(&sun, abs_name);
	if (bind(pair[1], (struct sockaddr *)&sun, sl) < 0)
		tc_bad("pair: bind: %s", strerror(errno));
	pa.fd = sb.fd = pair[0];
	pb.fd = sa.fd = pair[1];
	own_addr(sa.fd, &sa.addr, &sa.addr_len, sa.name);
	own_addr(sb.fd, &sb.addr, &sb.addr_len, sb.name);
	add_sender(&pb, &sb);	/* b reads what end a sends */
	add_sender(&pa, &sa);

	widowed = make_widowed(0);
	snprintf(abs_name, sizeof(abs_name), "tc-dgq-%d-listen", (int)getpid());
	acc_len = abstract_addr(&acc_at, abs_name);
	listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&acc_at, acc_len) < 0 ||
	    listen(listener, 4) < 0)
		tc_bad("seqpacket listener: %s", strerror(errno));
	acc_widow = make_accepted_widow(listener, &acc_at, acc_len, 0);
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		check_widowed(widowed, n - 1);
		widowed = make_widowed(n);
		check_accepted_widow(acc_widow, n - 1);
		acc_widow = make_accepted_widow(listener, &acc_at, acc_len, n);
		for (int k = 0; k < PER_TICK; k++) {
			for (size_t i = 0; i < sizeof(send_all) / sizeof(send_all[0]); i++)
				send_one(send_all[i]);
			for (size_t i = 0; i < sizeof(recv_all) / sizeof(recv_all[0]); i++)
				drain(recv_all[i]);
		}
		for (size_t i = 0; i < sizeof(send_all) / sizeof(send_all[0]); i++)
			check_own_addr(send_all[i]);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	unlink(path);
	unlink(rel);
	unlink(transient_names[1]);
	tc_pass();
}
