/*
 * epoll-echo.c - chapter 09: the baseline the io_uring echo server is
 * measured against. The same service written the classic way: one thread,
 * one epoll instance, non-blocking sockets, a buffer per connection.
 *
 *   epoll-echo (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N] [--entries N]
 *
 *   --port N         listen on 127.0.0.1:N (TCP); 0 picks a free port
 *   --unix SOCKPATH  listen on a unix stream socket at SOCKPATH, which must
 *                    not exist yet; it is removed again on exit
 *   --buf-size N     bytes of each connection's buffer, so bytes per recv
 *                    (default 4096, the io_uring server's buffer size)
 *   --entries N      events taken per epoll_wait (default 256, the io_uring
 *                    server's SQ entries: the same batch per trip)
 *   --bufs N         accepted for the same command line, and ignored: there
 *                    is no shared pool of buffers here
 *
 * The command line and the output are those of the chapter's echo-server,
 * so a script can start either. When ready it prints one line to stdout:
 *
 *   listening on 127.0.0.1:PORT        (the real port, also for --port 0)
 *   listening on unix:SOCKPATH
 *
 * SIGTERM or SIGINT stops it with exit status 0; bad arguments: usage on
 * stderr, status 2; anything that stops it serving: a message, status 1.
 *
 * How a connection is served. Level-triggered epoll, and a connection
 * reads only while its buffer is empty:
 *
 *   EPOLLIN:  recv up to buf-size bytes, send them at once. All sent: read
 *             again (until a short read says the socket is drained, or a
 *             few rounds, so one busy client cannot starve the others).
 *             Some left: keep them, watch EPOLLOUT instead of EPOLLIN.
 *   EPOLLOUT: send the rest; once it is all gone, back to EPOLLIN.
 *
 * Not reading while bytes are waiting is the back-pressure: a client that
 * does not read its echo fills its own socket buffers and then stalls in
 * send(), it never makes the server buffer more than buf-size bytes for it.
 * That is also why level-triggered: with edge-triggered epoll, stopping
 * before recv says EAGAIN means the program must remember that the socket
 * is still readable and come back to it; level-triggered lets the kernel
 * remember, and costs nothing extra here because a connection that is not
 * drained is not watched for EPOLLIN at all. EPOLLOUT is watched only while
 * there is something to send (a writable socket is writable almost always:
 * watching it all the time would wake the loop for nothing).
 *
 * End of file (the client shut its sending side down): seen by a recv that
 * returns 0, which only happens with the buffer empty, so everything the
 * client sent has been echoed by then: close. A client that half-closes
 * still gets every byte back. Errors of one client (reset, EPIPE) close
 * that client only; sends use MSG_NOSIGNAL, so no SIGPIPE.
 *
 * Build: cc -std=gnu11 -O2 -Wall -Wextra -Ichapters/09-uring-multishot \
 *           -o epoll-echo chapters/09-uring-multishot/epoll-echo.c
 */
#define _GNU_SOURCE
#include "uecho.h" /* the io_uring server's limits: the same options here */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* recv+send rounds for one connection per wake-up: enough to move 64 KiB in
 * 4 KiB pieces without going back to epoll_wait, few enough that the other
 * connections of the same batch are not kept waiting. */
#define ROUNDS_PER_EVENT 16
/* Connections accepted per wake-up of the listener, for the same reason. */
#define ACCEPTS_PER_EVENT 64

enum kind { WATCH_LISTENER, WATCH_SIGNALS, WATCH_CONN };

/* What epoll_event.data.ptr points at: every watched fd starts with this. */
struct watched {
	enum kind kind;
	int fd;
};

struct conn {
	struct watched w;     /* first: epoll hands back &w */
	uint32_t events;      /* what epoll watches now (EPOLLIN or EPOLLOUT) */
	size_t off, len;      /* buf[off, off + len) still to be sent */
	struct conn *prev, *next; /* every open connection, to close them on exit */
	unsigned char buf[];  /* buf_size bytes */
};

struct server {
	int epfd;
	struct watched listener, signals;
	bool accept_paused;   /* out of fds or memory: listener not watched */
	bool stop;
	size_t buf_size;
	unsigned max_events;
	struct conn *conns;   /* list head */
};

