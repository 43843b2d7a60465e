/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A UDP datagram cannot be sent from an address the sender no longer
 * holds, or from one a socket of the computation holds again (a bind would
 * fail), so the restorer writes the packets itself on a raw socket (header
 * included); looped back, they keep their route and reach the socket as if
 * the sender had sent them.  Without CAP_NET_RAW (an ordinary user) each is
 * sent from its sender's address instead, which works while that address
 * is the computation's own or free.  An IPv4 sender of an IPv6 socket (a mapped
 * address) is sent as IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/fdcontent.h"
#include "proto/sockq.h"
#include "restorer/fdtable.h"
#include "restorer/udp.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/privilege.h"

#define ARRIVAL_WAIT_MS 2000

/* Where a datagram goes and where it says it comes from, in one family. */
struct udp_route {
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;	/* network order */
};

static uint32_t sum16(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool v4_mapped(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

/*
 * The route of a datagram from `from` to the socket at `local` (its own
 * address, as getsockname gives it).  -EAFNOSUPPORT: an address of
 * neither family.
 */
static int route_of(const uint8_t *from, uint32_t from_len, const struct sockaddr_storage *local,
		    struct udp_route *rt)
{
	struct sockaddr_in6 f6;
	struct sockaddr_in f4;
	bool from_v4;

	memset(rt, 0, sizeof(*rt));
	if (from_len >= sizeof(struct sockaddr_in) && ((const struct sockaddr *)from)->sa_family == AF_INET) {
		memcpy(&f4, from, sizeof(f4));
		from_v4 = true;
	} else if (from_len >= sizeof(f6) && ((const struct sockaddr *)from)->sa_family == AF_INET6) {
		memcpy(&f6, from, sizeof(f6));
		from_v4 = v4_mapped(&f6.sin6_addr);
		if (from_v4) {
			f4.sin_port = f6.sin6_port;
			memcpy(&f4.sin_addr, &f6.sin6_addr.s6_addr[12], 4);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	if (local->ss_family == AF_INET) {
		const struct sockaddr_in *l = (const struct sockaddr_in *)local;

		if (!from_v4)
			return -EAFNOSUPPORT;
		rt->dport = l->sin_port;
		memcpy(rt->dst, &l->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)local;

		rt->dport = l->sin6_port;
		if (from_v4 && v4_mapped(&l->sin6_addr))
			memcpy(rt->dst, &l->sin6_addr.s6_addr[12], 4);
		else if (!from_v4)
			memcpy(rt->dst, &l->sin6_addr, 16);
		else if (!IN6_IS_ADDR_UNSPECIFIED(&l->sin6_addr))
			return -EAFNOSUPPORT;	/* IPv4 can reach only a wildcard or mapped address */
	}
	rt->family = from_v4 ? AF_INET : AF_INET6;
	if (from_v4) {
		static const uint8_t any4[4];

		rt->sport = f4.sin_port;
		memcpy(rt->src, &f4.sin_addr, 4);
		if (!memcmp(rt->dst, any4, 4)) {
			uint32_t lo = htonl(INADDR_LOOPBACK);

			memcpy(rt->dst, &lo, 4);
		}
	} else {
		rt->sport = f6.sin6_port;
		memcpy(rt->src, &f6.sin6_addr, 16);
		if (IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)rt->dst))
			memcpy(rt->dst, &in6addr_loopback, 16);
	}
	return 0;
}

/* One datagram as a raw packet on raw (IPPROTO_RAW of rt's family). */
static int send_raw(int raw, const struct udp_route *rt, const uint8_t *data, uint32_t len)
{
	size_t iphl = rt->family == AF_INET ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	size_t total = iphl + sizeof(struct udphdr) + len;
	_cleanup_free_ uint8_t *pkt = NULL;
	struct udphdr *uh;
	struct sockaddr_storage to = { 0 };
	socklen_t tl;
	uint32_t sum;

	if (total > 0xffff)
		return -EMSGSIZE;
	pkt = calloc(1, total);
	if (!pkt)
		return -ENOMEM;
	uh = (struct udphdr *)(pkt + iphl);
	uh->source = rt->sport;
	uh->dest = rt->dport;
	uh->len = htons((uint16_t)(sizeof(*uh) + len));
	memcpy(uh + 1, data, len);
	if (rt->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)pkt;
		struct sockaddr_in *t4 = (struct sockaddr_in *)&to;

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons((uint16_t)total);
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		memcpy(&ip->saddr, rt->src, 4);
		memcpy(&ip->daddr, rt->dst, 4);
		/* IPv4 lets a UDP checksum be 0 (none); ip->check is the kernel's. */
		t4->sin_family = AF_INET;
		memcpy(&t4->sin_addr, rt->dst, 4);
		tl = sizeof(*t4);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;
		struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)&to;
		uint8_t nh[4] = { 0, 0, 0, IPPROTO_UDP };
		uint32_t ulen = htonl((uint32_t)(sizeof(*uh) + len));

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons((uint16_t)(sizeof(*uh) + len));
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, rt->src, 16);
		memcpy(&ip6->ip6_dst, rt->dst, 16);
		/* IPv6 requires it: over the pseudo-header, the UDP header and the data. */
		sum = sum16(0, rt->src, 16);
		sum = sum16(sum, rt->dst, 16);
		sum = sum16(sum, &ulen, 4);
		sum = sum16(sum, nh, 4);
		sum = sum16(sum, uh, sizeof(*uh) + len);
		uh->check = htons(fold(sum));
		if (!uh->check)
			uh->check = 0xffff;
		t6->sin6_family = AF_INET6;
		memcpy(&t6->sin6_addr, rt->dst, 16);
		tl = sizeof(*t6);
	}
	if (sendto(raw, pkt, total, 0, (struct sockaddr *)&to, tl) != (ssize_t)total)
		return errno ? neg_errno() : -EIO;
	return 0;
}

