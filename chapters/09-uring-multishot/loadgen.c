/*
 * loadgen.c - chapter 09: a load client for echo servers, which checks every
 * byte that comes back.
 *
 *   loadgen (--port N [--host 127.0.0.1] | --unix PATH) [--conns C] [--size BYTES]
 *           [--depth D] [--seconds S]
 *
 *   --conns C    connections, 1..4096 (default 16)
 *   --size B     bytes per message, 1..16 MiB (default 64)
 *   --depth D    messages each connection keeps in flight, 1..1024 (default 1):
 *                pipelining, the next message leaves before the echo of the
 *                previous one is back
 *   --seconds S  measuring time, up to 3600, fractions allowed (default 2)
 *   --host A     an IPv4 address (default 127.0.0.1)
 *
 * Each connection sends a stream of messages cut from a fixed pseudo-random
 * pattern (each connection at its own offset in it), and compares every
 * byte it receives with the byte it sent at that position of the stream.
 * A message is done when the last of its bytes has come back; its latency is
 * the time from the moment it was handed to the connection for sending to
 * that moment. A connection launches a new message each time one is done, so
 * it always has D in flight.
 *
 * After a warm-up (a tenth of S, at most 0.5 s: connections accepted, caches
 * warm) the counters start; after S seconds no new message is launched, the
 * ones in flight are still received and checked, then every connection shuts
 * its sending side down and waits for the server to close (an echo server
 * must finish sending, then close). At the end one line on stdout:
 *
 *   N messages/s  X MB/s  p50 U us  p99 V us  (C conns, depth D, SIZE bytes, S s)
 *
 * messages/s counts messages done within the S seconds; MB/s is their
 * payload (10^6 bytes; the same goes each way); p50 and p99 are latencies
 * of those messages (log histogram, about 1.5% resolution).
 *
 * Exit status: 0 on success; 1 when a byte came back wrong, a connection
 * closed or failed early, nothing came back, or the server stopped
 * answering (a message on stderr says which); 2 on bad arguments.
 *
 * Why io_uring: this client shares the machine with the server it measures
 * (two cores here: one each, roughly). Every trip through the loop submits
 * the sends and receives of every connection and reaps every completion in
 * one io_uring_enter, so the client pays far fewer system calls per message
 * than an epoll client would (epoll_wait, then a recv and a send each), and
 * leaves more of the machine to the server; and it is one of the course's
 * own mechanisms. Each connection has at most one receive and one send in
 * flight (two sends in flight could complete, and be retried, out of order).
 * The sockets stay blocking: io_uring waits on them itself.
 *
 * liburing 2.3 API only. Build:
 *   cc -std=gnu11 -O2 -Wall -Wextra -o loadgen chapters/09-uring-multishot/loadgen.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096u
#define MAX_SIZE (16u << 20)
#define MAX_DEPTH 1024u
#define MAX_ENTRIES 4096u
/* The pattern's length is prime, so it lines up with no message size: a
 * server that repeats or drops a whole message shows up as a mismatch. */
#define PATTERN_LEN 65521u
/* Receive buffer per connection: room for the whole window, within limits. */
#define RBUF_MIN 4096u
#define RBUF_MAX 65536u
#define NS 1000000000ull
/* The loop looks at the clock at least this often, even with nothing
 * completing: the end of the run must not wait for a silent server. */
#define TICK_NS (50 * 1000 * 1000ull)
/* How long the messages still in flight after S seconds, and the server's
 * closing, may take before the server counts as stuck. */
#define GRACE_NS (10 * NS)

/* user_data of an SQE: the connection's index, and which request. */
#define OP_RECV 0u
#define OP_SEND 1u
#define UDATA(i, op) (((uint64_t)(i) << 1) | (op))

struct options {
	const char *host, *unix_path;
	long port; /* -1: not given */
	unsigned conns, depth;
	size_t size;
	double seconds;
};

struct lconn {
	int fd;
	unsigned idx;
	uint32_t shift;     /* where in the pattern this stream starts */
	uint64_t queued;    /* stream bytes of the launched messages */
	uint64_t sent;      /* ... of those, taken by completed sends */
	uint64_t received;  /* stream bytes echoed back and checked */
	uint64_t launched, done; /* messages */
	uint64_t *t_launch; /* [depth]: launch time of message i at i % depth */
	unsigned char *rbuf;
	bool send_busy, recv_busy, eof;
};

/* A log-linear histogram of latencies in ns: values below 2*HSUB exact,
 * above, HSUB buckets per power of two. */
