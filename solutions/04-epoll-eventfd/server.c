/*
 * server.c - chapter 04: the file server as a program.
 *
 *   server --file PATH (--port N | --unix SOCKPATH) [--qd N]
 *
 *   --file PATH      the file to serve (read-only)
 *   --port N         listen on 127.0.0.1:N (TCP); 0 picks a free port
 *   --unix SOCKPATH  listen on a unix stream socket at SOCKPATH, which must
 *                    not exist yet; it is removed again on exit
 *   --qd N           reads in flight at most (default 32)
 *
 * Exactly one of --port and --unix. When the server is ready to accept
 * connections it prints one line to stdout and flushes it:
 *
 *   listening on 127.0.0.1:PORT        (the real port, also for --port 0)
 *   listening on unix:SOCKPATH
 *
 * It serves the protocol of evsrv.h until SIGTERM or SIGINT, then exits
 * with status 0. Bad arguments: a usage message on stderr, exit status 2.
 * Anything that stops it from serving (file missing, port taken, ...): a
 * message on stderr, exit status 1.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_QD 32u

struct options {
	const char *file;
	const char *unix_path;
	long port; /* -1: not given */
	unsigned qd;
};

/* The handler's only way to the server. Set before the handlers are
 * installed, never changed while they are. */
static struct evsrv *volatile g_srv;

static void on_signal(int sig)
{
	(void)sig;
	evsrv_stop(g_srv); /* async-signal-safe by contract */
}

static void usage(void)
{
	fprintf(stderr,
		"usage: server --file PATH (--port N | --unix SOCKPATH) [--qd N]\n"
		"  --port N         listen on 127.0.0.1:N (0: any free port)\n"
		"  --unix SOCKPATH  listen on a unix stream socket (must not exist)\n"
		"  --qd N           reads in flight at most, 1..%u (default %u)\n"
		"Prints \"listening on ...\" when ready; SIGTERM or SIGINT stops it (exit 0).\n",
		EVSRV_MAX_QD, DEFAULT_QD);
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

	*o = (struct options){ .port = -1, .qd = DEFAULT_QD };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return -1; /* every option takes a value */
		i++;
		if (!strcmp(a, "--file")) {
			o->file = val;
		} else if (!strcmp(a, "--unix")) {
			if (!*val)
				return -1; /* "" would bind an abstract socket (unix(7)) */
			o->unix_path = val;
		} else if (!strcmp(a, "--port")) {
			if (parse_long(val, 0, 65535, &o->port))
				return -1;
		} else if (!strcmp(a, "--qd")) {
			if (parse_long(val, 1, EVSRV_MAX_QD, &v))
				return -1;
			o->qd = (unsigned)v;
		} else {
			return -1;
		}
	}
	if (!o->file || (o->port < 0) == !o->unix_path)
		return -1; /* need the file and exactly one of --port/--unix */
	return 0;
}

/* A TCP listener on 127.0.0.1 only: this server has no access control. */
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
 * defence (the module already sends with MSG_NOSIGNAL). No SA_RESTART:
 * epoll_wait is never restarted anyway (signal(7)), and evsrv_stop's
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

int main(int argc, char **argv)
{
	struct options o;
	struct evsrv *s;
	unsigned port = 0;
	int lfd, r;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	lfd = o.unix_path ? listen_unix(o.unix_path) : listen_tcp(o.port, &port);
	if (lfd < 0) {
		fprintf(stderr, "server: cannot listen on %s: %s\n",
			o.unix_path ? o.unix_path : "127.0.0.1", strerror(-lfd));
		return 1;
	}
	r = evsrv_open(&s, o.file, lfd, o.qd);
	if (r < 0) {
		fprintf(stderr, "server: %s: %s\n", o.file, strerror(-r));
		goto out_listener;
	}
	g_srv = s;
	r = install_handlers();
	if (r < 0) {
		fprintf(stderr, "server: sigaction: %s\n", strerror(-r));
		goto out_server;
	}
	if (o.unix_path)
		printf("listening on unix:%s\n", o.unix_path);
	else
		printf("listening on 127.0.0.1:%u\n", port);
	if (fflush(stdout) == EOF) {
		r = -errno;
		fprintf(stderr, "server: stdout: %s\n", strerror(errno));
		goto out_server;
	}
	r = evsrv_run(s);
	if (r < 0)
		fprintf(stderr, "server: event loop: %s\n", strerror(-r));

out_server:
	/* A second signal during teardown must neither see a freed server
	 * nor kill us half way: ignore them from here on. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	g_srv = NULL;
	evsrv_close(s);
out_listener:
	close(lfd);
	if (o.unix_path)
		unlink(o.unix_path);
	return r < 0 ? 1 : 0;
}
