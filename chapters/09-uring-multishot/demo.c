/*
 * demo.c - chapter 09: an echo server on multishot requests and a buffer
 * ring, watched from the inside.
 *
 *   demo burst [--conns N] [--msgs M] [--size B] [--bufs N] [--buf-size N]
 *              [--entries N] [--stall] [--unix]
 *   demo idle N [--bufs N] [--buf-size N] [--hold S]
 *   demo serve (--port N | --unix PATH) [--bufs N] [--buf-size N] [--entries N]
 *   demo clients (PORT | unix:PATH) [--conns N] [--msgs M] [--size B]
 *   demo mistakes
 *
 * burst     runs the server (uecho_open on 127.0.0.1, a free port, or a unix
 *           socket with --unix) in this process and N client connections
 *           (default 8) beside it on non-blocking sockets, all in one
 *           thread: each client sends M messages (default 16) of B bytes
 *           (default 512) as fast as its socket takes them and reads the
 *           echo, checking every byte. Then prints the server's counters:
 *           connections, accept and receive SQEs armed, -ENOBUFS, paused
 *           receives, bytes, buffers held. --bufs and --buf-size make the
 *           ring small enough to run dry; --stall makes client 0 stop
 *           reading (with a tiny receive buffer) until the others are done,
 *           which is what flow control (UECHO_HOLD_MAX) is for.
 * idle      opens N idle connections (no data) to the server in this
 *           process and prints VmRSS (/proc/self/status) and the heap in
 *           use (mallinfo2) before the server, with it, and with the N
 *           connections: what an idle connection costs. --hold S keeps
 *           them open S seconds more (for ss and /proc/PID/status).
 * serve     an echo server until Ctrl-C (SIGINT or SIGTERM: uecho_stop),
 *           then its counters. --port 0 picks a free port.
 * clients   only the clients of burst, against a server in another process
 *           (demo serve, the exercise's echo-server): for strace -c on the
 *           server alone.
 * mistakes  does not use the module: on a ring of its own it makes the
 *           lesson's kernel behaviours happen (multishot accept and its
 *           cancel, a buffer ring of 4 x 16 bytes running dry, the flags of
 *           a CQE without a buffer, io_uring_buf_ring_init on a live ring,
 *           close(2) with a multishot receive armed, the setup flags of a
 *           single-threaded server and their fallback) and prints each CQE.
 *
 * burst, idle, serve and clients are built on uecho.h only, so they run on
 * your implementation as well as on the reference. Usage errors exit 2,
 * failures 1. To count system calls of the server alone:
 *   strace -f -c -e trace=io_uring_enter,accept4,recvfrom,sendto demo serve --port N
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uecho.h"

/* How long nothing may move before a run gives up. */
#define STALL_MS 5000

static void usage(void)
{
	fprintf(stderr,
	        "usage: demo burst [--conns N] [--msgs M] [--size B] [--bufs N] [--buf-size N]\n"
	        "                  [--entries N] [--stall] [--unix]\n"
	        "       demo idle N [--bufs N] [--buf-size N] [--hold S]\n"
	        "       demo serve (--port N | --unix PATH) [--bufs N] [--buf-size N] [--entries N]\n"
	        "       demo clients (PORT | unix:PATH) [--conns N] [--msgs M] [--size B]\n"
	        "       demo mistakes\n");
	exit(2);
}

static unsigned long number(const char *s, const char *what, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "demo: %s wants a number in %lu..%lu, not '%s'\n", what, lo, hi, s);
		usage();
	}
	return v;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What -ret means, with a word about the usual causes. */
static const char *why(int ret)
{
	return ret == -ENOSYS ? " (not written yet? see the TODOs; or io_uring is missing: make doctor)"
	     : ret == -EPERM ? " (io_uring refused on this machine: make doctor)"
	     : ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small for the ring? ulimit -l; make doctor)"
	     : ret == -EOPNOTSUPP ? " (a kernel without multishot receive: 6.0 or newer is needed)"
	     : ret == -EINVAL ? " (a size out of range? see uecho.h)" : "";
}

/* ---------------------------------------------------------- listeners */

/* A TCP listener on 127.0.0.1:port (0: any); the port it got in *got. */
static int tcp_listener(unsigned port, unsigned *got)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("demo: socket");
		return -1;
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		fprintf(stderr, "demo: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	*got = ntohs(sin.sin_port);
	return fd;
}

