/*
 * echo-server.c - chapter 09: the io_uring echo server as a program.
 *
 *   echo-server (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N]
 *               [--entries N]
 *
 *   --port N         listen on 127.0.0.1:N (TCP); 0 picks a free port
 *   --unix SOCKPATH  listen on a unix stream socket at SOCKPATH, which must
 *                    not exist yet; it is removed again on exit
 *   --bufs N         buffers in the buffer ring, a power of two (default 256)
 *   --buf-size N     bytes per buffer (default 4096)
 *   --entries N      SQ entries of the ring (default 256)
 *
 * Exactly one of --port and --unix. When the server is ready to accept
 * connections it prints one line to stdout and flushes it:
 *
 *   listening on 127.0.0.1:PORT        (the real port, also for --port 0)
 *   listening on unix:SOCKPATH
 *
 * It echoes every byte back until SIGTERM or SIGINT, then prints its
 * counters on one line to stderr and exits with status 0. Bad arguments: a
 * usage message on stderr, exit status 2. Anything that stops it from
 * serving (port taken, io_uring refused, RLIMIT_MEMLOCK too small, ...): a
 * message naming the cause on stderr, exit status 1.
 */
#define _GNU_SOURCE
#include "uecho.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct options {
	const char *unix_path;
	long port; /* -1: not given */
	struct uecho_config cfg;
};

/* The handler's only way to the server. Set before the handlers are
 * installed, cleared before the server is freed. */
static struct uecho *volatile g_srv;

static void on_signal(int sig)
{
	(void)sig;
	uecho_stop(g_srv); /* async-signal-safe by contract */
}

static void usage(void)
{
	fprintf(stderr,
		"usage: echo-server (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N] [--entries N]\n"
		"  --port N         listen on 127.0.0.1:N (0: any free port)\n"
		"  --unix SOCKPATH  listen on a unix stream socket (must not exist)\n"
		"  --bufs N         buffers in the ring, a power of two in 2..%u (default %u)\n"
		"  --buf-size N     bytes per buffer, 1..%u (default %u)\n"
		"  --entries N      SQ entries, 1..%u (default %u)\n"
		"Prints \"listening on ...\" when ready; SIGTERM or SIGINT stops it (exit 0).\n",
		UECHO_MAX_NBUFS, UECHO_DEFAULT_NBUFS, UECHO_MAX_BUF_SIZE, UECHO_DEFAULT_BUF_SIZE,
		UECHO_MAX_ENTRIES, UECHO_DEFAULT_ENTRIES);
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

	*o = (struct options){ .port = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return -1; /* every option takes a value */
		i++;
		if (!strcmp(a, "--unix")) {
			if (!*val)
				return -1;
			o->unix_path = val;
		} else if (!strcmp(a, "--port")) {
			if (parse_long(val, 0, 65535, &o->port))
				return -1;
		} else if (!strcmp(a, "--bufs")) {
			/* A power of two: the buffer ring's size must be one. */
			if (parse_long(val, 2, UECHO_MAX_NBUFS, &v) || (v & (v - 1)))
				return -1;
			o->cfg.nbufs = (unsigned)v;
		} else if (!strcmp(a, "--buf-size")) {
			if (parse_long(val, 1, UECHO_MAX_BUF_SIZE, &v))
				return -1;
			o->cfg.buf_size = (unsigned)v;
		} else if (!strcmp(a, "--entries")) {
			if (parse_long(val, 1, UECHO_MAX_ENTRIES, &v))
				return -1;
			o->cfg.entries = (unsigned)v;
		} else {
			return -1;
		}
	}
	if ((o->port < 0) == !o->unix_path)
		return -1; /* exactly one of --port/--unix */
	return 0;
}

/* A TCP listener on 127.0.0.1 only: an echo server is for tests, and
 * anyone who can reach it can make it work. */
static int listen_tcp(long port, unsigned *bound_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* SIGTERM/SIGINT stop the loop; SIGPIPE is ignored as a second line of
 * defence (the module already sends with MSG_NOSIGNAL). No SA_RESTART: the
 * wait in io_uring_enter is never restarted anyway, and uecho_stop's
 * eventfd write wakes it even if the signal lands just before the wait. */
static int install_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sigaction ign = { .sa_handler = SIG_IGN };

	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGPIPE, &ign, NULL) < 0)
		return -errno;
	return 0;
}

static const char *open_hint(int err)
{
	switch (err) {
	case -ENOMEM:
		return " (ring memory counts against RLIMIT_MEMLOCK: try fewer --entries or --bufs, or raise ulimit -l)";
	case -EPERM:
	case -ENOSYS:
		return " (io_uring is refused here: seccomp or kernel.io_uring_disabled; make doctor says which)";
	case -EOPNOTSUPP:
		return " (the kernel is older than 6.0: no multishot receive)";
	default:
		return "";
	}
}

static void print_stats(const struct uecho *s)
{
	struct uecho_stats st;

	uecho_stats(s, &st);
	fprintf(stderr,
		"echo-server: accepted=%" PRIu64 " closed=%" PRIu64 " bytes_received=%" PRIu64
		" bytes_sent=%" PRIu64 " accept_armed=%" PRIu64 " recv_armed=%" PRIu64
		" enobufs=%" PRIu64 " paused=%" PRIu64 " conns_open=%" PRIu64
		" bufs_held=%" PRIu64 "\n",
		st.accepted, st.closed, st.bytes_received, st.bytes_sent, st.accept_armed,
		st.recv_armed, st.enobufs, st.paused, st.conns_open, st.bufs_held);
}

int main(int argc, char **argv)
{
	struct options o;
	struct uecho *s;
	unsigned port = 0;
	int lfd, r;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	lfd = o.unix_path ? listen_unix(o.unix_path) : listen_tcp(o.port, &port);
	if (lfd < 0) {
		fprintf(stderr, "echo-server: cannot listen on %s: %s\n",
			o.unix_path ? o.unix_path : "127.0.0.1", strerror(-lfd));
		return 1;
	}
	r = uecho_open(&s, lfd, &o.cfg);
	if (r < 0) {
		fprintf(stderr, "echo-server: io_uring setup: %s%s\n", strerror(-r), open_hint(r));
		goto out_listener;
	}
	g_srv = s;
	r = install_handlers();
	if (r < 0) {
		fprintf(stderr, "echo-server: sigaction: %s\n", strerror(-r));
		goto out_server;
	}
	if (o.unix_path)
		printf("listening on unix:%s\n", o.unix_path);
	else
		printf("listening on 127.0.0.1:%u\n", port);
	if (fflush(stdout) == EOF) {
		r = -errno;
		fprintf(stderr, "echo-server: stdout: %s\n", strerror(-r));
		goto out_server;
	}
	r = uecho_run(s);
	if (r < 0)
		fprintf(stderr, "echo-server: event loop: %s\n", strerror(-r));

out_server:
	/* A second signal during teardown must neither see a freed server
	 * nor kill us half way: ignore them from here on. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	g_srv = NULL;
	print_stats(s);
	uecho_close(s);
out_listener:
	close(lfd);
	if (o.unix_path)
		unlink(o.unix_path);
	return r < 0 ? 1 : 0;
}