#define HSUB_BITS 6
#define HSUB (1u << HSUB_BITS)
#define HBUCKETS ((64 - HSUB_BITS + 1) * HSUB)
struct hist {
	uint64_t count[HBUCKETS];
	uint64_t n;
};

enum phase { WARMUP, MEASURE, DRAIN, CLOSING };

struct load {
	struct options o;
	struct io_uring ring;
	bool ring_ready;
	struct lconn *c;
	size_t rbuf_size;
	enum phase phase;
	uint64_t now, t_measure, t_stop, t_deadline;
	uint64_t msgs; /* done within the measured window */
	unsigned in_flight; /* requests in the kernel */
	unsigned open_conns; /* connections not yet closed by the server */
	struct hist h;
};

/* Twice the pattern, so that any PATTERN_LEN bytes from any offset are one
 * contiguous piece: sends go straight out of it, checks memcmp against it. */
static unsigned char g_pattern[2 * PATTERN_LEN];

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t); /* cannot fail with this clock */
	return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec;
}

static void fill_pattern(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed: runs are repeatable */

	for (unsigned i = 0; i < PATTERN_LEN; i++) {
		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		g_pattern[i] = (unsigned char)(x >> 32);
	}
	memcpy(g_pattern + PATTERN_LEN, g_pattern, PATTERN_LEN);
}

static const unsigned char *pattern_at(const struct lconn *c, uint64_t off)
{
	return g_pattern + (off + c->shift) % PATTERN_LEN;
}

static unsigned hist_index(uint64_t v)
{
	unsigned e, shift;

	if (v < 2 * HSUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= HSUB_BITS + 1 */
	shift = e - HSUB_BITS;
	return (shift + 1) * HSUB + (unsigned)(v >> shift) - HSUB;
}

/* The middle of bucket i, in ns. */
static double hist_value(unsigned i)
{
	unsigned shift;

	if (i < 2 * HSUB)
		return i;
	shift = i / HSUB - 1;
	return (double)((uint64_t)(i % HSUB + HSUB) << shift) + (double)(1ull << shift) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	unsigned i = hist_index(v);

	h->count[i < HBUCKETS ? i : HBUCKETS - 1]++;
	h->n++;
}

/* The value below which a fraction q of the samples lie, in ns. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HBUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_value(i);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen (--port N [--host 127.0.0.1] | --unix PATH) [--conns C]\n"
		"               [--size BYTES] [--depth D] [--seconds S]\n"
		"  --conns C    connections, 1..%u (default 16)\n"
		"  --size B     bytes per message, 1..%u (default 64)\n"
		"  --depth D    messages in flight per connection, 1..%u (default 1)\n"
		"  --seconds S  how long to measure, up to 3600 (default 2)\n"
		"Prints: N messages/s  X MB/s  p50 U us  p99 V us  (C conns, depth D, SIZE bytes, S s)\n",
		MAX_CONNS, MAX_SIZE, MAX_DEPTH);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	long v;

	*o = (struct options){ .host = "127.0.0.1", .port = -1, .conns = 16,
			       .depth = 1, .size = 64, .seconds = 2 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return -1; /* every option takes a value */
		i++;
		if (!strcmp(a, "--port")) {
			if (parse_long(val, 1, 65535, &o->port))
				return -1;
		} else if (!strcmp(a, "--host")) {
			o->host = val;
		} else if (!strcmp(a, "--unix")) {
			o->unix_path = val;
		} else if (!strcmp(a, "--conns")) {
			if (parse_long(val, 1, MAX_CONNS, &v))
				return -1;
			o->conns = (unsigned)v;
		} else if (!strcmp(a, "--size")) {
			if (parse_long(val, 1, MAX_SIZE, &v))
				return -1;
			o->size = (size_t)v;
		} else if (!strcmp(a, "--depth")) {
			if (parse_long(val, 1, MAX_DEPTH, &v))
				return -1;
			o->depth = (unsigned)v;
		} else if (!strcmp(a, "--seconds")) {
			char *end;

			errno = 0;
			o->seconds = strtod(val, &end);
			if (errno || end == val || *end || !(o->seconds > 0) || o->seconds > 3600)
				return -1;
		} else {
			return -1;
		}
	}
	if ((o->port < 0) == !o->unix_path)
		return -1; /* exactly one of --port/--unix */
	return 0;
}