static int unix_listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "demo: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("demo: socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 4096)) {
		fprintf(stderr, "demo: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Where the clients connect. */
static struct sockaddr_storage peer;
static socklen_t peer_len;

static void peer_tcp(unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer;

	memset(&peer, 0, sizeof(peer));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	peer_len = sizeof(*sin);
}

static void peer_unix(const char *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&peer;

	memset(&peer, 0, sizeof(peer));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	peer_len = sizeof(*sun);
}

/* ---------------------------------------------------------- the clients */

struct client {
	int fd;
	size_t len;   /* bytes it sends: msgs x size */
	size_t sent, got;
	size_t first_bad; /* SIZE_MAX: every byte right so far */
	bool reading;
	int err;
};

/* The byte at position i of client k's stream: differs from client to
 * client and from buffer to buffer, so a byte of the wrong buffer shows. */
static unsigned char pattern(int k, size_t i)
{
	return (unsigned char)(k * 131u + i * 7u + (i >> 8) * 13u + (i >> 16));
}

/* A non-blocking connection, or -errno. rcvbuf > 0 sets SO_RCVBUF first. */
static int connect_one(int rcvbuf)
{
	int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&peer, peer_len) && errno != EINPROGRESS &&
	    errno != EAGAIN) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Send and receive what the socket takes now. True if anything moved. */
static bool client_step(struct client *c, int k)
{
	unsigned char buf[65536];
	bool moved = false;

	if (c->fd < 0 || c->err)
		return false;
	while (c->sent < c->len) {
		size_t n = c->len - c->sent, i;
		ssize_t r;

		if (n > sizeof(buf))
			n = sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(k, c->sent + i);
		r = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ENOTCONN)
				c->err = errno;
			break;
		}
		c->sent += (size_t)r;
		moved = true;
	}
	while (c->reading && c->got < c->len) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

		if (r == 0) {
			c->err = ECONNRESET; /* the server closed before the echo was complete */
			break;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->err = errno;
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (c->first_bad == SIZE_MAX && buf[i] != pattern(k, c->got + (size_t)i))
				c->first_bad = c->got + (size_t)i;
		c->got += (size_t)r;
		moved = true;
	}
	return moved;
}

static struct client *clients_open(int n, size_t len, int stall_rcvbuf)
{
	struct client *cls = calloc((size_t)n, sizeof(*cls));

	if (!cls) {
		fprintf(stderr, "demo: out of memory\n");
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		int fd = connect_one(i == 0 ? stall_rcvbuf : 0);

		if (fd < 0) {
			fprintf(stderr, "demo: connection %d: connect: %s%s\n", i + 1, strerror(-fd),
			        fd == -EMFILE ? " (ulimit -n)" : "");
			while (i--)
				close(cls[i].fd);
			free(cls);
			return NULL;
		}
		cls[i] = (struct client){ fd, len, 0, 0, SIZE_MAX, true, 0 };
	}
	return cls;
}

static void clients_close(struct client *cls, int n)
{
	for (int i = 0; i < n; i++)
		if (cls[i].fd >= 0)
			close(cls[i].fd);
	free(cls);
}

/* Everyone who reads has its whole echo, or one failed. */
static bool clients_done(const struct client *cls, int n, bool *failed)
{
	bool done = true;

	for (int i = 0; i < n; i++) {
		if (cls[i].err || cls[i].first_bad != SIZE_MAX)
			*failed = true;
		if (cls[i].reading && cls[i].got < cls[i].len)
			done = false;
	}
	return done || *failed;
}

/* One line per client that went wrong; 0 if none did. */
static int clients_report(const struct client *cls, int n)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		if (cls[i].first_bad != SIZE_MAX) {
			printf("client %d: byte %zu of the echo is wrong (a byte of another buffer, or a "
			       "buffer given back before its send completed)\n", i, cls[i].first_bad);
			bad++;
		} else if (cls[i].err || cls[i].got < cls[i].len) {
			printf("client %d: sent %zu of %zu bytes, got %zu back (%s)\n", i, cls[i].sent,
			       cls[i].len, cls[i].got, cls[i].err ? strerror(cls[i].err) : "stalled");
			bad++;
		}
	}
	return bad;
}

/* ---------------------------------------------------------- the server */

static struct uecho *srv;

/* One turn of the server; anything but a count, 0 or -EINTR is fatal. */
static int turn(int timeout_ms)
{
	int r = uecho_run_once(srv, timeout_ms);

	if (r < 0 && r != -EINTR) {
		fprintf(stderr, "demo: uecho_run_once: %s%s\n", strerror(-r), why(r));
		return -1;
	}
	return r;
}

static struct uecho_stats stats_now(void)
{
	struct uecho_stats st;

	memset(&st, 0, sizeof(st));
	uecho_stats(srv, &st);
	return st;
}