struct options {
	const char *unix_path;
	long port; /* -1: not given */
	unsigned buf_size, entries;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: epoll-echo (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N] [--entries N]\n"
		"  --port N         listen on 127.0.0.1:N (0: any free port)\n"
		"  --unix SOCKPATH  listen on a unix stream socket (must not exist)\n"
		"  --buf-size N     bytes per connection buffer and recv, 1..%u (default %u)\n"
		"  --entries N      events per epoll_wait, 1..%u (default %u)\n"
		"  --bufs N         ignored (the io_uring server's buffer ring size)\n"
		"Prints \"listening on ...\" when ready; SIGTERM or SIGINT stops it (exit 0).\n",
		UECHO_MAX_BUF_SIZE, UECHO_DEFAULT_BUF_SIZE, UECHO_MAX_ENTRIES,
		UECHO_DEFAULT_ENTRIES);
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

	*o = (struct options){ .port = -1,
			       .buf_size = UECHO_DEFAULT_BUF_SIZE,
			       .entries = UECHO_DEFAULT_ENTRIES };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return -1; /* every option takes a value */
		i++;
		if (!strcmp(a, "--unix")) {
			/* "" would bind an abstract socket nobody can name
			 * (unix(7)): a bad argument, as echo-server says. */
			if (!*val)
				return -1;
			o->unix_path = val;
		} else if (!strcmp(a, "--port")) {
			if (parse_long(val, 0, 65535, &o->port))
				return -1;
		} else if (!strcmp(a, "--buf-size")) {
			if (parse_long(val, 1, UECHO_MAX_BUF_SIZE, &v))
				return -1;
			o->buf_size = (unsigned)v;
		} else if (!strcmp(a, "--entries")) {
			if (parse_long(val, 1, UECHO_MAX_ENTRIES, &v))
				return -1;
			o->entries = (unsigned)v;
		} else if (!strcmp(a, "--bufs")) {
			/* Checked like the io_uring server checks it, so a
			 * command line one accepts the other accepts too. */
			if (parse_long(val, 2, UECHO_MAX_NBUFS, &v) || (v & (v - 1)))
				return -1;
		} else {
			return -1;
		}
	}
	if ((o->port < 0) == !o->unix_path)
		return -1; /* exactly one of --port/--unix */
	return 0;
}

/* A TCP listener on 127.0.0.1 only: an echo server has no access control.
 * Non-blocking, so the accept loop ends with EAGAIN instead of blocking. */
static int listen_tcp(long port, unsigned *bound_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Restarting right after a stop must not fail on TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	*bound_port = ntohs(a.sin_port);
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof a.sun_path)
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int err = errno;

		close(fd);
		return -err; /* -EADDRINUSE if the path exists */
	}
	if (listen(fd, SOMAXCONN) < 0) {
		int err = errno;

		close(fd);
		unlink(path);
		return -err;
	}
	return fd;
}

/* SIGTERM and SIGINT arrive as readable data on a signalfd, in the loop like
 * any other event: nothing runs in a signal handler, and a signal that lands
 * just before epoll_wait still wakes it. They must be blocked first, or
 * they would keep their default action (termination). */
static int open_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int watch(struct server *s, int op, struct watched *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(s->epfd, op, w->fd, &ev) < 0 ? -errno : 0;
}

static void close_conn(struct server *s, struct conn *c)
{
	/* close() also takes the fd out of the epoll set: it is the only
	 * reference to the socket. */
	close(c->w.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	/* A descriptor is free again: if accepting stopped for lack of one,
	 * start again. If that fails, the next close tries again. */
	if (s->accept_paused && watch(s, EPOLL_CTL_MOD, &s->listener, EPOLLIN) == 0)
		s->accept_paused = false;
}

/* Watch EPOLLIN or EPOLLOUT; one epoll_ctl, only when it changes. */
static int set_interest(struct server *s, struct conn *c, uint32_t events)
{
	int r;

	if (c->events == events)
		return 0;
	r = watch(s, EPOLL_CTL_MOD, &c->w, events);
	if (r == 0)
		c->events = events;
	return r;
}

/* Send what the buffer holds. 0 when all of it went, 1 when the socket is
 * full and some is left, -errno when the client is gone. */
static int flush(struct conn *c)
{
	while (c->len > 0) {
		ssize_t n = send(c->w.fd, c->buf + c->off, c->len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		c->off += (size_t)n; /* a short send: go round for the rest */
		c->len -= (size_t)n;
	}
	c->off = 0;
	return 0;
}

/* The connection's buffer is empty: receive and echo, a few rounds.
 * Returns 0 to keep the connection, -1 to close it. */
static int serve_input(struct server *s, struct conn *c)
{
	for (int round = 0; round < ROUNDS_PER_EVENT; round++) {
		ssize_t n = recv(c->w.fd, c->buf, s->buf_size, 0);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1; /* reset, or worse: this client only */
		}
		if (n == 0)
			return -1; /* end of file, and nothing left to echo */
		c->off = 0;
		c->len = (size_t)n;
		r = flush(c);
		if (r < 0)
			return -1;
		if (r > 0) /* the rest waits for EPOLLOUT; stop reading */
			return set_interest(s, c, EPOLLOUT) < 0 ? -1 : 0;
		if ((size_t)n < s->buf_size)
			return 0; /* a short read: the socket is drained */
	}
	return 0; /* more may be waiting: level-triggered epoll says so */
}

/* One epoll event of a connection. EPOLLHUP and EPOLLERR need no branch of
 * their own: the recv or send that follows reports what happened. */
static void serve_conn(struct server *s, struct conn *c)
{
	if (c->len > 0) {
		int r = flush(c);

		if (r < 0) {
			close_conn(s, c);
			return;
		}
		if (r > 0)
			return; /* still full: EPOLLOUT stays */
		if (set_interest(s, c, EPOLLIN) < 0) {
			close_conn(s, c);
			return;
		}
		/* Fall through: there may well be input waiting, and reading
		 * it now saves a trip through epoll_wait. */
	}
	if (serve_input(s, c) < 0)
		close_conn(s, c);
}

static int add_conn(struct server *s, int fd)
{
	struct conn *c = malloc(sizeof *c + s->buf_size);
	int r;

	if (!c)
		return -ENOMEM;
	*c = (struct conn){ .w = { .kind = WATCH_CONN, .fd = fd }, .events = EPOLLIN };
	r = watch(s, EPOLL_CTL_ADD, &c->w, EPOLLIN);
	if (r < 0) {
		free(c);
		return r;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	return 0;
}

/* Accept what is waiting, a batch at a time. Returns 0, or -errno when the
 * listening socket itself has failed. */
static int accept_conns(struct server *s)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r;

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return 0;
			case EINTR:
			case ECONNABORTED:
			/* accept(2): Linux passes a new connection's pending
			 * network errors on to accept; retry, like EAGAIN. */
			case EPROTO: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
			case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH: case ENETDOWN:
				continue;
			case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
				/* Out of descriptors or memory. Level-triggered,
				 * the listener would wake us again at once, for
				 * nothing: stop watching it until a connection
				 * closes (close_conn). */
				fprintf(stderr, "epoll-echo: accept: %s (pausing accepts)\n",
					strerror(errno));
				r = watch(s, EPOLL_CTL_MOD, &s->listener, 0);
				if (r < 0)
					return r;
				s->accept_paused = true;
				return 0;
			default:
				return -errno;
			}
		}
		r = add_conn(s, fd);
		if (r < 0) {
			/* This client only: it sees the connection close. */
			fprintf(stderr, "epoll-echo: new connection: %s\n", strerror(-r));
			close(fd);
		}
	}
	return 0;
}

