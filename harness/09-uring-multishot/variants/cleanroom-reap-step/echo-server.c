/*
 * echo-server.c - chapter 09, clean-room program A: written from the lesson
 * and the skeleton's header comment alone. Hand-written argument loop with
 * strtoul (leading sign or space refused), the listener in main, the
 * handlers installed after uecho_open and before the ready line.
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

static struct uecho *g_server;

static void on_signal(int sig)
{
	(void)sig;
	uecho_stop(g_server);
}

static void usage(const char *msg)
{
	fprintf(stderr, "echo-server: %s\n"
		"usage: echo-server (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N] [--entries N]\n",
		msg);
	exit(2);
}

/* A whole number in [lo, hi], or exit 2. */
static unsigned long number(const char *opt, const char *arg, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	if (!arg || !*arg || *arg == '-' || *arg == '+' || *arg == ' ')
		usage(opt);
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "echo-server: %s: bad value '%s'\n", opt, arg);
		usage("bad argument");
	}
	return v;
}

int main(int argc, char **argv)
{
	struct uecho_config cfg = { 0, 0, 0 };
	const char *path = NULL;
	long port = -1;
	int fd, r, i;
	struct sigaction sa;
	struct uecho_stats st;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage("missing value");
		if (!strcmp(a, "--port")) {
			if (port >= 0)
				usage("--port given twice");
			port = (long)number(a, v, 0, 65535);
		} else if (!strcmp(a, "--unix")) {
			if (path)
				usage("--unix given twice");
			if (!*v)
				usage("empty socket path");
			path = v;
		} else if (!strcmp(a, "--bufs")) {
			cfg.nbufs = (unsigned)number(a, v, 2, UECHO_MAX_NBUFS);
			if (cfg.nbufs & (cfg.nbufs - 1))
				usage("--bufs must be a power of two");
		} else if (!strcmp(a, "--buf-size")) {
			cfg.buf_size = (unsigned)number(a, v, 1, UECHO_MAX_BUF_SIZE);
		} else if (!strcmp(a, "--entries")) {
			cfg.entries = (unsigned)number(a, v, 1, UECHO_MAX_ENTRIES);
		} else {
			usage("unknown argument");
		}
		i++;
	}
	if ((port >= 0) == (path != NULL))
		usage("exactly one of --port and --unix");

	if (path) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof sun.sun_path) {
			fprintf(stderr, "echo-server: %s: path too long for a unix socket\n", path);
			return 1;
		}
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("echo-server: socket");
			return 1;
		}
		if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			fprintf(stderr, "echo-server: %s: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		if (listen(fd, SOMAXCONN) < 0) {
			perror("echo-server: listen");
			close(fd);
			unlink(path);
			return 1;
		}
	} else {
		struct sockaddr_in sin;
		socklen_t sl = sizeof sin;
		int one = 1;

		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("echo-server: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
		    listen(fd, SOMAXCONN) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
			fprintf(stderr, "echo-server: port %ld: %s\n", port, strerror(errno));
			close(fd);
			return 1;
		}
		port = ntohs(sin.sin_port);
	}

	r = uecho_open(&g_server, fd, &cfg);
	if (r < 0) {
		const char *why = "";

		if (r == -ENOMEM)
			why = " (RLIMIT_MEMLOCK too small for the ring? ulimit -l; make doctor)";
		else if (r == -EPERM || r == -ENOSYS)
			why = " (io_uring refused on this machine: make doctor)";
		else if (r == -EOPNOTSUPP)
			why = " (the kernel lacks multishot receive: Linux 6.0 or later)";
		fprintf(stderr, "echo-server: uecho_open: %s%s\n", strerror(-r), why);
		close(fd);
		if (path)
			unlink(path);
		return 1;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (path)
		printf("listening on unix:%s\n", path);
	else
		printf("listening on 127.0.0.1:%ld\n", port);
	fflush(stdout);

	r = uecho_run(g_server);

	sa.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	uecho_stats(g_server, &st);
	fprintf(stderr,
		"echo-server: accepted %" PRIu64 " closed %" PRIu64 " received %" PRIu64
		" sent %" PRIu64 " accept_armed %" PRIu64 " recv_armed %" PRIu64
		" enobufs %" PRIu64 " paused %" PRIu64 " open %" PRIu64 " held %" PRIu64 "\n",
		st.accepted, st.closed, st.bytes_received, st.bytes_sent, st.accept_armed,
		st.recv_armed, st.enobufs, st.paused, st.conns_open, st.bufs_held);
	uecho_close(g_server);
	close(fd);
	if (path)
		unlink(path);
	if (r < 0) {
		fprintf(stderr, "echo-server: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
