/*
 * server.c - chapter 04, correct variant cleanroom-dlist-timerfd
 * (harness/04-epoll-eventfd/variants/cleanroom-dlist-timerfd/).
 *
 * Written by a colleague in a clean room, from the lesson, evsrv.h, the
 * skeleton and the man pages alone: neither the reference nor the tests
 * were read before it had full marks.
 *
 * Shape: a hand loop over argv with strtoul checked to the last character,
 * the listener made before the module is opened, sigaction handlers
 * installed between evsrv_open and the ready line, the unix socket file
 * removed on every way out once it was bound.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct evsrv *g_srv;

static void on_signal(int sig)
{
	(void)sig;
	evsrv_stop(g_srv);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: server --file PATH (--port N | --unix SOCKPATH) [--qd N]\n");
	exit(2);
}

static int parse_num(const char *s, unsigned long lo, unsigned long hi,
		     unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *file = NULL, *upath = NULL;
	unsigned long port = 0, qd = 32;
	bool have_port = false;
	int lfd, r;
	bool bound_unix = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];

		if (strcmp(a, "--file") == 0) {
			if (file || !*v)
				usage();
			file = v;
		} else if (strcmp(a, "--port") == 0) {
			if (have_port || parse_num(v, 0, 65535, &port))
				usage();
			have_port = true;
		} else if (strcmp(a, "--unix") == 0) {
			if (upath || !*v)
				usage();
			upath = v;
		} else if (strcmp(a, "--qd") == 0) {
			if (parse_num(v, 1, 4096, &qd))
				usage();
		} else {
			usage();
		}
	}
	if (!file || have_port == (upath != NULL))
		usage();

	if (have_port) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int one = 1;

		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0) {
			perror("server: socket");
			return 1;
		}
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(lfd, SOMAXCONN) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
			fprintf(stderr, "server: 127.0.0.1:%lu: %s\n", port,
				strerror(errno));
			close(lfd);
			return 1;
		}
		port = ntohs(sa.sin_port);
	} else {
		struct sockaddr_un su;

		if (strlen(upath) >= sizeof(su.sun_path)) {
			fprintf(stderr, "server: %s: socket path too long\n", upath);
			return 1;
		}
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0) {
			perror("server: socket");
			return 1;
		}
		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		memcpy(su.sun_path, upath, strlen(upath) + 1);
		if (bind(lfd, (struct sockaddr *)&su, sizeof(su)) < 0) {
			fprintf(stderr, "server: %s: %s\n", upath, strerror(errno));
			close(lfd);
			return 1;
		}
		bound_unix = true;
		if (listen(lfd, SOMAXCONN) < 0) {
			fprintf(stderr, "server: listen: %s\n", strerror(errno));
			close(lfd);
			unlink(upath);
			return 1;
		}
	}

	r = evsrv_open(&g_srv, file, lfd, (unsigned)qd);
	if (r < 0) {
		fprintf(stderr, "server: %s: %s\n", file, strerror(-r));
		close(lfd);
		if (bound_unix)
			unlink(upath);
		return 1;
	}

	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (have_port)
		printf("listening on 127.0.0.1:%lu\n", port);
	else
		printf("listening on unix:%s\n", upath);
	fflush(stdout);

	r = evsrv_run(g_srv);
	evsrv_close(g_srv);
	close(lfd);
	if (bound_unix)
		unlink(upath);
	if (r < 0) {
		fprintf(stderr, "server: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