/* How many datagrams fd holds now, peeked; its peek offset is left off. */
static int count_queued(int fd, uint8_t *buf, size_t len)
{
	int off = 0, n = 0, none = -1;

	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return neg_errno();
	while (recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0)
		n++;
	setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
	return n;
}

static int sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	return nanosleep(&ts, NULL);
}

struct raw_sockets {
	int v4, v6;
	bool refused;		/* no CAP_NET_RAW: send from the sender's address instead */
	const struct computation *c;
	const struct desc_table *t;
};

static void route_addrs(const struct udp_route *rt, struct sockaddr_storage *src,
			struct sockaddr_storage *dst, socklen_t *len)
{
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	if (rt->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)src, *d4 = (struct sockaddr_in *)dst;

		s4->sin_family = d4->sin_family = AF_INET;
		s4->sin_port = rt->sport;
		d4->sin_port = rt->dport;
		memcpy(&s4->sin_addr, rt->src, 4);
		memcpy(&d4->sin_addr, rt->dst, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)src, *d6 = (struct sockaddr_in6 *)dst;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		s6->sin6_port = rt->sport;
		d6->sin6_port = rt->dport;
		memcpy(&s6->sin6_addr, rt->src, 16);
		memcpy(&d6->sin6_addr, rt->dst, 16);
		*len = sizeof(*s6);
	}
}

/* A restored UDP socket of the computation bound to exactly src. */
static int sender_socket(const struct raw_sockets *raw, const struct sockaddr_storage *src,
			 socklen_t len)
{
	for (size_t i = 0; i < raw->c->nr_procs; i++)
		for (size_t k = 0; k < raw->c->procs[i].nr_fds; k++) {
			const struct fd_record *f = &raw->c->procs[i].fds[k];
			struct sockaddr_storage got;
			socklen_t gl = sizeof(got);
			int fd;

			if (f->kind != FD_INET || f->sock.type != SOCK_DGRAM)
				continue;
			fd = descs_lookup(raw->t, f->desc_id);
			if (fd >= 0 && getsockname(fd, (struct sockaddr *)&got, &gl) == 0 &&
			    gl == len && !memcmp(&got, src, len))
				return fd;
		}
	return -ENOENT;
}

/*
 * Without a raw socket: the datagram goes out from its sender's address,
 * through the sender's own restored socket when the computation has it,
 * else through a socket bound there for the moment.
 */
