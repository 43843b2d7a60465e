/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coord/channel.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wire_in_free(struct wire_in *m)
{
	free(m->payload);
	memset(m, 0, sizeof(*m));
}

int secret_load(const char *path, uint8_t secret[SECRET_LEN])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0)
		return neg_errno();
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid())
		return -EPERM;
	return read_full(fd, secret, SECRET_LEN);
}

int secret_load_or_create(const char *path, uint8_t secret[SECRET_LEN])
{
	_cleanup_close_ int fd = -1;
	int r = secret_load(path, secret);

	if (r != -ENOENT)
		return r;
	if (sodium_init() < 0)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? secret_load(path, secret) : neg_errno();
	randombytes_buf(secret, SECRET_LEN);
	r = write_full(fd, secret, SECRET_LEN);
	if (r == 0 && fsync(fd) < 0)
		r = neg_errno();
	if (r < 0)
		unlink(path);
	return r;
}

/* len bytes from fd by the deadline (ms on CLOCK_MONOTONIC; < 0: none). */
static int read_by(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n;

		if (deadline >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int64_t left = deadline - now_ms();
			int r;

			if (left <= 0)
				return -ETIMEDOUT;
			r = poll(&pfd, 1, (int)MIN(left, (int64_t)INT32_MAX));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return neg_errno();
			if (r == 0)
				return -ETIMEDOUT;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : neg_errno();
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void frame_mac(const struct channel *ch, bool from_coordinator, const struct wire_hdr *h,
		      const void *payload, uint8_t mac[WIRE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t dir = from_coordinator ? 'C' : 'P';

	crypto_auth_hmacsha256_init(&st, ch->key, sizeof(ch->key));
	crypto_auth_hmacsha256_update(&st, &dir, 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)h, sizeof(*h));
	crypto_auth_hmacsha256_update(&st, payload, h->len);
	crypto_auth_hmacsha256_final(&st, mac);
}

#define OUT_MAX (16u << 20)	/* queued for a peer that does not read: it is dropped */

/* A whole frame onto the queue of what is to be sent, or nothing of it. */
static int queue_frame(struct channel *ch, const struct wire_hdr *h, const void *payload,
		       const uint8_t mac[WIRE_MAC_LEN])
{
	size_t total = sizeof(*h) + h->len + WIRE_MAC_LEN;

	if (ch->out_off == ch->out_len)
		ch->out_off = ch->out_len = 0;
	if (ch->out_len - ch->out_off + total > OUT_MAX)
		return -ENOBUFS;
	if (ch->out_len + total > ch->out_cap && ch->out_off) {
		memmove(ch->out, ch->out + ch->out_off, ch->out_len - ch->out_off);
		ch->out_len -= ch->out_off;
		ch->out_off = 0;
	}
	if (ch->out_len + total > ch->out_cap) {
		size_t cap = MAX(MAX(ch->out_cap * 2, ch->out_len + total), (size_t)4096);
		uint8_t *n = realloc(ch->out, cap);

		if (!n)
			return -ENOMEM;
		ch->out = n;
		ch->out_cap = cap;
	}
	memcpy(ch->out + ch->out_len, h, sizeof(*h));
	if (h->len)
		memcpy(ch->out + ch->out_len + sizeof(*h), payload, h->len);
	memcpy(ch->out + ch->out_len + sizeof(*h) + h->len, mac, WIRE_MAC_LEN);
	ch->out_len += total;
	return 0;
}

int channel_flush(struct channel *ch)
{
	while (ch->out_off < ch->out_len) {
		ssize_t n = send(ch->fd, ch->out + ch->out_off, ch->out_len - ch->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n < 0)
			return neg_errno();
		ch->out_off += (size_t)n;
	}
	ch->out_off = ch->out_len = 0;
	return 0;
}

/*
 * A frame: authenticated (seq from 1) once the key is set, else plain (seq
 * 0).  The coordinator never waits for a peer to read: with queue_sends
 * what the socket does not take waits in ch->out for channel_flush; without
 * (handshake frames, the first bytes on a fresh socket) a frame the socket
 * does not take whole fails the connection.
 */
static int send_frame(struct channel *ch, uint32_t type, const void *payload, size_t len,
		      bool authenticated)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = type, .len = (uint32_t)len };
	uint8_t mac[WIRE_MAC_LEN] = { 0 };
	struct iovec iov[3];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	size_t total = sizeof(h) + len + sizeof(mac);
	ssize_t n;
	int r;

	if (len > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (authenticated) {
		h.seq = ++ch->send_seq;
		frame_mac(ch, ch->is_coordinator, &h, payload, mac);
	}
	if (ch->queue_sends) {
		r = queue_frame(ch, &h, payload, mac);
		if (r < 0) {
			/* Not sent: the next frame takes its number, the stream stays whole. */
			if (authenticated)
				ch->send_seq--;
			return r;
		}
		r = channel_flush(ch);
		return r == -EAGAIN ? 0 : r;
	}
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ (void *)payload, len };
	iov[2] = (struct iovec){ mac, sizeof(mac) };
	/* Small frames: one sendmsg takes them whole on a blocking socket. */
	n = sendmsg(ch->fd, &mh, MSG_NOSIGNAL | (ch->is_coordinator ? MSG_DONTWAIT : 0));
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
	return (size_t)n == total ? 0 : -EIO;
}

