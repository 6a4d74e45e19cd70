/*
 * server.c - chapter 04, correct variant cleanroom-edge-deadline
 * (harness/04-epoll-eventfd/variants/cleanroom-edge-deadline/).
 *
 * Written by a colleague in a clean room, from the lesson, evsrv.h, the
 * skeleton and the man pages alone: neither the reference nor the tests
 * were read before it had full marks.
 *
 * Shape: getopt_long for the command line, strtol checked to the end;
 * SIGTERM and SIGINT handlers installed before anything is opened (a flag
 * remembers a signal that came before the server existed); the file checked
 * with access() before the socket is made; the listener built in a helper
 * that returns -errno; one exit path that undoes what was made.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct evsrv *volatile the_server;
static volatile sig_atomic_t stop_asked;

static void handler(int sig)
{
	(void)sig;
	stop_asked = 1;
	evsrv_stop(the_server);
}

static void usage(const char *why)
{
	fprintf(stderr, "server: %s\n"
		"usage: server --file PATH (--port N | --unix SOCKPATH) [--qd N]\n",
		why);
	exit(2);
}

static long number(const char *arg, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (end == arg || *end != '\0' || errno || v < lo || v > hi ||
	    arg[0] == ' ' || arg[0] == '+' || arg[0] == '\t')
		usage(what);
	return v;
}

/* Returns the listener, or -errno with *stage saying what failed. */
static int make_listener(long port, const char *upath, unsigned *port_out,
			 const char **stage)
{
	int fd, e;

	if (upath) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		size_t n = strlen(upath);

		*stage = "socket path";
		if (n >= sizeof(a.sun_path))
			return -ENAMETOOLONG;
		memcpy(a.sun_path, upath, n);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (bind(fd, (struct sockaddr *)&a,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) < 0)
			goto fail;
		*stage = "listen";
		if (listen(fd, SOMAXCONN) < 0) {
			e = -errno;
			close(fd);
			unlink(upath);
			return e;
		}
		return fd;
	}

	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((unsigned short)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int on = 1;

	*stage = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		goto fail;
	*stage = "bind 127.0.0.1";
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	*stage = "listen";
	if (listen(fd, SOMAXCONN) < 0)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		goto fail;
	*port_out = ntohs(a.sin_port);
	return fd;
fail:
	e = -errno;
	close(fd);
	return e;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "unix", required_argument, NULL, 'u' },
		{ "qd", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *upath = NULL, *stage = "";
	long port = -1, qd = 64;
	unsigned real_port = 0;
	int c, lfd, r, status = 0;

	opterr = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'p':
			port = number(optarg, 0, 65535, "bad --port");
			break;
		case 'u':
			if (!*optarg)
				usage("empty --unix path");
			upath = optarg;
			break;
		case 'q':
			qd = number(optarg, 1, (long)EVSRV_MAX_QD, "bad --qd (1 to 4096)");
			break;
		default:
			usage("bad arguments");
		}
	}
	if (optind != argc)
		usage("unexpected argument");
	if (!file || !*file)
		usage("--file is required");
	if ((port >= 0) == (upath != NULL))
		usage("give exactly one of --port and --unix");

	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (access(file, R_OK) != 0) {
		fprintf(stderr, "server: %s: %s\n", file, strerror(errno));
		return 1;
	}
	lfd = make_listener(port, upath, &real_port, &stage);
	if (lfd < 0) {
		fprintf(stderr, "server: %s %s: %s\n", stage,
			upath ? upath : "", strerror(-lfd));
		return 1;
	}
	struct evsrv *s;

	r = evsrv_open(&s, file, lfd, (unsigned)qd);
	if (r < 0) {
		fprintf(stderr, "server: %s: %s\n", file, strerror(-r));
		status = 1;
		goto out;
	}
	the_server = s;
	if (stop_asked)
		evsrv_stop(s);

	if (upath)
		printf("listening on unix:%s\n", upath);
	else
		printf("listening on 127.0.0.1:%u\n", real_port);
	if (fflush(stdout) != 0)
		status = 1;

	if (status == 0) {
		r = evsrv_run(s);
		if (r < 0) {
			fprintf(stderr, "server: %s\n", strerror(-r));
			status = 1;
		}
	}
	the_server = NULL;
	evsrv_close(s);
out:
	close(lfd);
	if (upath)
		unlink(upath);
	return status;
}