static int send_from_sender(const struct raw_sockets *raw, const struct udp_route *rt,
			    const uint8_t *data, uint32_t dlen, char *what, size_t whatlen)
{
	struct sockaddr_storage src, dst;
	_cleanup_close_ int tmp = -1;
	char name[INET6_ADDRSTRLEN] = "?";
	socklen_t len;
	int fd, one = 1;

	route_addrs(rt, &src, &dst, &len);
	fd = sender_socket(raw, &src, len);
	if (fd < 0) {
		tmp = socket(rt->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (tmp < 0)
			return neg_errno();
		setsockopt(tmp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(tmp, (struct sockaddr *)&src, len) < 0) {
			inet_ntop(rt->family, rt->src, name, sizeof(name));
			snprintf(what, whatlen,
				 "without CAP_NET_RAW a datagram from %s port %u is sent again "
				 "from that address, which is taken", name, ntohs(rt->sport));
			return neg_errno();
		}
		fd = tmp;
	}
	if (sendto(fd, data, dlen, 0, (struct sockaddr *)&dst, len) != (ssize_t)dlen) {
		snprintf(what, whatlen, "sending a datagram again from its sender's address");
		return neg_errno();
	}
	return 0;
}

static int refill_one(const struct fd_record *f, int fd, struct raw_sockets *raw, char *what,
		      size_t whatlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t peek[1];
	struct sockaddr_storage local;
	socklen_t sl = sizeof(local);
	struct sockq_msg m;
	size_t len = 0, off = 0;
	int r, sent = 0, have = 0;

	r = fd_content_read(f, &buf, &len);
	if (r < 0)
		return r;
	if (getsockname(fd, (struct sockaddr *)&local, &sl) < 0)
		return neg_errno();
	while ((r = sockq_next(buf, len, &off, SOCKQ_FROM, &m)) > 0) {
		struct udp_route rt;
		int *rs;

		r = route_of(m.from, m.from_len, &local, &rt);
		if (r < 0) {
			snprintf(what, whatlen, "a datagram from an address of family %u",
				 m.from_len >= 2 ? ((const struct sockaddr *)m.from)->sa_family : 0u);
			return r;
		}
		rs = rt.family == AF_INET ? &raw->v4 : &raw->v6;
		if (*rs < 0 && !raw->refused) {
			PRIV_SCOPE(CAP_NET_RAW);

			*rs = socket(rt.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
			raw->refused = *rs < 0 && (errno == EPERM || errno == EACCES);
		}
		if (raw->refused) {
			r = send_from_sender(raw, &rt, m.data, m.len, what, whatlen);
			if (r < 0)
				return r;
			sent++;
			continue;
		}
		if (*rs < 0) {
			snprintf(what, whatlen, "a raw socket");
			return neg_errno();
		}
		r = send_raw(*rs, &rt, m.data, m.len);
		if (r < 0) {
			snprintf(what, whatlen, "sending datagram %d again", sent + 1);
			return r;
		}
		sent++;
	}
	if (r < 0)
		return r;
	/* Looped back, they are queued by the time sendto returns, unless softirqs were deferred. */
	for (int waited = 0; (have = count_queued(fd, peek, sizeof(peek))) >= 0 && have < sent &&
	     waited < ARRIVAL_WAIT_MS; waited++)
		sleep_ms(1);
	if (have < 0)
		return have;
	/* More is fine: the socket is bound, and others may send to it from now on. */
	if (have < sent) {
		snprintf(what, whatlen, "%d of %d datagrams sent again arrived", have, sent);
		return -EIO;
	}
	return 0;
}

int udp_refill_queues(const struct computation *c, const struct desc_table *t, char *err,
		      size_t errlen)
{
	struct raw_sockets raw = { -1, -1, false, c, t };
	int r = 0;

	for (size_t i = 0; i < c->nr_procs && r == 0; i++)
		for (size_t k = 0; k < c->procs[i].nr_fds && r == 0; k++) {
			const struct fd_record *f = &c->procs[i].fds[k];
			char what[128] = "";
			bool first = true;
			int fd;

			if (f->kind != FD_INET || f->sock.type != SOCK_DGRAM || !f->sock.queue_from ||
			    !f->content || !f->content_len)
				continue;
			/* Each socket once, however many fds it has. */
			for (size_t j = 0; j <= i && first; j++)
				for (size_t l = 0; l < c->procs[j].nr_fds && first; l++) {
					const struct fd_record *o = &c->procs[j].fds[l];

					if (o == f)
						break;
					first = o->desc_id != f->desc_id;
				}
			fd = first ? descs_lookup(t, f->desc_id) : -1;
			if (fd < 0)
				continue;
			r = refill_one(f, fd, &raw, what, sizeof(what));
			if (r < 0)
				snprintf(err, errlen, "pid %d fd %d: UDP socket queue: %s: %s",
					 c->procs[i].pid, f->fd, what[0] ? what : "its image",
					 strerror(-r));
		}
	closep(&raw.v4);
	closep(&raw.v6);
	return r;
}