static void print_stats(const struct uecho_stats *st)
{
	printf("counters (uecho_stats):\n"
	       "  connections      accepted %llu, closed %llu, open now %llu\n"
	       "  accept SQEs      %llu armed (multishot: one serves every connection)\n"
	       "  receive SQEs     %llu armed (multishot: one per connection, plus re-arms)\n"
	       "  -ENOBUFS         %llu (receives ended because the buffer ring was empty)\n"
	       "  paused           %llu (receives cancelled: a connection held UECHO_HOLD_MAX buffers)\n"
	       "  bytes            %llu received, %llu sent\n"
	       "  buffers held     %llu now\n",
	       (unsigned long long)st->accepted, (unsigned long long)st->closed,
	       (unsigned long long)st->conns_open, (unsigned long long)st->accept_armed,
	       (unsigned long long)st->recv_armed, (unsigned long long)st->enobufs,
	       (unsigned long long)st->paused, (unsigned long long)st->bytes_received,
	       (unsigned long long)st->bytes_sent, (unsigned long long)st->bufs_held);
}

static int open_server(int lfd, const struct uecho_config *cfg)
{
	int r = uecho_open(&srv, lfd, cfg);

	if (r < 0) {
		fprintf(stderr, "demo: uecho_open: %s%s\n", strerror(-r), why(r));
		srv = NULL;
		return -1;
	}
	return 0;
}

/* Turn the server until every connection is gone and every buffer back. */
static bool drain(long ms)
{
	long end = now_ms() + ms;

	for (;;) {
		struct uecho_stats st = stats_now();

		if (st.conns_open == 0 && st.bufs_held == 0)
			return true;
		if (now_ms() > end || turn(10) < 0)
			return false;
	}
}

/* ---------------------------------------------------------- burst */

struct sizes {
	int conns;
	unsigned long msgs, size;
	struct uecho_config cfg;
};

/* --conns, --msgs, --size, --bufs, --buf-size, --entries; true if taken. */
static bool size_option(struct sizes *z, int argc, char **argv, int *i)
{
	const char *o = argv[*i];

	if (strcmp(o, "--conns") && strcmp(o, "--msgs") && strcmp(o, "--size") &&
	    strcmp(o, "--bufs") && strcmp(o, "--buf-size") && strcmp(o, "--entries"))
		return false;
	if (*i + 1 >= argc) {
		fprintf(stderr, "demo: %s wants a value\n", o);
		usage();
	}
	(*i)++;
	if (!strcmp(o, "--conns"))
		z->conns = (int)number(argv[*i], o, 1, 2000);
	else if (!strcmp(o, "--msgs"))
		z->msgs = number(argv[*i], o, 1, 1000000);
	else if (!strcmp(o, "--size"))
		z->size = number(argv[*i], o, 1, 16u << 20);
	else if (!strcmp(o, "--bufs"))
		z->cfg.nbufs = (unsigned)number(argv[*i], o, 0, UINT32_MAX);
	else if (!strcmp(o, "--buf-size"))
		z->cfg.buf_size = (unsigned)number(argv[*i], o, 0, UINT32_MAX);
	else
		z->cfg.entries = (unsigned)number(argv[*i], o, 0, UINT32_MAX);
	return true;
}

static void print_config(const struct uecho_config *cfg)
{
	unsigned nbufs = cfg->nbufs ? cfg->nbufs : UECHO_DEFAULT_NBUFS;
	unsigned size = cfg->buf_size ? cfg->buf_size : UECHO_DEFAULT_BUF_SIZE;

	printf("ring: %u SQ entries; buffer ring: %u buffers x %u bytes (group %u), "
	       "UECHO_HOLD_MAX %u\n", cfg->entries ? cfg->entries : UECHO_DEFAULT_ENTRIES, nbufs,
	       size, UECHO_BGID, UECHO_HOLD_MAX(nbufs));
}

