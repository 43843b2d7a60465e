/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ring: one node of a TCP ring across hosts, self-verifying.
 *
 *   ring --id I --n N --listen [ADDR:]PORT --next HOST:PORT
 *        [--rounds R] [--interval-ms M] [--tokens K] [--payload BYTES]
 *        [-s SIZE] [--timeout-ms T] [--connect-timeout-ms T]
 *
 * Node I listens, connects to node I+1 (mod N) at --next, retrying until it
 * is up or the connect timeout passes, and accepts node I-1.  A HELLO lap
 * checks the topology (every node sees its predecessor's id and the same N
 * and payload size), a second lap tells every node that the whole ring is
 * connected: each node prints READY then.
 *
 * Node 0 then injects K tokens ("lanes", default 1).  Every message carries
 * the sender's id, the lane, a value and a payload of BYTES bytes that is a
 * function of (lane, value), and a checksum over all of it.  Each node
 * forwards value+1, so in round k node I must receive exactly
 * (k-1)*N + I (node 0: k*N); the j-th token a node sees is lane
 * (j-1) mod K.  Node 0 waits M ms before sending a token into its next
 * round, so one round takes about M ms (plus the hops).  After R rounds of
 * every lane a DONE lap runs and each node closes its outgoing connection
 * and waits for end-of-stream from its predecessor: any other end of the
 * stream (EOF or reset mid-run), any wrong value, lane, sender or byte, and
 * any silence longer than the timeout (default 30 s, 0 = none) is BAD.
 *
 * Output (tests/integration/tc_test.h): READY; "tick J" for every token
 * this node receives (J = 1 .. R*K); BAD <what> and exit 1; PASS and exit 0.
 * Like the integration programs it also checks its pid, exe, cmdline, cwd,
 * umask, comm and RLIMIT_NOFILE every tick.
 *
 * -s SIZE (k/M/G suffixes) keeps SIZE bytes of memory filled with a known
 * pattern: every tick, one word per page is checked against the previous
 * tick's stamp and restamped, and a sixteenth of the array is checked in
 * full (all of it at the end).  For checkpoint benchmarks.
 *
 * Short options as in the integration programs: -n R (rounds), -i M.
 * Messages are in host byte order: all nodes run on one machine's kind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "../integration/tc_test.h"

#define RING_MAGIC 0x474e4952u	/* "RING" */
#define MAX_PAYLOAD 65536
#define MAX_INFLIGHT (256 * 1024)

enum { T_HELLO = 1, T_READY = 2, T_TOKEN = 3, T_DONE = 4 };

static const char *type_name(unsigned t)
{
	switch (t) {
	case T_HELLO: return "HELLO";
	case T_READY: return "READY";
	case T_TOKEN: return "TOKEN";
	case T_DONE: return "DONE";
	}
	return "?";
}

struct hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t from;		/* sender's id */
	uint32_t n;		/* ring size */
	uint32_t payload;	/* bytes of payload after the header */
	uint64_t lane;
	uint64_t value;
	uint64_t sum;		/* over the header (sum = 0) and the payload */
};

struct cfg {
	long id, n, rounds, interval_ms, tokens, payload;
	long timeout_ms, connect_timeout_ms;
	size_t mem;
	const char *listen, *next;
};

static struct cfg C = {
	.id = -1, .n = -1, .rounds = 100, .interval_ms = 10, .tokens = 1,
	.payload = 256, .timeout_ms = 30000, .connect_timeout_ms = 30000,
};

static uint8_t *sendbuf, *recvbuf, *expbuf;	/* header + payload each */

/* ---- checksums and payloads ---- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t msg_sum(const struct hdr *h, const uint8_t *payload)
{
	struct hdr c = *h;

	c.sum = 0;
	return fnv1a(fnv1a(0xcbf29ce484222325ull, &c, sizeof(c)), payload, h->payload);
}

static void fill_payload(uint8_t *p, size_t len, uint64_t type, uint64_t lane, uint64_t value)
{
	uint64_t seed = tc_mix((type << 56) ^ (lane << 40) ^ value);

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = tc_mix(seed + i);
		size_t k = len - i < 8 ? len - i : 8;

		memcpy(p + i, &w, k);
	}
}

/* ---- I/O with an idle timeout ---- */

