/*
 * demo.c - chapter 04: many clients against the one-thread file server.
 *
 *   demo [options] FILE
 *
 * Starts the chapter's server (evsrv.h: yours or the reference, whichever
 * this demo was linked with) on 127.0.0.1 in a thread of this process, then
 * fires K concurrent clients at it. Each client sends R random requests for
 * pieces of FILE (some past the end of the file, one deliberately invalid)
 * and checks every reply against the file itself. With --port or --unix it
 * talks to a server that is already running instead (for example the
 * server program: make run ... or ./server --port 0 --file FILE).
 *
 * The clients are plain blocking sockets, one thread each: the point is to
 * watch the *server* juggle them all on one thread.
 *
 *   --clients K   concurrent clients (default 8)
 *   --requests R  requests per client (default 32)
 *   --max-len L   longest request, bytes (default 65536, at most 1 MiB)
 *   --qd Q        reads in flight in the in-process server (default 32)
 *   --seed S      random seed (default: from the clock; printed)
 *   --pipeline    each client sends all its requests before reading any
 *                 reply (replies must come back in order)
 *   --slow        client 0 shrinks its receive buffer and reads its replies
 *                 a few bytes at a time, with pauses: the server must keep
 *                 serving the others (partial writes, EAGAIN, EPOLLOUT).
 *                 The in-process server's listening socket also gets a
 *                 16 KiB SO_SNDBUF (inherited by accepted sockets), so
 *                 replies do not simply vanish into a 4 MiB send buffer.
 *   --hangup      also start clients that ask for 1 MiB and hang up
 *                 without reading (one closes, one resets): the server must
 *                 shrug it off
 *   --port P      use the server listening on 127.0.0.1:P
 *   --unix PATH   use the server listening on the unix socket PATH
 *   --verbose     print every reply as it arrives
 *
 * Exit status 0 when every reply was right, 1 when one was not (or the
 * server failed), 2 on bad arguments.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SLOW_CHUNK 512        /* bytes per recv for the slow client   */
#define SLOW_PAUSE_NS 200000L /* 0.2 ms between them                 */
#define SLOW_RCVBUF 4096      /* small window: the server fills it fast */
#define SLOW_SNDBUF 16384     /* the in-process server's send buffer     */

struct config {
	const char *file;
	unsigned clients, requests, qd;
	size_t max_len;
	uint64_t seed;
	bool pipeline, slow, hangup, verbose;
	long port;               /* -1: none */
	const char *unix_path;
	const char *lab;         /* --lab NAME: run an experiment instead */
};

struct client {
	pthread_t thread;
	bool started;
	unsigned id;
	const struct config *cfg;
	int file_fd;             /* the demo's own view of the file */
	off_t file_size;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint64_t rng;
	/* results */
	unsigned ok, bad;
	uint64_t bytes;
	double finished_ms;
	char error[160];
};

static struct timespec t0;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6;
}