static int cmd_burst(int argc, char **argv)
{
	struct sizes z = { 8, 16, 512, { 0, 0, 0 } };
	bool stall = false, use_unix = false, failed = false;
	char path[64] = "";
	struct client *cls;
	unsigned port = 0;
	long last;
	double t0, t;
	int lfd, bad;

	for (int i = 2; i < argc; i++) {
		if (size_option(&z, argc, argv, &i))
			continue;
		if (!strcmp(argv[i], "--stall"))
			stall = true;
		else if (!strcmp(argv[i], "--unix"))
			use_unix = true;
		else {
			fprintf(stderr, "demo: unknown option %s\n", argv[i]);
			usage();
		}
	}
	if (stall && z.conns < 2) {
		fprintf(stderr, "demo: --stall needs --conns 2 or more\n");
		usage();
	}
	if (use_unix) {
		snprintf(path, sizeof(path), "/tmp/demo09-%d.sock", (int)getpid());
		lfd = unix_listener(path);
		peer_unix(path);
	} else {
		lfd = tcp_listener(0, &port);
		peer_tcp(port);
	}
	if (lfd < 0)
		return 1;
	if (open_server(lfd, &z.cfg) < 0) {
		close(lfd);
		if (*path)
			unlink(path);
		return 1;
	}
	if (use_unix)
		printf("server: unix:%s, in this process\n", path);
	else
		printf("server: 127.0.0.1:%u, in this process\n", port);
	print_config(&z.cfg);
	printf("clients: %d connections x %lu messages of %lu bytes = %llu bytes each way%s\n",
	       z.conns, z.msgs, z.size, (unsigned long long)z.conns * z.msgs * z.size,
	       stall ? "; client 0 does not read until the others are done" : "");
	fflush(stdout);
	cls = clients_open(z.conns, z.msgs * z.size, stall ? 4096 : 0);
	if (!cls) {
		uecho_close(srv);
		close(lfd);
		if (*path)
			unlink(path);
		return 1;
	}
	if (stall)
		cls[0].reading = false;
	t0 = now_s();
	last = now_ms();
	for (;;) {
		bool moved = false;

		for (int i = 0; i < z.conns; i++)
			moved |= client_step(&cls[i], i);
		if (clients_done(cls, z.conns, &failed)) {
			if (failed || !stall || cls[0].reading)
				break;
			cls[0].reading = true; /* the others are done: client 0 reads now */
			struct uecho_stats st = stats_now();
			printf("the others are done; client 0 has sent %2$zu bytes and read none; the "
			       "server holds %1$llu buffers, receives paused so far: %3$llu; now it "
			       "reads\n",
			       (unsigned long long)st.bufs_held, cls[0].sent,
			       (unsigned long long)st.paused);
			continue;
		}
		if (turn(1) < 0) {
			failed = true;
			break;
		}
		if (moved)
			last = now_ms();
		else if (now_ms() - last > STALL_MS)
			break;
	}
	t = now_s() - t0;
	bad = clients_report(cls, z.conns);
	if (!bad)
		printf("echoed: %llu bytes back to %d clients in %.1f ms, every byte checked\n",
		       (unsigned long long)z.conns * z.msgs * z.size, z.conns, t * 1000);
	clients_close(cls, z.conns);
	if (!drain(STALL_MS))
		printf("the clients have gone, but the server still has connections or buffers "
		       "after %d ms\n", STALL_MS);
	{
		struct uecho_stats st = stats_now();

		print_stats(&st);
	}
	uecho_close(srv);
	close(lfd);
	if (*path)
		unlink(path);
	return bad || failed ? 1 : 0;
}

/* ---------------------------------------------------------- idle */

/* VmRSS of this process in KiB, or -1. */
static long vmrss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Bytes of heap in use (malloc'd and not freed), the whole process. */
static long long heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long long)mi.uordblks + (long long)mi.hblkhd;
}

static void print_memory(const char *when, long rss0, long long heap0)
{
	long rss = vmrss_kib();
	long long heap = heap_bytes();

	printf("%-34s VmRSS %6ld KiB (%+6ld)   heap in use %9lld bytes (%+lld)\n", when, rss,
	       rss - rss0, heap, heap - heap0);
}