/* One connected, blocking socket (io_uring does the waiting). */
static int connect_one(const struct options *o)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} a;
	socklen_t len;
	int fd, one = 1;

	memset(&a, 0, sizeof a);
	if (o->unix_path) {
		if (strlen(o->unix_path) >= sizeof a.un.sun_path)
			return -ENAMETOOLONG;
		a.un.sun_family = AF_UNIX;
		strcpy(a.un.sun_path, o->unix_path);
		len = sizeof a.un;
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET, o->host, &a.in.sin_addr) != 1)
			return -EINVAL;
		len = sizeof a.in;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &a.sa, len) < 0 ||
	    /* Pipelined small messages must leave at once, not wait for the
	     * previous one's ACK (Nagle): that would measure TCP, not the
	     * server. */
	    (!o->unix_path && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* An SQE; when the SQ is full, submit what is there to make room. */
static struct io_uring_sqe *get_sqe(struct load *L)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&L->ring);

	if (!sqe) {
		int r = io_uring_submit(&L->ring);

		if (r < 0)
			return NULL;
		sqe = io_uring_get_sqe(&L->ring);
	}
	return sqe;
}

static int arm_recv(struct load *L, struct lconn *c)
{
	struct io_uring_sqe *sqe = get_sqe(L);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, c->fd, c->rbuf, L->rbuf_size, 0);
	io_uring_sqe_set_data64(sqe, UDATA(c->idx, OP_RECV));
	c->recv_busy = true;
	L->in_flight++;
	return 0;
}

/* Send what has been launched and not sent, if no send is in flight. */
static int push_send(struct load *L, struct lconn *c)
{
	struct io_uring_sqe *sqe;
	uint64_t left = c->queued - c->sent;

	if (c->send_busy || left == 0)
		return 0;
	sqe = get_sqe(L);
	if (!sqe)
		return -EBUSY;
	/* MSG_NOSIGNAL: a server that has gone away is an error to report,
	 * not a SIGPIPE that kills the client without a word. */
	io_uring_prep_send(sqe, c->fd, pattern_at(c, c->sent),
			   left < PATTERN_LEN ? (size_t)left : PATTERN_LEN, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UDATA(c->idx, OP_SEND));
	c->send_busy = true;
	L->in_flight++;
	return 0;
}

static void launch(struct load *L, struct lconn *c)
{
	c->t_launch[c->launched % L->o.depth] = L->now;
	c->launched++;
	c->queued += L->o.size;
}

/* The first byte of got[0..n) that differs from the stream at off. */
static size_t first_mismatch(const struct lconn *c, const unsigned char *got,
			     size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != *pattern_at(c, off + i))
			return i;
	return n;
}

static int fail(const struct lconn *c, const char *fmt, const char *what)
{
	fprintf(stderr, "loadgen: connection %u, after %llu bytes echoed: ", c->idx,
		(unsigned long long)c->received);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return -1;
}

static int on_recv(struct load *L, struct lconn *c, int res)
{
	size_t n, bad;

	c->recv_busy = false;
	if (res == -EINTR || res == -EAGAIN)
		return arm_recv(L, c);
	if (res < 0)
		return fail(c, "receive failed: %s", strerror(-res));
	if (res == 0) {
		if (L->phase != CLOSING) /* then every message is back */
			return fail(c, "%s", "the server closed the connection early");
		c->eof = true;
		L->open_conns--;
		return 0;
	}
	n = (size_t)res;
	/* (Not c->sent: the echo of a send can be reaped before its CQE.) */
	if (c->received + n > c->queued)
		return fail(c, "%s", "the server sent back more bytes than it was sent");
	/* Compare a pattern-sized piece at a time: the doubled pattern makes
	 * each one contiguous. */
	for (size_t done = 0; done < n;) {
		size_t len = n - done < PATTERN_LEN ? n - done : PATTERN_LEN;

		if (memcmp(c->rbuf + done, pattern_at(c, c->received + done), len)) {
			bad = done + first_mismatch(c, c->rbuf + done, len, c->received + done);
			fprintf(stderr,
				"loadgen: connection %u: echoed byte %llu is 0x%02x, sent 0x%02x (message %llu)\n",
				c->idx, (unsigned long long)(c->received + bad), c->rbuf[bad],
				*pattern_at(c, c->received + bad),
				(unsigned long long)((c->received + bad) / L->o.size));
			return -1;
		}
		done += len;
	}
	c->received += n;
	/* Messages whose last byte is now back. */
	while (c->done < c->launched && c->received >= (c->done + 1) * L->o.size) {
		uint64_t lat = L->now - c->t_launch[c->done % L->o.depth];

		c->done++;
		if (L->phase == MEASURE) {
			L->msgs++;
			hist_add(&L->h, lat);
		}
		if (L->phase <= MEASURE)
			launch(L, c);
	}
	if (arm_recv(L, c) < 0)
		return -1;
	return push_send(L, c);
}