/* Read the signalfd: every pending SIGTERM/SIGINT means stop. */
static int take_signals(struct server *s)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(s->signals.fd, &si, sizeof si);

		if (n == (ssize_t)sizeof si) {
			s->stop = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -EIO; /* a short read cannot happen */
	}
}

static int run(struct server *s)
{
	struct epoll_event *evs = calloc(s->max_events, sizeof *evs);

	if (!evs)
		return -ENOMEM;
	while (!s->stop) {
		int n = epoll_wait(s->epfd, evs, (int)s->max_events, -1);

		if (n < 0) {
			if (errno == EINTR) /* SIGSTOP/SIGCONT, a debugger */
				continue;
			int err = errno;

			free(evs);
			return -err;
		}
		for (int i = 0; i < n; i++) {
			struct watched *w = evs[i].data.ptr;
			int r = 0;

			/* epoll reports an fd at most once per call, so closing
			 * a connection here cannot leave a later entry of this
			 * batch pointing at freed memory. */
			if (w->kind == WATCH_CONN)
				serve_conn(s, (struct conn *)w);
			else if (w->kind == WATCH_LISTENER)
				r = accept_conns(s);
			else
				r = take_signals(s);
			if (r < 0) {
				free(evs);
				return r;
			}
		}
	}
	free(evs);
	return 0;
}

static void close_server(struct server *s)
{
	while (s->conns)
		close_conn(s, s->conns);
	if (s->signals.fd >= 0)
		close(s->signals.fd);
	if (s->epfd >= 0)
		close(s->epfd);
}

static int open_server(struct server *s, int lfd, const struct options *o)
{
	int r;

	*s = (struct server){ .epfd = -1,
			      .listener = { .kind = WATCH_LISTENER, .fd = lfd },
			      .signals = { .kind = WATCH_SIGNALS, .fd = -1 },
			      .buf_size = o->buf_size,
			      .max_events = o->entries };
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	r = open_signalfd();
	if (r < 0)
		return r;
	s->signals.fd = r;
	r = watch(s, EPOLL_CTL_ADD, &s->signals, EPOLLIN);
	if (r == 0)
		r = watch(s, EPOLL_CTL_ADD, &s->listener, EPOLLIN);
	return r;
}

int main(int argc, char **argv)
{
	struct options o;
	struct server s;
	unsigned port = 0;
	int lfd, r;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	lfd = o.unix_path ? listen_unix(o.unix_path) : listen_tcp(o.port, &port);
	if (lfd < 0) {
		fprintf(stderr, "epoll-echo: cannot listen on %s: %s\n",
			o.unix_path ? o.unix_path : "127.0.0.1", strerror(-lfd));
		return 1;
	}
	r = open_server(&s, lfd, &o);
	if (r < 0) {
		fprintf(stderr, "epoll-echo: setting up: %s\n", strerror(-r));
		goto out;
	}
	if (o.unix_path)
		printf("listening on unix:%s\n", o.unix_path);
	else
		printf("listening on 127.0.0.1:%u\n", port);
	if (fflush(stdout) == EOF) {
		r = -errno;
		fprintf(stderr, "epoll-echo: stdout: %s\n", strerror(errno));
		goto out;
	}
	r = run(&s);
	if (r < 0)
		fprintf(stderr, "epoll-echo: event loop: %s\n", strerror(-r));
out:
	close_server(&s);
	close(lfd);
	if (o.unix_path)
		unlink(o.unix_path);
	return r < 0 ? 1 : 0;
}