/* xorshift64*: small, seedable, good enough for picking ranges. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* --------------------------------------------------------- blocking I/O */

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes; `chunk` > 0 limits each recv (the slow client). */
static int recv_all(int fd, void *buf, size_t len, size_t chunk)
{
	char *p = buf;

	while (len > 0) {
		size_t want = chunk && chunk < len ? chunk : len;
		ssize_t n = recv(fd, p, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET; /* server closed mid-reply */
		p += n;
		len -= (size_t)n;
		if (chunk) {
			struct timespec pause = { 0, SLOW_PAUSE_NS };

			nanosleep(&pause, NULL);
		}
	}
	return 0;
}

static int connect_to(const struct client *c)
{
	int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (c->cfg->slow && c->id == 0) {
		int sz = SLOW_RCVBUF;

		/* Before connect, so the TCP window is small from the start. */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	if (connect(fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* ------------------------------------------------------------ requests */

struct request {
	uint64_t offset, length;
	int64_t want_status;     /* what a correct server answers */
};

static void pick_request(struct client *c, unsigned i, struct request *r)
{
	uint64_t size = (uint64_t)c->file_size;
	uint64_t span = size + size / 8 + 1; /* ~1 in 9 starts past EOF */

	if (i + 1 == c->cfg->requests && c->cfg->requests > 1) {
		/* The last request of each client is invalid on purpose. */
		r->offset = 0;
		r->length = (uint64_t)EVSRV_MAX_LEN + 1;
		r->want_status = -EINVAL;
		return;
	}
	r->offset = rnd(&c->rng) % span;
	r->length = rnd(&c->rng) % (c->cfg->max_len + 1);
	if (r->offset >= size)
		r->want_status = 0;
	else
		r->want_status = (int64_t)(r->length < size - r->offset ? r->length
								     : size - r->offset);
}

/* Read one reply and compare it with the file. Returns 0, or -errno if the
 * connection failed; a wrong reply is counted in c->bad. */
static int check_reply(struct client *c, int fd, unsigned i,
		       const struct request *r, unsigned char *got,
		       unsigned char *want, double sent_ms)
{
	unsigned char hdr[EVSRV_HDR_SIZE];
	size_t chunk = c->cfg->slow && c->id == 0 ? SLOW_CHUNK : 0;
	int64_t status;
	int e;

	e = recv_all(fd, hdr, sizeof hdr, chunk);
	if (e < 0)
		return e;
	status = evsrv_decode_status(hdr);
	if (status > 0 && (uint64_t)status <= r->length) {
		e = recv_all(fd, got, (size_t)status, chunk);
		if (e < 0)
			return e;
	}
	bool right = status == r->want_status;
	if (right && status > 0) {
		ssize_t n = pread(c->file_fd, want, (size_t)status, (off_t)r->offset);

		right = n == status && memcmp(got, want, (size_t)status) == 0;
	}
	if (right) {
		c->ok++;
		c->bytes += status > 0 ? (uint64_t)status : 0;
	} else {
		c->bad++;
		if (!c->error[0])
			snprintf(c->error, sizeof c->error,
				 "request %u (offset %" PRIu64 ", length %" PRIu64
				 "): status %" PRId64 ", expected %" PRId64 "%s",
				 i, r->offset, r->length, status, r->want_status,
				 status == r->want_status ? " but the bytes differ" : "");
	}
	if (c->cfg->verbose) {
		pthread_mutex_lock(&print_lock);
		printf("%9.3f ms  client %2u  req %3u  offset %10" PRIu64
		       "  length %7" PRIu64 "  -> status %7" PRId64 "  %s  (%.3f ms)\n",
		       now_ms(), c->id, i, r->offset, r->length, status,
		       right ? "ok" : "WRONG", now_ms() - sent_ms);
		pthread_mutex_unlock(&print_lock);
	}
	/* A reply we cannot frame (status > length) ends the conversation. */
	return status > 0 && (uint64_t)status > r->length ? -EPROTO : 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	unsigned n = c->cfg->requests;
	struct request *reqs = calloc(n, sizeof *reqs);
	double *sent = calloc(n, sizeof *sent);
	unsigned char *got = malloc(EVSRV_MAX_LEN);
	unsigned char *want = malloc(EVSRV_MAX_LEN);
	int fd = -1, e = 0;

	if (!reqs || !sent || !got || !want) {
		snprintf(c->error, sizeof c->error, "out of memory");
		goto out;
	}
	fd = connect_to(c);
	if (fd < 0) {
		snprintf(c->error, sizeof c->error, "connect: %s", strerror(-fd));
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		pick_request(c, i, &reqs[i]);
	/* Lock-step: one request, its reply, the next. Pipeline: all the
	 * requests first (they are small), then all the replies. */
	for (unsigned i = 0, j = 0; j < n && e == 0;) {
		while (i < n && (c->cfg->pipeline || i == j)) {
			unsigned char req[EVSRV_REQ_SIZE];

			evsrv_encode_request(req, reqs[i].offset, reqs[i].length);
			sent[i] = now_ms();
			e = send_all(fd, req, sizeof req);
			if (e < 0)
				break;
			i++;
		}
		if (e == 0)
			e = check_reply(c, fd, j, &reqs[j], got, want, sent[j]);
		j++;
	}
	if (e < 0 && !c->error[0])
		snprintf(c->error, sizeof c->error, "connection: %s", strerror(-e));
out:
	c->finished_ms = now_ms();
	if (fd >= 0)
		close(fd);
	free(reqs);
	free(sent);
	free(got);
	free(want);
	return NULL;
}

/* A client that asks for 1 MiB and leaves without reading: with a plain
 * close (the server's send then meets EPIPE/ECONNRESET), or with a reset
 * (SO_LINGER 0: the server sees EPOLLERR/EPOLLHUP, perhaps while the read
 * is still in flight). */
static int hangup_client(const struct client *proto, bool reset)
{
	struct client c = *proto;
	unsigned char req[EVSRV_REQ_SIZE];
	int fd = connect_to(&c), e;

	if (fd < 0)
		return fd;
	evsrv_encode_request(req, 0, EVSRV_MAX_LEN);
	e = send_all(fd, req, sizeof req);
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	close(fd);
	return e;
}

/* ------------------------------------------------------ in-process server */

struct server {
	struct evsrv *srv;
	int listen_fd;
	pthread_t thread;
	int result;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;

	sv->result = evsrv_run(sv->srv);
	return NULL;
}

static int start_server(const struct config *cfg, struct server *sv,
			struct sockaddr_in *addr)
{
	socklen_t len = sizeof *addr;
	int r;

	*addr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	sv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv->listen_fd < 0)
		return -errno;
	if (cfg->slow) {
		/* Accepted sockets inherit the listener's buffer sizes. Left
		 * alone, Linux grows a loopback send buffer up to 4 MiB
		 * (net.ipv4.tcp_wmem) and whole replies fit in it; small, the
		 * server meets partial writes and EAGAIN, which is the point. */
		int sz = SLOW_SNDBUF;

		setsockopt(sv->listen_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	if (bind(sv->listen_fd, (struct sockaddr *)addr, sizeof *addr) < 0 ||
	    listen(sv->listen_fd, SOMAXCONN) < 0 ||
	    getsockname(sv->listen_fd, (struct sockaddr *)addr, &len) < 0) {
		r = -errno;
		close(sv->listen_fd);
		return r;
	}
	r = evsrv_open(&sv->srv, cfg->file, sv->listen_fd, cfg->qd);
	if (r < 0) {
		fprintf(stderr, "demo: evsrv_open(%s): %s\n", cfg->file, strerror(-r));
		close(sv->listen_fd);
		return r;
	}
	r = pthread_create(&sv->thread, NULL, server_main, sv);
	if (r != 0) {
		evsrv_close(sv->srv);
		close(sv->listen_fd);
		return -r;
	}
	return 0;
}

static int stop_server(struct server *sv)
{
	evsrv_stop(sv->srv);
	pthread_join(sv->thread, NULL);
	evsrv_close(sv->srv);
	close(sv->listen_fd);
	return sv->result;
}

/* ------------------------------------------------------------------ labs */
/*
 * Small experiments, one per claim of the lesson: `demo --lab NAME [FILE]`.
 * They use the kernel interfaces directly (they are about the kernel, not
 * about the exercise) and print what happened, so the learner can see it.
 */

/* The names of the errors the labs meet (strerrorname_np is glibc 2.32+). */
static const char *errname(int err)
{
	switch (err) {
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	default: return "errno";
	}
}

/* One line of a lab: what was done, and the result or the error. */
static void lab_say(const char *what, bool ok, unsigned long long value, int err)
{
	if (ok)
		printf("  %-44s -> %llu\n", what, value);
	else
		printf("  %-44s -> -1, %s (%s)\n", what, errname(err), strerror(err));
}

/* write(2) of one 8-byte value to an eventfd. */
static bool efd_write(int fd, uint64_t v)
{
	return write(fd, &v, sizeof v) == (ssize_t)sizeof v;
}

/* read(2) of the 8-byte counter of an eventfd or timerfd. */
static bool efd_read(int fd, uint64_t *v)
{
	return read(fd, v, sizeof *v) == (ssize_t)sizeof *v;
}

#define LAB_WRITE(what, fd, v)                                  \
	do {                                                    \
		bool ok_ = efd_write(fd, v);                    \
		lab_say(what, ok_, 0, errno);                   \
	} while (0)
#define LAB_READ(what, fd)                                      \
	do {                                                    \
		uint64_t v_ = 0;                                \
		bool ok_ = efd_read(fd, &v_);                   \
		lab_say(what, ok_, v_, errno);                  \
	} while (0)
#define LAB_CALL(what, expr)                                    \
	do {                                                    \
		long long r_ = (expr);                          \
		lab_say(what, r_ >= 0, (unsigned long long)r_, errno); \
	} while (0)

static int lab_counter(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	printf("eventfd(0, EFD_NONBLOCK): a 64-bit counter; write adds, read takes all\n");
	LAB_WRITE("write 3", fd, 3);
	LAB_WRITE("write 3", fd, 3);
	LAB_READ("read (returns the sum and resets to 0)", fd);
	LAB_READ("read again (counter is 0)", fd);
	close(fd);
	return 0;
}

static int lab_semaphore(void)
{
	int fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	printf("eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK): each read takes 1\n");
	LAB_WRITE("write 3", fd, 3);
	for (int i = 0; i < 4; i++)
		LAB_READ("read", fd);
	close(fd);
	return 0;
}

static int lab_overflow(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	printf("eventfd(0, EFD_NONBLOCK): the counter holds at most 2^64-2\n");
	LAB_WRITE("write 2^64-1 (never a valid value)", fd, UINT64_MAX);
	LAB_WRITE("write 2^64-2 (fills it)", fd, UINT64_MAX - 1);
	LAB_WRITE("write 1 (would overflow: would block)", fd, 1);
	LAB_READ("read", fd);
	LAB_WRITE("write 1 (room again)", fd, 1);
	close(fd);
	return 0;
}

static int count_ready(int ep)
{
	struct epoll_event ev;

	return epoll_wait(ep, &ev, 1, 0);
}

static int lab_level_edge(void)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int lt = epoll_create1(EPOLL_CLOEXEC), et = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event in = { .events = EPOLLIN }, edge = { .events = EPOLLIN | EPOLLET };

	if (efd < 0 || lt < 0 || et < 0 || epoll_ctl(lt, EPOLL_CTL_ADD, efd, &in) < 0 ||
	    epoll_ctl(et, EPOLL_CTL_ADD, efd, &edge) < 0)
		return -errno;
	printf("one eventfd in two epoll sets: level-triggered (LT) and edge-triggered (ET)\n");
	LAB_WRITE("write 1", efd, 1);
	for (int i = 1; i <= 3; i++) {
		printf("  epoll_wait #%d, nothing read:   LT reports %d, ET reports %d\n",
		       i, count_ready(lt), count_ready(et));
	}
	LAB_WRITE("write 1 again (a new edge)", efd, 1);
	printf("  epoll_wait after the new write: LT reports %d, ET reports %d\n",
	       count_ready(lt), count_ready(et));
	LAB_READ("read (counter back to 0)", efd);
	printf("  epoll_wait after the read:      LT reports %d, ET reports %d\n",
	       count_ready(lt), count_ready(et));
	close(lt);
	close(et);
	close(efd);
	return 0;
}

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static int lab_regular_file(const char *file)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	static char buf[1 << 16];
	struct iovec iov = { buf, sizeof buf };
	struct timespec t;
	ssize_t n;
	int r;

	if (fd < 0 || ep < 0)
		return -errno;
	printf("%s opened with O_NONBLOCK\n", file);
	LAB_CALL("epoll_ctl(ADD) of the regular file", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	/* Evict the file's clean pages from the page cache (no root needed). */
	r = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* returns the error */
	lab_say("posix_fadvise(DONTNEED): evict from cache", r == 0, 0, r);
	LAB_CALL("preadv2(64 KiB, RWF_NOWAIT), not cached", preadv2(fd, &iov, 1, 0, RWF_NOWAIT));
	clock_gettime(CLOCK_MONOTONIC, &t);
	n = pread(fd, buf, sizeof buf, 0);
	lab_say("pread(64 KiB) on the O_NONBLOCK fd", n >= 0, (unsigned long long)n, errno);
	printf("  %-44s    (it waited for the disk: %.3f ms)\n", "", ms_since(&t));
	LAB_CALL("preadv2(64 KiB, RWF_NOWAIT), now cached", preadv2(fd, &iov, 1, 0, RWF_NOWAIT));
	close(ep);
	close(fd);
	return 0;
}

static int lab_timerfd(void)
{
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its = { .it_interval = { 0, 100000000L }, .it_value = { 0, 100000000L } };
	struct timespec t, late = { 0, 350000000L };

	if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0 ||
	    timerfd_settime(tfd, 0, &its, NULL) < 0)
		return -errno;
	printf("timerfd ticking every 100 ms, in an epoll set\n");
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < 3; i++) {
		int r = epoll_wait(ep, &ev, 1, -1);
		uint64_t v = 0;

		efd_read(tfd, &v);
		printf("  %7.1f ms  epoll_wait -> %d, read -> %llu expiration(s)\n",
		       ms_since(&t), r, (unsigned long long)v);
	}
	nanosleep(&late, NULL); /* pretend to be busy elsewhere */
	uint64_t missed = 0;

	efd_read(tfd, &missed);
	printf("  %7.1f ms  (we were busy for 350 ms) read -> %llu expiration(s)\n",
	       ms_since(&t), (unsigned long long)missed);
	LAB_READ("read again before the next tick", tfd);
	close(ep);
	close(tfd);
	return 0;
}

/* Four O_DIRECT reads tagged with io_set_eventfd, caught by epoll. */
static int lab_bridge(const char *file)
{
	enum { N = 4 };
	int fd = open(file, O_RDONLY | O_DIRECT | O_CLOEXEC);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	struct iocb cbs[N], *list[N];
	struct io_event evs[N];
	struct timespec zero = { 0, 0 }, pause = { 0, 50000000L };
	io_context_t ctx = 0;
	void *buf = NULL;
	int r, reaped = 0;

	if (fd < 0 || efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		return -errno;
	r = io_setup(N, &ctx);
	if (r < 0)
		return r;
	r = posix_memalign(&buf, 4096, N * 4096);
	if (r != 0)
		return -r;
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cbs[i], fd, (char *)buf + i * 4096, 4096, (long long)i * 1048576);
		io_set_eventfd(&cbs[i], efd);
		list[i] = &cbs[i];
	}
	r = io_submit(ctx, N, list);
	printf("io_submit of %d O_DIRECT reads, each tagged with io_set_eventfd -> %d\n", N, r);
	nanosleep(&pause, NULL); /* let them all finish before we look */
	while (r > 0 && reaped < r) {
		int n = epoll_wait(ep, &ev, 1, 1000);
		uint64_t count = 0;
		int got;

		efd_read(efd, &count); /* first the counter, then reap */
		got = io_getevents(ctx, 0, N, evs, &zero);
		printf("  epoll_wait -> %d (eventfd readable); read counter -> %llu; "
		       "io_getevents(min_nr 0) -> %d\n", n, (unsigned long long)count, got);
		if (n <= 0 || got < 0)
			break;
		for (int i = 0; i < got; i++)
			printf("    iocb %td: res %ld\n", evs[i].obj - cbs, (long)evs[i].res);
		reaped += got;
	}
	printf("  epoll_wait with nothing left -> %d\n", epoll_wait(ep, &ev, 1, 0));
	io_destroy(ctx);
	free(buf);
	close(ep);
	close(efd);
	close(fd);
	return 0;
}

/* How long io_submit itself takes: buffered reads are done inside it. */
static int lab_submit_time(const char *file)
{
	enum { N = 16, LEN = 1 << 16 };
	void *buf = NULL;
	int r = posix_memalign(&buf, 4096, (size_t)N * LEN);

	if (r != 0)
		return -r;
	printf("io_submit of %d x 64 KiB reads of %s, cache evicted first\n", N, file);
	for (int direct = 0; direct <= 1; direct++) {
		int fd = open(file, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
		struct iocb cbs[N], *list[N];
		struct io_event evs[N];
		io_context_t ctx = 0;
		struct timespec t;
		double submit_ms;
		int got = 0;

		if (fd < 0)
			return -errno;
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		r = io_setup(N, &ctx);
		if (r < 0) {
			close(fd);
			return r;
		}
		for (int i = 0; i < N; i++) {
			io_prep_pread(&cbs[i], fd, (char *)buf + (size_t)i * LEN, LEN,
				      (long long)i * 8 * LEN);
			list[i] = &cbs[i];
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		r = io_submit(ctx, N, list);
		submit_ms = ms_since(&t);
		clock_gettime(CLOCK_MONOTONIC, &t);
		while (r > 0 && got < r) {
			int n = io_getevents(ctx, 1, N, evs, NULL);

			if (n < 0)
				break;
			got += n;
		}
		printf("  %-9s io_submit -> %d in %7.3f ms; waiting for completions: %7.3f ms\n",
		       direct ? "O_DIRECT" : "buffered", r, submit_ms, ms_since(&t));
		io_destroy(ctx);
		close(fd);
	}
	free(buf);
	return 0;
}

static const struct lab {
	const char *name;
	bool needs_file;
	int (*run0)(void);
	int (*run1)(const char *file);
	const char *what;
} lab_table[] = {
	{ "counter", false, lab_counter, NULL, "eventfd as a counter: writes add up, a read takes all" },
	{ "semaphore", false, lab_semaphore, NULL, "EFD_SEMAPHORE: each read takes 1" },
	{ "overflow", false, lab_overflow, NULL, "the largest value, EINVAL and EAGAIN" },
	{ "level-edge", false, lab_level_edge, NULL, "level- against edge-triggered epoll" },
	{ "regular-file", true, NULL, lab_regular_file, "EPERM from epoll, O_NONBLOCK ignored, RWF_NOWAIT" },
	{ "timerfd", false, lab_timerfd, NULL, "a periodic timer as a descriptor; missed ticks add up" },
	{ "bridge", true, NULL, lab_bridge, "io_set_eventfd: four reads, one wake-up, counter 4" },
	{ "submit-time", true, NULL, lab_submit_time, "time inside io_submit: buffered vs O_DIRECT" },
};

static int run_lab(const char *name, const char *file)
{
	for (size_t i = 0; i < sizeof lab_table / sizeof lab_table[0]; i++) {
		const struct lab *l = &lab_table[i];
		int r;

		if (strcmp(name, l->name))
			continue;
		if (l->needs_file && !file) {
			fprintf(stderr, "demo: --lab %s needs a FILE\n", name);
			return 2;
		}
		r = l->needs_file ? l->run1(file) : l->run0();
		if (r < 0) {
			fprintf(stderr, "demo: lab %s: %s\n", name, strerror(-r));
			return 1;
		}
		return 0;
	}
	bool listing = !strcmp(name, "list");
	FILE *out = listing ? stdout : stderr;

	if (!listing)
		fprintf(out, "demo: no lab called '%s'. ", name);
	fprintf(out, "The labs:\n");
	for (size_t i = 0; i < sizeof lab_table / sizeof lab_table[0]; i++)
		fprintf(out, "  --lab %-13s%s %s\n", lab_table[i].name,
			lab_table[i].needs_file ? " FILE" : "     ", lab_table[i].what);
	return listing ? 0 : 2;
}

/* ------------------------------------------------------------ arguments */

static void usage(void)
{
	fprintf(stderr,
		"usage: demo [options] FILE\n"
		"  --clients K   concurrent clients (default 8)\n"
		"  --requests R  requests per client (default 32)\n"
		"  --max-len L   longest request in bytes (default 65536, max %u)\n"
		"  --qd Q        reads in flight in the in-process server (default 32)\n"
		"  --seed S      random seed (default: from the clock)\n"
		"  --pipeline    send all requests before reading the replies\n"
		"  --slow        client 0 reads its replies a few bytes at a time\n"
		"  --hangup      add clients that ask for 1 MiB and hang up\n"
		"  --port P      use a server already on 127.0.0.1:P\n"
		"  --unix PATH   use a server already on unix socket PATH\n"
		"  --verbose     print every reply\n"
		"   or: demo --lab NAME [FILE]\n"
		"  --lab NAME    run one of the lesson's experiments (--lab list)\n",
		EVSRV_MAX_LEN);
}

static int parse_num(const char *s, unsigned long long lo, unsigned long long hi,
		     unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	unsigned long long v;
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	*cfg = (struct config){ .clients = 8, .requests = 32, .qd = 32,
				.max_len = 65536, .port = -1,
				.seed = (uint64_t)t.tv_sec * 1000003u ^ (uint64_t)t.tv_nsec };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--pipeline")) { cfg->pipeline = true; continue; }
		if (!strcmp(a, "--slow")) { cfg->slow = true; continue; }
		if (!strcmp(a, "--hangup")) { cfg->hangup = true; continue; }
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) { cfg->verbose = true; continue; }
		if (a[0] != '-') {
			if (cfg->file)
				return -1;
			cfg->file = a;
			continue;
		}
		if (!strcmp(a, "--unix")) {
			if (!val)
				return -1;
			cfg->unix_path = val;
		} else if (!strcmp(a, "--lab")) {
			if (!val)
				return -1;
			cfg->lab = val;
		} else if (!strcmp(a, "--clients")) {
			if (parse_num(val, 1, 1000, &v)) return -1;
			cfg->clients = (unsigned)v;
		} else if (!strcmp(a, "--requests")) {
			if (parse_num(val, 1, 1000000, &v)) return -1;
			cfg->requests = (unsigned)v;
		} else if (!strcmp(a, "--max-len")) {
			if (parse_num(val, 0, EVSRV_MAX_LEN, &v)) return -1;
			cfg->max_len = (size_t)v;
		} else if (!strcmp(a, "--qd")) {
			if (parse_num(val, 1, EVSRV_MAX_QD, &v)) return -1;
			cfg->qd = (unsigned)v;
		} else if (!strcmp(a, "--seed")) {
			if (parse_num(val, 0, UINT64_MAX, &v)) return -1;
			cfg->seed = v;
		} else if (!strcmp(a, "--port")) {
			if (parse_num(val, 1, 65535, &v)) return -1;
			cfg->port = (long)v;
		} else {
			return -1;
		}
		i++;
	}
	if (cfg->lab)
		return 0; /* FILE is optional; run_lab says if it needs one */
	if (!cfg->file || (cfg->port >= 0 && cfg->unix_path))
		return -1;
	return 0;
}

/* ----------------------------------------------------------------- main */

static int fill_addr(const struct config *cfg, const struct sockaddr_in *local,
		     struct client *proto)
{
	if (cfg->unix_path) {
		struct sockaddr_un *u = (struct sockaddr_un *)&proto->addr;

		if (strlen(cfg->unix_path) >= sizeof u->sun_path)
			return -ENAMETOOLONG;
		u->sun_family = AF_UNIX;
		strcpy(u->sun_path, cfg->unix_path);
		proto->addr_len = sizeof *u;
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)&proto->addr;

	*in = *local;
	if (cfg->port >= 0) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)cfg->port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	proto->addr_len = sizeof *in;
	return 0;
}

static int run_clients(const struct config *cfg, struct client *proto)
{
	struct client *cl = calloc(cfg->clients, sizeof *cl);
	unsigned ok = 0, bad = 0, failed = 0;
	uint64_t bytes = 0;
	double others_done = 0;

	if (!cl)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned k = 0; k < cfg->clients; k++) {
		cl[k] = *proto;
		cl[k].id = k;
		cl[k].rng = cfg->seed + 0x9e3779b97f4a7c15ULL * (k + 1);
		if (pthread_create(&cl[k].thread, NULL, client_main, &cl[k]) != 0) {
			fprintf(stderr, "demo: cannot start client %u\n", k);
			failed++;
			continue;
		}
		cl[k].started = true;
	}
	if (cfg->hangup) {
		int e1 = hangup_client(proto, false), e2 = hangup_client(proto, true);

		printf("hangup: two clients asked for 1 MiB and left (close: %s, reset: %s)\n",
		       e1 ? strerror(-e1) : "sent", e2 ? strerror(-e2) : "sent");
	}
	for (unsigned k = 0; k < cfg->clients; k++) {
		if (!cl[k].started)
			continue;
		pthread_join(cl[k].thread, NULL);
		ok += cl[k].ok;
		bad += cl[k].bad;
		bytes += cl[k].bytes;
		if (cl[k].error[0]) {
			fprintf(stderr, "client %u: %s\n", k, cl[k].error);
			failed++;
		}
		if (!(cfg->slow && k == 0) && cl[k].finished_ms > others_done)
			others_done = cl[k].finished_ms;
	}
	double total = now_ms();
	printf("%u clients x %u requests%s: %u replies right, %u wrong, "
	       "%.1f MiB in %.1f ms (%.0f replies/s)\n",
	       cfg->clients, cfg->requests, cfg->pipeline ? " (pipelined)" : "",
	       ok, bad, (double)bytes / (1 << 20), total,
	       total > 0 ? ok * 1e3 / total : 0.0);
	if (cfg->slow && cfg->clients > 1)
		printf("slow client 0 finished at %.1f ms; the other %u clients were all done by %.1f ms\n",
		       cl[0].finished_ms, cfg->clients - 1, others_done);
	free(cl);
	return bad || failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct client proto = { 0 };
	struct server sv = { 0 };
	struct sockaddr_in local = { 0 };
	struct stat st;
	bool own_server;
	int r, status;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage();
		return 2;
	}
	if (cfg.lab)
		return run_lab(cfg.lab, cfg.file);
	proto.cfg = &cfg;
	proto.file_fd = open(cfg.file, O_RDONLY | O_CLOEXEC);
	if (proto.file_fd < 0 || fstat(proto.file_fd, &st) < 0) {
		fprintf(stderr, "demo: %s: %s\n", cfg.file, strerror(errno));
		return 1;
	}
	proto.file_size = st.st_size;
	/* Our own sends use MSG_NOSIGNAL; this covers anything else. */
	signal(SIGPIPE, SIG_IGN);

	own_server = cfg.port < 0 && !cfg.unix_path;
	if (own_server) {
		r = start_server(&cfg, &sv, &local);
		if (r < 0) {
			fprintf(stderr, "demo: cannot start the server: %s\n", strerror(-r));
			return 1;
		}
		printf("server (evsrv, qd %u) on 127.0.0.1:%u, file %s (%lld bytes)\n",
		       cfg.qd, ntohs(local.sin_port), cfg.file, (long long)st.st_size);
	}
	r = fill_addr(&cfg, &local, &proto);
	if (r < 0) {
		fprintf(stderr, "demo: %s: %s\n", cfg.unix_path, strerror(-r));
		status = 1;
	} else {
		printf("seed %" PRIu64 "\n", cfg.seed);
		fflush(stdout);
		status = run_clients(&cfg, &proto);
	}
	if (own_server) {
		r = stop_server(&sv);
		if (r < 0) {
			fprintf(stderr, "demo: the server's loop failed: %s\n", strerror(-r));
			status = 1;
		}
	}
	close(proto.file_fd);
	return status;
}