static int on_send(struct load *L, struct lconn *c, int res)
{
	c->send_busy = false;
	if (res == -EINTR || res == -EAGAIN)
		return push_send(L, c);
	if (res < 0)
		return fail(c, "send failed: %s", strerror(-res));
	if (res == 0)
		return fail(c, "%s", "send sent nothing");
	c->sent += (uint64_t)res; /* a short send: push_send sends the rest */
	return push_send(L, c);
}

static int reap(struct load *L)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int r = 0;

	io_uring_for_each_cqe(&L->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		struct lconn *c = &L->c[ud >> 1];

		seen++;
		L->in_flight--;
		r = (ud & 1) == OP_SEND ? on_send(L, c, cqe->res) : on_recv(L, c, cqe->res);
		if (r < 0)
			break;
	}
	io_uring_cq_advance(&L->ring, seen);
	return r;
}

static bool all_echoed(const struct load *L)
{
	for (unsigned i = 0; i < L->o.conns; i++)
		if (L->c[i].done != L->c[i].launched)
			return false;
	return true;
}

/* Move through the phases as time passes. -1 when the server is stuck. */
static int advance_phase(struct load *L, uint64_t t_start)
{
	uint64_t warm = (uint64_t)(L->o.seconds * NS / 10);

	if (warm > NS / 2)
		warm = NS / 2;
	if (L->phase == WARMUP && L->now >= t_start + warm) {
		L->phase = MEASURE;
		L->t_measure = L->now;
	}
	if (L->phase == MEASURE && L->now >= L->t_measure + (uint64_t)(L->o.seconds * NS)) {
		L->phase = DRAIN;
		L->t_stop = L->now;
		L->t_deadline = L->now + GRACE_NS;
	}
	if (L->phase == DRAIN && all_echoed(L)) {
		/* Everything is back: say we are done sending. The server
		 * must answer with its own end of file. */
		for (unsigned i = 0; i < L->o.conns; i++) {
			if (shutdown(L->c[i].fd, SHUT_WR) < 0) {
				fprintf(stderr, "loadgen: shutdown: %s\n", strerror(errno));
				return -1;
			}
		}
		L->phase = CLOSING;
		L->t_deadline = L->now + GRACE_NS;
	}
	if (L->phase >= DRAIN && L->now > L->t_deadline) {
		fprintf(stderr, "loadgen: the server stopped answering: %s after %.0f s\n",
			L->phase == DRAIN ? "messages still unanswered"
					  : "connections not closed after our end of file",
			(double)GRACE_NS / NS);
		return -1;
	}
	return 0;
}

static int run(struct load *L)
{
	uint64_t t_start;

	L->now = t_start = now_ns();
	for (unsigned i = 0; i < L->o.conns; i++) {
		struct lconn *c = &L->c[i];

		for (unsigned d = 0; d < L->o.depth; d++)
			launch(L, c);
		if (arm_recv(L, c) < 0 || push_send(L, c) < 0) {
			fprintf(stderr, "loadgen: the submission queue is stuck\n");
			return -1;
		}
	}
	while (L->phase != CLOSING || L->open_conns > 0) {
		struct __kernel_timespec tick = { .tv_nsec = TICK_NS };
		struct io_uring_cqe *cqe;
		int r = io_uring_submit_and_wait_timeout(&L->ring, &cqe, 1, &tick, NULL);

		if (r < 0 && r != -ETIME && r != -EINTR) {
			fprintf(stderr, "loadgen: io_uring_submit_and_wait_timeout: %s\n",
				strerror(-r));
			return -1;
		}
		/* One clock reading per batch: the time the client learnt of
		 * these completions, and the launch time of what follows. */
		L->now = now_ns();
		if (reap(L) < 0 || advance_phase(L, t_start) < 0)
			return -1;
	}
	return 0;
}

/* Take every request back from the kernel before its buffer is freed
 * (io_uring_queue_exit does not wait for them): shutting the sockets down
 * completes any receive or send still waiting. false if some did not come
 * back in time: then the buffers must not be freed. */
static bool quiesce(struct load *L)
{
	uint64_t until = now_ns() + NS;

	for (unsigned i = 0; i < L->o.conns; i++)
		if (L->c[i].fd >= 0)
			shutdown(L->c[i].fd, SHUT_RDWR); /* ENOTCONN is fine */
	while (L->in_flight > 0 && now_ns() < until) {
		struct __kernel_timespec tick = { .tv_nsec = TICK_NS };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int r = io_uring_submit_and_wait_timeout(&L->ring, &cqe, 1, &tick, NULL);

		if (r < 0 && r != -ETIME && r != -EINTR)
			return false;
		io_uring_for_each_cqe(&L->ring, head, cqe)
			seen++;
		io_uring_cq_advance(&L->ring, seen);
		L->in_flight -= seen;
	}
	return L->in_flight == 0;
}