/* A whole frame read: check it and hand its payload to m. */
static int frame_done(struct channel *ch, struct wire_in *m, const struct wire_hdr *h,
		      uint8_t *payload, const uint8_t mac[WIRE_MAC_LEN], bool authenticated)
{
	uint8_t want[WIRE_MAC_LEN];
	int r;

	memset(m, 0, sizeof(*m));
	m->payload = payload;
	if (authenticated) {
		frame_mac(ch, !ch->is_coordinator, h, payload, want);
		if (sodium_memcmp(mac, want, WIRE_MAC_LEN) || h->seq != ch->recv_seq + 1) {
			r = -EBADMSG;
			goto fail;
		}
		ch->recv_seq = h->seq;
	}
	m->type = h->type;
	m->len = h->len;
	r = tlv_parse(m->payload, m->len, m->tb, WIRE_A_MAX);
	if (r < 0)
		goto fail;
	return 0;
fail:
	wire_in_free(m);
	return r;
}

static int recv_frame(struct channel *ch, struct wire_in *m, bool authenticated, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	uint8_t mac[WIRE_MAC_LEN];
	uint8_t *payload;
	struct wire_hdr h;
	int r;

	memset(m, 0, sizeof(*m));
	r = read_by(ch->fd, &h, sizeof(h), deadline);
	if (r < 0)
		return r;
	if (!wire_hdr_ok(&h))
		return -EBADMSG;
	payload = malloc(h.len ? h.len : 1);
	if (!payload)
		return -ENOMEM;
	r = read_by(ch->fd, payload, h.len, deadline);
	if (r == 0)
		r = read_by(ch->fd, mac, sizeof(mac), deadline);
	if (r < 0) {
		free(payload);
		return r;
	}
	return frame_done(ch, m, &h, payload, mac, authenticated);
}

/* Frames of the handshake are a nonce and a proof: anything longer is not one. */
#define HANDSHAKE_MAX_PAYLOAD 256

/*
 * The rest of the frame in ch->rx, without blocking and without reading
 * past it; max_len bounds what a peer may make us allocate.
 */
