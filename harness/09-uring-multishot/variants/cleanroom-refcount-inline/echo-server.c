/*
 * echo-server.c - chapter 09, clean-room program B, written from the lesson
 * and the skeleton alone: getopt_long
 * parsing, a listener helper per family, the signal handler stops the
 * server through a global.
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
#include <getopt.h>
#include <limits.h>
#include <unistd.h>

static struct uecho *volatile server;

static void stop_handler(int sig)
{
	(void)sig;
	uecho_stop(server);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "echo-server: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: echo-server (--port N | --unix SOCKPATH) [--bufs N] "
			"[--buf-size N] [--entries N]\n");
	return 2;
}

static int parse_u(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno == ERANGE || *end != '\0' || *v > max)
		return -1;
	return 0;
}

static int listen_tcp(unsigned port, unsigned *got)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*got = ntohs(a.sin_port);
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
	if (bind(fd, (struct sockaddr *)&a, sizeof a)) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (listen(fd, 4096)) {
		int e = -errno;

		close(fd);
		unlink(path);
		return e;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "unix", required_argument, NULL, 'u' },
		{ "bufs", required_argument, NULL, 'b' },
		{ "buf-size", required_argument, NULL, 's' },
		{ "entries", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct uecho_config cfg = { 0, 0, 0 };
	const char *path = NULL;
	unsigned long v, port = ULONG_MAX;
	unsigned real_port = 0;
	struct sigaction sa;
	struct uecho_stats st;
	int fd, r, o;

	opterr = 0;
	while ((o = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			if (port != ULONG_MAX || parse_u(optarg, 65535, &v))
				return bad("bad --port '%s'", optarg);
			port = v;
			break;
		case 'u':
			if (path || !*optarg)
				return bad("bad --unix '%s'", optarg);
			path = optarg;
			break;
		case 'b':
			if (parse_u(optarg, UECHO_MAX_NBUFS, &v) || v < 2 || (v & (v - 1)))
				return bad("--bufs '%s': a power of two in 2..32768", optarg);
			cfg.nbufs = (unsigned)v;
			break;
		case 's':
			if (parse_u(optarg, UECHO_MAX_BUF_SIZE, &v) || v < 1)
				return bad("--buf-size '%s': 1..1048576", optarg);
			cfg.buf_size = (unsigned)v;
			break;
		case 'e':
			if (parse_u(optarg, UECHO_MAX_ENTRIES, &v) || v < 1)
				return bad("--entries '%s': 1..4096", optarg);
			cfg.entries = (unsigned)v;
			break;
		default:
			return bad("bad argument%s", "");
		}
	}
	if (optind != argc)
		return bad("unexpected '%s'", argv[optind]);
	if ((port == ULONG_MAX) == (path == NULL))
		return bad("exactly one of --port and --unix%s", "");

	fd = path ? listen_unix(path) : listen_tcp((unsigned)port, &real_port);
	if (fd < 0) {
		fprintf(stderr, "echo-server: cannot listen on %s: %s\n", path ? path : "the port",
			strerror(-fd));
		return 1;
	}

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	{
		struct uecho *s;

		r = uecho_open(&s, fd, &cfg);
		if (r < 0) {
			fprintf(stderr, "echo-server: uecho_open: %s%s\n", strerror(-r),
				r == -ENOMEM ? " (RLIMIT_MEMLOCK? see ulimit -l, make doctor)" :
				r == -EPERM || r == -ENOSYS ? " (io_uring refused: make doctor)" :
				r == -EOPNOTSUPP ? " (kernel too old: Linux 6.0 needed)" : "");
			close(fd);
			if (path)
				unlink(path);
			return 1;
		}
		server = s;
	}
	sa.sa_handler = stop_handler;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (path)
		printf("listening on unix:%s\n", path);
	else
		printf("listening on 127.0.0.1:%u\n", real_port);
	fflush(stdout);

	r = uecho_run(server);

	sa.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	uecho_stats(server, &st);
	fprintf(stderr, "accepted=%" PRIu64 " closed=%" PRIu64 " bytes_received=%" PRIu64
			" bytes_sent=%" PRIu64 " accept_armed=%" PRIu64 " recv_armed=%" PRIu64
			" enobufs=%" PRIu64 " paused=%" PRIu64 "\n",
		st.accepted, st.closed, st.bytes_received, st.bytes_sent, st.accept_armed,
		st.recv_armed, st.enobufs, st.paused);
	uecho_close(server);
	close(fd);
	if (path)
		unlink(path);
	if (r < 0) {
		fprintf(stderr, "echo-server: the loop failed: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