static void wait_fd(int fd, short events, const char *what)
{
	struct pollfd p = { .fd = fd, .events = events };
	int to = C.timeout_ms > 0 ? (int)C.timeout_ms : -1;

	for (;;) {
		int r = poll(&p, 1, to);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			tc_bad("%s: poll: %s", what, strerror(errno));
		if (r == 0)
			tc_bad("%s: nothing for %ld ms", what, C.timeout_ms);
		return;
	}
}

/* Read len bytes; returns 0 at end-of-stream before the first byte. */
static size_t read_all(int fd, void *buf, size_t len, const char *what)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r;

		wait_fd(fd, POLLIN, what);
		r = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			tc_bad("%s: read: %s", what, strerror(errno));
		if (r == 0) {
			if (got == 0)
				return 0;
			tc_bad("%s: end of stream after %zu of %zu bytes of a message",
			       what, got, len);
		}
		got += (size_t)r;
	}
	return got;
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r;

		wait_fd(fd, POLLOUT, what);
		r = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			tc_bad("%s: write: %s", what, r < 0 ? strerror(errno) : "wrote 0");
		done += (size_t)r;
	}
}

/* ---- messages ---- */

static long prev_id(void)
{
	return (C.id + C.n - 1) % C.n;
}

static void send_msg(int fd, unsigned type, uint64_t lane, uint64_t value)
{
	struct hdr h = {
		.magic = RING_MAGIC, .type = (uint16_t)type, .from = (uint16_t)C.id,
		.n = (uint32_t)C.n, .payload = (uint32_t)C.payload,
		.lane = lane, .value = value,
	};
	uint8_t *payload = sendbuf + sizeof(h);

	fill_payload(payload, (size_t)C.payload, type, lane, value);
	h.sum = msg_sum(&h, payload);
	memcpy(sendbuf, &h, sizeof(h));
	write_all(fd, sendbuf, sizeof(h) + (size_t)C.payload, "to the next node");
}

/*
 * Receive one message from the previous node and check all of it against
 * what must come: type, sender, ring size, lane, value, payload, checksum.
 * seen: how many tokens this node had received, for the messages.
 */
static void recv_msg(int fd, unsigned type, uint64_t lane, uint64_t value, long seen)
{
	struct hdr h;
	uint8_t *payload = recvbuf + sizeof(h);
	char what[96];

	snprintf(what, sizeof(what), "from node %ld (%s expected, %ld tokens seen)",
		 prev_id(), type_name(type), seen);
	if (!read_all(fd, &h, sizeof(h), what))
		tc_bad("%s: end of stream", what);
	if (h.magic != RING_MAGIC)
		tc_bad("%s: bad magic %#x: the stream is out of step", what, h.magic);
	if (h.payload != (uint32_t)C.payload)
		tc_bad("%s: payload of %u bytes, expected %ld", what, h.payload, C.payload);
	read_all(fd, payload, h.payload, what);
	if (h.sum != msg_sum(&h, payload))
		tc_bad("%s: checksum mismatch (%s lane %llu value %llu)", what,
		       type_name(h.type), (unsigned long long)h.lane,
		       (unsigned long long)h.value);
	if (h.type != type)
		tc_bad("%s: got %s (value %llu)", what, type_name(h.type),
		       (unsigned long long)h.value);
	if (h.from != prev_id())
		tc_bad("%s: sent by node %u", what, h.from);
	if (h.n != (uint32_t)C.n)
		tc_bad("%s: the sender thinks the ring has %u nodes, not %ld", what, h.n, C.n);
	if (h.lane != lane || h.value != value)
		tc_bad("%s: lane %llu value %llu, expected lane %llu value %llu", what,
		       (unsigned long long)h.lane, (unsigned long long)h.value,
		       (unsigned long long)lane, (unsigned long long)value);
	fill_payload(expbuf, h.payload, type, lane, value);
	if (memcmp(expbuf, payload, h.payload))
		tc_bad("%s: payload of lane %llu value %llu differs", what,
		       (unsigned long long)lane, (unsigned long long)value);
}