static int recv_frame_nowait(struct channel *ch, struct wire_in *m, bool authenticated,
			     size_t max_len)
{
	struct frame_rx *rx = &ch->rx;
	const size_t hl = sizeof(rx->h);
	uint8_t *payload;
	int r;

	for (;;) {
		size_t want;
		uint8_t *to;
		ssize_t n;

		if (rx->have < hl) {
			to = (uint8_t *)&rx->h + rx->have;
			want = hl - rx->have;
		} else if (rx->have < hl + rx->h.len) {
			to = rx->payload + (rx->have - hl);
			want = hl + rx->h.len - rx->have;
		} else if (rx->have < hl + rx->h.len + WIRE_MAC_LEN) {
			to = rx->mac + (rx->have - hl - rx->h.len);
			want = hl + rx->h.len + WIRE_MAC_LEN - rx->have;
		} else {
			break;
		}
		n = recv(ch->fd, to, want, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : neg_errno();
		if (n == 0)
			return -ECONNRESET;
		if (rx->have == 0)
			rx->started = now_ms();
		rx->have += (size_t)n;
		if (rx->have == hl) {
			if (!wire_hdr_ok(&rx->h) || rx->h.len > max_len)
				return -EBADMSG;
			rx->payload = malloc(rx->h.len ? rx->h.len : 1);
			if (!rx->payload)
				return -ENOMEM;
		}
	}
	payload = rx->payload;
	rx->payload = NULL;
	rx->have = 0;
	r = frame_done(ch, m, &rx->h, payload, rx->mac, authenticated);
	return r;
}

int channel_send(struct channel *ch, uint32_t type, const struct tlv_buf *payload)
{
	if (payload && payload->err)
		return payload->err;
	return send_frame(ch, type, payload ? payload->data : NULL, payload ? payload->len : 0,
			  true);
}

int channel_recv(struct channel *ch, struct wire_in *m, int timeout_ms)
{
	return recv_frame(ch, m, true, timeout_ms);
}

int channel_recv_nowait(struct channel *ch, struct wire_in *m)
{
	return recv_frame_nowait(ch, m, true, WIRE_MAX_PAYLOAD);
}

static void proof(const uint8_t secret[SECRET_LEN], const char *label, const uint8_t *a,
		  const uint8_t *b, uint8_t out[WIRE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, secret, SECRET_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, a, WIRE_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, b, WIRE_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
}

static int get_bytes(const struct wire_in *m, uint32_t attr, void *out, size_t len)
{
	const struct tlv_attr *a = m->tb[attr];

	if (!a || tlv_len(a) != len)
		return -EBADMSG;
	memcpy(out, tlv_data(a), len);
	return 0;
}

static void describe_peer(struct channel *ch)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[48] = "?", port[8] = "?";

	if (getpeername(ch->fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(ch->peer, sizeof(ch->peer), "%s:%s", host, port);
}

int channel_accept_start(struct channel *ch, int fd)
{
	struct tlv_buf b = { 0 };
	int r;

	memset(ch, 0, sizeof(*ch));
	ch->fd = fd;
	ch->is_coordinator = true;
	describe_peer(ch);
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(ch->nonce, sizeof(ch->nonce));
	tlv_put(&b, WIRE_A_NONCE, ch->nonce, sizeof(ch->nonce));
	r = b.err ? b.err : send_frame(ch, WIRE_CHALLENGE, b.data, b.len, false);
	tlv_buf_free(&b);
	/* Not "try again": a fresh socket that does not take 80 bytes is broken. */
	return r == -EAGAIN ? -ENOBUFS : r;
}

int channel_accept_continue(struct channel *ch, const uint8_t secret[SECRET_LEN])
{
	uint8_t nc[WIRE_NONCE_LEN], p[WIRE_MAC_LEN], want[WIRE_MAC_LEN];
	struct tlv_buf b = { 0 };
	struct wire_in m;
	int r;

	r = recv_frame_nowait(ch, &m, false, HANDSHAKE_MAX_PAYLOAD);
	if (r < 0)
		return r;
	if (m.type != WIRE_HELLO || get_bytes(&m, WIRE_A_NONCE, nc, sizeof(nc)) < 0 ||
	    get_bytes(&m, WIRE_A_PROOF, p, sizeof(p)) < 0) {
		wire_in_free(&m);
		return -EBADMSG;
	}
	wire_in_free(&m);
	proof(secret, "trace-ckpt peer", ch->nonce, nc, want);
	if (sodium_memcmp(p, want, sizeof(p)))
		return -EACCES;
	proof(secret, "trace-ckpt coordinator", nc, ch->nonce, p);
	tlv_put(&b, WIRE_A_PROOF, p, sizeof(p));
	r = b.err ? b.err : send_frame(ch, WIRE_WELCOME, b.data, b.len, false);
	tlv_buf_free(&b);
	proof(secret, "trace-ckpt session", ch->nonce, nc, ch->key);
	/* A peer that did not even read the challenge. */
	return r == -EAGAIN ? -ENOBUFS : r;
}

int channel_accept(struct channel *ch, int fd, const uint8_t secret[SECRET_LEN], int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r = channel_accept_start(ch, fd);

	while (r == 0 && (r = channel_accept_continue(ch, secret)) == -EAGAIN) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)MIN(left, (int64_t)INT32_MAX));
		if (r < 0 && errno == EINTR)
			r = 0;
		else if (r < 0)
			return neg_errno();
		else if (r == 0)
			return -ETIMEDOUT;
		else
			r = 0;
	}
	return r;
}