static int cmd_idle(int argc, char **argv)
{
	struct uecho_config cfg = { 0, 0, 0 };
	unsigned long hold = 0;
	int n, lfd, *fds;
	unsigned port;
	long rss0, last;
	long long heap0, heap_open;
	struct rlimit rl;

	if (argc < 3)
		usage();
	n = (int)number(argv[2], "idle N", 1, 100000);
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "demo: %s wants a value\n", argv[i]);
			usage();
		}
		if (!strcmp(argv[i], "--bufs"))
			cfg.nbufs = (unsigned)number(argv[++i], "--bufs", 0, UINT32_MAX);
		else if (!strcmp(argv[i], "--buf-size"))
			cfg.buf_size = (unsigned)number(argv[++i], "--buf-size", 0, UINT32_MAX);
		else if (!strcmp(argv[i], "--hold"))
			hold = number(argv[++i], "--hold", 0, 3600);
		else {
			fprintf(stderr, "demo: unknown option %s\n", argv[i]);
			usage();
		}
	}
	/* Both ends of every connection live in this process: 2 fds each. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * n + 64)) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)(2 * n + 64)) {
			fprintf(stderr, "demo: %d connections need %d descriptors, the hard limit "
			        "(ulimit -Hn) is %llu\n", n, 2 * n + 64, (unsigned long long)rl.rlim_max);
			return 1;
		}
		printf("RLIMIT_NOFILE raised from %llu to %d (both ends of each connection are here)\n",
		       (unsigned long long)rl.rlim_cur, 2 * n + 64);
		rl.rlim_cur = (rlim_t)(2 * n + 64);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fds = malloc(sizeof(*fds) * (size_t)n);
	if (!fds) {
		fprintf(stderr, "demo: out of memory\n");
		return 1;
	}
	lfd = tcp_listener(0, &port);
	if (lfd < 0) {
		free(fds);
		return 1;
	}
	peer_tcp(port);
	printf("pid %d, server on 127.0.0.1:%u\n", (int)getpid(), port);
	rss0 = vmrss_kib();
	heap0 = heap_bytes();
	print_memory("before uecho_open:", rss0, heap0);
	if (open_server(lfd, &cfg) < 0) {
		close(lfd);
		free(fds);
		return 1;
	}
	print_config(&cfg);
	print_memory("after uecho_open:", rss0, heap0);
	turn(0);
	heap_open = heap_bytes();
	for (int i = 0; i < n; i++) {
		fds[i] = connect_one(0);
		if (fds[i] < 0) {
			fprintf(stderr, "demo: connection %d: connect: %s\n", i + 1, strerror(-fds[i]));
			while (i--)
				close(fds[i]);
			uecho_close(srv);
			close(lfd);
			free(fds);
			return 1;
		}
		if (i % 64 == 63 && turn(0) < 0)
			break;
	}
	last = now_ms();
	while (stats_now().accepted < (uint64_t)n && now_ms() - last < STALL_MS)
		if (turn(10) < 0)
			break;
	for (int i = 0; i < 10; i++)
		turn(1);
	{
		struct uecho_stats st = stats_now();
		char what[64];
		long long per = (heap_bytes() - heap_open) / n;

		snprintf(what, sizeof(what), "with %d idle connections:", n);
		print_memory(what, rss0, heap0);
		printf("per idle connection: %lld bytes of heap (UECHO_CONN_BYTES_MAX is %u); a buffer "
		       "of its own would be %u more\n", per, UECHO_CONN_BYTES_MAX,
		       cfg.buf_size ? cfg.buf_size : UECHO_DEFAULT_BUF_SIZE);
		printf("accepted %llu with %llu accept SQE(s), %llu receive SQEs armed, %llu buffers "
		       "held\n", (unsigned long long)st.accepted, (unsigned long long)st.accept_armed,
		       (unsigned long long)st.recv_armed, (unsigned long long)st.bufs_held);
	}
	if (hold) {
		printf("holding them for %lu s: ss -tn state established '( sport = :%u )' | wc -l; "
		       "grep -E 'VmRSS|VmLck' /proc/%d/status\n", hold, port, (int)getpid());
		fflush(stdout);
		for (long end = now_ms() + (long)hold * 1000; now_ms() < end;)
			if (turn(100) < 0)
				break;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	if (!drain(STALL_MS))
		printf("the clients have gone, but the server still has %llu connections open\n",
		       (unsigned long long)stats_now().conns_open);
	print_memory("after they left:", rss0, heap0);
	uecho_close(srv);
	close(lfd);
	print_memory("after uecho_close:", rss0, heap0);
	return 0;
}

/* ---------------------------------------------------------- serve */

static void on_signal(int sig)
{
	(void)sig;
	uecho_stop(srv); /* async-signal-safe by contract */
}

static int cmd_serve(int argc, char **argv)
{
	struct uecho_config cfg = { 0, 0, 0 };
	const char *path = NULL;
	long port = -1;
	unsigned got = 0;
	struct sigaction sa;
	int lfd, r;

	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr, "demo: %s wants a value\n", argv[i]);
			usage();
		}
		if (!strcmp(argv[i], "--port"))
			port = (long)number(argv[++i], "--port", 0, 65535);
		else if (!strcmp(argv[i], "--unix"))
			path = argv[++i];
		else if (!strcmp(argv[i], "--bufs"))
			cfg.nbufs = (unsigned)number(argv[++i], "--bufs", 0, UINT32_MAX);
		else if (!strcmp(argv[i], "--buf-size"))
			cfg.buf_size = (unsigned)number(argv[++i], "--buf-size", 0, UINT32_MAX);
		else if (!strcmp(argv[i], "--entries"))
			cfg.entries = (unsigned)number(argv[++i], "--entries", 0, UINT32_MAX);
		else {
			fprintf(stderr, "demo: unknown option %s\n", argv[i]);
			usage();
		}
	}
	if ((port < 0) == !path) {
		fprintf(stderr, "demo: serve wants exactly one of --port and --unix\n");
		usage();
	}
	lfd = path ? unix_listener(path) : tcp_listener((unsigned)port, &got);
	if (lfd < 0)
		return 1;
	if (open_server(lfd, &cfg) < 0) {
		close(lfd);
		if (path)
			unlink(path);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (path)
		printf("listening on unix:%s (pid %d; Ctrl-C stops)\n", path, (int)getpid());
	else
		printf("listening on 127.0.0.1:%u (pid %d; Ctrl-C stops)\n", got, (int)getpid());
	print_config(&cfg);
	fflush(stdout);
	r = uecho_run(srv);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (r < 0)
		fprintf(stderr, "demo: uecho_run: %s%s\n", strerror(-r), why(r));
	else
		printf("stopped\n");
	{
		struct uecho_stats st = stats_now();

		print_stats(&st);
	}
	uecho_close(srv);
	close(lfd);
	if (path)
		unlink(path);
	return r < 0 ? 1 : 0;
}