static void expect_eof(int fd)
{
	char b;
	ssize_t r;

	wait_fd(fd, POLLIN, "end of stream from the previous node");
	r = recv(fd, &b, 1, MSG_DONTWAIT);
	if (r < 0)
		tc_bad("after DONE: read: %s", strerror(errno));
	if (r > 0)
		tc_bad("after DONE: more bytes from node %ld", prev_id());
}

/* ---- connections ---- */

static void split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen,
			   const char *what)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t n;

	if (!colon) {
		snprintf(host, hlen, "%s", "");
		snprintf(port, plen, "%s", s);
		return;
	}
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		h = s + 1;
		n -= 2;
	}
	if (n >= hlen || strlen(colon + 1) >= plen || !colon[1]) {
		fprintf(stderr, "ring: bad %s '%s'\n", what, s);
		exit(2);
	}
	memcpy(host, h, n);
	host[n] = 0;
	snprintf(port, plen, "%s", colon + 1);
}

static int do_listen(const char *spec)
{
	char host[256], port[32];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int fd, one = 1, r;

	split_hostport(spec, host, sizeof(host), port, sizeof(port), "--listen");
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r)
		tc_bad("listen %s: %s", spec, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		tc_bad("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 8) < 0)
		tc_bad("listen on %s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

static int connect_next(const char *spec)
{
	char host[256], port[32];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	uint64_t deadline = tc_now_ns() + (uint64_t)C.connect_timeout_ms * 1000000ull;
	int last = 0, one = 1;

	split_hostport(spec, host, sizeof(host), port, sizeof(port), "--next");
	if (!host[0]) {
		fprintf(stderr, "ring: --next needs HOST:PORT\n");
		exit(2);
	}
	for (;;) {
		uint64_t now = tc_now_ns();
		int fd, r, err = 0;
		socklen_t elen = sizeof(err);
		struct pollfd p;

		if (now >= deadline)
			tc_bad("connect to %s: still failing after %ld ms: %s", spec,
			       C.connect_timeout_ms, last < 0 ? gai_strerror(last) : strerror(last));
		if (!ai) {
			r = getaddrinfo(host, port, &hints, &ai);
			if (r) {
				/* names may appear late (a host still being set up) */
				last = r;
				ai = NULL;
				tc_sleep_ms(50, 0);
				continue;
			}
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			tc_bad("socket: %s", strerror(errno));
		r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			do
				r = poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
			while (r < 0 && errno == EINTR);
			if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && !err) {
				r = 0;
			} else {
				errno = r == 0 ? ETIMEDOUT : err ? err : errno;
				r = -1;
			}
		}
		if (r == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			freeaddrinfo(ai);
			return fd;
		}
		last = errno;
		close(fd);
		switch (last) {
		case ECONNREFUSED:
		case ETIMEDOUT:
		case EHOSTUNREACH:
		case ENETUNREACH:
		case ECONNRESET:
		case EADDRNOTAVAIL:
		case EAGAIN:
			tc_sleep_ms(50, 0);
			continue;
		}
		tc_bad("connect to %s: %s", spec, strerror(last));
	}
}

static int accept_prev(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int r, fd, one = 1;

	do
		r = poll(&p, 1, (int)C.connect_timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		tc_bad("node %ld did not connect within %ld ms", prev_id(), C.connect_timeout_ms);
	if (r < 0)
		tc_bad("poll: %s", strerror(errno));
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		tc_bad("accept: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---- memory ---- */

#define PAGE_WORDS 512		/* 4 KiB of uint64_t */
#define CHUNKS 16

static uint64_t *mem;
static size_t mem_words, mem_pages;

static uint64_t base_word(size_t w)
{
	return tc_mix(w ^ 0x5bd1e995u);
}

static uint64_t stamp_word(long tick, size_t page)
{
	return tc_mix(((uint64_t)tick << 32) ^ page ^ 0x7e57ull << 48);
}

static void mem_init(void)
{
	if (!C.mem)
		return;
	mem_words = C.mem / 8;
	mem_pages = (mem_words + PAGE_WORDS - 1) / PAGE_WORDS;
	mem = mmap(NULL, mem_words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		tc_bad("mmap %zu bytes: %s", C.mem, strerror(errno));
	for (size_t w = 0; w < mem_words; w++)
		mem[w] = w % PAGE_WORDS ? base_word(w) : stamp_word(0, w / PAGE_WORDS);
}

static void mem_check_range(size_t from, size_t to, long tick)
{
	for (size_t w = from; w < to; w++) {
		if (w % PAGE_WORDS == 0)
			continue;
		if (mem[w] != base_word(w))
			tc_bad("tick %ld: memory word %zu (page %zu) is %#llx, expected %#llx",
			       tick, w, w / PAGE_WORDS, (unsigned long long)mem[w],
			       (unsigned long long)base_word(w));
	}
}

static void mem_tick(long tick)
{
	size_t c, from, to;

	if (!mem)
		return;
	for (size_t p = 0; p < mem_pages; p++) {
		uint64_t *s = &mem[p * PAGE_WORDS];

		if (*s != stamp_word(tick - 1, p))
			tc_bad("tick %ld: memory page %zu does not hold the stamp of tick %ld",
			       tick, p, tick - 1);
		*s = stamp_word(tick, p);
	}
	c = (size_t)tick % CHUNKS;
	from = mem_words / CHUNKS * c;
	to = c == CHUNKS - 1 ? mem_words : mem_words / CHUNKS * (c + 1);
	mem_check_range(from, to, tick);
}

/* ---- options ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: ring --id I --n N --listen [ADDR:]PORT --next HOST:PORT\n"
		"            [--rounds|-n R] [--interval-ms|-i M] [--tokens K] [--payload BYTES]\n"
		"            [-s SIZE] [--timeout-ms T] [--connect-timeout-ms T]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	enum { O_ID = 256, O_N, O_LISTEN, O_NEXT, O_TOKENS, O_PAYLOAD, O_TIMEOUT, O_CTIMEOUT };
	static const struct option lo[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "n", required_argument, NULL, O_N },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "next", required_argument, NULL, O_NEXT },
		{ "rounds", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "tokens", required_argument, NULL, O_TOKENS },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "size", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "connect-timeout-ms", required_argument, NULL, O_CTIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:i:s:h", lo, NULL)) != -1) {
		switch (c) {
		case O_ID: C.id = tc_parse_long(optarg, "--id"); break;
		case O_N: C.n = tc_parse_long(optarg, "--n"); break;
		case O_LISTEN: C.listen = optarg; break;
		case O_NEXT: C.next = optarg; break;
		case 'n': C.rounds = tc_parse_long(optarg, "--rounds"); break;
		case 'i': C.interval_ms = tc_parse_long(optarg, "--interval-ms"); break;
		case O_TOKENS: C.tokens = tc_parse_long(optarg, "--tokens"); break;
		case O_PAYLOAD: C.payload = tc_parse_long(optarg, "--payload"); break;
		case 's': C.mem = strcmp(optarg, "0") ? tc_parse_size(optarg, "-s") : 0; break;
		case O_TIMEOUT: C.timeout_ms = tc_parse_long(optarg, "--timeout-ms"); break;
		case O_CTIMEOUT: C.connect_timeout_ms = tc_parse_long(optarg, "--connect-timeout-ms"); break;
		default: usage();
		}
	}
	if (optind != argc || C.id < 0 || C.n < 1 || C.n > 65535 || C.id >= C.n ||
	    !C.listen || !C.next || C.rounds < 1 || C.tokens < 1 ||
	    C.payload > MAX_PAYLOAD || C.connect_timeout_ms < 1 || C.timeout_ms > INT_MAX ||
	    C.connect_timeout_ms > INT_MAX)
		usage();
	if ((uint64_t)C.tokens * (sizeof(struct hdr) + (uint64_t)C.payload) > MAX_INFLIGHT) {
		fprintf(stderr, "ring: --tokens x --payload over %d bytes could fill every "
			"socket buffer of the ring and stall it\n", MAX_INFLIGHT);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	int lfd, nfd, pfd;
	long total, j;

	parse_args(argc, argv);
	tc_proc_init("ring");
	sendbuf = malloc(sizeof(struct hdr) + (size_t)C.payload);
	recvbuf = malloc(sizeof(struct hdr) + (size_t)C.payload);
	expbuf = malloc((size_t)C.payload + 1);
	if (!sendbuf || !recvbuf || !expbuf)
		tc_bad("malloc: %s", strerror(errno));
	mem_init();

	lfd = do_listen(C.listen);
	nfd = connect_next(C.next);
	pfd = accept_prev(lfd);

	/* HELLO lap: topology; READY lap: everyone knows the ring is whole */
	if (C.id == 0) {
		send_msg(nfd, T_HELLO, 0, 0);
		recv_msg(pfd, T_HELLO, 0, (uint64_t)prev_id(), 0);
		send_msg(nfd, T_READY, 0, 0);
		recv_msg(pfd, T_READY, 0, (uint64_t)prev_id(), 0);
	} else {
		recv_msg(pfd, T_HELLO, 0, (uint64_t)prev_id(), 0);
		send_msg(nfd, T_HELLO, 0, (uint64_t)C.id);
		recv_msg(pfd, T_READY, 0, (uint64_t)prev_id(), 0);
		send_msg(nfd, T_READY, 0, (uint64_t)C.id);
	}
	tc_ready();

	total = C.rounds * C.tokens;
	if (C.id == 0)
		for (long l = 0; l < C.tokens; l++)
			send_msg(nfd, T_TOKEN, (uint64_t)l, 1);
	for (j = 1; j <= total; j++) {
		uint64_t lane = (uint64_t)((j - 1) % C.tokens);
		uint64_t round = (uint64_t)((j - 1) / C.tokens) + 1;
		uint64_t value = (round - 1) * (uint64_t)C.n + (uint64_t)(C.id ? C.id : C.n);

		recv_msg(pfd, T_TOKEN, lane, value, j - 1);
		mem_tick(j);
		tc_proc_check();
		tc_tick(j);
		if (C.id == 0) {
			if (round == (uint64_t)C.rounds)
				continue;	/* this lane is done */
			tc_sleep_ms(C.interval_ms, 0);
		}
		send_msg(nfd, T_TOKEN, lane, value + 1);
	}

	/* DONE lap, then an orderly end of every stream */
	if (C.id == 0) {
		send_msg(nfd, T_DONE, 0, (uint64_t)total);
		if (shutdown(nfd, SHUT_WR) < 0)
			tc_bad("shutdown: %s", strerror(errno));
		recv_msg(pfd, T_DONE, 0, (uint64_t)total, total);
	} else {
		recv_msg(pfd, T_DONE, 0, (uint64_t)total, total);
		send_msg(nfd, T_DONE, 0, (uint64_t)total);
		if (shutdown(nfd, SHUT_WR) < 0)
			tc_bad("shutdown: %s", strerror(errno));
	}
	expect_eof(pfd);
	if (mem)
		mem_check_range(0, mem_words, total);
	tc_proc_check();
	close(pfd);
	close(nfd);
	close(lfd);
	tc_pass();
}