int channel_connect(struct channel *ch, int fd, const uint8_t secret[SECRET_LEN], int timeout_ms)
{
	uint8_t ns[WIRE_NONCE_LEN], nc[WIRE_NONCE_LEN], p[WIRE_MAC_LEN], want[WIRE_MAC_LEN];
	struct tlv_buf b = { 0 };
	struct wire_in m;
	int r;

	memset(ch, 0, sizeof(*ch));
	ch->fd = fd;
	describe_peer(ch);
	if (sodium_init() < 0)
		return -EIO;
	r = recv_frame(ch, &m, false, timeout_ms);
	if (r < 0)
		return r;
	if (m.type != WIRE_CHALLENGE || get_bytes(&m, WIRE_A_NONCE, ns, sizeof(ns)) < 0) {
		wire_in_free(&m);
		return -EBADMSG;
	}
	wire_in_free(&m);
	randombytes_buf(nc, sizeof(nc));
	proof(secret, "trace-ckpt peer", ns, nc, p);
	tlv_put(&b, WIRE_A_NONCE, nc, sizeof(nc));
	tlv_put(&b, WIRE_A_PROOF, p, sizeof(p));
	r = b.err ? b.err : send_frame(ch, WIRE_HELLO, b.data, b.len, false);
	tlv_buf_free(&b);
	if (r < 0)
		return r;
	/* EOF here: the coordinator did not take our proof. */
	r = recv_frame(ch, &m, false, timeout_ms);
	if (r < 0)
		return r == -ECONNRESET ? -EACCES : r;
	if (m.type != WIRE_WELCOME || get_bytes(&m, WIRE_A_PROOF, p, sizeof(p)) < 0) {
		wire_in_free(&m);
		return -EBADMSG;
	}
	wire_in_free(&m);
	proof(secret, "trace-ckpt coordinator", nc, ns, want);
	if (sodium_memcmp(p, want, sizeof(p)))
		return -EACCES;
	proof(secret, "trace-ckpt session", ns, nc, ch->key);
	return 0;
}

int split_host_port(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t hl;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - addr - 1);
		addr++;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostlen || strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int channel_open(struct channel *ch, const char *addr, const uint8_t secret[SECRET_LEN],
		 int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	char host[256], port[16];
	int fd = -1, r, one = 1;

	r = split_host_port(addr, host, sizeof(host), port, sizeof(port));
	if (r < 0)
		return r;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = neg_errno();
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = channel_connect(ch, fd, secret, timeout_ms);
	if (r < 0)
		close(fd);
	return r;
}

void channel_close(struct channel *ch)
{
	if (ch->fd >= 0)
		close(ch->fd);
	sodium_memzero(ch->key, sizeof(ch->key));
	ch->fd = -1;
	free(ch->rx.payload);
	ch->rx = (struct frame_rx){ 0 };
	free(ch->out);
	ch->out = NULL;
	ch->out_off = ch->out_len = ch->out_cap = 0;
}