static void report(const struct load *L)
{
	double secs = (double)(L->t_stop - L->t_measure) / NS;
	double rate = (double)L->msgs / secs;

	printf("%.0f messages/s  %.1f MB/s  p50 %.1f us  p99 %.1f us  (%u conns, depth %u, %zu bytes, %g s)\n",
	       rate, rate * (double)L->o.size / 1e6, hist_quantile(&L->h, 0.50) / 1e3,
	       hist_quantile(&L->h, 0.99) / 1e3, L->o.conns, L->o.depth, L->o.size,
	       L->o.seconds);
}

static int setup(struct load *L)
{
	unsigned entries = 8;
	int r;

	fill_pattern();
	/* Every connection has at most a receive and a send in flight: a ring
	 * of 2 x conns entries never fills, and its CQ (twice that) never
	 * overflows. Past MAX_ENTRIES get_sqe submits to make room. */
	while (entries < 2 * L->o.conns && entries < MAX_ENTRIES)
		entries *= 2;
	r = io_uring_queue_init(entries, &L->ring, 0);
	if (r < 0) {
		fprintf(stderr, "loadgen: io_uring_queue_init(%u): %s%s\n", entries, strerror(-r),
			r == -ENOMEM ? " (RLIMIT_MEMLOCK too small? ulimit -l)"
			: r == -EPERM || r == -ENOSYS ? " (io_uring blocked here: make doctor says why)"
			: "");
		return -1;
	}
	L->ring_ready = true;
	L->rbuf_size = L->o.size * L->o.depth;
	if (L->rbuf_size < RBUF_MIN)
		L->rbuf_size = RBUF_MIN;
	if (L->rbuf_size > RBUF_MAX)
		L->rbuf_size = RBUF_MAX;
	L->c = calloc(L->o.conns, sizeof *L->c);
	if (!L->c)
		goto nomem;
	for (unsigned i = 0; i < L->o.conns; i++)
		L->c[i].fd = -1;
	for (unsigned i = 0; i < L->o.conns; i++) {
		struct lconn *c = &L->c[i];

		c->idx = i;
		c->shift = (uint32_t)(((uint64_t)i * 7919u) % PATTERN_LEN);
		c->t_launch = calloc(L->o.depth, sizeof *c->t_launch);
		c->rbuf = malloc(L->rbuf_size);
		if (!c->t_launch || !c->rbuf)
			goto nomem;
		r = connect_one(&L->o);
		if (r < 0) {
			fprintf(stderr, "loadgen: connection %u to %s: %s%s\n", i,
				L->o.unix_path ? L->o.unix_path : L->o.host, strerror(-r),
				r == -EMFILE ? " (ulimit -n)" : "");
			return -1;
		}
		c->fd = r;
	}
	L->open_conns = L->o.conns;
	return 0;
nomem:
	fprintf(stderr, "loadgen: out of memory\n");
	return -1;
}

static void teardown(struct load *L)
{
	bool idle = true;

	if (L->ring_ready) {
		idle = quiesce(L);
		io_uring_queue_exit(&L->ring);
	}
	if (!L->c)
		return;
	for (unsigned i = 0; i < L->o.conns; i++) {
		if (L->c[i].fd >= 0)
			close(L->c[i].fd);
		/* A request the kernel still holds may yet write into its
		 * buffer: leave those to the process's exit. */
		if (idle) {
			free(L->c[i].rbuf);
			free(L->c[i].t_launch);
		}
	}
	if (idle)
		free(L->c);
}

int main(int argc, char **argv)
{
	static struct load L; /* the histogram is large: not on the stack */
	int r;

	if (parse_args(argc, argv, &L.o) < 0) {
		usage();
		return 2;
	}
	r = setup(&L);
	if (r == 0)
		r = run(&L);
	if (r == 0 && L.msgs == 0) {
		fprintf(stderr, "loadgen: no message came back within %g s\n", L.o.seconds);
		r = -1;
	}
	if (r == 0)
		report(&L);
	teardown(&L);
	if (r == 0 && fflush(stdout) == EOF) {
		perror("loadgen: stdout");
		r = -1;
	}
	return r < 0 ? 1 : 0;
}