/* ---------------------------------------------------------- clients */

static int cmd_clients(int argc, char **argv)
{
	struct sizes z = { 8, 16, 512, { 0, 0, 0 } };
	struct client *cls;
	bool failed = false;
	double t0;
	long last;
	int bad;

	if (argc < 3)
		usage();
	if (!strncmp(argv[2], "unix:", 5))
		peer_unix(argv[2] + 5);
	else
		peer_tcp((unsigned)number(argv[2], "the port", 1, 65535));
	for (int i = 3; i < argc; i++) {
		if (!size_option(&z, argc, argv, &i) || !strcmp(argv[i - 1], "--bufs") ||
		    !strcmp(argv[i - 1], "--buf-size") || !strcmp(argv[i - 1], "--entries")) {
			fprintf(stderr, "demo: clients takes --conns, --msgs and --size, not %s\n",
			        argv[i - (i > 3 && argv[i - 1][0] == '-')]);
			usage();
		}
	}
	cls = clients_open(z.conns, z.msgs * z.size, 0);
	if (!cls)
		return 1;
	t0 = now_s();
	last = now_ms();
	while (!clients_done(cls, z.conns, &failed)) {
		struct pollfd pf[256];
		int m = z.conns < 256 ? z.conns : 256;
		bool moved = false;

		for (int i = 0; i < z.conns; i++)
			moved |= client_step(&cls[i], i);
		if (moved)
			last = now_ms();
		else if (now_ms() - last > STALL_MS)
			break;
		for (int i = 0; i < m; i++)
			pf[i] = (struct pollfd){ cls[i].fd, POLLIN | (cls[i].sent < cls[i].len ? POLLOUT : 0), 0 };
		poll(pf, (nfds_t)m, 10);
	}
	bad = clients_report(cls, z.conns);
	if (!bad)
		printf("echoed: %llu bytes back to %d clients in %.1f ms, every byte checked\n",
		       (unsigned long long)z.conns * z.msgs * z.size, z.conns, (now_s() - t0) * 1000);
	clients_close(cls, z.conns);
	return bad ? 1 : 0;
}

/* ---------------------------------------------------------- mistakes */

/* The raw ring of "mistakes": its CQEs printed one by one. */
static struct io_uring ring;

static const char *flag_text(unsigned f)
{
	static char s[64];

	snprintf(s, sizeof(s), "%s%s", f & IORING_CQE_F_BUFFER ? "F_BUFFER " : "",
	         f & IORING_CQE_F_MORE ? "F_MORE" : "");
	if (!*s)
		strcpy(s, "-");
	return s;
}

/* Print one CQE: res, flags, and the buffer id when there is one. */
static void show(const struct io_uring_cqe *cqe)
{
	printf("    CQE res %4d %-22s flags %-16s", cqe->res,
	       cqe->res < 0 ? strerror(-cqe->res) : "", flag_text(cqe->flags));
	if (cqe->flags & IORING_CQE_F_BUFFER)
		printf(" buffer %u", cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	else
		printf(" (flags >> 16 = %u: no buffer, it means nothing)",
		       cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	printf("\n");
}

/* Submit, then print every CQE that comes within ms. Returns how many. */
static int reap_for(int ms, struct io_uring_cqe *last)
{
	struct __kernel_timespec ts = { 0, (long long)ms * 1000000 };
	struct io_uring_cqe *cqe;
	int n = 0;

	io_uring_submit(&ring);
	while (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
		show(cqe);
		if (last)
			*last = *cqe;
		io_uring_cqe_seen(&ring, cqe);
		n++;
		ts.tv_nsec = 20 * 1000000; /* the rest come together */
	}
	return n;
}

static struct io_uring_sqe *sqe_or_die(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) { /* the SQ is full: hand it over, then there is room */
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	if (!sqe) {
		fprintf(stderr, "demo: no SQE\n");
		exit(1);
	}
	return sqe;
}

static void prep_recv_ms(int fd, unsigned bgid, uint64_t ud)
{
	struct io_uring_sqe *sqe = sqe_or_die();

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)bgid;
	io_uring_sqe_set_data64(sqe, ud);
}

static void prep_cancel_ud(uint64_t ud)
{
	struct io_uring_sqe *sqe = sqe_or_die();

	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, 999);
}

