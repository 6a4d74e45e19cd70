/*
 * server.c - chapter 04, correct variant cleanroom-fd-table
 * (harness/04-epoll-eventfd/variants/cleanroom-fd-table/).
 *
 * Written by a colleague in a clean room, from the lesson, evsrv.h, the
 * skeleton and the man pages alone: neither the reference nor the tests
 * were read before it had full marks.
 *
 * Shape: options read in pairs with sscanf("%lu%n") that must consume the
 * whole value; the order socket, bind, listen, getsockname, evsrv_open;
 * handlers installed with signal(2) (BSD semantics, SA_RESTART, which
 * epoll_wait ignores) right before the ready line, which is written with
 * write(2) on descriptor 1 (no stdio buffer to flush).
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct evsrv *srv;

static void on_term(int sig)
{
	(void)sig;
	evsrv_stop(srv);
}

static int bad(const char *msg)
{
	fprintf(stderr, "server: %s\nusage: server --file PATH "
		"(--port N | --unix SOCKPATH) [--qd N]\n", msg);
	return 2;
}

static int whole_number(const char *s, unsigned long max, unsigned long *v)
{
	int used = -1;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	if (sscanf(s, "%lu%n", v, &used) != 1 || used < 0 ||
	    s[used] != '\0' || *v > max || strlen(s) > 10)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *file = NULL, *sock = NULL;
	unsigned long port = 0, qd = 16;
	int nport = 0, nsock = 0, nfile = 0;

	if ((argc - 1) % 2)
		return bad("every option takes a value");
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--file")) {
			file = v;
			nfile++;
		} else if (!strcmp(o, "--port")) {
			if (whole_number(v, 65535, &port))
				return bad("--port: 0 to 65535");
			nport++;
		} else if (!strcmp(o, "--unix")) {
			sock = v;
			nsock++;
		} else if (!strcmp(o, "--qd")) {
			if (whole_number(v, 4096, &qd) || qd == 0)
				return bad("--qd: 1 to 4096");
		} else {
			return bad("unknown option");
		}
	}
	if (nfile != 1 || !*file)
		return bad("one --file");
	if (nport + nsock != 1)
		return bad("exactly one of --port and --unix");
	if (nsock && !*sock)
		return bad("empty --unix path");

	int lfd;
	char line[160];

	if (nport) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		int one = 1;

		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)port);
		if (lfd < 0 ||
		    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(lfd, SOMAXCONN) ||
		    getsockname(lfd, (struct sockaddr *)&a, &al)) {
			fprintf(stderr, "server: port %lu: %s\n", port,
				strerror(errno));
			return 1;
		}
		snprintf(line, sizeof(line), "listening on 127.0.0.1:%u\n",
			 (unsigned)ntohs(a.sin_port));
	} else {
		struct sockaddr_un a;

		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		if (strlen(sock) + 1 > sizeof(a.sun_path)) {
			fprintf(stderr, "server: %s: path too long for a unix socket\n",
				sock);
			return 1;
		}
		strcpy(a.sun_path, sock);
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a))) {
			fprintf(stderr, "server: %s: %s\n", sock, strerror(errno));
			return 1;
		}
		if (listen(lfd, SOMAXCONN)) {
			fprintf(stderr, "server: %s: %s\n", sock, strerror(errno));
			unlink(sock);
			return 1;
		}
		snprintf(line, sizeof(line), "listening on unix:%s\n", sock);
	}

	int r = evsrv_open(&srv, file, lfd, (unsigned)qd);

	if (r) {
		fprintf(stderr, "server: cannot serve %s: %s\n", file, strerror(-r));
		close(lfd);
		if (nsock)
			unlink(sock);
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);

	size_t len = strlen(line), done = 0;

	while (done < len) {
		ssize_t w = write(1, line + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}

	r = evsrv_run(srv);
	evsrv_close(srv);
	close(lfd);
	if (nsock)
		unlink(sock);
	if (r) {
		fprintf(stderr, "server: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