/* A buffer ring of n buffers of size bytes in group bgid, every buffer
 * given to the kernel. liburing 2.3: map it ourselves. */
struct bring {
	struct io_uring_buf_ring *br;
	unsigned char *mem;
	unsigned n, size, bgid;
};

static void bring_add_all(struct bring *b)
{
	for (unsigned i = 0; i < b->n; i++)
		io_uring_buf_ring_add(b->br, b->mem + i * b->size, b->size, (unsigned short)i,
		                      io_uring_buf_ring_mask(b->n), (int)i);
	io_uring_buf_ring_advance(b->br, (int)b->n);
}

static int bring_setup(struct bring *b, unsigned n, unsigned size, unsigned bgid)
{
	struct io_uring_buf_reg reg;
	size_t bytes = (size_t)n * sizeof(struct io_uring_buf);
	int r;

	b->n = n;
	b->size = size;
	b->bgid = bgid;
	b->br = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->mem = malloc((size_t)n * size);
	if (b->br == MAP_FAILED || !b->mem) {
		fprintf(stderr, "demo: out of memory\n");
		exit(1);
	}
	io_uring_buf_ring_init(b->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)(uintptr_t)b->br;
	reg.ring_entries = n;
	reg.bgid = (uint16_t)bgid;
	r = io_uring_register_buf_ring(&ring, &reg, 0);
	if (r < 0) {
		printf("  io_uring_register_buf_ring: %s%s\n", strerror(-r), why(r));
		return r;
	}
	bring_add_all(b);
	return 0;
}

static int pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("demo: socketpair");
		exit(1);
	}
	return 0;
}

static void write_all(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n) {
		perror("demo: write");
		exit(1);
	}
}

static void mistakes_accept(void)
{
	unsigned port;
	int lfd = tcp_listener(0, &port), c[3];
	struct io_uring_sqe *sqe;

	if (lfd < 0)
		exit(1);
	printf("1. One multishot accept, three connections, then a cancel:\n");
	sqe = sqe_or_die();
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, 1);
	io_uring_submit(&ring);
	peer_tcp(port);
	for (int i = 0; i < 3; i++)
		c[i] = connect_one(0);
	{
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { 0, 200 * 1000000 };

		while (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
			printf("    accept CQE res %d (a new socket)  flags %s\n", cqe->res,
			       flag_text(cqe->flags));
			if (cqe->res >= 0)
				close(cqe->res);
			io_uring_cqe_seen(&ring, cqe);
			ts.tv_nsec = 20 * 1000000;
		}
	}
	printf("  cancel it (io_uring_prep_cancel64):\n");
	prep_cancel_ud(1);
	reap_for(200, NULL);
	for (int i = 0; i < 3; i++)
		if (c[i] >= 0)
			close(c[i]);
	close(lfd);
}

static void mistakes_enobufs(void)
{
	struct bring b;
	unsigned char data[100];
	int sv[2], n = 0;

	printf("2. A buffer ring of 4 x 16 bytes; the client sends 100 bytes; one multishot receive:\n");
	if (bring_setup(&b, 4, 16, 1) < 0)
		return;
	pair(sv);
	for (int i = 0; i < 100; i++)
		data[i] = (unsigned char)i;
	write_all(sv[1], data, sizeof(data));
	prep_recv_ms(sv[0], 1, 2);
	reap_for(200, NULL);
	printf("  re-armed at once, ten times, without giving a buffer back (the busy loop):\n");
	for (int i = 0; i < 10; i++) {
		struct io_uring_cqe *cqe;

		prep_recv_ms(sv[0], 1, 2);
		io_uring_submit_and_wait(&ring, 1);
		if (io_uring_peek_cqe(&ring, &cqe) == 0) {
			n += cqe->res == -ENOBUFS;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	printf("    %d of 10 ended with -ENOBUFS at once\n", n);
	printf("  the 4 buffers given back (io_uring_buf_ring_add x 4 + advance), then re-armed:\n");
	bring_add_all(&b);
	prep_recv_ms(sv[0], 1, 2);
	reap_for(200, NULL);
	printf("  (the receive stays armed, buffer 3 still free); cancelled:\n");
	prep_cancel_ud(2);
	reap_for(100, NULL);
	close(sv[0]);
	close(sv[1]);
	io_uring_unregister_buf_ring(&ring, 1);
	munmap(b.br, 4 * sizeof(struct io_uring_buf));
	free(b.mem);
}

static void mistakes_reinit(void)
{
	struct bring b;
	unsigned char data[64];
	int sv[2];

	printf("3. io_uring_buf_ring_init on a live ring: 4 x 16 bytes, 64 bytes sent, the ring used up:\n");
	if (bring_setup(&b, 4, 16, 3) < 0)
		return;
	pair(sv);
	memset(data, 'x', sizeof(data));
	write_all(sv[1], data, sizeof(data));
	prep_recv_ms(sv[0], 3, 5);
	reap_for(200, NULL);
	printf("  given back the wrong way: io_uring_buf_ring_init, add x 4, advance; 8 bytes sent; re-armed:\n");
	io_uring_buf_ring_init(b.br);
	bring_add_all(&b);
	write_all(sv[1], data, 8);
	prep_recv_ms(sv[0], 3, 5);
	reap_for(200, NULL);
	printf("  (the first -ENOBUFS ends the receive that was still armed, the second is the re-arm: the\n"
	       "   4 buffers just added are invisible to the kernel, its head and the new tail are equal)\n");
	printf("  given back the right way: add x 4, advance (no init); re-armed:\n");
	bring_add_all(&b);
	prep_recv_ms(sv[0], 3, 5);
	reap_for(200, NULL);
	prep_cancel_ud(5);
	reap_for(100, NULL);
	close(sv[0]);
	close(sv[1]);
	io_uring_unregister_buf_ring(&ring, 3);
	munmap(b.br, 4 * sizeof(struct io_uring_buf));
	free(b.mem);
}

static void mistakes_close(void)
{
	struct bring b;
	struct io_uring_cqe last;
	char c;
	ssize_t r;
	int sv[2];

	printf("4. close(2) on a socket whose multishot receive is armed:\n");
	if (bring_setup(&b, 4, 64, 2) < 0)
		return;
	pair(sv);
	prep_recv_ms(sv[0], 2, 4);
	io_uring_submit(&ring);
	close(sv[0]);
	printf("  close(fd) done; CQEs in the next 200 ms:\n");
	if (reap_for(200, NULL) == 0)
		printf("    none: the request is still armed\n");
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	r = read(sv[1], &c, 1);
	printf("  the client reads: %s\n", r == 0 ? "end of file" :
	       r < 0 && errno == EAGAIN ? "nothing yet (EAGAIN): no end of file, the connection is open" :
	       "something else");
	printf("  the client sends \"hello\":\n");
	write_all(sv[1], "hello", 5);
	reap_for(200, NULL);
	printf("  now cancel it:\n");
	prep_cancel_ud(4);
	reap_for(200, &last);
	r = read(sv[1], &c, 1);
	printf("  the client reads: %s\n", r == 0 ? "end of file: the socket is really closed now" :
	       r < 0 && errno == EAGAIN ? "nothing (EAGAIN): still open" : "something else");
	close(sv[1]);
	io_uring_unregister_buf_ring(&ring, 2);
	munmap(b.br, 4 * sizeof(struct io_uring_buf));
	free(b.mem);
}

static void mistakes_setup(void)
{
	static const struct { const char *what; unsigned flags; } tries[] = {
		{ "SINGLE_ISSUER | DEFER_TASKRUN", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN },
		{ "SINGLE_ISSUER | COOP_TASKRUN", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN },
		{ "COOP_TASKRUN", IORING_SETUP_COOP_TASKRUN },
		{ "DEFER_TASKRUN alone (it needs SINGLE_ISSUER)", IORING_SETUP_DEFER_TASKRUN },
		{ "a flag this kernel does not know (1 << 30)", 1u << 30 },
		{ "none", 0 },
	};

	printf("5. Setup flags for a ring used by one thread (io_uring_queue_init_params, 8 entries):\n");
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring r;
		struct io_uring_params p;
		int ret;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i].flags;
		ret = io_uring_queue_init_params(8, &r, &p);
		printf("    %-46s %s\n", tries[i].what, ret == 0 ? "ok" : strerror(-ret));
		if (ret == 0)
			io_uring_queue_exit(&r);
	}
}

static int cmd_mistakes(int argc, char **argv)
{
	int r;

	(void)argv;
	if (argc != 2)
		usage();
	r = io_uring_queue_init(16, &ring, 0);
	if (r < 0) {
		fprintf(stderr, "demo: io_uring_queue_init: %s%s\n", strerror(-r), why(r));
		return 1;
	}
	mistakes_accept();
	mistakes_enobufs();
	mistakes_reinit();
	mistakes_close();
	io_uring_queue_exit(&ring);
	mistakes_setup();
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "burst"))
		return cmd_burst(argc, argv);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle(argc, argv);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc, argv);
	if (!strcmp(argv[1], "clients"))
		return cmd_clients(argc, argv);
	if (!strcmp(argv[1], "mistakes"))
		return cmd_mistakes(argc, argv);
	fprintf(stderr, "demo: unknown command %s\n", argv[1]);
	usage();
	return 2;
}
